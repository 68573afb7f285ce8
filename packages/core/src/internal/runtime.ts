/**
 * The interpreter: one run of a compiled workflow.
 *
 * Each step of a run has a FIFO mailbox (a ring buffer, `Mailbox`) and a count of running invocations.
 * Delivering an event to a step either starts a worker fiber at once (fewer than `workers` are running)
 * or queues the event. A worker fiber drains its step's mailbox and ends when it is empty, so an idle
 * step costs no fiber, a busy step never runs more than `workers` invocations, and the per-event path
 * is: push, handler, route. A worker that fills a mailbox waits for it to drain (back-pressure, see
 * MAILBOX_HIGH). Every fiber is forked into the run's scope.
 *
 * `active` counts events queued, being handled or waiting to be retried; `waiters` the invocations
 * suspended in `ctx.waitFor` and not yet answered. When nothing is active but waiters, and no outside input can come, nothing
 * can ever happen again: the run fails at once with `WorkflowStalledError`.
 *
 * All run state (mailboxes, in-flight events, collect buffers, store) is plain data, read by `snapshot`.
 */
import {
  Cause,
  Clock,
  Context,
  Deferred,
  Duration,
  Effect,
  Exit,
  Option,
  Pull,
  References,
  Result,
  Schedule,
  Schema,
  Scope,
  Semaphore,
  Tracer
} from "effect"
import type { AnyEvent } from "../Event.ts"
import { isEvent, StartEvent, tagOf } from "../Event.ts"
import { EventQueued, StepCompleted, StepFailed, StepFailedEvent, StepRetrying, StepStarted } from "../RunEvent.ts"
import type * as Step from "../Step.ts"
import type { StepContext, Store, WaitForOptions } from "../StepContext.ts"
import {
  NestedStoreEditError,
  PartialCollect,
  StepTimeoutError,
  UnhandledEventError,
  WaitingStep,
  WorkflowStalledError,
  WorkflowTimeoutError
} from "../WorkflowError.ts"
import * as Boundary from "./boundary.ts"
import { CollectBuffer, describeNeed, type Need } from "./collectBuffer.ts"
import { Mailbox } from "./mailbox.ts"
import { clonePlain } from "./plain.ts"

/** A workflow, checked and turned into routing tables. Shared by all its runs. @internal */
export interface Compiled {
  readonly name: string
  readonly steps: ReadonlyArray<CompiledStep>
  /** Event tag to the indices of the steps that accept it. */
  readonly routes: ReadonlyMap<string, ReadonlyArray<number>>
  readonly byName: ReadonlyMap<string, CompiledStep>
  readonly timeout: Duration.Duration | undefined
  readonly initialState: unknown
  /** Why a result does not fit the workflow's `output` schema, or `undefined` when it does (or there is none). */
  readonly checkOutput: ((result: unknown) => string | undefined) | undefined
}

/** @internal */
export interface CompiledStep {
  readonly index: number
  readonly name: string
  readonly workers: number
  readonly acceptsTags: ReadonlySet<string>
  readonly timeout: Duration.Duration | undefined
  /** The tags of the declared `emits`, or `undefined` when the step declared none (it may emit anything). */
  readonly emitsTags: ReadonlySet<string> | undefined
  /** The handler, a generator function wrapped once (as `Effect.fnUntraced` does) so it returns an Effect. */
  readonly handler: (event: AnyEvent, ctx: StepContext<any, AnyEvent>) => unknown
  readonly def: Step.Any
}

/** @internal */
export const compile = (
  name: string,
  steps: ReadonlyArray<Step.Any>,
  timeout: Duration.Input | undefined,
  initialState: unknown,
  output?: Schema.Codec<unknown, unknown> | undefined
): Compiled => {
  const compiledSteps: Array<CompiledStep> = []
  const routes = new Map<string, Array<number>>()
  const byName = new Map<string, CompiledStep>()
  steps.forEach((def, index) => {
    const acceptsTags = new Set(def.accepts.map((c) => tagOf(c as any)!))
    const step: CompiledStep = {
      index,
      name: def.name,
      workers: def.workers,
      acceptsTags,
      timeout: def.timeout === undefined ? undefined : Duration.fromInputUnsafe(def.timeout),
      emitsTags: def.emits === undefined ? undefined : new Set(def.emits.map((c) => tagOf(c)!)),
      handler: Boundary.isGeneratorFunction(def.handler)
        ? Effect.fnUntraced(def.handler)
        : (def.handler as CompiledStep["handler"]),
      def
    }
    compiledSteps.push(step)
    byName.set(def.name, step)
    for (const tag of acceptsTags) {
      const list = routes.get(tag)
      if (list) list.push(index)
      else routes.set(tag, [index])
    }
  })
  return {
    name,
    steps: compiledSteps,
    routes,
    byName,
    timeout: timeout === undefined ? undefined : Duration.fromInputUnsafe(timeout),
    initialState,
    checkOutput: output === undefined ? undefined : outputChecker(output)
  }
}

const outputChecker = (output: Schema.Codec<unknown, unknown>) => {
  const decode = Schema.decodeUnknownResult(Schema.toType(output))
  return (result: unknown): string | undefined => {
    const checked = decode(result)
    return checked._tag === "Failure" ? checked.failure.message : undefined
  }
}

/** A fiber that failed (not by interruption alone): what the run's fiber watcher looks for. */
const diedOf = (exit: Exit.Exit<unknown, unknown>): Cause.Cause<unknown> | undefined =>
  exit._tag === "Failure" && !Cause.hasInterruptsOnly(exit.cause) ? exit.cause : undefined

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
  /** Receives a record of everything the run does, for the testing kit's traces. */
  readonly trace?: ((entry: TraceEntry) => void) | undefined
  /**
   * Asked at every step-context operation whether to yield there first, so a controlled scheduler can
   * interleave other fibers at that point.
   */
  readonly yieldPoints?: (() => boolean) | undefined
}

