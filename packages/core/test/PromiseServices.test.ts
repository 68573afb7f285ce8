/**
 * Promise code with services: `{ layer }` on `Workflow.runPromise` / `startPromise` (a Layer built for the run
 * and released when it ends, or a shared ManagedRuntime), and a missing service named with its step.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  StartEvent,
  StopEvent,
  Workflow
} from "@effect-flow/core"
import { Context, Effect, Layer, ManagedRuntime, Schema } from "effect"

class Embedder extends Context.Service<Embedder, { readonly embed: (text: string) => Effect.Effect<number> }>()(
  "test/Embedder"
) {}
class Progress extends Schema.TaggedClass<Progress>()("Progress", { note: Schema.String }) {}

/** A Layer that counts how often it is built and released. */
const counted = () => {
  const counts = { built: 0, released: 0 }
  const layer = Layer.effect(
    Embedder,
    Effect.acquireRelease(
      Effect.sync(() => {
        counts.built++
        return { embed: (text: string) => Effect.succeed(text.length) }
      }),
      () =>
        Effect.sync(() => {
          counts.released++
        })
    )
  )
  return { counts, layer }
}

const embed = defineWorkflow({ name: "embed", input: Schema.Struct({ text: Schema.String }) }).step(
  StartEvent,
  (ev) =>
    Effect.gen(function* () {
      const embedder = yield* Embedder
      return new StopEvent({ result: yield* embedder.embed(ev.text) })
    }),
  { name: "embed_text" }
)

// Asks the caller first, then uses the service: the Layer must outlive startPromise's own promise.
const askThenEmbed = defineWorkflow({ name: "ask-then-embed" })
  .step(
    StartEvent,
    (_, ctx) =>
      Effect.gen(function* () {
        yield* ctx.write(new Progress({ note: "asking" }))
        return new InputRequiredEvent({ prefix: "text? " })
      }),
    { emits: [InputRequiredEvent], writes: [Progress] }
  )
  .step(HumanResponseEvent, (ev) =>
    Effect.gen(function* () {
      const embedder = yield* Embedder
      return new StopEvent({ result: yield* embedder.embed(ev.response) })
    })
  )

describe("Workflow.runPromise with { layer }", () => {
  it("a Layer is built for the run and released when it ends", async () => {
    const { counts, layer } = counted()
    assert.strictEqual(await Workflow.runPromise(embed, { text: "four" }, { layer }), 4)
    assert.strictEqual(await Workflow.runPromise(embed, { text: "seven!!" }, { layer }), 7)
    assert.deepStrictEqual(counts, { built: 2, released: 2 })
  })

  it("a ManagedRuntime builds the services once for every run on it, until it is disposed", async () => {
    const { counts, layer } = counted()
    const runtime = ManagedRuntime.make(layer)
    assert.strictEqual(await Workflow.runPromise(embed, { text: "ab" }, { layer: runtime }), 2)
    assert.strictEqual(await Workflow.runPromise(embed, { text: "abc" }, { layer: runtime }), 3)
    assert.deepStrictEqual(counts, { built: 1, released: 0 })
    await runtime.dispose()
    assert.deepStrictEqual(counts, { built: 1, released: 1 })
  })

  it("a Layer that fails to build rejects with its error", async () => {
    class Broken extends Schema.TaggedError<Broken>()("Broken", {}) {}
    const broken: Layer.Layer<Embedder, Broken> = Layer.effect(Embedder, Effect.fail(new Broken()))
    const error = await Workflow.runPromise(embed, { text: "x" }, { layer: broken }).then(
      () => assert.fail("the layer cannot be built"),
      (e: unknown) => e
    )
    assert.instanceOf(error, Broken)
  })
})

describe("Workflow.startPromise with { layer }", () => {
  it("the Layer lives as long as the run, not just its start, and is released at its end", async () => {
    const { counts, layer } = counted()
    const handle = await Workflow.startPromise(askThenEmbed, {}, { layer })
    const seen: Array<string> = []
    for await (const ev of handle.events) {
      seen.push(ev._tag)
      if (ev._tag === "InputRequiredEvent") {
        assert.deepStrictEqual(counts, { built: 1, released: 0 })
        await handle.send(new HumanResponseEvent({ response: "hello" }))
      }
    }
    assert.strictEqual(await handle.result, 5)
    assert.deepStrictEqual(seen, ["Progress", "InputRequiredEvent", "StopEvent"])
    assert.deepStrictEqual(counts, { built: 1, released: 1 })
  })

  it("on a ManagedRuntime too", async () => {
    const { counts, layer } = counted()
    const runtime = ManagedRuntime.make(layer)
    const handle = await Workflow.startPromise(askThenEmbed, {}, { layer: runtime })
    for await (const ev of handle.events) {
      if (ev._tag === "InputRequiredEvent") await handle.send(new HumanResponseEvent({ response: "hi" }))
    }
    assert.strictEqual(await handle.result, 2)
    await runtime.dispose()
    assert.deepStrictEqual(counts, { built: 1, released: 1 })
  })
})

describe("a missing service at run time", () => {
  it("the defect names the step and the workflow, and says how to provide it", async () => {
    // The types forbid this; a cast stands for code that lost them (plain JavaScript, an `any`).
    const error = await Workflow.runPromise(embed as any, { text: "x" }).then(
      () => assert.fail("Embedder is not provided"),
      (e: unknown) => e
    )
    assert.instanceOf(error, Error)
    assert.match(
      (error as Error).message,
      /^Service not found: test\/Embedder, needed by step "embed_text" of workflow "embed"\. Provide it with its Layer/
    )
  })
})
