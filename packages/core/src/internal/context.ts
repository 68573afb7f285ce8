/**
 * The step context (`ctx`) of one worker slot: what a handler calls, and what the slot keeps between
 * invocations (its current item, the effects it reuses). Each operation hands over to the room that does it
 * (`send`/`write`/`collect` to `operations.ts`, then `backPressure.ts` or the step's `CollectBuffer`;
 * `sendAll` to `backPressure.ts`; `waitFor` to `waits.ts`; `store.*` to `store.ts`) and is a point where a
 * controlled scheduler (the testing kit's `explore`) may interleave other fibers.
 */
import { Cause, Effect, type Option } from "effect"
import type { AnyEvent } from "../Event.ts"
import { tagOf } from "../Event.ts"
import type { StepContext, Store, WaitForOptions } from "../StepContext.ts"
import type { StepTimeoutError, UnhandledEventError } from "../WorkflowError.ts"
import { sendAll } from "./backPressure.ts"
import * as Boundary from "./boundary.ts"
import { DistributedView } from "./distributed.ts"
import type { WorkerFiber } from "./fibers.ts"
import { Driven } from "./generator.ts"
import { failedInvocation, invoke, succeeded } from "./invocation.ts"
import { CollectOp, SendOp, WriteOp } from "./operations.ts"
import { asEffect, nativeOps, type Op } from "./primitive.ts"
import { invocationId, type Journaled, type Operation } from "./record.ts"
import type { Run } from "./run.ts"
import type { Item, Retry, StepRun } from "./stepRun.ts"
import { StoreView } from "./store.ts"
import { WaitForOp } from "./waits.ts"
import { next, pull } from "./workers.ts"

/**
 * The key under which effect's `matchCauseEffect` frame holds the effect it runs first, found once by looking,
 * and checked by running a frame three times with that effect replaced in between (a handler's outcome must
 * reach its continuation each time): `undefined` if effect keeps it elsewhere, or reusing a frame does not
 * give each effect's outcome, and then every invocation builds its frame (see `Context_.followedByOutcome`).
 * The per-event path then allocates no frame per invocation.
 *
 * @internal
 */
export const FRAME_EFFECT: string | undefined = (() => {
  try {
    const first = Effect.succeed(1)
    const seen: Array<unknown> = []
    const frame = Effect.matchCauseEffect(first, {
      onSuccess: (n: number) => Effect.sync(() => seen.push(n)),
      onFailure: (cause: Cause.Cause<unknown>) => Effect.sync(() => seen.push(Cause.squash(cause)))
    }) as unknown as Record<string, unknown>
    const key = Object.keys(frame).find((k) => frame[k] === first)
    if (key === undefined) return undefined
    const asEffect = frame as unknown as Effect.Effect<unknown>
    Effect.runSync(asEffect)
    frame[key] = Effect.map(Effect.succeed(2), (n) => n)
    Effect.runSync(asEffect)
    frame[key] = Effect.fail(3)
    Effect.runSync(asEffect)
    return seen.join() === "1,2,3" ? key : undefined
  } catch {
    return undefined
  }
})()

/**
 * What a worker slot makes on first use and then reuses (see the getters of `Context_`), kept apart so that a slot
 * that makes none of them (a handler that returns at once, in a run that forks nothing) carries one empty field,
 * not nine.
 */
class Made {
  continuation:
    | {
        readonly onSuccess: (out: unknown) => Effect.Effect<void>
        readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void>
      }
    | undefined = undefined
  driven: Driven | undefined = undefined
  frame: Effect.Effect<void> | undefined = undefined
  goOn: Effect.Effect<void> | undefined = undefined
  linger: Effect.Effect<void> | undefined = undefined
  start: Effect.Effect<void> | undefined = undefined
  store: Store<any> | undefined = undefined
  distributed: DistributedView | undefined = undefined
  writeFn: ((event: AnyEvent) => Effect.Effect<void>) | undefined = undefined
}

/** The context of worker slot `worker` of `sr`. @internal */
export const makeContext = (run: Run, sr: StepRun, worker: number): Context_ => new Context_(run, sr, worker)

