/**
 * Journal append throughput of the durable-run store (`@effect-flow/sql`), against its floor: raw `node:sqlite`
 * writing the same bytes in the same layout (one row per batch, plus the run row's length) with no effect and no
 * store in between. Also a row-per-entry raw variant, and the store on a throwaway Postgres (fsync off).
 *
 *   npm run bench:journal              N = 100,000 entries, 5 repeats (median and range)
 *   npm run bench:journal -- --quick   N = 10,000, 1 repeat
 *
 * Each entry is ~150 bytes of JSON, like a journaled event. Timings are wall-clock on a shared machine: noisy.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { PgClient } from "@effect/sql-pg"
import { JournalWriter, RunStore } from "@effect-flow/core"
import { Effect, Layer, Redacted } from "effect"
import { SqliteRunStore, SqlRunStore } from "../../sql/src/index.ts"
import { startPostgres } from "../../sql/test/postgresServer.ts"

const quick = process.argv.includes("--quick")
const N = quick ? 10_000 : 100_000
const repeats = quick ? 1 : 5
const BATCH = 1_000

const entries = Array.from({ length: N }, (_, i) =>
  JSON.stringify({
    t: "routed",
    inv: `step-${i % 64}:${i}`,
    seq: i,
    event: { _tag: "Item", index: i, text: "x".repeat(60) }
  })
)
const bytes = entries.reduce((n, e) => n + Buffer.byteLength(e), 0)

const tmpFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ef-journal-bench-")), "runs.db")

const timed = async (f: () => Promise<void> | void): Promise<number> => {
  const start = performance.now()
  await f()
  return performance.now() - start
}

/** Through the store and the group-commit writer: append every entry one by one, flush at the end. */
const viaWriter = (layer: Layer.Layer<RunStore.RunStore, unknown>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const runId = `bench-${Math.random()}`
      const { run } = yield* store.create({ runId, workflow: "bench", definitionHash: "h", input: "{}" })
      const lease = yield* store.acquire(run.runId, {
        owner: "bench",
        pid: process.pid,
        host: os.hostname(),
        ttl: "1 hour"
      })
      const elapsed = yield* Effect.promise(() =>
        timed(() =>
          Effect.runPromise(
            Effect.scoped(
              Effect.gen(function* () {
                const writer = yield* JournalWriter.make({ lease, seq: 0, maxBatch: BATCH })
                for (const entry of entries) yield* writer.append(entry)
                yield* writer.flush
              })
            ).pipe(Effect.provideService(RunStore.RunStore, store))
          )
        )
      )
      const back = yield* store.readJournal(runId)
      if (back.length !== N || back[N - 1]!.data !== entries[N - 1]) throw new Error("journal does not read back")
      return elapsed
    }).pipe(Effect.provide(layer))
  )

/** Through the store with the batches made by the caller: one `append` per BATCH entries. */
const viaStore = (layer: Layer.Layer<RunStore.RunStore, unknown>) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const runId = `bench-${Math.random()}`
      yield* store.create({ runId, workflow: "bench", definitionHash: "h", input: "{}" })
      const lease = yield* store.acquire(runId, {
        owner: "bench",
        pid: process.pid,
        host: os.hostname(),
        ttl: "1 hour"
      })
      const start = performance.now()
      for (let seq = 0; seq < N; seq += BATCH) {
        yield* store.append(lease, { seq, entries: entries.slice(seq, seq + BATCH) })
      }
      return performance.now() - start
    }).pipe(Effect.provide(layer))
  )

