/**
 * The engine: the seed's fan-out / fan-in. A dispatch step `ctx.send`s one event per item, a worker step
 * with W workers handles them, a collector `ctx.collect`s all N and returns the StopEvent.
 */

import * as Core from "@effect-flow/core"
import { Effect, Option, Schema } from "effect"
import type { Adapter, Runner } from "../adapter.ts"
import type { Result, Work } from "../workload.ts"
import { flowRunner } from "./flowShared.ts"

/** What the dispatch step sends per item. */
export class ItemEvent extends Schema.TaggedClass<ItemEvent>()("ItemEvent", { index: Schema.Number }) {}

/** What the worker step returns per item. */
export class DoneEvent extends Schema.TaggedClass<DoneEvent>()("DoneEvent", {
  index: Schema.Number,
  value: Schema.Number
}) {}

/**
 * The worker step's handler, as REFERENCE.md writes one; the floor `effectForEachArrows.ts` runs this same function
 * with no engine.
 *
 * @example
 * ```ts
 * .step(ItemEvent, worker(noop), { name: "work", workers: 4, emits: [DoneEvent] })
 * ```
 *
 * @since 0.1.0
 */
export const worker =
  (work: Work) =>
  (ev: ItemEvent): Effect.Effect<DoneEvent> =>
    Effect.map(work.effect(ev.index), (value) => new DoneEvent({ index: ev.index, value }))

/**
 * The workflow written as REFERENCE.md writes workflows (`Effect.gen` arrows), on `core`: this package's engine, or
 * another copy of its sources (`engines.ts`: the engine as issue 15 was filed, measured in the same run).
 *
 * @since 0.1.0
 */
export const arrowOn =
  (core: typeof Core) =>
  (workers: number, work: Work): Runner => {
    const wf = core
      .defineWorkflow({
        name: "bench",
        input: Schema.Struct({ items: Schema.Array(Schema.Number) }),
        state: Schema.Struct({ total: Schema.Number }),
        initialState: { total: 0 }
      })
      .step(
        core.StartEvent,
        (ev, ctx) =>
          Effect.gen(function* () {
            yield* ctx.store.set("total", ev.items.length)
            for (const index of ev.items) yield* ctx.send(new ItemEvent({ index }))
          }),
        { name: "dispatch", emits: [ItemEvent] }
      )
      .step(ItemEvent, worker(work), { name: "work", workers, emits: [DoneEvent] })
      .step(
        DoneEvent,
        (ev, ctx) =>
          Effect.gen(function* () {
            const total = yield* ctx.store.get("total")
            const all = yield* ctx.collect(ev, total)
            if (Option.isNone(all)) return
            return new core.StopEvent({ result: all.value.map((d): Result => ({ index: d.index, value: d.value })) })
          }),
        { name: "collect", emits: [core.StopEvent] }
      )
    return flowRunner(wf as Parameters<typeof flowRunner>[0])
  }

export const adapter: Adapter = {
  name: "effect-flow",
  kind: "engine",
  how: "dispatch step `ctx.send`s N events, worker step with `workers: W`, collector `ctx.collect(ev, N)` → `StopEvent`",
  packages: ["effect"],
  make: arrowOn(Core)
}
