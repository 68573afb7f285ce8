/**
 * Type tests of the builder's inference, checked by `npx tsc -p tsconfig.json` (every `@ts-expect-error`
 * must be needed, and nothing else may error). At run time these only build workflows and Effects (never
 * run them), so Vitest sees passing tests; the checking is tsc's.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import type { WorkflowError as Errors, Context as StepContext } from "@effect-flow/core"
import { defineWorkflow, StartEvent, type Step, StopEvent, Workflow } from "@effect-flow/core"
import { Context, Effect, Layer, Option, Schema } from "effect"
import { Boom, Failure, Item, Ping, Processed, Success } from "./fixtures/events.ts"
import { parallel } from "./fixtures/parallel.ts"

class Other extends Schema.TaggedError<Other>()("Other", {}) {}
class Greeter extends Context.Service<Greeter, { readonly greet: (who: string) => Effect.Effect<string> }>()(
  "test/Greeter"
) {}

const Items = Schema.Struct({ items: Schema.Array(Schema.String) })
const base = defineWorkflow({
  name: "types",
  input: Items,
  state: Schema.Struct({ total: Schema.Number, label: Schema.String }),
  initialState: { total: 0, label: "" }
})

describe("Workflow types", () => {
  it("the handler's event type: a class, StartEvent with the decoded input, an array of classes", () => {
    base
      .step(StartEvent, (ev) => {
        expectTypeOf(ev._tag).toEqualTypeOf<"StartEvent">()
        expectTypeOf(ev.items).toEqualTypeOf<ReadonlyArray<string>>()
        return Effect.void
      })
      .step(Ping, (ev) => {
        expectTypeOf(ev).toEqualTypeOf<Ping>()
        return Effect.void
      })
      .step([Success, Failure], (ev) => {
        expectTypeOf(ev).toEqualTypeOf<Success | Failure>()
        return Effect.void
      })
    // @ts-expect-error: the StartEvent has no field the input schema does not declare
    base.step(StartEvent, (ev) => Effect.log(ev.nope))
    assert.isTrue(true)
  })

  it("the output type comes from the StopEvents the steps return", () => {
    const wf = base
      .step(StartEvent, (ev) => Effect.succeed(new Item({ item: ev.items[0] ?? "", index: 0, total: 1 })))
      .step(Item, (ev) => Effect.succeed(new StopEvent({ result: ev.index })))
      .step(Processed, (ev) => Effect.succeed(new StopEvent({ result: ev.result })))
    expectTypeOf(Workflow.run(wf, { items: [] })).toEqualTypeOf<Effect.Effect<number | string, Errors.WorkflowError>>()
    expectTypeOf(() => Workflow.runPromise(wf, { items: [] })).returns.toEqualTypeOf<Promise<number | string>>()
  })

  it("a collect step that returns a StopEvent or nothing (the seed's shape) gives the output type", () => {
    const wf = base.step(StartEvent, (ev, ctx) =>
      Effect.gen(function* () {
        const all = yield* ctx.collect(new Success({ id: 1 }), ev.items.length)
        if (Option.isNone(all)) return
        return new StopEvent({ result: all.value.map((s) => s.id) })
      })
    )
    expectTypeOf<Workflow.Workflow.Output<typeof wf>>().toEqualTypeOf<Array<number>>()
  })

  it("emits: [StopEvent] is accepted and gives the output type", () => {
    const wf = base.step(StartEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.items.length })), {
      emits: [StopEvent]
    })
    expectTypeOf<Workflow.Workflow.Output<typeof wf>>().toEqualTypeOf<number>()
  })

  it("handler errors and requirements accumulate into E and R", () => {
    const wf = base
      .step(StartEvent, () => Effect.fail(new Boom({ reason: "x" })))
      .step(Ping, () =>
        Effect.gen(function* () {
          const greeter = yield* Greeter
          yield* greeter.greet("a")
          return yield* Effect.fail(new Other())
        })
      )
    const program = Workflow.run(wf, { items: [] })
    expectTypeOf(program).toEqualTypeOf<Effect.Effect<never, Boom | Other | Errors.WorkflowError, Greeter>>()
    // provided like any Effect
    const provided = program.pipe(Effect.provide(Layer.succeed(Greeter, { greet: (who) => Effect.succeed(who) })))
    expectTypeOf(provided).toEqualTypeOf<Effect.Effect<never, Boom | Other | Errors.WorkflowError>>()
    // (inside a function that is never called: only its types matter)
    void (() => {
      // @ts-expect-error: runPromise needs a workflow without requirements
      Workflow.runPromise(wf, { items: [] })
      // The same call with the same input and typed errors, but no requirement, is fine:
      Workflow.runPromise(
        base.step(StartEvent, () => Effect.fail(new Boom({ reason: "x" }))),
        { items: [] }
      )
    })
    expectTypeOf<Workflow.Workflow.Services<typeof wf>>().toEqualTypeOf<Greeter>()
  })

  it("the REFERENCE example's run is an Effect<ReadonlyArray<string>, WorkflowError, never>", () => {
    const program = Workflow.run(parallel, { items: ["a"] })
    expectTypeOf(program).toExtend<Effect.Effect<ReadonlyArray<string>, Errors.WorkflowError, never>>()
    expectTypeOf<Effect.Error<typeof program>>().toEqualTypeOf<Errors.WorkflowError>()
    expectTypeOf<Effect.Services<typeof program>>().toEqualTypeOf<never>()
  })

  it("WorkflowError is exactly the union of the seven tags REFERENCE.md lists", () => {
    expectTypeOf<Errors.WorkflowError["_tag"]>().toEqualTypeOf<
      | "WorkflowValidationError"
      | "WorkflowInputError"
      | "WorkflowTimeoutError"
      | "WorkflowStalledError"
      | "UnhandledEventError"
      | "WorkflowCancelledError"
      | "StepTimeoutError"
    >()
  })

  it("Effect.fnUntraced generator handlers (the fast way to write them) are typed like arrow handlers", () => {
    const wf = base
      .step(
        StartEvent,
        Effect.fnUntraced(function* (ev, ctx) {
          expectTypeOf(ev.items).toEqualTypeOf<ReadonlyArray<string>>()
          yield* ctx.store.set("total", ev.items.length)
          yield* ctx.sendAll(ev.items.map((item, index) => new Item({ item, index, total: ev.items.length })))
        }),
        { emits: [Item] }
      )
      .step(
        Item,
        Effect.fnUntraced(function* (ev, ctx) {
          const total = yield* ctx.store.get("total")
          expectTypeOf(total).toEqualTypeOf<number>()
          // @ts-expect-error: no such key in the state
          yield* ctx.store.get("nokey")
          const all = yield* ctx.collect(ev, total)
          if (Option.isNone(all)) return
          if (all.value.length > 9) return yield* new Boom({ reason: "too many" })
          return new StopEvent({ result: all.value.map((i) => i.item) })
        })
      )
    expectTypeOf<Workflow.Workflow.Output<typeof wf>>().toEqualTypeOf<Array<string>>()
    expectTypeOf<Workflow.Workflow.Error<typeof wf>>().toEqualTypeOf<Boom | Errors.UnhandledEventError>()
  })

  it("with emits, returning or sending an event not listed is a type error", () => {
    base.step(Ping, (ev) => Effect.succeed(new Success({ id: ev.n })), { emits: [Success] })
    base.step(Ping, (_, ctx) => ctx.send(new Success({ id: 1 })), { emits: [Success] })
    base.step(Ping, (ev) => Effect.succeed(ev.n > 0 ? new Success({ id: 1 }) : new Failure({ id: 2 })), {
      emits: [Success, Failure]
    })
    // @ts-expect-error: Failure is not in emits
    base.step(Ping, () => Effect.succeed(new Failure({ id: 1 })), { emits: [Success] })
    base.step(
      Ping,
      (_, ctx) =>
        // @ts-expect-error: Failure is not in emits
        ctx.send(new Failure({ id: 1 })),
      { emits: [Success] }
    )
    base.step(Ping, (_, ctx) => ctx.sendAll([new Success({ id: 1 }), new Success({ id: 2 })]), { emits: [Success] })
    base.step(
      Ping,
      (_, ctx) =>
        // @ts-expect-error: Failure is not in emits
        ctx.sendAll([new Success({ id: 1 }), new Failure({ id: 2 })]),
      { emits: [Success] }
    )
    // without emits any event may be returned or sent
    base.step(Ping, (_, ctx) =>
      Effect.andThen(ctx.send(new Failure({ id: 1 })), Effect.succeed(new Success({ id: 1 })))
    )
  })

  it("the store's keys and values are typed by the state schema", () => {
    base.step(StartEvent, (_, ctx) =>
      Effect.gen(function* () {
        expectTypeOf(ctx.store).toEqualTypeOf<
          StepContext<{ readonly total: number; readonly label: string }>["store"]
        >()
        const total = yield* ctx.store.get("total")
        expectTypeOf(total).toEqualTypeOf<number>()
        yield* ctx.store.set("label", "x")
        yield* ctx.store.update("total", (n) => n + 1)
        yield* ctx.store.edit((s) => Effect.succeed({ ...s, total: s.total + 1 }))
        // @ts-expect-error: no such key
        yield* ctx.store.get("nope")
        // @ts-expect-error: wrong value type
        yield* ctx.store.set("total", "one")
        // @ts-expect-error: edit must return the whole state
        yield* ctx.store.edit((s) => Effect.succeed({ total: s.total }))
      })
    )
  })

  it("Workflow.run's input is typed by the input schema", () => {
    const wf = base.step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })))
    Workflow.run(wf, { items: ["a"] })
    wf.pipe(Workflow.run({ items: ["a"] }))
    // @ts-expect-error: items must be strings
    Workflow.run(wf, { items: [1] })
    // @ts-expect-error: items is missing
    Workflow.run(wf, {})
    void (() => {
      // @ts-expect-error: the same check through runPromise
      Workflow.runPromise(wf, { items: "a" })
    })
  })

  it("a transforming input schema: run takes the encoded input, the StartEvent has the decoded fields", () => {
    const wf = defineWorkflow({ input: Schema.Struct({ n: Schema.NumberFromString }) }).step(StartEvent, (ev) => {
      expectTypeOf(ev.n).toEqualTypeOf<number>()
      return Effect.succeed(new StopEvent({ result: ev.n }))
    })
    expectTypeOf(Workflow.run(wf, { n: "1" })).toEqualTypeOf<Effect.Effect<number, Errors.WorkflowError>>()
    // @ts-expect-error: the caller passes the encoded form (a string)
    Workflow.run(wf, { n: 1 })
  })

  it("ctx.collect's result type follows the collected event, or the listed classes", () => {
    base.step([Success, Failure], (ev, ctx) =>
      Effect.gen(function* () {
        const n = yield* ctx.collect(ev, 3)
        expectTypeOf(n).toEqualTypeOf<Option.Option<ReadonlyArray<Success | Failure>>>()
        const listed = yield* ctx.collect(ev, [Success, Failure])
        expectTypeOf(listed).toEqualTypeOf<Option.Option<ReadonlyArray<Success | Failure>>>()
      })
    )
  })

  it("accepting StopEvent is a type error that says why, alone or in a list", () => {
    // @ts-expect-error StopEvent ends the run and is never delivered to a step
    defineWorkflow().step(StopEvent, () => Effect.void)
    // @ts-expect-error StopEvent ends the run and is never delivered to a step
    defineWorkflow().step([Ping, StopEvent], () => Effect.void)
    // The errors above are these, and not some other mistake on the same line:
    expectTypeOf<
      Step.CheckAccepts<typeof StopEvent>
    >().toEqualTypeOf<"StopEvent ends the run and is never delivered to a step: accept the events that lead to it instead">()
    expectTypeOf<Step.CheckAccepts<readonly [typeof Ping, typeof StopEvent]>>().not.toEqualTypeOf<unknown>()
    expectTypeOf<Step.CheckAccepts<readonly [typeof Ping, typeof StartEvent]>>().toEqualTypeOf<unknown>()
    const fine = defineWorkflow().step([StartEvent, Ping], (ev) => Effect.succeed(new StopEvent({ result: ev._tag })))
    expectTypeOf(Workflow.run(fine, {})).toEqualTypeOf<Effect.Effect<"StartEvent" | "Ping", Errors.WorkflowError>>()
  })

  it("a literal workers that cannot be right is a type error; computed values are checked at validation", () => {
    // @ts-expect-error workers must be an integer >= 1
    defineWorkflow().step(StartEvent, () => Effect.void, { workers: 0 })
    // @ts-expect-error workers must be an integer >= 1
    defineWorkflow().step(StartEvent, () => Effect.void, { workers: 2.5 })
    expectTypeOf<Step.CheckWorkers<0>>().toEqualTypeOf<{ readonly "workers must be an integer >= 1": 0 }>()
    expectTypeOf<Step.CheckWorkers<2.5>>().toEqualTypeOf<{ readonly "workers must be an integer >= 1": 2.5 }>()
    expectTypeOf<Step.CheckWorkers<-1>>().toEqualTypeOf<{ readonly "workers must be an integer >= 1": -1 }>()
    expectTypeOf<Step.CheckWorkers<4>>().toEqualTypeOf<unknown>()
    expectTypeOf<Step.CheckWorkers<number>>().toEqualTypeOf<unknown>()
    const n: number = Number("4")
    defineWorkflow().step(StartEvent, () => Effect.void, { workers: n })
    const ok = defineWorkflow().step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })), { workers: 8 })
    expectTypeOf(ok.steps[0]!.workers).toEqualTypeOf<number>()
  })
})
