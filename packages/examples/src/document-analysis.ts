/**
 * Example `document-analysis`, the lesson's complete fan-out / fan-in pattern: `fan_out` sends one
 * `DocumentEvent` per document, `analyze_document` (5 workers, a simulated 0.3 s LLM call) summarises
 * and counts words, `fan_in` collects every analysis and aggregates them.
 *
 * Run it: `npm run example -- document-analysis`
 *
 * @since 0.1.0
 */

import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Effect, Option, Schema } from "effect"

/**
 * One document to analyse.
 *
 * @example
 * ```ts
 * new DocumentEvent({ doc_id: "doc1", content: "First document with some content about AI." })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class DocumentEvent extends Schema.TaggedClass<DocumentEvent>()("DocumentEvent", {
  doc_id: Schema.String,
  content: Schema.String
}) {}

/**
 * The analysis of one document.
 *
 * @example
 * ```ts
 * new AnalyzedEvent({ doc_id: "doc1", summary: "Summary of doc1: ...", word_count: 7 })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class AnalyzedEvent extends Schema.TaggedClass<AnalyzedEvent>()("AnalyzedEvent", {
  doc_id: Schema.String,
  summary: Schema.String,
  word_count: Schema.Number
}) {}

/**
 * A document as the caller passes it: `{ id, content }`.
 *
 * @example
 * ```ts
 * const doc: typeof Document.Type = { id: "doc1", content: "First document with some content about AI." }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Document = Schema.Struct({ id: Schema.String, content: Schema.String })

/**
 * The number of words in a text, as Python's `len(text.split())` counts them (runs of whitespace
 * separate words; leading and trailing whitespace is ignored).
 *
 * @example
 * ```ts
 * wordCount("  Second document\tdiscussing machine learning. ") // 5
 * ```
 *
 * @since 0.1.0
 * @category utils
 */
export const wordCount = (text: string): number => text.split(/\s+/).filter((word) => word.length > 0).length

/**
 * The lesson's `DocumentAnalysisWorkflow`. Its result is
 * `{ documents_analyzed, total_words, summaries: { [doc_id]: summary } }`.
 *
 * @example
 * ```ts
 * const result = yield* Workflow.run(DocumentAnalysisWorkflow, { documents })
 * result.total_words // 21 for the lesson's four documents
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const DocumentAnalysisWorkflow = defineWorkflow({
  name: "document-analysis",
  input: Schema.Struct({ documents: Schema.Array(Document) }),
  state: Schema.Struct({ doc_count: Schema.Number }),
  initialState: { doc_count: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("doc_count", ev.documents.length)
        for (const doc of ev.documents) yield* ctx.send(new DocumentEvent({ doc_id: doc.id, content: doc.content }))
      }),
    { name: "fan_out", emits: [DocumentEvent] }
  )
  .step(
    DocumentEvent,
    (ev) =>
      Effect.gen(function* () {
        yield* Effect.sleep("300 millis") // simulated LLM call
        return new AnalyzedEvent({
          doc_id: ev.doc_id,
          summary: `Summary of ${ev.doc_id}: ${ev.content.slice(0, 50)}...`,
          word_count: wordCount(ev.content)
        })
      }),
    { name: "analyze_document", workers: 5, emits: [AnalyzedEvent] }
  )
  .step(
    AnalyzedEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const docCount = yield* ctx.store.get("doc_count")
        const results = yield* ctx.collect(ev, docCount)
        if (Option.isNone(results)) return
        return new StopEvent({
          result: {
            documents_analyzed: results.value.length,
            total_words: results.value.reduce((sum, r) => sum + r.word_count, 0),
            summaries: Object.fromEntries(results.value.map((r) => [r.doc_id, r.summary])) as Record<string, string>
          }
        })
      }),
    { name: "fan_in", emits: [StopEvent] }
  )

/**
 * The lesson's four documents.
 *
 * @example
 * ```ts
 * yield* Workflow.run(DocumentAnalysisWorkflow, { documents }) // total_words: 21
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const documents: ReadonlyArray<typeof Document.Type> = [
  { id: "doc1", content: "First document with some content about AI." },
  { id: "doc2", content: "Second document discussing machine learning." },
  { id: "doc3", content: "Third document about neural networks." },
  { id: "doc4", content: "Fourth document explaining transformers." }
]

/**
 * Analyse the lesson's documents and print what the lesson prints:
 *
 * @example
 * ```ts
 * NodeRuntime.runMain(main)
 * // Analyzed 4 documents
 * // Total words: 21
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const main = Effect.gen(function* () {
  const result = yield* Workflow.run(DocumentAnalysisWorkflow, { documents })
  yield* Console.log(`Analyzed ${result.documents_analyzed} documents`)
  yield* Console.log(`Total words: ${result.total_words}`)
})
