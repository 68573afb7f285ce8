/**
 * A small Effect AI provider for OpenAI-compatible chat completions (`POST {baseUrl}/chat/completions`):
 * OpenAI itself, or any local server that speaks the same API (Ollama, llama.cpp's server, vLLM, LM Studio).
 *
 * `ChatCompletionsClient` holds the key, the base URL and an `HttpClient`; `model(name)` is a `LanguageModel`
 * layer on top of it, as `@effect/ai-openai` does it (whose 4.0 betas do not load with effect 4.1.0).
 * Failures are `AiError`s with a semantic reason: `AuthenticationError` (401/403), `RateLimitError` (429),
 * `InvalidRequestError` (400), `InternalProviderError` (5xx), `NetworkError` (no response),
 * `InvalidResponseError` (a 2xx body that is not a chat completion).
 *
 * @since 0.1.0
 */
import { Config, Context, Effect, Layer, Option, type Redacted, Schema, Stream } from "effect"
import { AiError, LanguageModel, Model, type Response } from "effect/ai"
import { HttpClient, type HttpClientError, HttpClientRequest, type HttpClientResponse } from "effect/http"
import { type ChatMessage, type Completion, toChatMessages, toResponseParts, toStreamParts } from "./chat.ts"

/**
 * OpenAI's API, used when no base URL is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultBaseUrl = "https://api.openai.com/v1"

const moduleName = "OpenAiCompatible"

/**
 * The part of a chat completions response this provider reads; any other fields are ignored.
 *
 * @since 0.1.0
 * @category schemas
 */
export const ChatCompletion = Schema.Struct({
  choices: Schema.NonEmptyArray(
    Schema.Struct({
      message: Schema.Struct({ content: Schema.String }),
      finish_reason: Schema.optional(Schema.NullOr(Schema.String))
    })
  ),
  usage: Schema.optional(
    Schema.NullOr(
      Schema.Struct({
        prompt_tokens: Schema.optional(Schema.Number),
        completion_tokens: Schema.optional(Schema.Number)
      })
    )
  )
})

const decodeChatCompletion = Schema.decodeUnknownEffect(Schema.fromJsonString(ChatCompletion))

// The error body OpenAI (and most compatible servers) send: `{ "error": { "message": ... } }`.
const decodeErrorBody = Schema.decodeUnknownOption(
  Schema.fromJsonString(Schema.Struct({ error: Schema.Struct({ message: Schema.String }) }))
)

const finishReasonOf = (reason: string | null | undefined): Response.FinishReason => {
  switch (reason) {
    case "stop":
    case "length":
      return reason
    case "content_filter":
      return "content-filter"
    case "tool_calls":
    case "function_call":
      return "tool-calls"
    case null:
    case undefined:
      return "unknown"
    default:
      return "other"
  }
}

/**
 * The body of a chat completions request.
 *
 * @since 0.1.0
 * @category models
 */
export interface ChatCompletionRequest {
  readonly model: string
  readonly messages: ReadonlyArray<ChatMessage>
}

/**
 * Where and how to reach a chat completions API.
 *
 * @since 0.1.0
 * @category models
 */
export interface ClientOptions {
  readonly apiKey: Redacted.Redacted<string>
  /** Default {@link defaultBaseUrl}. A trailing `/` is ignored. */
  readonly baseUrl?: string | undefined
}

/**
 * A chat completions client: `create` posts one request and decodes the first choice.
 *
 * @example
 * ```ts
 * import { Effect, Redacted } from "effect"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { ChatCompletionsClient } from "./openai-compatible.ts"
 *
 * const completion = Effect.gen(function*() {
 *   const client = yield* ChatCompletionsClient
 *   return yield* client.create({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Hi" }] })
 * }).pipe(
 *   Effect.provide(ChatCompletionsClient.layer({ apiKey: Redacted.make("sk-...") })),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class ChatCompletionsClient extends Context.Service<
  ChatCompletionsClient,
  {
    /** The URL requests go to (`{baseUrl}/chat/completions`). */
    readonly url: string
    readonly create: (
      request: ChatCompletionRequest,
      method?: string | undefined
    ) => Effect.Effect<Completion, AiError.AiError>
  }
>()("@effect-flow/examples/multi-model/ChatCompletionsClient") {
  /**
   * A client for the given key and base URL, over the `HttpClient` in context.
   *
   * @since 0.1.0
   */
  static readonly layer = (options: ClientOptions): Layer.Layer<ChatCompletionsClient, never, HttpClient.HttpClient> =>
    Layer.effect(ChatCompletionsClient, make(options))

  /**
   * A client configured from `OPENAI_API_KEY` (required) and `OPENAI_BASE_URL` (default {@link defaultBaseUrl}).
   *
   * @since 0.1.0
   */
  static readonly layerConfig: Layer.Layer<ChatCompletionsClient, Config.ConfigError, HttpClient.HttpClient> =
    Layer.effect(
      ChatCompletionsClient,
      Effect.gen(function* () {
        const apiKey = yield* Config.Redacted("OPENAI_API_KEY")
        const baseUrl = yield* Config.String("OPENAI_BASE_URL").pipe(Config.withDefault(defaultBaseUrl))
        return yield* make({ apiKey, baseUrl })
      })
    )
}

