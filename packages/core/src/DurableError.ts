/**
 * The errors of durable runs and their stores (`RunStore`). Each is a `Schema.TaggedError`: yieldable,
 * matchable with `Effect.catchTag`, serialisable. `DurableError` is their union.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * The run store failed: the database could not be opened, read or written (a missing or corrupt file, a file
 * of another program, a full disk, a read-only file, a lost connection), or a value could not be stored.
 * `store` names the file or database, `operation` what was being done, `reason` the cause in words; `cause`
 * keeps the underlying error. A batch that failed was not written, in part or in whole.
 *
 * @example
 * ```ts
 * import { RunStore } from "@effect-flow/core"
 *
 * const journal = RunStore.RunStore.use((store) => store.readJournal("order-42")).pipe(
 *   Effect.catchTag("RunStoreError", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunStoreError extends Schema.TaggedError<RunStoreError>()("RunStoreError", {
  /** The file or database, e.g. `"/var/lib/app/runs.db"` or `"postgres://db.internal:5432/app"`. */
  store: Schema.String,
  /** What the store was doing, e.g. `"append to run order-42"`. */
  operation: Schema.String,
  /** The cause in words. */
  reason: Schema.String,
  cause: Schema.optional(Schema.Defect())
}) {
  override get message() {
    return `Run store ${this.store} failed to ${this.operation}: ${this.reason}`
  }
}

/**
 * No run with this `runId` is stored.
 *
 * @example
 * ```ts
 * RunStore.RunStore.use((store) => store.get("nope")).pipe(
 *   Effect.catchTag("RunNotFoundError", (e) => Effect.succeed(`no run ${e.runId}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunNotFoundError extends Schema.TaggedError<RunNotFoundError>()("RunNotFoundError", {
  runId: Schema.String,
  store: Schema.String
}) {
  override get message() {
    return `No run "${this.runId}" in run store ${this.store}`
  }
}

/**
 * A stored run was started by a different workflow definition or input than the one now given for it.
 * `changes` says what differs, one line each (the workflow's name, its definition, its input).
 *
 * @example
 * ```ts
 * Durable.resume(wf, "order-42").pipe(
 *   Effect.catchTag("WorkflowChangedError", (e) => Effect.logError(e.changes.join("; ")))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowChangedError extends Schema.TaggedError<WorkflowChangedError>()("WorkflowChangedError", {
  runId: Schema.String,
  workflow: Schema.String,
  changes: Schema.Array(Schema.String)
}) {
  override get message() {
    return `Run "${this.runId}" of workflow "${this.workflow}" was stored by a different definition or input:\n${this.changes
      .map((change) => `  - ${change}`)
      .join("\n")}\nResume it with the workflow and input it started with, or start a new run under another runId.`
  }
}

/**
 * Another owner holds the run's lease: a live process is running it (or, for a write, this owner lost its
 * lease to another). `owner`, `pid` and `host` name the holder; `expiresAt` (epoch milliseconds) is when the
 * lease lapses unless renewed.
 *
 * @example
 * ```ts
 * Durable.resume(wf, "order-42").pipe(
 *   Effect.catchTag("RunBusyError", (e) => Effect.logWarning(`run by pid ${e.pid} on ${e.host}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunBusyError extends Schema.TaggedError<RunBusyError>()("RunBusyError", {
  runId: Schema.String,
  owner: Schema.String,
  pid: Schema.Number,
  host: Schema.String,
  expiresAt: Schema.Number
}) {
  override get message() {
    return `Run "${this.runId}" is owned by ${this.owner} (pid ${this.pid} on ${this.host}) until ${new Date(
      this.expiresAt
    ).toISOString()} unless renewed; wait for it to finish or its lease to expire`
  }
}

/**
 * Any error of a durable run's storage and ownership.
 *
 * @since 0.1.0
 * @category errors
 */
export type DurableError = RunStoreError | RunNotFoundError | WorkflowChangedError | RunBusyError
