import { type ChildProcess, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { RunStore } from "@effect-flow/core"
import { Effect, Layer } from "effect"
import * as SqlClient from "effect/sql/SqlClient"
import { SqliteClient, SqliteRunStore, SqlRunStore } from "../src/index.ts"

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "ef-sqlite-store-"))

const withStore = <A, E>(
  layer: Layer.Layer<RunStore.RunStore, unknown>,
  f: (store: RunStore.Shape) => Effect.Effect<A, E, never>
) => Effect.flatMap(RunStore.RunStore, f).pipe(Effect.provide(layer))

const lease = (store: RunStore.Shape, runId: string) =>
  Effect.gen(function* () {
    yield* store.create({ runId, workflow: "wf", definitionHash: "h", input: "{}" })
    return yield* store.acquire(runId, { owner: "me", pid: process.pid, host: os.hostname(), ttl: "1 minute" })
  })

/** A store on a new file, with its SqlClient at hand (to set pragmas) and a lease on run "r". */
const withFileStore = <A, E>(
  f: (env: {
    filename: string
    store: RunStore.Shape
    sql: SqlClient.SqlClient
    held: RunStore.Lease
  }) => Effect.Effect<A, E>
) => {
  const filename = path.join(tmpDir(), "runs.db")
  return Effect.gen(function* () {
    const store = yield* RunStore.RunStore
    const sql = yield* SqlClient.SqlClient
    const held = yield* lease(store, "r")
    return yield* f({ filename, store, sql, held })
  }).pipe(
    Effect.provide(SqlRunStore.layer({ name: filename }).pipe(Layer.provideMerge(SqliteClient.layer({ filename }))))
  )
}

const openError = (layer: Layer.Layer<RunStore.RunStore, unknown>) =>
  Effect.flip(withStore(layer, () => Effect.void)) as Effect.Effect<{ _tag: string; message: string; store: string }>

