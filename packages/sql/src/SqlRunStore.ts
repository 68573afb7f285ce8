/**
 * The durable-run store (`RunStore`) over any effect `SqlClient` in context: SQLite (through
 * `SqliteClient`, or `SqliteRunStore.layer` for one file) or Postgres (through `@effect/sql-pg`). One dialect
 * switch covers the few statements that differ. Tables are created on first use.
 *
 * Layout: `<prefix>_runs` (one row per run: record, status, outcome, lease), `<prefix>_journal` (one row per
 * group-commit batch: its entries concatenated, with their lengths), `<prefix>_inbox` (one row per outside
 * message). A batch is one transaction: the run row's journal length, fenced by the lease token, the batch row,
 * the status and the consumed inbox messages change together or not at all.
 *
 * @since 0.1.0
 */
import { RunBusyError, RunNotFoundError, RunStore, RunStoreError, WorkflowChangedError } from "@effect-flow/core"
import { Clock, Duration, Effect, Layer } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { SqlError } from "effect/sql/SqlError"

/**
 * Options of `SqlRunStore.make` / `SqlRunStore.layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** How errors name the database, e.g. a file name or `"postgres://db.internal:5432/app"`. */
  readonly name?: string | undefined
  /** The tables' prefix. Default `"effect_flow"`. */
  readonly tablePrefix?: string | undefined
  /** Do not create the tables (a read-only database). */
  readonly skipMigrations?: boolean | undefined
}

type Dialect = "sqlite" | "pg"

interface RunRow {
  readonly run_id: string
  readonly workflow: string
  readonly definition_hash: string
  readonly input: string
  readonly status: RunStore.RunStatus
  readonly created_at: number | bigint | string
  readonly updated_at: number | bigint | string
  readonly result: string | null
  readonly error: string | null
  readonly journal_length: number | bigint | string
  readonly compacted: number | boolean
}

interface LeaseRow {
  readonly lease_owner: string | null
  readonly lease_pid: number | null
  readonly lease_host: string | null
  readonly lease_token: number | bigint | string
  readonly lease_expires_at: number | bigint | string | null
  readonly journal_length: number | bigint | string
  readonly compacted: number | boolean
}

const runColumns =
  "run_id, workflow, definition_hash, input, status, created_at, updated_at, result, error, journal_length, compacted"

const toInfo = (row: RunRow): RunStore.RunInfo => ({
  runId: row.run_id,
  workflow: row.workflow,
  definitionHash: row.definition_hash,
  input: row.input,
  status: row.status,
  createdAt: Number(row.created_at),
  updatedAt: Number(row.updated_at),
  ...(row.result === null ? {} : { result: row.result }),
  ...(row.error === null ? {} : { error: row.error }),
  journalLength: Number(row.journal_length),
  compacted: Boolean(row.compacted)
})

const validIdentifier = /^[A-Za-z_][A-Za-z0-9_]*$/

