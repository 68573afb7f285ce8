/**
 * A durable run from its stored record to its end: `create` checks the workflow and its input and stores the run
 * (or finds it), `execute` takes its lease, reads its journal back (`rebuild.ts`), runs it with a journal,
 * keeps its inbox and stored status up to date while it runs here, and stores its end; a finished run answers
 * with its stored outcome (`storedOutcome`).
 */
import { Cause, Deferred, Duration, Effect, Exit, Fiber, Latch } from "effect"
import { type DurableError, RunBusyError, RunStoreError, WorkflowChangedError } from "../../DurableError.ts"
import type { AnyEvent } from "../../Event.ts"
import * as JournalWriter from "../../JournalWriter.ts"
import { isFinished, type RunInfo, type RunStatus, RunStore, type StatusUpdate } from "../../RunStore.ts"
import type { Any } from "../../Workflow.ts"
import {
  type UnhandledEventError,
  WorkflowCancelledError,
  type WorkflowInputError,
  type WorkflowValidationError
} from "../../WorkflowError.ts"
import { failCause } from "../lifecycle.ts"
import * as Prepare from "../prepare.ts"
import type { Transition } from "../record.ts"
import { isWaiting, type Run, runCompiled, sendFromOutside } from "../runtime.ts"
import * as Codecs_ from "./codecs.ts"
import * as Definition_ from "./definition.ts"
import { checkJournal, DEFINITION, explainChange, validation } from "./definition.ts"
import * as Entries_ from "./entries.ts"
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
    ? storedOutcome(self, info)
    : Effect.scoped(
        Effect.gen(function* () {
          const store = yield* RunStore
          const runId = info.runId
          let live: Run | undefined
          let writer: JournalWriter.JournalWriter | undefined
          let cancelled = false
          // Outside input given to the run, its routing journaled in one batch (see `deliver` below).
          let deliver:
            | ((run: Run, event: AnyEvent, consumed: number | undefined) => Effect.Effect<void, UnhandledEventError>)
            | undefined
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
                const run = live
                if (run === undefined || deliver === undefined || run.finished || !takes(run, event)) {
                  return Effect.succeed(false)
                }
                // Committed when `flush` returns, or with the run's end (a run that ends on this event).
                return Effect.as(
                  Effect.andThen(deliver(run, event, undefined), Effect.raceFirst(writer!.flush, Deferred.await(over))),
                  true
                )
              }),
            nudge: () => wake.openUnsafe(),
            cancel: () => {
              if (live === undefined || live.finished) return
              cancelled = true
              failCause(live, Cause.fail(new WorkflowCancelledError({ workflow: self.name, runId, by: "cancel()" })))
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
          const journal = yield* store.readJournal(runId)
          // The run re-read under the lease: another owner may have finished it meanwhile.
          const now = yield* store.get(runId)
          if (isFinished(now.status)) return yield* storedOutcome(self, now)
          const codecs = Codecs_.codecs(self)
          const entries = journal.map((e) => e.data)
          const rebuilt = yield* Effect.try({
            try: () => Rebuild_.rebuild(codecs, runId, entries.slice(1)),
            catch: (error) => storeError(store.name, `resume run ${runId}`, String((error as Error).message ?? error))
          })
          const journalWriter = yield* JournalWriter.make({
            lease,
            seq: entries.length,
            maxBatch: Number.MAX_SAFE_INTEGER,
            maxDelay: yield* Entries_.JournalDelay
          })
          writer = journalWriter
          if (entries.length === 0) {
            yield* journalWriter.append(JSON.stringify({ t: DEFINITION, def: Definition_.definition(self) }))
          }
          let problem: string | undefined
          let waiting = false
          // While outside input is routed, the entries it makes are held here, then queued in one piece with the
          // inbox message marked consumed: one batch, so a crash cannot keep one without the other. (Routing may
          // resume the answered invocation at once, whose entries follow in order.)
          let buffer: Array<string> | undefined
          // From the StopEvent on (returned, sent, or given from outside), the entries are held here and written
          // in one batch with the run's end: committed before it, the StopEvent's invocation would count as done
          // while the run is not, and a resume after a crash in between would find nothing left to run and stall.
          let final: Array<string> | undefined
          const finalConsumed: Array<number> = []
          /** The run's end: the held entries from the StopEvent on, the end entry and the status, in one batch. */
          const appendEnd = (ok: boolean, status: StatusUpdate) =>
            Effect.andThen(
              journalWriter.appendAll([...(final ?? []), JSON.stringify({ t: "end", ok })], {
                status,
                consumed: finalConsumed
              }),
              journalWriter.flush
            )
          // Uninterruptible: routing may end the run at once, and the run's end stops the fiber that delivers.
          deliver = (run, event, consumed) =>
            Effect.uninterruptible(
              Effect.suspend(() => {
                const entries: Array<string> = []
                buffer = entries
                let routing: Effect.Effect<void, UnhandledEventError>
                try {
                  routing = sendFromOutside(run, event)
                } finally {
                  buffer = undefined
                }
                if (final !== undefined) {
                  final.push(...entries)
                  if (consumed !== undefined) finalConsumed.push(consumed)
                  return routing
                }
                // A failed write fails the run through the writer; routing goes on regardless.
                const queued = Effect.ignore(
                  journalWriter.appendAll(entries, consumed === undefined ? undefined : { consumed: [consumed] })
                )
                return Effect.andThen(queued, routing)
              })
            )
          // `<runId>/`, which the journal's entries leave out of invocation ids.
          const prefix = runId.length + 1
          const record = (t: Transition) => {
            if (problem !== undefined) return
            let entry: string | undefined
            try {
              entry = Entries_.entryOf(codecs, t, prefix)
            } catch (error) {
              const message = error instanceof Error ? error.message : String(error)
              problem =
                error instanceof Codecs_.NotJournalable || t._tag !== "Operation"
                  ? message
                  : `the state after ctx.store.${t.operation.op} in step "${t.step}" (invocation ${t.invocationId}) cannot be journaled with the state schema: ${message}`
              if (live !== undefined) failCause(live, Cause.fail(validation(self.name, problem)))
              return
            }
            if (entry !== undefined) {
              if (final === undefined && stops(t)) final = []
              if (buffer !== undefined) buffer.push(entry)
              else if (final !== undefined) final.push(entry)
              else journalWriter.appendUnsafe(entry)
            }
            if (live !== undefined) {
              const now = isWaiting(live)
              if (now !== waiting) {
                waiting = now
                wake.openUnsafe()
              } else if (t._tag === "Operation" && t.operation.op === "waitFor") wake.openUnsafe()
            }
          }
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
                yield* Effect.catchTag(deliver(run, event, message.id), "UnhandledEventError", () => Effect.void)
              }
              const status: RunStatus = isWaiting(run) ? "waiting" : "running"
              if (status !== stored && !run.finished && !stopping(run)) {
                yield* journalWriter.appendAll([], { status: { status } })
                stored = status
              }
              yield* Effect.raceFirst(Effect.sleep(INBOX_POLL), wake.await)
            }
          }).pipe(Effect.catch(() => Effect.void))
          const keeper = yield* Effect.forkScoped(housekeeping)
          const [, decoded] = yield* Prepare.prepare(self, JSON.parse(info.input))
          const exit = yield* Effect.exit(
            runCompiled(Prepare.compiled(self) as never, decoded, {
              runId,
              record,
              // The run waits while its journal is behind the store: a crash then loses little work.
              pause: journalWriter.room,
              // The run's timeout counts from its creation, across resumes.
              startedAt: info.createdAt,
              // Under a durable run, waiting for outside input is not a stall: `Durable.send` may answer.
              outsideInput: true,
              publish: watch?.publish,
              lifecycle: watch?.lifecycle,
              onRun: (r) => {
                live = r
                Deferred.doneUnsafe(ready, Exit.succeed(r))
                watch?.onLive?.(handle)
              },
              ...(rebuilt.entries === 0 ? {} : { resume: Rebuild_.resumeFrom(codecs, rebuilt) })
            })
          )
          yield* Fiber.interrupt(keeper)
          // The run may have ended inside a `deliver` (an answer that finished it at once): let it queue its
          // entries and its inbox mark first, so the end comes after them.
          yield* Effect.yieldNow
          if (Exit.isSuccess(exit)) {
            const encoded = yield* Effect.try({
              try: () => JSON.stringify(codecs.result.encode(exit.value)),
              catch: (error) =>
                storeError(
                  store.name,
                  `store the result of run ${runId}`,
                  `the result cannot be held as JSON: ${error instanceof Error ? error.message : String(error)}`
                )
            }).pipe(
              // The run fails with it, and is stored as failed: never a result half-written as finished.
              Effect.tapError((error) => appendEnd(false, { status: "failed", error: errorJson(error) }))
            )
            yield* appendEnd(true, { status: "completed", result: encoded })
            return exit.value
          }
          if (!Cause.hasInterruptsOnly(exit.cause)) {
            yield* appendEnd(false, {
              status: cancelled ? "cancelled" : "failed",
              error: errorJson(Cause.squash(exit.cause))
            })
          }
          return yield* Effect.failCause(exit.cause)
        })
      )

/** Whether transition `t` routes a StopEvent: the run ends with it. */
const stops = (t: Transition): boolean =>
  (t._tag === "InvocationEnded" &&
    t.outcome._tag === "Returned" &&
    (t.outcome.event as { _tag?: unknown } | undefined)?._tag === "StopEvent") ||
  (t._tag === "Operation" &&
    t.operation.op === "send" &&
    t.operation.target === undefined &&
    t.operation.event._tag === "StopEvent") ||
  (t._tag === "OutsideInput" && t.event._tag === "StopEvent")

/** An error as JSON: its tag, message and the fields JSON can hold. */
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
  return JSON.stringify(out)
}

/** A finished run's outcome, as stored: its result decoded, or its error (as stored JSON, with its `_tag`). */
export const storedOutcome = (self: Any, info: RunInfo): Effect.Effect<unknown, unknown, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    if (info.status === "completed") {
      return yield* Effect.try({
        try: () => Codecs_.codecs(self).result.decode(JSON.parse(info.result ?? "null")),
        catch: (error) => storeError(store.name, `read the result of run ${info.runId}`, String(error))
      })
    }
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
