/**
 * The testing kit outside its comfort zone: `runVirtual` without `it.effect` (it brings its own TestClock),
 * `Workflow.inputSchema` for `it.effect.prop`, and `inputArbitrary` for `fc.assert`.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { inputArbitrary, runVirtual } from "@effect-flow/core/testing"
import { Cause, Duration, Effect, Exit, Schema } from "effect"
import * as fc from "fast-check"
import { parallel } from "./fixtures/parallel.ts"

describe("runVirtual outside it.effect", () => {
  it("brings its own TestClock: 8 items of 0.5 s on 4 workers take 1 s of virtual time, at once", async () => {
    const items = Array.from({ length: 8 }, (_, i) => `doc${i}`)
    const started = Date.now()
    const { elapsed, exit } = await Effect.runPromise(runVirtual(Workflow.run(parallel, { items })))
    assert.isTrue(Exit.isSuccess(exit))
    assert.strictEqual(Duration.toMillis(elapsed), 1000)
    // Virtual time: the run did not wait the second it reports (a generous bound, not a timing assertion).
    assert.isBelow(Date.now() - started, 900)
  })

  it.effect("inside it.effect it uses the test's TestClock", () =>
    Effect.gen(function* () {
      const { elapsed, exit } = yield* runVirtual(Workflow.run(parallel, { items: ["a", "b"] }))
      assert.deepStrictEqual(exit, Exit.succeed(["Processed: a", "Processed: b"]))
      assert.strictEqual(Duration.toMillis(elapsed), 500)
    })
  )
})

const Order = Schema.Struct({
  items: Schema.Array(Schema.String).check(Schema.isMaxLength(12)),
  priority: Schema.Literals(["low", "high"])
})
const orders = defineWorkflow({ name: "orders", input: Order }).step(StartEvent, (ev) =>
  Effect.succeed(new StopEvent({ result: `${ev.priority}:${ev.items.length}` }))
)

describe("properties over a workflow's inputs", () => {
  it.effect.prop(
    "it.effect.prop takes Workflow.inputSchema(wf)",
    { input: Workflow.inputSchema(orders) },
    ({ input }) =>
      Effect.gen(function* () {
        assert.isAtMost(input.items.length, 12)
        const result = yield* Workflow.run(orders, input)
        assert.strictEqual(result, `${input.priority}:${input.items.length}`)
      })
  )

  it.effect.prop(
    "the parallel workflow processes every item of any non-empty input, in order; an empty one stalls",
    { input: Workflow.inputSchema(parallel) },
    ({ input }) =>
      Effect.gen(function* () {
        const { exit } = yield* runVirtual(Workflow.run(parallel, input))
        if (input.items.length === 0) {
          // The lesson's collector waits for 0 results it never gets: nothing runs, so the run stalls at once.
          assert.isTrue(Exit.isFailure(exit) && String(Cause.squash(exit.cause)).includes("WorkflowStalledError"))
          return
        }
        assert.deepStrictEqual(exit, Exit.succeed(input.items.map((item) => `Processed: ${item}`)))
      }),
    { arbitrary: { runs: 20 } }
  )

  it("a workflow without an input schema has an empty struct", () => {
    const bare = defineWorkflow().step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })))
    assert.deepStrictEqual(Schema.decodeUnknownSync(Workflow.inputSchema(bare))({}), {})
  })

  it.effect("inputArbitrary stays the fast-check way, for fc.assert", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(inputArbitrary(orders, { items: fc.array(fc.string(), { maxLength: 3 }) }), (input) =>
            Effect.runPromiseWith(context)(Workflow.run(orders, input)).then((result) => {
              assert.strictEqual(result, `${input.priority}:${input.items.length}`)
            })
          ),
          { numRuns: 25 }
        )
      )
    })
  )
})