/**
 * Build the store over the `SqlClient` in context, creating its tables unless told not to. A database that
 * cannot be read or written fails here with `RunStoreError`.
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (options: Options = {}) {
  const sql = yield* SqlClient.SqlClient
  const dialect: Dialect | undefined = sql.onDialectOrElse({
    sqlite: () => "sqlite" as const,
    pg: () => "pg" as const,
    orElse: () => undefined
  })
  const name = options.name ?? (dialect === "pg" ? "postgres" : "sqlite database")
  if (dialect === undefined) {
    return yield* new RunStoreError({
      store: name,
      operation: "open",
      reason: "SqlRunStore speaks SQLite and Postgres only; this SqlClient has another dialect"
    })
  }
  const prefix = options.tablePrefix ?? "effect_flow"
  if (!validIdentifier.test(prefix)) {
    return yield* new RunStoreError({
      store: name,
      operation: "open",
      reason: `table prefix "${prefix}" is not a plain SQL identifier (letters, digits, underscores)`
    })
  }
  const runs = sql(`${prefix}_runs`)
  const journal = sql(`${prefix}_journal`)
  const inbox = sql(`${prefix}_inbox`)

  const wrap =
    (operation: string) =>
    <A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, Exclude<E, SqlError> | RunStoreError, R> =>
      Effect.mapError(effect, (error) =>
        error instanceof SqlError
          ? new RunStoreError({ store: name, operation, reason: describe(error), cause: error })
          : error
      ) as Effect.Effect<A, Exclude<E, SqlError> | RunStoreError, R>

  // Tables. On Postgres several processes may start at once: serialise them with an advisory lock.
  if (options.skipMigrations !== true) {
    const bigint = dialect === "pg" ? "BIGINT" : "INTEGER"
    const serial = dialect === "pg" ? "BIGSERIAL PRIMARY KEY" : "INTEGER PRIMARY KEY AUTOINCREMENT"
    const statements = [
      `CREATE TABLE IF NOT EXISTS ${prefix}_runs (
        ord ${serial},
        run_id TEXT NOT NULL UNIQUE,
        workflow TEXT NOT NULL,
        definition_hash TEXT NOT NULL,
        input TEXT NOT NULL,
        status TEXT NOT NULL,
        created_at ${bigint} NOT NULL,
        updated_at ${bigint} NOT NULL,
        result TEXT,
        error TEXT,
        journal_length ${bigint} NOT NULL DEFAULT 0,
        compacted INTEGER NOT NULL DEFAULT 0,
        lease_owner TEXT,
        lease_pid INTEGER,
        lease_host TEXT,
        lease_token ${bigint} NOT NULL DEFAULT 0,
        lease_expires_at ${bigint}
      )`,
      `CREATE INDEX IF NOT EXISTS ${prefix}_runs_workflow ON ${prefix}_runs (workflow, created_at)`,
      `CREATE INDEX IF NOT EXISTS ${prefix}_runs_status ON ${prefix}_runs (status, created_at)`,
      `CREATE TABLE IF NOT EXISTS ${prefix}_journal (
        run_id TEXT NOT NULL,
        seq ${bigint} NOT NULL,
        count INTEGER NOT NULL,
        sizes TEXT NOT NULL,
        data TEXT NOT NULL,
        PRIMARY KEY (run_id, seq)
      )`,
      `CREATE TABLE IF NOT EXISTS ${prefix}_inbox (
        id ${serial},
        run_id TEXT NOT NULL,
        data TEXT NOT NULL,
        created_at ${bigint} NOT NULL,
        consumed INTEGER NOT NULL DEFAULT 0
      )`,
      `CREATE INDEX IF NOT EXISTS ${prefix}_inbox_run ON ${prefix}_inbox (run_id, consumed, id)`
    ]
    yield* wrap("create its tables")(
      sql.withTransaction(
        Effect.gen(function* () {
          if (dialect === "pg") yield* sql`SELECT pg_advisory_xact_lock(${lockKey(prefix)})`
          for (const statement of statements) yield* sql.unsafe(statement)
        })
      )
    )
  }

  const selectRun = (runId: string) =>
    Effect.map(sql<RunRow>`SELECT ${sql.literal(runColumns)} FROM ${runs} WHERE run_id = ${runId}`, (rows) => rows[0])

  const selectLease = (runId: string, forUpdate: boolean) =>
    Effect.map(
      sql<LeaseRow>`SELECT lease_owner, lease_pid, lease_host, lease_token, lease_expires_at, journal_length, compacted FROM ${runs} WHERE run_id = ${runId}${sql.literal(
        forUpdate && dialect === "pg" ? " FOR UPDATE" : ""
      )}`,
      (rows) => rows[0]
    )

  const notFound = (runId: string) => new RunNotFoundError({ runId, store: name })

  const busy = (runId: string, row: LeaseRow) =>
    new RunBusyError({
      runId,
      owner: row.lease_owner ?? "nobody (the lease was released and taken again)",
      pid: row.lease_pid ?? 0,
      host: row.lease_host ?? "",
      expiresAt: row.lease_expires_at === null ? 0 : Number(row.lease_expires_at)
    })

  const heldBy = (row: LeaseRow, lease: RunStore.Lease) =>
    Number(row.lease_token) === lease.token && row.lease_owner === lease.owner

  // Why a fenced UPDATE changed no row.
  const refused = (lease: RunStore.Lease, seq?: number) =>
    Effect.flatMap(
      selectLease(lease.runId, false),
      (row): Effect.Effect<never, RunNotFoundError | RunBusyError | RunStoreError> => {
        if (row === undefined) return Effect.fail(notFound(lease.runId))
        if (!heldBy(row, lease)) return Effect.fail(busy(lease.runId, row))
        if (row.compacted) return Effect.fail(RunStore.compactedError(name, lease.runId))
        return Effect.fail(RunStore.seqMismatch(name, lease.runId, seq ?? -1, Number(row.journal_length)))
      }
    )

  const exists = (runId: string) =>
    Effect.flatMap(
      sql`SELECT 1 AS one FROM ${runs} WHERE run_id = ${runId}`,
      (rows): Effect.Effect<void, RunNotFoundError> => (rows.length === 0 ? Effect.fail(notFound(runId)) : Effect.void)
    )

  const store: RunStore.Shape = {
    name,
    create: (run) =>
      wrap(`create run ${run.runId}`)(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const inserted = yield* sql<RunRow>`INSERT INTO ${runs} ${sql.insert({
            run_id: run.runId,
            workflow: run.workflow,
            definition_hash: run.definitionHash,
            input: run.input,
            status: "running",
            created_at: now,
            updated_at: now
          })} ON CONFLICT (run_id) DO NOTHING RETURNING ${sql.literal(runColumns)}`
          if (inserted.length > 0) return { run: toInfo(inserted[0]!), created: true }
          const existing = yield* selectRun(run.runId)
          if (existing === undefined) {
            return yield* new RunStoreError({
              store: name,
              operation: `create run ${run.runId}`,
              reason: "the run was neither inserted nor found (deleted concurrently?)"
            })
          }
          const info = toInfo(existing)
          const changed = RunStore.changes(info, run)
          if (changed.length > 0) {
            return yield* new WorkflowChangedError({ runId: run.runId, workflow: info.workflow, changes: changed })
          }
          return { run: info, created: false }
        })
      ),
    get: (runId) =>
      wrap(`read run ${runId}`)(
        Effect.flatMap(selectRun(runId), (row) =>
          row === undefined ? Effect.fail(notFound(runId)) : Effect.succeed(toInfo(row))
        )
      ),
    list: (options) =>
      wrap("list runs")(
        Effect.map(
          sql<RunRow>`SELECT ${sql.literal(runColumns)} FROM ${runs} WHERE ${sql.and([
            ...(options?.workflow === undefined ? [] : [sql`workflow = ${options.workflow}`]),
            ...(options?.status === undefined ? [] : [sql`status = ${options.status}`])
          ])} ORDER BY created_at DESC, ord DESC${sql.literal(
            options?.limit === undefined ? "" : ` LIMIT ${Math.max(0, Math.floor(options.limit))}`
          )}`,
          (rows) => rows.map(toInfo)
        )
      ),
    acquire: (runId, request) =>
      wrap(`acquire the lease of run ${runId}`)(
        sql.withTransaction(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const row = yield* selectLease(runId, true)
            if (row === undefined) return yield* notFound(runId)
            const held =
              row.lease_owner === null
                ? undefined
                : {
                    owner: row.lease_owner,
                    pid: row.lease_pid ?? 0,
                    host: row.lease_host ?? "",
                    expiresAt: Number(row.lease_expires_at ?? 0)
                  }
            if (!RunStore.mayTakeLease(held, request, now)) return yield* busy(runId, row)
            const ttlMillis = Duration.toMillis(request.ttl)
            const expiresAt = now + ttlMillis
            const updated = yield* sql<{
              lease_token: number | bigint | string
            }>`UPDATE ${runs} SET lease_owner = ${request.owner}, lease_pid = ${request.pid}, lease_host = ${request.host}, lease_expires_at = ${expiresAt}, lease_token = lease_token + 1 WHERE run_id = ${runId} RETURNING lease_token`
            return {
              runId,
              owner: request.owner,
              pid: request.pid,
              host: request.host,
              token: Number(updated[0]!.lease_token),
              expiresAt,
              ttlMillis
            } satisfies RunStore.Lease
          })
        )
      ),
    renew: (lease) =>
      wrap(`renew the lease of run ${lease.runId}`)(
        Effect.gen(function* () {
          const expiresAt = (yield* Clock.currentTimeMillis) + lease.ttlMillis
          const updated =
            yield* sql`UPDATE ${runs} SET lease_expires_at = ${expiresAt} WHERE run_id = ${lease.runId} AND lease_token = ${lease.token} AND lease_owner = ${lease.owner} RETURNING run_id`
          if (updated.length === 0) return yield* refused(lease)
          return { ...lease, expiresAt }
        })
      ),
    release: (lease) =>
      wrap(`release the lease of run ${lease.runId}`)(
        Effect.asVoid(
          sql`UPDATE ${runs} SET lease_owner = NULL, lease_pid = NULL, lease_host = NULL, lease_expires_at = NULL WHERE run_id = ${lease.runId} AND lease_token = ${lease.token} AND lease_owner = ${lease.owner}`
        )
      ),
    append: (lease, batch) =>
      wrap(`append ${batch.entries.length} journal entries to run ${lease.runId}`)(
        sql.withTransaction(
          Effect.gen(function* () {
            const now = yield* Clock.currentTimeMillis
            const count = batch.entries.length
            const status = batch.status
            const fenced =
              status === undefined
                ? yield* sql`UPDATE ${runs} SET journal_length = journal_length + ${count}, updated_at = ${now} WHERE run_id = ${lease.runId} AND lease_token = ${lease.token} AND lease_owner = ${lease.owner} AND journal_length = ${batch.seq} AND compacted = 0 RETURNING run_id`
                : yield* sql`UPDATE ${runs} SET journal_length = journal_length + ${count}, updated_at = ${now}, status = ${status.status}, result = ${status.result ?? null}, error = ${status.error ?? null} WHERE run_id = ${lease.runId} AND lease_token = ${lease.token} AND lease_owner = ${lease.owner} AND journal_length = ${batch.seq} AND compacted = 0 RETURNING run_id`
            if (fenced.length === 0) return yield* refused(lease, batch.seq)
            if (count > 0) {
              let sizes = ""
              for (let i = 0; i < count; i++)
                sizes += i === 0 ? `${batch.entries[i]!.length}` : `,${batch.entries[i]!.length}`
              yield* sql`INSERT INTO ${journal} (run_id, seq, count, sizes, data) VALUES (${lease.runId}, ${batch.seq}, ${count}, ${sizes}, ${batch.entries.join("")})`
            }
            if (batch.consumed !== undefined && batch.consumed.length > 0) {
              yield* sql`UPDATE ${inbox} SET consumed = 1 WHERE run_id = ${lease.runId} AND ${sql.in("id", batch.consumed)}`
            }
          })
        )
      ),
    readJournal: (runId, options) =>
      wrap(`read the journal of run ${runId}`)(
        Effect.gen(function* () {
          const from = Math.max(0, options?.from ?? 0)
          const rows = yield* sql<{
            seq: number | bigint | string
            count: number
            sizes: string
            data: string
          }>`SELECT seq, count, sizes, data FROM ${journal} WHERE run_id = ${runId} AND seq + count > ${from} ORDER BY seq`
          if (rows.length === 0) {
            yield* exists(runId)
            return []
          }
          const out: Array<RunStore.JournalEntry> = []
          for (const row of rows) {
            const seq = Number(row.seq)
            const sizes = row.sizes.split(",")
            if (sizes.length !== Number(row.count)) return yield* corrupt(runId, seq)
            let offset = 0
            for (let i = 0; i < sizes.length; i++) {
              const size = Number(sizes[i])
              const entrySeq = seq + i
              if (entrySeq >= from) out.push({ seq: entrySeq, data: row.data.slice(offset, offset + size) })
              offset += size
            }
            if (offset !== row.data.length) return yield* corrupt(runId, seq)
            if (out.length > 0 && out[out.length - 1]!.seq !== from + out.length - 1) return yield* corrupt(runId, seq)
          }
          return out
        })
      ),
    putInbox: (runId, data) =>
      wrap(`put a message in the inbox of run ${runId}`)(
        Effect.gen(function* () {
          const now = yield* Clock.currentTimeMillis
          const rows = yield* sql<{
            id: number | bigint | string
          }>`INSERT INTO ${inbox} (run_id, data, created_at) SELECT CAST(${runId} AS TEXT), CAST(${data} AS TEXT), CAST(${now} AS BIGINT) WHERE EXISTS (SELECT 1 FROM ${runs} WHERE run_id = ${runId}) RETURNING id`
          if (rows.length === 0) return yield* notFound(runId)
          return Number(rows[0]!.id)
        })
      ),
    readInbox: (runId) =>
      wrap(`read the inbox of run ${runId}`)(
        Effect.gen(function* () {
          const rows = yield* sql<{
            id: number | bigint | string
            data: string
            created_at: number | bigint | string
          }>`SELECT id, data, created_at FROM ${inbox} WHERE run_id = ${runId} AND consumed = 0 ORDER BY id`
          if (rows.length === 0) yield* exists(runId)
          return rows.map((row) => ({ id: Number(row.id), data: row.data, createdAt: Number(row.created_at) }))
        })
      ),
    compact: (runId) =>
      wrap(`compact run ${runId}`)(
        sql.withTransaction(
          Effect.gen(function* () {
            const row = yield* selectRun(runId)
            if (row === undefined) return yield* notFound(runId)
            if (!RunStore.isFinished(row.status)) return false
            yield* sql`DELETE FROM ${journal} WHERE run_id = ${runId}`
            yield* sql`DELETE FROM ${inbox} WHERE run_id = ${runId}`
            yield* sql`UPDATE ${runs} SET compacted = 1 WHERE run_id = ${runId}`
            return true
          })
        )
      )
  }

  const corrupt = (runId: string, seq: number) =>
    new RunStoreError({
      store: name,
      operation: `read the journal of run ${runId}`,
      reason: `the journal row at entry ${seq} does not match its recorded sizes or follow the previous one (corrupt)`
    })

  return store
})

const describe = (error: SqlError): string => {
  const cause = error.reason.cause
  const detail = cause instanceof Error ? cause.message : typeof cause === "string" ? cause : undefined
  const message = error.message
  return detail !== undefined && !message.includes(detail)
    ? `${message} (${error.reason._tag}: ${detail})`
    : `${message} (${error.reason._tag})`
}

// A stable 32-bit key per table prefix for Postgres's advisory lock.
const lockKey = (prefix: string): number => {
  let hash = 0x6566 // "ef"
  for (let i = 0; i < prefix.length; i++) hash = (Math.imul(hash, 31) + prefix.charCodeAt(i)) | 0
  return hash
}

/**
 * The store as a `RunStore` layer over the `SqlClient` in context.
 *
 * @example
 * ```ts
 * import { SqlRunStore } from "@effect-flow/sql"
 * import { PgClient } from "@effect/sql-pg"
 *
 * const StoreLive = SqlRunStore.layer({ name: "postgres://db/app" }).pipe(
 *   Layer.provide(PgClient.layer({ url: Redacted.make("postgres://db/app") }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options = {}): Layer.Layer<RunStore.RunStore, RunStoreError, SqlClient.SqlClient> =>
  Layer.effect(RunStore.RunStore, make(options))
