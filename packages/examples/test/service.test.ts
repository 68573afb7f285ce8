import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Workflow, type WorkflowError } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit, Layer, Ref } from "effect"
import { TestConsole } from "effect/testing"
import { documents } from "../src/document-analysis.ts"
import { main, program, Summarizer, SummarizerError, SummarizeWorkflow } from "../src/service.ts"

/** A test Layer: records every text it is asked to summarise, refuses the one about neural networks. */
const recording = Effect.gen(function* () {
  const calls = yield* Ref.make<ReadonlyArray<string>>([])
  const layer = Layer.succeed(Summarizer, {
    summarize: (text) =>
      Ref.update(calls, (cs) => [...cs, text]).pipe(
        Effect.andThen(
          text.includes("neural")
            ? Effect.fail(new SummarizerError({ reason: "model refused" }))
            : Effect.succeed(`${text.length} chars`)
        )
      )
  })
  return { calls, layer }
})

const fine = Layer.succeed(Summarizer, { summarize: (text) => Effect.succeed(`${text.length} chars`) })

describe("service example", () => {
  it("the step's requirement and error appear in the type of Workflow.run", () => {
    const run = Workflow.run(SummarizeWorkflow, { documents })
    expectTypeOf<Effect.Services<typeof run>>().toEqualTypeOf<Summarizer>()
    expectTypeOf<Effect.Error<typeof run>>().toEqualTypeOf<SummarizerError | WorkflowError.WorkflowError>()
    expectTypeOf<Effect.Services<typeof program>>().toEqualTypeOf<Summarizer>()
    // Provided by the caller's Layer, nothing is left to provide.
    expectTypeOf<Effect.Services<typeof main>>().toEqualTypeOf<never>()
  })

  it.effect("runs with a test Layer: every document is summarised by the provided service, in input order", () =>
    Effect.gen(function* () {
      const result = yield* Workflow.run(SummarizeWorkflow, { documents: [documents[0]!, documents[1]!] }).pipe(
        Effect.provide(fine)
      )
      assert.deepStrictEqual(result, [
        { doc_id: "doc1", summary: `${documents[0]!.content.length} chars` },
        { doc_id: "doc2", summary: `${documents[1]!.content.length} chars` }
      ])
    })
  )

  it.effect("the service's typed failure ends the run with that same error", () =>
    Effect.gen(function* () {
      const { calls, layer } = yield* recording
      const error = yield* Workflow.run(SummarizeWorkflow, { documents }).pipe(Effect.provide(layer), Effect.flip)
      assert.instanceOf(error, SummarizerError)
      assert.strictEqual(error.message, "Summarizer failed: model refused")
      // The error is the service's own, from its one call on the document it refuses.
      assert.strictEqual((yield* Ref.get(calls)).filter((text) => text.includes("neural")).length, 1)
    })
  )

  it.effect("with the simulated Summarizer.layer: 4 documents, 3 workers, 0.2 s each take 0.4 s", () =>
    Effect.gen(function* () {
      const { exit, elapsed } = yield* runVirtual(main)
      assert.deepStrictEqual(exit, Exit.void)
      assert.strictEqual(Duration.toMillis(elapsed), 400)
      assert.deepStrictEqual((yield* TestConsole.logLines).map(String), [
        "doc1: First document with some content…",
        "doc2: Second document discussing machine learning.",
        "doc3: Third document about neural networks.",
        "doc4: Fourth document explaining transformers."
      ])
    })
  )

  it.effect("program prints what the provided test service returns", () =>
    Effect.gen(function* () {
      yield* program.pipe(Effect.provide(fine))
      assert.deepStrictEqual(
        (yield* TestConsole.logLines).map(String),
        documents.map((d) => `${d.id}: ${d.content.length} chars`)
      )
    })
  )
})
