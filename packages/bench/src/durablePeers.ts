/**
 * The durable fan-out against the peers' own persistence, same workload (N items fanned out, each turned into a
 * result by 8 concurrent workers, all N gathered), each on a fresh store:
 *
 * - on SQLite files: effect-flow's `Durable.run` on `SqliteRunStore` against Mastra workflows with
 *   `@mastra/libsql` (`LibSQLStore`, the native libsql binary from npm), `.foreach(step, { concurrency: 8 })`;
 * - on one throwaway PostgreSQL 15 (fsync off, `../../sql/test/postgresServer.ts`): `Durable.run` on `SqlRunStore`
 *   over `@effect/sql-pg` against LangGraph's map-reduce compiled with `PostgresSaver`
 *   (`@langchain/langgraph-checkpoint-postgres`, on `pg`). LangGraph's SQLite checkpointer needs `better-sqlite3`,
 *   which has no prebuilt binary here (a build takes ~10 min and its `SqliteSaver` aborted), hence Postgres.
 *
 * Each system's result is checked (all N results present) and its store is checked to hold the run.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { PgClient } from "@effect/sql-pg"
import { Durable } from "@effect-flow/core"
import { Annotation, END, Send, START, StateGraph } from "@langchain/langgraph"
import { PostgresSaver } from "@langchain/langgraph-checkpoint-postgres"
import { Mastra } from "@mastra/core"
import { createStep, createWorkflow } from "@mastra/core/workflows"
import { LibSQLStore } from "@mastra/libsql"
import { Effect, Layer, Redacted } from "effect"
import pg from "pg"
import { z } from "zod"
import { SqliteRunStore, SqlRunStore } from "../../sql/src/index.ts"
import { startPostgres } from "../../sql/test/postgresServer.ts"
import { fanout } from "./durableWorkflow.ts"

const W = 8

const tmpDir = () => fs.mkdtempSync(path.join(os.tmpdir(), "ef-durable-peers-"))

const timed = async <A>(f: () => Promise<A>): Promise<[number, A]> => {
  const start = performance.now()
  const a = await f()
  return [performance.now() - start, a]
}

const check = (what: string, got: number, n: number) => {
  if (got !== n) throw new Error(`${what} gathered ${got} results, not ${n}`)
}

const ours = async (layer: Layer.Layer<any, any, never>, n: number, runId: string) => {
  const [ms, count] = await timed(() =>
    Effect.runPromise(Durable.run(fanout, { n }, { runId }).pipe(Effect.provide(layer)) as Effect.Effect<number>)
  )
  check("effect-flow", count, n)
  return ms
}

const mastra = async (file: string, n: number) => {
  const result = z.object({ i: z.number(), v: z.number() })
  const work = createStep({
    id: "work",
    inputSchema: z.number(),
    outputSchema: result,
    execute: async ({ inputData }) => ({ i: inputData, v: inputData * 2 })
  })
  const gather = createStep({
    id: "gather",
    inputSchema: z.array(result),
    outputSchema: z.number(),
    execute: async ({ inputData }) => inputData.length
  })
  const workflow = createWorkflow({ id: "bench-fanout", inputSchema: z.array(z.number()), outputSchema: z.number() })
    .foreach(work, { concurrency: W })
    .then(gather)
    .commit()
  const storage = new LibSQLStore({ id: "bench", url: `file:${file}` })
  const app = new Mastra({ workflows: { fanout: workflow }, storage, logger: false })
  const items = Array.from({ length: n }, (_, i) => i)
  const [ms, out] = await timed(async () => {
    const run = await app.getWorkflow("fanout").createRun()
    return { runId: run.runId, out: await run.start({ inputData: items }) }
  })
  if (out.out.status !== "success") throw new Error(`Mastra run ended with status ${out.out.status}`)
  check("Mastra", out.out.result as number, n)
  const workflows = await storage.getStore("workflows")
  const snapshot = await workflows?.loadWorkflowSnapshot({ workflowName: "bench-fanout", runId: out.runId })
  if (snapshot == null) throw new Error("Mastra stored no snapshot of the run")
  await storage.close?.()
  return ms
}

/**
 * A `pg.Pool` that is closed for real before the server stops. `pg.Pool.end()` resolves once it has *asked* its idle
 * clients to close, before their sockets are closed; a server stopped right after (`pg.stop()` blocks the event
 * loop) then terminates backends that have not read the goodbye yet, each client emits "terminating connection due
 * to administrator command", and the pool re-emits it as its own 'error', which, with no listener, crashes the
 * process (CI's `bench --quick` twice). So the pool's 'error' (an idle client's) is listened for, and `close` waits
 * until every client the pool opened has ended, then returns the first such error, if any.
 */
