/**
 * Type tests of `distribute: true`, checked by `npx tsc -p tsconfig.json` (every `@ts-expect-error` must be
 * needed). At run time these only build workflows and steps.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import type { StepContext as SC, Context as StepContext } from "@effect-flow/core"
import { defineWorkflow, StartEvent, Step, StopEvent, type Workflow } from "@effect-flow/core"
import { Effect, Schema } from "effect"

class Job extends Schema.TaggedClass<Job>()("Job", { index: Schema.Number }) {}
class Done extends Schema.TaggedClass<Done>()("Done", { index: Schema.Number }) {}
class Progress extends Schema.TaggedClass<Progress>()("Progress", { index: Schema.Number }) {}

const base = defineWorkflow({ name: "types", initialState: { n: 0 } }).step(
  StartEvent,
  () => Effect.succeed(new Job({ index: 0 })),
  { emits: [Job] }
)

describe("distribute: true types", () => {
  it("a distributed handler's ctx is a DistributedContext: runId, step, attempt, invocationId, write", () => {
    base.step(
      Job,
      (ev, ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<SC.DistributedContext<Progress>>()
        expectTypeOf(ctx.runId).toEqualTypeOf<string>()
        expectTypeOf(ctx.step).toEqualTypeOf<string>()
        expectTypeOf(ctx.attempt).toEqualTypeOf<number>()
        expectTypeOf(ctx.invocationId).toEqualTypeOf<string>()
        expectTypeOf(ctx.write(new Progress({ index: ev.index }))).toEqualTypeOf<Effect.Effect<void>>()
        return Effect.succeed(new Done({ index: ev.index }))
      },
      { distribute: true, emits: [Done], writes: [Progress] }
    )
    assert.isTrue(true)
  })

  it("send, sendAll, store, collect and waitFor are absent from its type", () => {
    base.step(
      Job,
      (ev, ctx) => {
        // @ts-expect-error: a distributed handler has no send
        void ctx.send(new Done({ index: ev.index }))
        // @ts-expect-error: a distributed handler has no sendAll
        void ctx.sendAll([new Done({ index: ev.index })])
        // @ts-expect-error: a distributed handler has no store
        void ctx.store
        // @ts-expect-error: a distributed handler has no collect
        void ctx.collect(ev, 1)
        // @ts-expect-error: a distributed handler has no waitFor
        void ctx.waitFor(Done)
        // @ts-expect-error: nor a worker slot
        void ctx.worker
        return Effect.succeed(new Done({ index: ev.index }))
      },
      { distribute: true, emits: [Done] }
    )
    // The same handler is fine without distribute: the full context.
    base.step(
      Job,
      (ev, ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<StepContext<{ n: number }, Done, Progress>>()
        return Effect.as(ctx.send(new Done({ index: ev.index })), undefined)
      },
      { distribute: false, emits: [Done], writes: [Progress] }
    )
    assert.isTrue(true)
  })

  it("a distribute that may be true (a boolean variable) gives the restricted context", () => {
    const remote: boolean = Math.random() > 2
    base.step(
      Job,
      (ev, ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<SC.DistributedContext<Progress>>()
        return Effect.succeed(new Done({ index: ev.index }))
      },
      { distribute: remote, emits: [Done], writes: [Progress] }
    )
    assert.isTrue(true)
  })

  it("a distributed step's types flow into the workflow as any step's: output, errors, emitted events", () => {
    class Oops extends Schema.TaggedError<Oops>()("Oops", {}) {}
    const wf = base.step(
      Job,
      (ev, ctx) =>
        ev.index < 0
          ? Effect.fail(new Oops())
          : Effect.as(ctx.write(new Progress({ index: ev.index })), new StopEvent({ result: ev.index })),
      { distribute: true, writes: [Progress] }
    )
    expectTypeOf<Workflow.Workflow.Output<typeof wf>>().toEqualTypeOf<number>()
    expectTypeOf<Workflow.Workflow.Error<typeof wf>>().toEqualTypeOf<Oops>()
    expectTypeOf<Workflow.Workflow.Published<typeof wf>>().toEqualTypeOf<Progress>()
    assert.isTrue(true)
  })

  it("Step.make: the same context for distribute: true", () => {
    const step = Step.make(
      Job,
      (ev, ctx) => {
        expectTypeOf(ctx).toEqualTypeOf<SC.DistributedContext>()
        // @ts-expect-error: a distributed handler has no send
        void ctx.send(ev)
        return Effect.succeed(new Done({ index: ev.index }))
      },
      { distribute: true, name: "remote" }
    )
    expectTypeOf(step.distribute).toEqualTypeOf<boolean | undefined>()
    assert.isTrue(true)
  })
})