describe("SqliteRunStore: bad store input is a RunStoreError naming the file and the cause", () => {
  it.effect("a directory that does not exist", () =>
    Effect.gen(function* () {
      const filename = path.join(tmpDir(), "no", "such", "dir", "runs.db")
      const error = yield* openError(SqliteRunStore.layer({ filename }))
      assert.strictEqual(error._tag, "RunStoreError")
      assert.strictEqual(error.store, filename)
      assert.include(error.message, filename)
      assert.match(error.message, /unable to open/)
    })
  )

  it.effect("a missing file opened read-only is not created", () =>
    Effect.gen(function* () {
      const filename = path.join(tmpDir(), "runs.db")
      const error = yield* openError(SqliteRunStore.layer({ filename, readOnly: true }))
      assert.strictEqual(error._tag, "RunStoreError")
      assert.include(error.message, filename)
      assert.isFalse(fs.existsSync(filename))
    })
  )

  it.effect("a file of another program", () =>
    Effect.gen(function* () {
      const filename = path.join(tmpDir(), "notes.db")
      fs.writeFileSync(filename, `${"Dear diary, today I wrote a file that is not a database.\n".repeat(100)}`)
      const error = yield* openError(SqliteRunStore.layer({ filename }))
      assert.strictEqual(error._tag, "RunStoreError")
      assert.include(error.message, filename)
      assert.match(error.message, /not a database/)
      // and it was left as it was
      assert.match(fs.readFileSync(filename, "utf8"), /^Dear diary/)
    })
  )

  it.effect("a corrupt file: damaged pages fail the read that reaches them, naming the file", () =>
    Effect.gen(function* () {
      const filename = path.join(tmpDir(), "runs.db")
      yield* withStore(SqliteRunStore.layer({ filename }), (store) =>
        Effect.gen(function* () {
          const held = yield* lease(store, "r")
          for (let i = 0; i < 40; i++) {
            yield* store.append(held, {
              seq: i * 50,
              entries: Array.from({ length: 50 }, () => JSON.stringify("y".repeat(100)))
            })
          }
        })
      )
      // Checkpoint the WAL into the main file, then overwrite every page after the schema with garbage.
      const raw = new DatabaseSync(filename)
      raw.exec("PRAGMA wal_checkpoint(TRUNCATE)")
      raw.close()
      const bytes = fs.readFileSync(filename)
      const pageSize = bytes.readUInt16BE(16)
      for (let offset = pageSize; offset < bytes.length; offset++) bytes[offset] = (offset * 7919) & 0xff
      fs.writeFileSync(filename, bytes)

      const error = yield* Effect.flip(
        withStore(SqliteRunStore.layer({ filename }), (store) => store.readJournal("r"))
      ) as Effect.Effect<{ _tag: string; message: string }>
      assert.strictEqual(error._tag, "RunStoreError")
      assert.include(error.message, filename)
      assert.match(error.message, /malformed|corrupt|not a database/)
    })
  )

  it.effect("a full disk (PRAGMA max_page_count): the batch fails whole, the store stays usable", () =>
    withFileStore(({ filename, store, sql, held }) =>
      Effect.gen(function* () {
        yield* store.append(held, { seq: 0, entries: ['"first"'] })
        const pages = yield* sql<{ page_count: number }>`PRAGMA page_count`
        yield* sql.unsafe(`PRAGMA max_page_count = ${pages[0]!.page_count + 2}`)
        const big = Array.from({ length: 100 }, (_, i) => JSON.stringify({ i, pad: "z".repeat(500) }))
        const error = yield* Effect.flip(
          store.append(held, { seq: 1, entries: big, status: { status: "completed", result: '"done"' } })
        )
        assert.strictEqual(error._tag, "RunStoreError")
        assert.include(error.message, filename)
        assert.match(error.message, /full/)
        // nothing of the batch: not its entries, not its status
        assert.deepStrictEqual(
          (yield* store.readJournal("r")).map((e) => e.data),
          ['"first"']
        )
        const run = yield* store.get("r")
        assert.deepStrictEqual([run.status, run.journalLength, run.result], ["running", 1, undefined])
        // room again: the same batch goes in
        yield* sql.unsafe("PRAGMA max_page_count = 1073741823")
        yield* store.append(held, { seq: 1, entries: big, status: { status: "completed", result: '"done"' } })
        assert.strictEqual((yield* store.readJournal("r")).length, 101)
      })
    )
  )

  it.effect("a read-only file: reads work, every write is a RunStoreError and writes nothing", () =>
    Effect.gen(function* () {
      const filename = path.join(tmpDir(), "runs.db")
      const held = yield* withStore(SqliteRunStore.layer({ filename }), (store) =>
        Effect.gen(function* () {
          const held = yield* lease(store, "r")
          yield* store.append(held, { seq: 0, entries: ["1", "2"] })
          return held
        })
      )
      yield* withStore(SqliteRunStore.layer({ filename, readOnly: true }), (store) =>
        Effect.gen(function* () {
          assert.deepStrictEqual(
            (yield* store.readJournal("r")).map((e) => e.data),
            ["1", "2"]
          )
          for (const write of [
            store.append(held, { seq: 2, entries: ["3"] }),
            store.putInbox("r", "{}"),
            store.create({ runId: "new", workflow: "wf", definitionHash: "h", input: "{}" })
          ]) {
            const error = yield* Effect.flip(write as Effect.Effect<unknown, { _tag: string; message: string }>)
            assert.strictEqual(error._tag, "RunStoreError")
            assert.include(error.message, filename)
            assert.match(error.message, /readonly/)
          }
          assert.strictEqual((yield* store.readJournal("r")).length, 2)
        })
      )
    })
  )

  it.effect("PRAGMA query_only (how root is kept from writing): a batch is refused whole", () =>
    withFileStore(({ filename, store, sql, held }) =>
      Effect.gen(function* () {
        yield* sql.unsafe("PRAGMA query_only = 1")
        const error = yield* Effect.flip(store.append(held, { seq: 0, entries: ["1"], status: { status: "waiting" } }))
        assert.strictEqual(error._tag, "RunStoreError")
        assert.include(error.message, filename)
        assert.match(error.message, /readonly/)
        const run = yield* store.get("r")
        assert.deepStrictEqual([run.status, run.journalLength], ["running", 0])
      })
    )
  )
})

// ---------------------------------------------------------------------------------------------------------------
// A writer process SIGKILLed mid-write

const appender = fileURLToPath(new URL("./fixtures/appender.ts", import.meta.url))
const entry = (i: number) => JSON.stringify({ i, pad: "x".repeat(i % 97) })

/** Start the appender, wait until it reported `killAfter` committed entries, SIGKILL it. */
const runAndKill = (filename: string, runId: string, killAfter: number) =>
  new Promise<{ reported: number; pid: number }>((resolve, reject) => {
    const child: ChildProcess = spawn(
      process.execPath,
      ["--conditions=@effect-flow/source", appender, filename, runId],
      { stdio: ["ignore", "pipe", "pipe"] }
    )
    let reported = 0
    let stderr = ""
    let buffer = ""
    child.stderr!.on("data", (chunk) => (stderr += chunk))
    child.stdout!.on("data", (chunk: Buffer) => {
      buffer += chunk.toString()
      const lines = buffer.split("\n")
      buffer = lines.pop()!
      for (const line of lines) {
        const m = /^committed (\d+)$/.exec(line)
        if (m) reported = Number(m[1])
        if (reported >= killAfter && child.exitCode === null && !child.killed) child.kill("SIGKILL")
      }
    })
    child.on("exit", (code, signal) => {
      if (signal === "SIGKILL") resolve({ reported, pid: child.pid! })
      else reject(new Error(`the appender exited with ${code} before it was killed:\n${stderr}`))
    })
  })

