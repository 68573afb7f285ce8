/**
 * `Distributed.start`'s handle, in one process on effect's TestRunner (no database) with runs journaled in an
 * in-memory RunStore: its `events` end as `Durable.start`'s (and `Workflow.start`'s) do for each way a run
 * ends (completed and cancelled quietly, failed with the error `result` fails with, self-interrupted with the
 * interruption), live and for a finished `runId`; and its `Events` request, which says `started: true`, still
 * gets the run's events when it reaches the run's entity before the run is stored, where a request without
 * the flag fails with `RunNotFoundError`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Distributed, RunFailedError } from "@effect-flow/cluster"
import {
  Durable,
  defineWorkflow,
  RunNotFoundError,
  RunStore,
  StartEvent,
  StopEvent,
  type Workflow
} from "@effect-flow/core"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
import { TestRunner } from "effect/cluster"

class Note extends Schema.TaggedClass<Note>()("Note", { n: Schema.Number }) {}
class Approval extends Schema.TaggedClass<Approval>()("Approval", { ok: Schema.Boolean }) {}
class AskApproval extends Schema.TaggedClass<AskApproval>()("AskApproval", { id: Schema.String }) {}
class Boom extends Schema.TaggedError<Boom>()("Boom", { why: Schema.String }) {}

/** One workflow per way a run ends (as core's DurableStart test); each writes a Note first. */
const endings = {
  completed: defineWorkflow({ name: "start-completes" }).step(
    StartEvent,
    (_, ctx) => Effect.as(ctx.write(new Note({ n: 1 })), new StopEvent({ result: 1 })),
    { name: "go", writes: [Note], emits: [StopEvent] }
  ),
  failed: defineWorkflow({ name: "start-fails" }).step(
    StartEvent,
    (_, ctx) => Effect.andThen(ctx.write(new Note({ n: 1 })), Effect.fail(new Boom({ why: "no" }))),
    { name: "go", writes: [Note] }
  ),
  // Asks for an approval it never gets: the watcher cancels it once it reads the request.
  cancelled: defineWorkflow({ name: "start-cancelled", outsideInput: [Approval] }).step(
    StartEvent,
    (_, ctx) =>
      Effect.andThen(
        ctx.write(new Note({ n: 1 })),
        Effect.as(
          ctx.waitFor(Approval, { id: "c", request: new AskApproval({ id: "c" }) }),
          new StopEvent({ result: 0 })
        )
      ),
    { name: "ask", writes: [Note, AskApproval], emits: [StopEvent] }
  ),
  "self-interrupted": defineWorkflow({ name: "start-self" }).step(
    StartEvent,
    (_, ctx) => Effect.andThen(ctx.write(new Note({ n: 1 })), Effect.interrupt),
    { name: "go", writes: [Note] }
  )
}

/** The store said it does not know a run (`get` failed with `RunNotFoundError`), by runId: done the first time. */
const missing = new Map<string, Deferred.Deferred<void>>()
const missingFact = (runId: string) => {
  let fact = missing.get(runId)
  if (fact === undefined) {
    fact = Deferred.makeUnsafe<void>()
    missing.set(runId, fact)
  }
  return fact
}

/** The memory store, telling `missingFact` when a `get` finds no such run. */
const observedStore = Layer.effect(
  RunStore.RunStore,
  Effect.map(
    RunStore.makeMemory,
    (store): RunStore.Shape => ({
      ...store,
      get: (runId) =>
        Effect.tapError(store.get(runId), (error) =>
          error._tag === "RunNotFoundError" ? Deferred.succeed(missingFact(runId), undefined) : Effect.void
        )
    })
  )
)

const runner = Distributed.layer({ workflows: Object.values(endings) }).pipe(
  Layer.provideMerge(observedStore),
  Layer.provideMerge(TestRunner.layer)
)

/** How an Exit ended: the value, "interrupted", or the error. */
const endOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isSuccess(exit)
    ? { value: exit.value }
    : Cause.hasInterruptsOnly(exit.cause)
      ? "interrupted"
      : { error: Cause.squash(exit.cause) }

/** An end with its error named by the handler's tag (a `RunFailedError`'s `tag`: the class stays on the runner). */
const kindOf = (end: unknown): unknown => {
  if (typeof end !== "object" || end === null || !("error" in end)) return end
  const error = end.error as { readonly _tag: string; readonly tag?: string }
  return { error: error._tag === "RunFailedError" ? error.tag : error._tag }
}