/** One thing a run did, in order. @internal */
export type TraceEntry =
  | { readonly _tag: "Routed"; readonly from: string; readonly to: string; readonly event: AnyEvent }
  | {
      readonly _tag: "Started"
      readonly step: string
      readonly event: AnyEvent
      readonly attempt: number
      readonly worker: number
    }
  | {
      readonly _tag: "Ended"
      readonly step: string
      readonly event: AnyEvent
      readonly attempt: number
      readonly worker: number
      readonly outcome: "returned" | "failed" | "interrupted" | "retrying"
    }
  | { readonly _tag: "Written"; readonly step: string; readonly event: AnyEvent }

/** The current store edit, per fiber, to tell a nested edit from a waiting one. @internal */
const EditingRun = Context.Reference<Run | undefined>("@effect-flow/core/internal/EditingRun", {
  defaultValue: () => undefined
})

/** An event on its way back to its step after a failed attempt. @internal */
class Retry {
  readonly event: AnyEvent
  readonly attempt: number
  readonly next: (now: number, input: unknown) => Pull.Pull<[unknown, Duration.Duration], unknown, unknown>
  constructor(event: AnyEvent, attempt: number, next: Retry["next"]) {
    this.event = event
    this.attempt = attempt
    this.next = next
  }
}

type Item = AnyEvent | Retry

const eventOf = (item: Item): AnyEvent => (item instanceof Retry ? item.event : item)

/** `first`, then `second`, without building anything when `first` is `Effect.void` (the per-event path). */
const andThen = <E>(first: Effect.Effect<void, E>, second: Effect.Effect<void, E>): Effect.Effect<void, E> =>
  first === Effect.void ? second : second === Effect.void ? first : Effect.andThen(first, second)

/**
 * Back-pressure: a step worker that routes an event into a mailbox holding {@link MAILBOX_HIGH} or more
 * events waits until the mailbox has drained to {@link MAILBOX_LOW}, as long as something will drain it
 * (see `Run.drains`: a worker of the target that is not waiting, or one waiting on a mailbox that will
 * drain). The event is queued before the sender waits, so nothing is lost and order is kept. Where senders
 * wait, a mailbox holds at most MAILBOX_HIGH events plus one per waiting sender. Where they may not (a wait
 * that would close a cycle, a target whose workers are all in `waitFor`, a send inside `store.edit`, events
 * from outside the run, retries), the mailbox grows as it must: that is what keeps cycles from deadlocking.
 */
export const MAILBOX_HIGH = 256
/** See {@link MAILBOX_HIGH}. */
export const MAILBOX_LOW = 128

class StepRun {
  readonly mailbox = new Mailbox<Item>()
  running = 0
  /** Senders waiting for this step's mailbox to drain: each call resumes one. */
  senders: Array<() => void> = []
  /** Events waiting out a retry backoff. */
  backingOff = 0
  /**
   * What each worker slot is handling, for snapshots and timeouts. Slots are made on first use, so a step
   * costs what its busiest moment needed, whatever its `workers`.
   */
  readonly current: Array<Item | undefined> = []
  /** One context per worker slot, made on first use. */
  readonly contexts: Array<Context_ | undefined> = []
  /** Slots made and free again; a new slot is made only when none is free. */
  readonly freeSlots: Array<number> = []
  readonly buffer = new CollectBuffer()
  readonly step: CompiledStep
  constructor(step: CompiledStep) {
    this.step = step
  }
  /** A free worker slot, made when none is. */
  takeSlot(): number {
    const free = this.freeSlots.pop()
    return free === undefined ? this.current.length : free
  }
  get queued(): number {
    return this.mailbox.size
  }
}

interface Waiter {
  readonly tag: string
  readonly step: string
  readonly id: string | undefined
  readonly match: ((event: any) => boolean) | undefined
  /** A wait with a timeout ends by itself: while one is open the run is not stalled. */
  readonly timed: boolean
  readonly deferred: Deferred.Deferred<AnyEvent>
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

let runCounter = 0

/** Where events that no step emitted come from, in traces and errors. */
const START = "(start)"
const OUTSIDE = "(outside)"

/** @internal */
export class Run {
  readonly id: string
  readonly steps: Array<StepRun>
  readonly done: Deferred.Deferred<unknown, unknown>
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
  readonly waiters: Array<Waiter> = []
  /** Set by `enqueue` when a mailbox reaches MAILBOX_HIGH; the sending worker then waits for room. */
  full: StepRun | undefined = undefined
  state: unknown
  readonly lock = Semaphore.makeUnsafe(1)
  readonly compiled: Compiled
  readonly scope: Scope.Scope
  readonly context: Context.Context<never>
  readonly publish: ((event: AnyEvent) => void) | undefined
  readonly lifecycle: boolean
  readonly outsideInput: boolean
  readonly trace: ((entry: TraceEntry) => void) | undefined
  /** A span per invocation, only when a tracing backend is installed (Effect's advice: skip what nothing observes). */
  readonly spans: boolean
  readonly yieldPoints: (() => boolean) | undefined
  /** Set when a step accepts StepFailedEvent. */
  readonly recovers: boolean