describe("SqliteRunStore: a writer process SIGKILLed mid-write", () => {
  it.effect(
    "the reopened journal holds every reported commit, is a prefix of what was appended, and the file is intact; the dead owner's lease is free at once",
    () =>
      Effect.gen(function* () {
        const filename = path.join(tmpDir(), "runs.db")
        const runId = "crashy"
        let previous = 0
        // Several kills of processes continuing the same journal, at different points.
        for (const killAfter of [100, 1_050, 2_500, 4_000]) {
          const { reported, pid } = yield* Effect.promise(() => runAndKill(filename, runId, killAfter))
          const raw = new DatabaseSync(filename)
          const integrity = raw.prepare("PRAGMA integrity_check").all()
          raw.close()
          assert.deepStrictEqual(integrity, [{ integrity_check: "ok" }])
          yield* withStore(SqliteRunStore.layer({ filename }), (store) =>
            Effect.gen(function* () {
              const journal = yield* store.readJournal(runId)
              assert.isAtLeast(journal.length, reported, "a reported commit was lost")
              assert.isAtLeast(journal.length, previous)
              journal.forEach((e, i) => {
                assert.strictEqual(e.seq, i)
                assert.strictEqual(e.data, entry(i))
              })
              assert.strictEqual((yield* store.get(runId)).journalLength, journal.length)
              previous = journal.length
              // the killed process held the lease for an hour; it is gone, so the lease is free now
              const taken = yield* store.acquire(runId, {
                owner: "inspector",
                pid: process.pid,
                host: os.hostname(),
                ttl: "1 second"
              })
              assert.notStrictEqual(taken.pid, pid)
              yield* store.release(taken)
            })
          )
        }
      }),
    60_000
  )
})

// ---------------------------------------------------------------------------------------------------------------
// Two processes after one run's lease

const leaser = fileURLToPath(new URL("./fixtures/leaser.ts", import.meta.url))

/** Start a leaser; resolves with the child and the line it printed. */
const startLeaser = (filename: string, runId: string) =>
  new Promise<{ child: ChildProcess; line: string }>((resolve, reject) => {
    const child = spawn(process.execPath, ["--conditions=@effect-flow/source", leaser, filename, runId], {
      stdio: ["ignore", "pipe", "pipe"]
    })
    let out = ""
    let err = ""
    child.stderr!.on("data", (chunk) => (err += chunk))
    child.stdout!.on("data", (chunk) => {
      out += chunk
      if (out.includes("\n")) resolve({ child, line: out.trim() })
    })
    child.on("exit", (code) => reject(new Error(`leaser exited with ${code} before answering:\n${err}`)))
  })

const killed = (child: ChildProcess) =>
  new Promise<void>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill("SIGKILL")
  })

describe("SqliteRunStore: one owner across processes", () => {
  it.effect(
    "two processes take one run's lease at once: one gets it, the other RunBusyError naming it; once the owner is SIGKILLed the lease is free at once",
    () =>
      Effect.gen(function* () {
        const filename = path.join(tmpDir(), "runs.db")
        yield* withStore(SqliteRunStore.layer({ filename }), (store) =>
          Effect.asVoid(store.create({ runId: "contended", workflow: "wf", definitionHash: "h", input: "{}" }))
        )
        const [a, b] = yield* Effect.promise(() =>
          Promise.all([startLeaser(filename, "contended"), startLeaser(filename, "contended")])
        )
        try {
          const lines = [a.line, b.line].sort()
          assert.match(lines[0]!, /^acquired leaser-\d+$/)
          const winner = lines[0]!.slice("acquired ".length)
          assert.strictEqual(lines[1], `busy ${winner}`)
          const owner = a.line.startsWith("acquired") ? a : b
          yield* Effect.promise(() => killed(owner.child))
          // same host, process gone: free at once, though its lease had an hour left
          const taken = yield* withStore(SqliteRunStore.layer({ filename }), (store) =>
            store.acquire("contended", { owner: "heir", pid: process.pid, host: os.hostname(), ttl: "1 second" })
          )
          assert.strictEqual(taken.owner, "heir")
        } finally {
          yield* Effect.promise(() => Promise.all([killed(a.child), killed(b.child)]))
        }
      }),
    60_000
  )
})
