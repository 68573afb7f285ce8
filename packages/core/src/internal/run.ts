/**
 * What one run holds, as plain data: its steps (see `stepRun.ts`), how much work is left (`active`), its
 * open waits, its state and the hooks that watch it. The rooms around it (`routing.ts`, `workers.ts`,
 * `fibers.ts`, `invocation.ts`, `retry.ts`, `backPressure.ts`, `waits.ts`, `lifecycle.ts`) read and change it;
 * `snapshot` reads it.
 */
import { Clock, Context, Deferred, Effect, type Exit, Fiber, Semaphore } from "effect"
import type { AnyEvent } from "../Event.ts"
import type { Need } from "./collectBuffer.ts"
import type { Context_ } from "./context.ts"
import type { RunFiber, WorkerFiber } from "./fibers.ts"
import { lifecycleEvents } from "./lifecycleEvents.ts"
import { clonePlain } from "./plain.ts"
import { both, type Listener } from "./record.ts"
import type { Compiled } from "./routing.ts"
import { eventOf, StepRun } from "./stepRun.ts"
import { EditingRun } from "./store.ts"
import type { Waiter } from "./waits.ts"

/** How a run is watched and fed. @internal */
export interface Hooks {
  /** Receives what the caller's stream shows: writes, input requests, lifecycle events, the StopEvent. */
  readonly publish?: ((event: AnyEvent) => void) | undefined
  /** Also publish lifecycle events. */
  readonly lifecycle?: boolean | undefined
  /** The caller can send events in (a handle): waiting for outside input is not a stall. */
  readonly outsideInput?: boolean | undefined
  /** Called with the run as soon as it exists, before its first event. */
  readonly onRun?: ((run: Run) => void) | undefined
  /** Receives the run's record: every transition, as it happens (see `record.ts`). */
  readonly record?: Listener | undefined
  /**
   * Asked at every step-context operation whether to yield there first, so a controlled scheduler can
   * interleave other fibers at that point.
   */
  readonly yieldPoints?: (() => boolean) | undefined
  /**
   * Asked before every step-context operation and every invocation: an effect to wait on first, or `undefined`
   * to go on at once. A durable run waits here while its journal writer is behind its store.
   */
  readonly pause?: (() => Effect.Effect<void> | undefined) | undefined
  /** The run's id, instead of a fresh one (a durable run's `runId`). */
  readonly runId?: string | undefined
  /**
   * Epoch millis when the run first started, when that was before this start (a durable run's resume): the
   * run's `timeout` counts from it, so its deadline is where it was.
   */
  readonly startedAt?: number | undefined
  /** Start from a journal (see `durable.ts`) instead of routing the StartEvent. */
  readonly resume?: ((run: Run) => Effect.Effect<void>) | undefined
}

/** The state of one run, as plain data. @internal */
export interface Snapshot {
  readonly runId: string
  readonly steps: ReadonlyArray<{
    readonly step: string
    readonly queued: ReadonlyArray<AnyEvent>
    readonly inFlight: ReadonlyArray<AnyEvent>
    readonly collecting: ReadonlyArray<AnyEvent>
    readonly need: Need | undefined
  }>
  readonly waiting: ReadonlyArray<{ readonly step: string; readonly event: string }>
  readonly state: unknown
}

/** Where events that no step emitted come from, in traces and errors. */
export const START = "(start)"
export const OUTSIDE = "(outside)"

/** `first`, then `second`, without building anything when `first` is `Effect.void` (the per-event path). */
export const andThen = <E>(first: Effect.Effect<void, E>, second: Effect.Effect<void, E>): Effect.Effect<void, E> =>
  first === Effect.void ? second : second === Effect.void ? first : Effect.andThen(first, second)

let runCounter = 0

/** The state of a run that has not read it yet (see `Run.state`). */
const UNSET: unique symbol = Symbol("unset")

/** The open waits of a run that has none: never pushed to (see `waitFor`). */
const NO_WAITERS: Array<Waiter> = []

