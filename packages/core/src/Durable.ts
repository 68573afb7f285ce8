/**
 * Durable runs: a run that writes a journal as it goes (the interpreter's record of transitions, encoded
 * with the workflow's schemas and appended through a group-committing `JournalWriter`) and can be resumed
 * by its `runId` after a crash or a deploy. The same workflow value runs either way; durability is chosen
 * at the call, and a run without it pays nothing.
 *
 * - `run` / `runPromise`: run with a journal (a finished `runId` answers with its stored outcome, an
 *   unfinished one is resumed); `start` / `startPromise`: the same as a handle; `resume`: go on by `runId`.
 * - `send`: outside input (a `HumanResponseEvent`, a `waitFor` answer) for a stored run, live here, live in
 *   another process (through its inbox, read within a second) or stopped (read first by its resume).
 * - `status` / `list`: what the store holds; `"waiting"` means only outside input can move the run.
 *
 * @example
 * ```ts
 * import { Durable, RunStore } from "@effect-flow/core"
 *
 * const result = await Durable.runPromise(wf, { items: ["a", "b"] }, { runId: "order-42", layer: RunStore.layerMemory })
 * // a run waiting for an answer, from any process:
 * await Effect.runPromise(Durable.send(wf, "order-43", new HumanResponseEvent({ response: "yes" })).pipe(Effect.provide(layer)))
 * ```
 *
 * @since 0.2.0
 */
import { Cause, Data, Deferred, Duration, Effect, Exit, Fiber, Latch, Layer, Schema, Scope, type Stream } from "effect"
import { RunBusyError, type RunNotFoundError, RunStoreError, WorkflowChangedError } from "./DurableError.ts"
import { type AnyEvent, isEvent, tagOf } from "./Event.ts"
import * as Codecs_ from "./internal/durable/codecs.ts"
import * as Definition_ from "./internal/durable/definition.ts"
import * as Entries_ from "./internal/durable/entries.ts"
import * as Rebuild_ from "./internal/durable/rebuild.ts"
import { EventFeed } from "./internal/handle.ts"
import { failCause } from "./internal/lifecycle.ts"
import * as Prepare from "./internal/prepare.ts"
import { causeToError, startPromiseHandle } from "./internal/promiseHandle.ts"
import type { Transition } from "./internal/record.ts"
import { isWaiting, type Run, runCompiled, sendFromOutside } from "./internal/runtime.ts"
import * as JournalWriter from "./JournalWriter.ts"
import { isFinished, type RunInfo, type RunStatus, RunStore, type StatusUpdate } from "./RunStore.ts"
import type { Any, PromiseHandle, ProvidedBy, ProvidesServices, WatchOptions, Workflow } from "./Workflow.ts"
import {
  Problem,
  UnhandledEventError,
  WorkflowCancelledError,
  type WorkflowError,
  type WorkflowInputError,
  WorkflowValidationError
} from "./WorkflowError.ts"

/**
 * The errors of a durable run's store: `RunStoreError | RunNotFoundError | WorkflowChangedError | RunBusyError`.
 *
 * @since 0.2.0
 * @category models
 */
export type DurableError = import("./DurableError.ts").DurableError

/**
 * A stored run, as `Durable.status` and `Durable.list` report it. `result` and `error` are as stored
 * (encoded JSON).
 *
 * @since 0.2.0
 * @category models
 */
export interface Status {
  readonly runId: string
  readonly workflow: string
  readonly status: RunStatus
  readonly createdAt: number
  readonly updatedAt: number
  readonly result?: string | undefined
  readonly error?: string | undefined
}

/**
 * Options of {@link run}: the `runId` (a fresh one when absent).
 *
 * @since 0.2.0
 * @category models
 */
export interface RunOptions {
  readonly runId?: string | undefined
}

/** How long a lease lives without renewal; renewed every third of it. */
const LEASE_TTL = Duration.seconds(6)
const LEASE_RENEW = Duration.seconds(2)
const OWNER = `owner-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

const proc = (globalThis as { process?: { pid?: number; env?: Record<string, string | undefined> } }).process
const PID = proc?.pid ?? 0
const HOST = proc?.env?.HOSTNAME ?? "localhost"

const freshRunId = () => `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

