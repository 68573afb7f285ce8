/**
 * Waits: `ctx.waitFor` (a handler suspends until a matching event is routed) and outside input (a handle's
 * `send`: an answer to an open wait, or an event routed like any other). An event that answers an open wait
 * goes to that wait alone. While a worker waits it drains nothing (see `backPressure.ts`); a run where only
 * waits are left and no outside input can come has stalled (see `lifecycle.ts`).
 */
import { Cause, Duration, Effect, Exit } from "effect"
import type { AnyEvent } from "../Event.ts"
import { isEvent } from "../Event.ts"
import type { WaitForOptions } from "../StepContext.ts"
import { StepTimeoutError, UnhandledEventError } from "../WorkflowError.ts"
import { waitingForEvent } from "./backPressure.ts"
import * as Boundary from "./boundary.ts"
import type { Context_ } from "./context.ts"
import { checkIdle, failCause } from "./lifecycle.ts"
import { SuspendOp, unused } from "./primitive.ts"
import { route } from "./routing.ts"
import { OUTSIDE, type Run } from "./run.ts"

/**
 * An open `ctx.waitFor`. The waiting fiber's resumption is held here, not in a `Deferred` (which would keep
 * an array of resumptions and its closures for the one fiber that ever waits on it), and the wait releases
 * itself (`release`) when it is answered or given up, with no finalizer around it. @internal
 */
export class Waiter {
  /** The `waitFor` operation's key in the record, when the run is recorded. */
  readonly key: { readonly invocationId: string; readonly attempt: number; readonly seq: number } | undefined
  readonly tag: string
  readonly id: string | undefined
  readonly match: ((event: any) => boolean) | undefined
  /** A wait with a timeout ends by itself: while one is open the run is not stalled. */
  readonly timed: boolean
  /** The worker slot that waits. */
  readonly ctx: Context_
  /** The answer, once given. */
  answered: AnyEvent | undefined = undefined
  /** Resumes the waiting fiber, once it has suspended. */
  resume: ((effect: Effect.Effect<AnyEvent>) => void) | undefined = undefined
  /** Whether the wait has let go of its worker (see `release`). */
  released = false
  constructor(
    key: Waiter["key"],
    tag: string,
    ctx: Context_,
    id: string | undefined,
    match: ((event: any) => boolean) | undefined,
    timed: boolean
  ) {
    this.key = key
    this.tag = tag
    this.ctx = ctx
    this.id = id
    this.match = match
    this.timed = timed
  }
  get step(): string {
    return this.ctx.step
  }
  /** Give the wait its answer (`answer` took it out of the run's waiters): the waiting fiber goes on with it. */
  answer(ev: AnyEvent): void {
    this.answered = ev
    this.release()
    const resume = this.resume
    if (resume === undefined) return
    this.resume = undefined
    resume(Exit.succeed(ev))
  }
  /**
   * The wait is over (answered, timed out, interrupted, or its request failed): its worker drains its mailbox
   * again, and a waiter still listed (not answered) is taken out. Once only.
   */
  release(): void {
    if (this.released) return
    this.released = true
    const ctx = this.ctx
    ctx.eventWaits--
    const run = ctx.run
    const i = run.waiters.indexOf(this)
    if (i !== -1) {
      run.waiters.splice(i, 1)
      if (this.key !== undefined) run.record?.({ _tag: "WaitClosed", ...this.key })
    }
  }
}

/**
 * Suspend until `waiter` is answered (a one-argument register: no AbortSignal is made for it). Given up
 * (a timeout, an interruption), it releases the waiter, as its cancellation.
 */
const answerOf = (waiter: Waiter): Effect.Effect<AnyEvent> =>
  Effect.callback<AnyEvent>((resume) => {
    if (waiter.answered !== undefined) {
      resume(Exit.succeed(waiter.answered))
      return
    }
    waiter.resume = resume
    return Effect.sync(() => waiter.release())
  })

/**
 * `ctx.waitFor`: an operation (see `primitive.ts`), which holds what the wait needs as fields where an
 * `Effect.suspend` would hold a closure and its context, for as long as the handler waits. @internal
 */
export class WaitForOp extends SuspendOp {
  readonly ctx: Context_
  readonly tag: string
  readonly options: WaitForOptions<any> | undefined
  constructor(ctx: Context_, tag: string, options: WaitForOptions<any> | undefined) {
    super()
    this.ctx = ctx
    this.tag = tag
    this.options = options
    unused(this)
  }
  effect(): Effect.Effect<AnyEvent, StepTimeoutError> {
    return waitFor(this.ctx.run, this.ctx, this.tag, this.options)
  }
}