  constructor(compiled: Compiled, scope: Scope.Scope, context: Context.Context<never>, hooks: Hooks) {
    this.compiled = compiled
    this.scope = scope
    this.context = context
    this.publish = hooks.publish
    this.lifecycle = hooks.lifecycle === true && hooks.publish !== undefined
    this.outsideInput = hooks.outsideInput === true
    this.trace = hooks.trace
    this.spans =
      Context.get(context, References.TracerEnabled) && Context.get(context, Tracer.Tracer) !== Tracer.nativeTracer
    this.yieldPoints = hooks.yieldPoints
    this.recovers = compiled.routes.has("StepFailedEvent")
    this.id = `${compiled.name}-${(++runCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    this.steps = compiled.steps.map((s) => new StepRun(s))
    this.done = Deferred.makeUnsafe()
    this.state = clonePlain(compiled.initialState)
  }

  snapshot(): Snapshot {
    return {
      runId: this.id,
      steps: this.steps.map((sr) => ({
        step: sr.step.name,
        queued: sr.mailbox.toArray().map(eventOf),
        inFlight: sr.current.filter((e): e is Item => e !== undefined).map(eventOf),
        collecting: [...sr.buffer.items],
        need: sr.buffer.lastNeed
      })),
      waiting: this.waiters.map((w) => ({ step: w.step, event: w.tag })),
      state: this.state
    }
  }

  activeSteps(): Array<string> {
    return this.steps.filter((sr) => sr.running > 0 || sr.queued > 0 || sr.backingOff > 0).map((sr) => sr.step.name)
  }

  /** Publish to the caller's stream, unless the run has ended. */
  emit(event: AnyEvent): void {
    if (this.publish !== undefined && !this.finished) this.publish(event)
  }

  // ---------------------------------------------------------------------------------------------
  // ending the run

  stop(event: AnyEvent, from: string): void {
    if (this.finished) return
    const result = (event as { result?: unknown }).result
    let mismatch: string | undefined
    try {
      mismatch = this.compiled.checkOutput?.(result)
    } catch (error) {
      this.failCause(
        Cause.die(Boundary.outputCheckThrew({ workflow: this.compiled.name, step: from, event: "StopEvent" }, error))
      )
      return
    }
    if (mismatch !== undefined) {
      this.failCause(
        Cause.die(
          new TypeError(
            `Workflow "${this.compiled.name}": the StopEvent's result (returned by step "${from}") does not match the output schema: ${mismatch}`
          )
        )
      )
      return
    }
    this.emit(event)
    this.finished = true
    Deferred.doneUnsafe(this.done, Exit.succeed(result))
  }

  failCause(cause: Cause.Cause<unknown>): void {
    if (this.finished) return
    this.finished = true
    Deferred.doneUnsafe(this.done, Exit.failCause(cause))
  }

  /** Called whenever work may have run out: fail the run if nothing can ever happen again. */
  checkIdle(): void {
    // An answered waiter leaves `waiters` at once, so its invocation counts as work from then on.
    if (this.finished || this.active > this.waiters.length || this.waiters.some((w) => w.timed)) return
    if (this.outsideInput && (this.waiters.length > 0 || this.awaitingInput > 0)) return
    const collects = this.steps
      .filter((sr) => sr.buffer.size > 0)
      .map(
        (sr) =>
          new PartialCollect({ step: sr.step.name, holds: sr.buffer.holds(), needs: describeNeed(sr.buffer.lastNeed) })
      )
    const waiting = this.waiters.map((w) => new WaitingStep({ step: w.step, event: w.tag }))
    this.failCause(
      Cause.fail(
        new WorkflowStalledError({
          workflow: this.compiled.name,
          collects,
          waiting,
          awaitingInput: this.awaitingInput,
          last: this.lastStep === undefined ? undefined : `step "${this.lastStep}" handling ${this.lastEvent}`
        })
      )
    )
  }

  // ---------------------------------------------------------------------------------------------
  // routing

  /** Start the run: route the StartEvent built from the decoded input. */
  start(input: object): Effect.Effect<void> {
    const ev = new StartEvent(input)
    const targets = this.compiled.routes.get(ev._tag) ?? []
    let effect: Effect.Effect<void> = Effect.void
    for (const i of targets) effect = this.deliverAll(effect, this.steps[i]!, ev, START)
    return effect
  }

  /** An event sent in from outside the run (a handle's `send`): answers a waiter, or is routed. */
  sendFromOutside(ev: AnyEvent): Effect.Effect<void, UnhandledEventError> {
    if (this.finished) {
      return Effect.fail(
        new UnhandledEventError({
          workflow: this.compiled.name,
          step: OUTSIDE,
          event: isEvent(ev) ? ev._tag : Boundary.describeValue(ev),
          reason: "but the run has already ended."
        })
      )
    }
    if (this.awaitingInput > 0) this.awaitingInput--
    const effect = this.route(OUTSIDE, ev, undefined)
    // An answer that nothing takes leaves the run idle.
    return Effect.andThen(
      effect,
      Effect.sync(() => this.checkIdle())
    )
  }

  /**
   * Route an event emitted by step `from` (returned, or sent with `ctx.send`). A StopEvent ends the run;
   * an open `waitFor` takes a matching event first. Returns the effect that starts any worker fibers
   * the event needs.
   */
  route(from: string, ev: unknown, target: string | undefined): Effect.Effect<void, UnhandledEventError> {
    const routed = this.routeOrError(from, ev, target)
    return routed instanceof UnhandledEventError ? Effect.fail(routed) : routed
  }

  /** {@link route}, with the error as a value: no effect is built on the per-event path. */
  routeOrError(from: string, ev: unknown, target: string | undefined): Effect.Effect<void> | UnhandledEventError {
    if (this.finished) return Effect.void
    if (!isEvent(ev)) {
      return new UnhandledEventError({
        workflow: this.compiled.name,
        step: from,
        event: Boundary.describeValue(ev),
        reason: "which is not an event: return or send an instance of an event class (a Schema.TaggedClass)."
      })
    }
    if (target !== undefined) {
      const step = this.compiled.byName.get(target)
      if (step === undefined || !step.acceptsTags.has(ev._tag)) {
        return new UnhandledEventError({
          workflow: this.compiled.name,
          step: from,
          event: ev._tag,
          target,
          reason:
            step === undefined
              ? `to step "${target}", which does not exist. Steps: ${[...this.compiled.byName.keys()].join(", ")}.`
              : `to step "${target}", which does not accept ${ev._tag} (it accepts ${[...step.acceptsTags].join(", ")}).`
        })
      }
      return this.deliver(this.steps[step.index]!, ev, from)
    }
    if (ev._tag === "StopEvent") {
      this.stop(ev, from)
      return Effect.void
    }
    // An event that answers an open wait goes to that wait alone (as in LlamaIndex): not broadcast too.
    if (this.waiters.length > 0 && this.answer(ev)) return Effect.void
    const targets = this.compiled.routes.get(ev._tag)
    if (targets === undefined) {
      if (Option.isOption(ev) || Result.isResult(ev)) {
        return new UnhandledEventError({
          workflow: this.compiled.name,
          step: from,
          event: `an ${Option.isOption(ev) ? "Option" : "Result"} (${ev._tag})`,
          reason: "which is not an event: return the event itself, or nothing (e.g. Option.getOrUndefined(option))."
        })
      }
      if (ev._tag === "InputRequiredEvent") {
        // Published for the caller, who answers through the handle's `send`.
        this.awaitingInput++
        this.emit(ev)
        return Effect.void
      }
      return new UnhandledEventError({
        workflow: this.compiled.name,
        step: from,
        event: ev._tag,
        reason: `but no step accepts ${ev._tag}. Add a step for it, or stop emitting it.`
      })
    }
    if (targets.length === 1) return this.deliver(this.steps[targets[0]!]!, ev, from)
    let effect: Effect.Effect<void> = Effect.void
    for (const i of targets) effect = this.deliverAll(effect, this.steps[i]!, ev, from)
    return effect
  }

  /** Give `ev` to the first open waiter it matches. A `match` that throws ends the run, naming its step. */
  private answer(ev: AnyEvent): boolean {
    const i = this.waiters.findIndex(
      (w) => w.tag === ev._tag && (w.id === undefined || (ev as { id?: unknown }).id === w.id) && this.matches(w, ev)
    )
    if (i === -1) return false
    const [waiter] = this.waiters.splice(i, 1)
    Deferred.doneUnsafe(waiter!.deferred, Exit.succeed(ev))
    return true
  }

  private matches(w: Waiter, ev: AnyEvent): boolean {
    if (w.match === undefined) return true
    try {
      return w.match(ev) === true
    } catch (error) {
      this.failCause(
        Cause.die(
          Boundary.matchThrew({ workflow: this.compiled.name, step: w.step, event: `waitFor(${w.tag})` }, error)
        )
      )
      return false
    }
  }

  private deliverAll(acc: Effect.Effect<void>, sr: StepRun, ev: AnyEvent, from: string): Effect.Effect<void> {
    return andThen(acc, this.deliver(sr, ev, from))
  }

  /** Queue `item` for `sr`, or start a worker for it when a slot is free. */
  private deliver(sr: StepRun, item: AnyEvent, from: string): Effect.Effect<void> {
    this.active++
    if (this.trace !== undefined) this.trace({ _tag: "Routed", from, to: sr.step.name, event: item })
    return this.enqueue(sr, item)
  }

  private enqueue(sr: StepRun, item: Item): Effect.Effect<void> {
    if (sr.running < sr.step.workers) {
      sr.running++
      const slot = sr.takeSlot()
      sr.current[slot] = item
      const ctx = sr.contexts[slot] ?? (sr.contexts[slot] = new Context_(this, sr, slot))
      return this.fork(
        Effect.suspend(() => this.invoke(ctx, item)),
        ctx.watch
      )
    }
    sr.mailbox.push(item)
    if (sr.queued >= MAILBOX_HIGH) this.full = sr
    if (this.lifecycle) {
      this.emit(new EventQueued({ step: sr.step.name, event: eventOf(item)._tag, queued: sr.queued }))
    }
    return Effect.void
  }

  /**
   * Fork `effect` into the run's scope, watched: every fiber the run forks goes through here, and one that
   * ends with anything but success or interruption fails the run (see `died`). Nothing a fiber of the run
   * does can end it silently.
   */
  private fork(effect: Effect.Effect<void>, watch: (exit: Exit.Exit<void>) => void): Effect.Effect<void> {
    return Effect.flatMap(
      Effect.forkIn(Effect.provideContext(effect, this.context), this.scope, { startImmediately: false }),
      (fiber) => {
        fiber.addObserver(watch)
        return Effect.void
      }
    )
  }

  /** The watcher of fibers that are not a worker's (retry backoffs). */
  readonly watch = (exit: Exit.Exit<void>): void => {
    const cause = diedOf(exit)
    if (cause !== undefined) this.died(undefined, cause)
  }

  /** A fiber of the run failed outside any handler's error handling: end the run, naming where. */
  died(ctx: Context_ | undefined, cause: Cause.Cause<unknown>): void {
    if (this.finished) return
    const site = { workflow: this.compiled.name, step: ctx?.step, event: ctx?.event?._tag }
    this.failCause(Cause.die(Boundary.fiberDied(site, cause)))
  }

  // ---------------------------------------------------------------------------------------------
  // workers

  /** After an invocation: the next queued item in the same worker, or the end of the worker. */
  next(ctx: Context_): Effect.Effect<void> {
    const sr = ctx.sr
    if (!ctx.retrying) this.active--
    if (this.finished) return Effect.void
    const item = sr.mailbox.shift()
    if (sr.senders.length > 0 && sr.queued <= MAILBOX_LOW) this.release(sr)
    if (item !== undefined) {
      sr.current[ctx.worker] = item
      return this.invoke(ctx, item)
    }
    sr.running--
    sr.current[ctx.worker] = undefined
    sr.freeSlots.push(ctx.worker)
    this.checkIdle()
    return Effect.void
  }

  /** Run the handler on `item`, inside the worker's fiber. */
  private invoke(ctx: Context_, item: Item): Effect.Effect<void> {
    const retry = item instanceof Retry ? item : undefined
    const ev = retry === undefined ? (item as AnyEvent) : retry.event
    ctx.event = ev
    ctx.retry = retry
    ctx.attempt = retry === undefined ? 1 : retry.attempt
    ctx.retrying = false
    const step = ctx.sr.step
    let effect: Effect.Effect<unknown, unknown>
    try {
      const returned = step.handler(ev, ctx)
      effect = Effect.isEffect(returned)
        ? (returned as Effect.Effect<unknown, unknown>)
        : Boundary.handlerResult({ workflow: this.compiled.name, step: step.name, event: ev._tag }, returned)
    } catch (defect) {
      effect = Effect.die(defect)
    }
    if (step.timeout !== undefined) {
      const timeout = step.timeout
      effect = Effect.timeoutOrElse(effect, {
        duration: timeout,
        orElse: () =>
          Effect.fail(
            new StepTimeoutError({
              workflow: this.compiled.name,
              step: step.name,
              event: ev._tag,
              timeout: Duration.format(timeout)
            })
          )
      })
    }
    if (this.lifecycle) {
      this.emit(new StepStarted({ step: step.name, event: ev._tag, worker: ctx.worker, attempt: ctx.attempt }))
    }
    if (this.trace !== undefined) {
      const trace = this.trace
      const started = { step: step.name, event: ev, attempt: ctx.attempt, worker: ctx.worker }
      trace({ _tag: "Started", ...started })
      effect = Effect.onExit(effect, (exit) =>
        Effect.sync(() =>
          trace({
            _tag: "Ended",
            ...started,
            outcome: Exit.isSuccess(exit)
              ? "returned"
              : Cause.hasInterruptsOnly(exit.cause)
                ? "interrupted"
                : step.def.retry !== undefined && Cause.hasFails(exit.cause)
                  ? "retrying"
                  : "failed"
          })
        )
      )
    }
    if (this.spans) {
      effect = Effect.withSpan(effect, `effect-flow.step ${step.name}`, {
        attributes: {
          "workflow.name": this.compiled.name,
          "workflow.run_id": this.id,
          "workflow.step": step.name,
          "workflow.event": ev._tag,
          "workflow.attempt": ctx.attempt
        },
        captureStackTrace: false
      })
    }
    return Effect.matchCauseEffect(effect, ctx.continuation)
  }

  /** A handler succeeded with `out`: route it, then go on with the worker. */
  succeeded(ctx: Context_, out: unknown): Effect.Effect<void> {
    const step = ctx.sr.step
    const ev = ctx.event!
    if (this.lifecycle) {
      this.emit(
        new StepCompleted({
          step: step.name,
          event: ev._tag,
          worker: ctx.worker,
          attempt: ctx.attempt,
          returned: isEvent(out) ? out._tag : undefined
        })
      )
    }
    this.lastStep = step.name
    this.lastEvent = ev._tag
    if (out === undefined || out === null) return this.next(ctx)
    this.full = undefined
    const routed = this.outsideEmits(step, out) ?? this.routeOrError(step.name, out, undefined)
    if (routed instanceof UnhandledEventError) {
      this.failCause(Cause.fail(routed))
      return this.next(ctx)
    }
    const full = this.filled(ctx)
    if (full !== undefined) return andThen(routed, Effect.andThen(this.room(ctx, full), ctx.goOn))
    return routed === Effect.void ? this.next(ctx) : Effect.andThen(routed, ctx.goOn)
  }

  // ---------------------------------------------------------------------------------------------
  // back-pressure

  /**
   * Why a step may not emit `ev`: the run has ended (a fiber that outlived it sends), or the step declared
   * `emits` without it. `undefined` when it may. Events the engine makes on a step's behalf
   * (`StepFailedEvent`, `waitFor` requests) are routed without this check.
   */
  private outsideEmits(step: CompiledStep, ev: unknown): UnhandledEventError | undefined {
    if (this.finished) {
      return new UnhandledEventError({
        workflow: this.compiled.name,
        step: step.name,
        event: isEvent(ev) ? ev._tag : Boundary.describeValue(ev),
        reason: "but the run has ended: a fiber that outlived its run cannot send into it."
      })
    }
    const allowed = step.emitsTags
    if (allowed === undefined || !isEvent(ev) || allowed.has(ev._tag)) return undefined
    return new UnhandledEventError({
      workflow: this.compiled.name,
      step: step.name,
      event: ev._tag,
      reason: `which is not in its emits (${[...allowed].join(", ") || "none"}): add ${ev._tag} to the emits of "${step.name}", or stop emitting it.`
    })
  }

  /** Route an event a worker sends with `ctx.send`, then wait for room if its mailbox is full. */
  send(ctx: Context_, ev: AnyEvent, target: string | undefined): Effect.Effect<void, UnhandledEventError> {
    const refused = this.outsideEmits(ctx.sr.step, ev)
    if (refused !== undefined) return Effect.fail(refused)
    this.full = undefined
    const routed = this.route(ctx.step, ev, target)
    const full = this.filled(ctx)
    return full === undefined ? routed : andThen(routed, this.room(ctx, full))
  }

  /** Route events in order, as `send` would one by one; when a mailbox fills, wait for room, then go on. */
  sendAll(
    ctx: Context_,
    events: Iterator<AnyEvent>,
    target: string | undefined
  ): Effect.Effect<void, UnhandledEventError> {
    let forks: Effect.Effect<void> = Effect.void
    while (true) {
      const next = events.next()
      if (next.done === true) return forks
      this.full = undefined
      const routed = this.outsideEmits(ctx.sr.step, next.value) ?? this.routeOrError(ctx.step, next.value, target)
      if (routed instanceof UnhandledEventError) return andThen(forks, Effect.fail(routed))
      forks = andThen(forks, routed)
      const full = this.filled(ctx)
      if (full !== undefined) {
        return andThen(
          forks,
          Effect.andThen(
            this.room(ctx, full),
            Effect.suspend(() => this.sendAll(ctx, events, target))
          )
        )
      }
    }
  }

  /**
   * The mailbox the event just routed by `ctx` filled, if `ctx` should now wait for it to drain: only while
   * something will drain it, and never inside a store edit (the target's workers may wait for the lock).
   */
  private filled(ctx: Context_): StepRun | undefined {
    const full = this.full
    if (full === undefined) return undefined
    this.full = undefined
    return this.finished || ctx.editing || !this.drains(full, ctx, new Set()) ? undefined : full
  }

  /**
   * Whether `sr`'s mailbox will be drained: one of its workers is not waiting, or waits to send to a step
   * that will itself be drained. `sender` counts as waiting on the step it is about to wait for, so a wait
   * that would close a cycle (a step feeding itself, two steps feeding each other) is never started. A
   * worker in `waitFor` may be waiting for an event only a waiting sender would send: it does not count.
   * Called only when a routed event finds its mailbox full; a walk over at most every step once.
   */
  private drains(sr: StepRun, sender: Context_ | undefined, seen: Set<StepRun>): boolean {
    if (seen.has(sr)) return false
    seen.add(sr)
    for (let slot = 0; slot < sr.current.length; slot++) {
      if (sr.current[slot] === undefined) continue
      const w = sr.contexts[slot]!
      if (w === sender) continue
      if (w.eventWaits > 0) continue
      if (w.roomWaits === 0) return true
      // One wait, for room in a mailbox (a slot waiting on several at once does not count).
      if (w.roomWaits === 1 && this.drains(w.waitingOn!, sender, seen)) return true
    }
    return false
  }

  /**
   * Wait until `target`'s mailbox has drained to MAILBOX_LOW (or until nothing would drain it). Built by
   * `filled`'s callers and run straight after the routing, with no other fiber in between, so `mayWait`
   * still holds.
   */
  private room(ctx: Context_, target: StepRun): Effect.Effect<void> {
    return Effect.callback<void>((resume) => {
      const go = () => {
        ctx.roomWaits--
        resume(Effect.void)
      }
      target.senders.push(go)
      ctx.roomWaits++
      ctx.waitingOn = target
      // Interrupted while waiting (the run ended, or a timeout): no longer a sender.
      return Effect.sync(() => {
        const i = target.senders.indexOf(go)
        if (i !== -1) {
          target.senders.splice(i, 1)
          ctx.roomWaits--
        }
      })
    })
  }

  /** A worker starts a `waitFor`: if its step is then drained by nobody, its waiting senders go on. */
  waitingForEvent(ctx: Context_): void {
    ctx.eventWaits++
    const sr = ctx.sr
    if (sr.senders.length > 0 && !this.drains(sr, undefined, new Set())) this.release(sr)
  }

  waitedForEvent(ctx: Context_): void {
    ctx.eventWaits--
  }

  /** Let every sender waiting on `sr` go on. */
  private release(sr: StepRun): void {
    const senders = sr.senders
    sr.senders = []
    for (const resume of senders) resume()
  }

  /** A handler failed: retry, recover or end the run, then go on with the worker. */
  failedInvocation(ctx: Context_, cause: Cause.Cause<unknown>): Effect.Effect<void> {
    if (Cause.hasInterruptsOnly(cause)) return Effect.void
    return Effect.andThen(this.failed(ctx, cause), ctx.goOn)
  }

  /** An invocation failed: retry it on the step's schedule, hand it to a recovering step, or end the run. */
  private failed(ctx: Context_, original: Cause.Cause<unknown>): Effect.Effect<void> {
    const { retry, sr } = ctx
    const cause = namingMissingService(original, this.compiled.name, sr.step.name)
    const ev = ctx.event!
    const schedule = sr.step.def.retry
    const error = Cause.squash(cause)
    const emitFailed = (willRetry: boolean) => {
      if (this.lifecycle) {
        this.emit(
          new StepFailed({
            step: sr.step.name,
            event: ev._tag,
            worker: ctx.worker,
            attempt: ctx.attempt,
            error,
            willRetry
          })
        )
      }
    }
    const finalFailure = () => {
      emitFailed(false)
      if (this.recovers && ev._tag !== "StepFailedEvent" && Cause.hasFails(cause)) {
        return Effect.catchCause(
          this.route(
            sr.step.name,
            new StepFailedEvent({ step: sr.step.name, event: ev, error, attempts: ctx.attempt }),
            undefined
          ),
          (c) => Effect.sync(() => this.failCause(c))
        )
      }
      this.failCause(cause)
      return Effect.void
    }
    // Only typed failures are retried; defects end the run.
    if (schedule === undefined || !Cause.hasFails(cause)) return finalFailure()
    const failure = Cause.findError(cause)
    const input = failure._tag === "Success" ? failure.success : error
    const next =
      retry !== undefined
        ? Effect.succeed(retry.next)
        : (Schedule.toStep(schedule as Schedule.Schedule<unknown, unknown>) as Effect.Effect<Retry["next"]>)
    return Effect.flatMap(next, (step) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Pull.matchEffect(step(now, input), {
          onSuccess: ([, delay]) => {
            if (this.finished) return Effect.void
            const attempt = ctx.attempt + 1
            emitFailed(true)
            if (this.lifecycle) {
              this.emit(
                new StepRetrying({ step: sr.step.name, event: ev._tag, attempt, delayMillis: Duration.toMillis(delay) })
              )
            }
            // The event stays active while it backs off, but its worker slot goes on to other events.
            ctx.retrying = true
            sr.backingOff++
            const again = new Retry(ev, attempt, step)
            return this.fork(
              Effect.andThen(
                Effect.sleep(delay),
                Effect.suspend(() => {
                  sr.backingOff--
                  return this.finished ? Effect.void : this.enqueue(sr, again)
                })
              ),
              this.watch
            )
          },
          onFailure: (scheduleCause) => Effect.sync(() => this.failCause(scheduleCause)),
          onDone: () => finalFailure()
        })
      )
    )
  }

  // ---------------------------------------------------------------------------------------------
  // waiting for events

  waitFor(
    ctx: Context_,
    tag: string,
    options: WaitForOptions<any> | undefined
  ): Effect.Effect<AnyEvent, StepTimeoutError> {
    return Effect.suspend(() => {
      const waiter: Waiter = {
        tag,
        step: ctx.step,
        id: options?.id,
        match: options?.match,
        timed: options?.timeout !== undefined,
        deferred: Deferred.makeUnsafe<AnyEvent>()
      }
      this.waiters.push(waiter)
      // The request goes out once the wait is open, so its answer cannot come too early: published to the
      // caller's stream, and routed to the steps that accept it, if any (they may answer it).
      const request = options?.request
      let sendRequest: Effect.Effect<void> = Effect.void
      if (request !== undefined) {
        this.emit(request)
        if (this.compiled.routes.has(request._tag))
          sendRequest = this.route(ctx.step, request, undefined).pipe(Effect.orDie)
      }
      // While it waits, this worker does not drain its step's mailbox (see `room`).
      this.waitingForEvent(ctx)
      // On a timeout or an interruption the waiter is still listed: take it out.
      const release = Effect.sync(() => {
        this.waitedForEvent(ctx)
        const i = this.waiters.indexOf(waiter)
        if (i !== -1) this.waiters.splice(i, 1)
      })
      let wait: Effect.Effect<AnyEvent, StepTimeoutError> = Deferred.await(waiter.deferred)
      if (options?.timeout !== undefined) {
        const timeout = Duration.fromInputUnsafe(options.timeout)
        wait = Effect.timeoutOrElse(wait, {
          duration: timeout,
          orElse: () =>
            Effect.fail(
              new StepTimeoutError({
                workflow: this.compiled.name,
                step: ctx.step,
                event: `waitFor(${tag})`,
                timeout: Duration.format(timeout)
              })
            )
        })
      }
      this.checkIdle()
      return Effect.ensuring(Effect.andThen(sendRequest, wait), release)
    })
  }

  // ---------------------------------------------------------------------------------------------
  // the whole run

  /** Await the run's end (with its timeout). */
  await(): Effect.Effect<unknown, unknown> {
    const wait = Deferred.await(this.done)
    const timeout = this.compiled.timeout
    if (timeout === undefined) return wait
    return Effect.timeoutOrElse(wait, {
      duration: timeout,
      orElse: () =>
        Effect.suspend(() => {
          const activeSteps = this.activeSteps()
          this.finished = true
          return Effect.fail(
            new WorkflowTimeoutError({
              workflow: this.compiled.name,
              timeout: Duration.format(timeout),
              activeSteps
            })
          )
        })
    })
  }

  // ---------------------------------------------------------------------------------------------
  // store

  withLock<A, E, R>(ctx: Context_, operation: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.flatMap(Effect.service(EditingRun), (editing) =>
      editing === this
        ? Effect.die(new NestedStoreEditError({ workflow: this.compiled.name, step: ctx.step, operation }))
        : this.lock.withPermits(1)(effect)
    )
  }
}

