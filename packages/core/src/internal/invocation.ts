/**
 * Invocation: one call of a step's handler on one event, inside its worker's fiber (see `workers.ts`):
 * the handler, its timeout and span, then its outcome. A returned event is routed (`routing.ts`), with
 * back-pressure (`backPressure.ts`); a failure is retried on the step's schedule, handed to a step that
 * accepts `StepFailedEvent`, or ends the run (`retry.ts`). Then the worker takes its next event.
 */
import { Cause, Context, Duration, Effect, Exit, Fiber } from "effect"
import type { AnyEvent } from "../Event.ts"
import { StepTimeoutError, UnhandledEventError } from "../WorkflowError.ts"
import { filled, room } from "./backPressure.ts"
import * as Boundary from "./boundary.ts"
import type { Context_ } from "./context.ts"
import { DistributorRef } from "./distributed.ts"
import { drive } from "./generator.ts"
import { generatorOf, runInPlaceOrValue, SUCCEEDED, takeSucceeded } from "./inPlace.ts"
import { failCause } from "./lifecycle.ts"
import { isExit } from "./primitive.ts"
import type { Outcome } from "./record.ts"
import { failed } from "./retry.ts"
import { outsideEmits, routeEmitted, routeOrError } from "./routing.ts"
import { andThen, type Run } from "./run.ts"
import type { Item } from "./stepRun.ts"
import { handOver, mayHandOver, next } from "./workers.ts"

/**
 * `Effect.isEffect`, written out: effect's own goes through `Predicate.hasProperty`, a `dual` that builds an
 * `arguments` object on every call, and the engine asks it of every invocation (`isExit`: `primitive.ts`).
 */
const isEffect = (u: unknown): u is Effect.Effect<unknown, unknown> =>
  typeof u === "object" && u !== null && Effect.TypeId in u

/** Run the handler on `item`, inside the worker's fiber, once the run is not paused (see `Hooks.pause`). */
export const invoke = (run: Run, ctx: Context_, item: Item): Effect.Effect<void> => {
  const wait = run.pause === undefined ? undefined : run.pause()
  return wait === undefined
    ? invokeNow(run, ctx, item)
    : Effect.andThen(
        wait,
        Effect.suspend(() => invokeNow(run, ctx, item))
      )
}

