import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit } from "effect"
import { TestConsole } from "effect/testing"
import { DocumentAnalysisWorkflow, documents, main, wordCount } from "../src/document-analysis.ts"

describe("document-analysis example", () => {
  it.effect("main prints exactly what the lesson prints, after 0.3 s of virtual time", () =>
    Effect.gen(function* () {
      const { exit, elapsed } = yield* runVirtual(main)
      assert.deepStrictEqual(exit, Exit.void)
      assert.deepStrictEqual(yield* TestConsole.logLines, ["Analyzed 4 documents", "Total words: 21"])
      // 4 documents, 5 workers: all analysed at once.
      assert.strictEqual(Duration.toMillis(elapsed), 300)
    })
  )

  it.effect("aggregates the count, the words and a summary per document", () =>
    Effect.gen(function* () {
      const long = "x".repeat(60)
      const { exit } = yield* runVirtual(
        Workflow.run(DocumentAnalysisWorkflow, { documents: [...documents, { id: "doc5", content: long }] })
      )
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.strictEqual(exit.value.documents_analyzed, 5)
      assert.strictEqual(exit.value.total_words, 22)
      assert.deepStrictEqual(Object.keys(exit.value.summaries).sort(), ["doc1", "doc2", "doc3", "doc4", "doc5"])
      assert.strictEqual(exit.value.summaries.doc1, "Summary of doc1: First document with some content about AI....")
      // content[:50]: the summary keeps only the first 50 characters
      assert.strictEqual(exit.value.summaries.doc5, `Summary of doc5: ${"x".repeat(50)}...`)
    })
  )

  it.effect("7 documents with 5 workers take two rounds: 0.6 s", () =>
    Effect.gen(function* () {
      const docs = Array.from({ length: 7 }, (_, i) => ({ id: `d${i}`, content: "one two" }))
      const { exit, elapsed } = yield* runVirtual(Workflow.run(DocumentAnalysisWorkflow, { documents: docs }))
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(Duration.toMillis(elapsed), 600)
    })
  )

  it("wordCount counts as Python's len(text.split())", () => {
    assert.strictEqual(wordCount("First document with some content about AI."), 7)
    assert.strictEqual(wordCount(""), 0)
    assert.strictEqual(wordCount("   "), 0)
    assert.strictEqual(wordCount("  a  b\tc\nd  "), 4)
  })
})
