/**
 * An effect `SqlClient` over Node's built-in `node:sqlite` (`DatabaseSync`): one connection per file, shared
 * behind a semaphore, WAL journal with `synchronous = NORMAL`. It exists because the published effect SQLite
 * drivers do not load on effect 4.1 (they import `effect/unstable/*`); when one does, prefer it.
 *
 * @since 0.1.0
 */
import { DatabaseSync, type StatementSync } from "node:sqlite"
import { Context, Effect, Layer, Semaphore, Stream } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import type * as Connection from "effect/sql/SqlConnection"
import * as SqlError from "effect/sql/SqlError"
import * as Statement from "effect/sql/Statement"

/**
 * Options of `SqliteClient.make` / `SqliteClient.layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database file; `":memory:"` for a private in-memory database. */
  readonly filename: string
  /**
   * Open the file read-only: every write fails with `SQLITE_READONLY`, and a missing file fails at open
   * instead of being created. No pragma is changed.
   */
  readonly readOnly?: boolean | undefined
  /** How long a statement waits for another process's write lock before failing busy. Default 5 seconds. */
  readonly busyTimeoutMillis?: number | undefined
  /** Statements kept prepared, keyed by SQL text. Default 256. */
  readonly statementCacheSize?: number | undefined
}

/**
 * The `node:sqlite` client: an effect `SqlClient` plus the file it opened.
 *
 * @since 0.1.0
 * @category models
 */
export interface SqliteClient extends SqlClient.SqlClient {
  readonly filename: string
  readonly readOnly: boolean
}

/**
 * The `SqliteClient` service, also provided as the plain `SqlClient.SqlClient`.
 *
 * @since 0.1.0
 * @category services
 */
export const SqliteClient = Context.Service<SqliteClient>("@effect-flow/sql/SqliteClient")

// node:sqlite binds null, numbers, bigints, strings and bytes only.
const bindable = (value: unknown): unknown => {
  switch (typeof value) {
    case "undefined":
      return null
    case "boolean":
      return value ? 1 : 0
    case "object":
      return value instanceof Date ? value.toISOString() : value
    default:
      return value
  }
}

const bindAll = (params: ReadonlyArray<unknown>): Array<any> => {
  const out = new Array(params.length)
  for (let i = 0; i < params.length; i++) out[i] = bindable(params[i])
  return out
}

// node:sqlite throws errors whose `code` is "ERR_SQLITE_ERROR" and whose SQLite code is `errcode`: copy it to
// `errno`, where `SqlError.classifySqliteError` looks for a numeric code.
const toSqlError = (cause: unknown, message: string, operation: string): SqlError.SqlError => {
  if (typeof cause === "object" && cause !== null && "errcode" in cause && !("errno" in cause)) {
    ;(cause as { errno?: unknown }).errno = (cause as { errcode: unknown }).errcode
  }
  return new SqlError.SqlError({ reason: SqlError.classifySqliteError(cause, { message, operation }) })
}

const describe = (cause: unknown): string => (cause instanceof Error ? cause.message : String(cause))

