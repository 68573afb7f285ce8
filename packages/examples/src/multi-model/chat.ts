/**
 * The plain chat shapes both model providers of the multi-model example speak: a `Prompt` flattened to
 * `{ role, content }` messages (what the chat completions API takes), and a finished `Completion` turned
 * into the response parts Effect's `LanguageModel.make` expects from a provider.
 *
 * @since 0.1.0
 */
import { Effect } from "effect"
import { AiError, IdGenerator, type Prompt, type Response } from "effect/ai"

/**
 * One message of a chat completions request.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatMessage {
  readonly role: "system" | "user" | "assistant"
  readonly content: string
}

/**
 * A finished answer from a model: its text, why it stopped, and token counts when the model reports them.
 *
 * @since 0.1.0
 * @category models
 */
export interface Completion {
  readonly text: string
  readonly finishReason: Response.FinishReason
  readonly inputTokens?: number | undefined
  readonly outputTokens?: number | undefined
}

const unsupported = (method: string, description: string) =>
  AiError.make({
    module: "MultiModel",
    method,
    reason: new AiError.InvalidUserInputError({ description })
  })

/**
 * Flatten a `Prompt` into text-only chat messages. Text parts of one message are joined with a newline;
 * reasoning parts of assistant messages are left out (chat completions does not take them back). Files,
 * tool calls and tool results fail with an `AiError` whose reason is `InvalidUserInputError`: the small
 * providers of this example speak text only.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Prompt } from "effect/ai"
 * import { toChatMessages } from "./chat.ts"
 *
 * const messages = Effect.runSync(toChatMessages(Prompt.make("Hi"), "generateText"))
 * // [{ role: "user", content: "Hi" }]
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const toChatMessages = (
  prompt: Prompt.Prompt,
  method: string
): Effect.Effect<Array<ChatMessage>, AiError.AiError> =>
  Effect.forEach(prompt.content, (message): Effect.Effect<ChatMessage, AiError.AiError> => {
    switch (message.role) {
      case "system":
        return Effect.succeed({ role: "system", content: message.content })
      case "user":
      case "assistant": {
        const texts: Array<string> = []
        for (const part of message.content) {
          if (part.type === "text") texts.push(part.text)
          else if (part.type !== "reasoning") {
            return Effect.fail(
              unsupported(method, `a ${message.role} message holds a "${part.type}" part; only text is supported`)
            )
          }
        }
        return Effect.succeed({ role: message.role, content: texts.join("\n") })
      }
      case "tool":
        return Effect.fail(unsupported(method, "tool messages are not supported; only text is"))
    }
  })

const usageOf = (completion: Completion): typeof Response.Usage.Encoded => ({
  inputTokens: completion.inputTokens === undefined ? {} : { total: completion.inputTokens },
  outputTokens: completion.outputTokens === undefined ? {} : { total: completion.outputTokens }
})

/**
 * The response parts of a finished completion, for a provider's `generateText`: one text part and a
 * finish part with the reason and usage (so `response.text`, `finishReason` and `usage` work).
 *
 * @example
 * ```ts
 * import { toResponseParts } from "./chat.ts"
 *
 * toResponseParts({ text: "Paris", finishReason: "stop" })
 * // [{ type: "text", text: "Paris" }, { type: "finish", reason: "stop", usage: { ... } }]
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const toResponseParts = (completion: Completion): Array<Response.PartEncoded> => [
  { type: "text", text: completion.text },
  { type: "finish", reason: completion.finishReason, usage: usageOf(completion) }
]

/**
 * The stream parts of a finished completion, for a provider's `streamText` when the answer arrives whole:
 * text start, a single delta with the whole text, text end, finish.
 *
 * @example
 * ```ts
 * import { Stream } from "effect"
 * import { toStreamParts } from "./chat.ts"
 *
 * const stream = Stream.fromIterableEffect(toStreamParts({ text: "Paris", finishReason: "stop" }))
 * ```
 *
 * @since 0.1.0
 * @category conversions
 */
export const toStreamParts = (
  completion: Completion
): Effect.Effect<Array<Response.StreamPartEncoded>, never, IdGenerator.IdGenerator> =>
  Effect.gen(function* () {
    const ids = yield* IdGenerator.IdGenerator
    const id = yield* ids.generateId()
    return [
      { type: "text-start", id },
      { type: "text-delta", id, delta: completion.text },
      { type: "text-end", id },
      { type: "finish", reason: completion.finishReason, usage: usageOf(completion) }
    ]
  })
