/**
 * The step's worker pool and mailbox. Each step of a run has a FIFO mailbox (a ring buffer, `Mailbox`) and
 * a count of running invocations (the step's state: `StepRun`, in `stepRun.ts`). Delivering an event to a
 * step either starts a worker fiber at once (fewer than `workers` are running; the fiber runs until it first
 * suspends, before the sender goes on) or queues the event. A worker fiber drains its step's mailbox and,
 * when it is empty, yields once and ends if it is still empty, so an idle step costs no fiber, a busy step
 * never runs more than `workers` invocations, and the per-event path is: push, handler (`invocation.ts`),
 * route (`routing.ts`). Every fiber is listed in the run's live fibers until it ends, and watched (see `fork`
 * in `fibers.ts`).
 */
import { Effect } from "effect"
import { type AnyEvent, isEvent } from "../Event.ts"
import { MAILBOX_HIGH, MAILBOX_LOW, release } from "./backPressure.ts"
import type { Context_ } from "./context.ts"
import { fork, MAX_NESTED_STARTS, WorkerFiber } from "./fibers.ts"
import { invoke } from "./invocation.ts"
import { checkIdle } from "./lifecycle.ts"
import { invocationId } from "./record.ts"
import type { Run } from "./run.ts"
import { type Item, Retry, type StepRun } from "./stepRun.ts"

/**
 * Queue `item` for `sr`, or start a worker for it when a slot is free. Counts it as active work. `by` is
 * the invocation that emitted it, if a step's.
 */
export const deliver = (
  run: Run,
  sr: StepRun,
  item: AnyEvent,
  from: string,
  by: Context_ | undefined
): Effect.Effect<void> => {
  run.active++
  const n = ++sr.delivered
  const effect = enqueue(run, sr, item)
  if (run.record !== undefined) {
    run.record({
      _tag: "Routed",
      from,
      by: by?.invocationId,
      to: sr.step.name,
      event: item,
      invocationId: invocationId(run.id, sr.step.name, n),
      worker: sr.placed === -1 ? undefined : sr.placed,
      queued: sr.queued
    })
  }
  return effect
}

/** A backed-off event comes back to its step for another attempt. */
export const requeue = (run: Run, sr: StepRun, retry: Retry): Effect.Effect<void> => {
  const effect = enqueueRetry(run, sr, retry)
  if (run.record !== undefined) {
    run.record({
      _tag: "RetryDue",
      invocationId: invocationId(run.id, sr.step.name, retry.n),
      step: sr.step.name,
      event: retry.event,
      attempt: retry.attempt,
      worker: sr.placed === -1 ? undefined : sr.placed,
      queued: sr.queued
    })
  }
  return effect
}

/**
 * Give worker slot `ctx` the item `item`: its invocation number is fixed now, in routing order, and whether it
 * is a retry (`ctx.retry`, which `invoke` reads).
 */
const assign = (sr: StepRun, ctx: Context_, item: Item): void => {
  ctx.item = item
  // No class test per event while the step has no retry queued (an event class's prototype chain is long).
  if (sr.retries > 0 && item instanceof Retry) {
    sr.retries--
    ctx.retry = item
    ctx.n = item.n
  } else {
    ctx.retry = undefined
    ctx.n = ++sr.taken
  }
}

/** {@link enqueue} for an event coming back for another attempt (or re-run from a journal). */
export const enqueueRetry = (run: Run, sr: StepRun, retry: Retry): Effect.Effect<void> => {
  sr.retries++
  return enqueue(run, sr, retry)
}

/**
 * Start a worker for `item` when a slot is free, or queue it. Not exported: a `Retry` must come through
 * `enqueueRetry`, which counts it in `sr.retries` (`assign` looks for retries only while that count is above 0).
 */
const enqueue = (run: Run, sr: StepRun, item: Item): Effect.Effect<void> => {
  if (sr.running < sr.step.workers) {
    sr.running++
    const ctx = sr.takeSlot(run)
    assign(sr, ctx, item)
    sr.placed = ctx.worker
    if (run.handover) {
      // The invocation that returned this event hands its fiber over (see `handOver`): no fiber is forked.
      run.handover = false
      run.handedTo = ctx
      return Effect.void
    }
    if (run.plain && run.nestedStarts < MAX_NESTED_STARTS) {
      // Nobody watches the run's fibers: the worker starts in this fiber, and gets one only if it must wait.
      run.nestedStarts++
      try {
        return startHere(run, ctx)
      } finally {
        run.nestedStarts--
      }
    }
    const fiber = new WorkerFiber(run, ctx, true)
    ctx.fiber = fiber
    return fork(run, ctx.start, fiber)
  }
  sr.queue(item)
  sr.placed = -1
  if (sr.queued >= MAILBOX_HIGH) run.full = sr
  return Effect.void
}

