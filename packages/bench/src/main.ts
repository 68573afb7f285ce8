/**
 * The benchmark: effect-flow against the floors (raw Effect, a hand-written Effect pipeline, p-limit
 * promises) and the peers (LlamaIndex workflow-core, LangGraph, Mastra), side by side in one run.
 *
 *   npm run bench               full run (5 repeats, N up to 100,000); writes BENCHMARKS.md
 *   npm run bench -- --quick    smoke run for CI (small N, one repeat); exits 1 if any run fails
 *                               verification, errors or times out; writes nothing
 *
 * Every measurement runs in a fresh child process (`child.ts`), systems interleaved (A B C A B C ...)
 * within each repeat, so drift on the machine spreads over all systems alike.
 */
import { spawn, spawnSync } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { ARROW_HANDLERS, adapters, BASELINE, GENERATOR, GENERATOR_HANDLERS, HANDLERS, LEAN } from "./adapter.ts"
import { FILED_ENGINE } from "./engines.ts"
import type { Job, JobResult } from "./protocol.ts"
import { RESULT_PREFIX } from "./protocol.ts"
import { mb, num, ratio, type Summary, spread, summarize } from "./stats.ts"
import { TINY_FLOOR, TINY_FLOW, TINY_MASTRA, tinySystems } from "./tiny.ts"
import { WAIT_EVENT, WAIT_FOR, waitingSystems } from "./waiting.ts"

const quick = process.argv.includes("--quick")
const here = import.meta.dirname
const repoRoot = path.resolve(here, "../../..")
const childPath = path.join(here, "child.ts")
/**
 * V8 flags of every measuring child. The young generation is held at 16 MiB a half: left to itself, V8 doubles it
 * once the bytes surviving its collections since the last doubling pass 16 MiB, which module loading before the
 * measured run brings within a few MB of, so whether a 100,000-item run doubles it (and touches ~32 MB of fresh
 * pages, counted as RSS growth and paid in page faults) turned on that loading garbage, not on the system measured:
 * the documented-style row read ~185 or ~460 B/item from one process to the next.
 */
const childFlags = ["--max-semi-space-size=16"]

const plan = quick
  ? {
      repeats: 1,
      aSizes: [500, 2_000],
      bN: 64,
      bWorkers: [4, 16],
      dRuns: 50,
      dN: 10,
      tinyRuns: 200,
      atOnceRuns: 100,
      waitingRuns: 500,
      shareN: 2_000,
      sharePairs: 2,
      limitMs: 20_000,
      /** Per (system, measurement): stop repeating once the runs so far took this long in total. */
      budgetMs: 60_000,
      totalBudgetMs: 55_000
    }
  : {
      repeats: 5,
      aSizes: [1_000, 10_000, 100_000],
      bN: 200,
      bWorkers: [4, 16],
      dRuns: 1_000,
      dN: 10,
      tinyRuns: 2_000,
      atOnceRuns: 1_000,
      waitingRuns: 10_000,
      shareN: 100_000,
      sharePairs: 7,
      limitMs: 60_000,
      budgetMs: 60_000,
      totalBudgetMs: 45 * 60_000
    }
const W = 4
const SLEEP_MS = 10

// ---------------------------------------------------------------------------------------------
// jobs and cells (one cell = one child process)

const keyOf = (job: Job): string => {
  switch (job.workload) {
    case "A":
      return `A:${job.n}`
    case "B":
      return `B:${job.workers}`
    case "D":
      return `D:${job.runs}x${job.n}`
    case "S":
      return `S:${job.n}`
    default:
      return `${job.workload}:${job.runs}`
  }
}

/** The fan-out / fan-in workloads of one adapter, as cells (one cell = one child process). */
const jobsFor = (system: string): Array<Array<Job>> => {
  const base = { system, limitMs: plan.limitMs }
  const a = plan.aSizes.map((n): Job => ({ ...base, workload: "A", n, workers: W }))
  const b = plan.bWorkers.map((workers): Job => ({ ...base, workload: "B", n: plan.bN, workers, sleepMs: SLEEP_MS }))
  const d: Job = { ...base, workload: "D", runs: plan.dRuns, n: plan.dN, workers: W }
  // Full mode: each A size and D in a fresh process; both B jobs share one. Quick mode: one process per system.
  return quick ? [[...a, ...b, d]] : [...a.map((j) => [j]), b, [d]]
}

/** The tiny runs of one system: one after another, then all at once, each in a fresh process (quick: one). */
const tinyJobsFor = (system: string): Array<Array<Job>> => {
  const base = { system, limitMs: plan.limitMs }
  const t: Job = { ...base, workload: "T", runs: plan.tinyRuns }
  const u: Job = { ...base, workload: "U", runs: plan.atOnceRuns }
  return quick ? [[t, u]] : [[t], [u]]
}

/**
 * One repeat, as rounds of cells: within a round every system takes its turn (A B C A B C ...), so drift on the
 * machine spreads over all systems alike.
 */