/** @internal */
export class Run {
  private id_: string | undefined
  /** The run's id: the durable run's `runId`, or a fresh one made when first asked for (a run nobody asks costs none). */
  get id(): string {
    return (this.id_ ??= `${this.compiled.name}-${(++runCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`)
  }
  /** Each step's part of the run, made when the step first gets an event: a step that gets none costs nothing. */
  readonly steps: Array<StepRun | undefined>
  /** How the run ended, once it has (see `end` in lifecycle.ts). */
  exit: Exit.Exit<unknown, unknown> | undefined = undefined
  private done_: Deferred.Deferred<unknown, unknown> | undefined = undefined
  /**
   * Completed with the run's end, for a caller that has to wait for it: made only then, so a run that ends
   * before its caller waits (a chain of steps that never suspends) makes none.
   */
  get done(): Deferred.Deferred<unknown, unknown> {
    if (this.done_ === undefined) {
      this.done_ = Deferred.makeUnsafe()
      if (this.exit !== undefined) Deferred.doneUnsafe(this.done_, this.exit)
    }
    return this.done_
  }
  /** Told the run's end, when set (`launch` closes the run from it). */
  onEnd: { readonly runEnded: (exit: Exit.Exit<unknown, unknown>) => void } | undefined = undefined
  /** End the run with `exit` (the caller checks that it has not ended yet). */
  end(exit: Exit.Exit<unknown, unknown>): void {
    this.finished = true
    this.exit = exit
    if (this.done_ !== undefined) Deferred.doneUnsafe(this.done_, exit)
    this.onEnd?.runEnded(exit)
  }
  /** The run's live fibers, linked through their `next` (see `fork` in fibers.ts): none until it forks one. */
  fibers: RunFiber | undefined = undefined
  /** The run's fibers are being stopped (see `close`): nothing more is forked. */
  closing = false
  /** List `node`'s fiber in the run's live fibers. */
  list(node: RunFiber): void {
    const first = this.fibers
    node.next = first
    if (first !== undefined) first.prev = node
    this.fibers = node
  }
  /** `node`'s fiber has ended: it leaves the list (if it was never listed, nothing changes). */
  unlist(node: RunFiber): void {
    const { next, prev } = node
    if (prev !== undefined) prev.next = next
    else if (this.fibers === node) this.fibers = next
    if (next !== undefined) next.prev = prev
    node.prev = undefined
    node.next = undefined
  }
  /**
   * Close the run: interrupt every fiber still running and wait until they have ended (their finalizers have
   * run), as closing a scope they were forked into would. A fiber forked from then on is never started.
   */
  close(_exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    this.closing = true
    if (this.fibers === undefined) return Effect.void
    return Effect.withFiber((current) => {
      const fibers: Array<Fiber.Fiber<void>> = []
      for (let node = this.fibers; node !== undefined; node = node.next) {
        // The fiber closing the run (one of its own) is not interrupted by itself, as a scope's finalizer skips it.
        if (node.fiber !== undefined && node.fiber !== current) fibers.push(node.fiber)
      }
      return fibers.length === 0 ? Effect.void : Fiber.interruptAll(fibers)
    })
  }
  finished = false
  /** Events queued, being handled, or backing off before a retry. */
  active = 0
  /** InputRequiredEvents published and not yet answered. */
  awaitingInput = 0
  /**
   * The last invocation that completed, for the stall error. When a run stalls it returned nothing: an
   * event it returned would have been handled after it, or answered a wait that then went on.
   */
  lastStep: string | undefined = undefined
  lastEvent: string | undefined = undefined
  /** Open waits: the first makes an array of its own (see `waitFor`); none shares one empty array. */
  waiters: Array<Waiter> = NO_WAITERS
  /** Set by `enqueue` when a mailbox reaches MAILBOX_HIGH; the sending worker then waits for room. */
  full: StepRun | undefined = undefined
  /** Set while a returned event is routed by a worker that may hand its fiber over (see `mayHandOver`). */
  handover = false
  /** The worker slot that took that event without a fiber of its own, to go on in the returning worker's. */
  handedTo: Context_ | undefined = undefined
  /** A worker node no fiber holds, for the next worker started in place (see `startHere` in workers.ts). */
  spareFiber: WorkerFiber | undefined = undefined
  /** Handler outcomes being handled one inside another on the JS stack (see `invoke`). */
  syncDepth = 0
  /** Worker fibers being started at once, one inside another (see `fork` in fibers.ts). */
  nestedStarts = 0
  private state_: unknown = UNSET
  /** The run's state: a copy of the initial state, made when first read (a run that never reads it makes none). */
  get state(): unknown {
    return this.state_ === UNSET ? (this.state_ = clonePlain(this.compiled.initialState)) : this.state_
  }
  set state(state: unknown) {
    this.state_ = state
  }
  private lock_: Semaphore.Semaphore | undefined = undefined
  readonly compiled: Compiled
  readonly context: Context.Context<never>
  readonly publish: ((event: AnyEvent) => void) | undefined
  readonly outsideInput: boolean
  /**
   * Whoever listens to the run's record (the caller's hook, the lifecycle events): `undefined` when nobody
   * does, and then no transition is made (see `record.ts`).
   */
  readonly record: Listener | undefined
  /** A span per invocation, only when a tracing backend is installed (Effect's advice: skip what nothing observes). */
  readonly spans: boolean
  readonly yieldPoints: (() => boolean) | undefined
  readonly pause: (() => Effect.Effect<void> | undefined) | undefined
  /** Set when a step accepts StepFailedEvent. */
  readonly recovers: boolean

