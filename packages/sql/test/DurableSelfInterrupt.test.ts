/**
 * A durable run whose handler interrupts itself (`Effect.interrupt`), on a SQLite file: the run is over, stored
 * as failed with that interruption, and answered from the store afterwards (by `Durable.run`, `Durable.resume`
 * and a `Durable.start` handle, each in a store opened anew, as after a restart) without running a handler again. An
 * interruption from outside (the handle's scope closing, the fiber running `Durable.run` interrupted) before the
 * run's end records nothing: the run stays unfinished and a resume runs it on; one that comes after the run reached
 * its end, while its fibers are being closed, lets that end be journaled, not taken for a self-interrupt. Hooks
 * (Deferreds in handlers and their finalizers) say where the run is, not sleeps.
 */
import { assert, describe, it } from "@effect/vitest"
import { Durable, defineWorkflow, RunStore, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Cause, Deferred, Effect, Exit, Fiber, Schema, Stream } from "effect"
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
    "an interruption from outside before the run's end (the handle's scope closing, Durable.run's fiber interrupted) records nothing, not a self-interrupt: the run stays unfinished, and a resume runs it on",
    () =>
      withFile((file) =>
        Effect.gen(function* () {
          // While held, a step's handler says it runs, then waits for ever (the StartEvent's in place, the Items'
          // in worker fibers); `running` is told once every held handler runs.
          const hold = { start: false, items: false }
          let running = Deferred.makeUnsafe<void>()
          const calls = { start: 0, item: 0 }
          const wf = defineWorkflow({ name: "outside" })
            .step(
              StartEvent,
              (_, ctx) => {
                calls.start++
                return hold.start
                  ? Effect.andThen(Deferred.succeed(running, undefined), Effect.never)
                  : ctx.sendAll([new Item({ n: 1 }), new Item({ n: 2 })])
              },
              { emits: [Item] }
            )
            .step(
              Item,
              (ev) => {
                calls.item++
                return hold.items
                  ? Effect.andThen(calls.item === 2 ? Deferred.succeed(running, undefined) : Effect.void, Effect.never)
                  : Effect.succeed(new StopEvent({ result: ev.n }))
              },
              { workers: 2 }
            )
          /** Run `runId` in a fiber until its held handlers run, then interrupt the fiber: nothing is stored. */
          const stopped = (runId: string, run: Effect.Effect<unknown, unknown, RunStore.RunStore>) =>
            Effect.gen(function* () {
              running = Deferred.makeUnsafe()
              const fiber = yield* Effect.forkChild(onFile(file, run))
              yield* Deferred.await(running)
              yield* Fiber.interrupt(fiber)
              assert.isTrue(interrupted(yield* Fiber.await(fiber)), `${runId}: interrupted`)
              // Taken for a self-interrupt, it would be "failed" with {"_tag":"Interrupt",...}, and a resume would
              // answer that instead of running it on.
              const status = yield* onFile(file, Durable.status(runId))
              assert.strictEqual(status.status, "running", `${runId}: ${status.error ?? ""}`)
              hold.start = false
              hold.items = false
              assert.include([1, 2], yield* onFile(file, Durable.resume(wf, runId)), `${runId}: resumed`)
              assert.strictEqual((yield* onFile(file, Durable.status(runId))).status, "completed", runId)
            })
          // The handle's scope closed (the fiber it is scoped to interrupted) while the StartEvent's handler waits.
          hold.start = true
          yield* stopped(
            "by-scope",
            Effect.scoped(Effect.flatMap(Durable.start(wf, {}, { runId: "by-scope" }), (handle) => handle.result))
          )
          assert.strictEqual(calls.start, 2, "by-scope: the StartEvent's handler ran again")
          // Durable.run's fiber interrupted while both workers of the Item step wait in forked fibers.
          hold.items = true
          calls.item = 0
          yield* stopped("by-fiber", Durable.run(wf, {}, { runId: "by-fiber" }))
          assert.strictEqual(calls.item, 4, "by-fiber: the resume ran both Items again")
        })
      ),
    30_000
  )

  it.live(
    "an interruption from outside after the run reached its end, before that end is journaled: the end is journaled (completed), not taken for a self-interrupt, and a resume runs nothing",
    () =>
      withFile((file) =>
        Effect.gen(function* () {
          // Two Items in two workers: Item 1 returns the StopEvent once Item 2's handler runs; Item 2 waits for
          // ever, and when the run's end interrupts it (the run's fibers being closed, before the end is
          // journaled) its finalizer says so and holds the close until released.
          let gate = {
            second: Deferred.makeUnsafe<void>(),
            closing: Deferred.makeUnsafe<void>(),
            release: Deferred.makeUnsafe<void>()
          }
          const calls = { n: 0 }
          const wf = defineWorkflow({ name: "ends-then-stopped" })
            .step(StartEvent, (_, ctx) => ctx.sendAll([new Item({ n: 1 }), new Item({ n: 2 })]), { emits: [Item] })
            .step(
              Item,
              (ev) =>
                Effect.suspend(() => {
                  calls.n++
                  const { second, closing, release } = gate
                  return ev.n === 1
                    ? Effect.as(Deferred.await(second), new StopEvent({ result: 1 }))
                    : Effect.andThen(
                        Deferred.succeed(second, undefined),
                        Effect.onInterrupt(Effect.never, () =>
                          Effect.andThen(Deferred.succeed(closing, undefined), Deferred.await(release))
                        )
                      )
                }),
              { workers: 2, emits: [StopEvent] }
            )
          /** Run `runId` in a fiber, wait until its end is closing its fibers, interrupt the fiber, let it go on. */
          const endThenStop = (runId: string, running: Effect.Effect<unknown, unknown, RunStore.RunStore>) =>
            Effect.gen(function* () {
              gate = { second: Deferred.makeUnsafe(), closing: Deferred.makeUnsafe(), release: Deferred.makeUnsafe() }
              calls.n = 0
              const fiber = yield* Effect.forkChild(onFile(file, running))
              yield* Deferred.await(gate.closing)
              // The interruption is under way (it waits for the run's fibers to close) before the close goes on.
              const stopping = yield* Effect.forkChild(Fiber.interrupt(fiber), { startImmediately: true })
              yield* Deferred.succeed(gate.release, undefined)
              yield* Fiber.join(stopping)
              assert.isTrue(interrupted(yield* Fiber.await(fiber)), `${runId}: interrupted from outside`)
              assert.strictEqual(calls.n, 2, runId)
              // Before, nothing was journaled ("running"; a resume ran Item 1 again); taken for a self-interrupt,
              // it would be "failed" with {"_tag":"Interrupt",...}.
              const status = yield* onFile(file, Durable.status(runId))
              assert.strictEqual(status.status, "completed", `${runId}: ${status.error ?? ""}`)
              assert.strictEqual(status.result, "1", runId)
              assert.strictEqual(yield* onFile(file, Durable.resume(wf, runId)), 1, runId)
              assert.strictEqual(calls.n, 2, `${runId}: the resume ran no handler`)
            })
          // Durable.run's fiber interrupted; a handle's scope closed (the fiber it is scoped to interrupted).
          yield* endThenStop("by-run", Durable.run(wf, {}, { runId: "by-run" }))
          yield* endThenStop(
            "by-scope",
            Effect.scoped(Effect.flatMap(Durable.start(wf, {}, { runId: "by-scope" }), (handle) => handle.result))
          )
        })
      ),
    30_000
  )
})