const ownedPool = (url: string) => {
  const pool = new pg.Pool({ connectionString: url })
  const open = new Set<pg.PoolClient>()
  const closed: Array<() => void> = []
  const errors: Array<Error> = []
  pool.on("connect", (client) => open.add(client))
  pool.on("remove", (client) => {
    open.delete(client)
    if (open.size === 0) for (const resolve of closed.splice(0)) resolve()
  })
  pool.on("error", (error) => errors.push(error))
  const close = async () => {
    await pool.end()
    if (open.size > 0) await new Promise<void>((resolve) => closed.push(resolve))
    return errors[0]
  }
  return { pool, close }
}

const langgraph = async (url: string, n: number, thread: string) => {
  const { pool, close } = ownedPool(url)
  const ms = await langgraphOn(pool, n, thread).catch(async (error) => {
    await close()
    throw error
  })
  const idleError = await close()
  if (idleError !== undefined) throw new Error(`an idle client of LangGraph's pg pool failed: ${idleError.message}`)
  return ms
}

const langgraphOn = async (pool: pg.Pool, n: number, thread: string) => {
  const saver = new PostgresSaver(pool)
  await saver.setup()
  const State = Annotation.Root({
    n: Annotation<number>,
    i: Annotation<number>,
    results: Annotation<Array<{ i: number; v: number }>>({
      reducer: (acc, next) => {
        for (const r of next) acc.push(r)
        return acc
      },
      default: () => []
    })
  })
  const graph = new StateGraph(State)
    .addNode("work", async (state: typeof State.State) => ({ results: [{ i: state.i, v: state.i * 2 }] }))
    .addConditionalEdges(START, (state: typeof State.State) =>
      Array.from({ length: state.n }, (_, i) => new Send("work", { i }))
    )
    .addEdge("work", END)
    .compile({ checkpointer: saver })
  const config = { configurable: { thread_id: thread }, maxConcurrency: W, recursionLimit: 100 }
  const [ms, out] = await timed(() => graph.invoke({ n }, config))
  check("LangGraph", out.results.length, n)
  const stored = await saver.getTuple({ configurable: { thread_id: thread } })
  if (stored === undefined) throw new Error("LangGraph stored no checkpoint of the run")
  return ms
}

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const num = (x: number) => Math.round(x).toLocaleString("en-US")

/** Measure and return the Markdown rows; `repeats` runs of each, interleaved. */
export const peers = async (n: number, repeats: number): Promise<string> => {
  const dir = tmpDir()
  const pg = await startPostgres()
  try {
    const sqlite = { ours: [] as Array<number>, mastra: [] as Array<number> }
    const postgres = { ours: [] as Array<number>, langgraph: [] as Array<number> }
    const pgLayer =
      "url" in pg
        ? SqlRunStore.layer({ name: "postgres" }).pipe(
            Layer.provide(PgClient.layer({ url: Redacted.make(pg.url), maxConnections: 4 }))
          )
        : undefined
    // warm-up, not timed
    await ours(SqliteRunStore.layer({ filename: path.join(dir, "warm.db") }), 500, "warm")
    await mastra(path.join(dir, "warm-mastra.db"), 100)
    for (let r = 0; r < repeats; r++) {
      sqlite.ours.push(await ours(SqliteRunStore.layer({ filename: path.join(dir, `ours-${r}.db`) }), n, `r${r}`))
      sqlite.mastra.push(await mastra(path.join(dir, `mastra-${r}.db`), n))
      if ("url" in pg) {
        postgres.ours.push(await ours(pgLayer!, n, `pg-${r}`))
        postgres.langgraph.push(await langgraph(pg.url, n, `lg-${r}`))
      }
    }
    const rate = (ms: ReadonlyArray<number>) => (n / median(ms)) * 1000
    const row = (name: string, ms: ReadonlyArray<number>, base?: ReadonlyArray<number>) =>
      `| ${name} | ${num(rate(ms))} | ${base === undefined ? "" : `${(rate(base) / rate(ms)).toFixed(1)}x`} |`
    const lines = [
      `| N = ${num(n)}, ${repeats === 1 ? "one run" : `median of ${repeats}`} | items/s | effect-flow's over it |`,
      "|---|---|---|",
      row("**effect-flow `Durable.run`, `SqliteRunStore` (SQLite file)**", sqlite.ours),
      row("Mastra workflows, `LibSQLStore` (libsql file)", sqlite.mastra, sqlite.ours),
      ...("url" in pg
        ? [
            row("**effect-flow `Durable.run`, `SqlRunStore` on PostgreSQL 15**", postgres.ours),
            row("LangGraph `StateGraph` with `PostgresSaver` on the same PostgreSQL", postgres.langgraph, postgres.ours)
          ]
        : [`| Postgres rows skipped: ${pg.skip} | | |`])
    ]
    return lines.join("\n")
  } finally {
    if ("url" in pg) pg.stop()
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] !== undefined && import.meta.filename === process.argv[1]) {
  peers(Number(process.argv[2] ?? 1000), 1).then(
    (text) => console.log(text),
    (error) => {
      console.error(error)
      process.exit(1)
    }
  )
}
