/**
 * A controlled, replayable scheduler for exploring interleavings.
 *
 * Effect fibers hand every resumption to the Scheduler in their context. This one keeps those tasks in
 * a list and runs them one at a time, as a list of choices dictates: at each step with k ready tasks,
 * the next choice (mod k) picks which runs; at each yield point the engine offers (a step-context
 * operation), the next choice says whether the fiber yields there (odd) or goes on (even). When the
 * choices run out, nothing yields and the oldest task runs first: the ordinary order. So shrinking the
 * choices towards an empty list shrinks towards the ordinary order, and a counterexample is the few
 * decisions that break it.
 *
 * Time is virtual: `Effect.sleep` registers a wake-up. At each step the candidates are the ready tasks
 * and then the sleepers, earliest first; the next choice picks one. Picking a sleeper wakes it at once,
 * as if its latency had been shorter (the clock moves to its time, never back). With no choices, a ready
 * task runs first and sleepers wake in time order: the ordinary order.
 */
import { Clock, Duration, Effect, type Exit, type Fiber } from "effect"
import * as Scheduler from "effect/Scheduler"

const ordinary = new Scheduler.MixedScheduler("sync")

class ControlledScheduler implements Scheduler.Scheduler {
  readonly executionMode = "sync" as const
  readonly tasks: Array<() => void> = []
  cursor = 0
  /** The choices actually used, to replay or report an order. */
  readonly used: Array<number> = []
  readonly choices: ReadonlyArray<number>
  constructor(choices: ReadonlyArray<number>) {
    this.choices = choices
  }
  /** A busy fiber yields after as many operations as under Effect's own scheduler, so a loop cannot run forever. */
  shouldYield(fiber: Fiber.Fiber<unknown, unknown>): boolean {
    return ordinary.shouldYield(fiber)
  }
  makeDispatcher(): Scheduler.SchedulerDispatcher {
    return {
      scheduleTask: (task) => {
        this.tasks.push(task)
      },
      flush: () => {}
    }
  }
  private next(): number {
    if (this.cursor >= this.choices.length) return 0
    const choice = Math.abs(Math.trunc(this.choices[this.cursor++]!))
    this.used.push(choice)
    return choice
  }
  /** Choose one of k candidates: the next choice mod k, or the first when there is one or no choices left. */
  readonly pick = (k: number): number => (k > 1 ? this.next() % k : 0)
  /** At a yield point: yield there (an odd choice) or go on (an even one, or no choices left). */
  readonly decide = (): boolean => this.next() % 2 === 1
  /** Run the ready task at `index`. */
  run(index: number): void {
    const [task] = this.tasks.splice(index, 1)
    task!()
  }
}

class VirtualClock implements Clock.Clock {
  now = 0
  private sleepers: Array<{ readonly at: number; readonly wake: () => void }> = []
  currentTimeMillisUnsafe(): number {
    return this.now
  }
  readonly currentTimeMillis = Effect.sync(() => this.now)
  currentTimeNanosUnsafe(): bigint {
    return BigInt(this.now) * 1_000_000n
  }
  readonly currentTimeNanos = Effect.sync(() => this.currentTimeNanosUnsafe())
  monotonicTimeNanosUnsafe(): bigint {
    return this.currentTimeNanosUnsafe()
  }
  readonly monotonicTimeNanos = Effect.sync(() => this.currentTimeNanosUnsafe())
  sleep(duration: Duration.Duration): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const entry = { at: this.now + Duration.toMillis(duration), wake: () => resume(Effect.void) }
      this.sleepers.push(entry)
      return Effect.sync(() => {
        const i = this.sleepers.indexOf(entry)
        if (i !== -1) this.sleepers.splice(i, 1)
      })
    })
  }
  get sleeping(): number {
    return this.sleepers.length
  }
  /** The sleepers that can wake, earliest first (in the order they went to sleep, among equals). */
  candidates(): Array<{ readonly at: number; readonly wake: () => void }> {
    return this.sleepers
      .map((s, i) => ({ s, i }))
      .filter(({ s }) => Number.isFinite(s.at))
      .sort((a, b) => a.s.at - b.s.at || a.i - b.i)
      .map(({ s }) => s)
  }
  /** Wake one sleeper now; the clock moves to its time if that is later, and never goes back. */
  wake(sleeper: { readonly at: number; readonly wake: () => void }): void {
    this.now = Math.max(this.now, sleeper.at)
    this.sleepers.splice(this.sleepers.indexOf(sleeper), 1)
    sleeper.wake()
  }
}

/** The outcome of one controlled run. @internal */
export interface Controlled<A, E> {
  /** `undefined` when the effect could not finish: nothing was ready or sleeping (a deadlock), or `maxSteps` ran out. */
  readonly exit: Exit.Exit<A, E> | undefined
  /** The choices actually consumed, in order. */
  readonly order: ReadonlyArray<number>
  readonly steps: number
  /** Virtual milliseconds elapsed. */
  readonly elapsed: number
}

/**
 * Run `effect` to completion (synchronously) under the controlled scheduler and virtual clock.
 *
 * @internal
 */
export const runControlled = <A, E>(
  make: (decide: () => boolean) => Effect.Effect<A, E>,
  choices: ReadonlyArray<number>,
  maxSteps = 100_000
): Controlled<A, E> => {
  const scheduler = new ControlledScheduler(choices)
  const clock = new VirtualClock()
  const fiber = Effect.runFork(Effect.provideService(make(scheduler.decide), Clock.Clock, clock), { scheduler })
  let steps = 0
  while (fiber.pollUnsafe() === undefined && steps < maxSteps) {
    // The candidates: every ready task, then every sleeper (waking one early models a shorter latency).
    const ready = scheduler.tasks.length
    const sleepers = clock.candidates()
    if (ready + sleepers.length === 0) break
    const i = scheduler.pick(ready + sleepers.length)
    if (i < ready) scheduler.run(i)
    else clock.wake(sleepers[i - ready]!)
    steps++
  }
  const exit = fiber.pollUnsafe()
  if (exit === undefined) {
    // Tidy up: interrupt what is left and let it run its finalizers.
    fiber.interruptUnsafe()
    for (let i = 0; i < 10_000 && scheduler.tasks.length > 0; i++) scheduler.run(0)
  }
  return { exit, order: scheduler.used, steps, elapsed: clock.now }
}