/** The step context of one worker slot. @internal */
class Context_ implements StepContext<any, AnyEvent> {
  attempt = 1
  /** Set when the current invocation's event was scheduled for a retry. */
  retrying = false
  /** How many of this slot's fibers wait for room in a mailbox, and how many in `waitFor` (see `Run.drains`). */
  roomWaits = 0
  eventWaits = 0
  /** The step whose mailbox this slot last waited on. */
  waitingOn: StepRun | undefined = undefined
  /** Inside a store edit, holding the run's lock: a send then never waits (others may wait for the lock). */
  editing = false
  /** The event (and retry state) of the current invocation. */
  event: AnyEvent | undefined = undefined
  retry: Retry | undefined = undefined
  /** Made once per worker slot, so an invocation allocates no closures of its own. */
  readonly continuation: {
    readonly onSuccess: (out: unknown) => Effect.Effect<void>
    readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void>
  }
  readonly goOn: Effect.Effect<void>
  /** Watches each fiber of this worker slot: one that dies outside the handler's error handling ends the run. */
  readonly watch: (exit: Exit.Exit<void>) => void
  readonly runId: string
  readonly step: string
  private store_: Store<any> | undefined = undefined
  readonly run: Run
  readonly sr: StepRun
  readonly worker: number
  constructor(run: Run, sr: StepRun, worker: number) {
    this.run = run
    this.sr = sr
    this.worker = worker
    this.runId = run.id
    this.step = sr.step.name
    this.continuation = {
      onSuccess: (out) => run.succeeded(this, out),
      onFailure: (cause) => run.failedInvocation(this, cause)
    }
    this.goOn = Effect.suspend(() => run.next(this))
    this.watch = (exit) => {
      const cause = diedOf(exit)
      if (cause !== undefined) run.died(this, cause)
    }
  }

