/**
 * Type tests for the compile-time graph check (`Workflow.assertComplete`, `Workflow.UnhandledEvents`,
 * `Workflow.Checked`) and the typed opt-outs. Checked by `npx tsc -p tsconfig.json`: an
 * `@ts-expect-error` that no longer errors fails the type check. The runtime assertions run in Vitest.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { defineWorkflow, InputRequiredEvent, StartEvent, Step, StopEvent, Workflow } from "@effect-flow/core"
import { Effect, Schema } from "effect"
import type { AnyEvent } from "../src/Event.ts"

class A extends Schema.TaggedClass<A>()("A", {}) {}
class B extends Schema.TaggedClass<B>()("B", {}) {}
class C extends Schema.TaggedClass<C>()("C", {}) {}

const stop = () => Effect.succeed(new StopEvent({ result: 1 }))

describe("Workflow.assertComplete (types)", () => {
  it("accepts a workflow whose every emitted event has a step, and returns it unchanged", () => {
    const wf = defineWorkflow()
      .step(StartEvent, () => Effect.succeed(new A()))
      .step(A, () => Effect.void, { emits: [B] })
      .step(B, stop)
    expectTypeOf<Workflow.UnhandledEvents<typeof wf>>().toEqualTypeOf<never>()
    expectTypeOf<Workflow.Checked<typeof wf>>().toEqualTypeOf<typeof wf>()
    const checked = Workflow.assertComplete(wf)
    expectTypeOf(checked).toEqualTypeOf<typeof wf>()
    assert.strictEqual(checked, wf)
  })

  it("names each event that no step accepts, from emits or from a handler's return type", () => {
    const wf = defineWorkflow()
      .step(StartEvent, () => Effect.succeed(new A()), { name: "start" })
      .step(A, () => Effect.void, { emits: [B, C, StopEvent] })
    expectTypeOf<Workflow.UnhandledEvents<typeof wf>>().toEqualTypeOf<"B" | "C">()
    expectTypeOf<Workflow.Checked<typeof wf>>().toEqualTypeOf<"Event has no step: B" | "Event has no step: C">()
    // @ts-expect-error Argument of type 'Workflow<...>' is not assignable to parameter of type '"Event has no step: B" | "Event has no step: C"'
    Workflow.assertComplete(wf)

    const returned = defineWorkflow()
      .step(StartEvent, () => Effect.succeed(new B()))
      .step(A, stop)
    expectTypeOf<Workflow.UnhandledEvents<typeof returned>>().toEqualTypeOf<"B">()
    expectTypeOf<Workflow.Checked<typeof returned>>().toEqualTypeOf<"Event has no step: B">()
    // @ts-expect-error Event has no step: B
    Workflow.assertComplete(returned)
  })

  it("a step added later completes the workflow: the check is on the whole workflow", () => {
    const base = defineWorkflow().step(StartEvent, () => Effect.succeed(new A()))
    expectTypeOf<Workflow.Checked<typeof base>>().toEqualTypeOf<
      "Event has no step: A" | "No step returns or emits a StopEvent"
    >()
    // @ts-expect-error Event has no step: A | No step returns or emits a StopEvent
    Workflow.assertComplete(base)
    const done = base.step(A, stop)
    expectTypeOf(Workflow.assertComplete(done)).toEqualTypeOf<typeof done>()
  })

  it("says when no step accepts StartEvent, or none returns or emits a StopEvent", () => {
    const noStart = defineWorkflow().step(A, stop)
    expectTypeOf<Workflow.Checked<typeof noStart>>().toEqualTypeOf<"No step accepts StartEvent">()
    // @ts-expect-error No step accepts StartEvent
    Workflow.assertComplete(noStart)
    const noStop = defineWorkflow().step(StartEvent, () => Effect.void)
    expectTypeOf<Workflow.Checked<typeof noStop>>().toEqualTypeOf<"No step returns or emits a StopEvent">()
    // @ts-expect-error No step returns or emits a StopEvent
    Workflow.assertComplete(noStop)
    // a StopEvent only declared in emits (and sent, not returned) counts
    const declared = defineWorkflow().step(StartEvent, () => Effect.void, { emits: [StopEvent] })
    expectTypeOf(Workflow.assertComplete(declared)).toEqualTypeOf<typeof declared>()
    // an event typed only as "some event" might be a StopEvent: not reported
    const anyEvent = (): AnyEvent => new A()
    const untyped = defineWorkflow().step(StartEvent, () => Effect.succeed(anyEvent()))
    expectTypeOf<Workflow.Checked<typeof untyped>>().toEqualTypeOf<typeof untyped>()
  })

  it("StopEvent and InputRequiredEvent go to the caller and need no step", () => {
    const wf = defineWorkflow()
      .step(StartEvent, () => Effect.succeed(new InputRequiredEvent({ prefix: "name?" })))
      .step(A, stop)
    expectTypeOf<Workflow.UnhandledEvents<typeof wf>>().toEqualTypeOf<never>()
    Workflow.assertComplete(wf)
  })

  it("steps made with Step.make count, both as emitters and as handlers", () => {
    const toB = Step.make(A, () => Effect.succeed(new B()), { name: "toB" })
    const missing = defineWorkflow()
      .step(StartEvent, () => Effect.succeed(new A()))
      .step(toB)
    expectTypeOf<Workflow.UnhandledEvents<typeof missing>>().toEqualTypeOf<"B">()
    const done = missing.step(Step.make(B, stop))
    expectTypeOf<Workflow.UnhandledEvents<typeof done>>().toEqualTypeOf<never>()
  })

  it("an event typed only as 'some event' cannot be named, so it is not reported", () => {
    const anyEvent = (): AnyEvent => new A()
    const wf = defineWorkflow().step(StartEvent, () => Effect.succeed(anyEvent()))
    expectTypeOf<Workflow.UnhandledEvents<typeof wf>>().toEqualTypeOf<never>()
  })
})

describe("ignoreChecks (types)", () => {
  it("takes only the names of ignorable checks, per workflow and per step", () => {
    expectTypeOf<Workflow.IgnorableCheck>().toEqualTypeOf<
      "unhandled-event" | "never-emitted" | "unreachable" | "dead-end"
    >()
    defineWorkflow({ ignoreChecks: ["dead-end", "unreachable"] }).step(StartEvent, stop, {
      ignoreChecks: ["never-emitted"]
    })
    // @ts-expect-error structural checks cannot be ignored
    defineWorkflow({ ignoreChecks: ["start-step"] })
    // @ts-expect-error not a check name
    defineWorkflow().step(StartEvent, stop, { ignoreChecks: ["dead-ends"] })
    // @ts-expect-error not a check name
    Step.make(A, stop, { ignoreChecks: ["unreachable", "nope"] })
  })

  it("outsideInput takes event classes", () => {
    defineWorkflow({ outsideInput: [A, B] })
    // @ts-expect-error a string is not an event class
    defineWorkflow({ outsideInput: ["A"] })
  })
})
