import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit } from "effect"
import { parallel } from "./fixtures/parallel.ts"

describe("ParallelWorkflow (the seed's first example)", () => {
  it.effect("returns every item processed, in input order", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(parallel, { items: ["doc1", "doc2", "doc3"] }))
      assert.deepStrictEqual(exit, Exit.succeed(["Processed: doc1", "Processed: doc2", "Processed: doc3"]))
    })
  )

  it.effect("with 4 workers and 0.5 s per item, 8 items take 1 s of virtual time, not 4", () =>
    Effect.gen(function* () {
      const items = Array.from({ length: 8 }, (_, i) => `item${i}`)
      const { exit, elapsed } = yield* runVirtual(Workflow.run(parallel, { items }))
      assert.deepStrictEqual(exit, Exit.succeed(items.map((i) => `Processed: ${i}`)))
      assert.strictEqual(Duration.toMillis(elapsed), 1000)
    })
  )
})
