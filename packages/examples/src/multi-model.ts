/**
 * multi-model: the lesson's "Parallel API Calls" (MultiModelWorkflow). Teaches fanning one query out to
 * several language models with `ctx.send`, querying them concurrently in a step with `workers: 3`, and
 * fanning the answers back in with `ctx.collect(ev, model_count)`. The models are Effect AI
 * `LanguageModel`s held by a `ModelRegistry` service, so the same workflow runs on deterministic local
 * models (default, offline) or on any OpenAI-compatible chat completions API, just by providing another layer.
 *
 * Run: `npm run example -w @effect-flow/examples -- multi-model` (local models), or with `OPENAI_API_KEY`
 * set (and optionally `OPENAI_BASE_URL`, `MULTI_MODEL_MODELS=gpt-4o-mini,gpt-4o`, `MULTI_MODEL_QUERY=...`).
 *
 * A model that fails (bad key, server down, a body that is not a chat completion) fails the run with its
 * `AiError` (or `UnknownModelError`), in the run's typed error channel; the other queries are interrupted.
 *
 * @since 0.1.0
 */
import { NodeHttpClient } from "@effect/platform-node"
import { defineWorkflow, StartEvent, StopEvent, Workflow, type WorkflowError } from "@effect-flow/core"
import { Config, Console, type Duration, Effect, Layer, Option, Redacted, Schema } from "effect"
import type { AiError } from "effect/ai"
import * as LocalModel from "./multi-model/local-model.ts"
import { ModelRegistry, type UnknownModelError } from "./multi-model/model-registry.ts"
import * as OpenAiCompatible from "./multi-model/openai-compatible.ts"

/**
 * Ask one model one query.
 *
 * @since 0.1.0
 * @category events
 */
export class QueryEvent extends Schema.TaggedClass<QueryEvent>()("QueryEvent", {
  query: Schema.String,
  model: Schema.String
}) {}

/**
 * One model's answer.
 *
 * @since 0.1.0
 * @category events
 */
export class ResponseEvent extends Schema.TaggedClass<ResponseEvent>()("ResponseEvent", {
  model: Schema.String,
  response: Schema.String
}) {}

/**
 * The lesson's MultiModelWorkflow: query every model of the `ModelRegistry` in parallel (3 at a time) and
 * end with `{ [model]: response }`, keys in the order the answers arrived. Needs a `ModelRegistry`
 * (see {@link localModels}, {@link openAiCompatibleModels}); fails with the first model's `AiError`.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { Workflow } from "@effect-flow/core"
 * import { localModels, multiModel } from "./multi-model.ts"
 *
 * const answers = Workflow.run(multiModel, { query: "What is a fiber?" }).pipe(Effect.provide(localModels()))
 * // Effect<Record<string, string>, AiError | UnknownModelError | WorkflowError>
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const multiModel = defineWorkflow({
  name: "multi-model",
  input: Schema.Struct({ query: Schema.String }),
  output: Schema.Record(Schema.String, Schema.String),
  state: Schema.Struct({ model_count: Schema.Number }),
  initialState: { model_count: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const registry = yield* ModelRegistry
        yield* ctx.store.set("model_count", registry.names.length)
        // With no model, nothing would ever be collected: answer at once instead of stalling.
        if (registry.names.length === 0) return new StopEvent({ result: {} as Record<string, string> })
        for (const model of registry.names) yield* ctx.send(new QueryEvent({ query: ev.query, model }))
      }),
    { name: "dispatch_queries", emits: [QueryEvent, StopEvent] }
  )
  .step(
    QueryEvent,
    (ev) =>
      Effect.gen(function* () {
        const registry = yield* ModelRegistry
        const model = yield* registry.get(ev.model)
        const response = yield* model.generateText({ prompt: ev.query })
        return new ResponseEvent({ model: ev.model, response: response.text })
      }),
    { name: "query_model", workers: 3, emits: [ResponseEvent] }
  )
  .step(
    ResponseEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const modelCount = yield* ctx.store.get("model_count")
        const responses = yield* ctx.collect(ev, modelCount)
        if (Option.isNone(responses)) return
        const result: Record<string, string> = Object.fromEntries(responses.value.map((r) => [r.model, r.response]))
        return new StopEvent({ result })
      }),
    { name: "collect_responses", emits: [StopEvent] }
  )

/**
 * The local models queried when no model list is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultLocalModels: ReadonlyArray<string> = ["local-small", "local-medium", "local-large"]

/**
 * The models queried on an OpenAI-compatible API when no model list is given: the lesson's two.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultOpenAiModels: ReadonlyArray<string> = ["gpt-4o-mini", "gpt-4o"]

/**
 * The query asked when none is given.
 *
 * @since 0.1.0
 * @category constants
 */
