/**
 * Durable fan-out on a SQLite file (issue 16): a StartEvent step sends N items, a step with 8 workers turns each
 * into a result with a `store.edit`, a collecting step gathers all N. Reported: items/s of `Durable.run` against
 * the same workflow run in memory (`Workflow.run`), journal bytes per item at 1,000 and 100,000 items, and the
 * time to resume a 100,000-item run stopped half way (its journal read and folded, then run to the end).
 *
 *   npm run -w @effect-flow/bench durable              N = 10,000, 3 repeats (median and range)
 *   npm run -w @effect-flow/bench durable -- --quick   1 repeat, resume at 20,000 items
 *
 * The half-way stop interrupts the run in-process (its writer flushes what was queued), as a deploy would; the
 * SIGKILL case is covered by the tests. Timings are wall-clock on a shared machine: noisy.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { Durable, defineWorkflow, RunStore, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Effect, Fiber, Option, Schema } from "effect"
import { SqliteRunStore } from "../../sql/src/index.ts"

const quick = process.argv.includes("--quick")
const repeats = quick ? 1 : 3

class Item extends Schema.TaggedClass<Item>()("Item", { i: Schema.Number }) {}
class Result extends Schema.TaggedClass<Result>()("Result", { i: Schema.Number, v: Schema.Number }) {}

let done = 0
const fanout = defineWorkflow({
  name: "bench-fanout",
  input: Schema.Struct({ n: Schema.Number }),
  state: Schema.Struct({ n: Schema.Number, sum: Schema.Number }),
  initialState: { n: 0, sum: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("n", ev.n)
        for (let i = 0; i < ev.n; i++) yield* ctx.send(new Item({ i }))
      }),
    { name: "dispatch", emits: [Item] }
  )
  .step(
    Item,
    (ev, ctx) =>
      Effect.map(
        ctx.store.edit((s) => Effect.succeed({ ...s, sum: s.sum + ev.i })),
        () => {
          done++
          return new Result({ i: ev.i, v: ev.i * 2 })
        }
      ),
    { name: "work", workers: 8, emits: [Result] }
  )
  .step(
    Result,
    (ev, ctx) =>
      Effect.gen(function* () {
        const n = yield* ctx.store.get("n")
        const all = yield* ctx.collect(ev, n)
        if (Option.isNone(all)) return
        return new StopEvent({ result: all.value.length })
      }),
    { name: "gather", emits: [StopEvent] }
  )

const tmpFile = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ef-durable-bench-")), "runs.db")

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

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (xs: ReadonlyArray<number>) =>
  `${Math.round(median(xs)).toLocaleString("en-US")} (${Math.round(Math.min(...xs)).toLocaleString("en-US")}–${Math.round(Math.max(...xs)).toLocaleString("en-US")})`

const main = async () => {
  const N = 10_000
  const memory: Array<number> = []
  const durable: Array<number> = []
  for (let r = 0; r < repeats; r++) {
    const [m] = await timed(() => Effect.runPromise(Workflow.run(fanout, { n: N })))
    memory.push((N / m) * 1000)
    const file = tmpFile()
    const [d, count] = await timed(() => durableRun(file, N, `run-${r}`))
    if (count !== N) throw new Error(`durable run collected ${count}, not ${N}`)
    durable.push((N / d) * 1000)
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }
  console.log(`fan-out N = ${N.toLocaleString("en-US")}, items/s, median (range) of ${repeats}:`)
  console.log(`  in memory (Workflow.run):        ${fmt(memory)}`)
  console.log(`  durable on SQLite (Durable.run): ${fmt(durable)}`)

  for (const n of [1_000, 100_000]) {
    const file = tmpFile()
    await durableRun(file, n, "bytes")
    const bytes = await journalBytes(file, "bytes")
    const dbBytes = fs.statSync(file).size + (fs.existsSync(`${file}-wal`) ? fs.statSync(`${file}-wal`).size : 0)
    console.log(
      `journal at ${n.toLocaleString("en-US")} items: ${(bytes / n).toFixed(1)} bytes of entries per item (${(dbBytes / n).toFixed(1)} bytes of database file per item)`
    )
    fs.rmSync(path.dirname(file), { recursive: true, force: true })
  }

  const big = quick ? 20_000 : 100_000
  const file = tmpFile()
  const layer = SqliteRunStore.layer({ filename: file })
  done = 0
  await Effect.runPromise(
    Effect.gen(function* () {
      const fiber = yield* Effect.forkChild(Durable.run(fanout, { n: big }, { runId: "half" }), {
        startImmediately: true
      })
      while (done < big / 2) yield* Effect.sleep("5 millis")
      yield* Fiber.interrupt(fiber)
    }).pipe(Effect.provide(layer))
  )
  const stoppedAt = done
  done = 0
  const [resume, count] = await timed(() =>
    Effect.runPromise(Durable.resume(fanout, "half").pipe(Effect.provide(SqliteRunStore.layer({ filename: file }))))
  )
  if (count !== big) throw new Error(`resumed run collected ${count}, not ${big}`)
  console.log(
    `resume of a ${big.toLocaleString("en-US")}-item run stopped after ${stoppedAt.toLocaleString("en-US")} items: ${Math.round(resume).toLocaleString("en-US")} ms to read, fold and finish it (${done.toLocaleString("en-US")} items run on resume)`
  )
  fs.rmSync(path.dirname(file), { recursive: true, force: true })
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