// No response came back (transport, encoding or URL problem), as opposed to a response that could not be read.
const isRequestError = (
  error: HttpClientError.HttpClientError
): error is HttpClientError.HttpClientError & { readonly reason: HttpClientError.RequestError } =>
  error.reason._tag === "TransportError" ||
  error.reason._tag === "EncodeError" ||
  error.reason._tag === "InvalidUrlError"

const make = (options: ClientOptions) =>
  Effect.gen(function* () {
    const httpClient = yield* HttpClient.HttpClient
    const url = `${(options.baseUrl ?? defaultBaseUrl).replace(/\/+$/, "")}/chat/completions`

    const create = (request: ChatCompletionRequest, method = "create"): Effect.Effect<Completion, AiError.AiError> => {
      const fail = (reason: AiError.AiErrorReason) => Effect.fail(AiError.make({ module: moduleName, method, reason }))
      const httpContext = (response: HttpClientResponse.HttpClientResponse, body: string) => ({
        response: { status: response.status, headers: Object.fromEntries(Object.entries(response.headers)) },
        body
      })
      return Effect.gen(function* () {
        const response = yield* httpClient.execute(
          HttpClientRequest.post(url).pipe(
            HttpClientRequest.bearerToken(options.apiKey),
            HttpClientRequest.bodyJsonUnsafe({ model: request.model, messages: request.messages })
          )
        )
        const body = yield* response.text
        if (response.status < 200 || response.status >= 300) {
          const message = Option.map(decodeErrorBody(body), (decoded) => decoded.error.message)
          return yield* fail(
            AiError.reasonFromHttpStatus({
              status: response.status,
              http: httpContext(response, body),
              description: `model ${request.model}: ${Option.getOrElse(message, () => `HTTP ${response.status}`)}`
            })
          )
        }
        const completion = yield* decodeChatCompletion(body).pipe(
          Effect.catchTag("SchemaError", (error) =>
            fail(
              new AiError.InvalidResponseError({
                description: `model ${request.model}: the body of POST ${url} is not a chat completion: ${error.message}`,
                http: httpContext(response, body)
              })
            )
          )
        )
        const [choice] = completion.choices
        return {
          text: choice.message.content,
          finishReason: finishReasonOf(choice.finish_reason),
          inputTokens: completion.usage?.prompt_tokens,
          outputTokens: completion.usage?.completion_tokens
        }
      }).pipe(
        Effect.catchTag("HttpClientError", (error) =>
          isRequestError(error)
            ? fail(AiError.NetworkError.fromHttpClientError(error))
            : fail(new AiError.InvalidResponseError({ description: `POST ${url}: ${error.message}` }))
        ),
        Effect.withSpan("ChatCompletionsClient.create", { attributes: { model: request.model, url } })
      )
    }

    return ChatCompletionsClient.of({ url, create })
  })

/**
 * A `LanguageModel` for one model name, backed by the `ChatCompletionsClient` in context. `streamText`
 * makes the same (non-streaming) request and emits the answer as one delta.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import * as OpenAiCompatible from "./openai-compatible.ts"
 *
 * const program = Effect.gen(function*() {
 *   const model = yield* OpenAiCompatible.makeLanguageModel("gpt-4o-mini")
 *   return (yield* model.generateText({ prompt: "Hi" })).text
 * }) // requires ChatCompletionsClient
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const makeLanguageModel = (
  model: string
): Effect.Effect<LanguageModel.LanguageModel, never, ChatCompletionsClient> =>
  Effect.gen(function* () {
    const client = yield* ChatCompletionsClient
    const complete = (providerOptions: LanguageModel.ProviderOptions, method: string) =>
      toChatMessages(providerOptions.prompt, method).pipe(
        Effect.flatMap((messages) => client.create({ model, messages }, method))
      )
    return yield* LanguageModel.make({
      generateText: (providerOptions) => complete(providerOptions, "generateText").pipe(Effect.map(toResponseParts)),
      streamText: (providerOptions) =>
        Stream.fromIterableEffect(complete(providerOptions, "streamText").pipe(Effect.flatMap(toStreamParts)))
    })
  })

/**
 * One chat completions model as an Effect AI `Model`: a `Layer` providing `LanguageModel` (plus the provider
 * name `"openai-compatible"` and the model name), requiring a `ChatCompletionsClient`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { LanguageModel } from "effect/ai"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import * as OpenAiCompatible from "./openai-compatible.ts"
 *
 * const text = LanguageModel.generateText({ prompt: "Hi" }).pipe(
 *   Effect.map((response) => response.text),
 *   Effect.provide(OpenAiCompatible.model("gpt-4o-mini")),
 *   Effect.provide(OpenAiCompatible.ChatCompletionsClient.layerConfig),
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const model = (
  name: string
): Model.Model<"openai-compatible", LanguageModel.LanguageModel, ChatCompletionsClient> =>
  Model.make("openai-compatible", name, Layer.effect(LanguageModel.LanguageModel, makeLanguageModel(name)))
