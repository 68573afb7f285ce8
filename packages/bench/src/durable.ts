/**
 * Durable fan-out on a SQLite file (issue 16): a StartEvent step sends N items, a step with 8 workers turns each
 * into a result with a `store.edit`, a collecting step gathers all N. Reported, as a Markdown section that the full
 * `npm run bench` puts in BENCHMARKS.md:
 *
 * - items/s of `Durable.run` at N = 10,000 against the same workflow in memory (`Workflow.run`) and against the
 *   floor: raw `node:sqlite` writing the same journal bytes in the same batches (one transaction per batch) into a
 *   fresh file, with no engine and no effect in between;
 * - journal bytes per item at 1,000 and 100,000 items;
 * - a 100,000-item run in a child process SIGKILLed once half its items are done, then resumed here: the time to
 *   read and fold its journal and run it to the end;
 * - the same durable fan-out against the peers' own persistence (`durablePeers.ts`): Mastra with `@mastra/libsql`
 *   on SQLite files, LangGraph with `PostgresSaver` on a throwaway Postgres against our `SqlRunStore` there.
 *
 *   npm run -w @effect-flow/bench durable              3 repeats (median and range)
 *   npm run -w @effect-flow/bench durable -- --quick   1 repeat, bytes at 1,000 and 10,000, resume at 20,000
 *
 * Timings are wall-clock on a shared machine: noisy. Compare rows of one run, not runs.
 */
import { spawn } from "node:child_process"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { DatabaseSync } from "node:sqlite"
import { fileURLToPath } from "node:url"
import { Durable, RunStore, Workflow } from "@effect-flow/core"
import { Effect } from "effect"
import { SqliteRunStore } from "../../sql/src/index.ts"
import { peers } from "./durablePeers.ts"
import { counter, fanout } from "./durableWorkflow.ts"

const quick = process.argv.includes("--quick")
const repeats = quick ? 1 : 3
const N = 10_000
const TARGET = 20_000

const tmpFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ef-durable-bench-")), "runs.db")
const rmFile = (file: string) => fs.rmSync(path.dirname(file), { recursive: true, force: true })

const timed = async <A>(f: () => Promise<A>): Promise<[number, A]> => {
  const start = performance.now()
  const a = await f()
  return [performance.now() - start, a]
}

const durableRun = (file: string, n: number, runId: string) =>
  Effect.runPromise(
    Durable.run(fanout, { n }, { runId }).pipe(Effect.provide(SqliteRunStore.layer({ filename: file })))
  )

const journalBytes = (file: string, runId: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const journal = yield* store.readJournal(runId)
      return journal.reduce((sum, e) => sum + Buffer.byteLength(e.data), 0)
    }).pipe(Effect.provide(SqliteRunStore.layer({ filename: file })))
  )

/**
 * The floor: the batches the durable run wrote (read back from its file), written again with raw `node:sqlite`
 * into a fresh file in the same layout, one transaction per batch, the file opened and closed as the run's is.
 */
const floorMs = (file: string, runId: string): number => {
  const source = new DatabaseSync(file, { readOnly: true })
  const rows = source
    .prepare("SELECT seq, count, sizes, data FROM effect_flow_journal WHERE run_id = ? ORDER BY seq")
    .all(runId) as Array<{ seq: number; count: number; sizes: string; data: string }>
  source.close()
  const target = tmpFile()
  const start = performance.now()
  const db = new DatabaseSync(target)
  db.exec("PRAGMA journal_mode = WAL")
  db.exec("PRAGMA synchronous = NORMAL")
  db.exec(
    "CREATE TABLE journal (run_id TEXT NOT NULL, seq INTEGER NOT NULL, count INTEGER NOT NULL, sizes TEXT NOT NULL, data TEXT NOT NULL, PRIMARY KEY (run_id, seq))"
  )
  const insert = db.prepare("INSERT INTO journal (run_id, seq, count, sizes, data) VALUES (?, ?, ?, ?, ?)")
  for (const row of rows) {
    db.exec("BEGIN")
    insert.run(runId, row.seq, row.count, row.sizes, row.data)
    db.exec("COMMIT")
  }
  db.close()
  const ms = performance.now() - start
  rmFile(target)
  return ms
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const num = (x: number) => Math.round(x).toLocaleString("en-US")
const spread = (xs: ReadonlyArray<number>) =>
  xs.length === 1 ? num(xs[0]!) : `${num(median(xs))} (${num(Math.min(...xs))}–${num(Math.max(...xs))})`

/** Run `n` items durably in a child process on `file`; resolve once it reports `half` items done, then SIGKILL it. */
const killedHalfWay = (file: string, n: number) =>
  new Promise<number>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@effect-flow/source", fileURLToPath(import.meta.url), "--child", file, String(n)],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    let buffered = ""
    let killedAt: number | undefined
    child.stdout.on("data", (d: Buffer) => {
      buffered += d.toString()
      const lines = buffered.split("\n")
      buffered = lines.pop()!
      for (const line of lines) {
        const done = Number(line)
        if (killedAt === undefined && done >= n / 2) {
          killedAt = done
          child.kill("SIGKILL")
        }
      }
    })
    child.on("close", () =>
      killedAt === undefined ? reject(new Error("the child ended before half its items were done")) : resolve(killedAt)
    )
  })

