/**
 * Runs as cluster entities, in one process on effect's TestRunner (no database): the examples' workflows
 * give the same outcome (result or typed error) through the cluster as run locally, and a workflow no runner registered is a typed
 * error naming what the runner has.
 */
import { assert, describe, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Effect, Layer, Result, Schema } from "effect"
import { TestRunner } from "effect/cluster"
import * as fc from "fast-check"
import { ParallelAccumulatorWorkflow } from "../../examples/src/accumulator.ts"
import { DocumentAnalysisWorkflow } from "../../examples/src/document-analysis.ts"
import { MixedResultsWorkflow } from "../../examples/src/mixed-results.ts"
import { ParallelWorkflow } from "../../examples/src/parallel.ts"
import { RobustParallelWorkflow } from "../../examples/src/robust-parallel.ts"

class BoomError extends Schema.TaggedError<BoomError>()("BoomError", { what: Schema.String }) {}

const Failing = defineWorkflow({ name: "failing", input: Schema.Struct({ what: Schema.String }) }).step(
  StartEvent,
  (ev) => Effect.fail(new BoomError({ what: ev.what }))
)

const Typed = defineWorkflow({
  name: "typed",
  input: Schema.Struct({ n: Schema.Number }),
  output: Schema.Struct({ at: Schema.Date })
}).step(StartEvent, (ev) => Effect.succeed(new StopEvent({ result: { at: new Date(ev.n) } })))

const runner = Distributed.layer({
  workflows: [
    ParallelWorkflow,
    ParallelAccumulatorWorkflow,
    MixedResultsWorkflow,
    DocumentAnalysisWorkflow,
    RobustParallelWorkflow,
    Failing,
    Typed
  ]
}).pipe(Layer.provideMerge(TestRunner.layer))

/** The accumulator's list is in the order its four workers finished: compare it by index. */
const normalize = (outcome: Result.Result<unknown, unknown>): Result.Result<unknown, unknown> =>
  Result.map(outcome, (value) =>
    Array.isArray(value)
      ? [...value].sort((a, b) => (a as { index: number }).index - (b as { index: number }).index)
      : value
  )

const cases: ReadonlyArray<readonly [Workflow.Any, unknown]> = [
  [ParallelWorkflow, { items: ["a", "bb", "ccc", ""] }],
  [ParallelAccumulatorWorkflow, { items: ["x", "y", "z"] }],
  [MixedResultsWorkflow, { items: ["1", "20", "oops", "300", "x"] }],
  [
    DocumentAnalysisWorkflow,
    {
      documents: [
        { id: "d1", content: "one two three" },
        { id: "d2", content: "four" }
      ]
    }
  ],
  [RobustParallelWorkflow, { tasks: ["task-1", "task-2", "task-3", "task-4"] }]
]

describe("Distributed.run on TestRunner", () => {
  for (const [wf, input] of cases) {
    it.live(
      `${wf.name}: the result through the cluster equals the local run's`,
      () =>
        Effect.gen(function* () {
          const local = yield* Effect.result(Workflow.run(wf, input as never))
          const remote = yield* Effect.result(Distributed.run(wf, input as never, { runId: `${wf.name}-1` }))
          assert.isTrue(Result.isSuccess(local), `the local run of ${wf.name} succeeds`)
          assert.deepStrictEqual(normalize(remote), normalize(local))
        }).pipe(Effect.provide(runner)),
      30_000
    )
  }

  it.live(
    "parallel and accumulator agree with local runs over sampled random inputs",
    () =>
      Effect.gen(function* () {
        const samples = fc.sample(
          fc.tuple(
            fc.constantFrom(ParallelWorkflow, ParallelAccumulatorWorkflow),
            fc.array(fc.string({ maxLength: 8 }), { maxLength: 10 })
          ),
          { numRuns: 12, seed: 17 }
        )
        for (const [index, [wf, items]] of samples.entries()) {
          const local = yield* Effect.result(Workflow.run(wf, { items }))
          const remote = yield* Effect.result(Distributed.run(wf, { items }, { runId: `sample-${index}` }))
          assert.deepStrictEqual(normalize(remote), normalize(local), `${wf.name} over ${JSON.stringify(items)}`)
        }
      }).pipe(Effect.provide(runner)),
    60_000
  )

  it.live("the result is decoded with the workflow's output schema", () =>
    Effect.gen(function* () {
      const result = yield* Distributed.run(Typed, { n: 86_400_000 })
      assert.instanceOf(result.at, Date)
      assert.strictEqual(result.at.toISOString(), "1970-01-02T00:00:00.000Z")
    }).pipe(Effect.provide(runner))
  )

  it.live("a workflow no runner registered fails with UnknownWorkflowError naming the registered ones", () =>
    Effect.gen(function* () {
      const stranger = defineWorkflow({ name: "stranger" }).step(StartEvent, () =>
        Effect.succeed(new StopEvent({ result: 1 }))
      )
      const error = yield* Effect.flip(Distributed.run(stranger, {}, { runId: "r-unknown" }))
      assert.strictEqual(error._tag, "UnknownWorkflowError")
      if (error._tag !== "UnknownWorkflowError") return
      assert.strictEqual(error.workflow, "stranger")
      assert.strictEqual(error.runId, "r-unknown")
      assert.include(error.registered, "parallel")
      assert.match(error.message, /No workflow "stranger".*run "r-unknown".*"parallel"/)
    }).pipe(Effect.provide(runner))
  )

  it.live("bad input is core's WorkflowInputError, across the cluster", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Distributed.run(ParallelWorkflow, { items: 3 } as never))
      assert.strictEqual(error._tag, "WorkflowInputError")
    }).pipe(Effect.provide(runner))
  )

  it.live("a handler's error comes back as RunFailedError with its tag and message", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Distributed.run(Failing, { what: "disk" }, { runId: "r-fail" }))
      assert.strictEqual(error._tag, "RunFailedError")
      if (error._tag !== "RunFailedError") return
      assert.strictEqual(error.tag, "BoomError")
      assert.strictEqual(error.runId, "r-fail")
      assert.strictEqual(error.workflow, "failing")
    }).pipe(Effect.provide(runner))
  )
})