const rounds: Array<Array<Array<Job>>> = (() => {
  const fanOut = adapters.map((a) => jobsFor(a.name))
  const tiny = tinySystems.map((t) => tinyJobsFor(t.name))
  const out: Array<Array<Array<Job>>> = []
  for (const family of [fanOut, tiny]) {
    for (let c = 0; c < family[0]!.length; c++) out.push(family.map((cells) => cells[c]!))
  }
  out.push(
    waitingSystems.map((w) => [{ system: w.name, workload: "M", runs: plan.waitingRuns, limitMs: plan.limitMs }])
  )
  out.push([
    [{ system: LEAN, workload: "S", n: plan.shareN, workers: W, pairs: plan.sharePairs, limitMs: plan.limitMs }]
  ])
  return out
})()

const runCell = (jobs: ReadonlyArray<Job>): Promise<Array<JobResult>> =>
  new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@effect-flow/source", "--expose-gc", ...childFlags, childPath, JSON.stringify(jobs)],
      { stdio: ["ignore", "pipe", "pipe"], cwd: path.resolve(here, "..") }
    )
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
    child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)))
    // Backstop: the child enforces each job's limit itself, but a system that works synchronously never
    // lets its timer fire; this kills such a child shortly after the limit (start-up takes a few seconds).
    const hardLimit = jobs.reduce((t, j) => t + j.limitMs, 0) + 8_000
    let killed = false
    const timer = setTimeout(() => {
      killed = true
      child.kill("SIGKILL")
    }, hardLimit)
    child.on("close", (code) => {
      clearTimeout(timer)
      const results: Array<JobResult> = stdout
        .split("\n")
        .filter((l) => l.startsWith(RESULT_PREFIX))
        .map((l) => JSON.parse(l.slice(RESULT_PREFIX.length)) as JobResult)
      const timedOut = results.some((r) => r.timedOut)
      for (const job of jobs.slice(results.length)) {
        results.push(
          timedOut
            ? ({
                job,
                pid: child.pid ?? 0,
                ok: false,
                skipped: true,
                error: "not run: an earlier job in its process timed out"
              } as JobResult)
            : {
                job,
                pid: child.pid ?? 0,
                ok: false,
                timedOut: killed,
                error: killed
                  ? "killed at the hard time limit"
                  : `process exited (${code}) without a result: ${stderr.trim()}`
              }
        )
      }
      resolve(results)
    })
  })

// ---------------------------------------------------------------------------------------------
// the run

/** A hash of the engine's sources, taken before and after the run: a change in between makes the run mixed. */
const engineHash = (): string => {
  const hash = createHash("sha256")
  const dir = path.join(repoRoot, "packages/core/src")
  for (const file of (fs.readdirSync(dir, { recursive: true }) as Array<string>).sort()) {
    const full = path.join(dir, file)
    if (fs.statSync(full).isFile()) hash.update(file).update(fs.readFileSync(full))
  }
  return hash.digest("hex").slice(0, 12)
}
const hashBefore = engineHash()

const started = Date.now()
const log = (msg: string) =>
  process.stderr.write(`[${((Date.now() - started) / 1000).toFixed(0).padStart(4)} s] ${msg}\n`)

const results = new Map<string, Map<string, Array<JobResult>>>() // system -> key -> results
const record = (r: JobResult) => {
  let bySystem = results.get(r.job.system)
  if (bySystem === undefined) results.set(r.job.system, (bySystem = new Map()))
  const key = keyOf(r.job)
  const list = bySystem.get(key)
  if (list) list.push(r)
  else bySystem.set(key, [r])
}
const resultsOf = (system: string, key: string): Array<JobResult> => results.get(system)?.get(key) ?? []
const okOf = (system: string, key: string) => resultsOf(system, key).filter((r) => r.ok)
const spentMs = (system: string, key: string) => resultsOf(system, key).reduce((t, r) => t + (r.ms ?? r.job.limitMs), 0)
const timedOutAt = (system: string, key: string) => resultsOf(system, key).some((r) => r.timedOut)

/**
 * An A size that cannot finish within the limit, judged from a smaller size of the same system: it timed
 * out there, or its time there scaled linearly (a lower bound for these engines, none of which gets cheaper
 * per item with N) already passes the limit. Returns the smaller size, or undefined.
 */
const hopelessFrom = (system: string, n: number): number | undefined =>
  plan.aSizes.find((m) => {
    if (m >= n) return false
    if (timedOutAt(system, `A:${m}`)) return true
    const ok = okOf(system, `A:${m}`)
    if (ok.length === 0) return false
    const fastest = Math.min(...ok.map((r) => r.ms!))
    return (fastest * n) / m > plan.limitMs
  })

/** Skip a cell when each of its jobs timed out before, used up its time budget, or cannot finish (above). */
const shouldSkip = (jobs: ReadonlyArray<Job>): boolean =>
  jobs.every((job) => {
    const key = keyOf(job)
    if (timedOutAt(job.system, key)) return true
    if (resultsOf(job.system, key).length > 0 && spentMs(job.system, key) > plan.budgetMs) return true
    if (job.workload === "A" && resultsOf(job.system, key).length === 0)
      return hopelessFrom(job.system, job.n) !== undefined
    return false
  })