/** The floor: raw node:sqlite, same PRAGMAs, same layout (a batch row + the run row's length per transaction). */
const rawBatched = () => {
  const db = new DatabaseSync(tmpFile())
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
  db.exec(`CREATE TABLE runs (run_id TEXT PRIMARY KEY, journal_length INTEGER NOT NULL, updated_at INTEGER);
    CREATE TABLE journal (run_id TEXT NOT NULL, seq INTEGER NOT NULL, count INTEGER NOT NULL, sizes TEXT NOT NULL,
      data TEXT NOT NULL, PRIMARY KEY (run_id, seq));
    INSERT INTO runs VALUES ('r', 0, 0)`)
  const update = db.prepare("UPDATE runs SET journal_length = journal_length + ?, updated_at = ? WHERE run_id = 'r'")
  const insert = db.prepare("INSERT INTO journal (run_id, seq, count, sizes, data) VALUES ('r', ?, ?, ?, ?)")
  const begin = db.prepare("BEGIN IMMEDIATE")
  const commit = db.prepare("COMMIT")
  const elapsed = performance.now()
  for (let seq = 0; seq < N; seq += BATCH) {
    const batch = entries.slice(seq, seq + BATCH)
    begin.run()
    update.run(batch.length, Date.now())
    insert.run(seq, batch.length, batch.map((e) => e.length).join(","), batch.join(""))
    commit.run()
  }
  const ms = performance.now() - elapsed
  db.close()
  return ms
}

/** Raw node:sqlite, one row per entry, BATCH rows per transaction (the usual layout, for reference). */
const rawRows = () => {
  const db = new DatabaseSync(tmpFile())
  db.exec("PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL")
  db.exec(
    "CREATE TABLE journal (run_id TEXT NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq))"
  )
  const insert = db.prepare("INSERT INTO journal (run_id, seq, data) VALUES ('r', ?, ?)")
  const elapsed = performance.now()
  for (let seq = 0; seq < N; seq += BATCH) {
    db.exec("BEGIN IMMEDIATE")
    for (let i = seq; i < Math.min(N, seq + BATCH); i++) insert.run(i, entries[i]!)
    db.exec("COMMIT")
  }
  const ms = performance.now() - elapsed
  db.close()
  return ms
}

const median = (xs: Array<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const rate = (ms: number) => Math.round(N / (ms / 1000))
const fmt = (n: number) => n.toLocaleString("en-US")

const rows: Array<{ name: string; times: Array<number> }> = []
const measure = async (name: string, f: () => Promise<number> | number) => {
  const times: Array<number> = []
  for (let r = 0; r < repeats; r++) times.push(await f())
  rows.push({ name, times })
  const rates = times.map(rate)
  console.log(
    `${name}: median ${fmt(rate(median(times)))} entries/s (${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))})`
  )
}

console.log(
  `journal append: N = ${fmt(N)} entries of ~${Math.round(bytes / N)} bytes, batches of ${fmt(BATCH)}, ${repeats} repeat(s)`
)

await measure("raw node:sqlite, one row per batch (floor)", rawBatched)
await measure("raw node:sqlite, one row per entry", rawRows)
await measure("SqliteRunStore, store.append per batch", () => viaStore(SqliteRunStore.layer({ filename: tmpFile() })))
await measure("SqliteRunStore, JournalWriter (group commit)", () =>
  viaWriter(SqliteRunStore.layer({ filename: tmpFile() }))
)

const pg = await startPostgres()
if ("skip" in pg) {
  console.log(`Postgres rows skipped: ${pg.skip}`)
} else {
  try {
    const layer = SqlRunStore.layer({ name: "postgres" }).pipe(
      Layer.provide(PgClient.layer({ url: Redacted.make(pg.url), maxConnections: 2 }))
    )
    await measure("SqlRunStore on Postgres 15 (fsync off), store.append per batch", () => viaStore(layer))
    await measure("SqlRunStore on Postgres 15 (fsync off), JournalWriter", () => viaWriter(layer))
  } finally {
    pg.stop()
  }
}

console.log("\n| path | entries/s (median) | range | vs floor |\n|---|---|---|---|")
const floor = rate(median(rows[0]!.times))
for (const row of rows) {
  const rates = row.times.map(rate)
  console.log(
    `| ${row.name} | ${fmt(rate(median(row.times)))} | ${fmt(Math.min(...rates))}–${fmt(Math.max(...rates))} | ${(rate(median(row.times)) / floor).toFixed(2)}× |`
  )
}
