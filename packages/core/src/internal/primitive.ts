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

/** A step-context operation: an Effect, and what the driver of generator handlers runs in place. @internal */
export abstract class Op extends (OpBase as unknown as new () => Effect.Effect<any, any>) {
  /** The step context (worker slot) the operation belongs to. */
  abstract readonly ctx: OpContext
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