/** The step context of one worker slot. @internal */
export class Context_ implements StepContext<any, AnyEvent> {
  attempt = 1
  /** The current invocation's number in its step (see `invocationId`). */
  n = 0
  /** The last operation's number in the current attempt, when the run is recorded. */
  seq = 0
  /** Set when the current invocation's event was scheduled for a retry. */
  retrying = false
  /** How many of this slot's fibers wait for room in a mailbox, and how many in `waitFor` (see `drains`). */
  roomWaits = 0
  eventWaits = 0
  /** The step whose mailbox this slot last waited on. */
  waitingOn: StepRun | undefined = undefined
  /** Inside a store edit, holding the run's lock: a send then never waits (others may wait for the lock). */
  editing = false
  /** What this slot is handling (for snapshots, back-pressure and timeouts); `undefined` when it is free or idle. */
  item: Item | undefined = undefined
  /** The next free slot of the step, while this one is free (see `StepRun.takeSlot`). */
  nextFree: Context_ | undefined = undefined
  /**
   * The current invocation's effect went on in a fiber (not all in place): its outcome is then handled in that
   * fiber, which stops the fibers the handler forked there (see `handlerEnded` in invocation.ts).
   */
  inFiber = false
  private made_: Made | undefined = undefined
  /** What this slot made on first use and reuses (see `Made`). */
  private get made(): Made {
    return (this.made_ ??= new Made())
  }
  /** The event (and retry state) of the current invocation. */
  event: AnyEvent | undefined = undefined
  retry: Retry | undefined = undefined
  /** A durable run re-running this invocation after a crash: what its journal holds (see `replayed`). */
  journaled: Journaled | undefined = undefined
  /**
   * What follows a handler's effect: made once per worker slot, so an invocation allocates no closures of its
   * own, and only when a handler returns an effect that is not already an Exit (see `invoke`).
   */
  get continuation(): {
    readonly onSuccess: (out: unknown) => Effect.Effect<void>
    readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void>
  } {
    return (this.made.continuation ??= {
      onSuccess: (out) => succeeded(this.run, this, out),
      onFailure: (cause) => failedInvocation(this.run, this, cause)
    })
  }
  /** What follows an effect the generator of the current invocation yielded (see `generator.ts`; made on first use). */
  get driven(): Driven {
    return (this.made.driven ??= new Driven(this))
  }
  /**
   * `effect` (the current invocation's handler), then its outcome (`succeeded` or `failedInvocation`), as
   * `Effect.matchCauseEffect(effect, this.continuation)`; but where effect's frame can be reused (see
   * `FRAME_EFFECT`), the slot's one frame is given the new effect instead of building a frame per invocation.
   * A slot runs one invocation at a time, and effect's fiber takes the frame off its stack before it calls the
   * outcome, so the frame is never on a stack when the next invocation reuses it.
   */
  followedByOutcome(effect: Effect.Effect<unknown, unknown>): Effect.Effect<void> {
    if (FRAME_EFFECT === undefined) return Effect.matchCauseEffect(effect, this.continuation)
    const made = this.made
    const frame = made.frame
    if (frame === undefined) return (made.frame = Effect.matchCauseEffect(effect, this.continuation))
    ;(frame as unknown as Record<string, unknown>)[FRAME_EFFECT] = effect
    return frame
  }
  /** Take the next event (`next`), as an effect to run after another (made on first use). */
  get goOn(): Effect.Effect<void> {
    return (this.made.goOn ??= Effect.suspend(() => next(this.run, this)))
  }
  /** Set while the worker yields once before it ends (see `pull`): it still drains its mailbox. */
  lingering = false
  /** Yield once, then take the next queued item or end the worker (see `pull`; made on first use). */
  get linger(): Effect.Effect<void> {
    return (this.made.linger ??= Effect.andThen(
      Effect.yieldNow,
      Effect.suspend(() => pull(this.run, this, true))
    ))
  }
  /** What a worker fiber forked for this slot runs: the handler on the slot's item (made on first use). */
  get start(): Effect.Effect<void> {
    return (this.made.start ??= Effect.suspend(() => invoke(this.run, this, this.item!)))
  }
  /** The fiber this slot's invocation runs in (it may have been handed over from another slot). */
  fiber: WorkerFiber | undefined = undefined
  /** The run's id. */
  get runId(): string {
    return this.run.id
  }
  readonly step: string
  readonly run: Run
  readonly sr: StepRun
  readonly worker: number
  constructor(run: Run, sr: StepRun, worker: number) {
    this.run = run
    this.sr = sr
    this.worker = worker
    this.step = sr.step.name
  }

