/**
 * One step of one run, as plain data: its mailbox (a FIFO ring, `mailbox.ts`) of events and retries, its
 * worker slots (one step context each, made on first use, free ones linked for reuse), the counts that number
 * its invocations, and its collect buffer. Holds no fibers: `workers.ts` starts and ends the workers.
 */
import type { Duration, Pull } from "effect"
import type { AnyEvent } from "../Event.ts"
import { CollectBuffer } from "./collectBuffer.ts"
import { type Context_, makeContext } from "./context.ts"
import { Mailbox } from "./mailbox.ts"
import type { Journaled } from "./record.ts"
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
 * What a step's `senders` hold before their first, and its `contexts` read before its first slot (and again once
 * a waiting run lets go of its slots): shared, never written; the first sender makes an array of its own. @internal
 */
export const NO_SENDERS: Array<() => void> = Object.freeze([]) as unknown as Array<() => void>
const NO_CONTEXTS: ReadonlyArray<Context_> = Object.freeze([])

/**
 * The mailbox of every step that has queued nothing yet: always empty, shared, never pushed to (`StepRun.queue`
 * gives a step a mailbox of its own first), so a step whose events all find a free worker makes none.
 */
const NO_MAILBOX = new Mailbox<never>(0)

/** One step of one run: its mailbox, its worker slots and its collect buffer. @internal */
export class StepRun {
  /** Read it freely; queue only through `queue`. */
  mailbox: Mailbox<Item> = NO_MAILBOX
  /** Queue `item` at the end of the mailbox (made on first use). */
  queue(item: Item): void {
    if (this.mailbox === NO_MAILBOX) this.mailbox = new Mailbox<Item>(0)
    this.mailbox.push(item)
  }
  running = 0
  /** Senders waiting for this step's mailbox to drain: each call resumes one (`NO_SENDERS` while none waits). */
  senders: Array<() => void> = NO_SENDERS
  /** Events waiting out a retry backoff. */
  backingOff = 0
  /**
   * One context per worker slot, made on first use, so a step costs what its busiest moment needed, whatever
   * its `workers`: the first alone (most steps never use a second), then an array of them all.
   */
  private slots: Context_ | Array<Context_> | undefined = undefined
  /** The worker slots' contexts, in slot order. What a slot is handling is its context's `item`. */
  get contexts(): ReadonlyArray<Context_> {
    const slots = this.slots
    return slots === undefined ? NO_CONTEXTS : Array.isArray(slots) ? slots : [slots]
  }
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
      const slots = this.slots
      if (slots === undefined) return (this.slots = makeContext(run, this, 0))
      if (!Array.isArray(slots)) {
        const ctx = makeContext(run, this, 1)
        this.slots = [slots, ctx]
        return ctx
      }
      const ctx = makeContext(run, this, slots.length)
      slots.push(ctx)
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
    this.slots = undefined
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
