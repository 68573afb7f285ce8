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
import { spawn } from "node:child_process"
import { createHash } from "node:crypto"
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { adapters, BASELINE } from "./adapter.ts"
import type { Job, JobResult } from "./protocol.ts"
import { RESULT_PREFIX } from "./protocol.ts"
import { mb, num, ratio, type Summary, spread, summarize } from "./stats.ts"

const quick = process.argv.includes("--quick")
const here = import.meta.dirname
const repoRoot = path.resolve(here, "../../..")
const childPath = path.join(here, "child.ts")

const plan = quick
  ? {
      repeats: 1,
      aSizes: [500, 2_000],
      bN: 64,
      bWorkers: [4, 16],
      dRuns: 50,
      dN: 10,
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
      limitMs: 60_000,
      budgetMs: 60_000,
      totalBudgetMs: 9 * 60_000
    }
const W = 4
const SLEEP_MS = 10

// ---------------------------------------------------------------------------------------------
// jobs and cells (one cell = one child process)

const keyOf = (job: Job): string =>
  job.workload === "A" ? `A:${job.n}` : job.workload === "B" ? `B:${job.workers}` : `D:${job.runs}x${job.n}`

const jobsFor = (system: string) => {
  const base = { system, limitMs: plan.limitMs }
  const a = plan.aSizes.map((n): Job => ({ ...base, workload: "A", n, workers: W }))
  const b = plan.bWorkers.map((workers): Job => ({ ...base, workload: "B", n: plan.bN, workers, sleepMs: SLEEP_MS }))
  const d: Job = { ...base, workload: "D", runs: plan.dRuns, n: plan.dN, workers: W }
  // Full mode: each A size and D in a fresh process; both B jobs share one. Quick mode: one process per system.
  return quick ? [[...a, ...b, d]] : [...a.map((j) => [j]), b, [d]]
}