const invokeNow = (run: Run, ctx: Context_, item: Item): Effect.Effect<void> => {
  // `assign` (workers.ts) told a retry from a fresh event when the slot took the item.
  const retry = ctx.retry
  const ev = retry === undefined ? (item as AnyEvent) : retry.event
  ctx.event = ev
  ctx.journaled = retry?.journaled
  ctx.attempt = retry === undefined ? 1 : retry.attempt
  ctx.retrying = false
  ctx.seq = 0
  const step = ctx.sr.step
  if (run.record !== undefined) {
    run.record({
      _tag: "InvocationStarted",
      invocationId: ctx.invocationId,
      step: step.name,
      event: ev,
      attempt: ctx.attempt,
      worker: ctx.worker,
      deadline: step.timeout === undefined ? undefined : run.now() + Duration.toMillis(step.timeout)
    })
  }
  // A generator handler on the plain path: the engine steps it, with no effect around it (see `generator.ts`).
  const generator = step.generator
  const plain = run.plain && step.plain
  if (generator !== undefined && plain) {
    let iter: Iterator<unknown, unknown, unknown>
    try {
      iter = generator(ev, ctx)
    } catch (thrown) {
      // As under `Effect.fnUntraced`: a generator function throws only on its parameters, a defect of the call.
      return failedInvocation(run, ctx, Cause.die(thrown))
    }
    return drive(run, ctx, iter, undefined)
  }
  let effect: Effect.Effect<unknown, unknown>
  const distributor = step.def.distribute === true ? Context.get(run.context, DistributorRef) : undefined
  if (distributor !== undefined) {
    effect = distributor.invoke({
      workflow: run.compiled.name,
      runId: run.id,
      step: step.name,
      invocationId: ctx.invocationId,
      attempt: ctx.attempt,
      since: retry?.since ?? ctx.attempt,
      event: ev,
      write: ctx.writeFn
    })
  } else {
    try {
      // A distributed step outside a cluster runs here, with the context it would get on a runner.
      const returned = step.handler(ev, step.def.distribute === true ? (ctx.distributed as unknown as Context_) : ctx)
      effect = isEffect(returned)
        ? plain
          ? runInPlaceOrValue(returned as Effect.Effect<unknown, unknown>)
          : (returned as Effect.Effect<unknown, unknown>)
        : Boundary.handlerResult({ workflow: run.compiled.name, step: step.name, event: ev._tag }, returned)
    } catch (thrown) {
      effect = Effect.die(
        Boundary.handlerThrew({ workflow: run.compiled.name, step: step.name, event: ev._tag }, thrown)
      )
    }
  }
  if (effect === SUCCEEDED) {
    // Run in place to its end (see `inPlace.ts`): the outcome, with no Exit made for it.
    const value = takeSucceeded()
    if (run.syncDepth < MAX_SYNC_DEPTH) {
      run.syncDepth++
      try {
        return succeeded(run, ctx, value)
      } finally {
        run.syncDepth--
      }
    }
    effect = Exit.succeed(value)
  }
  if (plain) {
    // An `Effect.gen` / `Effect.fnUntraced` handler: its generator is stepped as a generator handler's is.
    const iter = generatorOf(effect)
    if (iter !== undefined) return drive(run, ctx, iter, undefined)
  }
  if (step.timeout !== undefined) {
    const timeout = step.timeout
    effect = Effect.timeoutOrElse(effect, {
      duration: timeout,
      orElse: () =>
        Effect.fail(
          new StepTimeoutError({
            workflow: run.compiled.name,
            step: step.name,
            event: ev._tag,
            timeout: Duration.format(timeout)
          })
        )
    })
  }
  if (run.record !== undefined) {
    // The handler's other ends are recorded where they are handled (`succeeded`, `failed`).
    effect = Effect.onInterrupt(effect, () => Effect.sync(() => ended(run, ctx, { _tag: "Interrupted" })))
  }
  if (run.spans) {
    effect = Effect.withSpan(effect, `effect-flow.step ${step.name}`, {
      attributes: {
        "workflow.name": run.compiled.name,
        "workflow.run_id": run.id,
        "workflow.step": step.name,
        "workflow.event": ev._tag,
        "workflow.attempt": ctx.attempt
      },
      captureStackTrace: false
    })
  }
  // A handler that returned an Exit (`Effect.succeed(event)`) goes on at once, without an effect for its outcome,
  // as long as that does not nest too deep on the JS stack (a worker draining its mailbox goes through here).
  if (isExit(effect) && run.syncDepth < MAX_SYNC_DEPTH) {
    run.syncDepth++
    try {
      return effect._tag === "Success" ? succeeded(run, ctx, effect.value) : failedInvocation(run, ctx, effect.cause)
    } finally {
      run.syncDepth--
    }
  }
  ctx.inFiber = true
  return ctx.followedByOutcome(effect)
}

/** How many outcomes may be handled one inside another on the JS stack (see `invoke`). */
export const MAX_SYNC_DEPTH = 32

/** Record the end of the invocation of `ctx`. */
export const ended = (run: Run, ctx: Context_, outcome: Outcome): void =>
  run.record!({
    _tag: "InvocationEnded",
    invocationId: ctx.invocationId,
    step: ctx.step,
    event: ctx.event!,
    attempt: ctx.attempt,
    worker: ctx.worker,
    outcome
  })

/**
 * The key under which effect's fiber keeps the fibers it forked with `Effect.forkChild` that still run (a `Set`),
 * found once by looking, or `undefined` if effect keeps them elsewhere (then they end with the worker's fiber,
 * at the latest when the run closes). Exported for the test that pins it on this effect version. @internal
 */
