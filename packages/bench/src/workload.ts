/**
 * What every adapter runs: a fan-out over `items` (the indices 0..N-1), one unit of work per item with at
 * most `workers` units in flight, and a fan-in of all N results. The work comes in two shapes, an Effect
 * (for the Effect-based systems) and a Promise-returning function (for the others), with the same meaning
 * and the same in-flight accounting, so every system does the same thing its own way.
 */
import { Effect } from "effect"

/** One processed item. */
export interface Result {
  readonly index: number
  readonly value: number
}

/** The unit of work, in both shapes. */
export interface Work {
  readonly kind: "noop" | "sleep"
  readonly effect: (index: number) => Effect.Effect<number>
  readonly promise: (index: number) => number | Promise<number>
}

/** The value the work computes for an item; verification checks it. */
export const valueOf = (index: number): number => index * 2 + 1

/** Counts units of work in flight (sleep work only: a no-op item is never "in flight" across a yield). */
export class InFlight {
  now = 0
  peak = 0
  enter(): void {
    if (++this.now > this.peak) this.peak = this.now
  }
  exit(): void {
    this.now--
  }
}

/** Workload A, C, D: nothing to do per item, so the figure is the engine's own cost. */
export const noop: Work = {
  kind: "noop",
  effect: (index) => Effect.succeed(valueOf(index)),
  promise: (index) => valueOf(index)
}

/** Workload B: each item waits `ms` on a real timer (this is a benchmark, not a test). */
export const sleep = (ms: number, inFlight: InFlight): Work => ({
  kind: "sleep",
  effect: (index) =>
    Effect.suspend(() => {
      inFlight.enter()
      return Effect.as(
        Effect.ensuring(
          Effect.sleep(ms),
          Effect.sync(() => inFlight.exit())
        ),
        valueOf(index)
      )
    }),
  promise: (index) => {
    inFlight.enter()
    return new Promise<number>((resolve) =>
      setTimeout(() => {
        inFlight.exit()
        resolve(valueOf(index))
      }, ms)
    )
  }
})

/** The indices 0..n-1, the input every adapter gets. */
export const itemsOf = (n: number): Array<number> => Array.from({ length: n }, (_, i) => i)

/**
 * Check one run's results: exactly `n` of them, and after sorting by index, result i is item i with the
 * right value. Returns a description of the first problem, or undefined when the run is correct.
 */
export const verify = (results: unknown, n: number): string | undefined => {
  if (!Array.isArray(results)) return `expected an array of results, got ${typeof results}`
  if (results.length !== n) return `expected ${n} results, got ${results.length}`
  const sorted = [...(results as Array<Result>)].sort((a, b) => a.index - b.index)
  for (let i = 0; i < n; i++) {
    const r = sorted[i]
    if (r === undefined || r.index !== i) return `result ${i} is missing (found index ${r?.index})`
    if (r.value !== valueOf(i)) return `result ${i} has value ${r.value}, expected ${valueOf(i)}`
  }
  return undefined
}
