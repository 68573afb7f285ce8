import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect, Exit } from "effect"
import { TestConsole } from "effect/testing"
import * as fc from "fast-check"
import {
  AccumulatorBase,
  analyze,
  ItemEvent,
  items,
  main,
  ParallelAccumulatorWorkflow,
  ProcessedEvent
} from "../src/accumulator.ts"

const indices = (results: ReadonlyArray<{ readonly index: number }>) =>
  results.map((r) => r.index).sort((a, b) => a - b)
const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** The race the lesson warns about: read the list, do the work, write the list back. */
const NaiveAccumulator = AccumulatorBase.step(
  ItemEvent,
  (ev, ctx) =>
    Effect.gen(function* () {
      const results = yield* ctx.store.get("results")
      const result = yield* analyze(ev.item)
      yield* ctx.store.set("results", [...results, { index: ev.index, result }])
      return new ProcessedEvent({ index: ev.index })
    }),
  { name: "process_item", workers: 4, emits: [ProcessedEvent] }
)

/** The atomic version of the same: the work happens inside the edit, so each edit suspends while it holds the state. */
const SlowEditAccumulator = AccumulatorBase.step(
  ItemEvent,
  (ev, ctx) =>
    Effect.gen(function* () {
      yield* ctx.store.edit((state) =>
        Effect.map(analyze(ev.item), (result) => ({
          ...state,
          results: [...state.results, { index: ev.index, result }]
        }))
      )
      return new ProcessedEvent({ index: ev.index })
    }),
  { name: "process_item", workers: 4, emits: [ProcessedEvent] }
)

describe("accumulator example", () => {
  it.effect("accumulates every item exactly once, with its analysis", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(ParallelAccumulatorWorkflow, { items }))
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(indices(exit.value), range(items.length))
      for (const r of exit.value) assert.strictEqual(r.result, `${items[r.index]}: ${items[r.index]!.length} letters`)
    })
  )

  it.effect("200 items with mixed delays through 4 workers: no update is lost", () =>
    Effect.gen(function* () {
      const many = Array.from({ length: 200 }, (_, i) => `item-${i * 7919}`)
      const { exit } = yield* runVirtual(Workflow.run(ParallelAccumulatorWorkflow, { items: many }))
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.strictEqual(exit.value.length, 200)
      assert.deepStrictEqual(indices(exit.value), range(200))
    })
  )

  it.effect("property: for any items, every index is accumulated exactly once", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.array(fc.string(), { minLength: 1, maxLength: 120, size: "max" }), async (input) => {
            const { exit } = await Effect.runPromiseWith(context)(
              runVirtual(Workflow.run(ParallelAccumulatorWorkflow, { items: input }))
            )
            assert.isTrue(Exit.isSuccess(exit))
            if (!Exit.isSuccess(exit)) return
            assert.deepStrictEqual(indices(exit.value), range(input.length))
          }),
          { numRuns: 20 }
        )
      )
    })
  )

  it.effect("the same accumulation with a plain get, work, set loses updates (why edit exists)", () =>
    Effect.gen(function* () {
      const many = Array.from({ length: 40 }, (_, i) => `item-${i}`)
      const { exit } = yield* runVirtual(Workflow.run(NaiveAccumulator, { items: many }))
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.isBelow(exit.value.length, 40)
    })
  )

  it.effect("an edit that suspends while it holds the state loses nothing either: edits never interleave", () =>
    Effect.gen(function* () {
      const many = Array.from({ length: 40 }, (_, i) => `item-${i}`)
      const { exit } = yield* runVirtual(Workflow.run(SlowEditAccumulator, { items: many }))
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.deepStrictEqual(indices(exit.value), range(40))
    })
  )

  it.effect("main prints one line per accumulated result", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(main)
      assert.deepStrictEqual(exit, Exit.void)
      const lines = (yield* TestConsole.logLines).map(String)
      assert.strictEqual(lines[0], "Accumulated 8 results from 4 workers (finishing order):")
      assert.deepStrictEqual(
        lines.slice(1).sort(),
        items.map((item, index) => `  #${index} ${item}: ${item.length} letters`).sort()
      )
    })
  )
})
