import * as Http from "node:http"
import type { AddressInfo } from "node:net"
import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { ConfigProvider, Duration, Effect, Exit, Layer, Redacted, Stream } from "effect"
import { AiError, LanguageModel } from "effect/ai"
import * as LocalModel from "../src/multi-model/local-model.ts"
import { ModelRegistry, UnknownModelError } from "../src/multi-model/model-registry.ts"
import { ChatCompletionsClient } from "../src/multi-model/openai-compatible.ts"
import { defaultLocalModels, localModels, main, multiModel, openAiCompatibleModels } from "../src/multi-model.ts"

const query = "What is structured concurrency?"

const localAnswer = (model: string, prompt: string) =>
  LocalModel.answer(model, [{ role: "user", content: prompt }]).text

// ---------------------------------------------------------------------------------------------------------
// A chat completions server on 127.0.0.1, started per test. It records every request and answers with
// whatever `respond` returns.
// ---------------------------------------------------------------------------------------------------------

interface RecordedRequest {
  readonly method: string | undefined
  readonly path: string | undefined
  readonly authorization: string | undefined
  readonly contentType: string | undefined
  readonly body: any
}

interface Reply {
  readonly status: number
  readonly body: string
}

const completionBody = (content: string) =>
  JSON.stringify({
    id: "chatcmpl-1",
    object: "chat.completion",
    choices: [{ index: 0, message: { role: "assistant", content }, finish_reason: "stop" }],
    usage: { prompt_tokens: 7, completion_tokens: 3, total_tokens: 10 }
  })

// Answers like OpenAI when the request is what the API expects, else 400 with what was wrong.
const openAiLike =
  (apiKey: string) =>
  (request: RecordedRequest): Reply => {
    if (request.method !== "POST" || request.path !== "/v1/chat/completions") {
      return { status: 404, body: JSON.stringify({ error: { message: `no route ${request.method} ${request.path}` } }) }
    }
    if (request.authorization !== `Bearer ${apiKey}`) {
      return { status: 401, body: JSON.stringify({ error: { message: "Incorrect API key provided" } }) }
    }
    const { model, messages } = request.body ?? {}
    if (typeof model !== "string" || !Array.isArray(messages) || messages.length === 0) {
      return { status: 400, body: JSON.stringify({ error: { message: "model and messages are required" } }) }
    }
    const last = messages[messages.length - 1]
    return { status: 200, body: completionBody(`${model} answers: ${last.content}`) }
  }

const startServer = (respond: (request: RecordedRequest) => Reply) =>
  Effect.acquireRelease(
    Effect.callback<{
      readonly server: Http.Server
      readonly baseUrl: string
      readonly requests: Array<RecordedRequest>
    }>((resume) => {
      const requests: Array<RecordedRequest> = []
      const server = Http.createServer((req, res) => {
        let data = ""
        req.setEncoding("utf8")
        req.on("data", (chunk: string) => (data += chunk))
        req.on("end", () => {
          let body: unknown
          try {
            body = JSON.parse(data)
          } catch {
            body = data
          }
          const recorded: RecordedRequest = {
            method: req.method,
            path: req.url,
            authorization: req.headers.authorization,
            contentType: req.headers["content-type"],
            body
          }
          requests.push(recorded)
          const reply = respond(recorded)
          res.writeHead(reply.status, { "content-type": "application/json" })
          res.end(reply.body)
        })
      })
      server.listen(0, "127.0.0.1", () => {
        const { port } = server.address() as AddressInfo
        resume(Effect.succeed({ server, baseUrl: `http://127.0.0.1:${port}/v1`, requests }))
      })
    }),
    ({ server }) =>
      Effect.callback<void>((resume) => {
        server.closeAllConnections()
        server.close(() => resume(Effect.void))
      })
  )

const remoteModels = (names: ReadonlyArray<string>, baseUrl: string, apiKey: string) =>
  openAiCompatibleModels(names).pipe(
    Layer.provide(ChatCompletionsClient.layer({ apiKey: Redacted.make(apiKey), baseUrl })),
    Layer.provide(NodeHttpClient.layerUndici)
  )

const failureOf = <A, E>(exit: Exit.Exit<A, E>): E => {
  assert.isTrue(Exit.isFailure(exit), `expected a failure, got ${JSON.stringify(exit)}`)
  const error = Exit.findErrorOption(exit)
  assert.isTrue(error._tag === "Some", "expected a typed failure, not a defect")
  return (error as { readonly value: E }).value
}

const aiReasonOf = (error: unknown) => {
  assert.isTrue(AiError.isAiError(error), `expected an AiError, got ${String(error)}`)
  return (error as AiError.AiError).reason
}

