/**
 * Generator handlers (`function* (event, ctx) { ... }`), driven by the engine itself. `Effect.fnUntraced`
 * would make an effect per call, run each `yield*` through the fiber's loop, and `invoke` would then match
 * the outcome with one more effect. Here `invoke` steps the generator: what it yields that is done at once
 * (an `Exit`, such as `Effect.succeed(x)`; a step-context operation of this invocation, see `primitive.ts`)
 * is answered in place (an operation even inside its own `yield*`, so the generator does not stop for it), and
 * the returned event goes straight to `succeeded`. Anything else the generator
 * yields runs in the worker's fiber, and the generator goes on when it ends. Same semantics as
 * `Effect.fnUntraced`: a yielded failure ends the generator (it is not resumed), a throw is a defect.
 *
 * Only on the plain path (see `invoke`): a step with a timeout or a span, a recorded, explored or paused run,
 * and a distributed step run the handler as an effect, wrapped as they need.
 */
import { Cause, Effect, type Exit } from "effect"
import type { Context_ } from "./context.ts"
import { MAX_STEPS, runInPlaceOrValue, SUCCEEDED, takeSucceeded } from "./inPlace.ts"
import { failedInvocation, MAX_SYNC_DEPTH, succeeded } from "./invocation.ts"
import { failureProto, Op, type SuspendOp, SyncOp, stepping, successProto } from "./primitive.ts"
import type { Run } from "./run.ts"

/**
 * How many operations a generator may run in place before one goes through the fiber's loop, which counts
 * operations and yields to other fibers now and then (a dispatch loop sending into a mailbox that is never
 * full would otherwise hold the thread).
 */
const MAX_IN_PLACE = 64

/**
 * What follows an effect a generator yielded, for the worker slot of `ctx`: the generator goes on with its
 * value, or ends with its failure. One per slot, made when first needed; it holds the generator only while
 * the effect runs.
 *
 * @internal
 */
export class Driven {
  iter: Iterator<unknown, unknown, unknown> | undefined = undefined
  readonly onSuccess: (value: unknown) => Effect.Effect<void>
  readonly onFailure: (cause: Cause.Cause<unknown>) => Effect.Effect<void>
  /** What the generator returned, while `succeed` waits to hand it on from the fiber's loop. */
  returned: unknown = undefined
  /** Hand `returned` to `succeeded`, run by the fiber's loop: a worker too deep on the JS stack goes on from there. */
  readonly succeed: Effect.Effect<void>
  constructor(ctx: Context_) {
    this.succeed = Effect.suspend(() => {
      const returned = this.returned
      this.returned = undefined
      return succeeded(ctx.run, ctx, returned)
    })
    this.onSuccess = (value) => {
      const iter = this.iter!
      this.iter = undefined
      return drive(ctx.run, ctx, iter, value)
    }
    this.onFailure = (cause) => {
      this.iter = undefined
      return failedInvocation(ctx.run, ctx, cause)
    }
  }
}

/** Step the generator of the invocation of `ctx` from `value` (what its last `yield*` gives back). @internal */
export const drive = (run: Run, ctx: Context_, iter: Iterator<unknown, unknown, unknown>, value: unknown) => {
  let inPlace = 0
  let steps = 0
  run.syncDepth++
  try {
    while (true) {
      // While the generator runs, an operation of `ctx` it yields is done inside its `yield*`, and counted as
      // one done here (see `Op`). Whatever the generator does, the outer stepping (a driver below this one on
      // the stack) is back before anything else runs.
      const outer = stepping.ctx
      const outerInPlace = stepping.inPlace
      const outerSteps = stepping.steps
      stepping.ctx = ctx
      stepping.inPlace = MAX_IN_PLACE - inPlace
      stepping.steps = MAX_STEPS - steps
      let state: IteratorResult<unknown, unknown> | undefined
      let thrown: unknown
      try {
        state = iter.next(value)
      } catch (e) {
        thrown = e
      } finally {
        inPlace = MAX_IN_PLACE - stepping.inPlace
        steps = MAX_STEPS - stepping.steps
        stepping.ctx = outer
        stepping.inPlace = outerInPlace
        stepping.steps = outerSteps
      }
      if (state === undefined) return failedInvocation(run, ctx, Cause.die(thrown))
      if (state.done === true) {
        // A worker draining its mailbox comes back here through `succeeded`: past MAX_SYNC_DEPTH outcomes one
        // inside another, the outcome is handed on from the fiber's loop, so the JS stack stays bounded.
        if (run.syncDepth <= MAX_SYNC_DEPTH) return succeeded(run, ctx, state.value)
        const driven = ctx.driven
        driven.returned = state.value
        return driven.succeed
      }
      let yielded = state.value
      if (++steps > MAX_STEPS) {
        // As many yield*s as a fiber runs operations before it yields to other fibers: yield as it would, then
        // go on from this one, so a long or endless loop lets a timeout, a cancel and other fibers in.
        const driven = ctx.driven
        driven.iter = iter
        ctx.inFiber = true
        return Effect.matchCauseEffect(
          Effect.andThen(Effect.yieldNow, yielded as Effect.Effect<unknown, unknown>),
          driven
        )
      }
      // An Exit (`yield* Effect.succeed(x)`), told by its prototype first: what a generator
      // handler yields most, besides its operations (done inside their `yield*`).
      const first = typeof yielded === "object" && yielded !== null ? Object.getPrototypeOf(yielded) : undefined
      if (first === successProto) {
        value = (yielded as Exit.Success<unknown>).value
        continue
      }
      if (first === failureProto) return failedInvocation(run, ctx, (yielded as Exit.Failure<unknown, unknown>).cause)
      if (yielded instanceof Op && yielded.ctx === ctx && inPlace++ < MAX_IN_PLACE) {
        if (yielded instanceof SyncOp) {
          try {
            value = yielded.perform()
          } catch (thrown) {
            return failedInvocation(run, ctx, Cause.die(thrown))
          }
          continue
        }
        yielded = (yielded as SuspendOp).effect()
      }
      // What needs no fiber is run in place (see `inPlace.ts`), often to its value.
      if (typeof yielded === "object" && yielded !== null) {
        yielded = runInPlaceOrValue(yielded as Effect.Effect<unknown, unknown>)
        if (yielded === SUCCEEDED) {
          value = takeSucceeded()
          continue
        }
      }
      // An Exit (`Effect.succeed(x)`, what a send returns when it started no fiber), told by its prototype.
      const proto = yielded === null || yielded === undefined ? undefined : Object.getPrototypeOf(yielded)
      if (proto === successProto) {
        value = (yielded as Exit.Success<unknown>).value
        continue
      }
      if (proto === failureProto) return failedInvocation(run, ctx, (yielded as Exit.Failure<unknown, unknown>).cause)
      const driven = ctx.driven
      driven.iter = iter
      ctx.inFiber = true
      return Effect.matchCauseEffect(yielded as Effect.Effect<unknown, unknown>, driven)
    }
  } finally {
    run.syncDepth--
  }
}