const validation = (workflow: string, message: string, events: ReadonlyArray<string> = []) =>
  new WorkflowValidationError({
    workflow,
    problems: [new Problem({ check: "journal", message, steps: [], events })]
  })

/**
 * What keeps a workflow from being journaled, checked before a durable run starts: each event class it declares
 * must be a `Schema.TaggedClass` or an `Event.TaggedData` class (a resume rebuilds events from their fields), and
 * the initial state must encode with the state schema (or be plain JSON without one).
 */
const journalProblems = (self: Any): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  const builtIn = new Set(["StartEvent", "StopEvent", "InputRequiredEvent", "HumanResponseEvent", "StepFailedEvent"])
  const seen = new Set<unknown>()
  const classes: Array<readonly [unknown, ReadonlyArray<string>]> = []
  for (const s of self.steps) {
    for (const cls of [...s.accepts, ...(s.emits ?? []), ...(s.writes ?? [])]) classes.push([cls, [s.name]])
  }
  for (const cls of self.config.outsideInput ?? []) classes.push([cls, []])
  for (const [cls, steps] of classes) {
    const tag = tagOf(cls as never)
    if (seen.has(cls) || tag === undefined || builtIn.has(tag)) continue
    seen.add(cls)
    const data = typeof cls === "function" && (cls as { prototype?: unknown }).prototype instanceof Data.Class
    if (!Schema.isSchema(cls) && !data) {
      problems.push(
        new Problem({
          check: "journal",
          message: `event ${tag} is neither a Schema.TaggedClass nor an Event.TaggedData class, so a durable run cannot journal it and a resume could not rebuild it: declare it with Schema.TaggedClass (or Event.TaggedData, with fields JSON can hold).`,
          steps: steps.length > 0 ? [...steps] : [],
          events: [tag]
        })
      )
    }
  }
  try {
    Codecs_.codecs(self).state.encode(self.config.initialState ?? {})
  } catch (error) {
    problems.push(
      new Problem({
        check: "journal",
        message: `the initialState cannot be journaled: ${error instanceof Error ? error.message : String(error)}`,
        steps: [],
        events: []
      })
    )
  }
  return problems
}

const checkJournal = (self: Any): Effect.Effect<void, WorkflowValidationError> =>
  Effect.suspend(() => {
    const problems = journalProblems(self)
    return problems.length === 0
      ? Effect.void
      : Effect.fail(new WorkflowValidationError({ workflow: self.name, problems }))
  })

const storeError = (store: string, operation: string, reason: string) => new RunStoreError({ store, operation, reason })

/** The first journal entry of a run: its definition, part by part, to say what changed on a resume. */
const DEFINITION = "def"

/**
 * Run a workflow with a journal. A `runId` that finished returns its stored outcome without running a
 * handler; one that is unfinished is resumed from its journal (a different input or definition:
 * `WorkflowChangedError` naming what changed). Fails with the handler's error, a `WorkflowError`, or a
 * `DurableError`.
 *
 * @example
 * ```ts
 * const result = yield* Durable.run(wf, { items: ["a", "b"] }, { runId: "order-42" })
 * // provide a store: Effect.provide(RunStore.layerMemory), or SqliteRunStore.layer({ filename }) from @effect-flow/sql
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const run = <W extends Any>(
  self: W,
  input: Workflow.InputEncoded<W>,
  options?: RunOptions
): Effect.Effect<
  Workflow.Output<W>,
  Workflow.Error<W> | WorkflowError | DurableError,
  Workflow.Services<W> | RunStore
> => Effect.flatMap(create(self, input, options?.runId), (info) => execute(self, info)) as any

/** Check the input, then create the stored run (or find it: same workflow and input, or what changed). */
const create = (
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

/**
 * Continue a stored run from its journal, with the workflow it started with. On a finished run, its stored
 * outcome, decoded, without running a handler. `RunNotFoundError` for an unknown `runId`.
 *
 * @example
 * ```ts
 * const result = yield* Durable.resume(wf, "order-42")
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const resume = <W extends Any>(
  self: W,
  runId: string
): Effect.Effect<
  Workflow.Output<W>,
  Workflow.Error<W> | WorkflowError | DurableError,
  Workflow.Services<W> | RunStore
> =>
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
  }) as any

/** Say part by part what changed, from the definition stored as the journal's first entry. */
const explainChange = (
  self: Any,
  runId: string,
  def: Record<string, string>,
  error: WorkflowChangedError
): Effect.Effect<never, WorkflowChangedError | RunStoreError | RunNotFoundError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const first = yield* store.readJournal(runId, { from: 0 }).pipe(Effect.map((entries) => entries[0]))
    const stored = first === undefined ? undefined : JSON.parse(first.data)
    const detailed = stored?.t === DEFINITION ? Definition_.definitionChanges(stored.def, def) : []
    const changes = [...error.changes.filter((c) => !c.startsWith("definition:") || detailed.length === 0), ...detailed]
    return yield* new WorkflowChangedError({ runId, workflow: self.name, changes })
  })