log(`${quick ? "quick" : "full"} run: ${rounds.flat().length} processes per repeat, ${plan.repeats} repeat(s)`)
let lastRepeatMs = 0
let repeatsDone = 0
for (let repeat = 1; repeat <= plan.repeats; repeat++) {
  const elapsed = Date.now() - started
  if (repeat > 1 && elapsed + lastRepeatMs > plan.totalBudgetMs) {
    log(`stopping after ${repeat - 1} repeats: another would pass the ${plan.totalBudgetMs / 60_000} min budget`)
    break
  }
  const t0 = Date.now()
  for (const round of rounds) {
    for (const jobs of round) {
      if (shouldSkip(jobs)) continue
      const out = await runCell(jobs)
      for (const r of out) {
        if (!r.skipped) record(r)
        const what = `${r.job.system} ${keyOf(r.job)}`
        if (r.ok) log(`#${repeat} ${what}: ${num(r.ms!)} ms`)
        else if (!r.skipped) log(`#${repeat} ${what}: ${r.timedOut ? "TIMED OUT" : "FAILED"} ${r.error ?? ""}`)
      }
    }
  }
  lastRepeatMs = Date.now() - t0
  repeatsDone = repeat
}
const totalSeconds = (Date.now() - started) / 1000
const hashAfter = engineHash()
if (hashAfter !== hashBefore) log(`warning: packages/core/src changed during the run (${hashBefore} → ${hashAfter})`)

// ---------------------------------------------------------------------------------------------
// figures

type Cell = { readonly text: string; readonly value?: Summary }
const failedText = (system: string, key: string): string | undefined => {
  const all = resultsOf(system, key)
  if (all.some((r) => r.timedOut)) return `> ${plan.limitMs / 1000} s`
  const failed = all.find((r) => !r.ok)
  if (failed) return "FAILED"
  if (all.length === 0) {
    const from = key.startsWith("A:") ? hopelessFrom(system, Number(key.slice(2))) : undefined
    if (from === undefined) return "not run"
    return timedOutAt(system, `A:${from}`)
      ? `> ${plan.limitMs / 1000} s (timed out at N = ${num(from)})`
      : `> ${plan.limitMs / 1000} s (not run: N = ${num(from)} × ${num(Number(key.slice(2)) / from)} already passes it)`
  }
  return undefined
}

const itemsPerSec = (r: JobResult) => (r.job as { n: number }).n / (r.ms! / 1000)
const summaryOf = (system: string, key: string, f: (r: JobResult) => number) => summarize(okOf(system, key).map(f))
const baseline = (key: string, f: (r: JobResult) => number) => summaryOf(BASELINE, key, f)?.median

const tputCell = (system: string, key: string): Cell => {
  const bad = failedText(system, key)
  const s = summaryOf(system, key, itemsPerSec)
  if (s === undefined) return { text: bad ?? "n/a" }
  const b = baseline(key, itemsPerSec)
  return { text: `${spread(s)}${b ? ` · ${ratio(s.median / b)}` : ""}${bad ? ` (${bad} once)` : ""}`, value: s }
}

const table = (head: ReadonlyArray<string>, rows: ReadonlyArray<ReadonlyArray<string>>): string =>
  [
    `| ${head.join(" | ")} |`,
    `|${head.map((_, i) => (i === 0 ? "---" : "--:")).join("|")}|`,
    ...rows.map((r) => `| ${r.join(" | ")} |`)
  ].join("\n")

const names = adapters.map((a) => a.name)
const label = (name: string) => {
  const kind = adapters.find((a) => a.name === name)!.kind
  return kind === "engine" ? `**${name}**` : `${name} (${kind})`
}
const aKeys = plan.aSizes.map((n) => `A:${n}`)

const tableA = table(
  ["system", ...plan.aSizes.map((n) => `N = ${num(n)}: items/s · vs forEach`)],
  names.map((s) => [label(s), ...aKeys.map((k) => tputCell(s, k).text)])
)

const growth = (r: JobResult) => (r.peakRss! - r.rssBefore!) / (r.job as { n: number }).n
const largestA = aKeys[aKeys.length - 1]!
const tableMem = table(
  [
    "system",
    ...plan.aSizes.map((n) => `N = ${num(n)}: peak RSS`),
    `growth per item at N = ${num(plan.aSizes.at(-1)!)}`
  ],
  names.map((s) => [
    label(s),
    ...aKeys.map((k) => {
      const sm = summaryOf(s, k, (r) => r.peakRss!)
      return sm ? spread(sm, mb) : (failedText(s, k) ?? "n/a")
    }),
    (() => {
      const sm = summaryOf(s, largestA, growth)
      return sm ? `${spread(sm)} B` : (failedText(s, largestA) ?? "n/a")
    })()
  ])
)

const nsPerItem = (r: JobResult) => (r.ms! * 1e6) / (r.job as { n: number }).n
const smallA = aKeys[0]!
const cRatio = (s: string): number | undefined => {
  const lo = summaryOf(s, smallA, nsPerItem)
  const hi = summaryOf(s, largestA, nsPerItem)
  return lo && hi ? hi.median / lo.median : undefined
}
const tableC = table(
  [
    "system",
    ...plan.aSizes.map((n) => `ns/item at N = ${num(n)}`),
    `N = ${num(plan.aSizes.at(-1)!)} vs ${num(plan.aSizes[0]!)}`
  ],
  names.map((s) => [
    label(s),
    ...aKeys.map((k) => {
      const sm = summaryOf(s, k, nsPerItem)
      return sm ? spread(sm) : (failedText(s, k) ?? "n/a")
    }),
    (() => {
      const r = cRatio(s)
      return r === undefined ? "n/a" : ratio(r)
    })()
  ])
)

