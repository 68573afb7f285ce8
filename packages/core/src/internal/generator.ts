/**
 * Generator handlers (`function* (event, ctx) { ... }`), driven by the engine itself. `Effect.fnUntraced`
 * would make an effect per call, run each `yield*` through the fiber's loop, and `invoke` would then match
 * the outcome with one more effect. Here `invoke` steps the generator: what it yields that is done at once
 * (an `Exit`, such as `Effect.succeed(x)`; a step-context operation of this invocation, see `primitive.ts`)
 * is answered in place, and the returned event goes straight to `succeeded`. Anything else the generator
 * yields runs in the worker's fiber, and the generator goes on when it ends. Same semantics as
 * `Effect.fnUntraced`: a yielded failure ends the generator (it is not resumed), a throw is a defect.
 *
 * Only on the plain path (see `invoke`): a step with a timeout or a span, a recorded, explored or paused run,
 * and a distributed step run the handler as an effect, wrapped as they need.
 */
import { Cause, Effect, Exit } from "effect"
import type { Context_ } from "./context.ts"
import { failedInvocation, succeeded } from "./invocation.ts"
import { SuspendOp, SyncOp } from "./primitive.ts"
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
  constructor(ctx: Context_) {
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
  run.syncDepth++
  try {
    while (true) {
      let state: IteratorResult<unknown, unknown>
      try {
        state = iter.next(value)
      } catch (thrown) {
        return failedInvocation(run, ctx, Cause.die(thrown))
      }
      if (state.done === true) return succeeded(run, ctx, state.value)
      let yielded = state.value
      if ((yielded as SyncOp | SuspendOp | undefined)?.ctx === ctx && inPlace++ < MAX_IN_PLACE) {
        if (yielded instanceof SyncOp) {
          try {
            value = yielded.value()
          } catch (thrown) {
            return failedInvocation(run, ctx, Cause.die(thrown))
          }
          continue
        }
        if (yielded instanceof SuspendOp) yielded = yielded.effect()
      }
      if (Exit.isExit(yielded)) {
        if (yielded._tag === "Success") {
          value = yielded.value
          continue
        }
        return failedInvocation(run, ctx, yielded.cause)
      }
      const driven = ctx.driven
      driven.iter = iter
      return Effect.matchCauseEffect(yielded as Effect.Effect<unknown, unknown>, driven)
    }
  } finally {
    run.syncDepth--
  }
}
