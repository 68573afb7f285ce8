import { assert, describe, it } from "@effect/vitest"
import {
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  RunEvent,
  StartEvent,
  Step,
  StopEvent,
  Workflow
} from "@effect-flow/core"
import { Effect, Schema } from "effect"
import * as fc from "fast-check"
import * as Graph from "../src/internal/graph.ts"
import { parallel } from "./fixtures/parallel.ts"

class A extends Schema.TaggedClass<A>()("A", {}) {}
class B extends Schema.TaggedClass<B>()("B", {}) {}
class C extends Schema.TaggedClass<C>()("C", {}) {}
class Cancel extends Schema.TaggedClass<Cancel>()("Cancel", {}) {}

const noop = () => Effect.void

const checksOf = (wf: Workflow.Any) => Workflow.problems(wf).map((p) => p.check)
const only = (wf: Workflow.Any, check: Workflow.Check) => Workflow.problems(wf).filter((p) => p.check === check)

describe("graph checks: valid workflows", () => {
  it("the parallel fixture has no problems", () => {
    assert.deepStrictEqual(Workflow.problems(parallel), [])
  })

  it("a loop with an exit, outside input and InputRequiredEvent are fine", () => {
    const wf = defineWorkflow({ outsideInput: [Cancel] })
      .step(StartEvent, noop, { name: "start", emits: [A] })
      .step(A, noop, { name: "loop", emits: [A, B, InputRequiredEvent] })
      .step(B, noop, { name: "finish", emits: [StopEvent] })
      .step(HumanResponseEvent, noop, { name: "answer", emits: [A] })
      .step(Cancel, noop, { name: "cancel", emits: [StopEvent] })
    assert.deepStrictEqual(Workflow.problems(wf), [])
  })
})

describe("graph check: unhandled-event", () => {
  it("fires for a declared emit no step accepts, naming the step and event and how to fix it", () => {
    const wf = defineWorkflow().step(StartEvent, noop, { name: "start", emits: [A, StopEvent] })
    const [p, ...rest] = only(wf, "unhandled-event")
    assert.deepStrictEqual(rest, [])
    assert.deepStrictEqual(p!.steps, ["start"])
    assert.deepStrictEqual(p!.events, ["A"])
    assert.include(p!.message, `step "start" emits A, but no step accepts A`)
    assert.include(p!.message, "add .step(A, ...)")
  })

  it("does not fire for StopEvent, InputRequiredEvent, or an emit some step accepts", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A, StopEvent, InputRequiredEvent] })
      .step(A, noop, { name: "a", emits: [StopEvent] })
      .step(HumanResponseEvent, noop, { name: "h", emits: [StopEvent] })
    assert.deepStrictEqual(checksOf(wf), [])
  })
})

describe("graph check: never-emitted", () => {
  it("fires for an accepted event no step emits, suggesting emits or outsideInput", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [StopEvent] })
      .step(A, noop, { name: "onA", emits: [StopEvent] })
    const ps = only(wf, "never-emitted")
    assert.deepStrictEqual(
      ps.map((p) => [p.steps, p.events]),
      [[["onA"], ["A"]]]
    )
    assert.include(ps[0]!.message, "outsideInput: [A]")
    // the missing producer explains why onA never runs: it is not reported as unreachable as well
    assert.deepStrictEqual(only(wf, "unreachable"), [])
  })

  it("reports each accepted event of a multi-accept step that nobody emits", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A] })
      .step([A, B, C], noop, { name: "abc", emits: [StopEvent] })
    assert.deepStrictEqual(
      only(wf, "never-emitted").map((p) => p.events),
      [["B"], ["C"]]
    )
  })

  it("does not fire for HumanResponseEvent or declared outside input", () => {
    const wf = defineWorkflow({ outsideInput: [Cancel] })
      .step(StartEvent, noop, { name: "start", emits: [StopEvent] })
      .step(HumanResponseEvent, noop, { name: "human", emits: [StopEvent] })
      .step(Cancel, noop, { name: "cancel", emits: [StopEvent] })
    assert.deepStrictEqual(checksOf(wf), [])
  })

  it("stays silent once a reachable step has no emits (it may emit anything)", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start" })
      .step(A, noop, { name: "onA", emits: [StopEvent] })
    assert.deepStrictEqual(checksOf(wf), [])
  })

  it("still fires when the only step without emits can never run", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [StopEvent] })
      .step(A, noop, { name: "onA", emits: [StopEvent] })
      .step(B, noop, { name: "onB" })
    assert.deepStrictEqual(
      only(wf, "never-emitted").map((p) => p.steps),
      [["onA"], ["onB"]]
    )
  })
})