const ideal = (workers: number) => Math.ceil(plan.bN / workers) * SLEEP_MS
const overhead = (r: JobResult) => (r.ms! / ideal((r.job as { workers: number }).workers) - 1) * 100
const pct = (x: number) => `${x >= 0 ? "+" : ""}${x.toFixed(1)}%`
const tableB = table(
  [
    "system",
    ...plan.bWorkers.flatMap((w) => [`W = ${w}: wall (ideal ${ideal(w)} ms)`, "over ideal", "peak in flight"])
  ],
  names.map((s) => [
    label(s),
    ...plan.bWorkers.flatMap((w) => {
      const k = `B:${w}`
      const wall = summaryOf(s, k, (r) => r.ms!)
      if (!wall) return [failedText(s, k) ?? "n/a", "", ""]
      const over = summaryOf(s, k, overhead)!
      const peak = summaryOf(s, k, (r) => r.peakInFlight!)!
      return [
        `${spread(wall)} ms`,
        spread(over, pct),
        peak.min === peak.max ? String(peak.max) : `${peak.min}–${peak.max}`
      ]
    })
  ])
)

const dKey = `D:${plan.dRuns}x${plan.dN}`
const runsPerSec = (r: JobResult) => (r.job as { runs: number }).runs / (r.ms! / 1000)
const tableD = table(
  ["system", "runs/s · vs forEach", "peak RSS", "growth per run"],
  names.map((s) => {
    const sm = summaryOf(s, dKey, runsPerSec)
    if (!sm) return [label(s), failedText(s, dKey) ?? "n/a", "", ""]
    const b = baseline(dKey, runsPerSec)
    const rss = summaryOf(s, dKey, (r) => r.peakRss!)!
    const g = summaryOf(s, dKey, (r) => (r.peakRss! - r.rssBefore!) / plan.dRuns)!
    return [label(s), `${spread(sm)}${b ? ` · ${ratio(sm.median / b)}` : ""}`, spread(rss, mb), `${spread(g)} B`]
  })
)

// ---------------------------------------------------------------------------------------------
// tiny runs, waiting runs, the engine's own share (issue 15)

const ENGINES = adapters.filter((a) => a.kind === "engine").map((a) => a.name)
const med = (s: string, k: string, f: (r: JobResult) => number) => summaryOf(s, k, f)?.median
const tenK = aKeys.find((k) => k === "A:10000") ?? aKeys[aKeys.length - 1]!
const QUEUE = "Effect queue pipeline"
/** The row written as REFERENCE.md writes workflows (`Effect.gen` arrows), and the documented style's row. */
const ARROW = "effect-flow"
/** The arrow row on the engine as issue 15 was filed: the row its documented-style target is measured against. */
const FILED_ARROW = "effect-flow as issue 15 was filed"

const tKey = `T:${plan.tinyRuns}`
const uKey = `U:${plan.atOnceRuns}`
const runsOf = (r: JobResult) => (r.job as { runs: number }).runs
const usPerRun = (r: JobResult) => (r.ms! * 1000) / runsOf(r)
const tinyRunsPerSec = (r: JobResult) => runsOf(r) / (r.ms! / 1000)
/** effect-flow's tiny-run throughput over `other`'s, in this run. */
const flowOver = (key: string, other: string): number | undefined => {
  const e = med(TINY_FLOW, key, tinyRunsPerSec)
  const o = med(other, key, tinyRunsPerSec)
  return e && o ? e / o : undefined
}
const tinyLabel = (name: string) => {
  const kind = tinySystems.find((t) => t.name === name)!.kind
  return kind === "engine" ? `**${name}**` : `${name} (${kind})`
}
const tableTiny = table(
  [
    "system",
    `one after another (${num(plan.tinyRuns)} runs): µs per run`,
    "runs/s · effect-flow vs it",
    `at once (${num(plan.atOnceRuns)} runs): µs per run`,
    "runs/s · effect-flow vs it",
    "RSS growth per run (at once)"
  ],
  tinySystems.map(({ name }) => {
    const cells = [tKey, uKey].flatMap((k) => {
      const us = summaryOf(name, k, usPerRun)
      if (us === undefined) return [failedText(name, k) ?? "n/a", ""]
      const over = flowOver(k, name)
      return [
        spread(us),
        `${num(med(name, k, tinyRunsPerSec)!)}${name === TINY_FLOW || !over ? "" : ` · ${ratio(over)}`}`
      ]
    })
    const g = summaryOf(name, uKey, (r) => (r.peakRss! - r.rssBefore!) / runsOf(r))
    return [tinyLabel(name), ...cells, g ? `${spread(g, (x) => num(x / 1024))} KB` : ""]
  })
)

const mKey = `M:${plan.waitingRuns}`
const perWaitingRun = (r: JobResult) => (r.heapAfter! - r.heapBefore!) / runsOf(r)
const tableWaiting = table(
  ["system", "heap per waiting run", "heap used while all wait", "start, answer and end them all"],
  waitingSystems.map(({ name, kind }) => {
    const per = summaryOf(name, mKey, perWaitingRun)
    if (per === undefined)
      return [kind === "engine" ? `**${name}**` : `${name} (${kind})`, failedText(name, mKey) ?? "n/a", "", ""]
    return [
      kind === "engine" ? `**${name}**` : `${name} (reference)`,
      `${spread(per, (x) => num(x / 1024))} KB`,
      spread(summaryOf(name, mKey, (r) => r.heapAfter!)!, mb),
      `${spread(summaryOf(name, mKey, (r) => r.ms!)!)} ms`
    ]
  })
)

