import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit } from "effect"
import { TestConsole } from "effect/testing"
import * as fc from "fast-check"
import { items, main, ParallelWorkflow } from "../src/parallel.ts"

describe("parallel example", () => {
  it.effect("returns every item processed, in input order", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(ParallelWorkflow, { items: ["doc1", "doc2", "doc3"] }))
      assert.deepStrictEqual(exit, Exit.succeed(["Processed: doc1", "Processed: doc2", "Processed: doc3"]))
    })
  )

  it.effect("n items with 4 workers and 0.5 s each take ceil(n / 4) * 0.5 s of virtual time", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(fc.string(), { minLength: 1, maxLength: 30, size: "max" }), async (input) => {
            const { exit, elapsed } = await Effect.runPromiseWith(context)(
              runVirtual(Workflow.run(ParallelWorkflow, { items: input }))
            )
            assert.deepStrictEqual(exit, Exit.succeed(input.map((item) => `Processed: ${item}`)))
            assert.strictEqual(Duration.toMillis(elapsed), Math.ceil(input.length / 4) * 500)
          }),
          { numRuns: 30 }
        )
      )
    })
  )

  it.effect("main prints the 8 results and the 1 s they took (4 s one at a time)", () =>
    Effect.gen(function* () {
      const { exit, elapsed } = yield* runVirtual(main)
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(Duration.toMillis(elapsed), 1000)
      assert.deepStrictEqual(yield* TestConsole.logLines, [
        ...items.map((item) => `Processed: ${item}`),
        "8 items, 4 workers, 0.5 s each: 1.0 s (one at a time: 4 s)"
      ])
    })
  )
})