describe("MultiModelWorkflow (the lesson's Parallel API Calls)", () => {
  describe("with the local models", () => {
    it.effect("returns { model: response } for every model, each answer from its own model", () =>
      Effect.gen(function* () {
        const { exit } = yield* runVirtual(Workflow.run(multiModel, { query }).pipe(Effect.provide(localModels())))
        assert.isTrue(Exit.isSuccess(exit))
        const result = (exit as Exit.Success<Record<string, string>>).value
        assert.deepStrictEqual(
          result,
          Object.fromEntries(defaultLocalModels.map((model) => [model, localAnswer(model, query)]))
        )
        assert.strictEqual(new Set(Object.values(result)).size, defaultLocalModels.length)
      })
    )

    it.effect("3 workers query 3 models at once: one latency of virtual time, not three", () =>
      Effect.gen(function* () {
        const { exit, elapsed } = yield* runVirtual(
          Workflow.run(multiModel, { query }).pipe(
            Effect.provide(localModels(["a", "b", "c"], { latency: "1 second" }))
          )
        )
        assert.isTrue(Exit.isSuccess(exit))
        assert.strictEqual(Duration.toMillis(elapsed), 1000)
      })
    )

    it.effect("a fourth model waits for a free worker: two latencies", () =>
      Effect.gen(function* () {
        const { exit, elapsed } = yield* runVirtual(
          Workflow.run(multiModel, { query }).pipe(
            Effect.provide(localModels(["a", "b", "c", "d"], { latency: "1 second" }))
          )
        )
        assert.deepStrictEqual(Object.keys((exit as Exit.Success<Record<string, string>>).value).sort(), [
          "a",
          "b",
          "c",
          "d"
        ])
        assert.strictEqual(Duration.toMillis(elapsed), 2000)
      })
    )

    it.effect("with no model, the run ends at once with {}", () =>
      Effect.gen(function* () {
        const { exit, elapsed } = yield* runVirtual(
          Workflow.run(multiModel, { query }).pipe(Effect.provide(localModels([])))
        )
        assert.deepStrictEqual(exit, Exit.succeed({}))
        assert.strictEqual(Duration.toMillis(elapsed), 0)
      })
    )

    it.effect("answers depend on model and prompt, and are repeatable", () =>
      Effect.gen(function* () {
        assert.notStrictEqual(localAnswer("a", "x"), localAnswer("b", "x"))
        assert.notStrictEqual(localAnswer("a", "x"), localAnswer("a", "y"))
        assert.strictEqual(localAnswer("a", "x"), localAnswer("a", "x"))
        const { exit } = yield* runVirtual(
          Effect.gen(function* () {
            const model = yield* LocalModel.make({ model: "a" })
            const response = yield* model.generateText({ prompt: "x" })
            const streamed = yield* model.streamText({ prompt: "x" }).pipe(Stream.runCollect)
            return { response, streamed }
          })
        )
        assert.isTrue(Exit.isSuccess(exit))
        const { response, streamed } = (exit as Exit.Success<any>).value
        assert.strictEqual(response.text, localAnswer("a", "x"))
        assert.strictEqual(response.finishReason, "stop")
        const deltas = streamed.filter((part: any) => part.type === "text-delta").map((part: any) => part.delta)
        assert.deepStrictEqual(deltas, [localAnswer("a", "x")])
      })
    )

    it.effect("the registry fails with UnknownModelError for a name it does not hold", () =>
      Effect.gen(function* () {
        const registry = yield* ModelRegistry
        const error = yield* Effect.flip(registry.get("gpt-5"))
        assert.instanceOf(error, UnknownModelError)
        assert.deepStrictEqual(error.known, ["a", "b"])
      }).pipe(Effect.provide(localModels(["a", "b"])))
    )

    it.effect("main without OPENAI_API_KEY queries the local models and returns their answers", () =>
      Effect.gen(function* () {
        const env = { MULTI_MODEL_MODELS: "one, two", MULTI_MODEL_QUERY: "Hello?" }
        const { exit } = yield* runVirtual(
          main.pipe(Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env })))
        )
        assert.deepStrictEqual(
          exit,
          Exit.succeed({ one: localAnswer("one", "Hello?"), two: localAnswer("two", "Hello?") })
        )
      })
    )
  })

  // Real sockets to a local fake server: these run on the live clock, so a retry or timeout added to the
  // client later waits for real (briefly) instead of hanging on a TestClock nobody advances.
  describe("with an OpenAI-compatible server", () => {
    it.live("POSTs {base}/chat/completions per model with the bearer key, model and messages", () =>
      Effect.gen(function* () {
        const server = yield* startServer(openAiLike("test-key"))
        const models = ["gpt-4o-mini", "gpt-4o", "llama3.2"]
        const result = yield* Workflow.run(multiModel, { query }).pipe(
          Effect.provide(remoteModels(models, server.baseUrl, "test-key"))
        )
        assert.deepStrictEqual(result, Object.fromEntries(models.map((m) => [m, `${m} answers: ${query}`])))
        assert.strictEqual(server.requests.length, 3)
        assert.deepStrictEqual(server.requests.map((r) => r.body.model).sort(), [...models].sort())
        for (const request of server.requests) {
          assert.strictEqual(request.method, "POST")
          assert.strictEqual(request.path, "/v1/chat/completions")
          assert.strictEqual(request.authorization, "Bearer test-key")
          assert.match(request.contentType ?? "", /^application\/json/)
          assert.deepStrictEqual(request.body.messages, [{ role: "user", content: query }])
        }
      })
    )

    it.live("reports finish reason and token usage through LanguageModel", () =>
      Effect.gen(function* () {
        const server = yield* startServer(openAiLike("k"))
        const response = yield* LanguageModel.generateText({
          prompt: [
            { role: "system", content: "Be brief." },
            { role: "user", content: "Hi" }
          ]
        }).pipe(
          Effect.provide(
            Effect.gen(function* () {
              const registry = yield* ModelRegistry
              return Layer.succeed(LanguageModel.LanguageModel, yield* registry.get("m"))
            }).pipe(Layer.unwrap, Layer.provide(remoteModels(["m"], server.baseUrl, "k")))
          )
        )
        assert.strictEqual(response.text, "m answers: Hi")
        assert.strictEqual(response.finishReason, "stop")
        assert.strictEqual(response.usage.inputTokens.total, 7)
        assert.strictEqual(response.usage.outputTokens.total, 3)
        assert.deepStrictEqual(server.requests[0]?.body.messages, [
          { role: "system", content: "Be brief." },
          { role: "user", content: "Hi" }
        ])
      })
    )

    it.live("a wrong key fails the run with AiError(AuthenticationError) carrying the server's message", () =>
      Effect.gen(function* () {
        const server = yield* startServer(openAiLike("right-key"))
        const exit = yield* Workflow.run(multiModel, { query }).pipe(
          Effect.provide(remoteModels(["a", "b"], server.baseUrl, "wrong-key")),
          Effect.exit
        )
        const error = failureOf(exit)
        const reason = aiReasonOf(error)
        assert.strictEqual(reason._tag, "AuthenticationError")
        assert.strictEqual((error as AiError.AiError).module, "OpenAiCompatible")
        assert.include((error as AiError.AiError).message, "Incorrect API key provided")
        assert.strictEqual((reason as AiError.AuthenticationError).http?.response?.status, 401)
      })
    )

    it.live("a 200 whose body is not JSON fails with AiError(InvalidResponseError)", () =>
      Effect.gen(function* () {
        const server = yield* startServer(() => ({ status: 200, body: "<html>proxy login</html>" }))
        const exit = yield* Workflow.run(multiModel, { query }).pipe(
          Effect.provide(remoteModels(["a"], server.baseUrl, "k")),
          Effect.exit
        )
        const reason = aiReasonOf(failureOf(exit))
        assert.strictEqual(reason._tag, "InvalidResponseError")
        assert.strictEqual((reason as AiError.InvalidResponseError).http?.body, "<html>proxy login</html>")
      })
    )

    it.live("a 200 JSON body without choices fails with AiError(InvalidResponseError)", () =>
      Effect.gen(function* () {
        const server = yield* startServer(() => ({ status: 200, body: JSON.stringify({ choices: [] }) }))
        const exit = yield* Workflow.run(multiModel, { query }).pipe(
          Effect.provide(remoteModels(["a"], server.baseUrl, "k")),
          Effect.exit
        )
        const reason = aiReasonOf(failureOf(exit))
        assert.strictEqual(reason._tag, "InvalidResponseError")
        assert.include(reason.message, "not a chat completion")
      })
    )

    it.live("a 500 fails with AiError(InternalProviderError)", () =>
      Effect.gen(function* () {
        const server = yield* startServer(() => ({ status: 500, body: "upstream exploded" }))
        const exit = yield* Workflow.run(multiModel, { query }).pipe(
          Effect.provide(remoteModels(["a"], server.baseUrl, "k")),
          Effect.exit
        )
        assert.strictEqual(aiReasonOf(failureOf(exit))._tag, "InternalProviderError")
      })
    )

    it.live("no server listening fails with AiError(NetworkError)", () =>
      Effect.gen(function* () {
        const baseUrl = yield* Effect.scoped(Effect.map(startServer(openAiLike("k")), (s) => s.baseUrl))
        const exit = yield* Workflow.run(multiModel, { query }).pipe(
          Effect.provide(remoteModels(["a"], baseUrl, "k")),
          Effect.exit
        )
        assert.strictEqual(aiReasonOf(failureOf(exit))._tag, "NetworkError")
      })
    )

    it.live("main with OPENAI_API_KEY and OPENAI_BASE_URL queries that server", () =>
      Effect.gen(function* () {
        const server = yield* startServer(openAiLike("env-key"))
        const env = {
          OPENAI_API_KEY: "env-key",
          OPENAI_BASE_URL: `${server.baseUrl}/`,
          MULTI_MODEL_MODELS: "x,y",
          MULTI_MODEL_QUERY: "Ping?"
        }
        const result = yield* main.pipe(
          Effect.provideService(ConfigProvider.ConfigProvider, ConfigProvider.fromEnv({ env }))
        )
        assert.deepStrictEqual(result, { x: "x answers: Ping?", y: "y answers: Ping?" })
        assert.deepStrictEqual(
          server.requests.map((r) => r.path),
          ["/v1/chat/completions", "/v1/chat/completions"]
        )
      })
    )
  })
})
