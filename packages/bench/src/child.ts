/**
 * One measurement process. `main.ts` spawns it with a JSON list of jobs for one system; it runs them in
 * order, verifies every run, and prints one `RESULT_PREFIX` line of JSON per job on stdout. A job that
 * runs longer than its limit is reported as timed out and the process exits (its work cannot be
 * cancelled in every system, and it would disturb the next measurement).
 */
import { Effect, Exit, Scope } from "effect"
import { adapters, HANDLERS, LEAN } from "./adapter.ts"
import type { Job, JobM, JobResult, JobS, JobT, JobU } from "./protocol.ts"
import { RESULT_PREFIX } from "./protocol.ts"
import { tinySystems } from "./tiny.ts"
import { waitingSystems } from "./waiting.ts"
import { InFlight, itemsOf, noop, sleep, valueOf, verify } from "./workload.ts"

const gc = (): void => {
  const g = (globalThis as { gc?: () => void }).gc
  if (g) {
    g()
    g()
  }
}

/** Samples RSS every few ms while a run is going (plus once at the end), for the peak. */
const sampleRss = () => {
  let peak = process.memoryUsage.rss()
  const timer = setInterval(() => {
    const rss = process.memoryUsage.rss()
    if (rss > peak) peak = rss
  }, 2)
  return {
    stop: (): number => {
      clearInterval(timer)
      const rss = process.memoryUsage.rss()
      return Math.max(rss, peak)
    }
  }
}

class TimedOut extends Error {}

/** Heap used after a full GC, bytes. */
const heapUsed = (): number => {
  gc()
  return process.memoryUsage().heapUsed
}

