/**
 * What a durable-run store must do: keep each run's start, status and outcome, an append-only journal of
 * opaque encoded entries written in atomic batches, a lease naming the one process that owns the run, and an
 * inbox of outside input. The engine sees this service only; `RunStore.layerMemory` keeps runs in memory (tests),
 * `SqliteRunStore.layer` and `SqlRunStore.layer` (package `@effect-flow/sql`) keep them in SQLite or Postgres.
 *
 * Every value the store keeps (input, journal entries, inbox messages, result, error) is a string of encoded
 * JSON that the store never parses. Times are epoch milliseconds read from effect's `Clock`.
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Layer, Schema } from "effect"
import { RunBusyError, RunNotFoundError, RunStoreError, WorkflowChangedError } from "./DurableError.ts"

/**
 * Where a run is: `"running"` (owned by a live process, or by one that died and was not resumed yet),
 * `"waiting"` (only outside input can move it), or finished: `"completed"`, `"failed"`, `"cancelled"`.
 *
 * @since 0.1.0
 * @category models
 */
export const RunStatus = Schema.Literals(["running", "waiting", "completed", "failed", "cancelled"])

/**
 * @since 0.1.0
 * @category models
 */
export type RunStatus = typeof RunStatus.Type

/**
 * Whether a status is final: `"completed"`, `"failed"` or `"cancelled"`.
 *
 * @since 0.1.0
 * @category predicates
 */
export const isFinished = (status: RunStatus): boolean =>
  status === "completed" || status === "failed" || status === "cancelled"

/**
 * A stored run as the store knows it.
 *
 * @since 0.1.0
 * @category models
 */
export interface RunInfo {
  readonly runId: string
  readonly workflow: string
  /** The hash of the workflow definition that started the run. */
  readonly definitionHash: string
  /** The run's input, encoded JSON. */
  readonly input: string
  readonly status: RunStatus
  /** Epoch milliseconds. */
  readonly createdAt: number
  /** Epoch milliseconds of the last change (an append, a status change). */
  readonly updatedAt: number
  /** The outcome of a completed run, encoded JSON. */
  readonly result?: string | undefined
  /** The failure of a failed or cancelled run, encoded JSON. */
  readonly error?: string | undefined
  /** How many journal entries were appended: the sequence number the next entry gets. */
  readonly journalLength: number
  /** Whether the journal and inbox were dropped, keeping the outcome (`compact`). */
  readonly compacted: boolean
}

/**
 * What `create` needs to start a run.
 *
 * @since 0.1.0
 * @category models
 */
export interface NewRun {
  readonly runId: string
  readonly workflow: string
  readonly definitionHash: string
  /** The input, encoded JSON. */
  readonly input: string
}

/**
 * One journal entry: its sequence number in the run (0, 1, 2, ...) and its encoded JSON.
 *
 * @since 0.1.0
 * @category models
 */
export interface JournalEntry {
  readonly seq: number
  readonly data: string
}

/**
 * One outside message in a run's inbox, with the id that `append`'s `consumed` marks.
 *
 * @since 0.1.0
 * @category models
 */
export interface InboxMessage {
  readonly id: number
  /** Encoded JSON. */
  readonly data: string
  /** Epoch milliseconds. */
  readonly createdAt: number
}

/**
 * Who asks for a lease: an `owner` id unique to the caller (one per process and run is enough), its process
 * id and host, and how long the lease lasts unless renewed.
 *
 * @since 0.1.0
 * @category models
 */
export interface LeaseRequest {
  readonly owner: string
  readonly pid: number
  readonly host: string
  readonly ttl: Duration.Input
}

/**
 * A held lease. `token` grows with every acquisition of the run, so a write carrying an older token (from a
 * process that lost the lease) is refused.
 *
 * @since 0.1.0
 * @category models
 */
export interface Lease {
  readonly runId: string
  readonly owner: string
  readonly pid: number
  readonly host: string
  readonly token: number
  /** Epoch milliseconds. */
  readonly expiresAt: number
  /** The ttl it was acquired with, in milliseconds, reused by `renew`. */
  readonly ttlMillis: number
}

/**
 * A change of a run's status, written in the same transaction as a batch.
 *
 * @since 0.1.0
 * @category models
 */
export interface StatusUpdate {
  readonly status: RunStatus
  /** Encoded JSON; for `"completed"`. */
  readonly result?: string | undefined
  /** Encoded JSON; for `"failed"` and `"cancelled"`. */
  readonly error?: string | undefined
}

/**
 * One group-commit batch: entries appended at sequence numbers `seq`, `seq + 1`, ...; optionally a status change
 * and inbox messages marked consumed. All of it is written in one transaction, or none of it.
 *
 * @since 0.1.0
 * @category models
 */
