/**
 * Example `parallel`, the seed lesson's first workflow: fan-out with `ctx.send`, a pool of 4 workers
 * (`workers: 4`), and fan-in with `ctx.collect`. Eight items of 0.5 s each take 1 s, not 4.
 *
 * Run it: `npm run example -- parallel`
 *
 * @since 0.1.0
 */

import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Duration, Effect, Option, Schema } from "effect"

/**
 * One item to process, with its position in the input.
 *
 * @example
 * ```ts
 * new ItemEvent({ item: "doc1", index: 0 })
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
 * The result of processing one item; `index` restores the input order after collection.
 *
 * @example
 * ```ts
 * new ProcessedEvent({ result: "Processed: doc1", index: 0 })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class ProcessedEvent extends Schema.TaggedClass<ProcessedEvent>()("ProcessedEvent", {
  result: Schema.String,
  index: Schema.Number
}) {}

/**
 * The lesson's `ParallelWorkflow`: `dispatch` stores the count and sends one `ItemEvent` per item,
 * `process_item` handles up to 4 at once (0.5 s each), `collect_results` waits for all of them and
 * returns the results in input order.
 *
 * @example
 * ```ts
 * const results = yield* Workflow.run(ParallelWorkflow, { items: ["doc1", "doc2", "doc3"] })
 * // ["Processed: doc1", "Processed: doc2", "Processed: doc3"]
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const ParallelWorkflow = defineWorkflow({
  name: "parallel",
  input: Schema.Struct({ items: Schema.Array(Schema.String) }),
  state: Schema.Struct({ total_items: Schema.Number }),
  initialState: { total_items: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        // Store the count first, then dispatch: the collector reads it.
        yield* ctx.store.set("total_items", ev.items.length)
        for (const [index, item] of ev.items.entries()) yield* ctx.send(new ItemEvent({ item, index }))
      }),
    { name: "dispatch", emits: [ItemEvent] }
  )
  .step(
    ItemEvent,
    (ev) =>
      // Simulated async work; up to 4 invocations run at once.
      Effect.succeed(new ProcessedEvent({ result: `Processed: ${ev.item}`, index: ev.index })).pipe(
        Effect.delay("500 millis")
      ),
    { name: "process_item", workers: 4, emits: [ProcessedEvent] }
  )
  .step(
    ProcessedEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const total = yield* ctx.store.get("total_items")
        const results = yield* ctx.collect(ev, total)
        if (Option.isNone(results)) return // not all events received yet
        const sorted = [...results.value].sort((a, b) => a.index - b.index)
        return new StopEvent({ result: sorted.map((r) => r.result) })
      }),
    { name: "collect_results", emits: [StopEvent] }
  )

/**
 * The items `main` processes: eight, so the 4 workers run two rounds.
 *
 * @example
 * ```ts
 * yield* Workflow.run(ParallelWorkflow, { items }) // ["Processed: doc1", ..., "Processed: doc8"]
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const items: ReadonlyArray<string> = Array.from({ length: 8 }, (_, i) => `doc${i + 1}`)

/**
 * Run the workflow on {@link items} and print each result and the time it took.
 *
 * @example
 * ```ts
 * NodeRuntime.runMain(main)
 * // Processed: doc1
 * // ...
 * // Processed: doc8
 * // 8 items, 4 workers, 0.5 s each: 1.0 s (one at a time: 4 s)
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const main = Effect.gen(function* () {
  const [elapsed, results] = yield* Effect.timed(Workflow.run(ParallelWorkflow, { items }))
  for (const result of results) yield* Console.log(result)
  const seconds = (Duration.toMillis(elapsed) / 1000).toFixed(1)
  yield* Console.log(
    `${items.length} items, 4 workers, 0.5 s each: ${seconds} s (one at a time: ${items.length * 0.5} s)`
  )
})
