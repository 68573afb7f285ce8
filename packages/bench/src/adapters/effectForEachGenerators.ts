/**
 * A floor for the documented style's own engine cost, as `effectForEachHandlers.ts` is for the lean row: the
 * generator-handler row's events and handlers, called for each item under `Effect.forEach` with W in flight, with no
 * engine between them. Each item's `ItemEvent` is made as the dispatch step makes it; the worker is the row's own
 * generator function (`worker`), run as `Effect.fnUntraced` runs a generator; the collector is a generator doing what
 * the row's does (read the count, offer the event to a buffer and, at the last one, map the buffer to the results with
 * the same `resultsOf`), with `Effect.sync` where the row calls `ctx.store.get` and `ctx.collect`. What the
 * documented-style row costs above this is what the engine costs it.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { type Adapter, effectRunner } from "../adapter.ts"
import type { Result } from "../workload.ts"
import { type DoneEvent, ItemEvent, resultsOf, worker } from "./effectFlowGen.ts"

/**
 * The floor adapter: `Effect.forEach` over the items, each running the worker generator and then the collector.
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
  name: "Effect.forEach with the documented style's handlers",
  kind: "floor",
  how: "`Effect.forEach(items, f, { concurrency: W })` where `f` makes the item's `ItemEvent`, runs the generator-handler row's worker generator with `Effect.fnUntraced` and then a collector generator doing what that row's does, with a plain buffer for `ctx.collect`: the documented style's work with no engine",
  packages: ["effect"],
  make: (workers, work) => {
    const work_ = Effect.fnUntraced(worker(work))
    return effectRunner((items) =>
      Effect.suspend(() => {
        // One run's state and collect buffer, as the engine keeps them per run.
        const state = { total: items.length }
        const buffer: Array<DoneEvent> = []
        let result: ReadonlyArray<Result> = []
        const collector = Effect.fnUntraced(function* (ev: DoneEvent) {
          const total = yield* Effect.sync(() => state.total)
          const all = yield* Effect.sync(() => {
            buffer.push(ev)
            return buffer.length >= total ? Option.some(buffer) : Option.none()
          })
          if (Option.isSome(all)) result = resultsOf(all.value)
        })
        return Effect.andThen(
          Effect.forEach(items, (index) => Effect.flatMap(work_(new ItemEvent({ index })), collector), {
            concurrency: workers,
            discard: true
          }),
          Effect.sync(() => result)
        )
      })
    )
  }
}
