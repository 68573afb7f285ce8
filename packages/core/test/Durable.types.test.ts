/**
 * Type tests of the durable-run API (`Durable.run`, `start`, `send`, `resume`, `status`, the Promise forms):
 * what each returns, fails with and needs, and the errors a wrong call gets. Checked by `npm run typecheck`
 * (every `@ts-expect-error` must be needed); at run time these only build values.
 */
import { describe, expectTypeOf, it } from "@effect/vitest"
import {
  Durable,
  type DurableError,
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  type RunNotFoundError,
  RunStore,
  type RunStoreError,
  StartEvent,
  StopEvent,
  type WorkflowError
} from "@effect-flow/core"
import { Context, Data, Effect, Layer, Schema, type Scope, type Stream } from "effect"

class Note extends Schema.TaggedClass<Note>()("Note", { text: Schema.String }) {}
class Embedder extends Context.Service<Embedder, { readonly embed: (text: string) => Effect.Effect<number> }>()(
  "test/Embedder"
) {}
class Refused extends Data.TaggedError("Refused")<{ readonly why: string }> {}

const approval = defineWorkflow({ name: "approval", input: Schema.Struct({ amount: Schema.Number }) })
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.write(new Note({ text: `asked for ${ev.amount}` }))
        if (ev.amount < 0) return yield* new Refused({ why: "negative" })
        return new InputRequiredEvent({ prefix: "approve? " })
      }),
    { writes: [Note], emits: [InputRequiredEvent] }
  )
  .step(HumanResponseEvent, (ev) =>
    Effect.gen(function* () {
      yield* Embedder
      return new StopEvent({ result: ev.response === "yes" })
    })
  )

const embedderLayer = Layer.succeed(Embedder, { embed: (text) => Effect.succeed(text.length) })

describe("Durable (types)", () => {
  it("run and resume: the workflow's output, its errors plus WorkflowError and DurableError, its services plus RunStore", () => {
    const run = Durable.run(approval, { amount: 1 }, { runId: "r" })
    expectTypeOf(run).toEqualTypeOf<
      Effect.Effect<
        boolean,
        Refused | WorkflowError.WorkflowError | DurableError.DurableError,
        Embedder | RunStore.RunStore
      >
    >()
    expectTypeOf(Durable.resume(approval, "r")).toEqualTypeOf<typeof run>()
    // @ts-expect-error: the input must match the workflow's input schema (amount is a number)
    Durable.run(approval, { amount: "1" })
    // @ts-expect-error: runId is a string
    Durable.run(approval, { amount: 1 }, { runId: 42 })
  })

  it("start: a scoped handle whose events are what the workflow publishes, with a typed send", () => {
    const started = Durable.start(approval, { amount: 1 }, { runId: "r" })
    type H = Effect.Success<typeof started>
    expectTypeOf<H["runId"]>().toEqualTypeOf<string>()
    expectTypeOf<Effect.Services<typeof started>>().toEqualTypeOf<Embedder | RunStore.RunStore | Scope.Scope>()
    expectTypeOf<Stream.Success<H["events"]>["_tag"]>().toEqualTypeOf<"Note" | "InputRequiredEvent" | "StopEvent">()
    expectTypeOf<Effect.Success<H["result"]>>().toEqualTypeOf<boolean>()
    expectTypeOf<Effect.Error<H["result"]>>().toEqualTypeOf<
      Refused | WorkflowError.WorkflowError | DurableError.DurableError
    >()
    expectTypeOf<Effect.Error<ReturnType<H["send"]>>>().toEqualTypeOf<Durable.SendError>()
    // lifecycle events join when asked for
    const watched = Durable.start(approval, { amount: 1 }, { lifecycle: true })
    expectTypeOf<Stream.Success<Effect.Success<typeof watched>["events"]>["_tag"]>().toExtend<string>()
    expectTypeOf<"StepStarted">().toExtend<Stream.Success<Effect.Success<typeof watched>["events"]>["_tag"]>()
  })

  it("send, status, list: what they need and fail with", () => {
    const sent = Durable.send(approval, "r", new HumanResponseEvent({ response: "yes" }))
    expectTypeOf(sent).toEqualTypeOf<Effect.Effect<void, Durable.SendError, RunStore.RunStore>>()
    expectTypeOf<Durable.SendError>().toEqualTypeOf<
      WorkflowError.UnhandledEventError | WorkflowError.WorkflowValidationError | DurableError.DurableError
    >()
    expectTypeOf(Durable.status("r")).toEqualTypeOf<
      Effect.Effect<Durable.Status, RunNotFoundError | RunStoreError, RunStore.RunStore>
    >()
    expectTypeOf<Durable.Status["status"]>().toEqualTypeOf<RunStore.RunStatus>()
    // @ts-expect-error: "done" is not a status
    Durable.list({ status: "done" })
    // @ts-expect-error: send takes an event, not a plain object
    Durable.send(approval, "r", { response: "yes" })
  })

  it("the Promise forms take the store and the services as one { layer }, and name what is missing", () => {
    const layer = Layer.merge(RunStore.layerMemory, embedderLayer)
    expectTypeOf(() => Durable.runPromise(approval, { amount: 1 }, { layer })).returns.toEqualTypeOf<Promise<boolean>>()
    type PH = Awaited<ReturnType<typeof Durable.startPromise<typeof approval, typeof layer>>>
    expectTypeOf<PH["result"]>().toEqualTypeOf<Promise<boolean>>()
    expectTypeOf<PH["events"]>().toEqualTypeOf<AsyncIterable<Note | InputRequiredEvent | StopEvent<boolean>>>()
    void (() => {
      // @ts-expect-error missing services: pass { layer } with a Layer that provides: Embedder
      Durable.runPromise(approval, { amount: 1 }, { layer: RunStore.layerMemory })
      // @ts-expect-error missing RunStore: pass { layer } with a store
      Durable.runPromise(approval, { amount: 1 }, { layer: embedderLayer })
      // @ts-expect-error missing RunStore (startPromise too)
      Durable.startPromise(approval, { amount: 1 }, { layer: embedderLayer })
      // @ts-expect-error a layer is required: a durable run needs a store
      Durable.runPromise(approval, { amount: 1 })
    })
  })

  it("readEntry takes a run id and an entry's text and gives an Entry, whose kind is t", () => {
    expectTypeOf(Durable.readEntry).toEqualTypeOf<(runId: string, data: string) => Durable.Entry>()
    expectTypeOf<Durable.Entry["t"]>().toEqualTypeOf<string>()
    expectTypeOf<Durable.Entry["i"]>().toEqualTypeOf<string | undefined>()
    expectTypeOf<Durable.Entry["k"]>().toEqualTypeOf<"R" | "F" | "B" | undefined>()
    // @ts-expect-error an entry is read, not written: its fields are readonly
    ;((e: Durable.Entry) => (e.t = "s"))({ t: "x" })
  })
})
