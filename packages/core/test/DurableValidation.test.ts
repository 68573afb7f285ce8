import { assert, describe, it } from "@effect/vitest"
import {
  Durable,
  defineWorkflow,
  Event,
  RunStore,
  RunStoreError,
  StartEvent,
  StopEvent,
  Workflow,
  WorkflowValidationError
} from "@effect-flow/core"
import { Effect, Schema } from "effect"

/** A plain class with a static tag: an event class for the engine, but nothing a resume could rebuild. */
class PlainEvent {
  static readonly _tag = "PlainEvent"
  readonly _tag = "PlainEvent"
  readonly when: Date
  constructor(when: Date) {
    this.when = when
  }
}
class Stamp extends Event.TaggedData("Stamp")<{ readonly at: Date }> {}
class Note extends Event.TaggedData("Note")<{ readonly text: string }> {}

const journalProblem = (error: unknown) => {
  assert.instanceOf(error, WorkflowValidationError)
  const problems = (error as WorkflowValidationError).problems
  assert.isTrue(
    problems.some((p) => p.check === "journal"),
    problems.map((p) => p.message).join("\n")
  )
  return problems.filter((p) => p.check === "journal")
}

describe("Durable: what cannot be journaled", () => {
  it.effect(
    "an event class that is neither a Schema.TaggedClass nor Event.TaggedData: a journal problem naming it, before any handler runs or the run is stored",
    () =>
      Effect.gen(function* () {
        let calls = 0
        const wf = defineWorkflow({ name: "plain" })
          .step(
            StartEvent,
            () =>
              Effect.sync(() => {
                calls++
                return new PlainEvent(new Date(0)) as never
              }),
            { name: "make", emits: [PlainEvent as never] }
          )
          .step(PlainEvent as never, () => Effect.succeed(new StopEvent({ result: 1 })), {
            name: "use",
            emits: [StopEvent]
          })
        const error = yield* Effect.flip(Durable.run(wf, {}, { runId: "plain-1" }))
        const [problem] = journalProblem(error)
        assert.include(problem!.message, "event PlainEvent is neither a Schema.TaggedClass nor an Event.TaggedData")
        assert.deepStrictEqual(problem!.events, ["PlainEvent"])
        assert.strictEqual(calls, 0)
        const missing = yield* Effect.flip(Durable.status("plain-1"))
        assert.strictEqual(missing._tag, "RunNotFoundError")
        // the same workflow runs in memory: only durability needs it
        assert.strictEqual(yield* Workflow.run(wf, {}), 1)
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "an Event.TaggedData event whose fields JSON cannot hold fails the run with a journal problem naming it",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "stamps" })
          .step(StartEvent, () => Effect.succeed(new Stamp({ at: new Date(0) })), { name: "stamp", emits: [Stamp] })
          .step(Stamp, () => Effect.succeed(new StopEvent({ result: "ok" })), { name: "done", emits: [StopEvent] })
        const error = yield* Effect.flip(Durable.run(wf, {}, { runId: "stamps-1" }))
        const [problem] = journalProblem(error)
        assert.match(problem!.message, /event Stamp cannot be journaled as JSON: at is a Date/)
        // JSON-holdable TaggedData is fine
        const ok = defineWorkflow({ name: "notes" })
          .step(StartEvent, () => Effect.succeed(new Note({ text: "hi" })), { name: "note", emits: [Note] })
          .step(Note, (ev) => Effect.succeed(new StopEvent({ result: ev.text })), { name: "done", emits: [StopEvent] })
        assert.strictEqual(yield* Durable.run(ok, {}, { runId: "notes-1" }), "hi")
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("a state that does not encode with its schema fails the run with a journal problem naming the step", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({
        name: "counter",
        state: Schema.Struct({ n: Schema.Number }),
        initialState: { n: 0 }
      }).step(
        StartEvent,
        (_, ctx) =>
          Effect.gen(function* () {
            yield* ctx.store.set("n", "many" as never)
            return new StopEvent({ result: "set" })
          }),
        { name: "count", emits: [StopEvent] }
      )
      const error = yield* Effect.flip(Durable.run(wf, {}, { runId: "counter-1" }))
      const [problem] = journalProblem(error)
      assert.include(problem!.message, 'the state after ctx.store.set in step "count"')
      assert.strictEqual((yield* Durable.status("counter-1")).status, "failed")
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("an initialState JSON cannot hold (no state schema): a journal problem before the run starts", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "mapped", initialState: { seen: new Map<string, number>() } }).step(
        StartEvent,
        () => Effect.succeed(new StopEvent({ result: 1 })),
        { name: "go", emits: [StopEvent] }
      )
      const error = yield* Effect.flip(Durable.run(wf, {}, { runId: "mapped-1" }))
      const [problem] = journalProblem(error)
      assert.match(problem!.message, /the initialState cannot be journaled: .*seen is a Map/)
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "a result JSON cannot hold, without an output schema: the run fails with RunStoreError and is stored as failed",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "dated" }).step(
          StartEvent,
          () => Effect.succeed(new StopEvent({ result: { at: new Date(0) } })),
          { name: "go", emits: [StopEvent] }
        )
        const error = yield* Effect.flip(Durable.run(wf, {}, { runId: "dated-1" }))
        assert.instanceOf(error, RunStoreError)
        assert.match((error as RunStoreError).message, /the result cannot be held as JSON: .*at is a Date/)
        const status = yield* Durable.status("dated-1")
        assert.strictEqual(status.status, "failed")
        assert.strictEqual(JSON.parse(status.error!)._tag, "RunStoreError")
        // with an output schema, the same result is encoded by it
        const withSchema = defineWorkflow({
          name: "dated-schema",
          output: Schema.Struct({ at: Schema.Date })
        }).step(StartEvent, () => Effect.succeed(new StopEvent({ result: { at: new Date(0) } })), {
          name: "go",
          emits: [StopEvent]
        })
        const result = yield* Durable.run(withSchema, {}, { runId: "dated-2" })
        assert.strictEqual(result.at.getTime(), 0)
        assert.deepStrictEqual(JSON.parse((yield* Durable.status("dated-2")).result!), {
          at: "1970-01-01T00:00:00.000Z"
        })
        // its stored outcome decodes back to a Date
        const again = yield* Durable.run(withSchema, {}, { runId: "dated-2" })
        assert.instanceOf(again.at, Date)
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("a finished run compacted to its outcome still answers with it; its journal and inbox are gone", () =>
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const wf = defineWorkflow({ name: "notes" })
        .step(StartEvent, () => Effect.succeed(new Note({ text: "kept" })), { name: "note", emits: [Note] })
        .step(Note, (ev) => Effect.succeed(new StopEvent({ result: ev.text })), { name: "done", emits: [StopEvent] })
      assert.strictEqual(yield* Durable.run(wf, {}, { runId: "compact-1" }), "kept")
      assert.isAbove((yield* store.readJournal("compact-1")).length, 0)
      assert.isTrue(yield* store.compact("compact-1"))
      assert.strictEqual((yield* store.readJournal("compact-1")).length, 0)
      assert.strictEqual(yield* Durable.run(wf, {}, { runId: "compact-1" }), "kept")
      assert.strictEqual(yield* Durable.resume(wf, "compact-1"), "kept")
      assert.strictEqual((yield* Durable.status("compact-1")).status, "completed")
    }).pipe(Effect.provide(RunStore.layerMemory))
  )
})
