/**
 * Example `nested`: a workflow whose step runs another workflow. `analyze_shelf` runs the
 * `document-analysis` workflow once per shelf (`Workflow.run(inner, ...)` inside the handler, 2 shelves
 * at a time); the inner run's result flows on as an event, and its errors are typed in the outer
 * workflow's error channel, so the caller can `Effect.catchTag` them.
 *
 * Run it: `npm run example -- nested`
 *
 * @since 0.1.0
 */

import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Effect, Option, Schema } from "effect"
import { Document, DocumentAnalysisWorkflow, documents } from "./document-analysis.ts"

/**
 * One shelf of documents to analyse.
 *
 * @example
 * ```ts
 * new ShelfEvent({ name: "ai", documents: [{ id: "doc1", content: "..." }] })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class ShelfEvent extends Schema.TaggedClass<ShelfEvent>()("ShelfEvent", {
  name: Schema.String,
  documents: Schema.Array(Document)
}) {}

/**
 * The inner workflow's result for one shelf.
 *
 * @example
 * ```ts
 * new ShelfAnalyzedEvent({ name: "ai", documents_analyzed: 2, total_words: 12 })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class ShelfAnalyzedEvent extends Schema.TaggedClass<ShelfAnalyzedEvent>()("ShelfAnalyzedEvent", {
  name: Schema.String,
  documents_analyzed: Schema.Number,
  total_words: Schema.Number
}) {}

/**
 * A shelf as the caller passes it.
 *
 * @example
 * ```ts
 * const shelf: typeof Shelf.Type = { name: "ai-basics", documents: documents.slice(0, 2) }
 * ```
 *
 * @since 0.1.0
 * @category schemas
 */
export const Shelf = Schema.Struct({ name: Schema.String, documents: Schema.Array(Document) })

/**
 * The outer workflow: `dispatch_shelves` sends one `ShelfEvent` per shelf; `analyze_shelf` runs
 * `DocumentAnalysisWorkflow` on the shelf's documents and turns its result into a `ShelfAnalyzedEvent`;
 * `report` collects one per shelf. Its error type includes the inner run's errors
 * (`Workflow.run` of the inner workflow fails with `WorkflowError`).
 *
 * @example
 * ```ts
 * const report = yield* Workflow.run(ShelfAnalysisWorkflow, { shelves })
 * report.total_words // the sum over every shelf
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const ShelfAnalysisWorkflow = defineWorkflow({
  name: "shelf-analysis",
  input: Schema.Struct({ shelves: Schema.Array(Shelf) }),
  state: Schema.Struct({ shelf_count: Schema.Number }),
  initialState: { shelf_count: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("shelf_count", ev.shelves.length)
        for (const shelf of ev.shelves) yield* ctx.send(new ShelfEvent(shelf))
      }),
    { name: "dispatch_shelves", emits: [ShelfEvent] }
  )
  .step(
    ShelfEvent,
    (ev) =>
      Effect.gen(function* () {
        // A whole workflow run as one Effect inside a handler: its result flows on, its errors are typed.
        const analysis = yield* Workflow.run(DocumentAnalysisWorkflow, { documents: ev.documents })
        return new ShelfAnalyzedEvent({
          name: ev.name,
          documents_analyzed: analysis.documents_analyzed,
          total_words: analysis.total_words
        })
      }),
    { name: "analyze_shelf", workers: 2, emits: [ShelfAnalyzedEvent] }
  )
  .step(
    ShelfAnalyzedEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const count = yield* ctx.store.get("shelf_count")
        const shelves = yield* ctx.collect(ev, count)
        if (Option.isNone(shelves)) return
        const sorted = [...shelves.value].sort((a, b) => a.name.localeCompare(b.name))
        return new StopEvent({
          result: {
            shelves: sorted.map((s) => ({
              name: s.name,
              documents_analyzed: s.documents_analyzed,
              total_words: s.total_words
            })),
            total_words: sorted.reduce((sum, s) => sum + s.total_words, 0)
          }
        })
      }),
    { name: "report", emits: [StopEvent] }
  )

/**
 * The shelves `main` analyses: the lesson's four documents, split in two.
 *
 * @example
 * ```ts
 * yield* Workflow.run(ShelfAnalysisWorkflow, { shelves }) // total_words: 21
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const shelves: ReadonlyArray<typeof Shelf.Type> = [
  { name: "ai-basics", documents: documents.slice(0, 2) },
  { name: "deep-learning", documents: documents.slice(2) }
]

/**
 * Analyse {@link shelves}, print one line per shelf and the total; then show that an empty shelf makes
 * the inner run fail (nothing is ever dispatched, so it stalls), and that the outer caller catches that
 * error by its tag.
 *
 * @example
 * ```ts
 * NodeRuntime.runMain(main)
 * // ai-basics: 2 documents, 12 words
 * // deep-learning: 2 documents, 9 words
 * // Total words: 21
 * // ...
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const main = Effect.gen(function* () {
  const report = yield* Workflow.run(ShelfAnalysisWorkflow, { shelves })
  for (const s of report.shelves) {
    yield* Console.log(`${s.name}: ${s.documents_analyzed} documents, ${s.total_words} words`)
  }
  yield* Console.log(`Total words: ${report.total_words}`)
  yield* Console.log("")
  yield* Console.log("With an empty shelf, the inner run fails and the outer caller sees its typed error:")
  const failure = yield* Workflow.run(ShelfAnalysisWorkflow, {
    shelves: [...shelves, { name: "empty", documents: [] }]
  }).pipe(
    Effect.map(() => "it finished (unexpected)"),
    Effect.catchTag("WorkflowStalledError", (e) => Effect.succeed(`${e._tag} from workflow "${e.workflow}"`))
  )
  yield* Console.log(failure)
})