const sKey = `S:${plan.shareN}`
const medianOf = (xs: ReadonlyArray<number>) => summarize(xs)!.median
/** One process's share: the median over its pairs of (flow − floor) / flow. */
const shareOf = (r: JobResult) => medianOf(r.pairs!.map((p) => (p.flow - p.floor) / p.flow))
const shareFlowMs = (r: JobResult) => medianOf(r.pairs!.map((p) => p.flow))
const shareFloorMs = (r: JobResult) => medianOf(r.pairs!.map((p) => p.floor))
const tableShare = (() => {
  const share = summaryOf(LEAN, sKey, shareOf)
  if (share === undefined) return `(${failedText(LEAN, sKey) ?? "not run"})`
  const flow = summaryOf(LEAN, sKey, shareFlowMs)!
  const floor = summaryOf(LEAN, sKey, shareFloorMs)!
  const cost = summaryOf(LEAN, sKey, (r) => ((shareFlowMs(r) - shareFloorMs(r)) * 1e6) / plan.shareN)!
  return table(
    [
      `${LEAN}: ms per ${num(plan.shareN)}`,
      `${HANDLERS}: ms per ${num(plan.shareN)}`,
      "the engine's cost per item",
      "the engine's share, (flow − floor) / flow"
    ],
    [
      [
        `${spread(flow)} ms`,
        `${spread(floor)} ms`,
        `${spread(cost)} ns`,
        spread(share, (x) => `${(x * 100).toFixed(1)}%`)
      ]
    ]
  )
})()

// ---------------------------------------------------------------------------------------------
// targets (issue 15's table, each row measured in this run)

type Target = {
  readonly row: string
  readonly how: string
  readonly filed: string
  readonly target: string
  readonly measured: string | undefined
  readonly met: boolean | undefined
  /** Shown with a verdict, but not counted as a target. */
  readonly informational?: boolean
}
const largest = num(plan.aSizes.at(-1)!)
const peersTiny = (key: string) =>
  tinySystems
    .filter((t) => t.kind === "peer" && t.name !== TINY_MASTRA)
    .map((t) => {
      const over = flowOver(key, t.name)
      return `${ratio(over ?? Number.NaN)} ${t.name}`.replace("NaN×", failedText(t.name, key) ?? "n/a")
    })
    .join(", ")
const tinyTarget = (key: string, row: string, how: string, filed: string): Target => {
  const m = flowOver(key, TINY_MASTRA)
  return {
    row,
    how,
    filed,
    target: "≥ 5× Mastra",
    measured: m === undefined ? undefined : `${ratio(m)} Mastra (and ${peersTiny(key)})`,
    met: m === undefined ? undefined : m >= 5
  }
}
const bytesTarget = (row: string, how: string, filed: string, limit: number, value: number | undefined): Target => ({
  row,
  how,
  filed,
  target: `≤ ${num(limit)} B/item`,
  measured: value === undefined ? undefined : `${num(value)} B/item`,
  met: value === undefined ? undefined : value <= limit
})
const targets: Array<Target> = []
{
  targets.push(
    tinyTarget(
      tKey,
      "tiny runs, one after another",
      `3 steps (start → step → stop), ${num(plan.tinyRuns)} \`runPromise\` calls in a fresh process, median of the repeats`,
      "1.5–3.5× Mastra"
    )
  )
  const floor = flowOver(tKey, TINY_FLOOR)
  targets.push({
    row: "tiny runs, one after another",
    how: "against the same three handlers chained in one `Effect.runPromise` per run",
    filed: "0.02–0.06× the Effect floor",
    target: "≥ 0.2× the Effect floor",
    measured: floor === undefined ? undefined : `${ratio(floor)} the Effect floor`,
    met: floor === undefined ? undefined : floor >= 0.2
  })
  targets.push(tinyTarget(uKey, "tiny runs, at once", `${num(plan.atOnceRuns)} runs started together`, "1.0–2× Mastra"))
  for (const name of [WAIT_FOR, WAIT_EVENT]) {
    const per = med(name, mKey, perWaitingRun)
    targets.push({
      row: "memory per waiting run",
      how: `${num(plan.waitingRuns)} runs held open, ${name.replace("effect-flow, ", "")}; heap used after a forced GC, per run`,
      filed: "not measured",
      target: "≤ 4 KB",
      measured: per === undefined ? undefined : `${num(per / 1024)} KB`,
      met: per === undefined ? undefined : per <= 4 * 1024
    })
  }
  const share = med(LEAN, sKey, shareOf)
  targets.push({
    row: "engine's own share",
    how: `the lean row against its handlers under \`Effect.forEach\`, warm, ${plan.sharePairs} interleaved pairs in one process, A at ${num(plan.shareN)}: (flow − floor) / flow`,
    filed: "~20–25 % (~0.22 µs per item)",
    target: "≤ 10 %",
    measured: share === undefined ? undefined : `${(share * 100).toFixed(1)} %`,
    met: share === undefined ? undefined : share <= 0.1
  })
  const gen = med(GENERATOR, largestA, itemsPerSec)
  const arrow = med(ARROW, largestA, itemsPerSec)
  const filedArrow = med(FILED_ARROW, largestA, itemsPerSec)
  const genBare = med(GENERATOR_HANDLERS, largestA, itemsPerSec)
  const arrowBare = med(ARROW_HANDLERS, largestA, itemsPerSec)
  targets.push({
    row: "the documented style",
    how: `generator handlers, \`Schema.TaggedClass\` events, a \`yield* ctx.send\` per item, A at ${largest}: throughput against the \`Effect.gen\`-arrow row of this run (and, for information, against the same arrow row on the engine as the issue was filed, \`${FILED_ENGINE.slice(0, 7)}\`, also in this run)`,
    filed: "the `Effect.gen`-arrow row: ~0.11× raw `Effect.forEach`",
    target: "≥ 2× that row",
    measured:
      gen && arrow
        ? `${ratio(gen / arrow)} that row${filedArrow ? ` (${ratio(gen / filedArrow)} the arrow row as filed)` : ""}${genBare ? `; the row runs at ${ratio(gen / genBare)} its own handlers with no engine` : ""}${genBare && arrowBare ? `, and with no engine the documented style's handlers run at ${ratio(genBare / arrowBare)} the arrow row's` : ""}`
        : undefined,
    met: gen && arrow ? gen >= 2 * arrow : undefined
  })
  targets.push(
    bytesTarget(
      "the documented style",
      `A at ${largest}, RSS growth per item`,
      "909–920 B/item (the arrow row)",
      400,
      med(GENERATOR, largestA, growth)
    )
  )
  targets.push(
    bytesTarget(
      "memory, lean row",
      `A at ${largest}, RSS growth per item`,
      "198–233 B/item",
      200,
      med(LEAN, largestA, growth)
    )
  )
  for (const w of plan.bWorkers) {
    const o = med(LEAN, `B:${w}`, overhead)
    const f = med(BASELINE, `B:${w}`, overhead)
    targets.push({
      row: `B, W = ${w}`,
      how: `${plan.bN} × ${SLEEP_MS} ms, the lean row's wall time over the ideal against \`Effect.forEach\`'s`,
      filed: "level with `Effect.forEach`",
      target: "within 3 points of it (informational)",
      measured: o === undefined || f === undefined ? undefined : `${pct(o)} vs ${pct(f)}`,
      met: o === undefined || f === undefined ? undefined : o - f <= 3,
      informational: true
    })
  }
}
const verdict = (t: Target) => (t.met === undefined ? "n/a" : t.met ? "yes" : "**no**")
const tableTargets = table(
  ["row", "how", "when filed", "target", "measured", "met"],
  targets.map((t) => [t.row, t.how, t.filed, t.target, t.measured ?? "n/a", verdict(t)])
)

