/**
 * Group commit for a run's journal: entries appended one by one are written to the `RunStore` in batches, one
 * store call (one transaction) per batch, at most `maxDelay` (10 ms) after the first entry of the batch arrived,
 * or at once when `maxBatch` entries wait. What is on disk is always a prefix of what was appended.
 *
 * Back-pressure: the writer never runs far ahead of its store. Once entries have waited `maxDelay` (or
 * `maxPending` of them wait) while a batch is still being committed, appenders wait until that commit ends
 * (`append`, `appendAll`, and `room` for those that cannot wait where they append). So a crash loses at most the
 * batch being committed and what was appended in the `maxDelay` after it, however slow the store: a run goes at
 * its store's speed instead of piling up work that a crash would throw away.
 *
 * @since 0.1.0
 */
import { Clock, Context, Deferred, Duration, Effect, Exit, Fiber, Latch, type Scope } from "effect"
import { type RunBusyError, type RunNotFoundError, RunStoreError } from "./DurableError.ts"
import { type Lease, RunStore, type StatusUpdate } from "./RunStore.ts"

/**
 * The errors of writing a batch: the store's own, or the lease lost to another owner.
 *
 * @since 0.1.0
 * @category models
 */
export type WriteError = RunStoreError | RunBusyError | RunNotFoundError

/**
 * Options of `JournalWriter.make`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The run's lease: every batch is fenced by it. */
  readonly lease: Lease
  /** The journal's length now: the sequence number of the first entry this writer appends. */
  readonly seq: number
  /** Most entries in one batch. Default 1,000. */
  readonly maxBatch?: number | undefined
  /**
   * Longest wait between an entry's arrival and the write of its batch. Default 10 ms. Also how long entries
   * may wait behind a batch being committed before appenders wait for it (see `room`).
   */
  readonly maxDelay?: Duration.Input | undefined
  /** Most entries that may wait behind a batch being committed before appenders wait for it. Default 10,000. */
  readonly maxPending?: number | undefined
}

/**
 * A running group-commit writer.
 *
 * @since 0.1.0
 * @category models
 */
export interface JournalWriter {
  /**
   * Queue one entry (encoded JSON); returns its sequence number before it is written: at once, or, when the
   * writer is behind its store (see `room`), once the batch being committed is.
   */
  readonly append: (entry: string) => Effect.Effect<number, WriteError>
  /**
   * Queue entries and, written in the same batch after them, a status change and inbox messages marked
   * consumed. Returns the sequence number of the first entry; waits as `append` does.
   */
  readonly appendAll: (
    entries: ReadonlyArray<string>,
    options?: { readonly status?: StatusUpdate | undefined; readonly consumed?: ReadonlyArray<number> | undefined }
  ) => Effect.Effect<number, WriteError>
  /**
   * `append` from synchronous code (a run's record listener): queues `entry` and returns its sequence
   * number, or -1 once a write has failed (`flush` then fails with why). It never waits: its caller waits
   * where it can, with `room`.
   */
  readonly appendUnsafe: (entry: string) => number
  /**
   * `undefined` while the writer keeps up with its store. Once queued entries have waited `maxDelay`, or
   * `maxPending` of them wait, an effect that waits until the store has committed the next batch (at once
   * after a failed write or a closed writer: the next call says why). A producer using `appendUnsafe` (a durable
   * run) calls it at points where it can wait, so it goes at the store's speed.
   */
  readonly room: () => Effect.Effect<void> | undefined
  /** Write what is queued now, without waiting for the delay, and wait until it is committed. */
  readonly flush: Effect.Effect<void, WriteError>
  /** How many entries the journal holds on disk (committed). */
  readonly committed: Effect.Effect<number>
  /** How many store calls (batches) were made. */
  readonly batches: Effect.Effect<number>
}

interface Mark {
  /** Applies after entries up to (not including) this sequence number. */
  readonly at: number
  readonly status?: StatusUpdate | undefined
  readonly consumed?: ReadonlyArray<number> | undefined
}