const runCell = (jobs: ReadonlyArray<Job>): Promise<Array<JobResult>> =>
  new Promise((resolve) => {
    const child = spawn(
      process.execPath,
      ["--conditions=@effect-flow/source", "--expose-gc", childPath, JSON.stringify(jobs)],
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

log(`${quick ? "quick" : "full"} run: ${adapters.length} systems, ${plan.repeats} repeat(s)`)
const cellsBySystem = adapters.map((a) => jobsFor(a.name))
let lastRepeatMs = 0
let repeatsDone = 0
for (let repeat = 1; repeat <= plan.repeats; repeat++) {
  const elapsed = Date.now() - started
  if (repeat > 1 && elapsed + lastRepeatMs > plan.totalBudgetMs) {
    log(`stopping after ${repeat - 1} repeats: another would pass the ${plan.totalBudgetMs / 60_000} min budget`)
    break
  }
  const t0 = Date.now()
  const cellCount = cellsBySystem[0]!.length
  for (let c = 0; c < cellCount; c++) {
    for (const cells of cellsBySystem) {
      const jobs = cells[c]!
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
const overhead = (r: JobResult) => (r.ms! / ideal(r.job.workers) - 1) * 100
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
// targets (for effect-flow, against the same run's figures)

/** Every effect-flow row: the targets are checked for each, so no way of writing a workflow is hidden. */
const ENGINES = adapters.filter((a) => a.kind === "engine").map((a) => a.name)
/**
 * The floors, held to the same targets for calibration: a target that a hand-written floor misses in the same
 * run is beyond what that way of doing the work gets on this machine, and the reading says so.
 */
const FLOORS = adapters.filter((a) => a.kind === "floor").map((a) => a.name)
const med = (s: string, k: string, f: (r: JobResult) => number) => summaryOf(s, k, f)?.median
const tenK = aKeys.find((k) => k === "A:10000") ?? aKeys[aKeys.length - 1]!
const QUEUE = "Effect queue pipeline"
/** The engine row whose handlers the handlers floor runs without the engine. */
const LEAN = "effect-flow (lean handlers)"
const HANDLERS = "Effect.forEach with the workflow's handlers"
type Target = { readonly target: string; readonly measured: string; readonly met: boolean | undefined }
/** A throughput target against another system's figure in this run; a floor is not held against itself. */
const against = (
  system: string,
  other: string,
  target: string,
  meets: (own: number, theirs: number) => boolean
): Target => {
  if (system === other) return { target, measured: "itself", met: undefined }
  const own = med(system, largestA, itemsPerSec)
  const theirs = med(other, largestA, itemsPerSec)
  return own && theirs
    ? { target, measured: ratio(own / theirs), met: meets(own, theirs) }
    : { target, measured: "n/a", met: undefined }
}
const targetsFor = (system: string): Array<Target> => {
  const targets: Array<Target> = []
  const largest = num(plan.aSizes.at(-1)!)
  targets.push(against(system, BASELINE, `A, N = ${largest}: throughput ≥ ½ of Effect.forEach`, (e, f) => e >= f / 2))
  targets.push(
    against(system, QUEUE, `A, N = ${largest}: throughput ≥ the hand-written queue pipeline`, (e, q) => e >= q)
  )
  const c = cRatio(system)
  targets.push({
    target: `C: cost per item flat from N = ${num(plan.aSizes[0]!)} to ${num(plan.aSizes.at(-1)!)} (does not grow by more than 1.25×)`,
    measured: c === undefined ? "n/a" : ratio(c),
    met: c === undefined ? undefined : c <= 1.25
  })
  for (const w of plan.bWorkers) {
    const o = med(system, `B:${w}`, overhead)
    targets.push({
      target: `B, W = ${w}: wall time within 5% of the ideal ${ideal(w)} ms`,
      measured: o === undefined ? "n/a" : pct(o),
      met: o === undefined ? undefined : o <= 5
    })
  }
  const g = med(system, largestA, growth)
  targets.push({
    target: `A, N = ${largest}: RSS growth ≤ 300 B per item`,
    measured: g === undefined ? "n/a" : `${num(g)} B`,
    met: g === undefined ? undefined : g <= 300
  })
  const e10 = med(system, tenK, itemsPerSec)
  for (const peer of adapters.filter((a) => a.kind === "peer")) {
    const p = med(peer.name, tenK, itemsPerSec)
    const slow = timedOutAt(peer.name, tenK) || hopelessFrom(peer.name, Number(tenK.slice(2))) !== undefined
    targets.push({
      target: `A, N = ${num(Number(tenK.slice(2)))}: ≥ 10× ${peer.name}`,
      measured:
        e10 === undefined
          ? "n/a"
          : p !== undefined
            ? `${ratio(e10 / p)}`
            : slow
              ? `peer > ${plan.limitMs / 1000} s`
              : "n/a",
      met: e10 === undefined ? undefined : p !== undefined ? e10 >= 10 * p : slow ? true : undefined
    })
  }
  return targets
}
const targetsBySystem = new Map([...ENGINES, ...FLOORS].map((e) => [e, targetsFor(e)] as const))
const tableTargets = table(
  ["target", ...ENGINES.map(label), ...FLOORS.map(label)],
  targetsBySystem.get(ENGINES[0]!)!.map((t, i) => [
    t.target,
    ...[...ENGINES, ...FLOORS].map((e) => {
      const cell = targetsBySystem.get(e)![i]!
      return `${cell.measured}${cell.met === undefined ? "" : cell.met ? " · yes" : " · **no**"}`
    })
  ])
)
/** "a", "a and b", "a, b and c". */
const listed = (xs: ReadonlyArray<string>) =>
  xs.length <= 1 ? xs.join("") : `${xs.slice(0, -1).join(", ")} and ${xs[xs.length - 1]}`
/** For a target an engine row misses: the floors that miss it too in this run. */
const floorsMissing = (i: number): Array<string> => FLOORS.filter((f) => targetsBySystem.get(f)![i]!.met === false)

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
const packages = [...new Set(["effect", ...loaded.flatMap((a) => a.packages)])]
const cpus = os.cpus()
const env = [
  `- Machine: ${cpus[0]?.model ?? "unknown CPU"}, ${cpus.length} cores, ${num(os.totalmem() / 1024 ** 3)} GB RAM, ${os.type()} ${os.release()} (${os.arch()})`,
  `- Node ${process.version}; ${packages.map((p) => `${p} ${versionOf(p)}`).join(", ")}; @effect-flow/core ${versionOf("@effect-flow/core")} (from source)`,
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
  for (const engine of ENGINES) {
    const missed = targetsBySystem
      .get(engine)!
      .flatMap((t, i) => (t.met === false ? [{ target: t.target, floors: floorsMissing(i) }] : []))
    reading.push(
      missed.length === 0
        ? `- ${engine}: every target is met in this run.`
        : `- ${engine}: targets missed in this run: ${missed
            .map((m) => (m.floors.length === 0 ? m.target : `${m.target} (missed by ${listed(m.floors)} too)`))
            .join("; ")}.`
    )
  }
  if (failures.length > 0) {
    reading.push(
      `- Runs that did not count: ${failures.map((r) => `${r.job.system} ${keyOf(r.job)} (${r.timedOut ? "timed out" : "failed verification or errored"})`).join(", ")}.`
    )
  }
}

const command = quick ? "npm run bench -- --quick" : "npm run bench"
const report = `Produced by \`${command}\` (in \`packages/bench\`, or \`npm run -w @effect-flow/bench bench\` from the root) on ${new Date().toISOString().slice(0, 16).replace("T", " ")} UTC.

${env}

### Reading

${reading.join("\n")}

### Targets

${tableTargets}

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

### How each system does it

${loaded.map((a) => `- ${label(a.name)}: ${a.how}`).join("\n")}
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

if (verificationFailures.length > 0 || (quick && failures.length > 0)) {
  for (const r of quick ? failures : verificationFailures) log(`FAILED: ${r.job.system} ${keyOf(r.job)}: ${r.error}`)
  process.exit(1)
}
