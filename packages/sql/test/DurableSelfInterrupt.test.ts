/**
 * A durable run whose handler interrupts itself (`Effect.interrupt`), on a SQLite file: the run is over, stored
 * as failed with that interruption, and answered from the store afterwards (by `Durable.run`, `Durable.resume`
 * and a `Durable.start` handle, each in a store opened anew, as after a restart) without running a handler again. An
 * interruption from outside (the handle's scope closing, the fiber running `Durable.run` interrupted) still
 * records nothing: the run stays unfinished and a resume runs it on.
 */
import { assert, describe, it } from "@effect/vitest"
import { Durable, defineWorkflow, RunStore, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Cause, Effect, Exit, Fiber, Schema, Scope, Stream } from "effect"
import { onFile, withFile as withFileIn } from "./fixtures/sqliteFile.ts"

class Item extends Schema.TaggedClass<Item>()("Item", { n: Schema.Number }) {}
class Note extends Schema.TaggedClass<Note>()("Note", { n: Schema.Number }) {}

const interrupted = (exit: Exit.Exit<unknown, unknown>) => Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)

const withFile = <A, E>(f: (file: string) => Effect.Effect<A, E>) => withFileIn("durable-self-interrupt", f)

/** Workflows whose handler interrupts itself, in each way the engine runs a handler; `calls` counts handler calls. */
const selfInterrupting = (calls: { n: number }) => ({
  "an arrow returning Effect.interrupt": defineWorkflow({ name: "self" }).step(StartEvent, () =>
    Effect.suspend(() => {
      calls.n++
      return Effect.interrupt
    })
  ),
  "a function* yielding Effect.interrupt": defineWorkflow({ name: "self" }).step(StartEvent, function* () {
    calls.n++
    yield* Effect.interrupt
    return new StopEvent({ result: 1 })
  }),
  "a worker fiber, after a sleep and a write": defineWorkflow({ name: "self" })
    .step(StartEvent, (_, ctx) => ctx.sendAll([new Item({ n: 1 }), new Item({ n: 2 })]), { emits: [Item] })
    .step(
      Item,
      (ev, ctx) =>
        Effect.suspend(() => {
          calls.n++
          return ev.n === 1
            ? Effect.andThen(Effect.andThen(Effect.sleep("20 millis"), ctx.write(new Note({ n: 1 }))), Effect.interrupt)
            : Effect.never
        }),
      { workers: 2, writes: [Note] }
    )
})

/** A handle's events (their tags, then how the stream ended) and its result, each as an Exit. */
const watch = (
  wf: Workflow.Any,
  runId: string
): Effect.Effect<
  { read: Array<string>; events: Exit.Exit<void, unknown>; result: Exit.Exit<unknown, unknown> },
  unknown,
  RunStore.RunStore
> =>
  Effect.scoped(
    Effect.gen(function* () {
      const handle = yield* Durable.start(wf as any, {}, { runId })
      const read: Array<string> = []
      const reader = yield* Effect.forkChild(
        Effect.exit(Stream.runForEach(handle.events, (ev: any) => Effect.sync(() => read.push(ev._tag))))
      )
      const result = yield* Effect.exit(handle.result)
      const events = yield* Fiber.join(reader)
      return { read, events, result }
    })
  ) as any