describe("graph check: unreachable", () => {
  const island = defineWorkflow()
    .step(StartEvent, noop, { name: "start", emits: [StopEvent] })
    .step(A, noop, { name: "ping", emits: [B] })
    .step(B, noop, { name: "pong", emits: [A, StopEvent] })

  it("fires for steps fed only by steps that never run, naming the feeding steps", () => {
    const ps = only(island, "unreachable")
    assert.deepStrictEqual(
      ps.map((p) => [p.steps, p.events]),
      [
        [["ping", "pong"], ["A"]],
        [["pong", "ping"], ["B"]]
      ]
    )
    assert.include(ps[0]!.message, `step "ping" can never run`)
    assert.deepStrictEqual(only(island, "never-emitted"), [])
  })

  it("does not fire once a path from StartEvent or outside input reaches the loop", () => {
    const fromStart = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A] })
      .step(A, noop, { name: "ping", emits: [B] })
      .step(B, noop, { name: "pong", emits: [A, StopEvent] })
    assert.deepStrictEqual(checksOf(fromStart), [])
    const fromOutside = defineWorkflow({ outsideInput: [A] })
      .step(StartEvent, noop, { name: "start", emits: [StopEvent] })
      .step(A, noop, { name: "ping", emits: [B] })
      .step(B, noop, { name: "pong", emits: [A, StopEvent] })
    assert.deepStrictEqual(checksOf(fromOutside), [])
  })

  it("stays silent once a reachable step has no emits", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start" })
      .step(A, noop, { name: "ping", emits: [B] })
      .step(B, noop, { name: "pong", emits: [A, StopEvent] })
    assert.deepStrictEqual(checksOf(wf), [])
  })
})

describe("graph check: dead-end", () => {
  it("fires for a step that emits nothing, with the opt-out in the message", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A, StopEvent] })
      .step(A, noop, { name: "audit", emits: [] })
    const ps = only(wf, "dead-end")
    assert.deepStrictEqual(
      ps.map((p) => [p.steps, p.events]),
      [[["audit"], []]]
    )
    assert.include(ps[0]!.message, "emits nothing")
    assert.include(ps[0]!.message, `{ ignoreChecks: ["dead-end"] }`)
  })

  it("fires for every step on a path that only leads to dead ends, naming the next steps", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A] })
      .step(A, noop, { name: "a", emits: [B] })
      .step(B, noop, { name: "b", emits: [A] })
    assert.deepStrictEqual(
      only(wf, "dead-end").map((p) => p.steps),
      [
        ["start", "a"],
        ["a", "b"],
        ["b", "a"]
      ]
    )
  })

  it("does not fire when a StopEvent follows through InputRequiredEvent and the caller's answer", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "ask", emits: [InputRequiredEvent] })
      .step(HumanResponseEvent, noop, { name: "answer", emits: [StopEvent] })
    assert.deepStrictEqual(checksOf(wf), [])
  })

  it("does not fire for a step whose only way on is failing into a StepFailedEvent handler that stops", () => {
    const risky = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A] })
      .step(A, noop, { name: "risky", emits: [] })
    assert.deepStrictEqual(
      only(risky, "dead-end").map((p) => p.steps[0]),
      ["start", "risky"]
    )
    const recovered = risky.step(RunEvent.StepFailedEvent, noop, { name: "recover", emits: [StopEvent] })
    assert.deepStrictEqual(checksOf(recovered), [])
    const stuck = risky.step(RunEvent.StepFailedEvent, noop, { name: "recover", emits: [] })
    assert.deepStrictEqual(
      only(stuck, "dead-end").map((p) => p.steps[0]),
      ["start", "risky", "recover"]
    )
  })

  it("does not fire for a step without emits, nor for the steps leading to it", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A] })
      .step(A, noop, { name: "a" })
    assert.deepStrictEqual(checksOf(wf), [])
  })
})