// ---------------------------------------------------------------------------------------------
// environment

const versionOf = (name: string): string => {
  for (const dir of [path.resolve(here, "../node_modules"), path.join(repoRoot, "node_modules")]) {
    const file = path.join(dir, name, "package.json")
    if (fs.existsSync(file)) return (JSON.parse(fs.readFileSync(file, "utf8")) as { version: string }).version
  }
  return "?"
}
const loaded = await Promise.all(adapters.map((a) => a.load()))
const tinyLoaded = await Promise.all(tinySystems.map((t) => t.load()))
const packages = [...new Set(["effect", ...[...loaded, ...tinyLoaded].flatMap((a) => a.packages)])]
const cpus = os.cpus()
const env = [
  `- Machine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${num(os.totalmem() / 1024 ** 3)} GB RAM, ${os.type()} ${os.release()} (${os.arch()})`,
  `- Node ${process.version} (measuring children run with ${childFlags.join(" ")}: a fixed young generation, so no run doubles it part-way); ${packages.map((p) => `${p} ${versionOf(p)}`).join(", ")}; @effect-flow/core ${versionOf("@effect-flow/core")} (from source)`,
  `- Engine sources (packages/core/src) sha256 ${hashBefore}${hashAfter === hashBefore ? "" : ` → ${hashAfter}: **they changed during the run, so effect-flow's figures mix two versions**`}`,
  `- ${repeatsDone} repeat(s), systems interleaved within each repeat; each cell is the median (min–max) of the repeats that ran; ${quick ? "quick mode" : "full mode"}; total ${num(totalSeconds)} s`
].join("\n")

const failures = [...results.values()].flatMap((m) => [...m.values()].flat()).filter((r) => !r.ok)
const verificationFailures = failures.filter((r) => !r.timedOut)

// ---------------------------------------------------------------------------------------------
// the reading: generated from the figures, so it stays true on every run

