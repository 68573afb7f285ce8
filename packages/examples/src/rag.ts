/**
 * Example `rag`: retrieval as a fan-out, run from plain async/await code. Each document chunk is embedded
 * by an `Embedder` service on 4 workers, the question too, and the collector ranks the chunks by cosine
 * similarity. The workflow needs `Embedder`, so Promise code passes its Layer:
 * `await Workflow.runPromise(rag, input, { layer: Embedder.layer })`. Forget it and the compiler says
 * which service is missing. For many calls, build the services once with a `ManagedRuntime` and pass that.
 *
 * Run it: `npm run example -- rag [question]`
 */
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Context, Effect, Layer, Option, Schema } from "effect"

export class EmbedError extends Schema.TaggedError<EmbedError>()("EmbedError", { reason: Schema.String }) {
  override get message() {
    return `Embedding failed: ${this.reason}`
  }
}

// A service, as you would wrap an embedding API. The local layer hashes words into a small vector:
// deterministic and offline, good enough to rank chunks that share words with the question.
export class Embedder extends Context.Service<
  Embedder,
  { readonly embed: (text: string) => Effect.Effect<ReadonlyArray<number>, EmbedError> }
>()("@effect-flow/examples/Embedder") {
  static readonly layer: Layer.Layer<Embedder> = Layer.succeed(Embedder, {
    embed: (text) =>
      text.trim() === ""
        ? Effect.fail(new EmbedError({ reason: "empty text" }))
        : Effect.succeed(hashEmbedding(text)).pipe(Effect.delay("20 millis"))
  })
}

export const hashEmbedding = (text: string, size = 64): ReadonlyArray<number> => {
  const vector = new Array<number>(size).fill(0)
  for (const word of text.toLowerCase().match(/[a-z]+/g) ?? []) {
    let h = 0
    for (const c of word) h = (h * 31 + c.charCodeAt(0)) >>> 0
    vector[h % size]! += 1
  }
  return vector
}

const cosine = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => {
  const dot = a.reduce((sum, x, i) => sum + x * b[i]!, 0)
  const norm = (v: ReadonlyArray<number>) => Math.sqrt(v.reduce((sum, x) => sum + x * x, 0))
  return dot / (norm(a) * norm(b) || 1)
}

export class ChunkEvent extends Schema.TaggedClass<ChunkEvent>()("ChunkEvent", {
  text: Schema.String,
  isQuestion: Schema.Boolean
}) {}

export class EmbeddedEvent extends Schema.TaggedClass<EmbeddedEvent>()("EmbeddedEvent", {
  text: Schema.String,
  isQuestion: Schema.Boolean,
  vector: Schema.Array(Schema.Number)
}) {}

export const rag = defineWorkflow({
  name: "rag",
  input: Schema.Struct({ question: Schema.String, documents: Schema.Array(Schema.String), topK: Schema.Number }),
  state: Schema.Struct({ expected: Schema.Number, topK: Schema.Number }),
  initialState: { expected: 0, topK: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        // One chunk per sentence, plus the question: every one is embedded by the same step.
        const chunks = ev.documents.flatMap((doc) => doc.split(/(?<=\.)\s+/).filter((s) => s.trim() !== ""))
        yield* ctx.store.edit((s) => Effect.succeed({ ...s, expected: chunks.length + 1, topK: ev.topK }))
        yield* ctx.sendAll([
          new ChunkEvent({ text: ev.question, isQuestion: true }),
          ...chunks.map((text) => new ChunkEvent({ text, isQuestion: false }))
        ])
      }),
    { name: "split", emits: [ChunkEvent] }
  )
  .step(
    ChunkEvent,
    (ev) =>
      Effect.gen(function* () {
        const embedder = yield* Embedder // the requirement flows into the workflow's type
        const vector = yield* embedder.embed(ev.text)
        return new EmbeddedEvent({ text: ev.text, isQuestion: ev.isQuestion, vector })
      }),
    { name: "embed", workers: 4, emits: [EmbeddedEvent] }
  )
  .step(
    EmbeddedEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const { expected, topK } = yield* ctx.store.getAll
        const all = yield* ctx.collect(ev, expected)
        if (Option.isNone(all)) return
        const question = all.value.find((e) => e.isQuestion)!
        const ranked = all.value
          .filter((e) => !e.isQuestion)
          .map((e) => ({ text: e.text, score: Math.round(cosine(question.vector, e.vector) * 1000) / 1000 }))
          .sort((a, b) => b.score - a.score || a.text.localeCompare(b.text))
        return new StopEvent({ result: ranked.slice(0, topK) })
      }),
    { name: "rank", emits: [StopEvent] }
  )

export const library = [
  "Effect is a TypeScript library for typed, concurrent programs. Fibers are lightweight threads.",
  "LlamaIndex Workflows route events between steps. Steps can run with several workers.",
  "A Layer builds the services a program needs. Layers are provided once, at the edge of the program."
]

// Plain async code: no Effect in sight but the layer.
export const retrieve = (question: string, topK = 2) =>
  Workflow.runPromise(rag, { question, documents: library, topK }, { layer: Embedder.layer })

export const main = (args: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const question = args.join(" ") || "How are services provided to a program?"
    const hits = yield* Effect.promise(() => retrieve(question))
    yield* Console.log(`Q: ${question}`)
    for (const hit of hits) yield* Console.log(`  ${hit.score.toFixed(3)}  ${hit.text}`)
  })