export interface Batch {
  /** The sequence number of the first entry: the run's `journalLength` before this batch. */
  readonly seq: number
  readonly entries: ReadonlyArray<string>
  readonly status?: StatusUpdate | undefined
  /** Inbox message ids now consumed (their content is journaled by the entries). */
  readonly consumed?: ReadonlyArray<number> | undefined
}

/**
 * Filters of `list`.
 *
 * @since 0.1.0
 * @category models
 */
export interface ListOptions {
  readonly workflow?: string | undefined
  readonly status?: RunStatus | undefined
  readonly limit?: number | undefined
}

/**
 * The operations of a run store. Each is atomic; none parses the JSON it keeps.
 *
 * @since 0.1.0
 * @category models
 */
export interface Shape {
  /** The file or database, as errors name it. */
  readonly name: string
  /**
   * Create a run, or get it if `runId` exists. An existing run started by another workflow name, definition
   * hash or input fails with `WorkflowChangedError` listing what differs. A new run is `"running"`.
   */
  readonly create: (
    run: NewRun
  ) => Effect.Effect<{ readonly run: RunInfo; readonly created: boolean }, RunStoreError | WorkflowChangedError>
  readonly get: (runId: string) => Effect.Effect<RunInfo, RunNotFoundError | RunStoreError>
  /** Stored runs, newest created first. */
  readonly list: (options?: ListOptions) => Effect.Effect<ReadonlyArray<RunInfo>, RunStoreError>
  /**
   * Take the run's lease. Held by another owner: `RunBusyError`, unless it has expired, or its holder was a
   * process on this host (same `host`) that no longer exists, in which case it is taken at once. The same
   * owner acquiring again gets a new token.
   */
  readonly acquire: (
    runId: string,
    request: LeaseRequest
  ) => Effect.Effect<Lease, RunBusyError | RunNotFoundError | RunStoreError>
  /** Extend a held lease by its ttl; `RunBusyError` when another owner has taken it since. */
  readonly renew: (lease: Lease) => Effect.Effect<Lease, RunBusyError | RunNotFoundError | RunStoreError>
  /** Give the lease up, if still held; anyone may acquire it at once. */
  readonly release: (lease: Lease) => Effect.Effect<void, RunStoreError>
  /**
   * Append one batch atomically, fenced by the lease: refused with `RunBusyError` when another owner has
   * acquired the run since, and with `RunStoreError` when `batch.seq` is not the journal's length (a gap or an
   * overlap). Nothing of a refused or failed batch is written.
   */
  readonly append: (lease: Lease, batch: Batch) => Effect.Effect<void, RunBusyError | RunNotFoundError | RunStoreError>
  /** The journal in sequence order, from `from` (default 0). Empty once compacted. */
  readonly readJournal: (
    runId: string,
    options?: { readonly from?: number | undefined }
  ) => Effect.Effect<ReadonlyArray<JournalEntry>, RunNotFoundError | RunStoreError>
  /** Store an outside message for the run; its id orders the inbox. */
  readonly putInbox: (runId: string, data: string) => Effect.Effect<number, RunNotFoundError | RunStoreError>
  /** The run's unconsumed messages, oldest first. */
  readonly readInbox: (runId: string) => Effect.Effect<ReadonlyArray<InboxMessage>, RunNotFoundError | RunStoreError>
  /**
   * Drop a finished run's journal and inbox, keeping its record and outcome. `false` (and nothing dropped) when
   * the run is not finished.
   */
  readonly compact: (runId: string) => Effect.Effect<boolean, RunNotFoundError | RunStoreError>
}

