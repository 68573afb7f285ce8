/**
 * Run lifecycle: start (the StartEvent routed), stop (a StopEvent, checked against the `output` schema),
 * failure, stall (nothing active but waits that nothing can answer), the run's timeout, and the end, which
 * closes the run: every fiber the run forked and that still runs is interrupted. `runCompiled` runs a run in
 * the caller's fiber; a run launched in the background (a handle's) is `launch.ts`'s.
 *
 * `active` counts events queued, being handled or waiting to be retried; `waiters` the invocations
 * suspended in `ctx.waitFor` and not yet answered. When nothing is active but waiters, and no outside input
 * can come, nothing can ever happen again: the run fails at once with `WorkflowStalledError`.
 */
import { Cause, Context, Deferred, Duration, Effect, Exit, References, Tracer } from "effect"
import type { AnyEvent } from "../Event.ts"
import { StartEvent } from "../Event.ts"
import { PartialCollect, WaitingStep, WorkflowStalledError, WorkflowTimeoutError } from "../WorkflowError.ts"
import * as Boundary from "./boundary.ts"
import { describeNeed } from "./collectBuffer.ts"
import type { Compiled } from "./routing.ts"
import { andThen, type Hooks, Run, START } from "./run.ts"
import { dropIdleSlots } from "./stepRun.ts"
import { EditingRun } from "./store.ts"
import { deliver, startHere } from "./workers.ts"

/**
 * Run a compiled workflow on decoded input, closed (interrupting every
 * fiber of the run, running their finalizers) as soon as the run has a result.
 *
 * @internal
 */
export const runCompiled = (compiled: Compiled, input: object, hooks: Hooks = {}): Effect.Effect<unknown, unknown> =>
  Effect.withFiber((fiber) => {
    // The run's context is this fiber's, without the marker of a store edit (an outer run's): workers forked
    // from inside an edit must not inherit it.
    if (Context.get(fiber.context, EditingRun) !== undefined) {
      return Effect.provideService(runCompiled(compiled, input, hooks), EditingRun, undefined)
    }
    // The run's span only when a tracing backend is installed, as for steps: nothing observes it otherwise.
    if (spansOn(fiber.context)) {
      return Effect.withSpan(
        Effect.withFiber((inSpan) => running(compiled, input, hooks, inSpan.context, true)),
        `effect-flow.run ${compiled.name}`,
        { attributes: { "workflow.name": compiled.name }, captureStackTrace: false }
      )
    }
    return running(compiled, input, hooks, fiber.context, false)
  })

/** The hooks of a run nobody watches or feeds (`runPromise`'s). */
const NO_HOOKS: Hooks = {}

/** The context of a run `runNow` starts: the empty one (`runPromise`'s), which installs no tracer. */
const EMPTY = Context.empty()

/**
 * Start a run of a compiled workflow at once, in the empty context and outside any fiber (see `runNow` in
 * prepare.ts): its `Exit` when it ended at once (every handler it reached returned at once, and nothing was
 * forked), else the effect that runs the rest of it, which must run in a fiber whose context is the empty one.
 * The empty context installs no tracer and is inside no store edit, so the run needs no span and no lock of
 * another run (what `runCompiled` asks its fiber's context for).
 *
 * @internal
 */
export const runNow = (compiled: Compiled, input: object): Effect.Effect<unknown, unknown> =>
  running(compiled, input, NO_HOOKS, EMPTY, false)

/** Whether a tracing backend is installed in `context` (then runs and invocations get spans). */
export const spansOn = (context: Context.Context<never>): boolean =>
  Context.get(context, References.TracerEnabled) && Context.get(context, Tracer.Tracer) !== Tracer.nativeTracer

/**
 * The run itself, in `context` (the fiber's own, which the run keeps, so that `fork` sees its own fibers
 * already in it and merges nothing), closed when the run has a result, however it ends.
 */
const running = (
  compiled: Compiled,
  input: object,
  hooks: Hooks,
  context: Context.Context<never>,
  spans: boolean
): Effect.Effect<unknown, unknown> => {
  const run = new Run(compiled, context, hooks, spans)
  hooks.onRun?.(run)
  const timeout = timeoutOf(run, hooks)
  recordStart(run, input, timeout)
  const started = hooks.resume === undefined ? start(run, input) : hooks.resume(run)
  // Ended already, in this fiber, with nothing left to do and no fiber forked (see `start`): the result as is.
  if (started === Effect.void && run.exit !== undefined && !spans) {
    run.close(run.exit)
    return run.exit
  }
  return Effect.onExit(
    Effect.andThen(
      spans ? Effect.andThen(Effect.annotateCurrentSpan("workflow.run_id", run.id), started) : started,
      Effect.suspend(() => awaitEnd(run, timeout))
    ),
    (exit) => run.close(exit)
  )
}

/** The run's timeout, left from when it first started (a durable run's resume), or whole. */
export const timeoutOf = (run: Run, hooks: Hooks): Duration.Duration | undefined => {
  const timeout = run.compiled.timeout
  return timeout === undefined || hooks.startedAt === undefined
    ? timeout
    : Duration.millis(Math.max(0, hooks.startedAt + Duration.toMillis(timeout) - run.now()))
}

