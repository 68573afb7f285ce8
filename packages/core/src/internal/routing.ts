/**
 * Routing: the tables a workflow compiles to (shared by all its runs), and `route`, which takes an event a
 * step emitted (returned, or sent with `ctx.send`) to where it goes: the end of the run (a StopEvent), an
 * open `waitFor` (see `waits.ts`), the caller (an InputRequiredEvent), or the mailboxes of the steps that
 * accept it (see `workers.ts`). Events that cannot go anywhere are an `UnhandledEventError` naming why.
 */
import { Duration, Effect, Option, Result, Schema } from "effect"
import type { AnyEvent } from "../Event.ts"
import { isEvent, tagOf } from "../Event.ts"
import type * as Step from "../Step.ts"
import type { StepContext } from "../StepContext.ts"
import { UnhandledEventError } from "../WorkflowError.ts"
import * as Boundary from "./boundary.ts"
import type { Context_ } from "./context.ts"
import { stop } from "./lifecycle.ts"
import { andThen, type Run } from "./run.ts"
import { answer } from "./waits.ts"
import { deliver } from "./workers.ts"

/** A workflow, checked and turned into routing tables. Shared by all its runs. @internal */
export interface Compiled {
  readonly name: string
  readonly steps: ReadonlyArray<CompiledStep>
  /** Event tag to the indices of the steps that accept it. */
  readonly routes: ReadonlyMap<string, ReadonlyArray<number>>
  /** Event tag to the index of the one step that accepts it, for the tags exactly one step accepts. */
  readonly soleTarget: ReadonlyMap<string, number>
  readonly byName: ReadonlyMap<string, CompiledStep>
  readonly timeout: Duration.Duration | undefined
  readonly initialState: unknown
  /** Why a result does not fit the workflow's `output` schema, or `undefined` when it does (or there is none). */
  readonly checkOutput: ((result: unknown) => string | undefined) | undefined
}

/** @internal */
export interface CompiledStep {
  readonly index: number
  readonly name: string
  readonly workers: number
  readonly acceptsTags: ReadonlySet<string>
  readonly timeout: Duration.Duration | undefined
  /** The tags of the declared `emits`, or `undefined` when the step declared none (it may emit anything). */
  readonly emitsTags: ReadonlySet<string> | undefined
  /** The handler, a generator function wrapped once (as `Effect.fnUntraced` does) so it returns an Effect. */
  readonly handler: (event: AnyEvent, ctx: StepContext<any, AnyEvent>) => unknown
  /**
   * The handler itself when it is a generator function that `invoke` may step without an effect (see
   * `generator.ts`): a step with no timeout, not distributed.
   */
  readonly generator:
    | ((event: AnyEvent, ctx: StepContext<any, AnyEvent>) => Iterator<unknown, unknown, unknown>)
    | undefined
  readonly def: Step.Any
  /**
   * No timeout and not distributed: in a run nobody records, traces, explores or pauses, the engine may step
   * its generator handler (`generator.ts`) or run its effect as far as it goes without a fiber (`inPlace.ts`).
   */
  readonly plain: boolean
  /**
   * The tags this step may emit that go to one step only, to that step's index (the workflow's `soleTarget`
   * within the step's `emits`): what `routeEmitted` sends straight there.
   */
  readonly direct: ReadonlyMap<string, number>
}

/** @internal */
export const compile = (
  name: string,
  steps: ReadonlyArray<Step.Any>,
  timeout: Duration.Input | undefined,
  initialState: unknown,
  output?: Schema.Codec<unknown, unknown> | undefined
): Compiled => {
  const compiledSteps: Array<CompiledStep> = []
  const routes = new Map<string, Array<number>>()
  const byName = new Map<string, CompiledStep>()
  steps.forEach((def, index) => {
    const acceptsTags = new Set(def.accepts.map((c) => tagOf(c as any)!))
    const isGenerator = Boundary.isGeneratorFunction(def.handler)
    const plain = def.timeout === undefined && def.distribute !== true
    const step: CompiledStep = {
      index,
      name: def.name,
      workers: def.workers,
      acceptsTags,
      timeout: def.timeout === undefined ? undefined : Duration.fromInputUnsafe(def.timeout),
      emitsTags: def.emits === undefined ? undefined : new Set(def.emits.map((c) => tagOf(c)!)),
      handler: isGenerator ? Effect.fnUntraced(def.handler) : (def.handler as CompiledStep["handler"]),
      generator: isGenerator && plain ? def.handler : undefined,
      def,
      plain,
      direct: new Map()
    }
    compiledSteps.push(step)
    byName.set(def.name, step)
    for (const tag of acceptsTags) {
      const list = routes.get(tag)
      if (list) list.push(index)
      else routes.set(tag, [index])
    }
  })
  const soleTarget = new Map<string, number>()
  // A StopEvent ends the run wherever it goes (see `routeOrError`): it has no step to go straight to.
  for (const [tag, targets] of routes) if (targets.length === 1 && tag !== "StopEvent") soleTarget.set(tag, targets[0]!)
  for (const step of compiledSteps) {
    const direct = step.direct as Map<string, number>
    for (const [tag, i] of soleTarget) if (step.emitsTags === undefined || step.emitsTags.has(tag)) direct.set(tag, i)
  }
  return {
    name,
    steps: compiledSteps,
    routes,
    soleTarget,
    byName,
    timeout: timeout === undefined ? undefined : Duration.fromInputUnsafe(timeout),
    initialState,
    checkOutput: output === undefined ? undefined : outputChecker(output)
  }
}

