/**
 * The step-context operations a worker slot's `ctx` builds for `send`, `write` and `collect`: each an Effect of
 * its own (see `primitive.ts`), which a fiber runs as it runs an `Effect.suspend` and the driver of generator
 * handlers (`generator.ts`) runs in place. `send` hands over to `backPressure.ts`, `collect` to the step's
 * `CollectBuffer`; `ctx.waitFor`'s operation is in `waits.ts`, the store's in `store.ts`.
 */
import { type Effect, Option } from "effect"
import type { AnyEvent } from "../Event.ts"
import { tagOf } from "../Event.ts"
import type { UnhandledEventError } from "../WorkflowError.ts"
import { send } from "./backPressure.ts"
import * as Boundary from "./boundary.ts"
import type { Need } from "./collectBuffer.ts"
import type { Context_ } from "./context.ts"
import { SuspendOp, SyncOp, unused } from "./primitive.ts"

/** `ctx.send`: route the event, then go on with the worker fibers it starts or a wait for room. */
export class SendOp extends SuspendOp {
  readonly ctx: Context_
  readonly event: AnyEvent
  readonly target: string | undefined
  constructor(ctx: Context_, event: AnyEvent, target: string | undefined) {
    super()
    this.ctx = ctx
    this.event = event
    this.target = target
    unused(this)
  }
  effect(): Effect.Effect<void, UnhandledEventError> {
    return send(this.ctx.run, this.ctx, this.event, this.target)
  }
}

/** `ctx.write`: publish the event to the caller's stream. */
export class WriteOp extends SyncOp {
  readonly ctx: Context_
  readonly event: AnyEvent
  constructor(ctx: Context_, event: AnyEvent) {
    super()
    this.ctx = ctx
    this.event = event
    unused(this)
  }
  perform(): void {
    const { ctx, event } = this
    const run = ctx.run
    if (run.finished || (ctx.journaled !== undefined && ctx.replayed() !== undefined)) return
    run.emit(event)
    if (run.record !== undefined) ctx.recordOp({ op: "write", event })
  }
}

/** `ctx.collect`: offer the event to the step's buffer. A bad count or class throws: the throw is the defect. */
export class CollectOp extends SyncOp {
  readonly ctx: Context_
  readonly event: AnyEvent
  readonly need: number | ReadonlyArray<any>
  constructor(ctx: Context_, event: AnyEvent, need: number | ReadonlyArray<any>) {
    super()
    this.ctx = ctx
    this.event = event
    this.need = need
    unused(this)
  }
  perform(): Option.Option<ReadonlyArray<any>> {
    const { ctx, event } = this
    const spec = needOf(ctx, event, this.need)
    const journaled = ctx.journaled === undefined ? undefined : ctx.replayed()
    if (journaled !== undefined) return journaled.taken === undefined ? Option.none() : Option.some(journaled.taken)
    const taken = ctx.sr.buffer.offer(event, spec)
    if (ctx.run.record !== undefined) ctx.recordOp({ op: "collect", event, need: spec, taken })
    return taken === undefined ? Option.none() : Option.some(taken)
  }
}

/** What `ctx.collect` was asked for, checked: throws a defect naming the step when it is not a need. */
const needOf = (ctx: Context_, event: AnyEvent, need: number | ReadonlyArray<any>): Need => {
  const workflow = ctx.run.compiled.name
  if (typeof need !== "number" && !Array.isArray(need)) {
    throw new TypeError(
      `Workflow "${workflow}": step "${ctx.step}" called ctx.collect(${event?._tag ?? Boundary.describeValue(event)}, ${Boundary.describeValue(need)}); pass a count (an integer >= 0) or a list of event classes. A count read with ctx.store.get of a misspelt key is undefined.`
    )
  }
  if (typeof need === "number") {
    if (!Number.isInteger(need) || need < 0) {
      throw new RangeError(
        `Workflow "${workflow}": step "${ctx.step}" called ctx.collect with ${need}; the count must be an integer >= 0.`
      )
    }
    return need
  }
  const tags: Array<string> = []
  for (const cls of need) {
    const tag = tagOf(cls)
    if (tag === undefined) {
      throw new TypeError(
        `Workflow "${workflow}": step "${ctx.step}" called ctx.collect with ${Boundary.describeValue(cls)}, which is not an event class.`
      )
    }
    tags.push(tag)
  }
  return tags
}
