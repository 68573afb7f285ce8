/**
 * A typed client for a workflow server, derived from {@link WorkflowApi.Api} with `HttpApiClient`: every
 * route is a method with typed parameters, bodies, results and errors. `events` reads a run's
 * Server-Sent Events and gives each event decoded from its JSON, with its position.
 *
 * @since 0.1.0
 */
import { type Effect, type Redacted, Stream } from "effect"
import { HttpClient, HttpClientRequest } from "effect/http"
import { HttpApiClient } from "effect/http-api"
import { tokenText } from "./internal/token.ts"
import { Api } from "./WorkflowApi.ts"

/**
 * Options of {@link make}: the server's base URL and its token, if it has one.
 *
 * @example
 * ```ts
 * const options: WorkflowClient.Options = { baseUrl: "http://127.0.0.1:8787", token: "s3cret" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  readonly baseUrl: string
  readonly token?: string | Redacted.Redacted<string> | undefined
}

/**
 * The typed client: `workflows.list`, `workflows.start`, `runs.get`, `runs.events`, `runs.send`,
 * `runs.cancel`, as declared in the API.
 *
 * @example
 * ```ts
 * const client: WorkflowClient.Client = yield* WorkflowClient.make({ baseUrl })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Client = HttpApiClient.ForApi<typeof Api>

/**
 * Make a client for the server at `baseUrl`; it needs an `HttpClient` (e.g. `FetchHttpClient.layer`).
 *
 * @example
 * ```ts
 * import { FetchHttpClient } from "effect/http"
 *
 * const program = Effect.gen(function* () {
 *   const client = yield* WorkflowClient.make({ baseUrl: "http://127.0.0.1:8787" })
 *   const { runId } = yield* client.workflows.start({ params: { name: "parallel" }, payload: { items: ["a"] } })
 *   return yield* client.runs.get({ params: { runId } })
 * }).pipe(Effect.provide(FetchHttpClient.layer))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = (options: Options): Effect.Effect<Client, never, HttpClient.HttpClient> => {
  const token = tokenText(options.token)
  return HttpApiClient.make(Api, {
    baseUrl: options.baseUrl,
    ...(token === undefined
      ? {}
      : { transformClient: HttpClient.mapRequest((request) => HttpClientRequest.bearerToken(request, token)) })
  })
}

/**
 * One event of a run as `events` gives it: its position (`Last-Event-ID`) and the event's JSON.
 *
 * @example
 * ```ts
 * const isStop = (e: WorkflowClient.RunEventJson) => (e.event as { _tag: string })._tag === "StopEvent"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunEventJson {
  readonly id: number
  readonly event: unknown
}

/**
 * A run's events, decoded: from the start (or after `after`), live, ending after the run's end.
 *
 * @example
 * ```ts
 * const events = yield* WorkflowClient.events(client, runId, { lifecycle: true }).pipe(Stream.runCollect)
 * ```
 *
 * @since 0.1.0
 * @category streams
 */
export const events = (
  client: Client,
  runId: string,
  options?: { readonly lifecycle?: boolean | undefined; readonly after?: number | undefined }
) =>
  Stream.unwrap(
    client.runs.events({
      params: { runId },
      query: options?.lifecycle ? { lifecycle: "1" } : {},
      headers: options?.after ? { "last-event-id": String(options.after) } : {}
    })
  ).pipe(Stream.map((frame): RunEventJson => ({ id: Number(frame.id ?? 0), event: JSON.parse(frame.data) })))