/**
 * The run store service.
 *
 * @example
 * ```ts
 * import { RunStore } from "@effect-flow/core"
 *
 * const program = Effect.gen(function*() {
 *   const store = yield* RunStore.RunStore
 *   const { run } = yield* store.create({ runId: "r1", workflow: "wf", definitionHash: "h", input: "{}" })
 *   const lease = yield* store.acquire(run.runId, { owner: "me", pid: process.pid, host: "here", ttl: "5 seconds" })
 *   yield* store.append(lease, { seq: 0, entries: ['{"started":true}'] })
 * }).pipe(Effect.provide(RunStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class RunStore extends Context.Service<RunStore, Shape>()("@effect-flow/core/RunStore") {}

/**
 * What differs between a stored run and the workflow and input now given for it, one line each; empty when
 * nothing does. `input` is compared only when given (a resume has none).
 *
 * @example
 * ```ts
 * RunStore.changes(stored, { workflow: "wf", definitionHash: "h2" }) // ["definition hash h → h2 (...)"]
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const changes = (
  stored: Pick<RunInfo, "workflow" | "definitionHash" | "input">,
  given: { readonly workflow: string; readonly definitionHash: string; readonly input?: string | undefined }
): ReadonlyArray<string> => {
  const out: Array<string> = []
  if (stored.workflow !== given.workflow) {
    out.push(`workflow name: stored "${stored.workflow}", given "${given.workflow}"`)
  }
  if (stored.definitionHash !== given.definitionHash) {
    out.push(
      `definition: stored hash ${stored.definitionHash}, given ${given.definitionHash} (steps, what they accept, emit or write, or a schema changed)`
    )
  }
  if (given.input !== undefined && stored.input !== given.input) {
    out.push(`input: stored ${abbreviate(stored.input)}, given ${abbreviate(given.input)}`)
  }
  return out
}

const abbreviate = (json: string) => (json.length > 80 ? `${json.slice(0, 77)}...` : json)

/**
 * Whether a process with this id exists on this host (`process.kill(pid, 0)`); `true` when it cannot be told
 * (no `process`, or no permission to signal it).
 *
 * @since 0.1.0
 * @category utils
 */
export const isProcessAlive = (pid: number): boolean => {
  const proc = (globalThis as { process?: { kill?: (pid: number, signal: number) => unknown } }).process
  if (proc?.kill === undefined || !Number.isSafeInteger(pid) || pid <= 0) return true
  try {
    proc.kill(pid, 0)
    return true
  } catch (error) {
    return (error as { code?: string }).code !== "ESRCH"
  }
}

/**
 * The lease rule every store applies: whether `request` may take a lease currently held as `held` (`undefined`:
 * free) at time `now`. Free, expired, the same owner, or a holder process on the same host that no longer exists:
 * it may.
 *
 * @since 0.1.0
 * @category utils
 */
export const mayTakeLease = (
  held: { readonly owner: string; readonly pid: number; readonly host: string; readonly expiresAt: number } | undefined,
  request: Pick<LeaseRequest, "owner" | "host">,
  now: number
): boolean =>
  held === undefined ||
  held.owner === request.owner ||
  held.expiresAt <= now ||
  (held.host === request.host && !isProcessAlive(held.pid))

interface MemoryRun {
  info: RunInfo
  order: number
  lease: { owner: string; pid: number; host: string; expiresAt: number } | undefined
  token: number
  journal: Array<string>
  inbox: Array<InboxMessage & { consumed: boolean }>
}

