/**
 * The graph checks behind `Workflow.validate`, as pure functions over a workflow's data (no Effect), so
 * they can be unit- and property-tested alone.
 *
 * A workflow is a graph of steps and events: an event flows to every step that accepts its tag, and a step
 * emits the events it declares in `emits`. A step without `emits` may emit any event, so checks that need
 * to know what a step produces are decided only as far as the declarations allow:
 *
 * - `unhandled-event` (a declared emit that no step accepts) looks only at declared emits.
 * - `never-emitted` (an accepted event that no step emits) and `unreachable` (a step no path from
 *   StartEvent or outside input leads to) are decided only while no reachable step lacks `emits`: one
 *   that runs and may emit anything could produce every event and reach every step, so both stay silent.
 * - `dead-end` (no path from a step leads to a StopEvent) treats a step without `emits` as one that may
 *   return a StopEvent, so it is never reported, nor is a step whose path goes through it. A step's failure
 *   is a path too (to the steps accepting `StepFailedEvent`).
 *
 * Outside input is `HumanResponseEvent` plus the workflow's `outsideInput` classes: events the caller
 * sends into a run. They are roots of reachability, like StartEvent, and need no producing step. So is
 * `StepFailedEvent`, which the engine makes when any step fails for good.
 * `StopEvent` and `InputRequiredEvent` go to the caller and need no consuming step.
 *
 * @internal
 */
import type { EventClass } from "../Event.ts"
import { nameOf, tagOf } from "../Event.ts"
import { Problem } from "../WorkflowError.ts"
import { ignorableChecks, structuralChecks } from "./checks.ts"

export { ignorableChecks, structuralChecks }

/**
 * The name of a check, as in `Problem.check`.
 *
 * @internal
 */
export type Check = (typeof structuralChecks)[number] | IgnorableCheck

/**
 * The name of a check that can be ignored, per workflow or per step.
 *
 * @internal
 */
export type IgnorableCheck = (typeof ignorableChecks)[number]

/** @internal */
export const START = "StartEvent"
/** @internal */
export const STOP = "StopEvent"
/** @internal */
export const INPUT_REQUIRED = "InputRequiredEvent"
/** @internal */
export const HUMAN_RESPONSE = "HumanResponseEvent"
/**
 * Made by the engine when an invocation fails for good, on the failing step's behalf: emitted by no step's
 * `emits`, yet routed whenever a step that runs fails. A root of reachability, like StartEvent.
 *
 * @internal
 */
export const STEP_FAILED = "StepFailedEvent"

/**
 * The part of a step the checks read (a `Step.Step` fits).
 *
 * @internal
 */
export interface StepSpec {
  readonly name: string
  readonly accepts: ReadonlyArray<unknown>
  readonly emits: ReadonlyArray<unknown> | undefined
  readonly workers: number
  readonly ignoreChecks?: ReadonlyArray<string> | undefined
}

/**
 * The part of a workflow the checks read.
 *
 * @internal
 */
export interface WorkflowSpec {
  readonly steps: ReadonlyArray<StepSpec>
  readonly outsideInput?: ReadonlyArray<unknown> | undefined
  readonly ignoreChecks?: ReadonlyArray<string> | undefined
}

const tag = (c: unknown): string | undefined => tagOf(c as EventClass)
const label = (c: unknown): string => nameOf(c as EventClass)
const tagsOf = (classes: ReadonlyArray<unknown>): Array<string> => unique(classes.map(tag).filter(isString))
const isString = (u: string | undefined): u is string => u !== undefined
const unique = <A>(as: ReadonlyArray<A>): Array<A> => [...new Set(as)]
const quoted = (names: ReadonlyArray<string>): string => names.map((n) => `"${n}"`).join(", ")
const list = (names: ReadonlyArray<string>): string => names.join(", ")

/**
 * The tags of the events the caller may send into a run: `HumanResponseEvent` and the workflow's
 * `outsideInput` classes, in that order.
 *
 * @internal
 */