const reading: Array<string> = []
{
  const f = med(BASELINE, largestA, itemsPerSec)
  const q = med(QUEUE, largestA, itemsPerSec)
  const p = med("p-limit promises", largestA, itemsPerSec)
  for (const engine of ENGINES) {
    const e = med(engine, largestA, itemsPerSec)
    if (e && f && q && p) {
      reading.push(
        `- Engine overhead (A, N = ${num(plan.aSizes.at(-1)!)}), ${engine}: ${num(e)} no-op items/s, ${ratio(e / f)} the raw \`Effect.forEach\` floor, ${ratio(e / q)} the hand-written queue pipeline and ${ratio(e / p)} p-limit promises.`
      )
    }
  }
  // The engine's own cost: the lean row against the same handlers run under Effect.forEach with no engine.
  const lean = med(LEAN, largestA, nsPerItem)
  const bare = med(HANDLERS, largestA, nsPerItem)
  if (lean !== undefined && bare !== undefined) {
    reading.push(
      `- The engine's own cost (A, N = ${num(plan.aSizes.at(-1)!)}): ${LEAN} takes ${num(lean)} ns per item, and its handlers and events with no engine (${HANDLERS}) ${num(bare)} ns, so routing, mailboxes and worker fibers add ${num(lean - bare)} ns per item (two events), and the row has ${ratio(bare / lean)} the throughput of its handlers alone.`
    )
  }
  // The documented style and the arrow row, each against its own handlers with no engine.
  for (const [row, bareRow, style] of [
    [GENERATOR, GENERATOR_HANDLERS, "The documented style's"],
    [ARROW, ARROW_HANDLERS, "The `Effect.gen`-arrow row's"]
  ] as const) {
    const flow = med(row, largestA, nsPerItem)
    const bare = med(bareRow, largestA, nsPerItem)
    if (flow !== undefined && bare !== undefined) {
      reading.push(
        `- ${style} engine cost (A, N = ${num(plan.aSizes.at(-1)!)}): ${row} takes ${num(flow)} ns per item, and its handlers and events with no engine (${bareRow}) ${num(bare)} ns: the engine adds ${num(flow - bare)} ns per item, and the row has ${ratio(bare / flow)} the throughput of its handlers alone.`
      )
    }
  }
  const cs = ENGINES.map((engine) => [engine, cRatio(engine)] as const).filter(([, c]) => c !== undefined)
  if (cs.length > 0) {
    const worst = Math.max(...cs.map(([, c]) => c!))
    const meaning =
      worst > 1.25
        ? "fan-in is not linear in this run"
        : worst < 0.8
          ? "the cost per item falls: fixed per-run costs weigh more at small N; no sign of super-linear fan-in"
          : "the cost per item stays flat: fan-in is linear"
    reading.push(
      `- Collect scaling (C), N = ${num(plan.aSizes.at(-1)!)} vs ${num(plan.aSizes[0]!)}: ${cs.map(([e, c]) => `${e} ${ratio(c!)}`).join(", ")}; ${meaning}.`
    )
  }
  for (const engine of ENGINES) {
    const peersSlower = adapters
      .filter((a) => a.kind === "peer")
      .map((a) => {
        const pe = med(a.name, tenK, itemsPerSec)
        const e10 = med(engine, tenK, itemsPerSec)
        return pe && e10 ? `${a.name} ${ratio(e10 / pe)}` : `${a.name} ${failedText(a.name, tenK) ?? "n/a"}`
      })
    reading.push(
      `- Against the peers (A, N = ${num(Number(tenK.slice(2)))}), ${engine}'s throughput is: ${peersSlower.join(", ")}.`
    )
  }
  for (const engine of ENGINES) {
    const bs = plan.bWorkers.map((w) => {
      const o = med(engine, `B:${w}`, overhead)
      return o === undefined ? `W = ${w}: n/a` : `W = ${w}: ${pct(o)}`
    })
    reading.push(`- I/O-bound (B), ${engine}: wall time over the ideal ${bs.join(", ")}.`)
  }
  const floorsB = plan.bWorkers.map((w) => {
    const o = med(BASELINE, `B:${w}`, overhead)
    return o === undefined ? `W = ${w}: n/a` : `W = ${w}: ${pct(o)}`
  })
  reading.push(
    `- Timers alone cost a few percent at 10 ms, which every system pays: \`Effect.forEach\` is over the ideal by ${floorsB.join(", ")}.`
  )
  {
    const flow = summaryOf(TINY_FLOW, tKey, usPerRun)
    const floor = summaryOf(TINY_FLOOR, tKey, usPerRun)
    const mastra = summaryOf(TINY_MASTRA, tKey, usPerRun)
    if (flow && floor && mastra) {
      reading.push(
        `- A tiny run (start → step → stop), one after another: effect-flow ${num(flow.median)} µs, the same handlers in one \`Effect.runPromise\` ${num(floor.median)} µs, Mastra ${num(mastra.median)} µs. So effect-flow's own cost is about ${num(flow.median - floor.median)} µs per run: set-up and teardown, since the handlers do nothing.`
      )
    }
  }
  const counted = targets.filter((t) => !t.informational)
  const met = counted.filter((t) => t.met === true)
  const missed = counted.filter((t) => t.met === false)
  reading.push(
    `- Issue 15's targets: ${met.length} of ${counted.length} met in this run${
      missed.length === 0 ? "" : `; missed: ${missed.map((t) => `${t.row} (${t.target}: ${t.measured})`).join("; ")}`
    }${counted.length - met.length - missed.length > 0 ? `; ${counted.length - met.length - missed.length} not measured` : ""}.`
  )
  if (failures.length > 0) {
    reading.push(
      `- Runs that did not count: ${failures.map((r) => `${r.job.system} ${keyOf(r.job)} (${r.timedOut ? "timed out" : "failed verification or errored"})`).join(", ")}.`
    )
  }
}

