// The packed package as an ES module consumer sees it: plain JavaScript in a scratch project, no source
// condition. Run by scripts/packed.ts. Exits non-zero with an assertion message on the first mismatch.
import assert from "node:assert/strict"
import { defineWorkflow, StartEvent, StopEvent, Workflow, WorkflowInputError } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit, Option, Schema } from "effect"
import { TestClock } from "effect/testing"

const resolved = import.meta.resolve("@effect-flow/core")
assert.match(
  resolved,
  /\/node_modules\/@effect-flow\/core\/dist\/index\.js$/,
  `@effect-flow/core resolved to ${resolved}`
)
assert.match(import.meta.resolve("@effect-flow/core/testing"), /\/dist\/testing\.js$/)

// The seed's shape in miniature: fan out one event per value, square them on 2 workers, collect them all.
class Item extends Schema.TaggedClass()("Item", { value: Schema.Number }) {}
class Squared extends Schema.TaggedClass()("Squared", { value: Schema.Number }) {}

const squares = defineWorkflow({
  name: "squares",
  input: Schema.Struct({ values: Schema.Array(Schema.Number) }),
  state: Schema.Struct({ total: Schema.Number }),
  initialState: { total: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("total", ev.values.length)
        for (const value of ev.values) yield* ctx.send(new Item({ value }))
      }),
    { name: "fan_out", emits: [Item] }
  )
  .step(Item, (ev) => Effect.succeed(new Squared({ value: ev.value ** 2 })).pipe(Effect.delay("50 millis")), {
    name: "square",
    workers: 2,
    emits: [Squared]
  })
  .step(
    Squared,
    (ev, ctx) =>
      Effect.gen(function* () {
        const all = yield* ctx.collect(ev, yield* ctx.store.get("total"))
        if (Option.isNone(all)) return
        return new StopEvent({ result: all.value.map((s) => s.value).sort((a, b) => a - b) })
      }),
    { name: "fan_in", emits: [StopEvent] }
  )

assert.deepEqual(await Workflow.runPromise(squares, { values: [3, 1, 2] }), [1, 4, 9])

// Bad input rejects with the library's own error class, so instanceof works across the bundle.
const rejection = await Workflow.runPromise(squares, { values: "nope" }).then(
  () => assert.fail("a string for `values` should not decode"),
  (error) => error
)
assert.ok(rejection instanceof WorkflowInputError, `expected WorkflowInputError, got ${rejection}`)
assert.equal(rejection._tag, "WorkflowInputError")
// Class names are the sources' own (no bundler renamed them to StopEvent2), in logs and errors.
assert.equal(rejection.constructor.name, "WorkflowInputError")
assert.equal(new StopEvent({ result: 1 }).constructor.name, "StopEvent")
assert.equal(new StartEvent({}).constructor.name, "StartEvent")

// The testing entry works from dist too: 3 items of 50 ms on 2 workers take 100 ms of virtual time.
const virtual = await Effect.runPromise(
  runVirtual(Workflow.run(squares, { values: [1, 2, 3] })).pipe(Effect.provide(TestClock.layer()))
)
assert.deepEqual(virtual.exit, Exit.succeed([1, 4, 9]))
assert.equal(Duration.toMillis(virtual.elapsed), 100)

// internal/ is not part of the public surface.
await assert.rejects(import("@effect-flow/core/internal/runtime"), { code: "ERR_PACKAGE_PATH_NOT_EXPORTED" })

console.log("smoke (esm): import ran the workflow to [1, 4, 9]; internal/* is blocked")
