/**
 * The testing kit on a real bug. An accumulator written as read-then-set (`store.get`, then `store.set`
 * with the list plus one entry) passes an ordinary test: each worker happens to read and write in one go.
 * The interleaving property, which lets fast-check choose where workers yield and which goes next, finds
 * an order that loses an update and shrinks it to a few decisions; the `store.edit` version of the lesson
 * passes the same property in every order it tries.
 */
import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { explore, interleavings, Laws, runVirtual } from "@effect-flow/core/testing"
import { Effect, Exit } from "effect"
import * as fc from "fast-check"
import { AccumulatorBase, analyze, ItemEvent, ParallelAccumulatorWorkflow, ProcessedEvent } from "../src/accumulator.ts"

/** The lesson's accumulator, written the racy way: read the list, then set it with one more entry. */
const ReadThenSetAccumulator = AccumulatorBase.step(
  ItemEvent,
  (ev, ctx) =>
    Effect.gen(function* () {
      const result = yield* analyze(ev.item)
      const results = yield* ctx.store.get("results")
      yield* ctx.store.set("results", [...results, { index: ev.index, result }])
      return new ProcessedEvent({ index: ev.index })
    }),
  { name: "process_item", workers: 4, emits: [ProcessedEvent] }
)

const items = ["alpha", "beta", "gamma", "delta", "epsilon"]

/** The law: every item's result is accumulated exactly once, whatever the order of execution. */
const noLostUpdate = (workflow: typeof ParallelAccumulatorWorkflow) => (choices: ReadonlyArray<number>) => {
  const trace = explore(workflow, { items }, choices)
  assert.deepStrictEqual(Laws.nothingLost(trace), [])
  assert.isTrue(Exit.isSuccess(trace.exit), `the run failed: ${String(trace.exit)}`)
  const indices = Exit.isSuccess(trace.exit) ? trace.exit.value.map((e) => e.index).sort() : []
  assert.deepStrictEqual(indices, [0, 1, 2, 3, 4], `order ${JSON.stringify(trace.order)} lost an update`)
}

// Each property explores 300 interleavings (and the first shrinks one): about half a second on an idle
// machine, several times that when CI shares 2 cores with other work. The explicit timeout spares them
// Vitest's 5 s default there; it only catches a hang.
const PROPERTY_TIMEOUT = 60_000

describe("accumulator under explored interleavings", () => {
  it.effect("an ordinary test does not see the read-then-set bug", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(ReadThenSetAccumulator, { items }))
      assert.isTrue(Exit.isSuccess(exit))
      assert.lengthOf(Exit.isSuccess(exit) ? exit.value : [], items.length)
    })
  )

  it(
    "the interleaving property catches it, shrinks it to a short order, and the order replays",
    () => {
      const result = fc.check(fc.property(interleavings(), noLostUpdate(ReadThenSetAccumulator)), {
        numRuns: 300,
        seed: 2026
      })
      assert.isTrue(result.failed, "an interleaving that loses an update was found")
      const order = result.counterexample![0]
      assert.isAtMost(order.length, 16, `shrunk to a few decisions: ${JSON.stringify(order)}`)
      assert.throws(() => noLostUpdate(ReadThenSetAccumulator)(order), /lost an update/)
    },
    PROPERTY_TIMEOUT
  )

  it(
    "the store.edit version passes the same property",
    () => {
      fc.assert(fc.property(interleavings(), noLostUpdate(ParallelAccumulatorWorkflow)), { numRuns: 300, seed: 2026 })
    },
    PROPERTY_TIMEOUT
  )
})
