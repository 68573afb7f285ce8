/** What `main.ts` asks of a measurement process (`child.ts`) and what it answers. */

/** Marks the result lines in a child's stdout (peers may log there too). */
export const RESULT_PREFIX = "@@bench-result "

interface JobBase {
  readonly system: string
  /** The run's time limit; a run over it is reported as "> limit", not dropped. */
  readonly limitMs: number
}

/** A: one fan-out / fan-in over `n` no-op items. */
export interface JobA extends JobBase {
  readonly workload: "A"
  readonly n: number
  readonly workers: number
}

/** B: `n` items that each wait `sleepMs` on a real timer. */
export interface JobB extends JobBase {
  readonly workload: "B"
  readonly workers: number
  readonly n: number
  readonly sleepMs: number
}

/** D: `runs` concurrent runs of a fan-out / fan-in over `n` no-op items. */
export interface JobD extends JobBase {
  readonly workload: "D"
  readonly workers: number
  readonly runs: number
  readonly n: number
}

/** T: `runs` tiny runs (start -> step -> stop) one after another. */
export interface JobT extends JobBase {
  readonly workload: "T"
  readonly runs: number
}

/** U: `runs` tiny runs started together. */
export interface JobU extends JobBase {
  readonly workload: "U"
  readonly runs: number
}

/** M: `runs` runs held open at once, each waiting for outside input; heap used per run. */
export interface JobM extends JobBase {
  readonly workload: "M"
  readonly runs: number
}

/**
 * S: the engine's own share. `pairs` interleaved pairs in one warm process: the lean row and the handlers floor,
 * each over `n` no-op items with `workers` workers.
 */
export interface JobS extends JobBase {
  readonly workload: "S"
  readonly n: number
  readonly workers: number
  readonly pairs: number
}

export type Job = JobA | JobB | JobD | JobT | JobU | JobM | JobS

export interface JobResult {
  readonly job: Job
  readonly pid: number
  readonly ok: boolean
  readonly timedOut?: boolean
  /** Not run, because an earlier job in the same process timed out. */
  readonly skipped?: boolean
  readonly error?: string
  /** Wall time of the measured run(s), ms. */
  readonly ms?: number
  /** RSS just before the measured run, after a full GC (bytes). */
  readonly rssBefore?: number
  /** Highest RSS sampled during the run, or at its end (bytes). */
  readonly peakRss?: number
  /** The process's lifetime peak RSS, `process.resourceUsage().maxRSS` (bytes). */
  readonly maxRss?: number
  /** B: the most items waiting at once. */
  readonly peakInFlight?: number
  /** M: heap used after a forced GC, before the runs started and while they all wait (bytes). */
  readonly heapBefore?: number
  readonly heapAfter?: number
  /** S: each pair's two times, ms. */
  readonly pairs?: ReadonlyArray<{ readonly flow: number; readonly floor: number }>
}
