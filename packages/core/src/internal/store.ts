/**
 * The run's store as a worker slot's `ctx.store` sees it: reads are operations done at once (see
 * `primitive.ts`); writes (`set`, `update`, `edit`) hold the run's lock, and a write inside an edit of the same
 * run is a defect (`NestedStoreEditError`). A durable run re-running an invocation does not apply again what
 * its journal holds.
 */
import { Context, Effect } from "effect"
import type { Store } from "../StepContext.ts"
import { NestedStoreEditError } from "../WorkflowError.ts"
import * as Boundary from "./boundary.ts"
import type { Context_ } from "./context.ts"
import { SyncOp, unused } from "./primitive.ts"
import type { Run } from "./run.ts"

/** The current store edit, per fiber, to tell a nested edit from a waiting one. @internal */
export const EditingRun = Context.Reference<Run | undefined>("@effect-flow/core/internal/EditingRun", {
  defaultValue: () => undefined
})

/** Run `effect` holding the run's store lock; a store write inside an edit of the same run is a defect. */
const withLock = <A, E, R>(
  run: Run,
  ctx: Context_,
  operation: string,
  effect: Effect.Effect<A, E, R>
): Effect.Effect<A, E, R> =>
  Effect.flatMap(Effect.service(EditingRun), (editing) =>
    editing === run
      ? Effect.die(new NestedStoreEditError({ workflow: run.compiled.name, step: ctx.step, operation }))
      : run.lock.withPermits(1)(effect)
  )

/** Write the state (`op` of the store, `f` of the state). */
const setState = (
  run: Run,
  ctx: Context_,
  op: "set" | "update" | "edit",
  key: string | undefined,
  f: (s: any) => any
) =>
  Effect.sync(() => {
    // A durable re-run: the state already holds this write (rebuilt from the journal).
    if (ctx.journaled !== undefined && ctx.replayed() !== undefined) return
    run.state = f(run.state)
    if (run.record !== undefined) ctx.recordOp({ op, key, state: run.state })
  })

/** `ctx.store.get`/`getAll`: read the state, or one field of it. */
class ReadOp extends SyncOp {
  readonly ctx: Context_
  readonly key: string | undefined
  constructor(ctx: Context_, key: string | undefined) {
    super()
    this.ctx = ctx
    this.key = key
    unused(this)
  }
  perform(): unknown {
    const { ctx, key } = this
    const run = ctx.run
    // A durable re-run reads the state as it is now (a read acts on nothing).
    const replayed = ctx.journaled !== undefined && ctx.replayed() !== undefined
    const value = key === undefined ? run.state : (run.state as any)[key]
    if (run.record !== undefined && !replayed) ctx.recordOp({ op: "get", key, value })
    return value
  }
}

/** The run's store as a worker slot sees it: methods on a prototype, so a slot's store costs one small object. */
export class StoreView implements Store<any> {
  readonly run: Run
  readonly ctx: Context_
  constructor(run: Run, ctx: Context_) {
    this.run = run
    this.ctx = ctx
  }
  get getAll(): Effect.Effect<any> {
    return this.ctx.op(new ReadOp(this.ctx, undefined))
  }
  /**
   * The last `get`'s operation: a read holds nothing but its key and reads when it runs, so a `get` of the same
   * key (a handler reading its count once per event) gives it again instead of a new one.
   */
  private lastGet: ReadOp | undefined = undefined
  get(key: PropertyKey): Effect.Effect<any> {
    const last = this.lastGet
    return this.ctx.op(
      last !== undefined && last.key === key ? last : (this.lastGet = new ReadOp(this.ctx, key as string))
    )
  }
  set(key: PropertyKey, value: unknown): Effect.Effect<void> {
    return this.ctx.point(
      withLock(
        this.run,
        this.ctx,
        "set",
        setState(this.run, this.ctx, "set", key as string, (s) => ({ ...s, [key]: value }))
      )
    )
  }
  update(key: PropertyKey, f: (value: any) => any): Effect.Effect<void> {
    return this.ctx.point(
      withLock(
        this.run,
        this.ctx,
        "update",
        setState(this.run, this.ctx, "update", key as string, (s) => ({ ...s, [key]: f(s[key]) }))
      )
    )
  }
  edit<E, R>(f: (state: any) => Effect.Effect<any, E, R>): Effect.Effect<void, E, R> {
    const { run, ctx } = this
    return ctx.point(
      // A durable re-run: an edit the journal holds is not applied (nor `f` called) again.
      replayedOr(
        ctx,
        withLock(
          run,
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
            (next) => setState(run, ctx, "edit", undefined, () => next)
          )
        )
      )
    )
  }
}

/** `effect`, unless the invocation re-runs an operation its journal holds: then nothing. */
const replayedOr = <E, R>(ctx: Context_, effect: Effect.Effect<void, E, R>): Effect.Effect<void, E, R> =>
  Effect.suspend(() => (ctx.journaled !== undefined && ctx.replayed() !== undefined ? Effect.void : effect))