describe("graph checks: opting out", () => {
  const sideBranch = (ignore?: ReadonlyArray<Workflow.IgnorableCheck>) =>
    defineWorkflow(ignore === undefined ? {} : { ignoreChecks: ignore })
      .step(StartEvent, noop, { name: "start", emits: [A, StopEvent] })
      .step(A, noop, { name: "audit", emits: [] })
      .step(A, noop, { name: "metrics", emits: [] })

  it("per workflow: the named check is not run for any step", () => {
    assert.deepStrictEqual(checksOf(sideBranch()), ["dead-end", "dead-end"])
    assert.deepStrictEqual(checksOf(sideBranch(["dead-end"])), [])
    assert.deepStrictEqual(checksOf(sideBranch(["unreachable"])), ["dead-end", "dead-end"])
  })

  it("per step: only that step's problems of the named check are dropped", () => {
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A, C, StopEvent] })
      .step(A, noop, { name: "audit", emits: [], ignoreChecks: ["dead-end"] })
      .step(A, noop, { name: "metrics", emits: [] })
      .step(B, noop, { name: "late", emits: [StopEvent], ignoreChecks: ["unreachable"] })
    assert.deepStrictEqual(
      Workflow.problems(wf).map((p) => [p.check, p.steps[0]]),
      [
        ["unhandled-event", "start"],
        ["never-emitted", "late"],
        ["dead-end", "metrics"]
      ]
    )
    const quiet = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A, C, StopEvent], ignoreChecks: ["unhandled-event"] })
      .step(A, noop, { name: "metrics", emits: [], ignoreChecks: ["dead-end"] })
      .step(B, noop, { name: "late", emits: [StopEvent], ignoreChecks: ["never-emitted"] })
    assert.deepStrictEqual(Workflow.problems(quiet), [])
  })

  it("a Step.make step carries its opt-out", () => {
    const audit = Step.make(A, noop, { name: "audit", emits: [], ignoreChecks: ["dead-end"] })
    assert.deepStrictEqual(audit.ignoreChecks, ["dead-end"])
    const wf = defineWorkflow()
      .step(StartEvent, noop, { name: "start", emits: [A, StopEvent] })
      .step(audit)
    assert.deepStrictEqual(Workflow.problems(wf), [])
  })

  it("an unknown or structural check name is itself a problem (ignore-checks)", () => {
    const wf = defineWorkflow({ ignoreChecks: ["start-step" as Workflow.IgnorableCheck] }).step(StartEvent, noop, {
      name: "start",
      emits: [StopEvent],
      ignoreChecks: ["dead-ends" as Workflow.IgnorableCheck]
    })
    const ps = only(wf, "ignore-checks")
    assert.deepStrictEqual(
      ps.map((p) => p.steps),
      [[], ["start"]]
    )
    assert.include(ps[0]!.message, `the workflow ignores "start-step"`)
    assert.include(ps[1]!.message, `step "start" ignores "dead-ends"`)
    assert.include(ps[1]!.message, `"unhandled-event", "never-emitted", "unreachable", "dead-end"`)
  })

  it("structural checks cannot be ignored", () => {
    const wf = defineWorkflow({ ignoreChecks: [...Graph.ignorableChecks] }).step(A, noop, {
      name: "a",
      emits: [],
      // @ts-expect-error the compiler rejects a literal 0 too; validation catches computed values
      workers: 0
    })
    assert.deepStrictEqual(checksOf(wf), ["workers", "start-step"])
  })
})

describe("Workflow.validate", () => {
  it.effect("fails with one WorkflowValidationError listing structural and graph problems together", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "broken" })
        .step(StartEvent, noop, { name: "start", emits: [A, StopEvent] })
        .step(B, noop, { name: "start", emits: [StopEvent] })
      const err = yield* Effect.flip(Workflow.validate(wf))
      assert.strictEqual(err._tag, "WorkflowValidationError")
      assert.deepStrictEqual(
        err.problems.map((p) => p.check),
        ["unique-step-names", "unhandled-event", "never-emitted"]
      )
      assert.include(err.message, `[unhandled-event] step "start" emits A`)
    })
  )

  it.effect("a run of a workflow with a graph problem fails before any handler runs", () =>
    Effect.gen(function* () {
      let ran = false
      const wf = defineWorkflow().step(
        StartEvent,
        () =>
          Effect.sync(() => {
            ran = true
          }),
        { name: "start", emits: [A] }
      )
      const err = yield* Effect.flip(Workflow.run(wf, {}))
      assert.strictEqual(err._tag, "WorkflowValidationError")
      assert.isFalse(ran)
    })
  )
})

