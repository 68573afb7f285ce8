import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit, Fiber, Latch, Scope } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { JournalWriter, RunStore } from "../src/index.ts"

// A memory store that records the size of every batch it is given: one entry per store call.
const spied = Effect.gen(function* () {
  const inner = yield* RunStore.makeMemory
  const calls: Array<RunStore.Batch> = []
  const store: RunStore.Shape = {
    ...inner,
    append: (lease, batch) =>
      Effect.andThen(
        Effect.sync(() => calls.push(batch)),
        inner.append(lease, batch)
      )
  }
  return { store, calls }
})

const setup = Effect.gen(function* () {
  const { store, calls } = yield* spied
  const { run } = yield* store.create({ runId: "r", workflow: "wf", definitionHash: "h", input: "{}" })
  const lease = yield* store.acquire(run.runId, { owner: "me", pid: process.pid, host: "here", ttl: "1 minute" })
  return { store, calls, lease }
})

// Let the writer's fiber run what is due without moving the clock.
const settle = Effect.repeat(Effect.yieldNow, { times: 20 })

/**
 * A writer on a store slower than it: each batch takes `base` ms plus `perEntry` ms per entry (on the TestClock),
 * as a remote database or a busy disk would. `inFlight` is the size of the batch being committed (0: none). When
 * the test ends the store stops being slow, so a failed assertion is reported instead of the writer's last flush
 * waiting for a clock that no longer moves.
 */
const slowed = (base: number, perEntry: number, options?: Partial<JournalWriter.Options>) =>
  Effect.gen(function* () {
    const { store: inner, calls, lease } = yield* setup
    const state = { inFlight: 0 }
    const ended = Latch.makeUnsafe(false)
    const store: RunStore.Shape = {
      ...inner,
      append: (lease, batch) =>
        Effect.suspend(() => {
          state.inFlight = batch.entries.length
          const takes = Effect.sleep(`${base + Math.ceil(perEntry * batch.entries.length)} millis`)
          return Effect.andThen(Effect.raceFirst(takes, ended.await), inner.append(lease, batch))
        }).pipe(Effect.ensuring(Effect.sync(() => (state.inFlight = 0))))
    }
    const writer = yield* JournalWriter.make({ lease, seq: 0, ...options }).pipe(
      Effect.provideService(RunStore.RunStore, store)
    )
    yield* Effect.addFinalizer(() => ended.open)
    return { store, calls, writer, state }
  })

const journal = (store: RunStore.Shape) => Effect.map(store.readJournal("r"), (entries) => entries.map((e) => e.data))

