/**
 * A deterministic, offline `LanguageModel` for the multi-model example: no network, no key. Its answer
 * depends only on the model name and the prompt, and it takes a fixed `latency` of (virtual) time, so tests
 * can check concurrency with `TestClock`.
 *
 * @since 0.1.0
 */
import { Duration, Effect, Layer, Stream } from "effect"
import { LanguageModel, Model } from "effect/ai"
import { type ChatMessage, type Completion, toChatMessages, toResponseParts, toStreamParts } from "./chat.ts"

/**
 * How long a local model "thinks" before it answers, unless told otherwise.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLatency: Duration.Duration = Duration.millis(500)

/**
 * Options of a local model.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The model's name; it is part of every answer. */
  readonly model: string
  /** Time (through `Clock`) each answer takes. Default {@link defaultLatency}. */
  readonly latency?: Duration.Input | undefined
}

// FNV-1a, 32 bits: a stable fingerprint of the model and the conversation.
const fingerprint = (text: string): string => {
  let hash = 0x811c9dc5
  for (let i = 0; i < text.length; i++) {
    hash ^= text.charCodeAt(i)
    hash = Math.imul(hash, 0x01000193)
  }
  return (hash >>> 0).toString(16).padStart(8, "0")
}

const countWords = (text: string): number => text.split(/\s+/).filter((word) => word.length > 0).length

/**
 * The answer a local model gives to a conversation: names the model, quotes the last user message and
 * carries a fingerprint of model and conversation, so different models (or prompts) answer differently
 * and the same ones always answer alike.
 *
 * @example
 * ```ts
 * import { answer } from "./local-model.ts"
 *
 * answer("small", [{ role: "user", content: "What is Effect?" }]).text
 * // '[small] "What is Effect?" (3 words): local answer 4c843215'
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const answer = (model: string, messages: ReadonlyArray<ChatMessage>): Completion => {
  const question = messages.findLast((message) => message.role === "user")?.content ?? ""
  const conversation = messages.map((message) => `${message.role}: ${message.content}`).join("\n")
  const text = `[${model}] "${question}" (${countWords(question)} words): local answer ${fingerprint(`${model}\n${conversation}`)}`
  return {
    text,
    finishReason: "stop",
    inputTokens: countWords(conversation),
    outputTokens: countWords(text)
  }
}

/**
 * Make a local `LanguageModel` service. `generateText` waits `latency`, then answers with {@link answer};
 * `streamText` waits as long and streams the same answer as one delta.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as LocalModel from "./local-model.ts"
 *
 * const program = Effect.gen(function*() {
 *   const model = yield* LocalModel.make({ model: "small", latency: "100 millis" })
 *   return (yield* model.generateText({ prompt: "Hi" })).text
 * })
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<LanguageModel.LanguageModel> => {
  const latency = Duration.fromInputUnsafe(options.latency ?? defaultLatency)
  const complete = (providerOptions: LanguageModel.ProviderOptions, method: string) =>
    toChatMessages(providerOptions.prompt, method).pipe(
      Effect.map((messages) => answer(options.model, messages)),
      Effect.delay(latency)
    )
  return LanguageModel.make({
    generateText: (providerOptions) => complete(providerOptions, "generateText").pipe(Effect.map(toResponseParts)),
    streamText: (providerOptions) =>
      Stream.fromIterableEffect(complete(providerOptions, "streamText").pipe(Effect.flatMap(toStreamParts)))
  })
}

/**
 * A local model as an Effect AI `Model` (a `Layer` providing `LanguageModel`, with provider name `"local"`
 * and the model's name), the way provider packages expose theirs (`OpenAiLanguageModel.model(...)`).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import * as LocalModel from "./local-model.ts"
 *
 * const text = LanguageModel.generateText({ prompt: "Hi" }).pipe(
 *   Effect.map((response) => response.text),
 *   Effect.provide(LocalModel.model("small"))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const model = (
  name: string,
  options?: { readonly latency?: Duration.Input | undefined }
): Model.Model<"local", LanguageModel.LanguageModel, never> =>
  Model.make("local", name, Layer.effect(LanguageModel.LanguageModel, make({ model: name, latency: options?.latency })))
