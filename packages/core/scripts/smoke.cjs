// The packed package as a CommonJS consumer sees it: `require("@effect-flow/core")` loads the one ES module
// build through Node's require(esm), as it loads `effect` (ESM only); an `import` of it in the same process
// gets the very same module, so there is one copy of each class. Run by scripts/packed.ts in a scratch project.
const assert = require("node:assert/strict")
const { defineWorkflow, StartEvent, StopEvent, Workflow, WorkflowInputError } = require("@effect-flow/core")
const { Effect, Exit, Option, Schema } = require("effect")

const main = async () => {
  const resolved = require.resolve("@effect-flow/core")
  assert.match(
    resolved,
    /[/\\]node_modules[/\\]@effect-flow[/\\]core[/\\]dist[/\\]index\.js$/,
    `resolved to ${resolved}`
  )
  assert.match(require.resolve("@effect-flow/core/testing"), /[/\\]dist[/\\]testing\.js$/)
  // One copy whichever way it is imported: require and import give the same classes.
  const imported = await import("@effect-flow/core")
  assert.equal(imported.StopEvent, StopEvent, "require and import loaded two copies of @effect-flow/core")
  assert.equal(imported.WorkflowInputError, WorkflowInputError)
  assert.equal(typeof require("@effect-flow/core/testing").runVirtual, "function")

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
    .step(Item, (ev) => Effect.succeed(new Squared({ value: ev.value ** 2 })).pipe(Effect.delay("10 millis")), {
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

  // Through the Effect API this time: run returns an Effect, and a failure keeps its class.
  const exit = await Effect.runPromiseExit(Workflow.run(squares, { values: [2, 3, 4] }))
  assert.deepEqual(exit, Exit.succeed([4, 9, 16]))
  const failed = await Effect.runPromise(Effect.flip(Workflow.run(squares, { values: [1, "two"] })))
  assert.ok(failed instanceof WorkflowInputError, `expected WorkflowInputError, got ${failed}`)
  assert.equal(failed.constructor.name, "WorkflowInputError")

  assert.throws(() => require("@effect-flow/core/internal/runtime"), { code: "ERR_PACKAGE_PATH_NOT_EXPORTED" })

  console.log("smoke (cjs): require ran the workflow to [4, 9, 16]; internal/* is blocked")
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
