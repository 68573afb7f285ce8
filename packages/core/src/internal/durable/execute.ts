/**
 * A durable run from its stored record to its end: `create` checks the workflow and its input and stores the run
 * (or finds it), `execute` takes its lease, reads its journal back (`rebuild.ts`), runs it with a journal,
 * keeps its inbox and stored status up to date while it runs here, and stores its end; a finished run answers
 * with its stored outcome (`storedOutcome`).
 */
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Latch } from "effect"
import { type DurableError, RunBusyError, RunStoreError, WorkflowChangedError } from "../../DurableError.ts"
import * as JournalWriter from "../../JournalWriter.ts"
import { isFinished, type RunInfo, type RunStatus, RunStore } from "../../RunStore.ts"
import type { Any } from "../../Workflow.ts"
import { WorkflowCancelledError, type WorkflowInputError, type WorkflowValidationError } from "../../WorkflowError.ts"
import { failCause } from "../lifecycle.ts"
import * as Prepare from "../prepare.ts"
import { isWaiting, type Run, runCompiled } from "../runtime.ts"
import * as Codecs_ from "./codecs.ts"
import * as Definition_ from "./definition.ts"
import { checkJournal, explainChange, validation } from "./definition.ts"
import { JournalDelay, RunJournal } from "./journal.ts"
import { HOST, type Live, liveIn, OWNER, PID, stopping, takes, type Watch } from "./live.ts"
import * as Rebuild_ from "./rebuild.ts"

/** How long a lease lives without renewal; renewed every third of it. */
const LEASE_TTL = Duration.seconds(6)
const LEASE_RENEW = Duration.seconds(2)