export const outsideInputTags = (outsideInput: ReadonlyArray<unknown> | undefined): ReadonlyArray<string> =>
  unique([HUMAN_RESPONSE, ...tagsOf(outsideInput ?? [])])

/**
 * A workflow's steps as a graph of event tags, and what can be decided about it.
 *
 * @internal
 */
export interface Graph {
  readonly steps: ReadonlyArray<{
    readonly name: string
    readonly accepts: ReadonlyArray<string>
    /** `undefined` when the step declared no `emits` (it may emit anything). */
    readonly emits: ReadonlyArray<string> | undefined
  }>
  readonly outside: ReadonlyArray<string>
  /** Step indices that accept each tag, in definition order. */
  readonly acceptors: ReadonlyMap<string, ReadonlyArray<number>>
  /** Step indices that declare each tag in `emits`, in definition order. */
  readonly emitters: ReadonlyMap<string, ReadonlyArray<number>>
  /** Step indices reachable from StartEvent or outside input. */
  readonly reachable: ReadonlySet<number>
  /** True when a reachable step lacks `emits`: then it may reach everything, and reachability is unknown. */
  readonly open: boolean
  /** Step indices from which a StopEvent may be reached. */
  readonly canStop: ReadonlySet<number>
}

const push = (m: Map<string, Array<number>>, key: string, i: number) => {
  const at = m.get(key)
  if (at === undefined) m.set(key, [i])
  else if (at[at.length - 1] !== i) at.push(i)
}

/**
 * Build the graph of a workflow: who accepts and emits each tag, what is reachable, what can stop.
 *
 * @internal
 */
export const graphOf = (spec: WorkflowSpec): Graph => {
  const steps = spec.steps.map((s) => ({
    name: s.name,
    accepts: tagsOf(s.accepts),
    emits: s.emits === undefined ? undefined : tagsOf(s.emits)
  }))
  const outside = outsideInputTags(spec.outsideInput)
  const acceptors = new Map<string, Array<number>>()
  const emitters = new Map<string, Array<number>>()
  steps.forEach((s, i) => {
    for (const t of s.accepts) push(acceptors, t, i)
    for (const t of s.emits ?? []) push(emitters, t, i)
  })

  // Forward: from StartEvent and outside input, through accepting steps and their declared emits.
  const reachable = new Set<number>()
  const seenTags = new Set<string>()
  const queue: Array<string> = [START, ...outside, STEP_FAILED]
  let open = false
  while (queue.length > 0) {
    const t = queue.shift()!
    if (seenTags.has(t)) continue
    seenTags.add(t)
    for (const i of acceptors.get(t) ?? []) {
      if (reachable.has(i)) continue
      reachable.add(i)
      const emits = steps[i]!.emits
      if (emits === undefined) open = true
      else queue.push(...emits)
    }
  }

  // Backward: a step can stop when it may emit StopEvent, or an event some step that can stop accepts.
  // InputRequiredEvent goes to the caller, whose answer is outside input. Any step may fail, and its failure
  // is a StepFailedEvent: when a step that accepts it can stop, so can every step.
  const canStop = new Set<number>()
  const leadsOn = (t: string): ReadonlyArray<string> => (t === INPUT_REQUIRED ? [t, ...outside] : [t])
  const stopsAfter = (t: string) => (acceptors.get(t) ?? []).some((j) => canStop.has(j))
  let changed = true
  while (changed) {
    changed = false
    steps.forEach((s, i) => {
      if (canStop.has(i)) return
      const stops =
        s.emits === undefined ||
        stopsAfter(STEP_FAILED) ||
        s.emits.some((t) => t === STOP || leadsOn(t).some(stopsAfter))
      if (stops) {
        canStop.add(i)
        changed = true
      }
    })
  }
  return { steps, outside, acceptors, emitters, reachable, open, canStop }
}

