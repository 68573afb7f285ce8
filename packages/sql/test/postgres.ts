/**
 * The throwaway PostgreSQL of this test run (started by `postgres.globalSetup.ts`), for tests.
 */
import { PgClient } from "@effect/sql-pg"
import { Effect, Redacted } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { inject } from "vitest"

/** The server's URL, or `undefined` where no PostgreSQL is installed. */
export const postgresUrl: string | undefined = inject("postgresUrl")

/** Why Postgres tests skip, for their titles; `undefined` when the server runs. */
export const postgresSkip: string | undefined = inject("postgresSkip")

/** The title suffix of a test that needs Postgres: empty when it runs, the reason when it skips. */
export const postgresTitle = postgresSkip === undefined ? "" : ` (skipped: ${postgresSkip})`

/** A layer for a `PgClient` on the given database URL. */
export const pgLayer = (url: string) => PgClient.layer({ url: Redacted.make(url), maxConnections: 4 })

/** A fresh database on the run's server, so test files and tests never share tables. */
export const freshDatabase = (name: string): Effect.Effect<string> => {
  if (postgresUrl === undefined) return Effect.die(new Error(`Postgres is not available: ${postgresSkip}`))
  const database = `${name}_${process.pid}_${Math.floor(Math.random() * 1e9)}`.toLowerCase().replace(/[^a-z0-9_]/g, "_")
  return Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    yield* sql.unsafe(`CREATE DATABASE ${database}`)
    return postgresUrl.replace(/\/postgres$/, `/${database}`)
  }).pipe(Effect.provide(pgLayer(postgresUrl)), Effect.orDie)
}
