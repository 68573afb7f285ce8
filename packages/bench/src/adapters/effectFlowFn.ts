/**
 * effect-flow with the README's advice for hot handlers, keeping REFERENCE.md's events: the same dispatch /
 * worker / collector workflow as `effectFlow.ts`, with `Schema.TaggedClass` events, handlers written as
 * `Effect.fnUntraced(function* (ev, ctx) { ... })` (one generator function reused across events, instead of
 * an arrow that calls `Effect.gen` with a new one per event), and one `ctx.sendAll` for the fan-out.
 *
 * @since 0.1.0
 */
import { StartEvent, StopEvent } from "@effect-flow/core"
import { Effect, Option, Schema } from "effect"
import type { Adapter } from "../adapter.ts"
import type { Result } from "../workload.ts"
import { benchWorkflow, flowRunner } from "./flowShared.ts"

class ItemEvent extends Schema.TaggedClass<ItemEvent>()("ItemEvent", { index: Schema.Number }) {}

class DoneEvent extends Schema.TaggedClass<DoneEvent>()("DoneEvent", { index: Schema.Number, value: Schema.Number }) {}

/** The events, made one at a time as `sendAll` takes them, so they need not all be in memory at once. */
function* itemEvents(items: ReadonlyArray<number>) {
  for (const index of items) yield new ItemEvent({ index })
}

/**
 * The effect-flow adapter with `Effect.fnUntraced` handlers.
 *
 * @example
 * ```ts
 * const runner = adapter.make(4, noop)
 * await runner.run([0, 1, 2])
 * ```
 *
 * @since 0.1.0
 */
export const adapter: Adapter = {
  name: "effect-flow (Effect.fn handlers)",
  kind: "engine",
  how: "as effect-flow, with the README's advice for hot handlers: `Effect.fnUntraced(function* (ev, ctx) { ... })` handlers and one `ctx.sendAll`; events stay `Schema.TaggedClass`",
  packages: ["effect"],
  make: (workers, work) => {
    const wf = benchWorkflow("bench-fn")
      .step(
        StartEvent,
        Effect.fnUntraced(function* (ev, ctx) {
          yield* ctx.store.set("total", ev.items.length)
          yield* ctx.sendAll(itemEvents(ev.items))
        }),
        { name: "dispatch", emits: [ItemEvent] }
      )
      .step(
        ItemEvent,
        Effect.fnUntraced(function* (ev) {
          const value = yield* work.effect(ev.index)
          return new DoneEvent({ index: ev.index, value })
        }),
        { name: "work", workers, emits: [DoneEvent] }
      )
      .step(
        DoneEvent,
        Effect.fnUntraced(function* (ev, ctx) {
          const total = yield* ctx.store.get("total")
          const all = yield* ctx.collect(ev, total)
          if (Option.isNone(all)) return
          return new StopEvent({ result: all.value.map((d): Result => ({ index: d.index, value: d.value })) })
        }),
        { name: "collect", emits: [StopEvent] }
      )
    return flowRunner(wf)
  }
}