/**
 * Start a writer for one run, in the current scope. Closing the scope writes what is still queued (errors
 * ignored: a run that must know its journal is complete calls `flush` first). After a failed write the writer
 * stops: every later call fails with that error, and nothing after the failed batch is written. So does a
 * closed writer: a call after its scope is closed fails with a `RunStoreError` saying so (`appendUnsafe`
 * returns -1).
 *
 * @example
 * ```ts
 * import { JournalWriter } from "@effect-flow/core"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const writer = yield* JournalWriter.make({ lease, seq: run.journalLength })
 *   for (const entry of entries) yield* writer.append(entry) // no I/O per entry
 *   yield* writer.flush // committed
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<JournalWriter, never, RunStore | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const maxBatch = Math.max(1, options.maxBatch ?? 1000)
    const maxDelay = Duration.toMillis(options.maxDelay ?? Duration.millis(10))
    const maxPending = Math.max(1, options.maxPending ?? 10_000)
    const lease = options.lease
    const clock = Context.get(yield* Effect.context<never>(), Clock.Clock)
    const now = () => clock.currentTimeMillisUnsafe()

    let pending: Array<string> = []
    let marks: Array<Mark> = []
    let firstPendingAt = 0
    let nextSeq = options.seq
    let committedSeq = options.seq
    let marksQueued = 0
    let marksCommitted = 0
    let batches = 0
    let failure: Exit.Exit<never, WriteError> | undefined
    let waiters: Array<{ seq: number; marks: number; deferred: Deferred.Deferred<void, WriteError> }> = []
    const wake = Latch.makeUnsafe(false)
    const hurry = Latch.makeUnsafe(false)
    // Back-pressure (see `room`): whether a batch is being committed; `behind`, set once `maxPending` entries
    // wait (by the appender) or once entries have waited `maxDelay` behind a commit (by the loop's watch, see
    // `overdue`), cleared when a commit ends: what `room` reads, so a producer asking it before each entry
    // reads a flag, not the clock. And what appenders that wait for the end of the commit under way (or, when
    // none is, of the next) wait on, made by the first of them.
    let committing = false
    let behind = false
    let commitEnd: Deferred.Deferred<void> | undefined
    const commitEnded = () => {
      committing = false
      behind = failure === undefined && pending.length >= maxPending
      const signal = commitEnd
      commitEnd = undefined
      if (signal !== undefined) Deferred.doneUnsafe(signal, Exit.void)
    }

    // Hot path: no allocation beyond the entry; the clock is read once per batch, at its first entry.
    // The entry is queued before the loop is woken: opening a latch resumes its waiter on this very stack,
    // so the loop may write a batch before `wake.openUnsafe()` returns. Woken first, it found an empty queue,
    // went back to sleep, and the entry queued after it waited forever (the journal stopped growing).
    const queued = (wasIdle: boolean, now: () => number) => {
      if (wasIdle) {
        firstPendingAt = now()
        wake.openUnsafe()
      }
      if (pending.length >= maxBatch) hurry.openUnsafe()
      if (pending.length >= maxPending) behind = true
    }

    const enqueue = (entries: ReadonlyArray<string>, mark: Omit<Mark, "at"> | undefined) =>
      Effect.withFiber((fiber): Effect.Effect<number, WriteError> => {
        if (failure !== undefined) return failure
        const seq = nextSeq
        const wasIdle = pending.length === 0 && marks.length === 0
        for (let i = 0; i < entries.length; i++) pending.push(entries[i]!)
        nextSeq += entries.length
        if (mark !== undefined) {
          marks.push({ ...mark, at: nextSeq })
          marksQueued += 1
        }
        if (entries.length > 0 || mark !== undefined) {
          const clock = fiber.getRef(Clock.Clock)
          queued(wasIdle, () => clock.currentTimeMillisUnsafe())
        }
        return Effect.succeed(seq)
      })

    const settle = () => {
      const ready = waiters.filter((w) => failure !== undefined || (w.seq <= committedSeq && w.marks <= marksCommitted))
      waiters = waiters.filter((w) => !ready.includes(w))
      for (const w of ready) Deferred.doneUnsafe(w.deferred, failure ?? Exit.void)
    }

    // While a batch is committed: sets `behind` once the oldest entry queued behind it has waited `maxDelay`.
    // Every entry queued behind a commit arrived after it began, so none is due sooner than `maxDelay` from now.
    const overdue = Effect.gen(function* () {
      let wait = maxDelay
      while (true) {
        yield* Effect.sleep(Duration.millis(wait))
        if (pending.length === 0) {
          wait = maxDelay
          continue
        }
        wait = firstPendingAt + maxDelay - (yield* Clock.currentTimeMillis)
        if (wait <= 0) {
          behind = true
          return
        }
      }
    })

    const writeBatch = Effect.gen(function* () {
      if (pending.length === 0 && marks.length === 0) {
        wake.closeUnsafe()
        return
      }
      const entries = pending.length > maxBatch ? pending.slice(0, maxBatch) : pending
      pending = pending.length > maxBatch ? pending.slice(maxBatch) : []
      committing = true
      const end = committedSeq + entries.length
      // The marks that fall inside this batch: the last status wins, consumed ids add up.
      const applied = marks.filter((m) => m.at <= end)
      marks = marks.filter((m) => m.at > end)
      let status: StatusUpdate | undefined
      const consumed: Array<number> = []
      for (const m of applied) {
        if (m.status !== undefined) status = m.status
        if (m.consumed !== undefined) consumed.push(...m.consumed)
      }
      if (pending.length > 0 || marks.length > 0) {
        firstPendingAt = yield* Clock.currentTimeMillis
      } else {
        wake.closeUnsafe()
      }
      if (pending.length < maxBatch) hurry.closeUnsafe()
      const watch = yield* Effect.forkChild(overdue, { startImmediately: true })
      const exit = yield* Effect.exit(
        store.append(lease, {
          seq: committedSeq,
          entries,
          ...(status === undefined ? {} : { status }),
          ...(consumed.length === 0 ? {} : { consumed })
        })
      )
      yield* Fiber.interrupt(watch)
      batches += 1
      if (Exit.isFailure(exit)) {
        failure = Exit.failCause(exit.cause)
      } else {
        committedSeq = end
        marksCommitted += applied.length
      }
      commitEnded()
      settle()
      // Someone waits in `flush`: write what remains without waiting for the delay.
      if (waiters.length > 0) hurry.openUnsafe()
    })

    const loop = Effect.gen(function* () {
      while (failure === undefined) {
        yield* wake.await
        const waited = (yield* Clock.currentTimeMillis) - firstPendingAt
        if (waited < maxDelay) {
          yield* Effect.raceFirst(Effect.sleep(Duration.millis(maxDelay - waited)), hurry.await)
        }
        yield* writeBatch
      }
    })

    const flush: Effect.Effect<void, WriteError> = Effect.suspend(() => {
      if (failure !== undefined) return failure
      if (nextSeq === committedSeq && marksQueued === marksCommitted) return Effect.void
      const deferred = Deferred.makeUnsafe<void, WriteError>()
      waiters.push({ seq: nextSeq, marks: marksQueued, deferred })
      hurry.openUnsafe()
      return Deferred.await(deferred)
    })

    yield* Effect.forkScoped(loop)
    // Runs before the loop is interrupted (finalizers run in reverse order). Once the scope is closed the
    // writer is too: a later call (or a flush still waiting) fails with why instead of waiting for a loop
    // that is gone.
    yield* Effect.addFinalizer(() =>
      Effect.andThen(
        Effect.ignore(flush),
        Effect.sync(() => {
          if (failure !== undefined) return
          failure = Exit.fail(
            new RunStoreError({
              store: store.name,
              operation: `append to run ${lease.runId}`,
              reason: "the journal writer's scope is closed; nothing more can be written through it"
            })
          )
          commitEnded()
          settle()
        })
      )
    )

    const appendUnsafe = (entry: string): number => {
      if (failure !== undefined) return -1
      const wasIdle = pending.length === 0 && marks.length === 0
      const seq = nextSeq++
      pending.push(entry)
      queued(wasIdle, now)
      return seq
    }
    // Behind (see `behind`): wait for the end of the commit under way; with none under way (`maxPending`
    // entries queued before the loop had its turn), hurry the loop, which may write them on this very stack, so
    // the signal is made first.
    const room = (): Effect.Effect<void> | undefined => {
      if (!behind || failure !== undefined) return undefined
      const signal = (commitEnd ??= Deferred.makeUnsafe<void>())
      if (!committing) hurry.openUnsafe()
      return Deferred.await(signal)
    }
    const withRoom = (seq: number): Effect.Effect<number> => {
      const wait = room()
      return wait === undefined ? Effect.succeed(seq) : Effect.as(wait, seq)
    }
    return {
      append: (entry) => Effect.suspend(() => (failure !== undefined ? failure : withRoom(appendUnsafe(entry)))),
      appendUnsafe,
      appendAll: (entries, opts) =>
        Effect.flatMap(
          enqueue(
            entries,
            opts?.status === undefined && (opts?.consumed === undefined || opts.consumed.length === 0)
              ? undefined
              : opts
          ),
          withRoom
        ),
      room,
      flush,
      committed: Effect.sync(() => committedSeq),
      batches: Effect.sync(() => batches)
    } satisfies JournalWriter
  })
