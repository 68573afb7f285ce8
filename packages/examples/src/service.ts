/**
 * Example `service`: a step that uses an existing Effect service. The `summarize` step asks for the
 * `Summarizer` service (`yield* Summarizer`); the requirement shows up in the type of `Workflow.run`
 * (`Effect<..., ..., Summarizer>`), and the caller provides it with a Layer, like for any Effect:
 * `Workflow.run(wf, input).pipe(Effect.provide(Summarizer.layer))`. Tests provide a test Layer instead.
 *
 * Run it: `npm run example -- service`
 *
 * @since 0.1.0
 */

import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Context, Effect, Layer, Option, Schema } from "effect"
import { Document, documents } from "./document-analysis.ts"

/**
 * The typed failure of a `Summarizer`.
 *
 * @example
 * ```ts
 * new SummarizerError({ reason: "empty text" }).message // "Summarizer failed: empty text"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class SummarizerError extends Schema.TaggedError<SummarizerError>()("SummarizerError", {
  reason: Schema.String
}) {
  override get message() {
    return `Summarizer failed: ${this.reason}`
  }
}

/**
 * A service that summarises text, standing in for an LLM client. `Summarizer.layer` is the simulated
 * implementation: 0.2 s per call, and the summary is the text's first five words.
 *
 * @example
 * ```ts
 * const summary = yield* Summarizer.use((s) => s.summarize("First document with some content about AI."))
 * // "First document with some content…"
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class Summarizer extends Context.Service<
  Summarizer,
  {
    readonly summarize: (text: string) => Effect.Effect<string, SummarizerError>
  }
>()("@effect-flow/examples/Summarizer") {
  static readonly layer: Layer.Layer<Summarizer> = Layer.succeed(Summarizer, {
    summarize: Effect.fn("Summarizer.summarize")(function* (text: string) {
      yield* Effect.sleep("200 millis")
      const words = text.split(/\s+/).filter((w) => w.length > 0)
      if (words.length === 0) return yield* new SummarizerError({ reason: "empty text" })
      return words.length <= 5 ? words.join(" ") : `${words.slice(0, 5).join(" ")}…`
    })
  })
}

/**
 * One document to summarise.
 *
 * @example
 * ```ts
 * new SummarizeEvent({ doc_id: "doc1", content: "..." })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class SummarizeEvent extends Schema.TaggedClass<SummarizeEvent>()("SummarizeEvent", {
  doc_id: Schema.String,
  content: Schema.String
}) {}

/**
 * The summary of one document.
 *
 * @example
 * ```ts
 * new SummaryEvent({ doc_id: "doc1", summary: "..." })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class SummaryEvent extends Schema.TaggedClass<SummaryEvent>()("SummaryEvent", {
  doc_id: Schema.String,
  summary: Schema.String
}) {}

/**
 * Summarise documents in parallel (3 workers) with the `Summarizer` service. The result maps each
 * document id to its summary, in input order. `Workflow.run` of it requires `Summarizer` and may fail
 * with `SummarizerError`.
 *
 * @example
 * ```ts
 * const summaries = yield* Workflow.run(SummarizeWorkflow, { documents }).pipe(Effect.provide(Summarizer.layer))
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const SummarizeWorkflow = defineWorkflow({
  name: "summarize",
  input: Schema.Struct({ documents: Schema.Array(Document) }),
  state: Schema.Struct({ order: Schema.Array(Schema.String) }),
  initialState: { order: [] }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        // Remember the input order: the summaries arrive in finishing order.
        const order = ev.documents.map((d) => d.id)
        yield* ctx.store.set("order", order)
        for (const doc of ev.documents) yield* ctx.send(new SummarizeEvent({ doc_id: doc.id, content: doc.content }))
      }),
    { name: "dispatch", emits: [SummarizeEvent] }
  )
  .step(
    SummarizeEvent,
    (ev) =>
      Effect.gen(function* () {
        const summarizer = yield* Summarizer // the requirement flows into the workflow's type
        const summary = yield* summarizer.summarize(ev.content)
        return new SummaryEvent({ doc_id: ev.doc_id, summary })
      }),
    { name: "summarize", workers: 3, emits: [SummaryEvent] }
  )
  .step(
    SummaryEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const order = yield* ctx.store.get("order")
        const summaries = yield* ctx.collect(ev, order.length)
        if (Option.isNone(summaries)) return
        const byId = new Map(summaries.value.map((s) => [s.doc_id, s.summary]))
        const result: ReadonlyArray<{ readonly doc_id: string; readonly summary: string }> = order.map((doc_id) => ({
          doc_id,
          summary: byId.get(doc_id) ?? ""
        }))
        return new StopEvent({ result })
      }),
    { name: "collect_summaries", emits: [StopEvent] }
  )

/**
 * Summarise the lesson's four documents and print the summaries. `program` requires `Summarizer`;
 * `main` provides `Summarizer.layer`.
 *
 * @example
 * ```ts
 * yield* program.pipe(Effect.provide(testLayer)) // in a test, with a test Layer
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const program = Effect.gen(function* () {
  const summaries = yield* Workflow.run(SummarizeWorkflow, { documents })
  for (const s of summaries) yield* Console.log(`${s.doc_id}: ${s.summary}`)
})

/**
 * {@link program} with the simulated `Summarizer.layer` provided.
 *
 * @example
 * ```ts
 * NodeRuntime.runMain(main)
 * // doc1: First document with some content…
 * // ...
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const main = program.pipe(Effect.provide(Summarizer.layer))
