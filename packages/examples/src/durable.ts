/**
 * Example `durable`: a run that survives its process. A child process runs a durable fan-out (200 items, 4
 * workers) on a SQLite file and is killed with SIGKILL part way; this process resumes the run by its `runId`
 * from the journal, says what the journal let it skip (invocations whose end was committed) and what it ran
 * again (those in flight at the kill, under the same `ctx.invocationId`), and prints the result, which is the
 * one an uninterrupted run gives.
 *
 * Run it: `npm run example -- durable`
 *
 * @since 0.2.0
 */

import { spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Durable, defineWorkflow, RunStore, StartEvent, StopEvent } from "@effect-flow/core"
import { SqliteRunStore } from "@effect-flow/sql"
import { Console, Effect, Option, Schema } from "effect"

/**
 * An item to price.
 *
 * @since 0.2.0
 * @category events
 */
export class PriceItem extends Schema.TaggedClass<PriceItem>()("PriceItem", { sku: Schema.Number }) {}

/**
 * A priced item.
 *
 * @since 0.2.0
 * @category events
 */
export class Priced extends Schema.TaggedClass<Priced>()("Priced", { sku: Schema.Number, cents: Schema.Number }) {}

const SKUS = 200
const isChild = import.meta.main && process.argv[2] === "child"

/** Which invocations ran in this process, by `ctx.invocationId`. */
const ran = new Set<string>()

/**
 * A fan-out that prices `skus` items (each a slow call, 4 at a time) and sums them.
 *
 * @example
 * ```ts
 * const total = yield* Durable.run(Pricing, { skus: 200 }, { runId: "prices-1" })
 * ```
 *
 * @since 0.2.0
 * @category workflows
 */
export const Pricing = defineWorkflow({
  name: "pricing",
  input: Schema.Struct({ skus: Schema.Number }),
  state: Schema.Struct({ priced: Schema.Number }),
  initialState: { priced: 0 }
})
  .step(StartEvent, (ev, ctx) => ctx.sendAll(Array.from({ length: ev.skus }, (_, sku) => new PriceItem({ sku }))), {
    name: "dispatch",
    emits: [PriceItem]
  })
  .step(
    PriceItem,
    (ev, ctx) =>
      Effect.gen(function* () {
        ran.add(ctx.invocationId)
        // the child tells its parent the run is under way (its journal exists) at its first price call
        if (ran.size === 1 && isChild) process.stdout.write("running\n")
        // a slow outside call: key it with ctx.invocationId to make it idempotent
        yield* Effect.sleep("10 millis")
        yield* ctx.store.edit((s) => Effect.succeed({ priced: s.priced + 1 }))
        return new Priced({ sku: ev.sku, cents: 100 + ((ev.sku * 37) % 250) })
      }),
    { name: "price", workers: 4, emits: [Priced] }
  )
  .step(
    Priced,
    (ev, ctx) =>
      Effect.gen(function* () {
        const all = yield* ctx.collect(ev, SKUS)
        if (Option.isNone(all)) return
        const { priced } = yield* ctx.store.getAll
        return new StopEvent({ result: { priced, cents: all.value.reduce((a, p) => a + p.cents, 0) } })
      }),
    { name: "total", emits: [StopEvent] }
  )

const self = fileURLToPath(import.meta.url)

/** In the child: run the workflow durably until killed. */
const child = (file: string, runId: string) =>
  Durable.run(Pricing, { skus: SKUS }, { runId }).pipe(Effect.provide(SqliteRunStore.layer({ filename: file })))

/**
 * Start the child, kill it part way, resume here and report.
 *
 * @since 0.2.0
 * @category main
 */
export const main = Effect.gen(function* () {
  const dir = mkdtempSync(path.join(os.tmpdir(), "effect-flow-durable-"))
  const file = path.join(dir, "runs.db")
  const runId = "prices-1"
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
  yield* Console.log(`A child process runs "${Pricing.name}" (${SKUS} items, 4 workers) durably in ${file}...`)
  yield* Effect.promise(
    () =>
      new Promise<void>((resolve) => {
        const proc = spawn(process.execPath, ["--conditions=@effect-flow/source", self, "child", file, runId], {
          stdio: ["ignore", "pipe", "inherit"]
        })
        proc.stdout.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("running")) setTimeout(() => proc.kill("SIGKILL"), 250)
        })
        proc.on("exit", () => resolve())
      })
  )
  yield* Console.log("...and is killed with SIGKILL part way.")
  const resumed = Effect.gen(function* () {
    const store = yield* RunStore.RunStore
    const journal = (yield* store.readJournal(runId)).map((e) => Durable.readEntry(runId, e.data))
    const ended = new Set(journal.filter((e) => e.t === "e" && e.k !== "B").map((e) => e.i!))
    const started = new Set(journal.filter((e) => e.t === "s").map((e) => e.i!))
    const inFlight = [...started].filter((id) => !ended.has(id))
    const endedPrices = [...ended].filter((id) => id.includes("/price/")).length
    const { status } = yield* Durable.status(runId)
    yield* Console.log(
      `The journal holds ${journal.length} entries; the run reads "${status}". ${ended.size} invocations ended ` +
        `(${endedPrices} of them price calls): they will not run again; ${inFlight.length} were in flight at the kill.`
    )
    const result = yield* Durable.resume(Pricing, runId)
    const pricedHere = [...ran].length
    const again = inFlight.filter((id) => ran.has(id) && id.includes("/price/"))
    yield* Console.log(
      `Resumed here: ${pricedHere} price calls ran in this process, ${again.length} of them again under the ` +
        `same invocationId (${again.slice(0, 3).join(", ")}${again.length > 3 ? ", ..." : ""}); ` +
        `skipped: the ${endedPrices} whose end was committed.`
    )
    yield* Console.log(`Result: ${JSON.stringify(result)} (an uninterrupted run gives the same).`)
  })
  yield* resumed.pipe(Effect.provide(SqliteRunStore.layer({ filename: file })))
}).pipe(Effect.scoped)

if (isChild) {
  const [, , , file, runId] = process.argv as unknown as [string, string, string, string, string]
  Effect.runPromise(child(file, runId)).then(
    () => process.exit(0),
    (error) => {
      process.stderr.write(`${error}\n`)
      process.exit(1)
    }
  )
}
