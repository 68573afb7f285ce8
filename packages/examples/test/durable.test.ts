/**
 * A durable run's result equals the in-memory run's, for the example workflows over their inputs: the journal
 * (every event, state and operation encoded with the examples' schemas) changes nothing a run computes.
 */
import { assert, describe, it } from "@effect/vitest"
import { Durable, RunStore, Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect } from "effect"
import { TestConsole } from "effect/testing"
import * as fc from "fast-check"
import { ParallelAccumulatorWorkflow } from "../src/accumulator.ts"
import { DocumentAnalysisWorkflow } from "../src/document-analysis.ts"
import { main as durableExample } from "../src/durable.ts"
import { MixedResultsWorkflow } from "../src/mixed-results.ts"
import { ParallelWorkflow } from "../src/parallel.ts"
import { RobustParallelWorkflow } from "../src/robust-parallel.ts"

const items = fc.array(fc.string({ maxLength: 12 }), { minLength: 1, maxLength: 12 })

const cases: ReadonlyArray<readonly [string, Workflow.Any, fc.Arbitrary<unknown>]> = [
  ["parallel", ParallelWorkflow, items.map((items) => ({ items }))],
  ["accumulator", ParallelAccumulatorWorkflow, items.map((items) => ({ items }))],
  [
    "mixed-results",
    MixedResultsWorkflow,
    fc
      .array(fc.oneof(fc.integer({ min: 0, max: 500 }).map(String), fc.string({ maxLength: 6 })), {
        minLength: 1,
        maxLength: 10
      })
      .map((items) => ({ items }))
  ],
  [
    "document-analysis",
    DocumentAnalysisWorkflow,
    fc
      .array(fc.record({ id: fc.string({ minLength: 1, maxLength: 6 }), content: fc.string({ maxLength: 40 }) }), {
        minLength: 1,
        maxLength: 6
      })
      .map((documents) => ({ documents }))
  ],
  ["robust-parallel", RobustParallelWorkflow, items.map((tasks) => ({ tasks }))]
]

describe("durable runs of the examples", () => {
  for (const [name, wf, input] of cases) {
    it.effect(
      `${name}: the durable result (and a re-run of its runId) equals the in-memory run's`,
      () =>
        Effect.gen(function* () {
          const ctx = yield* Effect.context<never>()
          let n = 0
          yield* Effect.promise(() =>
            fc.assert(
              fc.asyncProperty(input, (value) =>
                Effect.runPromiseWith(ctx)(
                  Effect.gen(function* () {
                    const plain = yield* runVirtual(Workflow.run(wf, value as never) as Effect.Effect<unknown, unknown>)
                    const runId = `${name}-${n++}`
                    const durable = yield* runVirtual(
                      Durable.run(wf, value as never, { runId }) as Effect.Effect<unknown, unknown, RunStore.RunStore>
                    )
                    assert.deepStrictEqual(durable.exit, plain.exit)
                    if (plain.exit._tag === "Success") {
                      const again = yield* runVirtual(
                        Durable.run(wf, value as never, { runId }) as Effect.Effect<unknown, unknown, RunStore.RunStore>
                      )
                      assert.deepStrictEqual(again.exit, plain.exit)
                    }
                  }).pipe(Effect.provide(RunStore.layerMemory))
                )
              ),
              { numRuns: 15 }
            )
          )
        }),
      60_000
    )
  }

  it.live(
    "npm run example -- durable: a child SIGKILLed part way, the run resumed here, skipping what ended",
    () =>
      Effect.gen(function* () {
        yield* durableExample
        const lines = (yield* TestConsole.logLines).map(String)
        assert.match(lines[1]!, /killed with SIGKILL/)
        const ended = /(\d+) of them price calls/.exec(lines[2]!)
        assert.isNotNull(ended, lines[2])
        const here = /(\d+) price calls ran in this process/.exec(lines[3]!)
        assert.isNotNull(here, lines[3])
        // Every price call either ended before the kill (skipped here) or ran here, the in-flight ones again.
        assert.strictEqual(Number(ended![1]) + Number(here![1]), 200)
        assert.match(lines[3]!, /, \d+ of them again under the same invocationId/)
        assert.include(lines[4]!, '{"priced":200,"cents":44800}')
      }).pipe(Effect.provide(TestConsole.layer)),
    60_000
  )
})