export const CHILDREN: string | undefined = (() => {
  try {
    return Effect.runSync(
      Effect.gen(function* () {
        const child = yield* Effect.forkChild(Effect.never)
        const fiber = Fiber.getCurrent() as unknown as Record<string, unknown>
        const key = Object.keys(fiber).find((k) => fiber[k] instanceof Set && (fiber[k] as Set<unknown>).has(child))
        yield* Fiber.interrupt(child)
        return key !== undefined && (fiber[key] as Set<unknown>).size === 0 ? key : undefined
      })
    )
  } catch {
    return undefined
  }
})()

/**
 * The invocation of `ctx` has ended. When its effect went on in a fiber, it ends in that fiber, and the fibers its
 * handler forked there with `Effect.forkChild` are interrupted first, as when a fiber running the handler's
 * effect alone would end: they do not live on while the worker's fiber drains its mailbox or is handed over to
 * another step. `undefined` when there are none (the common case), else the effect that interrupts them.
 */
const handlerEnded = (ctx: Context_): Effect.Effect<void> | undefined => {
  if (!ctx.inFiber) return undefined
  ctx.inFiber = false
  if (CHILDREN === undefined) return undefined
  const children = (Fiber.getCurrent() as unknown as Record<string, Set<Fiber.Fiber<unknown, unknown>> | undefined>)?.[
    CHILDREN
  ]
  return children === undefined || children.size === 0 ? undefined : Fiber.interruptAll(Array.from(children))
}

/** A handler succeeded with `out`: route it, then go on with the worker. */
export const succeeded = (run: Run, ctx: Context_, out: unknown): Effect.Effect<void> => {
  const stop = handlerEnded(ctx)
  if (stop !== undefined)
    return Effect.andThen(
      stop,
      Effect.suspend(() => succeeded(run, ctx, out))
    )
  const step = ctx.sr.step
  const ev = ctx.event!
  if (run.record !== undefined) ended(run, ctx, { _tag: "Returned", event: out ?? undefined })
  run.lastStep = step.name
  run.lastEvent = ev._tag
  if (out === undefined || out === null) return next(run, ctx)
  run.full = undefined
  let routed: Effect.Effect<void> | UnhandledEventError
  if (run.record === undefined) {
    run.handover = mayHandOver(run, ctx, out)
    routed = routeEmitted(run, step, out, ctx)
  } else {
    const refused = outsideEmits(run, step, out)
    routed = refused ?? routeOrError(run, step.name, out, undefined, ctx)
  }
  run.handover = false
  const to = run.handedTo
  if (to !== undefined) {
    run.handedTo = undefined
    return handOver(run, ctx, to)
  }
  if (routed !== Effect.void && routed instanceof UnhandledEventError) {
    failCause(run, Cause.fail(routed))
    return next(run, ctx)
  }
  const full = filled(run, ctx)
  if (full !== undefined) return andThen(routed, Effect.andThen(room(ctx, full), ctx.goOn))
  return routed === Effect.void ? next(run, ctx) : Effect.andThen(routed, ctx.goOn)
}

/** A handler failed: retry, recover or end the run, then go on with the worker. */
export const failedInvocation = (run: Run, ctx: Context_, cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  const stop = handlerEnded(ctx)
  if (stop !== undefined)
    return Effect.andThen(
      stop,
      Effect.suspend(() => failedInvocation(run, ctx, cause))
    )
  if (Cause.hasInterruptsOnly(cause)) {
    // Interrupted by the run's end, the worker just stops. A handler that interrupted itself (`Effect.interrupt`)
    // ends the run with that interruption, as one fiber of an `Effect.all` interrupting itself ends the all:
    // its event would otherwise stay active forever, and the run would hang.
    if (!run.finished && !run.closing) failCause(run, cause)
    return Effect.void
  }
  return Effect.andThen(failed(run, ctx, cause), ctx.goOn)
}