  /** The run's store, as seen from this worker slot (made on first use). */
  get store(): Store<any> {
    return (this.store_ ??= makeStore(this.run, this))
  }

  send(event: AnyEvent, options?: { readonly step?: string | undefined }): Effect.Effect<void, UnhandledEventError> {
    return this.point(Effect.suspend(() => this.run.send(this, event, options?.step)))
  }

  sendAll(
    events: Iterable<AnyEvent>,
    options?: { readonly step?: string | undefined }
  ): Effect.Effect<void, UnhandledEventError> {
    return this.point(Effect.suspend(() => this.run.sendAll(this, events[Symbol.iterator](), options?.step)))
  }

  write(event: AnyEvent): Effect.Effect<void> {
    return this.point(
      Effect.sync(() => {
        if (this.run.finished) return
        this.run.trace?.({ _tag: "Written", step: this.step, event })
        this.run.emit(event)
      })
    )
  }

  /** In exploration mode, maybe yield first, so a controlled scheduler can run something else here. */
  point<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    const decide = this.run.yieldPoints
    if (decide === undefined) return effect
    return Effect.suspend(() => (decide() ? Effect.andThen(Effect.yieldNow, effect) : effect))
  }

  waitFor(cls: any, options?: WaitForOptions<any>): Effect.Effect<any, StepTimeoutError> {
    const tag = tagOf(cls)
    if (tag === undefined) {
      return Effect.die(
        new TypeError(
          `Workflow "${this.run.compiled.name}": step "${this.step}" called ctx.waitFor with ${Boundary.describeValue(cls)}, which is not an event class.`
        )
      )
    }
    if (options?.match !== undefined && typeof options.match !== "function") {
      return Effect.die(
        new TypeError(
          `Workflow "${this.run.compiled.name}": step "${this.step}" called ctx.waitFor(${tag}) with match ${Boundary.describeValue(options.match)}, which is not a function: pass (event) => boolean.`
        )
      )
    }
    return this.point(this.run.waitFor(this, tag, options))
  }

  collect(event: AnyEvent, need: number | ReadonlyArray<any>): Effect.Effect<Option.Option<ReadonlyArray<any>>> {
    // Effect.sync: a bad count or class throws, and the throw is the defect, with its message.
    return this.point(
      Effect.sync(() => {
        let spec: Need
        if (typeof need !== "number" && !Array.isArray(need)) {
          throw new TypeError(
            `Workflow "${this.run.compiled.name}": step "${this.step}" called ctx.collect(${event?._tag ?? Boundary.describeValue(event)}, ${Boundary.describeValue(need)}); pass a count (an integer >= 0) or a list of event classes. A count read with ctx.store.get of a misspelt key is undefined.`
          )
        }
        if (typeof need === "number") {
          if (!Number.isInteger(need) || need < 0) {
            throw new RangeError(
              `Workflow "${this.run.compiled.name}": step "${this.step}" called ctx.collect with ${need}; the count must be an integer >= 0.`
            )
          }
          spec = need
        } else {
          const tags: Array<string> = []
          for (const cls of need) {
            const tag = tagOf(cls)
            if (tag === undefined) {
              throw new TypeError(
                `Workflow "${this.run.compiled.name}": step "${this.step}" called ctx.collect with ${Boundary.describeValue(cls)}, which is not an event class.`
              )
            }
            tags.push(tag)
          }
          spec = tags
        }
        const taken = this.sr.buffer.offer(event, spec)
        return taken === undefined ? Option.none() : Option.some(taken)
      })
    )
  }
}