/** How a run is watched while it runs here: `Durable.start`'s handle. */
interface Watch {
  readonly publish?: ((event: AnyEvent) => void) | undefined
  readonly lifecycle?: boolean | undefined
  /** Called once the run is live in this process (not for a finished run's stored outcome). */
  readonly onLive?: ((live: Live) => void) | undefined
}

/** A durable run live in this process, as `Durable.send` and a handle reach it. */
interface Live {
  readonly runId: string
  /**
   * Give `event` to the run now if something takes it (an open wait, a step that accepts it), and wait until
   * its routing is committed. `false`: nothing takes it now (it belongs in the inbox).
   */
  readonly offer: (event: AnyEvent) => Effect.Effect<boolean, UnhandledEventError | JournalWriter.WriteError>
  /** Look at the inbox now. */
  readonly nudge: () => void
  /** End the run as `"cancelled"`. */
  readonly cancel: () => void
}

/** The runs live in this process, per store (a runId names a run within one store). */
const liveRuns = new WeakMap<object, Map<string, Live>>()
const liveIn = (store: object): Map<string, Live> => {
  let runs = liveRuns.get(store)
  if (runs === undefined) liveRuns.set(store, (runs = new Map()))
  return runs
}

/** How often a live run reads its inbox for outside input stored by another process. */
const INBOX_POLL = Duration.millis(500)

/** The run is being stopped here (its scope closing): what it does now says nothing of the stored run. */
const stopping = (run: Run): boolean => run.closing

/** Whether something takes `ev` now: the end (a StopEvent), a step that accepts it, or an open wait it matches. */
const takes = (run: Run, ev: AnyEvent): boolean =>
  ev._tag === "StopEvent" ||
  run.compiled.routes.has(ev._tag) ||
  run.waiters.some(
    (w) =>
      w.tag === ev._tag &&
      (w.id === undefined || (ev as { id?: unknown }).id === w.id) &&
      (w.match === undefined || matchOrThrows(w.match, ev))
  )

/** A `match` that throws counts as a match: routing then ends the run naming the step (the handler boundary). */
const matchOrThrows = (match: (event: any) => boolean, ev: AnyEvent): boolean => {
  try {
    return match(ev) === true
  } catch {
    return true
  }
}

/** Run, resume or answer a stored run: its stored outcome when finished, otherwise on from its journal. */
const execute = (self: Any, info: RunInfo, watch?: Watch): Effect.Effect<unknown, unknown, any> =>
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
const storedOutcome = (self: Any, info: RunInfo): Effect.Effect<unknown, unknown, RunStore> =>
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

const toStatus = (info: RunInfo): Status => ({
  runId: info.runId,
  workflow: info.workflow,
  status: info.status,
  createdAt: info.createdAt,
  updatedAt: info.updatedAt,
  ...(info.result === undefined ? {} : { result: info.result }),
  ...(info.error === undefined ? {} : { error: info.error })
})