describe("Durable: a run whose handler interrupts itself (SQLite file)", () => {
  it.live(
    "ends interrupted, as Workflow.run does, and is stored as failed: a resume, a run and a start by its runId answer it from the store without running a handler",
    () =>
      withFile((file) =>
        Effect.gen(function* () {
          const calls = { n: 0 }
          for (const [shape, wf] of Object.entries(selfInterrupting(calls))) {
            const runId = `self-${shape.split(" ")[1]}`
            const inMemory = yield* Effect.exit(Workflow.run(wf, {}))
            assert.isTrue(interrupted(inMemory), `${shape}: Workflow.run`)
            calls.n = 0
            const first = yield* Effect.exit(onFile(file, Durable.run(wf, {}, { runId })))
            assert.isTrue(
              interrupted(first),
              `${shape}: Durable.run ended with ${Exit.isFailure(first) ? Cause.pretty(first.cause) : "success"}`
            )
            const ran = calls.n
            assert.isAtLeast(ran, 1, shape)
            // Before, nothing was stored: the run stayed "running", and a restart ran it (and its interrupt) again.
            const status = yield* onFile(file, Durable.status(runId))
            assert.strictEqual(status.status, "failed", shape)
            assert.strictEqual(JSON.parse(status.error!)._tag, "Interrupt", shape)
            const resumed = yield* Effect.exit(onFile(file, Durable.resume(wf, runId)))
            assert.isTrue(interrupted(resumed), `${shape}: Durable.resume`)
            const again = yield* Effect.exit(onFile(file, Durable.run(wf, {}, { runId })))
            assert.isTrue(interrupted(again), `${shape}: Durable.run again`)
            // Durable.start of the stored run gives a handle whose result and events end with it, as live.
            const started = yield* onFile(file, watch(wf, runId))
            assert.isTrue(interrupted(started.result), `${shape}: Durable.start's result`)
            assert.isTrue(interrupted(started.events), `${shape}: Durable.start's events`)
            assert.deepStrictEqual(started.read, [], `${shape}: Durable.start's events, none`)
            assert.strictEqual(calls.n, ran, `${shape}: no handler ran again`)
          }
        })
      ),
    30_000
  )

  it.live(
    "a handler's own error that encodes to the stored self-interrupt's JSON is stored as itself and read back as that error, not as an interruption",
    () =>
      withFile((file) =>
        Effect.gen(function* () {
          // The text a self-interrupt is stored as, as 62a750d wrote it: kept, so journals stored before read alike.
          const SELF = JSON.stringify({
            _tag: "Interrupt",
            message: "A handler interrupted the run (Effect.interrupt): it ended with that interruption"
          })
          const self = selfInterrupting({ n: 0 })["an arrow returning Effect.interrupt"]
          yield* Effect.exit(onFile(file, Durable.run(self, {}, { runId: "itself" })))
          assert.strictEqual((yield* onFile(file, Durable.status("itself"))).error, SELF, "a self-interrupt's text")
          // A user's error of that tag and message: its encoded form is the same JSON.
          class Interrupt extends Schema.TaggedError<Interrupt>()("Interrupt", { message: Schema.String }) {}
          const calls = { n: 0 }
          const lookalike = defineWorkflow({ name: "lookalike" }).step(StartEvent, () =>
            Effect.suspend(() => {
              calls.n++
              return Effect.fail(new Interrupt({ message: JSON.parse(SELF).message }))
            })
          )
          const isUsers = (exit: Exit.Exit<unknown, unknown>, what: string) => {
            assert.isTrue(Exit.isFailure(exit) && !Cause.hasInterruptsOnly(exit.cause), `${what}: not an interruption`)
            const error = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause) as Record<string, unknown>
            assert.strictEqual(error._tag, "Interrupt", what)
            assert.strictEqual(error.message, JSON.parse(SELF).message, what)
          }
          const live = yield* Effect.exit(onFile(file, Durable.run(lookalike, {}, { runId: "lookalike" })))
          isUsers(live, "live")
          assert.instanceOf(Cause.squash((live as Exit.Failure<unknown, unknown>).cause), Interrupt)
          // Durable.status shows it as stored: failed, with the error's JSON.
          const status = yield* onFile(file, Durable.status("lookalike"))
          assert.strictEqual(status.status, "failed")
          assert.deepStrictEqual(JSON.parse(status.error!), JSON.parse(SELF))
          // Before, each of these read it back as an interruption (the stored text was the self-interrupt's).
          isUsers(yield* Effect.exit(onFile(file, Durable.run(lookalike, {}, { runId: "lookalike" }))), "run")
          isUsers(yield* Effect.exit(onFile(file, Durable.resume(lookalike, "lookalike"))), "resume")
          const started = yield* onFile(file, watch(lookalike, "lookalike"))
          isUsers(started.result, "start's result")
          isUsers(started.events, "start's events")
          // Compacted to its outcome (no journal left), still.
          const compact = (runId: string) =>
            onFile(
              file,
              Effect.flatMap(RunStore.RunStore, (store) => store.compact(runId))
            )
          assert.isTrue(yield* compact("lookalike"))
          isUsers(yield* Effect.exit(onFile(file, Durable.run(lookalike, {}, { runId: "lookalike" }))), "compacted")
          assert.strictEqual(calls.n, 1, "no handler ran again")
          // And the self-interrupted run still reads as the interruption, compacted too.
          assert.isTrue(yield* compact("itself"))
          assert.isTrue(interrupted(yield* Effect.exit(onFile(file, Durable.run(self, {}, { runId: "itself" })))))
        })
      ),
    30_000
  )

  it.live(
    "Durable.start's events end with the interruption once the events before it are read, as Workflow.start's do",
    () =>
      withFile((file) =>
        Effect.gen(function* () {
          const calls = { n: 0 }
          for (const [shape, wf] of Object.entries(selfInterrupting(calls))) {
            const live = yield* onFile(file, watch(wf, `start-${shape.split(" ")[1]}`))
            assert.isTrue(interrupted(live.result), `${shape}: result`)
            // Before, they ended quietly, as a run that succeeded would (with no StopEvent).
            assert.isTrue(interrupted(live.events), `${shape}: events ended with ${live.events._tag}`)
            assert.deepStrictEqual(
              live.read,
              shape.includes("write") ? ["Note"] : [],
              `${shape}: the events before the interruption`
            )
          }
        })
      ),
    30_000
  )

  it.live(
    "an interruption from outside (the handle's scope closing, Durable.run's fiber interrupted) leaves the run unfinished, and a resume runs it on",
    () =>
      withFile((file) =>
        Effect.gen(function* () {
          // While held, a step's handler waits for ever (the StartEvent's in place, the Items' in worker fibers).
          const hold = { start: false, items: false }
          const calls = { start: 0, item: 0 }
          const wf = defineWorkflow({ name: "outside" })
            .step(
              StartEvent,
              (_, ctx) => {
                calls.start++
                return hold.start ? Effect.never : ctx.sendAll([new Item({ n: 1 }), new Item({ n: 2 })])
              },
              { emits: [Item] }
            )
            .step(
              Item,
              (ev) => {
                calls.item++
                return hold.items ? Effect.never : Effect.succeed(new StopEvent({ result: ev.n }))
              },
              { workers: 2 }
            )
          const resumeFinishes = (runId: string) =>
            Effect.gen(function* () {
              const resumed = yield* Effect.exit(onFile(file, Durable.resume(wf, runId)))
              assert.isTrue(Exit.isSuccess(resumed), `${runId}: resumed`)
              assert.strictEqual((yield* onFile(file, Durable.status(runId))).status, "completed", runId)
            })
          // The handle's scope closed while the StartEvent's handler waits (a deploy, a crash).
          hold.start = true
          const scope = yield* Scope.make()
          const handle = yield* onFile(file, Scope.provide(Durable.start(wf, {}, { runId: "by-scope" }), scope))
          yield* Effect.sleep("50 millis")
          yield* Scope.close(scope, Exit.void)
          assert.isTrue(interrupted(yield* Effect.exit(handle.result)), "by-scope: result")
          assert.strictEqual((yield* onFile(file, Durable.status("by-scope"))).status, "running", "by-scope")
          hold.start = false
          yield* resumeFinishes("by-scope")
          assert.strictEqual(calls.start, 2, "by-scope: the StartEvent's handler ran again")
          // Durable.run's fiber interrupted while both workers of the Item step wait in forked fibers.
          hold.items = true
          calls.item = 0
          const fiber = yield* Effect.forkChild(onFile(file, Durable.run(wf, {}, { runId: "by-fiber" })))
          for (let i = 0; i < 100 && calls.item < 2; i++) yield* Effect.sleep("10 millis")
          assert.strictEqual(calls.item, 2, "by-fiber: both Items are being handled")
          yield* Fiber.interrupt(fiber)
          assert.isTrue(interrupted(yield* Fiber.await(fiber)), "by-fiber: interrupted")
          assert.notInclude(
            ["completed", "failed", "cancelled"],
            (yield* onFile(file, Durable.status("by-fiber"))).status
          )
          hold.items = false
          yield* resumeFinishes("by-fiber")
          assert.strictEqual(calls.item, 4, "by-fiber: the resume ran both Items again")
        })
      ),
    30_000
  )
})
