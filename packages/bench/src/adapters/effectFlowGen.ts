/**
 * effect-flow in the documented style (issue 15's "documented style" row): handlers written as generator functions
 * (`.step(A, function* (ev, ctx) { ... })`, which the engine wraps once), `Schema.TaggedClass` events, and a
 * `yield* ctx.send` per item in the dispatch step. The same dispatch / worker / collector workflow as
 * `effectFlow.ts`, whose `Effect.gen`-arrow handlers are what this row is compared against.
 *
 * @since 0.1.0
 */
import { StartEvent, StopEvent } from "@effect-flow/core"
import { Option, Schema } from "effect"
import type { Adapter } from "../adapter.ts"
import type { Result, Work } from "../workload.ts"
import { benchWorkflow, flowRunner } from "./flowShared.ts"

/** What the dispatch step sends per item. */
export class ItemEvent extends Schema.TaggedClass<ItemEvent>()("ItemEvent", { index: Schema.Number }) {}

/** What the worker step returns per item. */
export class DoneEvent extends Schema.TaggedClass<DoneEvent>()("DoneEvent", {
  index: Schema.Number,
  value: Schema.Number
}) {}

/**
 * The worker step's handler, in the documented style; the floor `effectForEachGenerators.ts` runs this same
 * function with no engine.
 *
 * @example
 * ```ts
 * .step(ItemEvent, worker(noop), { name: "work", workers: 4, emits: [DoneEvent] })
 * ```
 *
 * @since 0.1.0
 */
export const worker = (work: Work) =>
  function* (ev: ItemEvent) {
    const value = yield* work.effect(ev.index)
    return new DoneEvent({ index: ev.index, value })
  }

/** The run's results from the collected events, as the collector returns them. */
export const resultsOf = (all: ReadonlyArray<DoneEvent>): ReadonlyArray<Result> =>
  all.map((d): Result => ({ index: d.index, value: d.value }))

/**
 * The documented-style adapter.
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
  name: "effect-flow (generator handlers)",
  kind: "engine",
  how: "the documented style: handlers written `function* (ev, ctx) { ... }`, `Schema.TaggedClass` events, a `yield* ctx.send` per item",
  packages: ["effect"],
  make: (workers, work) => {
    const wf = benchWorkflow("bench-gen")
      .step(
        StartEvent,
        function* (ev, ctx) {
          yield* ctx.store.set("total", ev.items.length)
          for (const index of ev.items) yield* ctx.send(new ItemEvent({ index }))
        },
        { name: "dispatch", emits: [ItemEvent] }
      )
      .step(ItemEvent, worker(work), { name: "work", workers, emits: [DoneEvent] })
      .step(
        DoneEvent,
        function* (ev, ctx) {
          const total = yield* ctx.store.get("total")
          const all = yield* ctx.collect(ev, total)
          if (Option.isNone(all)) return
          return new StopEvent({ result: resultsOf(all.value) })
        },
        { name: "collect", emits: [StopEvent] }
      )
    return flowRunner(wf)
  }
}