/** After an invocation: the next queued item in the same worker, or the end of the worker. */
export const next = (run: Run, ctx: Context_): Effect.Effect<void> => {
  if (!ctx.retrying) run.active--
  return pull(run, ctx, false)
}

/**
 * The next queued item for the worker of `ctx`. With none, the worker yields once before it ends
 * (`lingered`), so events that other fibers route in the meantime are drained by this fiber: a step that
 * keeps up with its senders runs one fiber per burst of events, not one per event, though its workers start
 * at once (see `fork` in `fibers.ts`).
 */
export const pull = (run: Run, ctx: Context_, lingered: boolean): Effect.Effect<void> => {
  const sr = ctx.sr
  if (run.finished) return Effect.void
  const item = sr.mailbox.shift()
  if (sr.senders.length > 0 && sr.queued <= MAILBOX_LOW) release(sr)
  if (item !== undefined) {
    ctx.lingering = false
    assign(sr, ctx, item)
    return invoke(run, ctx, item)
  }
  if (!lingered && ctx.fiber!.lingers) {
    ctx.item = undefined
    ctx.lingering = true
    // The slot holds nothing from now on (it may still take an event routed while it lingers).
    if (run.record !== undefined) run.record({ _tag: "WorkerIdle", step: sr.step.name, worker: ctx.worker })
    return ctx.linger
  }
  ctx.lingering = false
  sr.running--
  sr.freeUp(ctx)
  checkIdle(run)
  return Effect.void
}

/**
 * Whether the handler of `ctx`, which returned `out`, may hand its fiber over to the step `out` goes to:
 * `out` goes to one step and nothing else (no wait, not the end of the run), and the worker of `ctx` has
 * nothing queued, so it would end anyway. Then, if that step has a free worker slot, `enqueue` takes the
 * slot without forking (`run.handedTo`), and `handOver` goes on with it in this fiber. A chain of steps
 * that each return the next event (start -> step -> stop) runs in one fiber.
 *
 * Only when nobody records the run: the record describes each invocation in a fiber of its own (a worker
 * that goes idle, then the next step's), as the testing kit's traces and durable journals expect.
 */
export const mayHandOver = (run: Run, ctx: Context_, out: unknown): boolean => {
  if (!run.handsOver || ctx.sr.mailbox.size !== 0 || run.waiters.length !== 0 || !isEvent(out)) return false
  return run.compiled.soleTarget.has(out._tag)
}

/**
 * The worker of `from` ends (its mailbox is empty), and its fiber goes on as the worker of `to`, which
 * `enqueue` gave the routed event without forking.
 */
export const handOver = (run: Run, from: Context_, to: Context_): Effect.Effect<void> => {
  const sr = from.sr
  if (!from.retrying) run.active--
  sr.running--
  sr.freeUp(from)
  if (sr.senders.length > 0) release(sr)
  const fiber = from.fiber!
  fiber.ctx = to
  to.fiber = fiber
  return invoke(run, to, to.item!)
}

/**
 * Run the worker of `ctx` (given its item without a fiber, as by a handover) in the calling fiber as far as it
 * goes at once: its handler, and each handler its returned events are handed over to (see `invoke`), as long
 * as each returns an `Exit`. Only what is left then (a handler's effect that must run, forks, the worker's
 * next item or its end) is forked, as the worker's fiber. A chain of steps that each return the next event
 * at once (start -> step -> stop) forks nothing. The caller's fiber never runs a handler's effect, so it
 * never suspends in one, and the run's timeout, its end and its scope govern the worker as if it had been
 * forked from the start.
 */
export const startHere = (run: Run, ctx: Context_): Effect.Effect<void> => {
  // Most workers started here end without a fork: they share the run's spare node, and a worker that forks
  // keeps the node it had (a nested start then makes one of its own).
  const spare = run.spareFiber
  let fiber: WorkerFiber
  if (spare === undefined) fiber = new WorkerFiber(run, ctx, false)
  else {
    run.spareFiber = undefined
    spare.ctx = ctx
    fiber = spare
  }
  ctx.fiber = fiber
  const rest = invoke(run, ctx, ctx.item!)
  if (rest !== Effect.void) return fork(run, rest, fiber)
  run.spareFiber = fiber
  return Effect.void
}
