/**
 * Step-context operations as Effects of their own: one object holding what the operation needs, where
 * `Effect.suspend(() => ...)` would make an effect and a closure. A fiber runs one as it runs an
 * `Effect.suspend`; the driver of generator handlers (`generator.ts`) knows them and runs them in place,
 * with no trip through the fiber's loop.
 *
 * They share the prototype of Effect's own `Suspend` primitive (so `Effect.isEffect`, `pipe` and `yield*`
 * work as for any effect) and override the one method a fiber calls to run a primitive.
 *
 * @internal
 */
import { Effect, Exit } from "effect"

const suspendProto: object = Object.getPrototypeOf(Effect.suspend(() => Effect.void))
const evaluateKey = Object.keys(suspendProto).find((key) => key.endsWith("/evaluate"))

/**
 * Whether operations are Effects themselves (effect 4.1's `Suspend` primitive has the key they override).
 * If a later effect keeps it elsewhere, nothing breaks: `asEffect` wraps each operation in `Effect.sync` or
 * `Effect.suspend`, as before there were operations, and the driver of generator handlers runs those as any
 * other effect.
 *
 * @internal
 */
export const nativeOps: boolean = evaluateKey !== undefined

/** The base of operations, with Effect's primitive prototype under it. */
function OpBase() {}
OpBase.prototype = Object.create(suspendProto)

/**
 * What an operation needs of its step context: the run's pause hook (see `Hooks.pause` in `run.ts`), asked
 * before the operation acts, in the operation's own evaluate: the one place a paused run (a durable run whose
 * journal is behind its store) waits before a step-context operation, with nothing around the operation when
 * it is not paused.
 *
 * @internal
 */
export interface OpContext {
  readonly run: { readonly pause: (() => Effect.Effect<void> | undefined) | undefined }
}

/**
 * The generator `drive` (generator.ts) is stepping right now, told by its step context (`undefined` outside
 * `drive`'s `iter.next`), and what is left of `drive`'s counts: `inPlace`, operations it may still do in place
 * before a send goes through the fiber's loop, and `steps`, `yield*`s before it yields to other fibers. An
 * operation of that context, `yield*`-ed there, is done inside the `yield*` itself (see `Op`), and counted.
 *
 * @internal
 */
export const stepping: { ctx: OpContext | undefined; inPlace: number; steps: number } = {
  ctx: undefined,
  inPlace: 0,
  steps: 0
}

/** What `SyncOp.attempt` tells `Op.next` when it has its value, which is then in `attempted`, read at once. */
const DONE = { value: undefined }
let attempted: unknown

/** Effect's own iterator of an effect (a `SingleShotGen`: the effect, then what the generator is resumed with). */
const effectIterator = (suspendProto as { [Symbol.iterator]: (this: unknown) => Iterator<unknown> })[Symbol.iterator]

/**
 * A step-context operation: an Effect, and what the driver of generator handlers runs in place.
 *
 * `yield*` of an operation, in the generator `drive` is stepping for the operation's own context, does the
 * operation inside the `yield*`: the operation is its own iterator, whose first `next` does it and, when that
 * gives a value at once, is its own result (`done`, `value`). The generator then goes on with no suspend, no
 * resume and no trip through the driver, as if the driver had done it (as it did before, and still does for
 * any other `yield*` of an operation). What must wait (a send that forks or waits for room, a wait) is yielded
 * to the driver as the effect that is left, and the next `next` ends the `yield*` with what the driver resumes
 * the generator with. A `yield*` anywhere else, or of an operation whose iterator is in use, gets effect's own
 * iterator (a `SingleShotGen`).
 */