/** Record the run's start, when someone listens. */
export const recordStart = (run: Run, input: object, timeout: Duration.Duration | undefined): void => {
  if (run.record === undefined) return
  run.record({
    _tag: "RunStarted",
    runId: run.id,
    workflow: run.compiled.name,
    input,
    steps: run.compiled.steps.map((s) => s.name),
    state: run.state,
    deadline: timeout === undefined ? undefined : run.now() + Duration.toMillis(timeout)
  })
}

/**
 * Start the run: route the StartEvent built from the decoded input. When one step takes it, and nobody
 * records the run or schedules its fibers, that step's worker starts in the caller's fiber (see `startHere`):
 * a fiber is forked only for what the chain of handlers cannot finish at once.
 */
export const start = (run: Run, input: object): Effect.Effect<void> => {
  const ev = new StartEvent(input)
  const sole = run.compiled.soleTarget.get(ev._tag)
  if (sole !== undefined && run.handsOver) {
    run.handover = true
    const routed = deliver(run, run.stepRun(sole), ev, START, undefined)
    run.handover = false
    const ctx = run.handedTo
    if (ctx === undefined) return routed
    run.handedTo = undefined
    return startHere(run, ctx)
  }
  let effect: Effect.Effect<void> = Effect.void
  for (const i of run.compiled.routes.get(ev._tag) ?? []) {
    effect = andThen(effect, deliver(run, run.stepRun(i), ev, START, undefined))
  }
  return effect
}

/** Await the run's end (with its timeout). */
const awaitEnd = (run: Run, left: Duration.Duration | undefined): Effect.Effect<unknown, unknown> => {
  if (run.exit !== undefined) return run.exit
  const wait = Deferred.await(run.done)
  const timeout = run.compiled.timeout
  if (timeout === undefined || left === undefined) return wait
  return Effect.timeoutOrElse(wait, {
    duration: left,
    orElse: () => Effect.suspend(() => Effect.fail(timedOut(run)))
  })
}

/** The run's timeout has passed: it is over, with a `WorkflowTimeoutError` (the caller ends it with that). */
export const timedOut = (run: Run): WorkflowTimeoutError => {
  const activeSteps = run.steps
    .filter((sr) => sr !== undefined && (sr.running > 0 || sr.queued > 0 || sr.backingOff > 0))
    .map((sr) => sr!.step.name)
  run.finished = true
  const error = new WorkflowTimeoutError({
    workflow: run.compiled.name,
    timeout: Duration.format(run.compiled.timeout!),
    activeSteps
  })
  if (run.record !== undefined) run.record({ _tag: "RunEnded", result: { _tag: "Failure", cause: Cause.fail(error) } })
  return error
}

/** A StopEvent was routed: end the run with its result, once the result fits the `output` schema. */
export const stop = (run: Run, event: AnyEvent, from: string): void => {
  if (run.finished) return
  const result = (event as { result?: unknown }).result
  let mismatch: string | undefined
  try {
    mismatch = run.compiled.checkOutput?.(result)
  } catch (error) {
    failCause(
      run,
      Cause.die(Boundary.outputCheckThrew({ workflow: run.compiled.name, step: from, event: "StopEvent" }, error))
    )
    return
  }
  if (mismatch !== undefined) {
    failCause(
      run,
      Cause.die(
        new TypeError(
          `Workflow "${run.compiled.name}": the StopEvent's result (returned by step "${from}") does not match the output schema: ${mismatch}`
        )
      )
    )
    return
  }
  run.emit(event)
  run.end(Exit.succeed(result))
  if (run.record !== undefined) run.record({ _tag: "RunEnded", result: { _tag: "Success", value: result } })
}

/** End the run with `cause` (the first end wins). */
export const failCause = (run: Run, cause: Cause.Cause<unknown>): void => {
  if (run.finished) return
  run.end(Exit.failCause(cause))
  if (run.record !== undefined) run.record({ _tag: "RunEnded", result: { _tag: "Failure", cause } })
}

/**
 * Only outside input can move the run: it has an open `waitFor` or an unanswered `InputRequiredEvent`, and
 * every event still active is a waiting invocation's (nothing queued, running or backing off besides).
 */
export const isWaiting = (run: Run): boolean =>
  !run.finished && run.active <= run.waiters.length && (run.waiters.length > 0 || run.awaitingInput > 0)

/** Called whenever work may have run out: fail the run if nothing can ever happen again. */
export const checkIdle = (run: Run): void => {
  // An answered waiter leaves `waiters` at once, so its invocation counts as work from then on.
  if (run.finished || run.active > run.waiters.length || run.waiters.some((w) => w.timed)) return
  if (run.outsideInput && (run.waiters.length > 0 || run.awaitingInput > 0)) {
    dropIdleSlots(run)
    return
  }
  const collects: Array<PartialCollect> = []
  for (const sr of run.steps) {
    const buffer = sr?.collected
    if (buffer === undefined || buffer.size === 0) continue
    collects.push(
      new PartialCollect({ step: sr!.step.name, holds: buffer.holds(), needs: describeNeed(buffer.lastNeed) })
    )
  }
  const waiting = run.waiters.map((w) => new WaitingStep({ step: w.step, event: w.tag }))
  failCause(
    run,
    Cause.fail(
      new WorkflowStalledError({
        workflow: run.compiled.name,
        collects,
        waiting,
        awaitingInput: run.awaitingInput,
        last: run.lastStep === undefined ? undefined : `step "${run.lastStep}" handling ${run.lastEvent}`
      })
    )
  )
}