/** A handle's events (tags, then how the stream ended) and result, cancelling it once it asks for an approval. */
const watched = (handle: {
  readonly events: Stream.Stream<{ readonly _tag: string }, unknown>
  readonly result: Effect.Effect<unknown, unknown>
  readonly cancel: Effect.Effect<void, unknown>
}) =>
  Effect.gen(function* () {
    const read: Array<string> = []
    const reader = yield* Effect.forkChild(
      Effect.exit(
        Stream.runForEach(handle.events, (ev) =>
          Effect.suspend(() => {
            read.push(ev._tag)
            return ev._tag === "AskApproval" ? handle.cancel : Effect.void
          })
        )
      )
    )
    const result = endOf(yield* Effect.exit(handle.result))
    // Bounded: a stream that never settles is a bug too.
    const events = yield* Effect.timeoutOption(Fiber.join(reader), "10 seconds")
    assert.isTrue(Option.isSome(events), "the events stream settled")
    return { read, events: endOf(Option.getOrThrow(events)), result }
  })

describe("Distributed.start's events end as Durable.start's do", () => {
  it.live(
    "completed: quietly after the StopEvent; failed: with the error result fails with; cancelled: quietly; self-interrupted: with the interruption; live and for a finished runId",
    () =>
      Effect.gen(function* () {
        const expected = {
          completed: { events: { value: undefined }, result: { value: 1 } },
          failed: { events: { error: "Boom" }, result: { error: "Boom" } },
          cancelled: { events: { value: undefined }, result: { error: "WorkflowCancelledError" } },
          "self-interrupted": { events: "interrupted", result: "interrupted" }
        }
        for (const [name, wf] of Object.entries(endings) as Array<[keyof typeof endings, Workflow.Any]>) {
          const durable = yield* Effect.scoped(
            Effect.flatMap(Durable.start(wf, {}, { runId: `durable-${name}` }), watched)
          )
          assert.deepStrictEqual(
            { events: kindOf(durable.events), result: kindOf(durable.result) },
            expected[name],
            `${name}: Durable.start`
          )
          for (const when of ["live", "finished runId"]) {
            const distributed = yield* Effect.flatMap(
              Distributed.start(wf, {}, { runId: `distributed-${name}` }),
              watched
            )
            const what = `${name}, ${when}`
            // Before, the events ended quietly whatever the end: failed and self-interrupted too.
            assert.deepStrictEqual(
              { events: kindOf(distributed.events), result: kindOf(distributed.result) },
              expected[name],
              `${what}: Distributed.start as Durable.start`
            )
            // A finished runId's entity still in memory serves what its run published (a late subscriber's past).
            if (when === "live") assert.deepStrictEqual(distributed.read, durable.read, `${what}: the events read`)
            if (name === "failed") {
              // Typed, as result's error: the handler's class stays on the runner.
              const error = (distributed.events as { readonly error: unknown }).error
              assert.instanceOf(error, RunFailedError, what)
              assert.deepStrictEqual(error, (distributed.result as { readonly error: unknown }).error, what)
            }
          }
        }
      }).pipe(Effect.provide(runner)),
    30_000
  )
})

describe("Distributed.start's Events request before its run is stored", () => {
  it.live(
    "with started: true it waits for the run and gets its events once the Run message stores and runs it; without the flag it fails at once with RunNotFoundError",
    () =>
      Effect.gen(function* () {
        const wf = endings.completed
        const client = yield* Distributed.RunEntity.client
        // Without the flag: a runId the store does not know is a wrong one.
        const unknown = yield* Effect.timeoutOption(
          Effect.exit(Stream.runCollect(client("early-0").Events({ workflow: wf.name }))),
          "10 seconds"
        )
        assert.isTrue(Option.isSome(unknown), "the subscriber without the flag did not wait for ever")
        const failed = Option.getOrThrow(unknown)
        assert.isTrue(Exit.isFailure(failed))
        if (Exit.isFailure(failed)) assert.instanceOf(Cause.squash(failed.cause), RunNotFoundError)
        // With it (as Distributed.start's handle sends it), before the run's Run message was even sent.
        const following = yield* Effect.forkChild(
          Effect.exit(Stream.runCollect(client("early-1").Events({ workflow: wf.name, started: true })))
        )
        // The subscriber asked the store about its run, which does not know it yet.
        yield* Deferred.await(missingFact("early-1"))
        assert.strictEqual(yield* client("early-1").Run({ workflow: wf.name, input: "{}" }), "1")
        const exit = yield* Effect.timeoutOption(Fiber.join(following), "10 seconds")
        assert.isTrue(Option.isSome(exit), "the subscriber settled")
        const settled = Option.getOrThrow(exit)
        assert.isTrue(
          Exit.isSuccess(settled),
          `the subscriber got its run's events: ${Exit.isFailure(settled) ? Cause.pretty(settled.cause) : ""}`
        )
        if (Exit.isSuccess(settled)) {
          const tags = settled.value.map((item) => (JSON.parse(item.t) as { readonly _tag: string })._tag)
          assert.deepStrictEqual(tags, ["Note", "StopEvent"])
        }
      }).pipe(Effect.provide(runner)),
    30_000
  )
})
