import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { assert, describe, it } from "@effect/vitest"
import { Effect, Exit } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { SqliteClient } from "../src/index.ts"

const tmpFile = (name: string) => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ef-sqlite-")), name)

const withClient = <A, E>(filename: string, f: (sql: SqlClient.SqlClient) => Effect.Effect<A, E>, readOnly = false) =>
  Effect.gen(function* () {
    const sql = yield* SqlClient.SqlClient
    return yield* f(sql)
  }).pipe(Effect.provide(SqliteClient.layer({ filename, readOnly })))

describe("SqliteClient", () => {
  it.effect("writes rows to a real file that another connection reads back", () =>
    Effect.gen(function* () {
      const file = tmpFile("a.db")
      yield* withClient(file, (sql) =>
        Effect.gen(function* () {
          yield* sql`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT, flag INTEGER)`
          yield* sql`INSERT INTO t ${sql.insert([
            { id: 1, name: "a", flag: true },
            { id: 2, name: "b", flag: false }
          ])}`
          const rows = yield* sql<{ id: number; name: string }>`SELECT id, name FROM t ORDER BY id`
          assert.deepStrictEqual(rows, [
            { id: 1, name: "a" },
            { id: 2, name: "b" }
          ])
        })
      )
      const raw = new DatabaseSync(file, { readOnly: true })
      assert.deepStrictEqual(raw.prepare("SELECT name, flag FROM t ORDER BY id").all(), [
        { name: "a", flag: 1 },
        { name: "b", flag: 0 }
      ])
      assert.strictEqual((raw.prepare("PRAGMA journal_mode").get() as any).journal_mode, "wal")
      raw.close()
    })
  )

  it.effect("values variants return arrays; SafeIntegers reads integers as bigint", () =>
    withClient(":memory:", (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE n (v INTEGER)`
        yield* sql`INSERT INTO n (v) VALUES (${9007199254740993n})`
        const values = yield* sql`SELECT 1 AS a, 2 AS b`.values
        assert.deepStrictEqual(values, [[1, 2]])
        const safe = yield* sql<{ v: bigint }>`SELECT v FROM n`.pipe(
          Effect.provideService(SqlClient.SafeIntegers, true)
        )
        assert.strictEqual(safe[0]!.v, 9007199254740993n)
        // the cached statement does not keep the bigint setting
        const small = yield* sql<{ one: number }>`SELECT 1 AS one`
        assert.strictEqual(typeof small[0]!.one, "number")
      })
    )
  )

  it.effect("a failed transaction leaves nothing; a committed one stays", () =>
    withClient(":memory:", (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE t (id INTEGER PRIMARY KEY)`
        const failed = yield* Effect.exit(
          sql.withTransaction(
            Effect.gen(function* () {
              yield* sql`INSERT INTO t (id) VALUES (1)`
              yield* sql`INSERT INTO t (id) VALUES (1)`
            })
          )
        )
        assert.isTrue(Exit.isFailure(failed))
        yield* sql.withTransaction(sql`INSERT INTO t (id) VALUES (2)`)
        const rows = yield* sql<{ id: number }>`SELECT id FROM t`
        assert.deepStrictEqual(rows, [{ id: 2 }])
      })
    )
  )

  it.effect("a unique violation is classified from node:sqlite's error code", () =>
    withClient(":memory:", (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT UNIQUE)`
        yield* sql`INSERT INTO t (id, name) VALUES (1, 'a')`
        const unique = yield* Effect.flip(sql`INSERT INTO t (id, name) VALUES (2, 'a')`)
        assert.strictEqual(unique.reason._tag, "UniqueViolation")
        const primaryKey = yield* Effect.flip(sql`INSERT INTO t (id, name) VALUES (1, 'b')`)
        assert.strictEqual(primaryKey.reason._tag, "ConstraintError")
      })
    )
  )

  it.effect("a file of another program fails at open, naming the file", () =>
    Effect.gen(function* () {
      const file = tmpFile("not-a-db.db")
      fs.writeFileSync(file, "this is a text file, not a database ".repeat(200))
      const error = yield* Effect.flip(withClient(file, () => Effect.void))
      assert.include(error.message, file)
      assert.match(error.message, /not a database/)
    })
  )

  it.effect("read-only: a missing file fails at open, a write fails, reads work", () =>
    Effect.gen(function* () {
      const missing = tmpFile("missing.db")
      const error = yield* Effect.flip(withClient(missing, () => Effect.void, true))
      assert.include(error.message, missing)
      assert.isFalse(fs.existsSync(missing))

      const file = tmpFile("ro.db")
      yield* withClient(file, (sql) => sql`CREATE TABLE t (x INTEGER)`)
      yield* withClient(
        file,
        (sql) =>
          Effect.gen(function* () {
            assert.deepStrictEqual(yield* sql`SELECT count(*) AS n FROM t`, [{ n: 0 }])
            const failed = yield* Effect.flip(sql`INSERT INTO t (x) VALUES (1)`)
            assert.match(failed.message, /readonly/)
          }),
        true
      )
    })
  )

  it.effect("concurrent statements share the one connection without interleaving a transaction", () =>
    withClient(":memory:", (sql) =>
      Effect.gen(function* () {
        yield* sql`CREATE TABLE t (id INTEGER PRIMARY KEY)`
        yield* Effect.forEach(
          Array.from({ length: 50 }, (_, i) => i),
          (i) => sql.withTransaction(Effect.andThen(sql`INSERT INTO t (id) VALUES (${i})`, Effect.yieldNow)),
          { concurrency: "unbounded" }
        )
        assert.deepStrictEqual(yield* sql`SELECT count(*) AS n FROM t`, [{ n: 50 }])
      })
    )
  )
})
