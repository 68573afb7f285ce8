/**
 * `Durable.start` and `Durable.startPromise` of a run the store holds as finished (completed, failed, cancelled,
 * or ended by its own handler's `Effect.interrupt`), each in a store opened anew on a SQLite file, as after a
 * restart: starting gives a handle, as `Workflow.start` does, rather than failing with a stored failure; its
 * `result` is the stored outcome, decoded, as `Durable.run` answers it; its `events` end at once with no event,
 * as the run ended (quietly for a completed or cancelled run, otherwise failing with `result`'s error, as a live
 * handle's events do; a Promise handle's events end quietly); and no handler runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { Durable, defineWorkflow, type RunStore, StartEvent, StopEvent, type Workflow } from "@effect-flow/core"
import { Cause, Effect, Exit, Fiber, Schema, type Scope, Stream } from "effect"
import { SqliteRunStore } from "../src/index.ts"
import { onFile, withFile as withFileIn } from "./fixtures/sqliteFile.ts"

class Boom extends Schema.TaggedError<Boom>()("Boom", { why: Schema.String }) {}
class Approval extends Schema.TaggedClass<Approval>()("Approval", { id: Schema.String, ok: Schema.Boolean }) {}
class AskApproval extends Schema.TaggedClass<AskApproval>()("AskApproval", { id: Schema.String }) {}

const withFile = <A, E>(f: (file: string) => Effect.Effect<A, E>) => withFileIn("durable-stored-start", f)

/** One way a run ends, by a workflow whose handler calls are counted; `cancelOn`: the live handle cancels on it. */
interface Ending {
  readonly status: "completed" | "failed" | "cancelled"
  readonly wf: Workflow.Any
  readonly calls: { n: number }
  readonly cancelOn?: string
}

const endings = (): Record<string, Ending> => {
  const counted = <A, E>(calls: { n: number }, effect: Effect.Effect<A, E>) =>
    Effect.suspend(() => {
      calls.n++
      return effect
    })
  const completed = { n: 0 }
  const failed = { n: 0 }
  const cancelled = { n: 0 }
  const interrupted = { n: 0 }
  return {
    // The result goes through an output schema: a Date stored as text, decoded back to a Date.
    completed: {
      status: "completed",
      calls: completed,
      wf: defineWorkflow({ name: "dated", output: Schema.Struct({ at: Schema.Date }) }).step(
        StartEvent,
        () => counted(completed, Effect.succeed(new StopEvent({ result: { at: new Date(0) } }))),
        { name: "go", emits: [StopEvent] }
      )
    },
    failed: {
      status: "failed",
      calls: failed,
      wf: defineWorkflow({ name: "failing" }).step(
        StartEvent,
        () => counted(failed, Effect.fail(new Boom({ why: "out of stock" }))),
        { name: "go" }
      )
    },
    cancelled: {
      status: "cancelled",
      calls: cancelled,
      cancelOn: "AskApproval",
      wf: defineWorkflow({ name: "approval", outsideInput: [Approval] }).step(
        StartEvent,
        (_, ctx) =>
          counted(
            cancelled,
            Effect.map(
              ctx.waitFor(Approval, { id: "po-1", request: new AskApproval({ id: "po-1" }) }),
              (answer) => new StopEvent({ result: answer.ok })
            )
          ),
        { name: "ask", writes: [AskApproval], emits: [StopEvent] }
      )
    },
    "self-interrupted": {
      status: "failed",
      calls: interrupted,
      wf: defineWorkflow({ name: "self" }).step(StartEvent, () => counted(interrupted, Effect.interrupt), {
        name: "go"
      })
    }
  }
}

/** `Durable.start` and `Durable.run` of any of the workflows above, with its input `{}`. */
const start = (wf: Workflow.Any, runId: string) =>
  Durable.start(wf as any, {}, { runId }) as Effect.Effect<
    Durable.Handle<unknown, unknown>,
    unknown,
    RunStore.RunStore | Scope.Scope
  >
const run = (wf: Workflow.Any, runId: string) =>
  Durable.run(wf as any, {}, { runId }) as Effect.Effect<unknown, unknown, RunStore.RunStore>

/** What a handle gave: its events' tags, how its events ended, and its result. */
interface Watched {
  readonly read: Array<string>
  readonly events: Exit.Exit<void, unknown>
  readonly result: Exit.Exit<unknown, unknown>
}

/** Start `runId` of `wf` and watch its handle to its end, cancelling it on an event tagged `cancelOn`. */
const watch = (
  wf: Workflow.Any,
  runId: string,
  cancelOn?: string
): Effect.Effect<Watched, unknown, RunStore.RunStore> =>
  Effect.scoped(
    Effect.gen(function* () {
      const handle = yield* start(wf, runId)
      const read: Array<string> = []
      const reader = yield* Effect.forkChild(
        Effect.exit(
          Stream.runForEach(handle.events, (ev: any) =>
            Effect.suspend(() => {
              read.push(ev._tag)
              return ev._tag === cancelOn ? handle.cancel : Effect.void
            })
          )
        )
      )
      const result = yield* Effect.exit(handle.result)
      const events = yield* Fiber.join(reader)
      return { read, events, result }
    })
  )

/** An exit as something to compare: the value, "interrupted", or the error's tag and message. */
const ending = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (Exit.isSuccess(exit)) return { value: exit.value }
  if (Cause.hasInterruptsOnly(exit.cause)) return "interrupted"
  const error = Cause.squash(exit.cause) as { _tag?: string; message?: string }
  return { _tag: error._tag, message: error.message }
}

