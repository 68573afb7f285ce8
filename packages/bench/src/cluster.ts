/**
 * Distributed steps on effect/cluster (issue 17): a fan-out whose work step is `distribute: true`, run from a
 * client process on 1, 2 and 3 runner processes (`NodeClusterSocket`, storage in a throwaway Postgres), each
 * item `busyMs` of CPU. Reported: items/s per runner count, and the per-invocation overhead of
 * `distribute: true` against the same step run locally on the run's owner (the cluster's persisted message,
 * its reply and the events' encoding), with trivial items on one runner.
 *
 *   npm run -w @effect-flow/bench cluster              N = 400 busy items, 300 trivial, 3 repeats
 *   npm run -w @effect-flow/bench cluster -- --quick   1 repeat, N = 100 / 100
 *
 * Prints a Markdown section; `npm run bench` (full) includes it in BENCHMARKS.md. Skips, saying why, where
 * PostgreSQL is not installed. Wall-clock on a shared 2-core machine: noisy, and the runners share the cores
 * with the client and Postgres, so more runners buy little CPU here.
 */
import * as path from "node:path"
import { Distributed } from "@effect-flow/cluster"
import { Effect } from "effect"
import { clientLayer, type Runner, spawnRunner } from "../../cluster/test/fixtures/cluster.ts"
import { startPostgres } from "../../sql/test/postgresServer.ts"
import { distributedFanout, localFanout } from "./clusterWorkflows.ts"

const quick = process.argv.includes("--quick")
const repeats = quick ? 1 : 3
const busyN = quick ? 100 : 400
const busyMs = 5
const trivialN = quick ? 100 : 300
const workflowsModule = path.join(import.meta.dirname, "clusterWorkflows.ts")

const median = (xs: ReadonlyArray<number>) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
const fmt = (xs: ReadonlyArray<number>, digits = 0) =>
  xs.length === 1
    ? xs[0]!.toFixed(digits)
    : `${median(xs).toFixed(digits)} (${Math.min(...xs).toFixed(digits)}–${Math.max(...xs).toFixed(digits)})`

let runs = 0
const timed = async (url: string, distributed: boolean, n: number, ms: number): Promise<number> => {
  const wf = distributed ? distributedFanout : localFanout
  const started = performance.now()
  const count = await Effect.runPromise(
    Distributed.run(wf, { n, busyMs: ms }, { runId: `bench-${process.pid}-${++runs}` }).pipe(
      Effect.provide(clientLayer(url))
    )
  )
  const seconds = (performance.now() - started) / 1000
  if (count !== n) throw new Error(`${wf.name}: ${count} of ${n} items came back`)
  return seconds
}

const withRunners = async <A>(url: string, k: number, f: () => Promise<A>): Promise<A> => {
  const runners: Array<Runner> = []
  try {
    for (let i = 0; i < k; i++) {
      const runner = await spawnRunner({ url, workflowsModule })
      runners.push(runner)
      await runner.ready
    }
    // Let the runners take their shards before timing.
    await new Promise((r) => setTimeout(r, 2_500))
    return await f()
  } finally {
    await Promise.all(runners.map((r) => r.stop()))
  }
}

const main = async () => {
  const pg = await startPostgres()
  if ("skip" in pg) {
    process.stdout.write(`### Distributed steps (effect/cluster)\n\nSkipped: ${pg.skip}\n`)
    return
  }
  try {
    const throughput = new Map<number, Array<number>>()
    for (const k of [1, 2, 3]) {
      await withRunners(pg.url, k, async () => {
        await timed(pg.url, true, 20, 0) // warm-up: entity types, connections
        for (let r = 0; r < repeats; r++) {
          const seconds = await timed(pg.url, true, busyN, busyMs)
          throughput.set(k, [...(throughput.get(k) ?? []), busyN / seconds])
          process.stderr.write(`[cluster] ${k} runner(s): ${(busyN / seconds).toFixed(0)} items/s\n`)
        }
      })
    }
    const local: Array<number> = []
    const distributed: Array<number> = []
    await withRunners(pg.url, 1, async () => {
      await timed(pg.url, true, 20, 0)
      await timed(pg.url, false, 20, 0)
      for (let r = 0; r < repeats; r++) {
        local.push(await timed(pg.url, false, trivialN, 0))
        distributed.push(await timed(pg.url, true, trivialN, 0))
      }
    })
    const overheadMs = distributed.map((d, i) => ((d - local[i]!) * 1000) / trivialN)
    const rows = [...throughput].map(([k, xs]) => `| ${k} | ${fmt(xs)} |`).join("\n")
    process.stdout.write(`### Distributed steps (effect/cluster)

A fan-out of ${busyN} items, each ${busyMs} ms of CPU, its work step \`distribute: true\` (32 in flight), run from a
client process on runner processes over one Postgres (the run's journal in \`SqlRunStore\`, the invocations as
persisted cluster messages). ${repeats} repeat(s): median (min–max). The client, the runners and Postgres share
this machine's 2 cores, so more runners add little CPU here.

| runners | items/s |
|---:|---:|
${rows}

Per-invocation overhead of \`distribute: true\` against the same step run locally on the run's owner (one runner,
${trivialN} trivial items, 32 in flight): ${fmt(overheadMs, 2)} ms per invocation (local run ${fmt(
      local.map((s) => trivialN / s)
    )} items/s, distributed ${fmt(distributed.map((s) => trivialN / s))} items/s).
`)
  } finally {
    pg.stop()
  }
}

main().then(
  () => process.exit(0),
  (error) => {
    process.stderr.write(`cluster bench failed: ${error instanceof Error ? error.stack : error}\n`)
    process.exit(1)
  }
)
