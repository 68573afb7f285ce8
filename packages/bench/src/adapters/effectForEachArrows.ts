/**
 * A floor for the `Effect.gen`-arrow row (`effectFlow.ts`), as `effectForEachGenerators.ts` is for the documented
 * style: that row's events and handlers under `Effect.forEach` with W in flight, with no engine. Each item's
 * `ItemEvent` is made as the dispatch step makes it; the worker is the row's own handler (`worker`); the collector is
 * an `Effect.gen` arrow doing what the row's does, with `Effect.sync` where the row calls `ctx.store.get` and
 * `ctx.collect`. Set beside the documented style's floor, it says how far apart Effect itself puts the two ways of
 * writing the same handlers.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { type Adapter, effectRunner } from "../adapter.ts"
import type { Result } from "../workload.ts"
import { type DoneEvent, ItemEvent, worker } from "./effectFlow.ts"

/**
 * The floor adapter: `Effect.forEach` over the items, each running the worker handler and then the collector.
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
  name: "Effect.forEach with the arrow row's handlers",
  kind: "floor",
  how: "`Effect.forEach(items, f, { concurrency: W })` where `f` makes the item's `ItemEvent`, runs the `Effect.gen`-arrow row's worker handler and then an `Effect.gen` arrow collector doing what that row's does, with a plain buffer for `ctx.collect`: the arrow row's work with no engine",
  packages: ["effect"],
  make: (workers, work) => {
    const work_ = worker(work)
    return effectRunner((items) =>
      Effect.suspend(() => {
        // One run's state and collect buffer, as the engine keeps them per run.
        const state = { total: items.length }
        const buffer: Array<DoneEvent> = []
        let result: ReadonlyArray<Result> = []
        const collector = (ev: DoneEvent) =>
          Effect.gen(function* () {
            const total = yield* Effect.sync(() => state.total)
            const all = yield* Effect.sync(() => {
              buffer.push(ev)
              return buffer.length >= total ? Option.some(buffer) : Option.none()
            })
            if (Option.isNone(all)) return
            result = all.value.map((d): Result => ({ index: d.index, value: d.value }))
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