// -------------------------------------------------------------------------------------------------
// properties, over random graphs (pure data, no Effect)

const eventTags = ["A", "B", "C", "D"] as const
const classes: Record<string, unknown> = { StartEvent, StopEvent, InputRequiredEvent, HumanResponseEvent }
// A class with a static `_tag` is enough for the checks (Event.tagOf reads it).
for (const t of eventTags) classes[t] = Object.assign(class {}, { _tag: t })

interface RandomStep {
  readonly accepts: ReadonlyArray<string>
  readonly emits: ReadonlyArray<string> | undefined
  readonly ignore: ReadonlyArray<Graph.IgnorableCheck>
}

const randomStep: fc.Arbitrary<RandomStep> = fc.record({
  accepts: fc.uniqueArray(fc.constantFrom("StartEvent", "HumanResponseEvent", ...eventTags), {
    minLength: 1,
    maxLength: 3
  }),
  emits: fc.option(fc.uniqueArray(fc.constantFrom("StopEvent", "InputRequiredEvent", ...eventTags), { maxLength: 3 }), {
    nil: undefined,
    freq: 5
  }),
  ignore: fc.subarray([...Graph.ignorableChecks], { maxLength: 1 })
})

const randomWorkflow = fc.record({
  steps: fc.array(randomStep, { minLength: 1, maxLength: 6 }),
  outside: fc.subarray([...eventTags], { maxLength: 1 })
})

const specOf = (w: { steps: ReadonlyArray<RandomStep>; outside: ReadonlyArray<string> }, withIgnores = true) => ({
  steps: w.steps.map((s, i) => ({
    name: `s${i}`,
    accepts: s.accepts.map((t) => classes[t]),
    emits: s.emits?.map((t) => classes[t]),
    workers: 1,
    ignoreChecks: withIgnores ? s.ignore : []
  })),
  outsideInput: w.outside.map((t) => classes[t])
})

/** An independent oracle: depth-first path search per step, instead of the module's fixpoints. */
const oracle = (w: { steps: ReadonlyArray<RandomStep>; outside: ReadonlyArray<string> }) => {
  const outside = ["HumanResponseEvent", ...w.outside]
  const accepting = (t: string) => w.steps.flatMap((s, i) => (s.accepts.includes(t) ? [i] : []))
  const next = (i: number) =>
    (w.steps[i]!.emits ?? []).flatMap((t) => (t === "InputRequiredEvent" ? [t, ...outside] : [t])).flatMap(accepting)
  const canStop = (i: number, seen: Set<number> = new Set()): boolean => {
    if (seen.has(i)) return false
    seen.add(i)
    const emits = w.steps[i]!.emits
    return emits === undefined || emits.includes("StopEvent") || next(i).some((j) => canStop(j, seen))
  }
  const reachable = new Set<number>()
  const visit = (i: number) => {
    if (reachable.has(i)) return
    reachable.add(i)
    for (const t of w.steps[i]!.emits ?? []) for (const j of accepting(t)) visit(j)
  }
  for (const t of ["StartEvent", ...outside]) for (const i of accepting(t)) visit(i)
  const open = [...reachable].some((i) => w.steps[i]!.emits === undefined)
  const emitted = (t: string) => w.steps.some((s) => s.emits?.includes(t))
  return {
    deadEnd: w.steps.flatMap((_, i) => (canStop(i) ? [] : [`s${i}`])),
    unreachable: open ? [] : w.steps.flatMap((s, i) => (!reachable.has(i) && s.accepts.some(emitted) ? [`s${i}`] : [])),
    neverEmitted: open
      ? []
      : w.steps.flatMap((s, i) =>
          s.accepts.filter((t) => t !== "StartEvent" && !outside.includes(t) && !emitted(t)).map((t) => `s${i}:${t}`)
        ),
    unhandled: w.steps.flatMap((s, i) =>
      (s.emits ?? [])
        .filter((t) => t !== "StopEvent" && t !== "InputRequiredEvent" && accepting(t).length === 0)
        .map((t) => `s${i}:${t}`)
    )
  }
}

