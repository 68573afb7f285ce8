/**
 * `Distributed.start`'s handle, in one process on effect's TestRunner (no database) with runs journaled in an
 * in-memory RunStore: its `events` end as `Durable.start`'s (and `Workflow.start`'s) do for each way a run
 * ends (completed and cancelled quietly, failed with the error `result` fails with, self-interrupted with the
 * interruption), live and for a finished `runId`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Distributed, RunFailedError } from "@effect-flow/cluster"
import { Durable, defineWorkflow, RunStore, StartEvent, StopEvent, type Workflow } from "@effect-flow/core"
import { Cause, Effect, Exit, Fiber, Layer, Option, Schema, Stream } from "effect"
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

const runner = Distributed.layer({ workflows: Object.values(endings) }).pipe(
  Layer.provideMerge(RunStore.layerMemory),
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