/** The child of `killedHalfWay`: reports every 500 items done on stdout. */
const child = async (file: string, n: number) => {
  let reported = 0
  counter.onItem = (done) => {
    if (done - reported >= 500) {
      reported = done
      process.stdout.write(`${done}\n`)
    }
  }
  await durableRun(file, n, "half")
}

const main = async () => {
  const memory: Array<number> = []
  const durable: Array<number> = []
  const floor: Array<number> = []
  // Warm-up (not timed): the first run of a process also compiles the engine, the schemas and the SQL.
  await Effect.runPromise(Workflow.run(fanout, { n: 2_000 }))
  const warm = tmpFile()
  await durableRun(warm, 2_000, "warm-up")
  rmFile(warm)
  for (let r = 0; r < repeats; r++) {
    const [m] = await timed(() => Effect.runPromise(Workflow.run(fanout, { n: N })))
    memory.push((N / m) * 1000)
    const file = tmpFile()
    const [d, count] = await timed(() => durableRun(file, N, `run-${r}`))
    if (count !== N) throw new Error(`durable run collected ${count}, not ${N}`)
    durable.push((N / d) * 1000)
    floor.push((N / floorMs(file, `run-${r}`)) * 1000)
    rmFile(file)
  }

  const bytesRows: Array<string> = []
  for (const n of quick ? [1_000, 10_000] : [1_000, 100_000]) {
    const file = tmpFile()
    await durableRun(file, n, "bytes")
    const bytes = await journalBytes(file, "bytes")
    const dbBytes = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0)
    bytesRows.push(`| ${num(n)} | ${(bytes / n).toFixed(1)} | ${(dbBytes / n).toFixed(1)} |`)
    rmFile(file)
  }

  const big = quick ? 20_000 : 100_000
  const file = tmpFile()
  const killedAt = await killedHalfWay(file, big)
  counter.done = 0
  const [resume, count] = await timed(() =>
    Effect.runPromise(Durable.resume(fanout, "half").pipe(Effect.provide(SqliteRunStore.layer({ filename: file }))))
  )
  if (count !== big) throw new Error(`resumed run collected ${count}, not ${big}`)
  // Read now: the peers' rows below run the same workflow in this process and count on.
  const ranOnResume = counter.done
  // Across the kill, every item's work invocation ended once in the journal: none ran to its end twice.
  const ends = await Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const ended = new Map<string, number>()
      for (const e of yield* store.readJournal("half")) {
        const entry = Durable.readEntry("half", e.data)
        if (entry.t === "e" && entry.k === "R" && String(entry.i).includes("/work/")) {
          ended.set(entry.i!, (ended.get(entry.i!) ?? 0) + 1)
        }
      }
      return ended
    }).pipe(Effect.provide(SqliteRunStore.layer({ filename: file })))
  )
  const twice = [...ends.values()].filter((c) => c > 1).length
  if (ends.size !== big || twice > 0) {
    throw new Error(`after the resume, ${ends.size} work invocations ended (not ${big}), ${twice} of them twice`)
  }
  rmFile(file)

  const peerN = quick ? 500 : N
  const peerRows = await peers(peerN, repeats)

  const med = median(durable)
  process.stdout.write(`Fan-out / fan-in of N items (a \`store.edit\` per item, 8 workers, one \`collect\` of all N), each run on a fresh SQLite file (WAL, synchronous NORMAL), opened and closed within the timing, after an untimed warm-up run of each. ${repeats === 1 ? "One run" : `Median (range) of ${repeats} runs`}; wall-clock on a shared machine.

| N = ${num(N)} | items/s |
|---|---|
| in memory (\`Workflow.run\`) | ${spread(memory)} |
| **durable on SQLite (\`Durable.run\`, \`SqliteRunStore\`)** | **${spread(durable)}** (target ≥ ${num(TARGET)}: ${med >= TARGET ? "met" : "missed"}) |
| floor: raw \`node:sqlite\` writing the same journal bytes in the same batches | ${spread(floor)} |

| items | journal bytes per item | database file bytes per item (with WAL) |
|---|---|---|
${bytesRows.join("\n")}

Resume: a ${num(big)}-item run in a child process SIGKILLed once it reported ${num(killedAt)} items done (it runs on while the report travels and the signal lands), resumed here by \`runId\`: **${num(resume)} ms** to read and fold its journal and finish it (${num(ranOnResume)} items run on resume: those not done when the signal landed and those whose end was not committed yet; the journal shows each of the ${num(big)} items' invocations ended once).

Against the peers' own persistence, the same fan-out / fan-in of ${num(peerN)} items (8 at a time, all gathered), each on a fresh store after an untimed warm-up (target: effect-flow ≥ 10x both${quick ? "; this quick run is a smoke test: at 500 items a run's fixed costs (opening the file, creating tables, taking the lease) dominate, so its ratios say little" : ""}). Mastra persists its run snapshots to a libsql file, LangGraph checkpoints every superstep with its tasks' writes to Postgres; LangGraph's SQLite checkpointer needs \`better-sqlite3\`, which has no prebuilt binary here (its build takes ~10 min and its \`SqliteSaver\` aborted), hence the comparison on PostgreSQL, against our store on the same server.

${peerRows}
`)
}

if (process.argv[2] === "--child") {
  child(process.argv[3]!, Number(process.argv[4])).then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
} else {
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
