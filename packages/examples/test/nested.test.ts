import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { defineWorkflow, StartEvent, StopEvent, Workflow, type WorkflowError } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit, Option, Schema } from "effect"
import { TestConsole } from "effect/testing"
import { main, ShelfAnalysisWorkflow, shelves } from "../src/nested.ts"

class QuotaExceeded extends Schema.TaggedError<QuotaExceeded>()("QuotaExceeded", { used: Schema.Number }) {}
class JobEvent extends Schema.TaggedClass<JobEvent>()("JobEvent", { size: Schema.Number }) {}
class JobDoneEvent extends Schema.TaggedClass<JobDoneEvent>()("JobDoneEvent", { result: Schema.Number }) {}

/** An inner workflow whose handler has its own typed error. */
const inner = defineWorkflow({ name: "inner", input: Schema.Struct({ size: Schema.Number }) }).step(StartEvent, (ev) =>
  ev.size > 10
    ? Effect.fail(new QuotaExceeded({ used: ev.size }))
    : Effect.succeed(new StopEvent({ result: ev.size * 2 }))
)

/** An outer workflow whose step runs `inner` once per job; the results are summed. */
const outer = defineWorkflow({
  name: "outer",
  input: Schema.Struct({ sizes: Schema.Array(Schema.Number) }),
  state: Schema.Struct({ jobs: Schema.Number }),
  initialState: { jobs: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("jobs", ev.sizes.length)
        for (const size of ev.sizes) yield* ctx.send(new JobEvent({ size }))
      }),
    { name: "dispatch", emits: [JobEvent] }
  )
  .step(
    JobEvent,
    (ev) => Effect.map(Workflow.run(inner, { size: ev.size }), (result) => new JobDoneEvent({ result })),
    {
      name: "run_inner",
      workers: 2,
      emits: [JobDoneEvent]
    }
  )
  .step(
    JobDoneEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const done = yield* ctx.collect(ev, yield* ctx.store.get("jobs"))
        if (Option.isNone(done)) return
        return new StopEvent({ result: done.value.reduce((sum, d) => sum + d.result, 0) })
      }),
    { name: "sum" }
  )

describe("nested example", () => {
  it.effect("the inner run's result flows on: per-shelf totals and the grand total", () =>
    Effect.gen(function* () {
      const { exit, elapsed } = yield* runVirtual(Workflow.run(ShelfAnalysisWorkflow, { shelves }))
      assert.deepStrictEqual(
        exit,
        Exit.succeed({
          shelves: [
            { name: "ai-basics", documents_analyzed: 2, total_words: 12 },
            { name: "deep-learning", documents_analyzed: 2, total_words: 9 }
          ],
          total_words: 21
        })
      )
      // Both shelves at once (2 workers), each inner run 0.3 s.
      assert.strictEqual(Duration.toMillis(elapsed), 300)
    })
  )

  it("the inner run's errors are in the outer workflow's error type", () => {
    expectTypeOf<Workflow.Workflow.Error<typeof ShelfAnalysisWorkflow>>().toEqualTypeOf<WorkflowError.WorkflowError>()
    expectTypeOf<Workflow.Workflow.Error<typeof outer>>().toEqualTypeOf<QuotaExceeded | WorkflowError.WorkflowError>()
    expectTypeOf(Workflow.run(outer, { sizes: [] })).toEqualTypeOf<
      Effect.Effect<number, QuotaExceeded | WorkflowError.WorkflowError, never>
    >()
  })

  it.effect("an empty shelf: the inner run's WorkflowStalledError reaches the outer caller unchanged", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(
        Workflow.run(ShelfAnalysisWorkflow, { shelves: [...shelves, { name: "empty", documents: [] }] })
      )
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "WorkflowStalledError")
      if (error._tag === "WorkflowStalledError") assert.strictEqual(error.workflow, "document-analysis")
    })
  )

  it.effect("a test-local outer workflow sums its inner runs' results", () =>
    Effect.gen(function* () {
      assert.strictEqual(yield* Workflow.run(outer, { sizes: [1, 2, 3] }), 12)
    })
  )

  it.effect("an inner handler's own typed error ends the outer run with that same value", () =>
    Effect.gen(function* () {
      const caught = yield* Workflow.run(outer, { sizes: [1, 42] }).pipe(
        Effect.map(() => Option.none<QuotaExceeded>()),
        Effect.catchTag("QuotaExceeded", (e) => Effect.succeed(Option.some(e)))
      )
      assert.isTrue(Option.isSome(caught))
      if (Option.isSome(caught)) {
        assert.instanceOf(caught.value, QuotaExceeded)
        assert.strictEqual(caught.value.used, 42)
      }
    })
  )

  it.effect("main prints one line per shelf, the total, and the caught inner error", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(main)
      assert.deepStrictEqual(exit, Exit.void)
      assert.deepStrictEqual((yield* TestConsole.logLines).map(String), [
        "ai-basics: 2 documents, 12 words",
        "deep-learning: 2 documents, 9 words",
        "Total words: 21",
        "",
        "With an empty shelf, the inner run fails and the outer caller sees its typed error:",
        `WorkflowStalledError from workflow "document-analysis"`
      ])
    })
  )
})