export const defaultQuery = "In one sentence: why query several models in parallel?"

/**
 * A registry of deterministic local models (no network), each answering after `latency` (default 500 ms).
 *
 * @example
 * ```ts
 * import { localModels } from "./multi-model.ts"
 *
 * const registry = localModels(["a", "b"], { latency: "1 second" })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const localModels = (
  names: ReadonlyArray<string> = defaultLocalModels,
  options?: { readonly latency?: Duration.Input | undefined }
): Layer.Layer<ModelRegistry> =>
  ModelRegistry.layer(Object.fromEntries(names.map((name) => [name, LocalModel.model(name, options)])))

/**
 * A registry of models served by an OpenAI-compatible chat completions API; needs a
 * `ChatCompletionsClient` (`OpenAiCompatible.ChatCompletionsClient.layer` / `.layerConfig`).
 *
 * @example
 * ```ts
 * import { Layer, Redacted } from "effect"
 * import { NodeHttpClient } from "@effect/platform-node"
 * import { openAiCompatibleModels } from "./multi-model.ts"
 * import { ChatCompletionsClient } from "./multi-model/openai-compatible.ts"
 *
 * const registry = openAiCompatibleModels(["llama3.2"]).pipe(
 *   Layer.provide(ChatCompletionsClient.layer({ apiKey: Redacted.make("ollama"), baseUrl: "http://127.0.0.1:11434/v1" })),
 *   Layer.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const openAiCompatibleModels = (
  names: ReadonlyArray<string> = defaultOpenAiModels
): Layer.Layer<ModelRegistry, never, OpenAiCompatible.ChatCompletionsClient> =>
  ModelRegistry.layer(Object.fromEntries(names.map((name) => [name, OpenAiCompatible.model(name)])))

const nonEmpty = (value: Option.Option<string>): Option.Option<string> =>
  Option.filter(
    Option.map(value, (s) => s.trim()),
    (s) => s.length > 0
  )

/**
 * Run the example: read the environment, pick the models, run the workflow, print each answer and
 * return the result.
 *
 * - `OPENAI_API_KEY` set (non-empty): query `OPENAI_BASE_URL` (default `https://api.openai.com/v1`) over
 *   Node's HTTP client, models from `MULTI_MODEL_MODELS` (comma-separated; default gpt-4o-mini, gpt-4o).
 * - otherwise: the local models (`MULTI_MODEL_MODELS` or local-small, local-medium, local-large).
 * - `MULTI_MODEL_QUERY`: the query (default {@link defaultQuery}).
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { main } from "./multi-model.ts"
 *
 * await Effect.runPromise(main)
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const main: Effect.Effect<
  Record<string, string>,
  AiError.AiError | UnknownModelError | WorkflowError.WorkflowError | Config.ConfigError
> = Effect.gen(function* () {
  const apiKey = nonEmpty(yield* Config.option(Config.String("OPENAI_API_KEY")))
  const baseUrl = nonEmpty(yield* Config.option(Config.String("OPENAI_BASE_URL")))
  const models = Option.map(yield* Config.option(Config.String("MULTI_MODEL_MODELS")), (list) =>
    list
      .split(",")
      .map((name) => name.trim())
      .filter((name) => name.length > 0)
  )
  const query = yield* Config.String("MULTI_MODEL_QUERY").pipe(Config.withDefault(defaultQuery))

  const registry = Option.match(apiKey, {
    onNone: () => localModels(Option.getOrElse(models, () => defaultLocalModels)),
    onSome: (key) =>
      openAiCompatibleModels(Option.getOrElse(models, () => defaultOpenAiModels)).pipe(
        Layer.provide(
          OpenAiCompatible.ChatCompletionsClient.layer({
            apiKey: Redacted.make(key),
            baseUrl: Option.getOrElse(baseUrl, () => OpenAiCompatible.defaultBaseUrl)
          })
        ),
        Layer.provide(NodeHttpClient.layerUndici)
      )
  })
  const where = Option.isSome(apiKey)
    ? Option.getOrElse(baseUrl, () => OpenAiCompatible.defaultBaseUrl)
    : "local models (set OPENAI_API_KEY to use an API)"
  yield* Console.log(`Query: ${query}\nAsking ${where}`)

  const result = yield* Workflow.run(multiModel, { query }).pipe(Effect.provide(registry))
  for (const [model, response] of Object.entries(result)) yield* Console.log(`\n${model}:\n${response}`)
  return result
})
