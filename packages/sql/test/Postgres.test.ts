import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { freshDatabase, pgLayer, postgresTitle, postgresUrl } from "./postgres.ts"

describe.skipIf(postgresUrl === undefined)(`the test run's PostgreSQL${postgresTitle}`, () => {
  it.effect("answers on its URL and gives each test a fresh database", () =>
    Effect.gen(function* () {
      const url = yield* freshDatabase("setup")
      const rows = yield* Effect.gen(function* () {
        const sql = yield* SqlClient.SqlClient
        yield* sql`CREATE TABLE t (x INTEGER)`
        yield* sql`INSERT INTO t ${sql.insert({ x: 1 })}`
        return yield* sql<{ x: number; version: string }>`SELECT x, current_setting('server_version') AS version FROM t`
      }).pipe(Effect.provide(pgLayer(url)))
      assert.strictEqual(rows[0]!.x, 1)
      assert.match(rows[0]!.version, /^\d+/)
    })
  )
})