/**
 * The stored status of a run. `"waiting"` means only outside input can move it.
 *
 * @example
 * ```ts
 * const { status, result } = yield* Durable.status("order-42")
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const status = (runId: string): Effect.Effect<Status, RunNotFoundError | RunStoreError, RunStore> =>
  Effect.flatMap(RunStore, (store) => Effect.map(store.get(runId), toStatus))

/**
 * The stored runs' statuses, newest created first.
 *
 * @example
 * ```ts
 * const failed = yield* Durable.list({ workflow: "orders", status: "failed" })
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const list = (options?: {
  readonly workflow?: string | undefined
  readonly status?: RunStatus | undefined
}): Effect.Effect<ReadonlyArray<Status>, RunStoreError, RunStore> =>
  Effect.flatMap(RunStore, (store) => Effect.map(store.list(options), (runs) => runs.map(toStatus)))

/**
 * What {@link send} fails with: the event cannot go to this run (it has ended, or the workflow does not declare
 * the event's class), it cannot be journaled (`WorkflowValidationError`, check `"journal"`), or the store failed.
 *
 * @example
 * ```ts
 * Durable.send(wf, "order-42", answer).pipe(Effect.catchTag("UnhandledEventError", (e) => Effect.logWarning(e.message)))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type SendError = UnhandledEventError | WorkflowValidationError | DurableError

/**
 * Give outside input to a stored run: a `HumanResponseEvent`, the answer to a `ctx.waitFor`, or any event a
 * step accepts. A run live in this process gets it at once when something takes it now (an open wait it
 * matches, a step that accepts it); otherwise it is stored in the run's inbox, which a live owner in another
 * process reads within a second and a resume reads first. An event that nothing takes yet stays in the inbox
 * until a wait it matches opens. When `send` returns, the event is committed (journaled or in the inbox).
 *
 * The event's class must be one the workflow declares (a step's `accepts`, `emits` or `writes`, or
 * `defineWorkflow({ outsideInput })`), so that a resume in another process can decode it.
 *
 * @example
 * ```ts
 * yield* Durable.send(approval, "order-42", new HumanResponseEvent({ response: "yes" }))
 * const result = yield* Durable.resume(approval, "order-42")
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const send = <W extends Any>(
  self: W,
  runId: string,
  event: AnyEvent
): Effect.Effect<void, SendError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const encoded = yield* encodeOutside(self, event)
    const info = yield* store.get(runId)
    if (info.workflow !== self.name) {
      return yield* new WorkflowChangedError({
        runId,
        workflow: info.workflow,
        changes: [`workflow name: stored "${info.workflow}", given "${self.name}"`]
      })
    }
    if (isFinished(info.status)) return yield* ended(self.name, event, `but run ${runId} has already ${info.status}.`)
    const here = liveIn(store).get(runId)
    if (here !== undefined && (yield* here.offer(event))) return
    yield* store.putInbox(runId, encoded)
    here?.nudge()
  })

const ended = (workflow: string, event: unknown, reason: string) =>
  new UnhandledEventError({ workflow, step: "(outside)", event: isEvent(event) ? event._tag : String(event), reason })

/** An outside event as its inbox message: encoded with the workflow's codecs, and decodable by them. */
const encodeOutside = (
  self: Any,
  event: AnyEvent
): Effect.Effect<string, UnhandledEventError | WorkflowValidationError> =>
  Effect.suspend((): Effect.Effect<string, UnhandledEventError | WorkflowValidationError> => {
    if (!isEvent(event)) {
      return Effect.fail(ended(self.name, event, "which is not an event: send an instance of an event class."))
    }
    if (!declared(self).has(event._tag)) {
      return Effect.fail(
        ended(
          self.name,
          event,
          `which workflow "${self.name}" does not declare, so a resume could not read it: list ${event._tag} in defineWorkflow({ outsideInput: [${event._tag}] }) or in a step's accepts.`
        )
      )
    }
    try {
      return Effect.succeed(JSON.stringify(Codecs_.codecs(self).event(event)))
    } catch (error) {
      return Effect.fail(validation(self.name, error instanceof Error ? error.message : String(error)))
    }
  })

