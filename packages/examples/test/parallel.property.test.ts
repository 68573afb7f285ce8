/**
 * Example: a property test of a workflow with `it.effect.prop` from @effect/vitest. It takes Schemas (or
 * effect Arbitraries), so hand it the workflow's own input schema, `Workflow.inputSchema(wf)`, and it
 * generates inputs that decode. `runVirtual` runs each case on virtual time: the steps' half-second sleeps
 * cost nothing, and `elapsed` is exact. (For fast-check's own arbitraries and `fc.assert`, see
 * `inputArbitrary` in the testing guide.)
 *
 * Run it: `npx vitest run --project examples parallel.property`
 */
import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit, Schema } from "effect"
import { ParallelWorkflow } from "../src/parallel.ts"

// Draw up to 30 items, not just a few: the schema narrows what the workflow accepts.
const Items = Schema.Struct({
  items: Schema.Array(Schema.String).check(Schema.isMinLength(1), Schema.isMaxLength(30))
})

describe("parallel, for any items", () => {
  it.effect.prop(
    "every item is processed once, in input order, in ceil(n / 4) rounds of 0.5 s",
    { input: Items },
    ({ input }) =>
      Effect.gen(function* () {
        const { elapsed, exit } = yield* runVirtual(Workflow.run(ParallelWorkflow, input))
        assert.deepStrictEqual(exit, Exit.succeed(input.items.map((item) => `Processed: ${item}`)))
        assert.strictEqual(Duration.toMillis(elapsed), Math.ceil(input.items.length / 4) * 500)
      }),
    { arbitrary: { runs: 30 } }
  )

  it.effect.prop(
    "the workflow's own input schema works as it is",
    { input: Workflow.inputSchema(ParallelWorkflow) },
    ({ input }) =>
      Effect.gen(function* () {
        const { exit } = yield* runVirtual(Workflow.run(ParallelWorkflow, input))
        // No items: the collector never gets its round, and the run stalls at once instead of hanging.
        assert.strictEqual(Exit.isSuccess(exit), input.items.length > 0)
      }),
    { arbitrary: { runs: 20 } }
  )
})
