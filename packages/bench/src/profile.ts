/**
 * A profile of tiny runs (issue 15: "the profile of a tiny run, before and after"). Warms up, then profiles only the
 * measured runs (the inspector's sampling CPU profiler, and separately its sampling heap profiler with collected
 * objects included, so it counts what a run allocates, not what it keeps), and prints where the time and the bytes
 * go per run: by function (self), and by where the function lives.
 *
 *   npm run -w @effect-flow/bench profile                  2,000 runs one after another, x5
 *   npm run -w @effect-flow/bench profile -- --at-once     1,000 runs started together, x5
 *   npm run -w @effect-flow/bench profile -- --system "Mastra workflows"
 *   npm run -w @effect-flow/bench profile -- --engine <commit>   effect-flow's engine as it was at <commit>
 *   npm run -w @effect-flow/bench profile -- --compare <commit>  before (<commit>) and after (the working tree)
 *
 * `--engine` extracts `packages/core/src` at that commit into `packages/bench/.engines/<sha>` and builds the same
 * tiny workflow on it. `--compare` profiles both, each in fresh processes, alternating (`--repeats`, default 3),
 * and prints a before/after table of the medians: the profile of a tiny run before and after a change.
 *
 * The CPU profile is also written to `tiny-run.cpuprofile` in the working directory (open it in Chrome DevTools).
 */
import { spawnSync } from "node:child_process"
import * as fs from "node:fs"
import { Session } from "node:inspector/promises"
import * as path from "node:path"
import { engineAt } from "./engines.ts"
import { num } from "./stats.ts"
import { TINY_FLOW, type TinyRunner, tinySystems } from "./tiny.ts"
import { valueOf } from "./workload.ts"

const arg = (name: string) => {
  const i = process.argv.indexOf(name)
  return i === -1 ? undefined : process.argv[i + 1]
}
const atOnce = process.argv.includes("--at-once")
const systemName = arg("--system") ?? TINY_FLOW
const runs = Number(arg("--runs") ?? (atOnce ? 1_000 : 2_000))
const rounds = Number(arg("--rounds") ?? 5)

const engine = arg("--engine")
const compare = arg("--compare")
const json = process.argv.includes("--json")
const repoRoot = path.resolve(import.meta.dirname, "../../..")

/** The tiny workflow on the engine's sources at `rev` (see `engines.ts`). */
const runnerAt = async (rev: string): Promise<TinyRunner> => {
  const core = await engineAt(rev)
  const { tinyOn } = await import("./tiny/effectFlow.ts")
  return tinyOn(core).runner
}

if (compare !== undefined) {
  // Before (the engine at `compare`) and after (the working tree), each profiled in fresh processes, alternating.
  const repeats = Number(arg("--repeats") ?? 3)
  const passOn = process.argv.slice(2).filter((a, i, all) => a !== "--compare" && all[i - 1] !== "--compare")
  const one = (extra: ReadonlyArray<string>): Summary => {
    const child = spawnSync(
      process.execPath,
      [...process.execArgv, import.meta.filename, ...passOn, ...extra, "--json"],
      { encoding: "utf8", maxBuffer: 1 << 26 }
    )
    if (child.status !== 0) throw new Error(`profile child failed: ${child.stderr}`)
    return JSON.parse(child.stdout.trim().split("\n").at(-1)!) as Summary
  }
  const before: Array<Summary> = []
  const after: Array<Summary> = []
  for (let i = 0; i < repeats; i++) {
    before.push(one(["--engine", compare]))
    after.push(one([]))
  }
  process.stdout.write(compareTable(compare, before, after))
  process.exit(0)
}

const entry = tinySystems.find((t) => t.name === systemName)
if (entry === undefined) throw new Error(`unknown tiny-run system ${systemName}`)
const runner = engine === undefined ? (await entry.load()).make() : await runnerAt(engine)

const round = async () => {
  if (atOnce) {
    const results = await Promise.all(Array.from({ length: runs }, (_, i) => runner.run(i)))
    results.forEach((r, i) => {
      if (r !== valueOf(i)) throw new Error(`run ${i} gave ${r}`)
    })
  } else {
    for (let i = 0; i < runs; i++) {
      const r = await runner.run(i)
      if (r !== valueOf(i)) throw new Error(`run ${i} gave ${r}`)
    }
  }
}

for (let i = 0; i < 3; i++) await round()

const session = new Session()
session.connect()