/** Each ending's run, run to its end on `file` through a live handle: what that handle gave. */
const finishAll = (file: string, cases: Record<string, Ending>) =>
  Effect.gen(function* () {
    const live: Record<string, Watched> = {}
    for (const [name, { wf, status, cancelOn }] of Object.entries(cases)) {
      live[name] = yield* onFile(file, watch(wf, name, cancelOn))
      assert.strictEqual((yield* onFile(file, Durable.status(name))).status, status, `${name}: stored`)
    }
    return live
  })

describe("Durable.start of a finished run (SQLite file)", () => {
  it.live(
    "gives a handle whose result is the stored outcome, decoded, and whose events end at once as the run ended; no handler runs",
    () =>
      withFile((file) =>
        Effect.gen(function* () {
          const cases = endings()
          const live = yield* finishAll(file, cases)
          for (const [name, { wf, calls }] of Object.entries(cases)) {
            const ran = calls.n
            assert.strictEqual(ran, 1, `${name}: ran once live`)
            // Before, start itself failed with the stored failure (or the interruption) for all but "completed".
            const stored = yield* Effect.exit(onFile(file, watch(wf, name)))
            assert.isTrue(
              Exit.isSuccess(stored),
              `${name}: start gave a handle, not ${Exit.isFailure(stored) ? Cause.pretty(stored.cause) : ""}`
            )
            const { read, events, result } = (stored as Exit.Success<Watched>).value
            assert.deepStrictEqual(read, [], `${name}: no event`)
            // The result the live handle gave, read back from the store; the events end with it, as live.
            assert.deepStrictEqual(ending(result), ending(live[name]!.result), `${name}: result`)
            assert.deepStrictEqual(ending(events), ending(live[name]!.events), `${name}: events, as live`)
            // A cancel ends the events quietly (as Workflow.start's cancel does), though `result` fails.
            assert.deepStrictEqual(
              ending(events),
              Exit.isSuccess(result) || name === "cancelled" ? { value: undefined } : ending(result),
              `${name}: events end as result does, but for a cancel`
            )
            assert.strictEqual(calls.n, ran, `${name}: no handler ran again`)
          }
        })
      ),
    30_000
  )

  it.live("the stored outcome is what Durable.run answers: a decoded result, the stored error's fields", () =>
    withFile((file) =>
      Effect.gen(function* () {
        const cases = endings()
        yield* finishAll(file, cases)
        const handleOf = (name: string) =>
          onFile(
            file,
            Effect.scoped(Effect.flatMap(start(cases[name]!.wf, name), (handle) => Effect.exit(handle.result)))
          )
        const completed = yield* handleOf("completed")
        assert.isTrue(Exit.isSuccess(completed))
        const at = (completed as Exit.Success<{ at: Date }>).value.at
        assert.instanceOf(at, Date, "decoded with the output schema")
        assert.strictEqual(at.getTime(), 0)
        const failed = yield* handleOf("failed")
        assert.isTrue(Exit.isFailure(failed))
        const error = Cause.squash((failed as Exit.Failure<unknown, unknown>).cause)
        assert.instanceOf(error, Durable.StoredFailure)
        assert.strictEqual((error as { _tag?: string })._tag, "Boom")
        assert.strictEqual((error as { why?: string }).why, "out of stock")
        const byRun = yield* Effect.flip(onFile(file, run(cases.failed!.wf, "failed")))
        assert.deepStrictEqual({ ...(error as object) }, { ...(byRun as object) }, "as Durable.run answers it")
        const cancelled = yield* handleOf("cancelled")
        assert.isTrue(Exit.isFailure(cancelled))
        const cancel = Cause.squash((cancelled as Exit.Failure<unknown, unknown>).cause) as {
          _tag?: string
          by?: string
        }
        assert.strictEqual(cancel._tag, "WorkflowCancelledError")
        assert.strictEqual(cancel.by, "cancel()")
      })
    )
  )
})

describe("Durable.startPromise of a finished run (SQLite file)", () => {
  it.live(
    "resolves with a handle whose result settles as Durable.runPromise does and whose events end at once; no handler runs",
    () =>
      withFile((file) =>
        Effect.gen(function* () {
          const cases = endings()
          yield* finishAll(file, cases)
          const settled = (promise: Promise<unknown>) =>
            promise.then(
              (value) => ({ value }),
              (error: unknown) => ({ error })
            )
          for (const [name, { wf, calls }] of Object.entries(cases)) {
            const ran = calls.n
            const layer = SqliteRunStore.layer({ filename: file })
            const { expected, started } = yield* Effect.promise(async () => ({
              expected: await settled(Durable.runPromise(wf as any, {}, { runId: name, layer })),
              // Before, startPromise itself rejected with the stored failure for all but "completed".
              started: await settled(Durable.startPromise(wf as any, {}, { runId: name, layer }))
            }))
            assert.notProperty(started, "error", `${name}: startPromise resolved with a handle`)
            const handle = (started as { value: Workflow.PromiseHandle<unknown> }).value
            const { result, read } = yield* Effect.promise(async () => {
              const read: Array<string> = []
              for await (const ev of handle.events) read.push(ev._tag)
              return { read, result: await settled(handle.result) }
            })
            assert.deepStrictEqual(read, [], `${name}: no event, and the events ended`)
            if ("value" in expected) {
              assert.deepStrictEqual(result, expected, `${name}: resolves as runPromise does`)
            } else {
              assert.property(result, "error", `${name}: rejects as runPromise does`)
              const [got, want] = [(result as { error: Error }).error, expected.error as Error]
              assert.strictEqual(got.constructor, want.constructor, name)
              assert.strictEqual(got.message, want.message, name)
              assert.strictEqual((got as { _tag?: string })._tag, (want as { _tag?: string })._tag, name)
            }
            assert.strictEqual(calls.n, ran, `${name}: no handler ran again`)
          }
        })
      ),
    30_000
  )
})
