/**
 * Example `accumulator`: parallel workers accumulating into shared state. Each of the 4 workers appends
 * `{ index, result }` to the run's state through `ctx.store.edit`, an atomic read-modify-write (the
 * lesson's `async with ctx.store.edit_state()`), so no worker's append can overwrite another's.
 *
 * Run it: `npm run example -- accumulator`
 *
 * @since 0.1.0
 */

import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Effect, Option, Schema } from "effect"

/**
 * One item to analyse.
 *
 * @example
 * ```ts
 * new ItemEvent({ item: "alpha", index: 0 })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class ItemEvent extends Schema.TaggedClass<ItemEvent>()("ItemEvent", {
  item: Schema.String,
  index: Schema.Number
}) {}

/**
 * Says that item `index` has been analysed and its result accumulated in the state.
 *
 * @example
 * ```ts
 * new ProcessedEvent({ index: 0 })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class ProcessedEvent extends Schema.TaggedClass<ProcessedEvent>()("ProcessedEvent", {
  index: Schema.Number
}) {}

/**
 * One accumulated result.
 *
 * @example
 * ```ts
 * const entry: typeof Entry.Type = { index: 0, result: "alpha: 5 letters" }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Entry = Schema.Struct({ index: Schema.Number, result: Schema.String })

/**
 * The run's state: the results accumulated so far, in the order the workers finished.
 *
 * @example
 * ```ts
 * const initial: typeof State.Type = { total_items: 0, results: [] }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const State = Schema.Struct({ total_items: Schema.Number, results: Schema.Array(Entry) })

/**
 * The lesson's `self.analyze`: a simulated LLM call whose latency (50 to 250 ms) depends on the item,
 * so workers finish in a mixed order.
 *
 * @example
 * ```ts
 * yield* analyze("alpha") // "alpha: 5 letters"
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const analyze = (item: string): Effect.Effect<string> => {
  let hash = 0
  for (const char of item) hash = (hash * 31 + char.charCodeAt(0)) % 1_000_003
  return Effect.succeed(`${item}: ${item.length} letters`).pipe(Effect.delay(`${50 * (1 + (hash % 5))} millis`))
}

/**
 * The steps around the accumulating worker: `dispatch` stores the count and sends the items;
 * `collect_results` waits for one `ProcessedEvent` per item and returns the accumulated state.
 * Add a step that accepts `ItemEvent` to complete it.
 *
 * @example
 * ```ts
 * const wf = AccumulatorBase.step(ItemEvent, (ev, ctx) => ..., { name: "process_item", workers: 4 })
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const AccumulatorBase = defineWorkflow({
  name: "parallel-accumulator",
  input: Schema.Struct({ items: Schema.Array(Schema.String) }),
  state: State,
  initialState: { total_items: 0, results: [] }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("total_items", ev.items.length)
        for (const [index, item] of ev.items.entries()) yield* ctx.send(new ItemEvent({ item, index }))
      }),
    { name: "dispatch", emits: [ItemEvent] }
  )
  .step(
    ProcessedEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const total = yield* ctx.store.get("total_items")
        const done = yield* ctx.collect(ev, total)
        if (Option.isNone(done)) return
        return new StopEvent({ result: yield* ctx.store.get("results") })
      }),
    { name: "collect_results", emits: [StopEvent] }
  )

/**
 * The lesson's `ParallelAccumulatorWorkflow`: `process_item` (4 workers) analyses an item, then appends
 * its result with one atomic `ctx.store.edit`. The run's result is the accumulated list.
 *
 * @example
 * ```ts
 * const results = yield* Workflow.run(ParallelAccumulatorWorkflow, { items: ["alpha", "beta"] })
 * // [{ index, result }, ...] for both items, in the order the workers finished
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const ParallelAccumulatorWorkflow = AccumulatorBase.step(
  ItemEvent,
  (ev, ctx) =>
    Effect.gen(function* () {
      const result = yield* analyze(ev.item)
      // Atomic: no other worker's edit (or set) runs between reading `state` and writing the new one.
      yield* ctx.store.edit((state) =>
        Effect.succeed({ ...state, results: [...state.results, { index: ev.index, result }] })
      )
      return new ProcessedEvent({ index: ev.index })
    }),
  { name: "process_item", workers: 4, emits: [ProcessedEvent] }
)

/**
 * The items `main` analyses.
 *
 * @example
 * ```ts
 * yield* Workflow.run(ParallelAccumulatorWorkflow, { items }) // 8 entries, one per item
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const items: ReadonlyArray<string> = ["alpha", "beta", "gamma", "delta", "epsilon", "zeta", "eta", "theta"]

/**
 * Run the accumulator on {@link items} and print the state it built, in finishing order.
 *
 * @example
 * ```ts
 * NodeRuntime.runMain(main)
 * // Accumulated 8 results from 4 workers (finishing order):
 * //   #2 gamma: 5 letters
 * //   ...
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const main = Effect.gen(function* () {
  const results = yield* Workflow.run(ParallelAccumulatorWorkflow, { items })
  yield* Console.log(`Accumulated ${results.length} results from 4 workers (finishing order):`)
  for (const r of results) yield* Console.log(`  #${r.index} ${r.result}`)
})