export abstract class Op extends (OpBase as unknown as new () => Effect.Effect<any, any>) {
  /** The step context (worker slot) the operation belongs to. */
  abstract readonly ctx: OpContext
  /**
   * Its own iterator's state: 0 free, 1 handed to a `yield*`, 2 the effect that is left yielded to the driver.
   * Set by each operation's constructor (`unused`), so `Op` has no fields and no constructor of its own to run.
   */
  declare phase: number
  /** The iterator result of its own `yield*`, which the generator reads at once. */
  declare done: boolean
  declare value: unknown
  /**
   * Whether its result is a value at once (`SyncOp`): then `drive` would do it in place however many it did
   * before, and so may its `yield*`.
   */
  get sync(): boolean {
    return false
  }
  /** Do the operation: `DONE` with its value (see `attempted`), or (a send, a wait) the effect that is left. */
  abstract attempt(): { readonly value: unknown } | Effect.Effect<unknown, unknown>
  override [Symbol.iterator](): Effect.EffectIterator<this> {
    const s = stepping
    if (this.phase === 0 && s.ctx === this.ctx && s.steps > 0 && (s.inPlace > 0 || this.sync)) {
      this.phase = 1
      return this as unknown as Effect.EffectIterator<this>
    }
    return effectIterator.call(this) as Effect.EffectIterator<this>
  }
  next(resumed: unknown): IteratorResult<unknown, unknown> {
    if (this.phase === 2) {
      this.phase = 0
      return this.finish(resumed)
    }
    this.phase = 2
    const s = stepping
    // Iterated by hand, or outside the generator `drive` is stepping for its context: as effect's own iterator.
    if (s.ctx !== this.ctx || s.steps <= 0 || (s.inPlace <= 0 && !this.sync)) return { done: false, value: this }
    s.steps--
    s.inPlace--
    let left: unknown
    try {
      left = this.attempt()
    } catch (thrown) {
      // A defect of the operation: the driver ends the invocation with it, and never resumes the generator.
      return { done: false, value: Exit.die(thrown) }
    }
    if (left === DONE) {
      this.phase = 0
      const value = attempted
      attempted = undefined
      return this.finish(value)
    }
    if (left !== null && typeof left === "object" && Object.getPrototypeOf(left) === successProto) {
      this.phase = 0
      return this.finish((left as Exit.Success<unknown>).value)
    }
    return { done: false, value: left }
  }
  private finish(value: unknown): IteratorResult<unknown, unknown> {
    this.done = true
    this.value = value
    return this as unknown as IteratorResult<unknown, unknown>
  }
}

/**
 * A new operation's own iterator is free: every operation's constructor calls this (an operation that does not
 * is never done inside its `yield*`).
 *
 * @internal
 */
export const unused = (op: Op): void => {
  op.phase = 0
  op.done = false
  op.value = undefined
}

/** What the run asks an operation to wait on before it acts, if anything (see `OpContext`). */
const pauseOf = (op: Op): Effect.Effect<void> | undefined => {
  const pause = op.ctx.run.pause
  return pause === undefined ? undefined : pause()
}

/**
 * An operation whose result is a value at once (a read, a collect): `perform` may throw, which is a defect of
 * the operation, as with `Effect.sync`.
 *
 * @internal
 */
export abstract class SyncOp extends (Op as unknown as abstract new () => Op & Effect.Effect<any>) {
  abstract perform(): unknown
  override get sync(): boolean {
    return true
  }
  attempt(): { readonly value: unknown } {
    attempted = this.perform()
    return DONE
  }
}
if (evaluateKey !== undefined) {
  Object.defineProperty(SyncOp.prototype, evaluateKey, {
    value: function (this: SyncOp) {
      const wait = pauseOf(this)
      return wait === undefined
        ? Exit.succeed(this.perform())
        : Effect.andThen(
            wait,
            Effect.sync(() => this.perform())
          )
    }
  })
}

/** An operation that does its work, then goes on with an effect (a send: the worker fibers it starts, or a wait). @internal */
export abstract class SuspendOp extends Op {
  abstract effect(): Effect.Effect<unknown, unknown>
  attempt(): Effect.Effect<unknown, unknown> {
    return this.effect()
  }
}
if (evaluateKey !== undefined) {
  Object.defineProperty(SuspendOp.prototype, evaluateKey, {
    value: function (this: SuspendOp) {
      const wait = pauseOf(this)
      return wait === undefined
        ? this.effect()
        : Effect.andThen(
            wait,
            Effect.suspend(() => this.effect())
          )
    }
  })
}

/**
 * The operation as an Effect: itself where operations are Effects (`nativeOps`), otherwise an `Effect.sync`
 * or `Effect.suspend` that does what it does (which does not ask the pause hook: `Context_.op` does then).
 *
 * @internal
 */
export const asEffect = <A, E>(op: Op & Effect.Effect<A, E>, native: boolean = nativeOps): Effect.Effect<A, E> =>
  native
    ? op
    : op instanceof SyncOp
      ? (Effect.sync(() => op.perform()) as Effect.Effect<A, E>)
      : Effect.suspend(() => (op as unknown as SuspendOp).effect() as Effect.Effect<A, E>)

/** The prototypes of a successful and of a failed `Exit`: what a generator yields most is told apart by them. @internal */
export const successProto: object = Object.getPrototypeOf(Exit.void)
export const failureProto: object = Object.getPrototypeOf(Exit.fail(undefined))

/**
 * `Exit.isExit`, told by the prototype (effect's own goes through `Predicate.hasProperty`, a `dual` that builds
 * an `arguments` object per call, and the engine asks it of every invocation). @internal
 */
export const isExit = (u: object): u is Exit.Exit<unknown, unknown> => {
  const proto = Object.getPrototypeOf(u)
  return proto === successProto || proto === failureProto
}