/** The event tags a workflow declares (steps' accepts, emits and writes, `outsideInput`, the built-in events). */
const declared = (self: Any): ReadonlySet<string> => {
  const tags = new Set(["StartEvent", "StopEvent", "InputRequiredEvent", "HumanResponseEvent", "StepFailedEvent"])
  for (const s of self.steps) {
    for (const cls of [...s.accepts, ...(s.emits ?? []), ...(s.writes ?? [])]) {
      const tag = tagOf(cls as never)
      if (tag !== undefined) tags.add(tag)
    }
  }
  for (const cls of self.config.outsideInput ?? []) {
    const tag = tagOf(cls as never)
    if (tag !== undefined) tags.add(tag)
  }
  return tags
}

/**
 * A durable run started with {@link start}: `runId`, the run's `events` (from this process's part of the run:
 * a resumed run shows what happens from the resume on, and input requests still open again), `send` (as
 * {@link send}), `result`, and `cancel`, which ends the run as `"cancelled"` (`result` then fails with
 * `WorkflowCancelledError`).
 *
 * @example
 * ```ts
 * const handle: Durable.Handle<boolean, WorkflowError, AskApproval | StopEvent<boolean>> = yield* Durable.start(approval, input)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Handle<Output, E, Events extends AnyEvent = AnyEvent> {
  readonly runId: string
  readonly events: Stream.Stream<Events, E>
  send(event: AnyEvent): Effect.Effect<void, SendError>
  readonly result: Effect.Effect<Output, E>
  readonly cancel: Effect.Effect<void>
}

/**
 * Options of {@link start}: the `runId` (a fresh one when absent) and what to watch (`lifecycle`).
 *
 * @example
 * ```ts
 * yield* Durable.start(wf, input, { runId: "order-42", lifecycle: true })
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface StartOptions extends RunOptions, WatchOptions {}

/**
 * `W` when `L` provides the `RunStore` and every service the workflow's steps need; otherwise an object type whose
 * one key says what is missing, so the compiler names it at the call site (as `Workflow.ProvidesServices`).
 *
 * @example
 * ```ts
 * type Ok = Durable.ProvidesStore<typeof wf, Layer.Layer<RunStore.RunStore>> // typeof wf, when its steps need no service
 * ```
 *
 * @since 0.2.0
 * @category type-level
 */
export type ProvidesStore<W, L> = [RunStore] extends [ProvidedBy<L>]
  ? ProvidesServices<W, L>
  : {
      readonly "missing RunStore: pass { layer } with a store, e.g. RunStore.layerMemory or SqliteRunStore.layer": RunStore
    }

type LifecycleOf<O> = "lifecycle" extends keyof O ? (true extends O[keyof O & "lifecycle"] ? true : false) : false

