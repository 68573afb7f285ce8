/**
 * effect-flow written for speed: the same dispatch / worker / collector workflow as `effectFlow.ts`, but with
 * `Event.TaggedData` events (no schema validation on construction) and handlers written with combinators
 * instead of `Effect.gen`. It shows what the engine costs when the handlers and events cost little; the
 * targets are measured on the plain `effect-flow` row, written as REFERENCE.md writes workflows.
 *
 * @since 0.1.0
 */
import { Event, StartEvent, StopEvent } from "@effect-flow/core"
import { Effect, Option } from "effect"
import type { Adapter } from "../adapter.ts"
import type { Result, Work } from "../workload.ts"
import { benchWorkflow, flowRunner } from "./flowShared.ts"

/** An item to work on. Shared with the floor that runs these handlers with no engine. */
export class ItemEvent extends Event.TaggedData("ItemEvent")<{ readonly index: number }> {}

/** An item's result. */
export class DoneEvent extends Event.TaggedData("DoneEvent")<{ readonly index: number; readonly value: number }> {}

/** The events, made one at a time as `sendAll` takes them, so they need not all be in memory at once. */
function* itemEvents(items: ReadonlyArray<number>) {
  for (const index of items) yield new ItemEvent({ index })
}

/** The worker step's handler: the item's work, as a `DoneEvent`. */
export const worker =
  (work: Work) =>
  (ev: ItemEvent): Effect.Effect<DoneEvent> =>
    Effect.map(work.effect(ev.index), (value) => new DoneEvent({ index: ev.index, value }))

/** The collector's answer once every event is in: the run's results. */
export const resultsOf = (all: ReadonlyArray<DoneEvent>): Array<Result> =>
  all.map((d): Result => ({ index: d.index, value: d.value }))

/**
 * The lean effect-flow adapter.
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
  name: "effect-flow (lean handlers)",
  kind: "engine",
  how: "as effect-flow, written as the README's Performance section says: `Event.TaggedData` events, `ctx.sendAll`, and `map` / `flatMap` handlers instead of `Effect.gen`",
  packages: ["effect"],
  make: (workers, work) => {
    const wf = benchWorkflow("bench-lean")
      .step(
        StartEvent,
        (ev, ctx) => Effect.andThen(ctx.store.set("total", ev.items.length), ctx.sendAll(itemEvents(ev.items))),
        { name: "dispatch", emits: [ItemEvent] }
      )
      .step(ItemEvent, worker(work), { name: "work", workers, emits: [DoneEvent] })
      .step(
        DoneEvent,
        (ev, ctx) =>
          Effect.flatMap(ctx.store.get("total"), (total) =>
            Effect.map(ctx.collect(ev, total), (all) =>
              Option.isSome(all) ? new StopEvent({ result: resultsOf(all.value) }) : undefined
            )
          ),
        { name: "collect", emits: [StopEvent] }
      )
    return flowRunner(wf)
  }
}
