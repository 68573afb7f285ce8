import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { Effect, Layer, ManagedRuntime } from "effect"
import { Embedder, EmbedError, hashEmbedding, library, rag, retrieve } from "../src/rag.ts"

/** A test Layer that records every text it embeds. */
const recording = () => {
  const seen: Array<string> = []
  const layer = Layer.succeed(Embedder, {
    embed: (text) =>
      Effect.sync(() => {
        seen.push(text)
        return hashEmbedding(text)
      })
  })
  return { layer, seen }
}

describe("rag example", () => {
  it("from Promise code with its layer: the chunks sharing the question's words rank first", async () => {
    const hits = await retrieve("How are services provided to a program?")
    assert.deepStrictEqual(
      hits.map((h) => h.text),
      ["A Layer builds the services a program needs.", "Layers are provided once, at the edge of the program."]
    )
    assert.isAbove(hits[0]!.score, hits[1]!.score)
  })

  it("every chunk and the question go through the provided Embedder once", async () => {
    const { layer, seen } = recording()
    await Workflow.runPromise(rag, { question: "fibers", documents: library, topK: 1 }, { layer })
    assert.strictEqual(seen.length, 7) // 6 sentences + the question
    assert.include(seen, "fibers")
  })

  it("a ManagedRuntime serves many runs", async () => {
    const runtime = ManagedRuntime.make(Embedder.layer)
    const [a, b] = await Promise.all([
      Workflow.runPromise(rag, { question: "workers", documents: library, topK: 1 }, { layer: runtime }),
      Workflow.runPromise(rag, { question: "fibers", documents: library, topK: 1 }, { layer: runtime })
    ])
    await runtime.dispose()
    assert.deepStrictEqual(
      a!.map((h) => h.text),
      ["Steps can run with several workers."]
    )
    assert.deepStrictEqual(
      b!.map((h) => h.text),
      ["Fibers are lightweight threads."]
    )
  })

  it("the service's typed failure rejects the promise with that error", async () => {
    const error = await Workflow.runPromise(
      rag,
      { question: "  ", documents: library, topK: 1 },
      { layer: Embedder.layer }
    ).then(
      () => assert.fail("an empty question cannot be embedded"),
      (e: unknown) => e
    )
    assert.instanceOf(error, EmbedError)
  })

  it("the requirement is in the type, and a forgotten layer does not compile", () => {
    expectTypeOf<Workflow.Workflow.Services<typeof rag>>().toEqualTypeOf<Embedder>()
    const forgotten = () =>
      // @ts-expect-error missing services: pass { layer } with a Layer that provides: Embedder
      Workflow.runPromise(rag, { question: "q", documents: [], topK: 1 })
    expectTypeOf(forgotten).toBeFunction()
  })
})