const makeStore = (run: Run, ctx: Context_): Store<any> => {
  const setState = (f: (s: any) => any) =>
    Effect.sync(() => {
      run.state = f(run.state)
    })
  return {
    getAll: ctx.point(Effect.sync(() => run.state)),
    get: (key) => ctx.point(Effect.sync(() => (run.state as any)[key])),
    set: (key, value) =>
      ctx.point(
        run.withLock(
          ctx,
          "set",
          setState((s) => ({ ...s, [key]: value }))
        )
      ),
    update: (key, f) =>
      ctx.point(
        run.withLock(
          ctx,
          "update",
          setState((s) => ({ ...s, [key]: f(s[key]) }))
        )
      ),
    edit: (f) =>
      ctx.point(
        run.withLock(
          ctx,
          "edit",
          Effect.flatMap(
            Effect.provideService(
              Effect.ensuring(
                Effect.suspend(() => {
                  ctx.editing = true
                  return Boundary.editResult(
                    { workflow: run.compiled.name, step: ctx.step, event: ctx.event?._tag },
                    f(run.state)
                  )
                }),
                Effect.sync(() => {
                  ctx.editing = false
                })
              ),
              EditingRun,
              run
            ),
            (next) => setState(() => next)
          )
        )
      )
  }
}

/**
 * Run a compiled workflow on decoded input, in a scope of its own that is closed (interrupting every
 * fiber of the run, running their finalizers) as soon as the run has a result.
 *
 * @internal
 */
