/**
 * The run's state is plain data: what is queued, in flight and collected per step, and the store. Durable,
 * resumable runs will write it out with the events' own schemas; this pins down that it is complete and
 * encodable at any moment of a run.
 */
import { assert, describe, it } from "@effect/vitest"
import { Effect, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import { prepare } from "../src/internal/prepare.ts"
import { type Run, runCompiled, type Snapshot } from "../src/internal/runtime.ts"
import { ItemEvent, ProcessedEvent, parallel } from "./fixtures/parallel.ts"

const settle = Effect.forEach(Array.from({ length: 30 }), () => Effect.yieldNow, { discard: true })

const counts = (snapshot: Snapshot, step: string) => {
  const s = snapshot.steps.find((x) => x.step === step)!
  return { queued: s.queued.length, inFlight: s.inFlight.length, collecting: s.collecting.length }
}

describe("a run's snapshot", () => {
  it.effect("says what is queued, in flight and collected per step at any moment, and the state", () =>
    Effect.gen(function* () {
      let run: Run | undefined
      const [compiled, input] = yield* prepare(parallel, { items: ["a", "b", "c", "d", "e", "f"] })
      const fiber = yield* Effect.forkChild(
        runCompiled(compiled, input, {
          onRun: (r) => {
            run = r
          }
        })
      )
      yield* settle
      yield* TestClock.adjust("250 millis")
      yield* settle
      const early = run!.snapshot()
      assert.deepStrictEqual(counts(early, "process_item"), { queued: 2, inFlight: 4, collecting: 0 })
      assert.deepStrictEqual(counts(early, "collect_results"), { queued: 0, inFlight: 0, collecting: 0 })
      assert.deepStrictEqual(early.state, { total_items: 6 })

      yield* TestClock.adjust("500 millis")
      yield* settle
      const later = run!.snapshot()
      assert.deepStrictEqual(counts(later, "process_item"), { queued: 0, inFlight: 2, collecting: 0 })
      assert.deepStrictEqual(counts(later, "collect_results"), { queued: 0, inFlight: 0, collecting: 4 })

      // Every event in it encodes with its own schema: nothing a durable run needs is hidden in closures.
      const encoded = later.steps.flatMap((s) =>
        [...s.queued, ...s.inFlight, ...s.collecting].map((ev) =>
          ev._tag === "ItemEvent"
            ? Schema.encodeUnknownSync(ItemEvent)(ev)
            : Schema.encodeUnknownSync(ProcessedEvent)(ev)
        )
      )
      assert.deepStrictEqual(encoded.map((e) => (e as { _tag: string })._tag).sort(), [
        "ItemEvent",
        "ItemEvent",
        "ProcessedEvent",
        "ProcessedEvent",
        "ProcessedEvent",
        "ProcessedEvent"
      ])
      yield* TestClock.adjust("500 millis")
      const result = yield* Fiber.join(fiber)
      assert.lengthOf(result as ReadonlyArray<string>, 6)
    })
  )
})