describe("JournalWriter", () => {
  it.effect("entries appended within 10 ms are written in one batch, 10 ms after the first", () =>
    Effect.gen(function* () {
      const { store, calls, lease } = yield* setup
      const writer = yield* JournalWriter.make({ lease, seq: 0 }).pipe(Effect.provideService(RunStore.RunStore, store))
      assert.strictEqual(yield* writer.append('"a"'), 0)
      yield* TestClock.adjust("4 millis")
      assert.strictEqual(yield* writer.append('"b"'), 1)
      assert.strictEqual(yield* writer.append('"c"'), 2)
      yield* TestClock.adjust("5 millis")
      yield* settle
      assert.strictEqual(calls.length, 0)
      assert.strictEqual(yield* writer.committed, 0)
      yield* TestClock.adjust("1 millis")
      yield* settle
      assert.deepStrictEqual(
        calls.map((b) => [b.seq, b.entries.length]),
        [[0, 3]]
      )
      assert.strictEqual(yield* writer.committed, 3)
      assert.deepStrictEqual(yield* journal(store), ['"a"', '"b"', '"c"'])
    })
  )

  it.effect("a full batch is written at once, without waiting for the delay", () =>
    Effect.gen(function* () {
      const { store, calls, lease } = yield* setup
      const writer = yield* JournalWriter.make({ lease, seq: 0, maxBatch: 4 }).pipe(
        Effect.provideService(RunStore.RunStore, store)
      )
      for (let i = 0; i < 10; i++) yield* writer.append(`${i}`)
      yield* settle
      assert.deepStrictEqual(
        calls.map((b) => b.entries.length),
        [4, 4]
      )
      yield* TestClock.adjust("10 millis")
      yield* settle
      assert.deepStrictEqual(
        calls.map((b) => [b.seq, b.entries.length]),
        [
          [0, 4],
          [4, 4],
          [8, 2]
        ]
      )
      assert.deepStrictEqual(
        yield* journal(store),
        Array.from({ length: 10 }, (_, i) => `${i}`)
      )
    })
  )

  it.effect("flush writes what is queued now and returns once it is committed", () =>
    Effect.gen(function* () {
      const { store, calls, lease } = yield* setup
      const writer = yield* JournalWriter.make({ lease, seq: 0 }).pipe(Effect.provideService(RunStore.RunStore, store))
      yield* writer.append("1")
      yield* writer.append("2")
      yield* writer.flush
      assert.strictEqual(calls.length, 1)
      assert.deepStrictEqual(yield* journal(store), ["1", "2"])
      yield* writer.flush // nothing queued: no store call
      assert.strictEqual(calls.length, 1)
    })
  )

  it.effect("a status change and consumed inbox messages are written in the batch of the entries before them", () =>
    Effect.gen(function* () {
      const { store, calls, lease } = yield* setup
      const answer = yield* store.putInbox("r", '{"answer":42}')
      const writer = yield* JournalWriter.make({ lease, seq: 0 }).pipe(Effect.provideService(RunStore.RunStore, store))
      yield* writer.append('"working"')
      yield* writer.appendAll(['"got answer"', '"end"'], {
        status: { status: "completed", result: '"ok"' },
        consumed: [answer]
      })
      yield* writer.appendAll([], { status: { status: "completed", result: '"ok, again"' } })
      yield* writer.flush
      assert.strictEqual(calls.length, 1)
      assert.deepStrictEqual(calls[0]!.status, { status: "completed", result: '"ok, again"' })
      assert.deepStrictEqual(calls[0]!.consumed, [answer])
      const run = yield* store.get("r")
      assert.deepStrictEqual([run.status, run.result, run.journalLength], ["completed", '"ok, again"', 3])
      assert.deepStrictEqual(yield* store.readInbox("r"), [])
    })
  )

  it.effect("after a refused batch (lease lost) nothing more is written and every call fails with that error", () =>
    Effect.gen(function* () {
      const { store, lease } = yield* setup
      const writer = yield* JournalWriter.make({ lease, seq: 0 }).pipe(Effect.provideService(RunStore.RunStore, store))
      yield* writer.append("1")
      yield* writer.flush
      yield* TestClock.adjust("2 minutes")
      yield* store.acquire("r", { owner: "thief", pid: process.pid, host: "elsewhere", ttl: "1 minute" })
      yield* writer.append("2")
      const failed = yield* Effect.flip(writer.flush)
      assert.strictEqual(failed._tag, "RunBusyError")
      assert.strictEqual((yield* Effect.flip(writer.append("3")))._tag, "RunBusyError")
      assert.strictEqual((yield* Effect.flip(writer.flush))._tag, "RunBusyError")
      assert.deepStrictEqual(yield* journal(store), ["1"])
    })
  )

  it.effect("closing the writer's scope writes what is still queued; a call after it fails instead of waiting", () =>
    Effect.gen(function* () {
      const { store, lease } = yield* setup
      const scope = yield* Scope.make()
      const writer = yield* JournalWriter.make({ lease, seq: 0 }).pipe(
        Effect.provideService(RunStore.RunStore, store),
        Scope.provide(scope)
      )
      yield* writer.append("1")
      yield* writer.append("2")
      yield* Scope.close(scope, Exit.void)
      assert.deepStrictEqual(yield* journal(store), ["1", "2"])
      // the writer is closed with its scope: nothing more is written, and a flush does not wait for a gone loop
      assert.strictEqual(writer.appendUnsafe("3"), -1)
      const exits: Array<Exit.Exit<unknown, unknown>> = [
        yield* Effect.exit(writer.append("4")),
        yield* Effect.exit(writer.flush)
      ]
      for (const exit of exits) {
        assert.isTrue(Exit.isFailure(exit))
        assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "journal writer's scope is closed")
      }
      assert.deepStrictEqual(yield* journal(store), ["1", "2"])
    })
  )

  it.effect("a writer continues a journal from its length", () =>
    Effect.gen(function* () {
      const { store, lease } = yield* setup
      yield* store.append(lease, { seq: 0, entries: ["0", "1"] })
      const writer = yield* JournalWriter.make({ lease, seq: 2 }).pipe(Effect.provideService(RunStore.RunStore, store))
      assert.strictEqual(yield* writer.append("2"), 2)
      yield* writer.flush
      assert.deepStrictEqual(yield* journal(store), ["0", "1", "2"])
    })
  )

  // A latch resumes its waiter on the opener's stack: the writer's loop may run (and write a batch) inside
  // `appendUnsafe` itself. Before the entry was queued first, the loop woke to an empty queue, closed its wake-up
  // and went back to sleep, stranding the entry: the journal stopped growing and the run's last flush never
  // returned (a 20,000-item resume hung or exited silently).
  it.effect("an entry appended to an idle writer whose loop wakes on the appender's stack is written", () =>
    Effect.gen(function* () {
      const { store, lease } = yield* setup
      const writer = yield* JournalWriter.make({ lease, seq: 0, maxDelay: 0 }).pipe(
        Effect.provideService(RunStore.RunStore, store)
      )
      for (const entry of ["1", "2", "3"]) {
        yield* settle
        yield* Effect.sync(() => writer.appendUnsafe(entry))
        yield* settle
        assert.strictEqual(yield* writer.committed, Number(entry), `entry ${entry} is committed`)
      }
      yield* Effect.sync(() => writer.appendUnsafe("4"))
      const flushed = yield* Effect.raceFirst(
        Effect.as(writer.flush, "flushed"),
        Effect.as(Effect.repeat(Effect.yieldNow, { times: 200 }), "stuck")
      )
      assert.strictEqual(flushed, "flushed")
      yield* Effect.sync(() => writer.appendUnsafe("5"))
      yield* writer.append("6")
      yield* writer.appendAll(["7"], { status: { status: "completed", result: "1" } })
      yield* writer.flush
      assert.deepStrictEqual(yield* journal(store), ["1", "2", "3", "4", "5", "6", "7"])
    })
  )

  // Without back-pressure each batch held what came in while the previous one was committed, and since this store
  // takes longer the more it is given, batches and the uncommitted backlog grew without bound (about 230 entries
  // after 300 ms here): all of it work a crash throws away.
  it.effect("a producer faster than its store waits for it: the uncommitted backlog stays within 10 ms of work", () =>
    Effect.gen(function* () {
      const { store, writer } = yield* slowed(50, 1)
      const appended: Array<string> = []
      // one entry a millisecond; the store needs 50 ms + 1 ms per entry for each batch
      const producer = yield* Effect.forkChild(
        Effect.forever(
          Effect.suspend(() => {
            const entry = `${appended.length}`
            appended.push(entry)
            return Effect.andThen(writer.append(entry), Effect.sleep("1 millis"))
          })
        )
      )
      let worst = 0
      for (let ms = 0; ms < 300; ms++) {
        yield* TestClock.adjust("1 millis")
        yield* settle
        worst = Math.max(worst, appended.length - (yield* writer.committed))
      }
      // the batch being committed (about 10 ms of work) and about as much queued behind it
      assert.isAtMost(worst, 24, `at most 24 entries uncommitted (the worst was ${worst})`)
      // so the producer went at the store's speed (about 11 entries per 61 ms), not its own (300 in 300 ms)
      assert.isBelow(appended.length, 80)
      yield* Fiber.interrupt(producer)
      yield* TestClock.adjust("100 millis")
      yield* writer.flush
      // nothing lost, nothing twice, in order
      assert.deepStrictEqual(
        yield* journal(store),
        Array.from({ length: appended.length }, (_, i) => `${i}`)
      )
    })
  )

  it.effect("appenders wait once maxPending entries queue behind a batch being committed", () =>
    Effect.gen(function* () {
      const { store, writer, state } = yield* slowed(50, 0, { maxPending: 10 })
      yield* writer.append("first")
      yield* TestClock.adjust("10 millis")
      yield* settle
      assert.strictEqual(state.inFlight, 1)
      // 40 entries at once, no time passing between them
      let queued = 0
      let returned = 0
      const producer = yield* Effect.forkChild(
        Effect.forEach(
          Array.from({ length: 40 }, (_, i) => `${i}`),
          (entry) =>
            Effect.suspend(() => {
              queued++
              return Effect.tap(writer.append(entry), () => Effect.sync(() => returned++))
            }),
          { discard: true }
        )
      )
      yield* settle
      // the 10th entry is queued, and its appender waits for the commit under way
      assert.deepStrictEqual([queued, returned], [10, 9])
      assert.isDefined(writer.room())
      let worst = 0
      let ms = 0
      while (producer.pollUnsafe() === undefined) {
        yield* TestClock.adjust("10 millis")
        yield* settle
        ms += 10
        // the batch being committed and what waits behind it: each at most maxPending, and one more appender
        worst = Math.max(worst, 1 + queued - (yield* writer.committed))
        assert.isAtMost(ms, 1000, "the producer is through")
      }
      assert.isAtMost(worst, 21)
      // at the store's speed: 41 entries, at most 11 per 50 ms commit
      assert.isAtLeast(ms, 150)
      yield* TestClock.adjust("100 millis")
      yield* writer.flush
      assert.deepStrictEqual(yield* journal(store), ["first", ...Array.from({ length: 40 }, (_, i) => `${i}`)])
    })
  )

  it.effect(
    "behind a commit, room holds appenders once the oldest entry queued has waited maxDelay, until it ends",
    () =>
      Effect.gen(function* () {
        const { writer, state } = yield* slowed(50, 0)
        yield* Effect.sync(() => writer.appendUnsafe("first"))
        yield* TestClock.adjust("10 millis")
        yield* settle
        // the first batch is being committed, from 10 ms to 60 ms
        assert.strictEqual(state.inFlight, 1)
        yield* TestClock.adjust("5 millis")
        yield* Effect.sync(() => writer.appendUnsafe("queued"))
        yield* TestClock.adjust("9 millis")
        yield* settle
        assert.isUndefined(writer.room(), "queued 9 ms ago: on time")
        yield* TestClock.adjust("1 millis")
        yield* settle
        const wait = writer.room()
        assert.isDefined(wait, "queued 10 ms ago behind a commit: behind")
        const waiting = yield* Effect.forkChild(wait!, { startImmediately: true })
        yield* TestClock.adjust("34 millis")
        yield* settle
        assert.isUndefined(waiting.pollUnsafe(), "the commit under way has not ended")
        yield* TestClock.adjust("1 millis")
        yield* settle
        assert.isDefined(waiting.pollUnsafe(), "the commit ended at 60 ms")
        // the next batch took what was queued: nothing waits behind it, no one is held
        assert.strictEqual(state.inFlight, 1)
        assert.isUndefined(writer.room())
      })
  )

  it.effect(
    "room is undefined while the writer keeps up, hurries a due batch, and holds no one after a failed write",
    () =>
      Effect.gen(function* () {
        const { store, calls, lease } = yield* setup
        const writer = yield* JournalWriter.make({ lease, seq: 0, maxPending: 3 }).pipe(
          Effect.provideService(RunStore.RunStore, store)
        )
        assert.isUndefined(writer.room())
        writer.appendUnsafe("1")
        yield* TestClock.adjust("9 millis")
        assert.isUndefined(writer.room(), "9 ms old: the writer is on time")
        yield* TestClock.adjust("1 millis")
        yield* settle
        assert.strictEqual(yield* writer.committed, 1)
        // maxPending entries queued at once, no batch being committed: room writes them now, with no time passing
        const wait = yield* Effect.sync(() => {
          for (const entry of ["2", "3", "4"]) writer.appendUnsafe(entry)
          return writer.room()
        })
        assert.isDefined(wait)
        yield* wait!
        assert.strictEqual(yield* writer.committed, 4)
        assert.strictEqual(calls.length, 2)
        // the lease lost: the write fails, and room holds no one on a writer that has stopped
        yield* TestClock.adjust("2 minutes")
        yield* store.acquire("r", { owner: "thief", pid: process.pid, host: "elsewhere", ttl: "1 minute" })
        const stuck = yield* Effect.sync(() => {
          for (const entry of ["5", "6", "7"]) writer.appendUnsafe(entry)
          return writer.room()
        })
        assert.isDefined(stuck)
        yield* stuck!
        assert.isUndefined(writer.room())
        assert.strictEqual(writer.appendUnsafe("8"), -1)
        assert.strictEqual((yield* Effect.flip(writer.flush))._tag, "RunBusyError")
        assert.deepStrictEqual(yield* journal(store), ["1", "2", "3", "4"])
      })
  )

  it.effect(
    "property: whatever the timing, the journal is the appended sequence, batches are full or 10 ms old, one store call each",
    () =>
      Effect.gen(function* () {
        const ctx = yield* Effect.context<never>()
        const step = fc.oneof(
          fc.record({ append: fc.integer({ min: 1, max: 7 }) }),
          fc.record({ wait: fc.integer({ min: 0, max: 15 }) })
        )
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(step, { maxLength: 30 }), fc.integer({ min: 1, max: 8 }), (steps, maxBatch) =>
              Effect.runPromiseWith(ctx)(
                Effect.scoped(
                  Effect.gen(function* () {
                    const { store, calls, lease } = yield* setup
                    const writer = yield* JournalWriter.make({ lease, seq: 0, maxBatch }).pipe(
                      Effect.provideService(RunStore.RunStore, store)
                    )
                    const appended: Array<string> = []
                    // when each entry was appended, to check no entry waits more than 10 ms
                    const appendedAt: Array<number> = []
                    let now = 0
                    for (const s of steps) {
                      if ("append" in s) {
                        for (let i = 0; i < s.append; i++) {
                          const entry = `${appended.length}`
                          appended.push(entry)
                          appendedAt.push(now)
                          assert.strictEqual(yield* writer.append(entry), appended.length - 1)
                        }
                        yield* settle
                      } else {
                        yield* TestClock.adjust(`${s.wait} millis`)
                        now += s.wait
                        yield* settle
                        // everything appended 10 ms ago or more is committed
                        const due = appendedAt.filter((t) => t <= now - 10).length
                        assert.isAtLeast(yield* writer.committed, due)
                      }
                    }
                    yield* writer.flush
                    assert.deepStrictEqual(yield* journal(store), appended)
                    for (const batch of calls) assert.isAtMost(batch.entries.length, maxBatch)
                    assert.strictEqual(
                      calls.reduce((n, b) => n + b.entries.length, 0),
                      appended.length
                    )
                    assert.strictEqual(yield* writer.batches, calls.length)
                  })
                )
              )
            ),
            { numRuns: 60 }
          )
        )
      })
  )
})
