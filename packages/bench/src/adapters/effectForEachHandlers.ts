/**
 * A floor for the engine's own cost: the lean effect-flow row's events and handlers, called for each item under
 * `Effect.forEach` with W in flight, with no engine between them. The worker handler is the lean row's own
 * (`worker`); the collector does what the lean row's does (read the count, offer the event to a buffer and, at the
 * last one, map the buffer to the results with the same `resultsOf`), with `Effect.sync` where the lean row calls
 * `ctx.store.get` and `ctx.collect`. What the lean row costs above this is what routing, mailboxes and worker
 * fibers cost.
 *
 * @since 0.1.0
 */
import { Effect, Option } from "effect"
import { type Adapter, effectRunner } from "../adapter.ts"
import type { Result } from "../workload.ts"
import { type DoneEvent, ItemEvent, resultsOf, worker } from "./effectFlowLean.ts"

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
  name: "Effect.forEach with the workflow's handlers",
  kind: "floor",
  how: "`Effect.forEach(items, f, { concurrency: W })` where `f` runs the lean row's worker handler and then a collector doing what the lean row's does, on the same events, with a plain buffer for `ctx.collect`: the lean row's work with no routing, mailboxes or worker fibers",
  packages: ["effect"],
  make: (workers, work) => {
    const work_ = worker(work)
    return effectRunner((items) =>
      Effect.suspend(() => {
        // One run's state and collect buffer, as the engine keeps them per run.
        const state = { total: items.length }
        const buffer: Array<DoneEvent> = []
        let result: ReadonlyArray<Result> = []
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
                if (Option.isSome(all)) result = resultsOf(all.value)
              })
          )
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
