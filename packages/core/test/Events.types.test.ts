/**
 * Type tests of the run's event stream type (`writes`, `InputRequiredEvent`, lifecycle events, the StopEvent)
 * and of Promise code with services (`{ layer }`), checked by `npm run typecheck` (every `@ts-expect-error`
 * must be needed). At run time these only build values; the checking is tsc's.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import {
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  type RunEvent,
  StartEvent,
  Step,
  StopEvent,
  Workflow
} from "@effect-flow/core"
import { Context, Effect, Layer, ManagedRuntime, Schema, Stream } from "effect"

class Progress extends Schema.TaggedClass<Progress>()("Progress", { done: Schema.Number }) {}
class Note extends Schema.TaggedClass<Note>()("Note", { text: Schema.String }) {}
class Approval extends Schema.TaggedClass<Approval>()("Approval", { id: Schema.String, ok: Schema.Boolean }) {}
class AskApproval extends Schema.TaggedClass<AskApproval>()("AskApproval", { id: Schema.String }) {}
class Embedder extends Context.Service<Embedder, { readonly embed: (text: string) => Effect.Effect<number> }>()(
  "test/Embedder"
) {}
class Clock2 extends Context.Service<Clock2, { readonly now: Effect.Effect<number> }>()("test/Clock2") {}

const writing = defineWorkflow({ name: "writing", input: Schema.Struct({ n: Schema.Number }) })
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.write(new Progress({ done: ev.n }))
        return new InputRequiredEvent({ prefix: "go on? " })
      }),
    { writes: [Progress], emits: [InputRequiredEvent] }
  )
  .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.response.length })))

describe("event stream types", () => {
  it("the union of writes, InputRequiredEvent and the StopEvent of the output; _tag narrows", () => {
    type Events = Workflow.Workflow.Events<typeof writing>
    expectTypeOf<Events>().toEqualTypeOf<Progress | InputRequiredEvent | StopEvent<number>>()
    const events = Workflow.stream(writing, { n: 1 })
    expectTypeOf<Stream.Success<typeof events>>().toEqualTypeOf<Progress | InputRequiredEvent | StopEvent<number>>()
    Stream.runForEach(events, (ev) => {
      switch (ev._tag) {
        case "Progress":
          expectTypeOf(ev.done).toEqualTypeOf<number>()
          break
        case "InputRequiredEvent":
          expectTypeOf(ev.prefix).toEqualTypeOf<string>()
          break
        case "StopEvent":
          expectTypeOf(ev.result).toEqualTypeOf<number>()
          break
        default:
          expectTypeOf(ev).toBeNever()
      }
      return Effect.void
    })
  })

  it("lifecycle events join when asked for, also on a handle", () => {
    const withLifecycle = Workflow.stream(writing, { n: 1 }, { lifecycle: true })
    expectTypeOf<Stream.Success<typeof withLifecycle>>().toEqualTypeOf<
      Progress | InputRequiredEvent | StopEvent<number> | RunEvent.Lifecycle
    >()
    const without = Workflow.stream(writing, { n: 1 }, { lifecycle: false })
    expectTypeOf<Stream.Success<typeof without>>().toEqualTypeOf<Progress | InputRequiredEvent | StopEvent<number>>()
    // Options only known as WatchOptions may turn lifecycle events on: they are in the type.
    const options: Workflow.WatchOptions = {}
    const maybe = Workflow.stream(writing, { n: 1 }, options)
    expectTypeOf<Stream.Success<typeof maybe>>().toEqualTypeOf<
      Progress | InputRequiredEvent | StopEvent<number> | RunEvent.Lifecycle
    >()
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Workflow.start(writing, { n: 1 }, { lifecycle: true })
        expectTypeOf<Stream.Success<typeof handle.events>>().toEqualTypeOf<
          Progress | InputRequiredEvent | StopEvent<number> | RunEvent.Lifecycle
        >()
        expectTypeOf(handle.waiting).toEqualTypeOf<Effect.Effect<boolean>>()
      })
    )
  })

  it("the Promise handle's events are typed the same way", () => {
    // Never called: the run would wait for input. Only its types are checked.
    const consume = async () => {
      const handle = await Workflow.startPromise(writing, { n: 1 })
      for await (const ev of handle.events) {
        if (ev._tag === "InputRequiredEvent") expectTypeOf(ev.prefix).toEqualTypeOf<string>()
        expectTypeOf(ev).toEqualTypeOf<Progress | InputRequiredEvent | StopEvent<number>>()
      }
      return handle.result
    }
    expectTypeOf(consume).returns.toEqualTypeOf<Promise<number>>()
  })

  it("ctx.write is checked against writes when declared", () => {
    defineWorkflow().step(
      StartEvent,
      (_, ctx) =>
        Effect.gen(function* () {
          // @ts-expect-error Note is not among the step's writes
          yield* ctx.write(new Note({ text: "x" }))
        }),
      { writes: [Progress] }
    )
  })

  it("a step that writes without declaring writes widens the stream to any event; one that does not write does not", () => {
    const silent = defineWorkflow().step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })))
    expectTypeOf<Workflow.Workflow.Events<typeof silent>>().toEqualTypeOf<StopEvent<number>>()
    const loud = silent.step(Progress, (ev, ctx) => ctx.write(new Note({ text: String(ev.done) })))
    expectTypeOf<Workflow.Workflow.Published<typeof loud>>().toEqualTypeOf<{ readonly _tag: string }>()
    // The marker that saw the write is not a service: nothing is left to provide.
    expectTypeOf<Workflow.Workflow.Services<typeof loud>>().toEqualTypeOf<never>()
  })

  it("a waitFor request must be among writes when declared, and joins the stream through them", () => {
    const wf = defineWorkflow()
      .step(
        StartEvent,
        (_, ctx) =>
          Effect.gen(function* () {
            const answer = yield* ctx.waitFor(Approval, { request: new AskApproval({ id: "a" }), id: "a" })
            return new StopEvent({ result: answer.ok })
          }),
        { writes: [AskApproval] }
      )
      .step(
        Progress,
        (_, ctx) =>
          Effect.gen(function* () {
            // @ts-expect-error the request is not among the step's writes
            yield* ctx.waitFor(Approval, { request: new AskApproval({ id: "b" }) })
          }),
        { writes: [Note] }
      )
    expectTypeOf<Workflow.Workflow.Events<typeof wf>>().toEqualTypeOf<AskApproval | Note | StopEvent<boolean>>()
    const undeclared = defineWorkflow().step(StartEvent, (_, ctx) =>
      Effect.map(ctx.waitFor(Approval, { request: new AskApproval({ id: "a" }) }), (a) => new StopEvent({ result: a }))
    )
    expectTypeOf<Workflow.Workflow.Published<typeof undeclared>>().toEqualTypeOf<{ readonly _tag: string }>()
    expectTypeOf<Workflow.Workflow.Services<typeof undeclared>>().toEqualTypeOf<never>()
  })

  it("generator-function handlers type writes the same way", () => {
    const declared = defineWorkflow().step(
      StartEvent,
      function* (_, ctx) {
        yield* ctx.write(new Progress({ done: 1 }))
        return new StopEvent({ result: "ok" })
      },
      { writes: [Progress] }
    )
    expectTypeOf<Workflow.Workflow.Events<typeof declared>>().toEqualTypeOf<Progress | StopEvent<string>>()
    const undeclared = defineWorkflow().step(StartEvent, function* (_, ctx) {
      yield* ctx.write(new Note({ text: "x" }))
    })
    expectTypeOf<Workflow.Workflow.Published<typeof undeclared>>().toEqualTypeOf<{ readonly _tag: string }>()
    expectTypeOf<Workflow.Workflow.Services<typeof undeclared>>().toEqualTypeOf<never>()
  })

  it("Step.make records writes too", () => {
    const report = Step.make(Progress, (ev, ctx) => ctx.write(new Note({ text: `${ev.done}` })), { writes: [Note] })
    const wf = defineWorkflow()
      .step(StartEvent, () => Effect.succeed(new Progress({ done: 1 })), { emits: [Progress] })
      .step(report)
    expectTypeOf<Workflow.Workflow.Published<typeof wf>>().toEqualTypeOf<Note>()
  })
})

const needs = defineWorkflow({ name: "needs", input: Schema.Struct({ text: Schema.String }) }).step(StartEvent, (ev) =>
  Effect.gen(function* () {
    const embedder = yield* Embedder
    return new StopEvent({ result: yield* embedder.embed(ev.text) })
  })
)
const needsTwo = needs.step(Progress, () => Effect.asVoid(Clock2))
const embedderLayer = Layer.succeed(Embedder, { embed: (text) => Effect.succeed(text.length) })

describe("Promise code with services", () => {
  it("runPromise and startPromise take the services as { layer }: a Layer or a ManagedRuntime", () => {
    expectTypeOf(Workflow.runPromise(needs, { text: "a" }, { layer: embedderLayer })).toEqualTypeOf<Promise<number>>()
    const runtime = ManagedRuntime.make(embedderLayer)
    expectTypeOf(Workflow.runPromise(needs, { text: "a" }, { layer: runtime })).toEqualTypeOf<Promise<number>>()
    expectTypeOf(Workflow.startPromise(needs, { text: "a" }, { layer: embedderLayer })).toEqualTypeOf<
      Promise<Workflow.PromiseHandle<number, StopEvent<number>>>
    >()
  })

  it("a forgotten layer is a compile error naming the missing service", () => {
    // Never called: only the compile errors are checked.
    const forgotten = () => {
      // @ts-expect-error missing services: pass { layer } with a Layer that provides: Embedder
      Workflow.runPromise(needs, { text: "a" })
      // @ts-expect-error missing services: ... Clock2 (the layer provides Embedder only)
      Workflow.runPromise(needsTwo, { text: "a" }, { layer: embedderLayer })
      // @ts-expect-error missing services: ... Embedder
      Workflow.startPromise(needs, { text: "a" })
    }
    expectTypeOf(forgotten).toBeFunction()
    expectTypeOf<Workflow.ProvidesServices<typeof needsTwo, typeof embedderLayer>>().toEqualTypeOf<{
      readonly "missing services: pass { layer } with a Layer that provides": Clock2
    }>()
  })
})
