/**
 * Durable runs: a run that writes a journal as it goes (the interpreter's record of transitions, encoded
 * with the workflow's schemas and appended through a group-committing `JournalWriter`) and can be resumed
 * by its `runId` after a crash or a deploy. The same workflow value runs either way; durability is chosen
 * at the call, and a run without it pays nothing.
 *
 * @example
 * ```ts
 * import { Durable, RunStore } from "@effect-flow/core"
 *
 * const result = await Durable.runPromise(wf, { items: ["a", "b"] }, { runId: "order-42", layer: RunStore.layerMemory })
 * ```
 *
 * @since 0.2.0
 */
import { Cause, Duration, Effect, Exit, type Layer } from "effect"
import { type RunNotFoundError, RunStoreError, WorkflowChangedError } from "./DurableError.ts"
import * as Durable_ from "./internal/durable.ts"
import { failCause } from "./internal/lifecycle.ts"
import * as Prepare from "./internal/prepare.ts"
import type { Transition } from "./internal/record.ts"
import { type Run, runCompiled } from "./internal/runtime.ts"
import * as JournalWriter from "./JournalWriter.ts"
import { isFinished, type RunInfo, type RunStatus, RunStore } from "./RunStore.ts"
import type { Any, Workflow } from "./Workflow.ts"
import { Problem, type WorkflowError, WorkflowValidationError } from "./WorkflowError.ts"

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

const validation = (workflow: string, message: string) =>
  new WorkflowValidationError({
    workflow,
    problems: [new Problem({ check: "journal", message, steps: [], events: [] })]
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
> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    yield* Prepare.prepare(self, input)
    const inputProblem = Durable_.jsonProblem(input === undefined ? {} : input)
    if (inputProblem !== undefined) {
      return yield* validation(self.name, `the input cannot be journaled as JSON: ${inputProblem}`)
    }
    const runId = options?.runId ?? freshRunId()
    const def = Durable_.definition(self)
    const { run: info } = yield* store
      .create({
        runId,
        workflow: self.name,
        definitionHash: Durable_.hashOf(def),
        input: JSON.stringify(input === undefined ? {} : input)
      })
      .pipe(Effect.catchTag("WorkflowChangedError", (error) => explainChange(self, runId, def, error)))
    return yield* execute(self, info)
  }) as any

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
    const info = yield* store.get(runId)
    const def = Durable_.definition(self)
    if (info.workflow !== self.name || info.definitionHash !== Durable_.hashOf(def)) {
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
    const detailed = stored?.t === DEFINITION ? Durable_.definitionChanges(stored.def, def) : []
    const changes = [...error.changes.filter((c) => !c.startsWith("definition:") || detailed.length === 0), ...detailed]
    return yield* new WorkflowChangedError({ runId, workflow: self.name, changes })
  })

/** Run, resume or answer a stored run: its stored outcome when finished, otherwise on from its journal. */
const execute = (self: Any, info: RunInfo): Effect.Effect<unknown, unknown, any> =>
  isFinished(info.status)
    ? storedOutcome(self, info)
    : Effect.scoped(
        Effect.gen(function* () {
          const store = yield* RunStore
          const runId = info.runId
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
          const codecs = Durable_.codecs(self)
          const entries = journal.map((e) => e.data)
          const rebuilt = yield* Effect.try({
            try: () => Durable_.rebuild(codecs, entries.slice(1)),
            catch: (error) => storeError(store.name, `resume run ${runId}`, String((error as Error).message ?? error))
          })
          const writer = yield* JournalWriter.make({ lease, seq: entries.length, maxBatch: Number.MAX_SAFE_INTEGER })
          if (entries.length === 0) {
            yield* writer.append(JSON.stringify({ t: DEFINITION, def: Durable_.definition(self) }))
          }
          let live: Run | undefined
          let problem: string | undefined
          const record = (t: Transition) => {
            if (problem !== undefined) return
            let entry: string | undefined
            try {
              entry = Durable_.entryOf(codecs, t)
            } catch (error) {
              problem = error instanceof Error ? error.message : String(error)
              if (live !== undefined) failCause(live, Cause.fail(validation(self.name, problem)))
              return
            }
            if (entry !== undefined) writer.appendUnsafe(entry)
          }
          const [, decoded] = yield* Prepare.prepare(self, JSON.parse(info.input))
          const exit = yield* Effect.exit(
            runCompiled(Prepare.compiled(self) as never, decoded, {
              runId,
              record,
              onRun: (r) => {
                live = r
              },
              ...(rebuilt.entries === 0 ? {} : { resume: Durable_.resumeFrom(codecs, rebuilt) })
            })
          )
          if (Exit.isSuccess(exit)) {
            const encoded = yield* Effect.try({
              try: () => JSON.stringify(codecs.result.encode(exit.value)),
              catch: (error) =>
                storeError(
                  store.name,
                  `store the result of run ${runId}`,
                  `the result cannot be held as JSON: ${error instanceof Error ? error.message : String(error)}`
                )
            })
            yield* writer.appendAll([JSON.stringify({ t: "end", ok: true })], {
              status: { status: "completed", result: encoded }
            })
            yield* writer.flush
            return exit.value
          }
          if (!Cause.hasInterruptsOnly(exit.cause)) {
            yield* writer.appendAll([JSON.stringify({ t: "end", ok: false })], {
              status: { status: "failed", error: errorJson(Cause.squash(exit.cause)) }
            })
            yield* writer.flush
          }
          return yield* Effect.failCause(exit.cause)
        })
      )

/** An error as JSON: its tag, message and the fields JSON can hold. */
const errorJson = (error: unknown): string => {
  const out: Record<string, unknown> = {}
  if (error !== null && typeof error === "object") {
    for (const [key, value] of Object.entries(error)) if (Durable_.jsonProblem(value) === undefined) out[key] = value
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
        try: () => Durable_.codecs(self).result.decode(JSON.parse(info.result ?? "null")),
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
export const runPromise = <W extends Any>(
  self: W,
  input: Workflow.InputEncoded<W>,
  options: RunOptions & { readonly layer: Layer.Layer<RunStore | Workflow.Services<W>, any, never> }
): Promise<Workflow.Output<W>> =>
  Effect.runPromiseExit(Effect.provide(run(self, input, options), options.layer) as Effect.Effect<any, unknown>).then(
    (exit) => {
      if (Exit.isSuccess(exit)) return exit.value
      const found = Cause.findError(exit.cause)
      throw found._tag === "Success" ? found.success : Cause.squash(exit.cause)
    }
  )