const outputChecker = (output: Schema.Codec<unknown, unknown>) => {
  const decode = Schema.decodeUnknownResult(Schema.toType(output))
  return (result: unknown): string | undefined => {
    const checked = decode(result)
    return checked._tag === "Failure" ? checked.failure.message : undefined
  }
}

/**
 * Route an event emitted by step `from` (returned, or sent with `ctx.send`; `by`: the emitting invocation,
 * when a step's). A StopEvent ends the run; an open `waitFor` takes a matching event first. Returns the
 * effect that starts any worker fibers the event needs.
 */
export const route = (
  run: Run,
  from: string,
  ev: unknown,
  target: string | undefined,
  by: Context_ | undefined
): Effect.Effect<void, UnhandledEventError> => {
  const routed = routeOrError(run, from, ev, target, by)
  return routed instanceof UnhandledEventError ? Effect.fail(routed) : routed
}

/** {@link route}, with the error as a value: no effect is built on the per-event path. */
export const routeOrError = (
  run: Run,
  from: string,
  ev: unknown,
  target: string | undefined,
  by: Context_ | undefined
): Effect.Effect<void> | UnhandledEventError => {
  if (run.finished) return Effect.void
  const compiled = run.compiled
  if (!isEvent(ev)) {
    return new UnhandledEventError({
      workflow: compiled.name,
      step: from,
      event: Boundary.describeValue(ev),
      reason: "which is not an event: return or send an instance of an event class (a Schema.TaggedClass)."
    })
  }
  if (target !== undefined) {
    const step = compiled.byName.get(target)
    if (step === undefined || !step.acceptsTags.has(ev._tag)) {
      return new UnhandledEventError({
        workflow: compiled.name,
        step: from,
        event: ev._tag,
        target,
        reason:
          step === undefined
            ? `to step "${target}", which does not exist. Steps: ${[...compiled.byName.keys()].join(", ")}.`
            : `to step "${target}", which does not accept ${ev._tag} (it accepts ${[...step.acceptsTags].join(", ")}).`
      })
    }
    return deliver(run, run.stepRun(step.index), ev, from, by)
  }
  if (ev._tag === "StopEvent") {
    stop(run, ev, from)
    return Effect.void
  }
  // An event that answers an open wait goes to that wait alone (as in LlamaIndex): not broadcast too.
  if (run.waiters.length > 0 && answer(run, from, ev)) return Effect.void
  const targets = compiled.routes.get(ev._tag)
  if (targets === undefined) {
    if (Option.isOption(ev) || Result.isResult(ev)) {
      return new UnhandledEventError({
        workflow: compiled.name,
        step: from,
        event: `an ${Option.isOption(ev) ? "Option" : "Result"} (${ev._tag})`,
        reason: "which is not an event: return the event itself, or nothing (e.g. Option.getOrUndefined(option))."
      })
    }
    if (ev._tag === "InputRequiredEvent") {
      // Published for the caller, who answers through the handle's `send`.
      run.awaitingInput++
      run.emit(ev)
      if (run.record !== undefined) run.record({ _tag: "InputRequired", from, event: ev })
      return Effect.void
    }
    return new UnhandledEventError({
      workflow: compiled.name,
      step: from,
      event: ev._tag,
      reason: `but no step accepts ${ev._tag}. Add a step for it, or stop emitting it.`
    })
  }
  if (targets.length === 1) return deliver(run, run.stepRun(targets[0]!), ev, from, by)
  let effect: Effect.Effect<void> = Effect.void
  for (const i of targets) effect = andThen(effect, deliver(run, run.stepRun(i), ev, from, by))
  return effect
}

/**
 * Route an event that step `step` emitted with no target step (returned, or sent), from the invocation `by`
 * of an unrecorded run: `outsideEmits`, then `routeOrError`. On the per-event path, an event that the step's
 * `emits` allow and that goes to one step only (`direct`, made by `compile`) goes there with no other check as
 * long as no wait is open (a wait could take it) and the run goes on.
 */
export const routeEmitted = (
  run: Run,
  step: CompiledStep,
  ev: unknown,
  by: Context_
): Effect.Effect<void> | UnhandledEventError => {
  if (!run.finished && run.waiters.length === 0 && isEvent(ev)) {
    const to = step.direct.get(ev._tag)
    if (to !== undefined) return deliver(run, run.stepRun(to), ev, step.name, by)
  }
  return outsideEmits(run, step, ev) ?? routeOrError(run, step.name, ev, undefined, by)
}

/**
 * Why a step may not emit `ev`: the run has ended (a fiber that outlived it sends), or the step declared
 * `emits` without it. `undefined` when it may. Events the engine makes on a step's behalf
 * (`StepFailedEvent`, `waitFor` requests) are routed without this check.
 */
export const outsideEmits = (run: Run, step: CompiledStep, ev: unknown): UnhandledEventError | undefined => {
  if (run.finished) {
    return new UnhandledEventError({
      workflow: run.compiled.name,
      step: step.name,
      event: isEvent(ev) ? ev._tag : Boundary.describeValue(ev),
      reason: "but the run has ended: a fiber that outlived its run cannot send into it."
    })
  }
  const allowed = step.emitsTags
  if (allowed === undefined || !isEvent(ev) || allowed.has(ev._tag)) return undefined
  return new UnhandledEventError({
    workflow: run.compiled.name,
    step: step.name,
    event: ev._tag,
    reason: `which is not in its emits (${[...allowed].join(", ") || "none"}): add ${ev._tag} to the emits of "${step.name}", or stop emitting it.`
  })
}