/**
 * Opens the database and builds the client; the connection closes with the scope. Opening a file that is
 * not a SQLite database, or a missing file read-only, fails here with a `SqlError`, not at the first query.
 *
 * @example
 * ```ts
 * import { SqliteClient } from "@effect-flow/sql"
 * import { Effect } from "effect"
 *
 * const program = Effect.scoped(Effect.gen(function*() {
 *   const sql = yield* SqliteClient.make({ filename: "app.db" })
 *   yield* sql`CREATE TABLE IF NOT EXISTS t (x INTEGER)`
 * })).pipe(Effect.provide(Reactivity.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = Effect.fnUntraced(function* (options: Options) {
  const readOnly = options.readOnly === true
  const cacheSize = options.statementCacheSize ?? 256
  const db = yield* Effect.acquireRelease(
    Effect.try({
      try: () =>
        new DatabaseSync(options.filename, {
          readOnly,
          timeout: options.busyTimeoutMillis ?? 5000
        }),
      catch: (cause) => toSqlError(cause, `cannot open ${options.filename}: ${describe(cause)}`, "open")
    }),
    (db) => Effect.sync(() => db.isOpen && db.close())
  )

  // Touch the file now: a file of another program fails with SQLITE_NOTADB here, not at the first query.
  yield* Effect.try({
    try: () => {
      if (readOnly) {
        db.prepare("SELECT count(*) FROM sqlite_schema").get()
      } else {
        db.exec("PRAGMA journal_mode = WAL")
        db.exec("PRAGMA synchronous = NORMAL")
      }
    },
    catch: (cause) => toSqlError(cause, `cannot use ${options.filename}: ${describe(cause)}`, "open")
  })

  const cache = new Map<string, StatementSync>()
  const prepare = (sql: string): StatementSync => {
    let statement = cache.get(sql)
    if (statement === undefined) {
      statement = db.prepare(sql)
      if (cache.size >= cacheSize) cache.delete(cache.keys().next().value!)
      cache.set(sql, statement)
    }
    return statement
  }

  const run = (
    sql: string,
    params: ReadonlyArray<unknown>,
    prepared: boolean,
    arrays: boolean
  ): Effect.Effect<ReadonlyArray<any>, SqlError.SqlError> =>
    Effect.withFiber((fiber) => {
      try {
        const statement = prepared ? prepare(sql) : db.prepare(sql)
        statement.setReadBigInts(fiber.getRef(SqlClient.SafeIntegers))
        statement.setReturnArrays(arrays)
        return Effect.succeed(statement.all(...bindAll(params)))
      } catch (cause) {
        return Effect.fail(toSqlError(cause, `${describe(cause)} (${options.filename})`, "execute"))
      }
    })

  const connection: Connection.Connection = {
    execute: (sql, params, transformRows) =>
      transformRows === undefined
        ? run(sql, params, true, false)
        : Effect.map(run(sql, params, true, false), transformRows),
    executeRaw: (sql, params) => run(sql, params, true, false),
    executeValues: (sql, params) => run(sql, params, true, true),
    executeValuesUnprepared: (sql, params) => run(sql, params, false, true),
    executeUnprepared: (sql, params, transformRows) =>
      transformRows === undefined
        ? run(sql, params, false, false)
        : Effect.map(run(sql, params, false, false), transformRows),
    executeStream: (sql, params, transformRows) =>
      Stream.fromIterableEffect(
        transformRows === undefined
          ? run(sql, params, true, false)
          : Effect.map(run(sql, params, true, false), transformRows)
      )
  }

  const semaphore = yield* Semaphore.make(1)
  const acquirers = SqlClient.makeSqliteAcquirers({
    connection: Effect.succeed(connection),
    semaphore,
    isTransaction: () => db.isTransaction
  })

  const client = yield* SqlClient.make({
    acquirer: acquirers.acquirer,
    borrower: acquirers.borrower,
    transactionAcquirer: acquirers.transactionAcquirer,
    onCommitFailure: acquirers.onCommitFailure,
    isTransaction: acquirers.isTransaction,
    compiler: Statement.makeCompilerSqlite(),
    driver: "node:sqlite",
    spanAttributes: [
      ["db.system.name", "sqlite"],
      ["db.namespace", options.filename]
    ],
    // Take the write lock at BEGIN: a deferred transaction that reads, then writes, can fail busy at once when
    // another process committed in between, whatever the busy timeout.
    beginTransaction: readOnly ? "BEGIN" : "BEGIN IMMEDIATE",
    prepareTransactionControls: true
  })

  return Object.assign(client, { filename: options.filename, readOnly }) as SqliteClient
})

/**
 * The client as a layer providing both `SqliteClient` and effect's `SqlClient.SqlClient` (with `Reactivity`).
 *
 * @example
 * ```ts
 * import { SqliteClient } from "@effect-flow/sql"
 * import { SqlClient } from "effect/sql/SqlClient"
 *
 * const program = Effect.gen(function*() {
 *   const sql = yield* SqlClient
 *   return yield* sql`SELECT 1 AS one`
 * }).pipe(Effect.provide(SqliteClient.layer({ filename: "app.db" })))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<SqliteClient | SqlClient.SqlClient, SqlError.SqlError> =>
  Layer.effectContext(
    Effect.map(make(options), (client) =>
      Context.make(SqliteClient, client).pipe(Context.add(SqlClient.SqlClient, client))
    )
  ).pipe(Layer.provide(Reactivity.layer))