export const runCompiled = (compiled: Compiled, input: object, hooks: Hooks = {}): Effect.Effect<unknown, unknown> =>
  Effect.withSpan(
    Effect.acquireUseRelease(
      Scope.make("parallel"),
      (scope) =>
        Effect.flatMap(Effect.context<never>(), (context) => {
          // Workers forked from inside a store edit must not inherit the edit's marker.
          const run = new Run(compiled, scope, Context.add(context, EditingRun, undefined), hooks)
          hooks.onRun?.(run)
          return Effect.andThen(
            Effect.andThen(Effect.annotateCurrentSpan("workflow.run_id", run.id), run.start(input)),
            run.await()
          )
        }),
      (scope, exit) => Scope.close(scope, exit)
    ),
    `effect-flow.run ${compiled.name}`,
    { attributes: { "workflow.name": compiled.name }, captureStackTrace: false }
  )

/**
 * Effect's "Service not found: <key>" defect says nothing of where: say which workflow and step needed the
 * service, and how to provide it. Any other cause is returned as it is.
 */
const namingMissingService = (cause: Cause.Cause<unknown>, workflow: string, step: string): Cause.Cause<unknown> => {
  const found = Cause.findDefect(cause)
  if (found._tag !== "Success") return cause
  const defect = found.success
  if (!(defect instanceof Error) || !defect.message.startsWith("Service not found")) return cause
  return Cause.die(
    new Error(
      `${defect.message}, needed by step "${step}" of workflow "${workflow}". Provide it with its Layer: ` +
        "Workflow.run(...).pipe(Effect.provide(layer)), or { layer } in Workflow.runPromise / startPromise.",
      { cause: defect }
    )
  )
}
