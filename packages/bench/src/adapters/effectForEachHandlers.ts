/**
 * A floor for the engine's own cost: the lean effect-flow row's events and handler bodies, called for each item
 * under `Effect.forEach` with W in flight, with no engine between them. The worker's `Effect.map` makes a
 * `DoneEvent` from an `ItemEvent`; the collector's reads the count, offers the event to a buffer and, at the
 * last one, maps the buffer to the results: the same effects the lean row's handlers run. What the lean row costs
 * above this is what routing, mailboxes and worker fibers cost.
 *
 * @since 0.1.0
 */
import { Data, Effect, Option } from "effect"
import { type Adapter, effectRunner } from "../adapter.ts"
import type { Result } from "../workload.ts"

class ItemEvent extends Data.TaggedClass("ItemEvent")<{ readonly index: number }> {}

class DoneEvent extends Data.TaggedClass("DoneEvent")<{ readonly index: number; readonly value: number }> {}

/**
 * The floor adapter: `Effect.forEach` over the items, each running the worker handler and then the collector
 * handler.
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
  name: "Effect.forEach with the workflow's handlers",
  kind: "floor",
  how: "`Effect.forEach(items, f, { concurrency: W })` where `f` runs the lean row's worker handler and then its collector handler on the item, with the same events (`Data.TaggedClass`) and a plain buffer for `ctx.collect`: the lean row's work with no routing, mailboxes or worker fibers",
  packages: ["effect"],
  make: (workers, work) =>
    effectRunner((items) =>
      Effect.suspend(() => {
        // One run's state and collect buffer, as the engine keeps them per run.
        const state = { total: items.length }
        const buffer: Array<DoneEvent> = []
        let result: ReadonlyArray<Result> = []
        const worker = (ev: ItemEvent) =>
          Effect.map(work.effect(ev.index), (value) => new DoneEvent({ index: ev.index, value }))
        const collect = (ev: DoneEvent, need: number) =>
          Effect.sync(() => {
            buffer.push(ev)
            return buffer.length >= need ? Option.some(buffer) : Option.none()
          })
        const collector = (ev: DoneEvent) =>
          Effect.flatMap(
            Effect.sync(() => state.total),
            (total) =>
              Effect.map(collect(ev, total), (all) => {
                if (Option.isSome(all)) result = all.value.map((d): Result => ({ index: d.index, value: d.value }))
              })
          )
        return Effect.andThen(
          Effect.forEach(items, (index) => Effect.flatMap(worker(new ItemEvent({ index })), collector), {
            concurrency: workers,
            discard: true
          }),
          Effect.sync(() => result)
        )
      })
    )
}