const problem = (check: Check, message: string, steps: ReadonlyArray<string>, events: ReadonlyArray<string>) =>
  new Problem({ check, message, steps, events })

const structuralProblems = (spec: WorkflowSpec): Array<Problem> => {
  const out: Array<Problem> = []
  const steps = spec.steps
  const classOk = (c: unknown) => tag(c) !== undefined
  for (const s of steps) {
    for (const c of s.accepts) {
      if (!classOk(c)) {
        out.push(
          problem(
            "event-class",
            `step "${s.name}" accepts ${label(c)}, which is not an event class: use a Schema.TaggedClass (or StartEvent).`,
            [s.name],
            [label(c)]
          )
        )
      }
    }
    if (s.accepts.length === 0) {
      out.push(problem("event-class", `step "${s.name}" accepts no event: pass an event class.`, [s.name], []))
    }
    for (const c of s.emits ?? []) {
      if (!classOk(c)) {
        out.push(
          problem(
            "event-class",
            `step "${s.name}" emits ${label(c)}, which is not an event class: list Schema.TaggedClass classes in emits.`,
            [s.name],
            [label(c)]
          )
        )
      }
    }
    if (!Number.isSafeInteger(s.workers) || s.workers < 1) {
      out.push(
        problem(
          "workers",
          `step "${s.name}" has workers: ${String(s.workers)}; workers must be an integer >= 1 (at most Number.MAX_SAFE_INTEGER).`,
          [s.name],
          s.accepts.map(label)
        )
      )
    }
    if (s.accepts.some((c) => tag(c) === STOP)) {
      out.push(
        problem(
          "stop-event-accepted",
          `step "${s.name}" accepts StopEvent, but a StopEvent ends the run and is never delivered to a step.`,
          [s.name],
          [STOP]
        )
      )
    }
  }
  for (const c of spec.outsideInput ?? []) {
    if (!classOk(c)) {
      out.push(
        problem(
          "event-class",
          `outsideInput lists ${label(c)}, which is not an event class: list Schema.TaggedClass classes.`,
          [],
          [label(c)]
        )
      )
    }
  }
  if (!steps.some((s) => s.accepts.some((c) => tag(c) === START))) {
    out.push(
      problem(
        "start-step",
        "no step accepts StartEvent, so a run could never begin: add .step(StartEvent, ...).",
        [],
        [START]
      )
    )
  }
  const seen = new Map<string, number>()
  for (const s of steps) seen.set(s.name, (seen.get(s.name) ?? 0) + 1)
  for (const [name, n] of seen) {
    if (n > 1) {
      out.push(
        problem(
          "unique-step-names",
          `${n} steps are named "${name}"; step names must be unique: give each a distinct { name }.`,
          [name],
          []
        )
      )
    }
  }
  const isIgnorable = (c: string) => (ignorableChecks as ReadonlyArray<string>).includes(c)
  const badIgnores = (where: string, names: ReadonlyArray<string> | undefined, stepNames: ReadonlyArray<string>) => {
    const bad = unique((names ?? []).filter((c) => !isIgnorable(c)))
    if (bad.length > 0) {
      out.push(
        problem(
          "ignore-checks",
          `${where} ignores ${quoted(bad)}, which ${bad.length === 1 ? "is not a check" : "are not checks"} that can be ignored; the ignorable checks are ${quoted(ignorableChecks)}.`,
          stepNames,
          []
        )
      )
    }
  }
  badIgnores("the workflow", spec.ignoreChecks, [])
  for (const s of steps) badIgnores(`step "${s.name}"`, s.ignoreChecks, [s.name])
  return out
}