describe("graph checks: properties", () => {
  it("each graph check reports exactly what an independent path search finds", () => {
    fc.assert(
      fc.property(randomWorkflow, (w) => {
        const found = Graph.problems(specOf(w, false))
        const by = (check: Graph.Check, withEvent: boolean) =>
          found.filter((p) => p.check === check).map((p) => (withEvent ? `${p.steps[0]}:${p.events[0]}` : p.steps[0]!))
        const expected = oracle(w)
        assert.deepStrictEqual(by("dead-end", false), expected.deadEnd)
        assert.deepStrictEqual(by("unreachable", false), expected.unreachable)
        assert.deepStrictEqual(by("never-emitted", true), expected.neverEmitted)
        assert.deepStrictEqual(by("unhandled-event", true), expected.unhandled)
      }),
      { numRuns: 300 }
    )
  })

  it("a step's opt-out removes exactly that step's problems of that check", () => {
    fc.assert(
      fc.property(randomWorkflow, (w) => {
        const key = (p: { check: string; steps: ReadonlyArray<string>; events: ReadonlyArray<string> }) =>
          `${p.check}|${p.steps[0]}|${p.events.join(",")}`
        const all = Graph.problems(specOf(w, false)).map(key)
        const kept = Graph.problems(specOf(w, true)).map(key)
        const dropped = (k: string) => {
          const [check, step] = k.split("|") as [Graph.IgnorableCheck, string]
          if (!Graph.ignorableChecks.includes(check)) return false
          return w.steps[Number(step.slice(1))]!.ignore.includes(check)
        }
        assert.deepStrictEqual(
          kept,
          all.filter((k) => !dropped(k))
        )
      }),
      { numRuns: 200 }
    )
  })

  it("the workflow-wide opt-out of every graph check leaves only structural problems", () => {
    fc.assert(
      fc.property(randomWorkflow, (w) => {
        const found = Graph.problems({ ...specOf(w), ignoreChecks: [...Graph.ignorableChecks] })
        const structural = Graph.problems(specOf(w)).filter((p) =>
          (Graph.structuralChecks as ReadonlyArray<string>).includes(p.check)
        )
        assert.deepStrictEqual(found, structural)
      }),
      { numRuns: 100 }
    )
  })

  it("the problems found do not depend on the order the steps were added in", () => {
    fc.assert(
      fc.property(
        randomWorkflow.chain((w) =>
          fc
            .shuffledSubarray(
              w.steps.map((s, i) => ({ ...s, i })),
              { minLength: w.steps.length }
            )
            .map((shuffled) => ({ w, shuffled }))
        ),
        ({ shuffled, w }) => {
          const named = (steps: ReadonlyArray<RandomStep & { i: number }>) => ({
            steps: steps.map((s) => ({
              name: `s${s.i}`,
              accepts: s.accepts.map((t) => classes[t]),
              emits: s.emits?.map((t) => classes[t]),
              workers: 1,
              ignoreChecks: s.ignore
            })),
            outsideInput: w.outside.map((t) => classes[t])
          })
          const key = (p: { check: string; steps: ReadonlyArray<string>; events: ReadonlyArray<string> }) =>
            `${p.check}|${[...p.steps].sort().join(",")}|${[...p.events].sort().join(",")}`
          const a = Graph.problems(named(w.steps.map((s, i) => ({ ...s, i }))))
            .map(key)
            .sort()
          const b = Graph.problems(named(shuffled)).map(key).sort()
          assert.deepStrictEqual(b, a)
        }
      ),
      { numRuns: 100 }
    )
  })

  it("a chain StartEvent -> E1 -> ... -> StopEvent, with any workers, has no problems", () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 4 }), fc.integer({ min: 1, max: 8 }), (length, workers) => {
        const tags = eventTags.slice(0, length)
        const steps = [
          { name: "start", accepts: [StartEvent], emits: [classes[tags[0] ?? "StopEvent"]], workers },
          ...tags.map((t, i) => ({
            name: `on${t}`,
            accepts: [classes[t]],
            emits: [classes[tags[i + 1] ?? "StopEvent"]],
            workers
          }))
        ]
        assert.deepStrictEqual(Graph.problems({ steps }), [])
      })
    )
  })
})
