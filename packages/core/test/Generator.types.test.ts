/**
 * Generator-function handlers, `.step(A, function* (ev, ctx) { ... })`: the types are inferred as for a
 * handler returning an Effect (checked by `npm run typecheck`: every `@ts-expect-error` must be needed), and
 * the engine runs them (the runtime tests below).
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { defineWorkflow, StartEvent, Step, StopEvent, type UnhandledEventError, Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Context, Effect, Exit, Layer, Option, Result, Schema } from "effect"
import { Boom, errorOf, Item, Ping, Processed } from "./fixtures/events.ts"

class Greeter extends Context.Service<Greeter, { readonly greet: (who: string) => Effect.Effect<string> }>()(
  "test/GeneratorGreeter"
) {}

const Items = Schema.Struct({ items: Schema.Array(Schema.String) })

const fanOut = defineWorkflow({
  name: "generators",
  input: Items,
  state: Schema.Struct({ total: Schema.Number }),
  initialState: { total: 0 }
})
  .step(
    StartEvent,
    function* (ev, ctx) {
      expectTypeOf(ev.items).toEqualTypeOf<ReadonlyArray<string>>()
      yield* ctx.store.set("total", ev.items.length)
      yield* ctx.sendAll(ev.items.map((item, index) => new Item({ item, index, total: ev.items.length })))
    },
    { name: "dispatch", emits: [Item] }
  )
  .step(
    Item,
    function* (ev) {
      expectTypeOf(ev).toEqualTypeOf<Item>()
      yield* Effect.sleep("100 millis")
      if (ev.item === "boom") return yield* Effect.fail(new Boom({ reason: ev.item }))
      return new Processed({ result: ev.item.toUpperCase(), index: ev.index, total: ev.total })
    },
    { name: "work", workers: 2 }
  )
  .step(Processed, function* (ev, ctx) {
    const total = yield* ctx.store.get("total")
    expectTypeOf(total).toEqualTypeOf<number>()
    const all = yield* ctx.collect(ev, total)
    if (Option.isNone(all)) return
    return new StopEvent({ result: [...all.value].sort((a, b) => a.index - b.index).map((p) => p.result) })
  })

describe("generator handlers: types", () => {
  it("infer the output, the errors and the emitted events as an Effect handler does", () => {
    expectTypeOf<Workflow.Workflow.Output<typeof fanOut>>().toEqualTypeOf<Array<string>>()
    // UnhandledEventError: from ctx.sendAll, as for an Effect handler.
    expectTypeOf<Workflow.Workflow.Error<typeof fanOut>>().toEqualTypeOf<Boom | UnhandledEventError>()
    expectTypeOf<Workflow.Workflow.Services<typeof fanOut>>().toEqualTypeOf<never>()
    expectTypeOf<Workflow.Workflow.Emitted<typeof fanOut>>().toEqualTypeOf<
      Item | Processed | StopEvent<Array<string>>
    >()
  })

  it("the services of what a generator yields join the workflow's requirements", () => {
    const greeting = defineWorkflow({ name: "greeting", input: Schema.Struct({ who: Schema.String }) }).step(
      StartEvent,
      function* (ev) {
        const greeter = yield* Greeter
        return new StopEvent({ result: yield* greeter.greet(ev.who) })
      }
    )
    expectTypeOf<Workflow.Workflow.Services<typeof greeting>>().toEqualTypeOf<Greeter>()
    expectTypeOf<Workflow.Workflow.Output<typeof greeting>>().toEqualTypeOf<string>()
    // @ts-expect-error: runPromise needs the Greeter service
    void (() => Workflow.runPromise(greeting, { who: "x" }))
  })

  it("declared emits check what a generator returns and sends", () => {
    function* returnsPing() {
      return new Ping({ n: 1 })
    }
    // @ts-expect-error: Ping is not in emits
    defineWorkflow().step(StartEvent, returnsPing, { emits: [Item] })
    defineWorkflow().step(
      StartEvent,
      function* (_, ctx) {
        // @ts-expect-error: ctx.send only takes the declared emits
        yield* ctx.send(new Ping({ n: 1 }))
      },
      { emits: [Item] }
    )
  })
})

describe("generator handlers: Step.make", () => {
  const shout = Step.make(
    Item,
    function* (ev) {
      const greeter = yield* Greeter
      if (ev.item === "boom") return yield* Effect.fail(new Boom({ reason: ev.item }))
      return new Processed({ result: yield* greeter.greet(ev.item), index: ev.index, total: ev.total })
    },
    { name: "shout", emits: [Processed] }
  )

  it("infers a generator step's event, output, errors and services as for an Effect handler", () => {
    expectTypeOf(shout).toEqualTypeOf<Step.Step<Item, Processed, Boom, Greeter, any, never>>()
    function* returnsPing() {
      return new Ping({ n: 1 })
    }
    // @ts-expect-error: Ping is not in emits
    Step.make(Item, returnsPing, { emits: [Processed] })
  })

  it("an Option or a Result cannot be yield*-ed in a generator handler, as in Effect.gen (in effect v4 they are not Effects)", () => {
    // @ts-expect-error: Effect.gen refuses it too
    void Effect.gen(function* () {
      return yield* Option.some(1)
    })
    // @ts-expect-error: yield* Effect.fromOption(option) instead
    defineWorkflow().step(StartEvent, function* () {
      return new StopEvent({ result: yield* Option.some(1) })
    })
    // @ts-expect-error: yield* Effect.fromResult(result) instead
    defineWorkflow().step(StartEvent, function* () {
      return new StopEvent({ result: yield* Result.succeed(1) })
    })
    defineWorkflow().step(StartEvent, function* () {
      return new StopEvent({ result: yield* Effect.fromOption(Option.some(1)) })
    })
  })

  it.effect("a generator step made on its own runs in a workflow, with its layer", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "made", input: Items })
        .step(StartEvent, (ev, ctx) =>
          ctx.sendAll(ev.items.map((item, index) => new Item({ item, index, total: ev.items.length })))
        )
        .step(shout)
        .step(Processed, (ev, ctx) =>
          Effect.map(ctx.collect(ev, ev.total), (all) =>
            Option.isNone(all) ? undefined : new StopEvent({ result: all.value.map((p) => p.result).sort() })
          )
        )
      expectTypeOf<Workflow.Workflow.Services<typeof wf>>().toEqualTypeOf<Greeter>()
      const layer = Layer.succeed(Greeter, { greet: (who) => Effect.succeed(who.toUpperCase()) })
      const result = yield* Workflow.run(wf, { items: ["a", "b"] }).pipe(Effect.provide(layer))
      assert.deepStrictEqual(result, ["A", "B"])
    })
  )
})

describe("generator handlers: running", () => {
  it.effect("a workflow of generator handlers runs like one of Effect handlers", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(fanOut, { items: ["a", "b", "c"] }))
      assert.deepStrictEqual(exit, Exit.succeed(["A", "B", "C"]))
    })
  )

  it.effect("a generator's typed failure ends the run with that error", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(fanOut, { items: ["a", "boom"] }))
      assert.deepStrictEqual(errorOf(exit), new Boom({ reason: "boom" }))
    })
  )

  it.effect("a generator that uses a service runs with its layer", () =>
    Effect.gen(function* () {
      const greeting = defineWorkflow({ name: "greeting", input: Schema.Struct({ who: Schema.String }) }).step(
        StartEvent,
        function* (ev) {
          const greeter = yield* Greeter
          return new StopEvent({ result: yield* greeter.greet(ev.who) })
        }
      )
      const layer = Layer.succeed(Greeter, { greet: (who) => Effect.succeed(`Hello, ${who}!`) })
      const result = yield* Workflow.run(greeting, { who: "world" }).pipe(Effect.provide(layer))
      assert.strictEqual(result, "Hello, world!")
    })
  )

  it.effect(
    "the handler boundary accepts a generator function, and still names a function that returns a generator",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "gen-object" }).step(StartEvent, (() =>
          (function* () {
            return new StopEvent({ result: 1 })
          })()) as any)
        const exit = yield* Effect.exit(Workflow.run(wf, {}))
        assert.isTrue(Exit.isFailure(exit))
        assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "make the handler itself a generator function")
        assert.deepStrictEqual(Workflow.problems(fanOut), [])
      })
  )
})