const freshRunId = () => `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

const storeError = (store: string, operation: string, reason: string) => new RunStoreError({ store, operation, reason })

/** Check the input, then create the stored run (or find it: same workflow and input, or what changed). */
export const create = (
  self: Any,
  input: unknown,
  runId: string | undefined
): Effect.Effect<RunInfo, WorkflowValidationError | WorkflowInputError | DurableError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    yield* Prepare.prepare(self, input)
    yield* checkJournal(self)
    const inputProblem = Codecs_.jsonProblem(input === undefined ? {} : input)
    if (inputProblem !== undefined) {
      return yield* validation(self.name, `the input cannot be journaled as JSON: ${inputProblem}`)
    }
    const id = runId ?? freshRunId()
    const def = Definition_.definition(self)
    const { run: info } = yield* store
      .create({
        runId: id,
        workflow: self.name,
        definitionHash: Definition_.hashOf(def),
        input: JSON.stringify(input === undefined ? {} : input)
      })
      .pipe(Effect.catchTag("WorkflowChangedError", (error) => explainChange(self, id, def, error)))
    return info
  })

/** `Durable.resume`: the stored run, checked against the workflow, then on from its journal. @internal */
export const resume = (self: Any, runId: string): Effect.Effect<unknown, unknown, any> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    yield* checkJournal(self)
    const info = yield* store.get(runId)
    const def = Definition_.definition(self)
    if (info.workflow !== self.name || info.definitionHash !== Definition_.hashOf(def)) {
      return yield* explainChange(
        self,
        runId,
        def,
        new WorkflowChangedError({
          runId,
          workflow: info.workflow,
          changes: info.workflow !== self.name ? [`workflow name: stored "${info.workflow}", given "${self.name}"`] : []
        })
      )
    }
    return yield* execute(self, info)
  })

/** How often a live run reads its inbox for outside input stored by another process. */
const INBOX_POLL = Duration.millis(500)

/** Run, resume or answer a stored run: its stored outcome when finished, otherwise on from its journal. */
export const execute = (self: Any, info: RunInfo, watch?: Watch): Effect.Effect<unknown, unknown, any> =>
  isFinished(info.status)
    ? answer(self, info, watch)
    : Effect.scoped(
        Effect.gen(function* () {
          const store = yield* RunStore
          const runId = info.runId
          let journal: RunJournal | undefined
          let cancelled = false
          // Done when this process is through with the run (ended, failed or stopped).
          const over = Deferred.makeUnsafe<void>()
          yield* Effect.addFinalizer(() => Deferred.succeed(over, undefined))
          // Opened when the inbox or the stored status may need a look: a wait opened, the run started or
          // stopped waiting, `Durable.send` stored something.
          const wake = Latch.makeUnsafe(true)
          const handle: Live = {
            runId,
            offer: (event) =>
              Effect.suspend(() => {
                const run = journal?.run
                if (journal === undefined || run === undefined || run.finished || !takes(run, event)) {
                  return Effect.succeed(false)
                }
                // Committed when `flush` returns, or with the run's end (a run that ends on this event).
                return Effect.as(
                  Effect.andThen(
                    journal.deliver(run, event, undefined),
                    Effect.raceFirst(journal.writer.flush, Deferred.await(over))
                  ),
                  true
                )
              }),
            nudge: () => wake.openUnsafe(),
            cancel: () => {
              const run = journal?.run
              if (run === undefined || run.finished) return
              cancelled = true
              failCause(run, Cause.fail(new WorkflowCancelledError({ workflow: self.name, runId, by: "cancel()" })))
            }
          }
          // One owner in this process too: the lease's owner is the process, so it cannot tell two runs here apart.
          const here = liveIn(store)
          yield* Effect.acquireRelease(
            Effect.suspend(() =>
              here.has(runId)
                ? Effect.fail(
                    new RunBusyError({ runId, owner: OWNER, pid: PID, host: HOST, expiresAt: Number.MAX_SAFE_INTEGER })
                  )
                : Effect.sync(() => here.set(runId, handle))
            ),
            () => Effect.sync(() => here.get(runId) === handle && here.delete(runId))
          )
          const lease = yield* Effect.acquireRelease(
            store.acquire(runId, { owner: OWNER, pid: PID, host: HOST, ttl: LEASE_TTL }),
            (lease) => Effect.ignore(store.release(lease))
          )
          yield* Effect.forkScoped(
            Effect.forever(Effect.andThen(Effect.sleep(LEASE_RENEW), Effect.ignore(store.renew(lease))))
          )
          const rows = yield* store.readJournal(runId)
          // The run re-read under the lease: another owner may have finished it meanwhile.
          const now = yield* store.get(runId)
          if (isFinished(now.status)) return yield* answer(self, now, watch)
          const codecs = Codecs_.codecs(self)
          const entries = rows.map((e) => e.data)
          const rebuilt = yield* Effect.try({
            try: () => Rebuild_.rebuild(codecs, runId, entries.slice(1)),
            catch: (error) => storeError(store.name, `resume run ${runId}`, String((error as Error).message ?? error))
          })
          const writer = yield* JournalWriter.make({
            lease,
            seq: entries.length,
            maxBatch: Number.MAX_SAFE_INTEGER,
            maxDelay: yield* JournalDelay
          })
          const runJournal = new RunJournal(self.name, runId, codecs, writer, wake)
          journal = runJournal
          if (entries.length === 0) yield* runJournal.begin(Definition_.definition(self))
          const ready = Deferred.makeUnsafe<Run>()
          // The inbox (outside input stored by `Durable.send`, read first on a resume) and the stored status
          // ("waiting" while only outside input can move the run), kept up to date while the run is here.
          const delivered = new Set<number>()
          const housekeeping = Effect.gen(function* () {
            const run = yield* Deferred.await(ready)
            let stored: RunStatus = info.status
            while (!run.finished) {
              wake.closeUnsafe()
              const inbox = yield* Effect.orElseSucceed(store.readInbox(runId), () => [])
              for (const message of inbox) {
                if (run.finished || stopping(run) || delivered.has(message.id)) continue
                const event = yield* Effect.try({
                  try: () => codecs.decodeEvent(JSON.parse(message.data)),
                  catch: (error) =>
                    storeError(
                      store.name,
                      `read inbox message ${message.id} of run ${runId}`,
                      error instanceof Error ? error.message : String(error)
                    )
                }).pipe(Effect.tapError((error) => Effect.sync(() => failCause(run, Cause.fail(error)))))
                if (!takes(run, event)) continue
                delivered.add(message.id)
                yield* Effect.catchTag(
                  runJournal.deliver(run, event, message.id),
                  "UnhandledEventError",
                  () => Effect.void
                )
              }
              const status: RunStatus = isWaiting(run) ? "waiting" : "running"
              if (status !== stored && !run.finished && !stopping(run)) {
                yield* writer.appendAll([], { status: { status } })
                stored = status
              }
              yield* Effect.raceFirst(Effect.sleep(INBOX_POLL), wake.await)
            }
          }).pipe(Effect.catch(() => Effect.void))
          const keeper = yield* Effect.forkScoped(housekeeping)
          const [, decoded] = yield* Prepare.prepare(self, JSON.parse(info.input))
          // The run runs interruptibly; what follows its end does not: a run that reached its end (a result, a
          // failure, a cancel, its own interruption) gets that end journaled even when an interruption from outside
          // (the scope closing, the fiber interrupted) arrives meanwhile, e.g. while the run's other fibers are
          // being closed. An interruption from outside before the run's end records nothing: the run stays
          // unfinished, and resumes later.
          return yield* Effect.uninterruptibleMask((restore) =>
            Effect.gen(function* () {
              const exit = yield* Effect.exit(
                restore(
                  runCompiled(Prepare.compiled(self) as never, decoded, {
                    runId,
                    record: runJournal.record,
                    // The run waits while its journal is behind the store: a crash then loses little work.
                    pause: writer.room,
                    // The run's timeout counts from its creation, across resumes.
                    startedAt: info.createdAt,
                    // Under a durable run, waiting for outside input is not a stall: `Durable.send` may answer.
                    outsideInput: true,
                    publish: watch?.publish,
                    lifecycle: watch?.lifecycle,
                    onRun: (r) => {
                      runJournal.run = r
                      Deferred.doneUnsafe(ready, Exit.succeed(r))
                      watch?.onLive?.(handle)
                    },
                    ...(rebuilt.entries === 0 ? {} : { resume: Rebuild_.resumeFrom(codecs, rebuilt) })
                  })
                )
              )
              const ended = endOf(exit, runJournal.run)
              if (ended === undefined) return yield* exit
              yield* Fiber.interrupt(keeper)
              // The run may have ended inside a `deliver` (an answer that finished it at once): let it queue its
              // entries and its inbox mark first, so the end comes after them.
              yield* Effect.yieldNow
              if (Exit.isSuccess(ended)) {
                const encoded = yield* Effect.try({
                  try: () => JSON.stringify(codecs.result.encode(ended.value)),
                  catch: (error) =>
                    storeError(
                      store.name,
                      `store the result of run ${runId}`,
                      `the result cannot be held as JSON: ${error instanceof Error ? error.message : String(error)}`
                    )
                }).pipe(
                  // The run fails with it, and is stored as failed: never a result half-written as finished.
                  Effect.tapError((error) => runJournal.end(false, { status: "failed", error: errorJson(error) }))
                )
                yield* runJournal.end(true, { status: "completed", result: encoded })
              } else if (!Cause.hasInterruptsOnly(ended.cause)) {
                yield* runJournal.end(false, {
                  status: cancelled ? "cancelled" : "failed",
                  error: errorJson(Cause.squash(ended.cause))
                })
                if (cancelled) watch?.cancelled?.()
              } else {
                // The run ended itself with the interruption (a handler's `Effect.interrupt`): it is over, stored as
                // failed with it, so a resume answers it rather than run it (and the interruption) again.
                yield* runJournal.end(false, { status: "failed", error: SELF_INTERRUPTED })
                watch?.endedItself?.()
              }
              return yield* exit
            })
          )
        })
      )

/**
 * The end the run reached by itself, to be journaled, from the exit of `runCompiled` and the run (`Run.exit`: how
 * it ended, set by the run itself, as `launch.ts` reads it): the exit unless it is an interruption alone; then the
 * run's own end if it reached one (a handler's `Effect.interrupt`, or a result or failure the run had before an
 * interruption from outside stopped this fiber while the run's fibers were closed); `undefined` when it did not
 * (interrupted from outside before its end).
 */
const endOf = (exit: Exit.Exit<unknown, unknown>, run: Run | undefined): Exit.Exit<unknown, unknown> | undefined =>
  Exit.isSuccess(exit) || !Cause.hasInterruptsOnly(exit.cause) ? exit : run?.exit

/**
 * An error as JSON: its tag, message and the fields JSON can hold. Never the text {@link SELF_INTERRUPTED}: an
 * error that encodes to it (a handler's own `Interrupt` of that message) is written with its tag last, the same
 * JSON value (`Durable.status` shows it alike) in text that is not a self-interrupt's.
 */
const errorJson = (error: unknown): string => {
  const out: Record<string, unknown> = {}
  if (error !== null && typeof error === "object") {
    for (const [key, value] of Object.entries(error)) if (Codecs_.jsonProblem(value) === undefined) out[key] = value
    const e = error as { _tag?: unknown; message?: unknown; name?: unknown }
    out._tag = typeof e._tag === "string" ? e._tag : typeof e.name === "string" ? e.name : "Error"
    if (typeof e.message === "string") out.message = e.message
  } else {
    out._tag = "Error"
    out.message = String(error)
  }
  const text = JSON.stringify(out)
  if (text !== SELF_INTERRUPTED) return text
  const { _tag, ...rest } = out
  return JSON.stringify({ ...rest, _tag })
}

/**
 * The stored error of a run that a handler's `Effect.interrupt` ended: an `Interrupt` (as the cause's reason is
 * tagged), read back as the interruption it was, recognised by this exact text. A handler's own error is never
 * stored as this text (see {@link errorJson}), even one of this tag and message; and the text is what 62a750d
 * first stored, so runs stored since read alike. It lives in the run's stored error, not in its journal, so a
 * compacted run keeps it.
 */
const SELF_INTERRUPTED = JSON.stringify({
  _tag: "Interrupt",
  message: "A handler interrupted the run (Effect.interrupt): it ended with that interruption"
})

/**
 * A finished run answered from the store: the watcher is told (so a handle is given for it, whose `result` and
 * `events` end with the stored outcome), and told how the run ended when that decides how its events end (a
 * stored interruption of its own, a cancel), then the stored outcome.
 */
const answer = (self: Any, info: RunInfo, watch: Watch | undefined): Effect.Effect<unknown, unknown, RunStore> =>
  Effect.suspend(() => {
    watch?.onStored?.()
    if (info.status === "failed" && info.error === SELF_INTERRUPTED) watch?.endedItself?.()
    if (info.status === "cancelled") watch?.cancelled?.()
    return storedOutcome(self, info)
  })

/**
 * A finished run's outcome, as stored: its result decoded, or its error (as stored JSON, with its `_tag`); a
 * run that interrupted itself ends with an interruption again, as it did live.
 */
const storedOutcome = (self: Any, info: RunInfo): Effect.Effect<unknown, unknown, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    if (info.status === "completed") {
      return yield* Effect.try({
        try: () => Codecs_.codecs(self).result.decode(JSON.parse(info.result ?? "null")),
        catch: (error) => storeError(store.name, `read the result of run ${info.runId}`, String(error))
      })
    }
    if (info.status === "failed" && info.error === SELF_INTERRUPTED) return yield* Effect.interrupt
    const stored = JSON.parse(info.error ?? "{}")
    return yield* Effect.fail(Object.assign(new StoredFailure(stored.message ?? info.status), stored))
  })

/**
 * A finished run's failure, read back from the store: the original error's `_tag`, `message` and JSON fields.
 *
 * @since 0.2.0
 * @category errors
 */
export class StoredFailure extends Error {}