/**
 * {@link run} as a handle, like `Workflow.start`. The run lives in the caller's scope: closing the scope stops
 * the run in this process as a crash or a deploy would (its lease is released, it stays resumable, its status
 * stays `"running"` or `"waiting"`); `cancel` ends it as `"cancelled"`. Fails to start with `RunBusyError`
 * when another live process owns the run. On a finished `runId`, `result` is its stored outcome and `events`
 * is empty.
 *
 * @example
 * ```ts
 * const handle = yield* Durable.start(approval, { amount: 100 }, { runId: "order-42" })
 * yield* handle.send(new HumanResponseEvent({ response: "yes" }))
 * const result = yield* handle.result
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const start = <W extends Any, const O extends StartOptions = {}>(
  self: W,
  input: Workflow.InputEncoded<W>,
  options?: O
): Effect.Effect<
  Handle<Workflow.Output<W>, Workflow.Error<W> | WorkflowError | DurableError, Workflow.Events<W, LifecycleOf<O>>>,
  WorkflowValidationError | WorkflowInputError | DurableError,
  Workflow.Services<W> | RunStore | Scope.Scope
> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const info = yield* create(self, input, options?.runId)
    // Held until read, and ended with the run (as `Workflow.start`'s events are).
    const feed = new EventFeed()
    // The run live here, or `undefined` for a finished run's stored outcome; a failure before the run is live
    // (the lease held elsewhere, a store error) fails `start` itself.
    const ready = Deferred.makeUnsafe<Live | undefined, unknown>()
    const fiber = yield* Effect.forkScoped(
      Effect.onExit(
        execute(self, info, {
          publish: (ev) => {
            feed.publish(ev)
          },
          lifecycle: options?.lifecycle,
          onLive: (live) => Deferred.doneUnsafe(ready, Exit.succeed(live))
        }),
        (exit) =>
          Effect.sync(() => {
            Deferred.doneUnsafe(ready, Exit.isSuccess(exit) ? Exit.succeed(undefined) : Exit.failCause(exit.cause))
            feed.close(exit)
          })
      ),
      { startImmediately: true }
    )
    const live = yield* Deferred.await(ready)
    return {
      runId: info.runId,
      events: feed.stream,
      send: (event: AnyEvent) => Effect.provideService(send(self, info.runId, event), RunStore, store),
      result: Fiber.join(fiber),
      cancel: Effect.suspend(() => {
        live?.cancel()
        return Effect.asVoid(Fiber.await(fiber))
      })
    }
  }) as any

/**
 * {@link start} from Promise code, with the store (and the steps' services) in `layer`, built for the run
 * and released when it ends. The handle is `Workflow.PromiseHandle`; `result` rejects with the original error
 * instance.
 *
 * @example
 * ```ts
 * const handle = await Durable.startPromise(approval, { amount: 100 }, { runId: "order-42", layer: SqliteRunStore.layer({ filename: "runs.db" }) })
 * await handle.send(new HumanResponseEvent({ response: "yes" }))
 * console.log(await handle.result)
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const startPromise = async <
  W extends Any,
  L extends Layer.Layer<any, any, never>,
  const O extends StartOptions = {}
>(
  self: ProvidesStore<W, L>,
  input: Workflow.InputEncoded<W>,
  options: O & { readonly layer: L }
): Promise<PromiseHandle<Workflow.Output<W>, Workflow.Events<W, LifecycleOf<O>>>> => {
  const wf = self as W
  const scope = Scope.makeUnsafe()
  const started = Scope.provide(
    Effect.flatMap(Layer.build(options.layer as Layer.Layer<any, unknown>), (context) =>
      Effect.provideContext(start(wf, input, options), context)
    ),
    scope
  ) as Effect.Effect<Handle<unknown, unknown, any>, unknown>
  return startPromiseHandle(wf.name, started, scope, (effect) =>
    Effect.runPromiseExit(effect as Effect.Effect<any, unknown>)
  ) as Promise<PromiseHandle<Workflow.Output<W>, Workflow.Events<W, LifecycleOf<O>>>>
}

/**
 * {@link run} from Promise code, with the store (and the steps' services) in `layer`. Rejects with the
 * original error instance.
 *
 * @example
 * ```ts
 * const result = await Durable.runPromise(wf, input, { runId: "order-42", layer: SqliteRunStore.layer({ filename: "runs.db" }) })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const runPromise = <W extends Any, L extends Layer.Layer<any, any, never>>(
  self: ProvidesStore<W, L>,
  input: Workflow.InputEncoded<W>,
  options: RunOptions & { readonly layer: L }
): Promise<Workflow.Output<W>> =>
  Effect.runPromiseExit(
    Effect.provide(run(self as W, input, options), options.layer) as Effect.Effect<any, unknown>
  ).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw causeToError(exit.cause)
  })

/**
 * Check a workflow against the live runs the store holds under its name: fails with `WorkflowChangedError`
 * when a `"running"` or `"waiting"` run of that name started with a different definition (steps, what they
 * accept, emit and write, the schemas), naming the run and what changed. A runner calls it before taking
 * runs (`Distributed.layer` does), so a deploy with a changed definition is refused while old runs are live:
 * drain them first, or deploy the change under a new name.
 *
 * @example
 * ```ts
 * yield* Durable.checkDefinition(wf) // before serving runs of wf from this process
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const checkDefinition = (
  self: Any
): Effect.Effect<void, WorkflowChangedError | RunStoreError | RunNotFoundError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const def = Definition_.definition(self)
    const hash = Definition_.hashOf(def)
    for (const status of ["running", "waiting"] as const) {
      const live = yield* store.list({ workflow: self.name, status })
      const other = live.find((info) => info.definitionHash !== hash)
      if (other !== undefined) {
        return yield* explainChange(
          self,
          other.runId,
          def,
          new WorkflowChangedError({
            runId: other.runId,
            workflow: self.name,
            changes: [`definition: stored ${other.definitionHash}, given ${hash}`]
          })
        )
      }
    }
  })

/**
 * An event of this workflow as JSON text, encoded with its class's schema as the journal holds it: for
 * transports that carry a durable run's events or outside input to another process (the cluster does). The
 * event's class must be one the workflow declares (a step's `accepts`, `emits` or `writes`, `outsideInput`, or
 * a built-in event).
 *
 * @example
 * ```ts
 * const text = yield* Durable.encodeEvent(approval, new HumanResponseEvent({ response: "yes" }))
 * const event = yield* Durable.decodeEvent(approval, text)
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const encodeEvent = (
  self: Any,
  event: AnyEvent
): Effect.Effect<string, UnhandledEventError | WorkflowValidationError> => encodeOutside(self, event)

/**
 * The event that {@link encodeEvent} encoded, decoded with the workflow's classes. Text that is not such an
 * event fails with `WorkflowValidationError` (check `"journal"`) saying why.
 *
 * @example
 * ```ts
 * const event = yield* Durable.decodeEvent(approval, '{"_tag":"HumanResponseEvent","response":"yes"}')
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const decodeEvent = (self: Any, text: string): Effect.Effect<AnyEvent, WorkflowValidationError> =>
  Effect.try({
    try: () => Codecs_.codecs(self).decodeEvent(JSON.parse(text)),
    catch: (error) => validation(self.name, error instanceof Error ? error.message : String(error))
  })

/**
 * One entry of a durable run's journal, read with {@link readEntry}: what the run did, in one shape whatever
 * version of effect-flow wrote it. `t` says what it is: `"def"` the workflow's definition (`def`, the first
 * entry); `"r"` an event (`ev`, encoded) routed to step `to` as invocation `i`; `"s"` attempt `a` of `i`
 * started; `"o"` its step-context operation number `q` (`op`: `"send"`, `"get"`, `"set"`, `"update"`, `"edit"`
 * with the state after it in `st`, `"collect"` with `ev`, `need` and the round it completed in `tk`, `"write"`
 * with `ev`, `"waitFor"` with its request `rq` and deadline `dl`); `"w"` the answer `ev` of its `waitFor` `q`;
 * `"e"` `i` ended (`k`: `"R"` returned, `"F"` failed, `"B"` failed and backs off); `"b"` / `"d"` a retry
 * scheduled / due as attempt `a`; `"q"` an `InputRequiredEvent` (`ev`) went to the caller; `"x"` outside input
 * came in; `"end"` the run ended (`ok`). `i` is the invocation's `ctx.invocationId`.
 *
 * @since 0.2.0
 * @category reading
 */
export type Entry = Entries_.Entry

/**
 * Read one entry of run `runId`'s journal (the `data` of what `RunStore.readJournal` returns) as an
 * {@link Entry}. The journal keeps entries compact (no keys, invocation ids without the run's id), and journals
 * written by earlier versions hold objects: read entries through this, not with `JSON.parse`. Throws on text
 * that is not JSON.
 *
 * @example
 * ```ts
 * const store = yield* RunStore.RunStore
 * const entries = (yield* store.readJournal("order-42")).map((e) => Durable.readEntry("order-42", e.data))
 * const ended = entries.filter((e) => e.t === "e" && e.k !== "B").map((e) => e.i)
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const readEntry: (runId: string, data: string) => Entry = Entries_.readEntry