// ---- CPU
await session.post("Profiler.enable")
await session.post("Profiler.setSamplingInterval", { interval: 50 })
await session.post("Profiler.start")
const t0 = performance.now()
for (let i = 0; i < rounds; i++) await round()
const ms = performance.now() - t0
const { profile } = await session.post("Profiler.stop")
await session.post("Profiler.disable")
fs.writeFileSync("tiny-run.cpuprofile", JSON.stringify(profile))

// ---- allocations
await session.post("HeapProfiler.enable")
await session.post("HeapProfiler.startSampling", {
  samplingInterval: 512,
  includeObjectsCollectedByMajorGC: true,
  includeObjectsCollectedByMinorGC: true
})
for (let i = 0; i < rounds; i++) await round()
const { profile: heap } = await session.post("HeapProfiler.stopSampling")
await session.post("HeapProfiler.disable")
session.disconnect()

const total = runs * rounds

/** Where a function lives, short: the core's own files by name, effect's modules by name, else the package. */
const where = (url: string): string => {
  if (url === "") return "(native / VM)"
  if (url.startsWith("node:")) return url
  const file = url.replace(/^file:\/\//, "")
  const rel = path.relative(repoRoot, file)
  if (rel.startsWith("packages/core/src/")) return `core ${rel.slice("packages/core/src/".length)}`
  // An engine extracted by `--engine`: packages/bench/.engines/<sha>/src/...
  const extracted = /^packages\/bench\/\.engines\/[0-9a-f]+\/src\/(.*)$/.exec(rel)
  if (extracted !== null) return `core ${extracted[1]}`
  const nm = rel.lastIndexOf("node_modules/")
  if (nm !== -1) {
    const rest = rel.slice(nm + "node_modules/".length)
    const parts = rest.split("/")
    const pkg = parts[0]!.startsWith("@") ? `${parts[0]}/${parts[1]}` : parts[0]!
    if (pkg === "effect") return `effect ${parts.slice(2).join("/")}`
    return pkg
  }
  if (rel.startsWith("packages/bench/")) return "bench (handlers, driver)"
  return rel
}

interface Node {
  readonly id: number
  readonly callFrame: {
    readonly functionName: string
    readonly url: string
    readonly lineNumber: number
    readonly columnNumber: number
  }
  readonly children?: ReadonlyArray<number>
}
const nodes = profile.nodes as unknown as ReadonlyArray<Node>
const samples = profile.samples as unknown as ReadonlyArray<number>
const deltas = profile.timeDeltas as unknown as ReadonlyArray<number>
// The inspector's own frames (stopping the profiler and serialising the profile) are not the runs' time.
const excluded = new Set(nodes.filter((n) => n.callFrame.url.startsWith("node:inspector")).map((n) => n.id))
const selfUs = new Map<number, number>()
for (let i = 0; i < samples.length; i++) {
  if (excluded.has(samples[i]!)) continue
  selfUs.set(samples[i]!, (selfUs.get(samples[i]!) ?? 0) + (deltas[i] ?? 0))
}
const sampledUs = [...selfUs.values()].reduce((a, b) => a + b, 0)

const label = (n: Node["callFrame"]) =>
  `${n.functionName || "(anonymous)"} (${where(n.url)}${n.url ? `:${n.lineNumber + 1}` : ""})`
const byFunction = new Map<string, number>()
const byPlace = new Map<string, number>()
for (const node of nodes) {
  const us = selfUs.get(node.id) ?? 0
  if (us === 0) continue
  const fn = label(node.callFrame)
  byFunction.set(fn, (byFunction.get(fn) ?? 0) + us)
  const place = node.callFrame.url === "" ? node.callFrame.functionName : where(node.callFrame.url)
  byPlace.set(place, (byPlace.get(place) ?? 0) + us)
}

const top = (m: Map<string, number>, count: number, unit: (x: number) => string) =>
  [...m.entries()]
    .sort((a, b) => b[1] - a[1])
    .slice(0, count)
    .map(([k, v]) => `| ${k} | ${unit(v)} |`)
    .join("\n")
const usPerRun = (us: number) => `${((us / sampledUs) * 100).toFixed(1)} % · ${num(us / total)} µs`

interface HeapNode {
  readonly callFrame: Node["callFrame"]
  readonly selfSize: number
  readonly children: ReadonlyArray<HeapNode>
}
const allocByFunction = new Map<string, number>()
const allocByPlace = new Map<string, number>()
let allocated = 0
const walk = (n: HeapNode) => {
  if (n.selfSize > 0) {
    allocated += n.selfSize
    const fn = label(n.callFrame)
    allocByFunction.set(fn, (allocByFunction.get(fn) ?? 0) + n.selfSize)
    const place = n.callFrame.url === "" ? n.callFrame.functionName : where(n.callFrame.url)
    allocByPlace.set(place, (allocByPlace.get(place) ?? 0) + n.selfSize)
  }
  for (const c of n.children) walk(c)
}
walk(heap.head as unknown as HeapNode)
const bytesPerRun = (b: number) => `${num(b / total)} B`

if (json) {
  const summary: Summary = {
    wallUs: (ms * 1000) / total,
    sampledUs: sampledUs / total,
    allocated: allocated / total,
    cpu: Object.fromEntries([...byPlace].map(([k, v]) => [k, v / total])),
    alloc: Object.fromEntries([...allocByPlace].map(([k, v]) => [k, v / total]))
  }
  process.stdout.write(`${JSON.stringify(summary)}\n`)
  process.exit(0)
}

process.stdout.write(`Tiny runs of ${systemName}${engine === undefined ? "" : ` (engine at ${engine})`}, ${atOnce ? `${num(runs)} at once` : `${num(runs)} one after another`}, ${rounds} rounds after 3 warm-up rounds; Node ${process.version}.

Wall time ${num((ms * 1000) / total)} µs per run while profiled (the sampler adds some); ${num(sampledUs / 1000)} ms sampled. \`(idle)\` is time the process waited for the event loop (a run hands over between its fibers through Effect's scheduler); \`(program)\` is V8 and native code outside JavaScript functions.

CPU, by where the code lives (self time: % of samples · µs per run):

| where | self |
|---|--:|
${top(byPlace, 25, usPerRun)}

CPU, by function (self time):

| function | self |
|---|--:|
${top(byFunction, 40, usPerRun)}

Allocation (sampled every 512 B, collected objects included): ${bytesPerRun(allocated)} per run.

| where | allocated per run |
|---|--:|
${top(allocByPlace, 15, bytesPerRun)}

| function | allocated per run |
|---|--:|
${top(allocByFunction, 30, bytesPerRun)}
`)

/** One profile, per run: what `--json` prints and `--compare` reads. */
interface Summary {
  readonly wallUs: number
  readonly sampledUs: number
  readonly allocated: number
  /** CPU self time per run (µs) by where the code lives. */
  readonly cpu: Record<string, number>
  /** Bytes allocated per run by where the code lives. */
  readonly alloc: Record<string, number>
}

function compareTable(rev: string, before: ReadonlyArray<Summary>, after: ReadonlyArray<Summary>): string {
  const median = (xs: ReadonlyArray<number>) => {
    const s = [...xs].sort((a, b) => a - b)
    return s.length % 2 === 1 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2
  }
  const cell = (xs: ReadonlyArray<number>, unit: string) =>
    `${num(median(xs))}${unit} (${num(Math.min(...xs))}–${num(Math.max(...xs))})`
  const row = (label: string, f: (s: Summary) => number, unit: string) => {
    const b = before.map(f)
    const a = after.map(f)
    const change = median(b) === 0 ? "" : `${((median(a) / median(b) - 1) * 100).toFixed(0)} %`
    return `| ${label} | ${cell(b, unit)} | ${cell(a, unit)} | ${change} |`
  }
  const top = (key: "cpu" | "alloc") => {
    const totals = new Map<string, number>()
    for (const s of [...before, ...after])
      for (const [k, v] of Object.entries(s[key])) totals.set(k, (totals.get(k) ?? 0) + v)
    return [...totals]
      .sort((x, y) => y[1] - x[1])
      .slice(0, 8)
      .map(([k]) => k)
  }
  const mode = atOnce ? `${num(runs)} at once` : `${num(runs)} one after another`
  return `Tiny runs of effect-flow, ${mode}, ${rounds} profiled rounds per process; before: the engine at ${rev}, after: the working tree; ${before.length} fresh processes each, alternating; median (min–max). Node ${process.version}.

| per run | before | after | change |
|---|--:|--:|--:|
${row("wall time while profiled", (s) => s.wallUs, " µs")}
${row("CPU sampled", (s) => s.sampledUs, " µs")}
${top("cpu")
  .map((k) => row(`CPU self: ${k}`, (s) => s.cpu[k] ?? 0, " µs"))
  .join("\n")}
${row("allocated", (s) => s.allocated, " B")}
${top("alloc")
  .map((k) => row(`allocated: ${k}`, (s) => s.alloc[k] ?? 0, " B"))
  .join("\n")}
`
}