  /** One per step and routed event, the same across retries: `<runId>/<step>/<n>`. */
  get invocationId(): string {
    return invocationId(this.runId, this.step, this.n)
  }

  /** Record a step-context operation of the current invocation (only called when the run is recorded). */
  recordOp(operation: Operation): void {
    this.run.record!({
      _tag: "Operation",
      invocationId: this.invocationId,
      step: this.step,
      attempt: this.attempt,
      seq: ++this.seq,
      operation
    })
  }

  /**
   * On a re-run after a crash, the journaled outcome of the next operation, which then does not act again;
   * `undefined` once the invocation is past what its journal holds (it runs live from there).
   */
  replayed(): NonNullable<ReturnType<Journaled["get"]>> | undefined {
    const journaled = this.journaled
    if (journaled === undefined) return undefined
    const op = journaled.get(this.seq + 1)
    if (op === undefined) {
      this.journaled = undefined
      return undefined
    }
    this.seq++
    return op
  }

  /** This slot's context as a `distribute: true` step's handler sees it (made on first use). */
  get distributed(): DistributedView {
    return (this.made.distributed ??= new DistributedView(this.run.compiled.name, this))
  }

  /** `write`, bound to this slot (made on first use), for a distributed invocation's outcome. */
  get writeFn(): (event: AnyEvent) => Effect.Effect<void> {
    return (this.made.writeFn ??= (event) => this.write(event))
  }

  /** The run's store, as seen from this worker slot (made on first use). */
  get store(): Store<any> {
    return (this.made.store ??= new StoreView(this.run, this))
  }

  send(event: AnyEvent, options?: { readonly step?: string | undefined }): Effect.Effect<void, UnhandledEventError> {
    return this.op(new SendOp(this, event, options?.step))
  }

  sendAll(
    events: Iterable<AnyEvent>,
    options?: { readonly step?: string | undefined }
  ): Effect.Effect<void, UnhandledEventError> {
    return this.point(Effect.suspend(() => sendAll(this.run, this, events[Symbol.iterator](), options?.step)))
  }

  write(event: AnyEvent): Effect.Effect<void> {
    return this.op(new WriteOp(this, event))
  }

  /**
   * Before an operation: wait while the run is paused (a durable run's journal behind its store), and in
   * exploration mode maybe yield, so a controlled scheduler can run something else here.
   */
  point<A, E, R>(effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return this.around(effect, this.run.pause)
  }

  /**
   * `point` for an operation (see `primitive.ts`): where operations are Effects, each asks the pause hook in
   * its own evaluate, so a durable run's operation gets no `Effect.suspend` around it for that.
   */
  op<A, E>(op: Op & Effect.Effect<A, E>): Effect.Effect<A, E> {
    return nativeOps ? this.around(op, undefined) : this.point(asEffect(op, false))
  }

  private around<A, E, R>(
    effect: Effect.Effect<A, E, R>,
    pause: (() => Effect.Effect<void> | undefined) | undefined
  ): Effect.Effect<A, E, R> {
    const decide = this.run.yieldPoints
    if (decide === undefined && pause === undefined) return effect
    return Effect.suspend(() => {
      const wait = pause?.()
      const next = wait === undefined ? effect : Effect.andThen(wait, effect)
      return decide?.() === true ? Effect.andThen(Effect.yieldNow, next) : next
    })
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
    return this.op(new WaitForOp(this, tag, options))
  }

  collect(event: AnyEvent, need: number | ReadonlyArray<any>): Effect.Effect<Option.Option<ReadonlyArray<any>>> {
    return this.op(new CollectOp(this, event, need))
  }
}
