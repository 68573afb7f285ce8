/**
 * Example `mixed-results`: collecting two event types in one fan-in. A step that accepts
 * `[SuccessEvent, ErrorEvent]` and calls `ctx.collect(ev, total)` gets `total` events of either type.
 * The lesson's literal `[SuccessEvent, ErrorEvent] * total` asks for `total` of *each*, which can never
 * arrive: effect-flow fails that run at once with a `WorkflowStalledError` saying what the collect holds
 * and needs (LlamaIndex would wait until its timeout).
 *
 * Run it: `npm run example -- mixed-results`
 *
 * @since 0.1.0
 */

import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Effect, Option, Schema } from "effect"

/**
 * One item to process.
 *
 * @example
 * ```ts
 * new ItemEvent({ item: "21", index: 0 })
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
 * An item processed successfully.
 *
 * @example
 * ```ts
 * new SuccessEvent({ result: "21 * 2 = 42" })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class SuccessEvent extends Schema.TaggedClass<SuccessEvent>()("SuccessEvent", {
  result: Schema.String
}) {}

/**
 * An item whose processing failed, as data.
 *
 * @example
 * ```ts
 * new ErrorEvent({ error: `"three" is not a number` })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class ErrorEvent extends Schema.TaggedClass<ErrorEvent>()("ErrorEvent", {
  error: Schema.String
}) {}

/**
 * The typed failure of {@link someOperation}.
 *
 * @example
 * ```ts
 * new OperationError({ item: "three" }).message // `"three" is not a number`
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class OperationError extends Schema.TaggedError<OperationError>()("OperationError", {
  item: Schema.String
}) {
  override get message() {
    return `"${this.item}" is not a number`
  }
}

/**
 * The lesson's `some_operation`, made deterministic: doubles a numeric item after 0.1 s, and fails with
 * {@link OperationError} for anything that is not a number.
 *
 * @example
 * ```ts
 * yield* someOperation("21") // "21 * 2 = 42"
 * yield* someOperation("three") // fails with OperationError
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const someOperation = (item: string): Effect.Effect<string, OperationError> =>
  Effect.gen(function* () {
    yield* Effect.sleep("100 millis")
    const n = Number(item)
    if (item.trim() === "" || !Number.isFinite(n)) return yield* new OperationError({ item })
    return `${item} * 2 = ${n * 2}`
  })

/**
 * The part both variants share: `dispatch` stores the count and sends the items; `process` turns each
 * into a `SuccessEvent` or, when `someOperation` fails, an `ErrorEvent` (the failure becomes data, so
 * the run goes on).
 *
 * @example
 * ```ts
 * const mine = MixedResultsBase.step([SuccessEvent, ErrorEvent], (ev, ctx) => ..., { name: "collect", emits: [StopEvent] })
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const MixedResultsBase = defineWorkflow({
  name: "mixed-results",
  input: Schema.Struct({ items: Schema.Array(Schema.String) }),
  state: Schema.Struct({ total_items: Schema.Number }),
  initialState: { total_items: 0 }
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
    ItemEvent,
    (ev) =>
      someOperation(ev.item).pipe(
        Effect.map((result): SuccessEvent | ErrorEvent => new SuccessEvent({ result })),
        Effect.catchTag("OperationError", (e) => Effect.succeed(new ErrorEvent({ error: e.message })))
      ),
    { name: "process", emits: [SuccessEvent, ErrorEvent] }
  )

/**
 * What {@link MixedResultsWorkflow} returns.
 *
 * @example
 * ```ts
 * const r: MixedResults = { successes: 1, errors: 1, results: ["21 * 2 = 42"] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MixedResults {
  readonly successes: number
  readonly errors: number
  readonly results: ReadonlyArray<string>
}

const summarize = (events: ReadonlyArray<SuccessEvent | ErrorEvent>): MixedResults => {
  const successes = events.filter((r): r is SuccessEvent => r._tag === "SuccessEvent")
  return {
    successes: successes.length,
    errors: events.length - successes.length,
    results: successes.map((s) => s.result)
  }
}

/**
 * The lesson's `MixedResultsWorkflow`, with the count that matches what is dispatched: one event per
 * item, of either type, so `ctx.collect(ev, total)`.
 *
 * @example
 * ```ts
 * yield* Workflow.run(MixedResultsWorkflow, { items: ["21", "three"] })
 * // { successes: 1, errors: 1, results: ["21 * 2 = 42"] }
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const MixedResultsWorkflow = MixedResultsBase.step(
  [SuccessEvent, ErrorEvent],
  (ev, ctx) =>
    Effect.gen(function* () {
      const total = yield* ctx.store.get("total_items")
      const results = yield* ctx.collect(ev, total) // `total` events, each a SuccessEvent or an ErrorEvent
      if (Option.isNone(results)) return
      return new StopEvent({ result: summarize(results.value) })
    }),
  { name: "collect", emits: [StopEvent] }
)

/**
 * The lesson's literal form, `[SuccessEvent, ErrorEvent] * total`: it waits for `total` SuccessEvents
 * *and* `total` ErrorEvents, twice as many events as are ever dispatched. Kept to show the
 * `WorkflowStalledError` it ends with.
 *
 * @example
 * ```ts
 * yield* Workflow.run(MixedResultsLiteralWorkflow, { items: ["21", "three"] })
 * // fails: step "collect" is collecting: it holds 1 SuccessEvent, 1 ErrorEvent but needs 2 SuccessEvent, 2 ErrorEvent
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const MixedResultsLiteralWorkflow = MixedResultsBase.step(
  [SuccessEvent, ErrorEvent],
  (ev, ctx) =>
    Effect.gen(function* () {
      const total = yield* ctx.store.get("total_items")
      const results = yield* ctx.collect(ev, Array.from({ length: total }, () => [SuccessEvent, ErrorEvent]).flat())
      if (Option.isNone(results)) return
      return new StopEvent({ result: summarize(results.value) })
    }),
  { name: "collect", emits: [StopEvent] }
)

/**
 * The items `main` processes: three numbers and two words.
 *
 * @example
 * ```ts
 * yield* Workflow.run(MixedResultsWorkflow, { items }) // { successes: 3, errors: 2, results: [...] }
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const items: ReadonlyArray<string> = ["21", "7", "three", "100", "five"]

/**
 * Run the correct workflow and print its counts and results, then run the literal form and print the
 * stall it ends with.
 *
 * @example
 * ```ts
 * NodeRuntime.runMain(main)
 * // Successes: 3
 * // Errors: 2
 * // ...
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const main = Effect.gen(function* () {
  const result = yield* Workflow.run(MixedResultsWorkflow, { items })
  yield* Console.log(`Successes: ${result.successes}`)
  yield* Console.log(`Errors: ${result.errors}`)
  for (const r of result.results) yield* Console.log(`  ✓ ${r}`)
  yield* Console.log("")
  yield* Console.log("The lesson's literal [SuccessEvent, ErrorEvent] * total:")
  const stalled = yield* Workflow.run(MixedResultsLiteralWorkflow, { items }).pipe(
    Effect.map(() => "it finished (unexpected)"),
    Effect.catchTag("WorkflowStalledError", (e) => Effect.succeed(e.message))
  )
  yield* Console.log(stalled)
})
