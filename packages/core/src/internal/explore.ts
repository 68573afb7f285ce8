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
 * Time is virtual: `Effect.sleep` registers a wake-up, and when no task is ready the clock jumps to the
 * earliest one and wakes every fiber due then. Sleeps therefore keep their order in time; what the
 * choices reorder is everything that is ready at the same moment.
 */
import { Clock, Duration, Effect, type Exit } from "effect"
import type * as Scheduler from "effect/Scheduler"

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
  shouldYield(): boolean {
    return false
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
  /** At a yield point: yield there (an odd choice) or go on (an even one, or no choices left). */
  readonly decide = (): boolean => this.next() % 2 === 1
  /** Run one ready task, chosen by the next choice when several are ready. */
  step(): void {
    const k = this.tasks.length
    const index = k > 1 ? this.next() % k : 0
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
  /** Jump to the earliest wake-up and wake everything due then, in the order they went to sleep. */
  advance(): boolean {
    const at = Math.min(...this.sleepers.map((s) => s.at))
    if (!Number.isFinite(at)) return false
    this.now = Math.max(this.now, at)
    const due = this.sleepers.filter((s) => s.at <= this.now)
    this.sleepers = this.sleepers.filter((s) => s.at > this.now)
    for (const s of due) s.wake()
    return true
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
    if (scheduler.tasks.length > 0) scheduler.step()
    else if (clock.sleeping === 0 || !clock.advance()) break
    steps++
  }
  const exit = fiber.pollUnsafe()
  if (exit === undefined) {
    // Tidy up: interrupt what is left and let it run its finalizers.
    fiber.interruptUnsafe()
    for (let i = 0; i < 10_000 && scheduler.tasks.length > 0; i++) scheduler.step()
  }
  return { exit, order: scheduler.used, steps, elapsed: clock.now }
}