// Durable runs (issue 16): their own script, in a fresh process, after the rest; its Markdown goes in the report.
log("durable runs (durable.ts)")
const durable = await new Promise<{ readonly ok: boolean; readonly text: string }>((resolve) => {
  const child = spawn(
    process.execPath,
    ["--conditions=@effect-flow/source", path.join(here, "durable.ts"), ...(quick ? ["--quick"] : [])],
    { stdio: ["ignore", "pipe", "pipe"], cwd: path.resolve(here, "..") }
  )
  let stdout = ""
  // The head of stderr names the error (a client object dumped after it can fill any tail), the tail where it ended.
  let head = ""
  let tail = ""
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()))
  child.stderr.on("data", (d: Buffer) => {
    if (head.length < 3000) head += d.toString()
    else tail = (tail + d.toString()).slice(-2000)
  })
  child.on("close", (code) => {
    const stderr = tail === "" ? head.trim() : `${head.slice(0, 3000).trim()}\n  …\n${tail.trim()}`
    resolve(
      code === 0
        ? { ok: true, text: stdout.trim() }
        : { ok: false, text: `The durable benchmark failed (exit ${code}): ${stderr || stdout.trim()}` }
    )
  })
})
if (!durable.ok) log(`FAILED: durable runs: ${durable.text}`)

/**
 * Distributed steps on effect/cluster (issue 17): runner processes over a throwaway Postgres, in a child
 * process (`cluster.ts`), full runs only (it takes a minute or two).
 */
const clusterSection = (() => {
  if (quick) return ""
  log("cluster: distributed fan-out on 1, 2 and 3 runner processes (npm run -w @effect-flow/bench cluster)")
  const child = spawnSync(process.execPath, ["--conditions=@effect-flow/source", path.join(here, "cluster.ts")], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    timeout: 15 * 60_000
  })
  return child.status === 0
    ? `\n${child.stdout.trim()}\n`
    : `\n### Distributed steps (effect/cluster)\n\nThe cluster benchmark did not finish (${child.signal ?? `exit ${child.status}`}).\n`
})()

const command = quick ? "npm run bench -- --quick" : "npm run bench"
const report = `Produced by \`${command}\` (in \`packages/bench\`, or \`npm run -w @effect-flow/bench bench\` from the root) on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.

${env}

### Reading

${reading.join("\n")}

### Targets (issue 15)

Each row of issue 15's targets table, measured in this run. "When filed" is the figure the issue was filed with.

${tableTargets}

### Tiny runs: a 3-step workflow (start → step → stop), one run per call, each system in a fresh process per measurement

${tableTiny}

### Memory per waiting run: ${num(plan.waitingRuns)} runs held open at once, each waiting for outside input (heap used after a forced GC, per run)

${tableWaiting}

### The engine's own share: the lean row against its own handlers with no engine, ${plan.sharePairs} interleaved pairs in one warm process per repeat, N = ${num(plan.shareN)}, W = ${W}

${tableShare}

### A — engine overhead: N no-op items, W = ${W} (items/s, higher is better; ratio against Effect.forEach in this run)

${tableA}

### A — memory (RSS sampled every 2 ms during the run; growth = (peak − RSS before the run, after GC) / N, which counts garbage not yet collected as well as live data)

${tableMem}

### B — I/O-bound: N = ${plan.bN} items that each wait ${SLEEP_MS} ms on a real timer

${tableB}

### C — collect scaling: cost per item (ns, lower is better), from A

${tableC}

### D — many runs: ${num(plan.dRuns)} concurrent runs of a ${plan.dN}-item fan-out / fan-in, W = ${W}

${tableD}

### Durable runs (issue 16)

${durable.text}

${clusterSection}
### How each system does it

${loaded.map((a) => `- ${label(a.name)}: ${a.how}`).join("\n")}

Tiny runs:

${tinyLoaded.map((a) => `- ${tinyLabel(a.name)}: ${a.how}`).join("\n")}

Waiting runs (per run the harness keeps what a caller keeps while the run waits: the handle, or for the reference the fiber and its \`Deferred\`; the effects that answer and await each run are built when they run):

${waitingSystems.map((w) => `- ${w.kind === "engine" ? `**${w.name}**` : `${w.name} (reference)`}: ${w.how}`).join("\n")}
`

process.stdout.write(`\n${report}\n`)

if (!quick) {
  const file = path.join(repoRoot, "BENCHMARKS.md")
  const START = "<!-- bench:start (generated by `npm run bench`; edits inside are overwritten) -->"
  const END = "<!-- bench:end -->"
  const generated = `${START}\n${report}\n${END}`
  const existing = fs.existsSync(file) ? fs.readFileSync(file, "utf8") : undefined
  const next =
    existing?.includes(START) && existing.includes(END)
      ? existing.slice(0, existing.indexOf(START)) + generated + existing.slice(existing.indexOf(END) + END.length)
      : `# Benchmarks\n\neffect-flow against the floors it is built on and the peers it replaces, side by side in one run. ` +
        `Every run is verified (all N results present and correct after sorting by index) or its figure does not count.\n\n` +
        `## Latest run\n\n${generated}\n`
  fs.writeFileSync(file, next)
  log(`wrote ${path.relative(process.cwd(), file)}`)
}

if (verificationFailures.length > 0 || (quick && failures.length > 0) || !durable.ok) {
  for (const r of quick ? failures : verificationFailures) log(`FAILED: ${r.job.system} ${keyOf(r.job)}: ${r.error}`)
  process.exit(1)
}