  constructor(compiled: Compiled, context: Context.Context<never>, hooks: Hooks, spans: boolean) {
    this.compiled = compiled
    this.context = context
    this.publish = hooks.publish
    this.outsideInput = hooks.outsideInput === true
    this.spans = spans
    this.yieldPoints = hooks.yieldPoints
    this.pause = hooks.pause
    this.recovers = compiled.routes.has("StepFailedEvent")
    this.id_ = hooks.runId
    this.steps = new Array(compiled.steps.length)
    this.record = both(
      hooks.record,
      hooks.lifecycle === true && hooks.publish !== undefined ? lifecycleEvents(this) : undefined
    )
    this.handsOver = this.record === undefined && this.yieldPoints === undefined
    this.plain = this.record === undefined && !spans && this.yieldPoints === undefined && this.pause === undefined
  }

  /**
   * Nobody records, traces, explores or pauses the run: a plain step's generator handler may then be stepped
   * by the engine (`generator.ts`), and its effect run as far as it goes without a fiber (`inPlace.ts`).
   */
  readonly plain: boolean
  /**
   * Nobody records or explores the run: a worker may hand its fiber over to the step its returned event goes to
   * (`mayHandOver` in workers.ts), and the start step's worker may begin in the caller's fiber.
   */
  readonly handsOver: boolean

  /** The store's lock: edits, sets and updates of one run never interleave (made on first use). */
  get lock(): Semaphore.Semaphore {
    return (this.lock_ ??= Semaphore.makeUnsafe(1))
  }
  /** Let go of the store's lock, which nobody holds or waits for (see `dropIdleSlots` in stepRun.ts). */
  dropLock(): void {
    this.lock_ = undefined
  }

  /** The part of the run of step `index`, made on first use. */
  stepRun(index: number): StepRun {
    return this.steps[index] ?? (this.steps[index] = new StepRun(this.compiled.steps[index]!))
  }

  private forkContext_: Context.Context<never> | undefined = undefined
  /**
   * What a fiber forked from outside the run's own context (a store edit, a handler's local services or log
   * annotations) gets instead of its forker's: the run's context, with no store edit in progress (made on
   * first use).
   */
  get forkContext(): Context.Context<never> {
    return (this.forkContext_ ??= Context.add(this.context, EditingRun, undefined))
  }

  /** The time on the run's clock, in epoch millis (for the record's deadlines). */
  now(): number {
    return Context.get(this.context, Clock.Clock).currentTimeMillisUnsafe()
  }

  snapshot(): Snapshot {
    return {
      runId: this.id,
      steps: this.compiled.steps.map((step, i) => {
        const sr = this.steps[i]
        return {
          step: step.name,
          queued: sr === undefined ? [] : sr.mailbox.toArray().map(eventOf),
          inFlight:
            sr === undefined ? [] : sr.contexts.filter((c) => c.item !== undefined).map((c) => eventOf(c.item!)),
          collecting: sr?.collected === undefined ? [] : [...sr.collected.items],
          need: sr?.collected?.lastNeed
        }
      }),
      waiting: this.waiters.map((w) => ({ step: w.step, event: w.tag })),
      state: this.state
    }
  }

  /** Publish to the caller's stream, unless the run has ended. */
  emit(event: AnyEvent): void {
    if (this.publish !== undefined && !this.finished) this.publish(event)
  }
}
