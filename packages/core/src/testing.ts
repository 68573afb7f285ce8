/**
 * Helpers for testing workflows with Effect's `TestClock` (import from `@effect-flow/core/testing`).
 *
 * @since 0.1.0
 */
import { Duration, Effect, Exit, Fiber } from "effect"
import { TestClock } from "effect/testing"

/**
 * The outcome of {@link runVirtual}: the run's `Exit` and how much virtual time it took.
 *
 * @since 0.1.0
 * @category models
 */
export interface VirtualRun<A, E> {
  readonly exit: Exit.Exit<A, E>
  /** Virtual time from the start until the effect completed, a multiple of `tick`. */
  readonly elapsed: Duration.Duration
}

/**
 * Run an effect under `TestClock`, advancing virtual time by `tick` until it completes, so a test of a
 * workflow whose steps sleep never waits for real time and never hangs on a clock nobody moves.
 *
 * Why not just fork and `TestClock.adjust`? A workflow starts its worker fibers in later scheduler ticks,
 * so a single `adjust` right after the fork can pass before any step has started sleeping. This helper
 * lets every ready fiber run (`settle` yields) before each tick.
 *
 * Use inside `it.effect` (which provides `TestClock`). `maxTime` bounds the virtual time: an effect still
 * running then is interrupted, and its `exit` says so.
 *
 * @example
 * ```ts
 * it.effect("8 items with 4 workers take 1 s", () =>
 *   Effect.gen(function*() {
 *     const { exit, elapsed } = yield* Testing.runVirtual(Workflow.run(parallel, { items }))
 *     assert.strictEqual(Duration.toMillis(elapsed), 1000)
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category testing
 */
export const runVirtual = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options?: {
    readonly tick?: Duration.Input | undefined
    readonly maxTime?: Duration.Input | undefined
    readonly settle?: number | undefined
  }
): Effect.Effect<VirtualRun<A, E>, never, R> =>
  Effect.gen(function*() {
    const tick = Duration.fromInputUnsafe(options?.tick ?? "10 millis")
    const maxTime = Duration.toMillis(Duration.fromInputUnsafe(options?.maxTime ?? "1 hour"))
    const settle = options?.settle ?? 25
    const tickMillis = Duration.toMillis(tick)
    const fiber = yield* Effect.forkChild(effect, { startImmediately: true })
    let elapsed = 0
    while (true) {
      for (let i = 0; i < settle && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) return { exit, elapsed: Duration.millis(elapsed) }
      if (elapsed >= maxTime) {
        return { exit: yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber))), elapsed: Duration.millis(elapsed) }
      }
      yield* TestClock.adjust(tick)
      elapsed += tickMillis
    }
  })
