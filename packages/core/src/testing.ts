/**
 * A testing kit for workflows, on Effect's `TestClock` and fast-check (import from
 * `@effect-flow/core/testing`):
 *
 * - {@link runVirtual}: run under `TestClock`, advancing virtual time until done.
 * - {@link inputArbitrary}: a fast-check arbitrary for a workflow's input, from its `input` schema.
 * - {@link trace} / {@link explore}: run a workflow and get back what it did as data (a {@link Trace}):
 *   every event routed, every invocation, every write, the result. `explore` runs it under a controlled
 *   scheduler that follows a list of choices, so fast-check can pick the interleaving and shrink it.
 * - {@link interleavings}: the arbitrary of those choices. {@link Laws}: ready-made laws over traces.
 *
 * @since 0.1.0
 */
import { Arbitrary, Cause, Clock, type Context, Duration, Effect, Exit, Fiber, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import type { AnyEvent } from "./Event.ts"
import { runControlled } from "./internal/explore.ts"
import { run } from "./internal/prepare.ts"
import type { Transition } from "./internal/record.ts"
import type { Run } from "./internal/runtime.ts"
import type * as Workflow from "./Workflow.ts"

/**
 * The outcome of {@link runVirtual}: the run's `Exit` and how much virtual time it took. `elapsed` is
 * rounded up to a multiple of `tick`, so assert on it with the tick's precision.
 *
 * @example
 * ```ts
 * import { runVirtual } from "@effect-flow/core/testing"
 *
 * const { exit, elapsed } = yield* runVirtual(Workflow.run(parallel, { items: ["a", "b"] }))
 * assert.isTrue(Exit.isSuccess(exit))
 * assert.strictEqual(Duration.toMillis(elapsed), 500)
 * ```
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
 * The canonical pattern works too: fork `Workflow.run`, `TestClock.adjust(d)`, join. The engine starts
 * worker fibers at once, so every sleep its scheduling reaches is registered before `adjust` looks; sleeps
 * behind a handler's own forks or yields are the handler's business. This helper adds what `adjust` does
 * not: it lets every ready fiber run (`settle` yields) before each tick, finds the time the run took, and
 * bounds it.
 *
 * Inside `it.effect` it uses the test's `TestClock` (so `TestClock` calls of your own see the same time);
 * anywhere else (`Effect.runPromise`, a plain `it`) it provides a fresh `TestClock` of its own. `maxTime`
 * bounds the virtual time: an effect still running then is interrupted, and its `exit` says so.
 *
 * @example
 * ```ts
 * it.effect("8 items with 4 workers take 1 s", () =>
 *   Effect.gen(function*() {
 *     const { exit, elapsed } = yield* runVirtual(Workflow.run(parallel, { items }))
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
  Effect.withFiber((fiber) => {
    const run = advancing(effect, options)
    // it.effect provides a TestClock; elsewhere the clock is the live one, which cannot be adjusted.
    const clock = fiber.getRef(Clock.Clock) as Partial<TestClock.TestClock>
    return typeof clock.adjust === "function" ? run : Effect.provide(run, TestClock.layer())
  })

const advancing = <A, E, R>(
  effect: Effect.Effect<A, E, R>,
  options:
    | {
        readonly tick?: Duration.Input | undefined
        readonly maxTime?: Duration.Input | undefined
        readonly settle?: number | undefined
      }
    | undefined
): Effect.Effect<VirtualRun<A, E>, never, R> =>
  Effect.gen(function* () {
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
        return {
          exit: yield* Fiber.interrupt(fiber).pipe(Effect.andThen(Fiber.await(fiber))),
          elapsed: Duration.millis(elapsed)
        }
      }
      yield* TestClock.adjust(tick)
      elapsed += tickMillis
    }
  })

// -------------------------------------------------------------------------------------------------
// inputs

/**
 * A fast-check arbitrary for a workflow's input (what `Workflow.run` takes), derived from its `input`
 * schema through `effect/Arbitrary` and encoded with the schema, so every value decodes. Override any
 * field with your own fast-check arbitrary, to shape it or to get structural shrinking for it (derived
 * fields shrink through the seed they are sampled from).
 *
 * @example
 * ```ts
 * fc.assert(fc.property(inputArbitrary(parallel, { items: fc.array(fc.string(), { maxLength: 20 }) }), (input) => ...))
 * ```
 *
 * @since 0.1.0
 * @category inputs
 */
export const inputArbitrary = <W extends Workflow.Any>(
  workflow: W,
  overrides: {
    readonly [K in keyof Workflow.Workflow.InputEncoded<W>]?: fc.Arbitrary<Workflow.Workflow.InputEncoded<W>[K]>
  } = {}
): fc.Arbitrary<Workflow.Workflow.InputEncoded<W>> => {
  const schema = workflow.config.input as Schema.Codec<unknown, unknown> | undefined
  if (schema === undefined) return fc.record(overrides as Record<string, fc.Arbitrary<unknown>>) as any
  const derived = Arbitrary.schema(schema)
  const encode = Schema.encodeSync(schema)
  const sample = (seed: number): unknown => {
    const values = Effect.runSync(Arbitrary.sampleEffect(derived, { seed, count: 1 }))
    return encode(values[0])
  }
  return fc
    .record({
      seed: fc.integer({ min: 0, max: 0x7fffffff }),
      fields: fc.record(overrides as Record<string, fc.Arbitrary<unknown>>)
    })
    .map(({ fields, seed }) => ({ ...(sample(seed) as object), ...fields })) as any
}

// -------------------------------------------------------------------------------------------------
// traces

/**
 * One invocation of a step, in a {@link Trace}. `start` and `end` are positions in the run's sequence of
 * trace entries (`end` is undefined when the run ended while it was running).
 *
 * @example
 * ```ts
 * const t = explore(parallel, { items: ["a", "b"] }, [])
 * const processed = t.invocations.filter((i) => i.step === "process_item" && i.outcome === "returned")
 * assert.strictEqual(processed.length, 2)
 * ```
 *
 * @since 0.1.0
 * @category traces
 */
export interface Invocation {
  readonly step: string
  readonly event: AnyEvent
  readonly attempt: number
  readonly worker: number
  readonly start: number
  readonly end: number | undefined
  readonly outcome: "returned" | "failed" | "interrupted" | "retrying" | "running"
}

/**
 * What a run did, as data, for laws and assertions.
 *
 * - `routed`: every delivery of an event to a step, with the step (or `"(start)"`, `"(outside)"`) it
 *   came from, in order.
 * - `invocations`: every handler invocation. `writes`: every `ctx.write`.
 * - `leftover`: events still queued or in a collect buffer when the run ended, per step.
 * - `exit`: the run's result or error. `order`: for `explore`, the interleaving choices actually used.
 *
 * @example
 * ```ts
 * import { explore, Laws } from "@effect-flow/core/testing"
 *
 * const t = explore(parallel, { items: ["a", "b"] }, [])
 * assert.deepStrictEqual(Laws.nothingLost(t), [])
 * assert.deepStrictEqual(t.writes, [])
 * ```
 *
 * @since 0.1.0
 * @category traces
 */
export interface Trace<A = unknown, E = unknown> {
  readonly workflow: string
  readonly routed: ReadonlyArray<{
    readonly seq: number
    readonly from: string
    readonly to: string
    readonly event: AnyEvent
  }>
  readonly invocations: ReadonlyArray<Invocation>
  readonly writes: ReadonlyArray<{ readonly seq: number; readonly step: string; readonly event: AnyEvent }>
  readonly leftover: ReadonlyArray<{
    readonly step: string
    readonly queued: ReadonlyArray<AnyEvent>
    readonly collecting: ReadonlyArray<AnyEvent>
  }>
  /** Workers per step, for {@link Laws.concurrencyBounded}. */
  readonly workers: Readonly<Record<string, number>>
  readonly exit: Exit.Exit<A, E>
  readonly order: ReadonlyArray<number>
}

class Recorder {
  seq = 0
  readonly routed: Array<Trace["routed"][number]> = []
  readonly invocations: Array<Invocation & { end: number | undefined; outcome: Invocation["outcome"] }> = []
  readonly writes: Array<Trace["writes"][number]> = []
  /** Invocations started and not yet ended, by invocationId. */
  private readonly open = new Map<string, Recorder["invocations"][number]>()
  run: Run | undefined = undefined
  /** Reads the run's record (see `internal/record.ts`): the transitions a trace shows, numbered in order. */
  readonly record = (t: Transition): void => {
    switch (t._tag) {
      case "Routed":
        this.routed.push({ seq: this.seq++, from: t.from, to: t.to, event: t.event })
        break
      case "InvocationStarted": {
        const inv = {
          step: t.step,
          event: t.event,
          attempt: t.attempt,
          worker: t.worker,
          start: this.seq++,
          end: undefined,
          outcome: "running" as const
        }
        this.invocations.push(inv)
        this.open.set(t.invocationId, inv)
        break
      }
      case "InvocationEnded": {
        const inv = this.open.get(t.invocationId)
        if (inv !== undefined && inv.attempt === t.attempt) {
          this.open.delete(t.invocationId)
          inv.end = this.seq
          inv.outcome =
            t.outcome._tag === "Returned"
              ? "returned"
              : t.outcome._tag === "Interrupted"
                ? "interrupted"
                : t.outcome.willRetry
                  ? "retrying"
                  : "failed"
        }
        this.seq++
        break
      }
      case "Operation":
        if (t.operation.op === "write") this.writes.push({ seq: this.seq++, step: t.step, event: t.operation.event })
        break
    }
  }
  trace<A, E>(workflow: Workflow.Any, exit: Exit.Exit<A, E>, order: ReadonlyArray<number>): Trace<A, E> {
    const snapshot = this.run?.snapshot()
    return {
      workflow: workflow.name,
      routed: this.routed,
      invocations: this.invocations,
      writes: this.writes,
      leftover: (snapshot?.steps ?? [])
        .filter((s) => s.queued.length > 0 || s.collecting.length > 0)
        .map((s) => ({ step: s.step, queued: s.queued, collecting: s.collecting })),
      workers: Object.fromEntries(workflow.steps.map((s) => [s.name, s.workers])),
      exit,
      order
    }
  }
}

const traced = <W extends Workflow.Any>(
  workflow: W,
  input: Workflow.Workflow.InputEncoded<W>,
  recorder: Recorder,
  yieldPoints: (() => boolean) | undefined
) =>
  run(workflow, input, {
    record: recorder.record,
    yieldPoints,
    onRun: (r) => {
      recorder.run = r
    }
  }) as Effect.Effect<
    Workflow.Workflow.Output<W>,
    Workflow.Workflow.Error<W> | import("./WorkflowError.ts").WorkflowError,
    Workflow.Workflow.Services<W>
  >

/**
 * Run a workflow and return its {@link Trace}: the run's `exit` is in the trace, so this never fails.
 * Time is the context's clock: under `it.effect`, wrap it in {@link runVirtual} when steps sleep.
 *
 * @example
 * ```ts
 * const { exit } = yield* runVirtual(trace(parallel, { items: ["a", "b"] }))
 * const t = Exit.getOrThrow(exit)
 * assert.deepStrictEqual(Laws.nothingLost(t), [])
 * ```
 *
 * @since 0.1.0
 * @category traces
 */
export const trace = <W extends Workflow.Any>(
  workflow: W,
  input: Workflow.Workflow.InputEncoded<W>
): Effect.Effect<
  Trace<Workflow.Workflow.Output<W>, Workflow.Workflow.Error<W> | import("./WorkflowError.ts").WorkflowError>,
  never,
  Workflow.Workflow.Services<W>
> =>
  Effect.suspend(() => {
    const recorder = new Recorder()
    return Effect.map(Effect.exit(traced(workflow, input, recorder, undefined)), (exit) =>
      recorder.trace(workflow, exit, [])
    )
  })

/**
 * Run a workflow under a controlled, replayable scheduler and return its {@link Trace}, synchronously.
 *
 * The `choices` decide the interleaving: before every step-context operation (`send`, `collect`,
 * `store.*`, `write`, `waitFor`) the next choice says whether the fiber yields there (odd) or goes on
 * (even), and at every step the next choice picks what goes on among the ready fibers and the
 * sleeping ones (waking a sleeper early, as if its latency had been shorter: so a timeout may fire
 * first, latencies are not promised). Time is virtual and instant. With no choices left, nothing yields,
 * the oldest ready fiber runs and sleeps wake in time order: the ordinary order. The same choices replay the same interleaving, and fast-check shrinks a failure
 * towards the ordinary order, to the few decisions that break it.
 *
 * Limits: only those points interleave; pure code between them runs without interruption (as it does in
 * Effect, which never preempts between two synchronous steps). Real I/O and real timers inside handlers are
 * not controlled; services the workflow needs are given as a `Context` in `options.context`.
 * A run that cannot finish (everything blocked, or more than `maxSteps` steps) has an `exit` that is an
 * interruption.
 *
 * @example
 * ```ts
 * fc.assert(fc.property(interleavings(), (choices) => {
 *   const t = explore(accumulator, { items }, choices)
 *   return Exit.isSuccess(t.exit) && t.exit.value.length === items.length
 * }))
 * ```
 *
 * @since 0.1.0
 * @category interleavings
 */
export const explore = <W extends Workflow.Any>(
  workflow: W,
  input: Workflow.Workflow.InputEncoded<W>,
  choices: ReadonlyArray<number>,
  ...options: [Workflow.Workflow.Services<W>] extends [never]
    ? [options?: ExploreOptions<never>]
    : [options: ExploreOptions<Workflow.Workflow.Services<W>>]
): Trace<Workflow.Workflow.Output<W>, Workflow.Workflow.Error<W> | import("./WorkflowError.ts").WorkflowError> => {
  const recorder = new Recorder()
  const context = options[0]?.context
  const result = runControlled(
    (decide) => {
      const run = traced(workflow, input, recorder, decide) as Effect.Effect<any, any, any>
      return (context === undefined ? run : Effect.provideContext(run, context)) as Effect.Effect<any, any>
    },
    choices,
    options[0]?.maxSteps
  )
  return recorder.trace(workflow, result.exit ?? Exit.failCause(Cause.interrupt()), result.order)
}

/**
 * Options of {@link explore}. A workflow that needs services takes them as a `Context` (build one with
 * `Context.make(Service, implementation)`, or from a Layer with `Layer.build` in a scope).
 *
 * @example
 * ```ts
 * explore(summaries, input, choices, { context: Context.make(Summarizer, fakeSummarizer), maxSteps: 50_000 })
 * ```
 *
 * @since 0.1.0
 * @category interleavings
 */
export interface ExploreOptions<R> {
  /** Give up (the trace's exit is an interruption) after this many scheduling steps. Default 100,000. */
  readonly maxSteps?: number | undefined
  /** The services the workflow's steps need. */
  readonly context?: Context.Context<R> | undefined
}

/**
 * The arbitrary of interleaving choices for {@link explore}: a list of small numbers, shrinking towards
 * the empty list (the plain order). Raise `maxLength` for workflows with many step-context operations:
 * decisions past the end of the list fall back to the plain order.
 *
 * @example
 * ```ts
 * import { explore, interleavings, Laws } from "@effect-flow/core/testing"
 *
 * fc.assert(fc.property(interleavings({ maxLength: 100 }), (choices) => {
 *   assert.deepStrictEqual(Laws.concurrencyBounded(explore(parallel, { items: ["a", "b", "c"] }, choices)), [])
 * }))
 * ```
 *
 * @since 0.1.0
 * @category interleavings
 */
export const interleavings = (options?: {
  readonly maxLength?: number | undefined
  readonly maxChoice?: number | undefined
}): fc.Arbitrary<ReadonlyArray<number>> =>
  // size "max": fast-check's default size would keep the lists short, leaving most decisions to the ordinary order.
  fc.array(fc.nat({ max: options?.maxChoice ?? 15 }), { maxLength: options?.maxLength ?? 200, size: "max" })

// -------------------------------------------------------------------------------------------------
// laws

/**
 * Laws over {@link Trace}s. Each returns the list of violations, empty when the law holds, so a test can
 * `assert.deepStrictEqual(Laws.nothingLost(t), [])` and read what went wrong.
 *
 * @example
 * ```ts
 * import { explore, Laws } from "@effect-flow/core/testing"
 *
 * const plain = explore(parallel, { items: ["a", "b"] }, [])
 * const shuffled = explore(parallel, { items: ["a", "b"] }, [1, 3, 0, 2])
 * assert.deepStrictEqual([...Laws.nothingLost(shuffled), ...Laws.sameOutcome(plain, shuffled)], [])
 * ```
 *
 * @since 0.1.0
 * @category laws
 */
export const Laws = {
  /**
   * Nothing lost or duplicated: every event routed to a step was handled by it exactly once (counting
   * retried attempts as one), unless the run ended first with it still queued (`leftover`); and no step
   * handled an event that was not routed to it.
   */
  nothingLost: (t: Trace): ReadonlyArray<string> => {
    const violations: Array<string> = []
    const handled = new Map<string, Map<AnyEvent, number>>()
    for (const inv of t.invocations) {
      if (inv.attempt !== 1) continue
      const byEvent = handled.get(inv.step) ?? new Map<AnyEvent, number>()
      byEvent.set(inv.event, (byEvent.get(inv.event) ?? 0) + 1)
      handled.set(inv.step, byEvent)
    }
    const leftover = new Map(t.leftover.map((l) => [l.step, new Set(l.queued)]))
    const routedTo = new Map<string, Map<AnyEvent, number>>()
    for (const r of t.routed) {
      const byEvent = routedTo.get(r.to) ?? new Map<AnyEvent, number>()
      byEvent.set(r.event, (byEvent.get(r.event) ?? 0) + 1)
      routedTo.set(r.to, byEvent)
    }
    for (const [step, byEvent] of routedTo) {
      for (const [event, times] of byEvent) {
        const n = handled.get(step)?.get(event) ?? 0
        const queued = leftover.get(step)?.has(event) ? 1 : 0
        if (n + queued !== times) {
          violations.push(
            `${event._tag} was routed to "${step}" ${times} time(s) but handled ${n} time(s)${queued ? " (still queued)" : ""}`
          )
        }
      }
    }
    for (const [step, byEvent] of handled) {
      for (const [event] of byEvent) {
        if (!routedTo.get(step)?.has(event))
          violations.push(`"${step}" handled a ${event._tag} that was never routed to it`)
      }
    }
    return violations
  },

  /** No step ever ran more invocations at once than its `workers`. */
  concurrencyBounded: (t: Trace): ReadonlyArray<string> => {
    const violations: Array<string> = []
    const points: Array<{ seq: number; step: string; delta: number }> = []
    for (const inv of t.invocations) {
      points.push({ seq: inv.start, step: inv.step, delta: 1 })
      if (inv.end !== undefined) points.push({ seq: inv.end, step: inv.step, delta: -1 })
    }
    points.sort((a, b) => a.seq - b.seq)
    const running = new Map<string, number>()
    const peak = new Map<string, number>()
    for (const p of points) {
      const n = (running.get(p.step) ?? 0) + p.delta
      running.set(p.step, n)
      peak.set(p.step, Math.max(peak.get(p.step) ?? 0, n))
    }
    for (const [step, n] of peak) {
      const workers = t.workers[step] ?? 1
      if (n > workers) violations.push(`"${step}" ran ${n} invocations at once, but has ${workers} worker(s)`)
    }
    return violations
  },

  /** Two runs (e.g. the plain order and an explored one) ended the same way: equal results, or equal errors. */
  sameOutcome: (a: Trace, b: Trace): ReadonlyArray<string> => {
    const show = (exit: Exit.Exit<unknown, unknown>) =>
      Exit.isSuccess(exit)
        ? `succeeded with ${JSON.stringify(exit.value)}`
        : `failed with ${String(Cause.squash(exit.cause))}`
    const same =
      Exit.isSuccess(a.exit) && Exit.isSuccess(b.exit)
        ? JSON.stringify(a.exit.value) === JSON.stringify(b.exit.value)
        : Exit.isFailure(a.exit) &&
          Exit.isFailure(b.exit) &&
          String(Cause.squash(a.exit.cause)) === String(Cause.squash(b.exit.cause))
    return same ? [] : [`one run ${show(a.exit)}, the other ${show(b.exit)} (order ${JSON.stringify(b.order)})`]
  }
}
