/**
 * One measurement process. `main.ts` spawns it with a JSON list of jobs for one system; it runs them in
 * order, verifies every run, and prints one `RESULT_PREFIX` line of JSON per job on stdout. A job that
 * runs longer than its limit is reported as timed out and the process exits (its work cannot be
 * cancelled in every system, and it would disturb the next measurement).
 */
import { adapters } from "./adapter.ts"
import type { Job, JobResult } from "./protocol.ts"
import { RESULT_PREFIX } from "./protocol.ts"
import { InFlight, itemsOf, noop, sleep, verify } from "./workload.ts"

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

const withLimit = <A>(promise: Promise<A>, ms: number): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const limit = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new TimedOut(`did not finish within ${ms / 1000} s`)), ms)
  })
  return Promise.race([promise, limit]).finally(() => clearTimeout(timer))
}

const runJob = async (job: Job): Promise<JobResult> => {
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
    // Warm-up: two runs of up to 1,000 items, so the figure is the steady state, not the JIT's start.
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