/** Open a wait for an event of `tag` in the worker of `ctx`, send its request, and await the answer. */
const waitFor = (
  run: Run,
  ctx: Context_,
  tag: string,
  options: WaitForOptions<any> | undefined
): Effect.Effect<AnyEvent, StepTimeoutError> => {
  // A durable re-run: a wait the journal holds an answer for returns it; an unanswered one opens again.
  // Its timeout keeps the deadline it had (epoch millis on the run's clock).
  let restored: number | undefined
  if (ctx.journaled !== undefined) {
    const journaled = ctx.replayed()
    if (journaled?.answer !== undefined) return Effect.succeed(journaled.answer)
    if (journaled !== undefined) {
      restored = journaled.deadline
      ctx.seq--
      ctx.journaled = undefined
    }
  }
  const timeout = options?.timeout === undefined ? undefined : Duration.fromInputUnsafe(options.timeout)
  const deadline =
    timeout === undefined ? undefined : restored !== undefined ? restored : run.now() + Duration.toMillis(timeout)
  const seq = run.record === undefined ? 0 : ++ctx.seq
  const waiter = new Waiter(
    run.record === undefined ? undefined : { invocationId: ctx.invocationId, attempt: ctx.attempt, seq },
    tag,
    ctx,
    options?.id,
    options?.match,
    options?.timeout !== undefined
  )
  // The first open wait makes an array of one (`[]` grows by 17 slots on its first push).
  if (run.waiters.length === 0) run.waiters = [waiter]
  else run.waiters.push(waiter)
  if (run.record !== undefined) {
    run.record({
      _tag: "Operation",
      invocationId: ctx.invocationId,
      step: ctx.step,
      attempt: ctx.attempt,
      seq,
      operation: {
        op: "waitFor",
        tag,
        id: options?.id,
        request: options?.request,
        deadline
      }
    })
  }
  // The request goes out once the wait is open, so its answer cannot come too early: published to the
  // caller's stream, and routed to the steps that accept it, if any (they may answer it).
  const request = options?.request
  let sendRequest: Effect.Effect<void> = Effect.void
  if (request !== undefined) {
    run.emit(request)
    if (run.compiled.routes.has(request._tag))
      sendRequest = route(run, ctx.step, request, undefined, ctx).pipe(Effect.orDie)
  }
  // While it waits, this worker does not drain its step's mailbox (see `room`).
  waitingForEvent(ctx)
  let wait: Effect.Effect<AnyEvent, StepTimeoutError> = answerOf(waiter)
  if (timeout !== undefined) {
    wait = Effect.timeoutOrElse(wait, {
      duration: restored === undefined ? timeout : Duration.millis(Math.max(0, restored - run.now())),
      orElse: () =>
        Effect.fail(
          new StepTimeoutError({
            workflow: run.compiled.name,
            step: ctx.step,
            event: `waitFor(${tag})`,
            timeout: Duration.format(timeout)
          })
        )
    })
  }
  checkIdle(run)
  if (sendRequest === Effect.void) return wait
  // The request is routed first (rare: a step accepts it): however that ends, the wait is released.
  return Effect.ensuring(
    Effect.andThen(sendRequest, wait),
    Effect.sync(() => waiter.release())
  )
}

/** Give `ev` to the first open waiter it matches. A `match` that throws ends the run, naming its step. */
export const answer = (run: Run, from: string, ev: AnyEvent): boolean => {
  const i = run.waiters.findIndex(
    (w) => w.tag === ev._tag && (w.id === undefined || (ev as { id?: unknown }).id === w.id) && matches(run, w, ev)
  )
  if (i === -1) return false
  const [waiter] = run.waiters.splice(i, 1)
  // Recorded before the waiter resumes (which may happen at once): a journal holds the answer before anything
  // the answered invocation does next.
  if (waiter!.key !== undefined) run.record?.({ _tag: "Answered", from, event: ev, ...waiter!.key })
  waiter!.answer(ev)
  return true
}

const matches = (run: Run, w: Waiter, ev: AnyEvent): boolean => {
  if (w.match === undefined) return true
  try {
    return w.match(ev) === true
  } catch (error) {
    failCause(
      run,
      Cause.die(Boundary.matchThrew({ workflow: run.compiled.name, step: w.step, event: `waitFor(${w.tag})` }, error))
    )
    return false
  }
}

/**
 * Whether an open waiter would take `ev`: `answer`'s test, without acting. A `match` that throws counts (routing
 * then ends the run naming the step). @internal
 */
export const awaited = (run: Run, ev: AnyEvent): boolean =>
  run.waiters.some((w) => {
    if (w.tag !== ev._tag || (w.id !== undefined && (ev as { id?: unknown }).id !== w.id)) return false
    try {
      return w.match === undefined || w.match(ev) === true
    } catch {
      return true
    }
  })

/** An event sent in from outside the run (a handle's `send`): answers a waiter, or is routed. */
export const sendFromOutside = (run: Run, ev: AnyEvent): Effect.Effect<void, UnhandledEventError> => {
  if (run.finished) {
    return Effect.fail(
      new UnhandledEventError({
        workflow: run.compiled.name,
        step: OUTSIDE,
        event: isEvent(ev) ? ev._tag : Boundary.describeValue(ev),
        reason: "but the run has already ended."
      })
    )
  }
  // An answer to an open `waitFor` is that wait's; any other input answers an InputRequiredEvent still open.
  const answersRequest = run.awaitingInput > 0 && !(run.waiters.length > 0 && awaited(run, ev))
  if (answersRequest) run.awaitingInput--
  if (run.record !== undefined) run.record({ _tag: "OutsideInput", event: ev, answersRequest })
  const effect = route(run, OUTSIDE, ev, undefined, undefined)
  // An answer that nothing takes leaves the run idle.
  return Effect.andThen(
    effect,
    Effect.sync(() => checkIdle(run))
  )
}