const graphProblems = (spec: WorkflowSpec, g: Graph): Array<Problem> => {
  const names = (is: ReadonlyArray<number>) => unique(is.map((i) => g.steps[i]!.name))
  const outside = new Set(g.outside)
  const unhandled: Array<Problem> = []
  const neverEmitted: Array<Problem> = []
  const unreachable: Array<Problem> = []
  const deadEnd: Array<Problem> = []
  const ignored = (i: number, check: IgnorableCheck) =>
    (spec.ignoreChecks ?? []).includes(check) || (spec.steps[i]!.ignoreChecks ?? []).includes(check)

  g.steps.forEach((s, i) => {
    // unhandled-event: a declared emit nobody accepts (the caller takes StopEvent and InputRequiredEvent).
    if (!ignored(i, "unhandled-event")) {
      for (const t of s.emits ?? []) {
        if (t === STOP || t === INPUT_REQUIRED || g.acceptors.has(t)) continue
        unhandled.push(
          problem(
            "unhandled-event",
            `step "${s.name}" emits ${t}, but no step accepts ${t}, so the run would fail with UnhandledEventError when it does: add .step(${t}, ...) or remove ${t} from the emits of "${s.name}".`,
            [s.name],
            [t]
          )
        )
      }
    }
    if (g.open) return
    // never-emitted: an accepted event no step emits and the caller does not send.
    if (!ignored(i, "never-emitted")) {
      for (const t of s.accepts) {
        if (t === START || t === STOP || t === STEP_FAILED || outside.has(t) || g.emitters.has(t)) continue
        neverEmitted.push(
          problem(
            "never-emitted",
            `step "${s.name}" accepts ${t}, but no step emits ${t}, so it never gets one: list ${t} in the emits of the step that sends or returns it, or declare it with defineWorkflow({ outsideInput: [${t}] }) if the caller sends it in.`,
            [s.name],
            [t]
          )
        )
      }
    }
    // unreachable: a step whose events are emitted only by steps that never run themselves.
    // (A step whose events nobody emits at all is reported by never-emitted instead.)
    if (!g.reachable.has(i) && !ignored(i, "unreachable")) {
      const fed = s.accepts.filter((t) => g.emitters.has(t))
      if (fed.length > 0) {
        const by = names(fed.flatMap((t) => g.emitters.get(t) ?? []))
        unreachable.push(
          problem(
            "unreachable",
            `step "${s.name}" can never run: it accepts ${list(fed)}, emitted only by ${by.map((n) => (n === s.name ? `"${n}" (itself)` : `"${n}"`)).join(", ")}, which no path from StartEvent or outside input reaches either. Emit one of its events from a step that runs, declare it in defineWorkflow({ outsideInput }) if the caller sends it in, or remove the step.`,
            [s.name, ...by.filter((n) => n !== s.name)],
            fed
          )
        )
      }
    }
  })

  // dead-end: nothing a step emits leads to a StopEvent.
  g.steps.forEach((s, i) => {
    if (g.canStop.has(i) || ignored(i, "dead-end")) return
    const emits = s.emits ?? []
    const next = names(
      emits.flatMap((t) => (t === INPUT_REQUIRED ? g.outside : [t])).flatMap((t) => g.acceptors.get(t) ?? [])
    )
    const what =
      emits.length === 0
        ? `it emits nothing (emits: [])`
        : `it emits ${list(emits)}${next.length > 0 ? `, and no path from the steps that accept ${emits.length === 1 ? "it" : "them"} (${quoted(next)}) leads to a StopEvent either` : ", which no step accepts"}`
    deadEnd.push(
      problem(
        "dead-end",
        `no StopEvent can follow step "${s.name}": ${what}. Return or emit a StopEvent on some path from it; if "${s.name}" is a side branch on purpose (logging, metrics), add { ignoreChecks: ["dead-end"] } to it.`,
        [s.name, ...next.filter((n) => n !== s.name)],
        emits
      )
    )
  })
  return [...unhandled, ...neverEmitted, ...unreachable, ...deadEnd]
}

/**
 * Every problem in a workflow's definition, structural checks first, then graph checks, each in step order.
 *
 * @internal
 */
export const problems = (spec: WorkflowSpec): ReadonlyArray<Problem> => [
  ...structuralProblems(spec),
  ...graphProblems(spec, graphOf(spec))
]