/**
 * A run store in this process's memory: the same rules as the SQL stores (atomic batches, fencing, leases),
 * nothing survives the process. Each `makeMemory` is a new, empty store.
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeMemory: Effect.Effect<Shape> = Effect.sync(() => {
  const name = "memory"
  const runs = new Map<string, MemoryRun>()
  let order = 0
  let inboxId = 0

  const find = (runId: string) =>
    Effect.suspend(() => {
      const run = runs.get(runId)
      return run === undefined ? Effect.fail(new RunNotFoundError({ runId, store: name })) : Effect.succeed(run)
    })

  const busy = (runId: string, run: MemoryRun) =>
    new RunBusyError({
      runId,
      owner: run.lease?.owner ?? "nobody",
      pid: run.lease?.pid ?? 0,
      host: run.lease?.host ?? "",
      expiresAt: run.lease?.expiresAt ?? 0
    })

  const holds = (run: MemoryRun, lease: Lease) => run.token === lease.token && run.lease?.owner === lease.owner

  const shape: Shape = {
    name,
    create: (input) =>
      Effect.flatMap(Clock.currentTimeMillis, (now): ReturnType<Shape["create"]> => {
        const existing = runs.get(input.runId)
        if (existing !== undefined) {
          const changed = changes(existing.info, input)
          return changed.length > 0
            ? Effect.fail(
                new WorkflowChangedError({ runId: input.runId, workflow: existing.info.workflow, changes: changed })
              )
            : Effect.succeed({ run: existing.info, created: false })
        }
        const info: RunInfo = {
          ...input,
          status: "running",
          createdAt: now,
          updatedAt: now,
          journalLength: 0,
          compacted: false
        }
        runs.set(input.runId, { info, order: order++, lease: undefined, token: 0, journal: [], inbox: [] })
        return Effect.succeed({ run: info, created: true })
      }),
    get: (runId) => Effect.map(find(runId), (run) => run.info),
    list: (options) =>
      Effect.sync(() =>
        [...runs.values()]
          .filter(
            (run) =>
              (options?.workflow === undefined || run.info.workflow === options.workflow) &&
              (options?.status === undefined || run.info.status === options.status)
          )
          .sort((a, b) => b.info.createdAt - a.info.createdAt || b.order - a.order)
          .slice(0, options?.limit ?? Number.POSITIVE_INFINITY)
          .map((run) => run.info)
      ),
    acquire: (runId, request) =>
      Effect.flatMap(find(runId), (run) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (!mayTakeLease(run.lease, request, now)) return Effect.fail(busy(runId, run))
          const ttlMillis = Duration.toMillis(request.ttl)
          const expiresAt = now + ttlMillis
          run.token += 1
          run.lease = { owner: request.owner, pid: request.pid, host: request.host, expiresAt }
          return Effect.succeed<Lease>({
            runId,
            owner: request.owner,
            pid: request.pid,
            host: request.host,
            token: run.token,
            expiresAt,
            ttlMillis
          })
        })
      ),
    renew: (lease) =>
      Effect.flatMap(find(lease.runId), (run) =>
        Effect.flatMap(Clock.currentTimeMillis, (now) => {
          if (!holds(run, lease)) return Effect.fail(busy(lease.runId, run))
          const expiresAt = now + lease.ttlMillis
          run.lease = { owner: lease.owner, pid: lease.pid, host: lease.host, expiresAt }
          return Effect.succeed({ ...lease, expiresAt })
        })
      ),
    release: (lease) =>
      Effect.sync(() => {
        const run = runs.get(lease.runId)
        if (run !== undefined && holds(run, lease)) run.lease = undefined
      }),
    append: (lease, batch) =>
      Effect.flatMap(find(lease.runId), (run) =>
        Effect.flatMap(Clock.currentTimeMillis, (now): Effect.Effect<void, RunBusyError | RunStoreError> => {
          if (!holds(run, lease)) return Effect.fail(busy(lease.runId, run))
          if (run.info.compacted) return Effect.fail(compactedError(name, lease.runId))
          if (batch.seq !== run.journal.length) {
            return Effect.fail(seqMismatch(name, lease.runId, batch.seq, run.journal.length))
          }
          run.journal.push(...batch.entries)
          if (batch.consumed !== undefined && batch.consumed.length > 0) {
            const ids = new Set(batch.consumed)
            for (const message of run.inbox) if (ids.has(message.id)) message.consumed = true
          }
          run.info = {
            ...run.info,
            ...(batch.status === undefined
              ? {}
              : { status: batch.status.status, result: batch.status.result, error: batch.status.error }),
            updatedAt: now,
            journalLength: run.journal.length
          }
          return Effect.void
        })
      ),
    readJournal: (runId, options) =>
      Effect.map(find(runId), (run) => {
        const from = Math.max(0, options?.from ?? 0)
        return run.journal.slice(from).map((data, i) => ({ seq: from + i, data }))
      }),
    putInbox: (runId, data) =>
      Effect.flatMap(find(runId), (run) =>
        Effect.map(Clock.currentTimeMillis, (now) => {
          const id = ++inboxId
          run.inbox.push({ id, data, createdAt: now, consumed: false })
          return id
        })
      ),
    readInbox: (runId) =>
      Effect.map(find(runId), (run) =>
        run.inbox.filter((m) => !m.consumed).map(({ id, data, createdAt }) => ({ id, data, createdAt }))
      ),
    compact: (runId) =>
      Effect.map(find(runId), (run) => {
        if (!isFinished(run.info.status)) return false
        run.journal = []
        run.inbox = []
        run.info = { ...run.info, compacted: true }
        return true
      })
  }
  return shape
})

/**
 * The `RunStoreError` of a batch whose first sequence number is not the journal's length.
 *
 * @since 0.1.0
 * @category errors
 */
export const seqMismatch = (store: string, runId: string, seq: number, length: number): RunStoreError =>
  new RunStoreError({
    store,
    operation: `append to run ${runId}`,
    reason: `the batch starts at entry ${seq} but the journal holds ${length} entries (${
      seq < length ? "these entries were already written" : "entries are missing before it"
    })`
  })

/**
 * The `RunStoreError` of an append to a run whose journal was compacted away.
 *
 * @since 0.1.0
 * @category errors
 */
export const compactedError = (store: string, runId: string): RunStoreError =>
  new RunStoreError({
    store,
    operation: `append to run ${runId}`,
    reason: "the run is finished and its journal was compacted; nothing more can be appended"
  })

/**
 * An in-memory `RunStore` for tests: a fresh, empty store each time the layer is built.
 *
 * @example
 * ```ts
 * program.pipe(Effect.provide(RunStore.layerMemory))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory: Layer.Layer<RunStore> = Layer.effect(RunStore, makeMemory)