const withLimit = <A>(promise: Promise<A>, ms: number): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(`did not finish within ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

/** Tiny runs (T, U): warm up, then `runs` runs one after another or all at once, each result checked. */
const runTiny = async (job: JobT | JobU): Promise<JobResult> => {
  const entry = tinySystems.find((a) => a.name === job.system)
  if (entry === undefined) throw new Error(`unknown tiny-run system ${job.system}`)
  const runner = (await entry.load()).make()
  const base = { job, pid: process.pid }
  const check = (results: ReadonlyArray<number>, from: number): string | undefined => {
    for (let i = 0; i < results.length; i++) {
      if (results[i] !== valueOf(from + i))
        return `run on ${from + i} gave ${results[i]}, expected ${valueOf(from + i)}`
    }
    return undefined
  }
  const sequential = async (from: number, runs: number) => {
    const results: Array<number> = []
    for (let i = 0; i < runs; i++) results.push(await runner.run(from + i))
    return results
  }
  const atOnce = (from: number, runs: number) =>
    Promise.all(Array.from({ length: runs }, (_, i) => runner.run(from + i)))
  const go = job.workload === "T" ? sequential : atOnce
  // Warm-up, the same way as measured: the figure is the steady state, not the JIT's start.
  const warmRuns = Math.min(job.workload === "T" ? 200 : 100, job.runs)
  for (let i = 0; i < 2; i++) {
    const warm = check(await go(0, warmRuns), 0)
    if (warm !== undefined) return { ...base, ok: false, error: `warm-up: ${warm}` }
  }
  gc()
  const rssBefore = process.memoryUsage.rss()
  const sampler = sampleRss()
  const t0 = performance.now()
  const results = await withLimit(go(1_000, job.runs), job.limitMs)
  const ms = performance.now() - t0
  const peakRss = sampler.stop()
  const problem = check(results, 1_000)
  if (problem !== undefined) return { ...base, ok: false, error: problem }
  return { ...base, ok: true, ms, rssBefore, peakRss }
}

/**
 * Waiting runs (M): start `runs` runs that each wait for outside input, check that each has asked for it, take the
 * heap used after a forced GC, then answer every run and check every result. The heap before is taken the same
 * way, after a warm-up round, with the inputs and the array of runs already allocated.
 */
const runWaiting = async (job: JobM): Promise<JobResult> => {
  const system = waitingSystems.find((s) => s.name === job.system)
  if (system === undefined) throw new Error(`unknown waiting-run system ${job.system}`)
  const base = { job, pid: process.pid }
  const round = (runs: number, measure: boolean) =>
    Effect.gen(function* () {
      const scope = Scope.makeUnsafe()
      const held: Array<unknown> = new Array(runs).fill(undefined)
      const heapBefore = measure ? heapUsed() : 0
      for (let i = 0; i < runs; i++) held[i] = yield* system.start(i, scope)
      for (const h of held) yield* system.ready(h)
      const heapAfter = measure ? heapUsed() : 0
      for (const h of held) yield* system.answer(h)
      for (let i = 0; i < runs; i++) {
        const result = yield* system.result(held[i])
        if (result !== valueOf(i)) return yield* Effect.fail(`run ${i} gave ${String(result)}, expected ${valueOf(i)}`)
      }
      yield* Scope.close(scope, Exit.void)
      return { heapBefore, heapAfter }
    })
  const warm = await Effect.runPromiseExit(round(Math.min(100, job.runs), false))
  if (Exit.isFailure(warm)) return { ...base, ok: false, error: `warm-up: ${String(warm.cause)}` }
  const t0 = performance.now()
  const exit = await withLimit(Effect.runPromiseExit(round(job.runs, true)), job.limitMs)
  const ms = performance.now() - t0
  if (Exit.isFailure(exit)) return { ...base, ok: false, error: String(exit.cause) }
  return { ...base, ok: true, ms, ...exit.value }
}

/**
 * The engine's own share (S): the lean row and the handlers floor in one process, warmed up, then `pairs` pairs of
 * runs over `n` items, the order alternating within each pair, every run verified.
 */
const runShare = async (job: JobS): Promise<JobResult> => {
  const load = (name: string) => {
    const entry = adapters.find((a) => a.name === name)
    if (entry === undefined) throw new Error(`unknown system ${name}`)
    return entry.load().then((a) => a.make(job.workers, noop))
  }
  const [flow, floor] = await Promise.all([load(LEAN), load(HANDLERS)])
  const base = { job, pid: process.pid }
  const items = itemsOf(job.n)
  const timed = async (runner: typeof flow, n: number) => {
    const t0 = performance.now()
    const results = await runner.run(n === job.n ? items : itemsOf(n))
    const ms = performance.now() - t0
    const problem = verify(results, n)
    if (problem !== undefined) throw new Error(problem)
    return ms
  }
  const t0 = performance.now()
  for (const n of [Math.min(1_000, job.n), Math.min(1_000, job.n), job.n]) {
    await timed(flow, n)
    await timed(floor, n)
  }
  const pairs: Array<{ flow: number; floor: number }> = []
  for (let p = 0; p < job.pairs; p++) {
    if (performance.now() - t0 > job.limitMs) throw new TimedOut(`did not finish within ${job.limitMs / 1000} s`)
    gc()
    if (p % 2 === 0) {
      const a = await timed(flow, job.n)
      pairs.push({ flow: a, floor: await timed(floor, job.n) })
    } else {
      const b = await timed(floor, job.n)
      pairs.push({ flow: await timed(flow, job.n), floor: b })
    }
  }
  return { ...base, ok: true, ms: performance.now() - t0, pairs }
}

const runJob = async (job: Job): Promise<JobResult> => {
  if (job.workload === "T" || job.workload === "U") return runTiny(job)
  if (job.workload === "M") return runWaiting(job)
  if (job.workload === "S") return runShare(job)
  const entry = adapters.find((a) => a.name === job.system)
  if (entry === undefined) throw new Error(`unknown system ${job.system}`)
  const adapter = await entry.load()
  const base = { job, pid: process.pid }
  if (job.workload === "B") {
    const inFlight = new InFlight()
    const runner = adapter.make(job.workers, sleep(job.sleepMs, inFlight))
    // Warm-up: one round of W items.
    const warm = verify(await runner.run(itemsOf(job.workers)), job.workers)
    if (warm !== undefined) return { ...base, ok: false, error: `warm-up: ${warm}` }
    inFlight.peak = 0
    const items = itemsOf(job.n)
    const t0 = performance.now()
    const results = await withLimit(runner.run(items), job.limitMs)
    const ms = performance.now() - t0
    const problem = verify(results, job.n)
    if (problem !== undefined) return { ...base, ok: false, error: problem }
    return { ...base, ok: true, ms, peakInFlight: inFlight.peak }
  }
  const runner = adapter.make(job.workers, noop)
  if (job.workload === "A") {
    // Warm-up: two runs of up to 1,000 items, so the figure leaves out module loading and the interpreter's first
    // calls. It is not the steady state: V8 optimises most hot functions (TurboFan) during the measured run, on a
    // background thread, so a 100,000-item figure includes each system's JIT work, and the same system's next
    // run in the same process costs less (the effect-flow rows' main-thread CPU a quarter to a half less).
    // Every row is measured this way.
    const warmN = Math.min(1_000, job.n)
    for (let i = 0; i < 2; i++) {
      const warm = verify(await runner.run(itemsOf(warmN)), warmN)
      if (warm !== undefined) return { ...base, ok: false, error: `warm-up: ${warm}` }
    }
    const items = itemsOf(job.n)
    gc()
    const rssBefore = process.memoryUsage.rss()
    const sampler = sampleRss()
    const t0 = performance.now()
    const results = await withLimit(runner.run(items), job.limitMs)
    const ms = performance.now() - t0
    const peakRss = sampler.stop()
    const problem = verify(results, job.n)
    if (problem !== undefined) return { ...base, ok: false, error: problem }
    return {
      ...base,
      ok: true,
      ms,
      rssBefore,
      peakRss,
      maxRss: process.resourceUsage().maxRSS * 1024
    }
  }
  // D: many concurrent runs of a small fan-out / fan-in.
  const runMany = runner.runMany ?? ((batches) => Promise.all(batches.map(runner.run)))
  const check = (all: ReadonlyArray<ReadonlyArray<unknown>>, runs: number): string | undefined => {
    if (all.length !== runs) return `expected ${runs} runs, got ${all.length}`
    for (let r = 0; r < all.length; r++) {
      const problem = verify(all[r], job.n)
      if (problem !== undefined) return `run ${r}: ${problem}`
    }
    return undefined
  }
  const batch = (runs: number) => Array.from({ length: runs }, () => itemsOf(job.n))
  const warmRuns = Math.min(100, job.runs)
  for (let i = 0; i < 2; i++) {
    const warm = check(await runMany(batch(warmRuns)), warmRuns)
    if (warm !== undefined) return { ...base, ok: false, error: `warm-up: ${warm}` }
  }
  const batches = batch(job.runs)
  gc()
  const rssBefore = process.memoryUsage.rss()
  const sampler = sampleRss()
  const t0 = performance.now()
  const all = await withLimit(runMany(batches), job.limitMs)
  const ms = performance.now() - t0
  const peakRss = sampler.stop()
  const problem = check(all, job.runs)
  if (problem !== undefined) return { ...base, ok: false, error: problem }
  return { ...base, ok: true, ms, rssBefore, peakRss, maxRss: process.resourceUsage().maxRSS * 1024 }
}

const jobs = JSON.parse(process.argv[2] ?? "[]") as Array<Job>
for (const job of jobs) {
  let result: JobResult
  try {
    result = await runJob(job)
  } catch (error) {
    result =
      error instanceof TimedOut
        ? { job, pid: process.pid, ok: false, timedOut: true, error: error.message }
        : {
            job,
            pid: process.pid,
            ok: false,
            error: error instanceof Error ? (error.stack ?? error.message) : String(error)
          }
  }
  process.stdout.write(`${RESULT_PREFIX}${JSON.stringify(result)}\n`)
  if (result.timedOut) process.exit(0)
}
process.exit(0)
