/**
 * The step's worker pool and mailbox. Each step of a run has a FIFO mailbox (a ring buffer, `Mailbox`) and
 * a count of running invocations. Delivering an event to a step either starts a worker fiber at once
 * (fewer than `workers` are running; the fiber runs until it first suspends, before the sender goes on)
 * or queues the event. A worker fiber drains its step's mailbox and, when it is empty, yields once and ends
 * if it is still empty, so an idle step costs no fiber, a busy step never runs more than `workers`
 * invocations, and the per-event path is: push, handler (`invocation.ts`), route (`routing.ts`). Every
 * fiber is listed in the run's live fibers until it ends, and watched (see `fork` in `fibers.ts`).
 */
import { type Duration, Effect, type Pull } from "effect"
import { type AnyEvent, isEvent } from "../Event.ts"
import { MAILBOX_HIGH, MAILBOX_LOW, release } from "./backPressure.ts"
import { CollectBuffer } from "./collectBuffer.ts"
import { type Context_, makeContext } from "./context.ts"
import { fork, MAX_NESTED_STARTS, WorkerFiber } from "./fibers.ts"
import { invoke } from "./invocation.ts"
import { checkIdle } from "./lifecycle.ts"
import { Mailbox } from "./mailbox.ts"
import { invocationId, type Journaled } from "./record.ts"
import type { CompiledStep } from "./routing.ts"
import type { Run } from "./run.ts"

/** An event on its way back to its step after a failed attempt. @internal */
export class Retry {
  readonly event: AnyEvent
  readonly attempt: number
  /** The step's retry schedule, as far as it got; `undefined`: from its start (a run resumed from a journal). */
  readonly next:
    | ((now: number, input: unknown) => Pull.Pull<[unknown, Duration.Duration], unknown, unknown>)
    | undefined
  /** The invocation's number in its step (see `invocationId`). */
  readonly n: number
  /** A durable run re-running an invocation after a crash: its journaled operations, by `seq`. */
  readonly journaled: Journaled | undefined
  /**
   * A durable run re-running an invocation after a crash: the attempt it re-runs began as (the attempt of its
   * first start, or of its last retry after a failure). `undefined`: `attempt` began afresh.
   */
  readonly since: number | undefined
  constructor(
    event: AnyEvent,
    attempt: number,
    next: Retry["next"],
    n: number,
    journaled?: Journaled,
    since?: number | undefined
  ) {
    this.event = event
    this.attempt = attempt
    this.next = next
    this.n = n
    this.journaled = journaled
    this.since = since
  }
}

/** What a mailbox holds: a fresh event, or one coming back for another attempt. @internal */
export type Item = AnyEvent | Retry

/** @internal */
export const eventOf = (item: Item): AnyEvent => (item instanceof Retry ? item.event : item)

/**
 * What a step's `senders` and `contexts` hold before their first (and `contexts` again once a waiting run lets
 * go of its slots): shared, never written; the first slot or sender makes an array of its own. @internal
 */
export const NO_SENDERS: Array<() => void> = Object.freeze([]) as unknown as Array<() => void>
const NO_CONTEXTS: Array<Context_> = Object.freeze([]) as unknown as Array<Context_>

/** One step of one run: its mailbox, its worker slots and its collect buffer. @internal */
export class StepRun {
  readonly mailbox = new Mailbox<Item>(0)
  running = 0
  /** Senders waiting for this step's mailbox to drain: each call resumes one (`NO_SENDERS` while none waits). */
  senders: Array<() => void> = NO_SENDERS
  /** Events waiting out a retry backoff. */
  backingOff = 0
  /**
   * One context per worker slot, made on first use, so a step costs what its busiest moment needed, whatever
   * its `workers`. What a slot is handling is its context's `item`.
   */
  contexts: Array<Context_> = NO_CONTEXTS
  /** Slots made and free again, linked through their contexts' `nextFree`; a new slot is made only when none is. */
  freeSlot: Context_ | undefined = undefined
  /** The step's collect buffer, made by its first `ctx.collect`. */
  collected: CollectBuffer | undefined = undefined
  get buffer(): CollectBuffer {
    return (this.collected ??= new CollectBuffer())
  }
  /**
   * Events routed to this step, and fresh events taken by its workers: the `n`th taken is the `n`th
   * routed (the mailbox is FIFO and a worker starts at once only when it is empty), which numbers each
   * invocation without carrying a number with each event.
   */
  delivered = 0
  taken = 0
  /** Retries queued and not yet taken by a slot: while none is, every queued item is a fresh event. */
  retries = 0
  /** The slot the last enqueued item went to at once, or -1 when it was queued (for the record). */
  placed = -1
  readonly step: CompiledStep
  constructor(step: CompiledStep) {
    this.step = step
  }
  /** A free worker slot's context, made when none is. */
  takeSlot(run: Run): Context_ {
    const free = this.freeSlot
    if (free === undefined) {
      const ctx = makeContext(run, this, this.contexts.length)
      // The first slot in an array of one: most steps never use a second.
      if (ctx.worker === 0) this.contexts = [ctx]
      else this.contexts.push(ctx)
      return ctx
    }
    this.freeSlot = free.nextFree
    free.nextFree = undefined
    return free
  }
  /** The worker slot of `ctx` is free again. */
  freeUp(ctx: Context_): void {
    ctx.item = undefined
    ctx.nextFree = this.freeSlot
    this.freeSlot = ctx
  }
  get queued(): number {
    return this.mailbox.size
  }
  /**
   * Let go of the worker slots when none is taken: they are made again (from slot 0) when the step next gets
   * an event. What numbers invocations (`delivered`, `taken`) stays.
   */
  dropSlots(): void {
    if (this.running !== 0) return
    this.contexts = NO_CONTEXTS
    this.freeSlot = undefined
  }
}

/**
 * The run waits for outside input, which may take days: let go of the worker slots of its idle steps (each
 * holds its step context and the effects it made), and of the store's lock when no step runs, so a waiting
 * run keeps only what is waiting. Not in a
 * recorded run, whose record numbers the slots.
 */
export const dropIdleSlots = (run: Run): void => {
  if (run.record !== undefined) return
  let idle = true
  for (const sr of run.steps) {
    if (sr === undefined) continue
    if (sr.running !== 0) idle = false
    else sr.dropSlots()
  }
  // No invocation runs, so none holds or waits for the store's lock: it is made again when next needed.
  if (idle) run.dropLock()
}

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
  sr.mailbox.push(item)
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
