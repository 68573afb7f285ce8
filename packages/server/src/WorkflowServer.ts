/**
 * Serve workflows over HTTP: list them, start runs, read a run's status, stream its events as
 * Server-Sent Events (replayable from the start or after `Last-Event-ID`), send it outside input, cancel
 * it, and watch it live in the browser at `/`. Built on `effect/http-api`, served by
 * `@effect/platform-node`.
 *
 * ```ts
 * import { WorkflowServer } from "@effect-flow/server"
 * Layer.launch(WorkflowServer.layer({ workflows: [parallel], port: 8787 })).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 */

import { timingSafeEqual } from "node:crypto"
import { readFileSync } from "node:fs"
import { createServer } from "node:http"
import { createRequire } from "node:module"
import { isIPv4, isIPv6 } from "node:net"
import { NodeHttpServer } from "@effect/platform-node"
import { Diagram, Event, RunStore, Workflow, type WorkflowValidationError } from "@effect-flow/core"
import { ByteSize, Deferred, Duration, Effect, Layer, Option, Redacted, Schema, Stream } from "effect"
import {
  FindMyWay,
  HttpIncomingMessage,
  HttpRouter,
  type HttpServer,
  type HttpServerError,
  HttpServerRequest,
  HttpServerResponse,
  HttpServerError as ServerError
} from "effect/http"
import { HttpApiBuilder, HttpApiError, OpenApi } from "effect/http-api"
import { tokenText } from "./internal/token.ts"
import * as RunRegistry from "./RunRegistry.ts"
import { Api, type WorkflowInfo } from "./WorkflowApi.ts"

/**
 * Options of {@link layer}.
 *
 * @example
 * ```ts
 * const options: WorkflowServer.Options<typeof parallel> = {
 *   workflows: [parallel],
 *   port: 8787,
 *   token: Redacted.make(process.env.FLOW_TOKEN!)
 * }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<W extends Workflow.Any = Workflow.Any> {
  /** The workflows to serve, by their `name` (names must differ). */
  readonly workflows: ReadonlyArray<W>
  /** The interface to listen on. Default `"127.0.0.1"`: only this machine can connect. */
  readonly host?: string | undefined
  /** The port; `0` picks a free one (read it from `HttpServer.HttpServer`'s `address`). */
  readonly port: number
  /** When set, every `/api` route needs `Authorization: Bearer <token>` (else 401). */
  readonly token?: string | Redacted.Redacted<string> | undefined
  /** How many finished in-memory runs to keep readable. Default 1000. */
  readonly keepRuns?: number | undefined
  /** The largest request body accepted, in bytes (else 413). Default 1 MiB. */
  readonly maxBodyBytes?: number | undefined
  /**
   * Origins besides the server's own that may `POST` / `DELETE` (e.g. `"https://flows.example.com"` when
   * a proxy serves it under another host). Default none.
   */
  readonly allowedOrigins?: ReadonlyArray<string> | undefined
  /**
   * Host names besides the loopback ones that requests may be addressed to (their `Host` header, any port), such
   * as the name a proxy keeps in `Host`: `["flows.example.com"]`. A server on a loopback interface (the default
   * `127.0.0.1`, `::1`, `localhost`) answers only requests for `localhost`, `127.0.0.1`, `[::1]`, its own `host`
   * and these, with 403 for any other name: a page of another site can point a name of its own at this machine
   * (DNS rebinding), and its requests then carry that name. On other interfaces (`0.0.0.0`, a LAN address) the
   * `Host` is checked only when this is set; there, set a `token`. Names as the `Host` header has them, without
   * port or scheme (an IPv6 address in brackets). Default none.
   *
   * @example
   * ```ts
   * // behind a proxy that passes Host: flows.example.com to 127.0.0.1:8787
   * WorkflowServer.layer({ workflows: [parallel], port: 8787, allowedHosts: ["flows.example.com"] })
   * ```
   *
   * @since 0.2.0
   */
  readonly allowedHosts?: ReadonlyArray<string> | undefined
  /**
   * How often an event stream with nothing to say sends a comment line, so proxies and browsers keep an idle
   * connection (a run waiting for input) open. Default 15 seconds.
   */
  readonly keepAliveEvery?: Duration.Input | undefined
}

/**
 * An option of {@link layer} that cannot work, found when the layer is built: which option, the value given, and
 * what it takes. Such values come from the environment (`Number(process.env.PORT)` is `NaN` when `PORT` is not a
 * number, `process.env.FLOW_TOKEN ?? ""` is an empty token, which anyone could send), and would otherwise fail later
 * or quietly: a `keepAliveEvery` that is not a duration left every event stream without an answer, a `keepRuns`
 * of `NaN` kept every run forever.
 *
 * @example
 * ```ts
 * // WorkflowServer.layer({ workflows: [parallel], port: Number("80a") }) fails with:
 * // InvalidOptionError: WorkflowServer.layer's option port is NaN: expected a whole number from 0 to 65535 (0 picks a free port)
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class InvalidOptionError extends Schema.TaggedError<InvalidOptionError>()("InvalidOptionError", {
  option: Schema.String,
  value: Schema.String,
  expected: Schema.String,
  /** Whose option: `"WorkflowServer.layer"` (when absent) or `"WorkflowServer.routes"`. */
  of: Schema.optional(Schema.String)
}) {
  override get message() {
    return `${this.of ?? "WorkflowServer.layer"}'s option ${this.option} is ${this.value}: expected ${this.expected}`
  }
}

const shown = (value: unknown): string =>
  typeof value === "string" ? JSON.stringify(value) : Number.isNaN(value) ? "NaN" : String(value)

/** A host name as a `Host` header has it, without its port: a name or IPv4 address, or an IPv6 one in brackets. */
const isHostName = (name: string): boolean =>
  /^[a-z0-9_]([a-z0-9_.-]*[a-z0-9_])?\.?$/i.test(name) ||
  (name.startsWith("[") && name.endsWith("]") && isIPv6(name.slice(1, -1)))

/** The host name of a `Host` header (without the port), lower case, without a final dot. */
const hostOf = (header: string): string => {
  const name = header.startsWith("[") ? header.slice(0, header.indexOf("]") + 1) : header.split(":")[0]!
  return name.toLowerCase().replace(/\.$/, "")
}

/** A host option as a `Host` header names it: an IPv6 address in brackets. */
const asHostName = (host: string): string => hostOf(isIPv6(host) ? `[${host}]` : host)

const isLoopback = (host: string): boolean => {
  const name = asHostName(host)
  return (
    name === "localhost" ||
    name === "[::1]" ||
    name === "[::ffff:127.0.0.1]" ||
    (isIPv4(name) && name.startsWith("127."))
  )
}

/**
 * The host names a server answers requests for, or undefined when any will do: on a loopback interface (or with
 * `allowedHosts`), the loopback names, its own host (unless it is every interface) and `allowedHosts`.
 */
const answeredHosts = (options: Options<any>): ReadonlySet<string> | undefined => {
  const host = options.host ?? "127.0.0.1"
  if (!isLoopback(host) && options.allowedHosts === undefined) return undefined
  const names = new Set(["localhost", "127.0.0.1", "[::1]"])
  if (host !== "0.0.0.0" && host !== "::") names.add(asHostName(host))
  for (const name of options.allowedHosts ?? []) names.add(hostOf(name))
  return names
}

/** The first option that cannot work, if any. */
const checkOptions = (
  options: Options<any>,
  of: "WorkflowServer.layer" | "WorkflowServer.routes"
): Effect.Effect<void, InvalidOptionError> => {
  const invalid = (option: string, value: unknown, expected: string, text = shown(value)) =>
    Effect.fail(
      new InvalidOptionError({ option, value: text, expected, ...(of === "WorkflowServer.layer" ? {} : { of }) })
    )
  const wholeAtLeast = (n: unknown, min: number) => typeof n === "number" && Number.isSafeInteger(n) && n >= min
  const { port, keepRuns, maxBodyBytes, keepAliveEvery, host } = options
  if (!wholeAtLeast(port, 0) || port > 65535) {
    return invalid("port", port, "a whole number from 0 to 65535 (0 picks a free port)")
  }
  if (host !== undefined && (typeof host !== "string" || host.trim() === "")) {
    return invalid("host", host, 'an interface to listen on, such as "127.0.0.1" (the default) or "0.0.0.0"')
  }
  if (keepRuns !== undefined && !wholeAtLeast(keepRuns, 0)) {
    return invalid("keepRuns", keepRuns, "a whole number of finished runs to keep, 0 or more (default 1000)")
  }
  if (maxBodyBytes !== undefined && !wholeAtLeast(maxBodyBytes, 1)) {
    return invalid("maxBodyBytes", maxBodyBytes, "a whole number of bytes, 1 or more (default 1 MiB)")
  }
  if (keepAliveEvery !== undefined) {
    const every = Duration.fromInput(keepAliveEvery)
    if (Option.isNone(every) || !Duration.isFinite(every.value) || !Duration.isPositive(every.value)) {
      return invalid(
        "keepAliveEvery",
        keepAliveEvery,
        'a finite duration above zero, such as "15 seconds" (the default)'
      )
    }
  }
  const { allowedHosts } = options
  if (allowedHosts !== undefined) {
    const expected =
      'a list of host names as the Host header has them, without port or scheme, such as ["flows.example.com"]'
    if (!Array.isArray(allowedHosts)) return invalid("allowedHosts", allowedHosts, expected)
    const bad = allowedHosts.find((name) => typeof name !== "string" || !isHostName(name))
    if (bad !== undefined) return invalid("allowedHosts", bad, expected)
  }
  const token = options.token === undefined ? undefined : tokenText(options.token)
  if (options.token !== undefined && (typeof token !== "string" || token.trim() === "")) {
    const text = Redacted.isRedacted(options.token) ? "a Redacted of blank text" : shown(token)
    return invalid("token", token, "a token that is not blank, or no token", text)
  }
  return Effect.void
}

/** The JSON Schema of a workflow's input, as listed by `GET /api/workflows`. */
const inputJsonSchema = (workflow: Workflow.Any): unknown => {
  const input = workflow.config.input as Schema.Top | undefined
  if (input === undefined) return { type: "object" }
  const document = Schema.toJsonSchemaDocument(input)
  const defs = (document as any).definitions
  return defs !== undefined && Object.keys(defs).length > 0
    ? { ...(document.schema as object), $defs: defs }
    : document.schema
}

/**
 * What `GET /api/workflows` says about a workflow: name, steps, Mermaid diagram, input JSON Schema.
 *
 * @example
 * ```ts
 * WorkflowServer.describe(parallel).steps.map((s) => s.name) // ["dispatch", "process_item", "collect_results"]
 * ```
 *
 * @since 0.1.0
 * @category inspection
 */
export const describe = (workflow: Workflow.Any): typeof WorkflowInfo.Type => ({
  name: workflow.name,
  steps: Workflow.describe(workflow).steps.map((s) => ({
    name: s.name,
    accepts: s.accepts,
    ...(s.emits !== undefined ? { emits: s.emits } : {}),
    workers: s.workers
  })),
  mermaid: Diagram.toMermaid(workflow),
  input: inputJsonSchema(workflow),
  outsideInput: [
    ...new Set([
      "HumanResponseEvent",
      ...(workflow.config.outsideInput ?? []).flatMap((c) => {
        const tag = Event.tagOf(c)
        return tag === undefined ? [] : [tag]
      })
    ])
  ]
})

const encoder = new TextEncoder()

/** SSE frames for a batch of entries: one write per batch, `id:` per event. */
const frames = (batch: ReadonlyArray<RunRegistry.LogEntry>): Uint8Array => {
  let text = ""
  for (const entry of batch) text += `id: ${entry.id}\ndata: ${entry.data}\n\n`
  return encoder.encode(text)
}

const keepAlive = encoder.encode(": keep-alive\n\n")

const sseResponse = (
  runId: string,
  events: Stream.Stream<ReadonlyArray<RunRegistry.LogEntry>>,
  keepAliveEvery: Duration.Input,
  stopping: Effect.Effect<void>
) =>
  HttpServerResponse.stream(
    // A comment first, so the headers go out at once, before the run publishes anything; then the frames,
    // with a comment now and then while nothing happens. The stream ends with the run's events; when the
    // server stops first, the connection is cut (not ended, which would read as the run's end), so the
    // server need not wait for it and the client reconnects with Last-Event-ID.
    Stream.concat(
      Stream.succeed(encoder.encode(`: run ${runId}\n\n`)),
      Stream.merge(
        Stream.map(events, frames),
        Stream.tick(keepAliveEvery).pipe(
          Stream.drop(1),
          Stream.map(() => keepAlive)
        ),
        { haltStrategy: "left" }
      )
    ).pipe(Stream.interruptWhen(Effect.andThen(stopping, Effect.die(new Error("The server is stopping"))))),
    {
      contentType: "text/event-stream",
      headers: { "cache-control": "no-cache", "x-accel-buffering": "no", connection: "keep-alive" }
    }
  )

const lastEventId = (header: string | undefined): number => {
  const n = Number(header)
  return header !== undefined && Number.isSafeInteger(n) && n > 0 ? n : 0
}

const WorkflowsHandlers = HttpApiBuilder.group(
  Api,
  "workflows",
  Effect.fnUntraced(function* (handlers) {
    const registry = yield* RunRegistry.RunRegistry
    const infos = registry.workflows.map(describe)
    return handlers
      .handle("list", () => Effect.succeed(infos))
      .handle("start", ({ params, payload }) =>
        Effect.map(registry.start(params.name, payload), (runId) => ({ runId }))
      )
  })
)

const RunsHandlers = (keepAliveEvery: Duration.Input, stopping: Effect.Effect<void>) =>
  HttpApiBuilder.group(
    Api,
    "runs",
    Effect.fnUntraced(function* (handlers) {
      const registry = yield* RunRegistry.RunRegistry
      return handlers
        .handle("get", ({ params }) => registry.status(params.runId))
        .handle(
          "events",
          ({ params, query, headers }) =>
            Effect.map(
              registry.events(params.runId, {
                after: lastEventId(headers["last-event-id"]),
                lifecycle: query.lifecycle === "1" || query.lifecycle === "true"
              }),
              (events) => sseResponse(params.runId, events, keepAliveEvery, stopping)
            ) as any
        )
        .handle("send", ({ params, payload }) => registry.send(params.runId, payload))
        .handle("cancel", ({ params }) => registry.cancel(params.runId))
    })
  )

const json = (status: number, body: unknown) =>
  HttpServerResponse.jsonUnsafe(body, { status, headers: { "cache-control": "no-store" } })

const sameToken = (expected: Uint8Array, header: string | undefined): boolean => {
  if (header === undefined || !header.startsWith("Bearer ")) return false
  const given = encoder.encode(header.slice("Bearer ".length).trim())
  return given.length === expected.length && timingSafeEqual(given, expected)
}

const originAllowed = (request: HttpServerRequest.HttpServerRequest, allowed: ReadonlySet<string>): boolean => {
  const origin = request.headers.origin
  if (origin === undefined) return request.headers["sec-fetch-site"] !== "cross-site"
  if (allowed.has(origin)) return true
  try {
    return new URL(origin).host === request.headers.host
  } catch {
    return false
  }
}

/** What a server with a token serves without it: the viewer's page and assets, and the OpenAPI document. */
const PUBLIC_PATHS: ReadonlySet<string> = new Set([
  "/",
  "/openapi.json",
  "/viewer/app.js",
  "/viewer/style.css",
  "/viewer/mermaid.min.js"
])

/** The methods each path of the server answers (the API's routes, the OpenAPI document, the viewer's files). */
const knownRoutes: ReadonlyArray<readonly [string, FindMyWay.PathInput]> = [
  ...Object.values(Api.groups).flatMap((group) =>
    Object.values(group.endpoints).map((endpoint) => [endpoint.method, endpoint.path as FindMyWay.PathInput] as const)
  ),
  ...[...PUBLIC_PATHS].map((path) => ["GET", path as FindMyWay.PathInput] as const)
]

const METHODS = ["DELETE", "GET", "OPTIONS", "PATCH", "POST", "PUT"]

/**
 * What a request no route serves is answered: a 405 naming the methods its path takes (in `Allow` too) when the
 * path is one the server serves, else a 404 naming it, both in JSON like every other error (the router's own are
 * empty). The paths are matched as the router matches them (same matcher, same defaults).
 */
const unrouted = (() => {
  const router = FindMyWay.make<string>()
  for (const [method, path] of knownRoutes) router.on(method, path, method)
  return (request: HttpServerRequest.HttpServerRequest) => {
    const path = request.url.split("?")[0] ?? ""
    const allowed = METHODS.filter((method) => router.find(method, request.url) !== undefined)
    if (allowed.length > 0) {
      return json(405, {
        _tag: "MethodNotAllowed",
        method: request.method,
        path,
        allowed,
        message: `${request.method} ${path} is not served: this path takes ${allowed.join(", ")}`
      }).pipe(HttpServerResponse.setHeader("allow", allowed.join(", ")))
    }
    return json(404, {
      _tag: "NotFound",
      method: request.method,
      path,
      message: `No route serves ${request.method} ${path}: the API's routes are listed in /openapi.json`
    })
  }
})()

const isRouteNotFound = (error: unknown): boolean =>
  ServerError.isHttpServerError(error) && error.reason._tag === "RouteNotFound"

/**
 * The guards every request passes: a request for a host name the server does not answer is 403 (see
 * {@link Options.allowedHosts}), a foreign `Origin` on a `POST` / `DELETE` is 403, anything but the public
 * paths without the token (when set) is 401, a path no route serves is a 404 (a 405 for another method of a known
 * path) in JSON, bodies are limited, a body that does not decode is 400 with the issue in
 * the body (HttpApi's own 400 is empty), and one that is not JSON is a 415 in JSON (HttpApi's is plain text).
 */
const guards = (options: Options<any>) => {
  const token = tokenText(options.token)
  const expected = token === undefined ? undefined : encoder.encode(token)
  const allowed = new Set(options.allowedOrigins ?? [])
  const hosts = answeredHosts(options)
  const maxBody = ByteSize.bytes(options.maxBodyBytes ?? 1024 * 1024)
  return HttpRouter.middleware(
    (httpEffect) =>
      Effect.gen(function* () {
        const request = yield* HttpServerRequest.HttpServerRequest
        const host = request.headers.host
        if (hosts !== undefined && (host === undefined || !hosts.has(hostOf(host)))) {
          return json(403, {
            _tag: "Forbidden",
            host: host ?? "(none)",
            message: `A request for host ${host ?? "(none: no Host header)"} is refused: this server answers requests for ${[...hosts].join(", ")} only (a page of another site can point a name of its own at this machine); if the name is yours, list it in allowedHosts`
          })
        }
        const unsafe = request.method !== "GET" && request.method !== "HEAD" && request.method !== "OPTIONS"
        if (unsafe && !originAllowed(request, allowed)) {
          return json(403, {
            _tag: "Forbidden",
            message: `A ${request.method} from origin ${request.headers.origin ?? "(cross-site)"} is refused: only the server's own origin may change runs`
          })
        }
        // Every path but the public ones needs the token: the router matches paths loosely (any case, %-escapes,
        // doubled slashes), so a check for "/api/..." here would let "/API/..." or "//api/..." through.
        const path = request.url.split("?")[0] ?? ""
        if (expected !== undefined && !PUBLIC_PATHS.has(path)) {
          if (!sameToken(expected, request.headers.authorization)) {
            return json(401, {
              _tag: "Unauthorized",
              message: "This server needs a token: send the header Authorization: Bearer <token>"
            }).pipe(HttpServerResponse.setHeader("www-authenticate", 'Bearer realm="effect-flow"'))
          }
        }
        return yield* httpEffect.pipe(
          Effect.provideService(HttpIncomingMessage.MaxBodySize, maxBody),
          Effect.catchIf(isRouteNotFound, () => Effect.succeed(unrouted(request))),
          Effect.catchDefect((defect) => {
            if (HttpApiError.HttpApiSchemaError.is(defect)) {
              return Effect.succeed(
                json(400, {
                  _tag: "InvalidBody",
                  where: `request ${defect.kind.toLowerCase()}`,
                  issue: defect.cause.message
                })
              )
            }
            if (HttpApiError.HttpApiPayloadTooLarge.is(defect)) {
              return Effect.succeed(json(413, { _tag: "PayloadTooLarge", message: defect.message }))
            }
            return Effect.die(defect)
          }),
          // HttpApi answers a body it cannot read as JSON with a 415 in plain text: say it as the other errors do
          Effect.map((response) =>
            response.status === 415
              ? json(415, {
                  _tag: "UnsupportedMediaType",
                  where: "request payload",
                  message: `The body is sent as ${request.headers["content-type"] ?? "(no content-type)"}: send JSON, with content-type: application/json`
                })
              : response
          )
        )
      }) as any,
    { global: true }
  )
}

const require = createRequire(import.meta.url)
const viewerFile = (name: string) => readFileSync(new URL(`../viewer/${name}`, import.meta.url))

/** The run viewer's page and assets, the Mermaid browser bundle included (nothing comes from the internet). */
const viewerRoutes = Layer.unwrap(
  Effect.sync(() => {
    const page = viewerFile("index.html")
    const assets: Record<string, readonly [Uint8Array, string]> = {
      "/viewer/app.js": [viewerFile("app.js"), "text/javascript; charset=utf-8"],
      "/viewer/style.css": [viewerFile("style.css"), "text/css; charset=utf-8"],
      "/viewer/mermaid.min.js": [
        readFileSync(require.resolve("mermaid/dist/mermaid.min.js")),
        "text/javascript; charset=utf-8"
      ]
    }
    const security = {
      "content-security-policy":
        "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
      "x-content-type-options": "nosniff",
      "referrer-policy": "no-referrer"
    }
    return HttpRouter.addAll([
      HttpRouter.route(
        "GET",
        "/",
        Effect.succeed(
          HttpServerResponse.uint8Array(page, {
            contentType: "text/html; charset=utf-8",
            headers: { ...security, "cache-control": "no-cache" }
          })
        )
      ),
      ...Object.entries(assets).map(([path, [body, contentType]]) =>
        HttpRouter.route(
          "GET",
          path as HttpRouter.PathInput,
          Effect.succeed(
            HttpServerResponse.uint8Array(body, {
              contentType,
              headers: { ...security, "cache-control": "public, max-age=3600" }
            })
          )
        )
      )
    ])
  })
)

/**
 * The OpenAPI document of a server with a token: a bearer security scheme, required by every `/api`
 * operation, each of which may then answer 401.
 */
const withBearer = (spec: Record<string, any>): Record<string, any> => {
  const paths: Record<string, any> = {}
  for (const [path, item] of Object.entries(spec.paths ?? {})) {
    const operations: Record<string, any> = {}
    for (const [method, operation] of Object.entries(item as Record<string, any>)) {
      operations[method] = path.startsWith("/api/")
        ? {
            ...operation,
            security: [{ bearer: [] }],
            responses: {
              ...operation.responses,
              "401": { description: "Unauthorized: no Authorization: Bearer <token> header, or a wrong token" }
            }
          }
        : operation
    }
    paths[path] = operations
  }
  return {
    ...spec,
    paths,
    components: {
      ...spec.components,
      securitySchemes: {
        ...spec.components?.securitySchemes,
        bearer: {
          type: "http",
          scheme: "bearer",
          description: "The server's token (WorkflowServer.layer's `token`), as Authorization: Bearer <token>"
        }
      }
    },
    security: [{ bearer: [] }]
  }
}

/**
 * The routes (API, OpenAPI document, viewer and guards) over whatever {@link RunRegistry.RunRegistry} is
 * provided, to mount in an HTTP app of your own: serve them with `HttpRouter.serve` on any `HttpServer`, or turn
 * them into a handler with `HttpRouter.toHttpEffect` / `HttpRouter.toWebHandler`. As with {@link layer}, an option
 * that cannot work fails the layer with {@link InvalidOptionError}, and closing the layer cuts the event streams
 * still open (the connection breaks rather than ends, so no client takes it for the run's end). Under
 * `HttpRouter.serve` the server itself stops first, and waits for open requests (Node's server up to its
 * `gracefulShutdownTimeout`) before the routes close: {@link layer} cuts the streams before that wait. Pass as
 * `host` the interface your server listens on: the `Host` check follows it (see {@link Options.allowedHosts}), so
 * routes served on `0.0.0.0` under the default `host` answer only requests addressed to a loopback name.
 *
 * @example
 * ```ts
 * const app = WorkflowServer.routes({ workflows: [parallel], port: 0 }).pipe(
 *   Layer.provide(RunRegistry.layerMemory({ workflows: [parallel] }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const routes = (
  options: Options<any>
): Layer.Layer<never, InvalidOptionError, RunRegistry.RunRegistry | HttpRouter.HttpRouter> =>
  Layer.unwrap(Effect.as(checkOptions(options, "WorkflowServer.routes"), routesUntil(options, Effect.never)))

/**
 * {@link routes} (options already checked by the caller), whose event streams are cut once `stopping` completes or
 * the routes' scope closes, whichever comes first: what both {@link routes} and {@link layer} serve.
 */
const routesUntil = (
  options: Options<any>,
  stopping: Effect.Effect<void>
): Layer.Layer<never, never, RunRegistry.RunRegistry | HttpRouter.HttpRouter> =>
  Layer.unwrap(
    Effect.gen(function* () {
      const closed = Deferred.makeUnsafe<void>()
      yield* Effect.addFinalizer(() => Deferred.succeed(closed, undefined))
      const cut = Effect.raceFirst(stopping, Deferred.await(closed))
      return Layer.mergeAll(
        HttpApiBuilder.layer(
          tokenText(options.token) === undefined ? Api : Api.annotate(OpenApi.Transform, withBearer),
          { openapiPath: "/openapi.json" }
        ).pipe(Layer.provide([WorkflowsHandlers, RunsHandlers(options.keepAliveEvery ?? "15 seconds", cut)])),
        viewerRoutes,
        guards(options)
      )
    })
  ) as any

/**
 * Serve `workflows` on `host:port` (default host `127.0.0.1`). An option that cannot work (a port out of range,
 * a `keepRuns` that is not a whole number, an empty token...) fails the layer with {@link InvalidOptionError}.
 * Runs are durable when a `RunStore` is in
 * context (`RunRegistry.layerDurable`: e.g. provide `SqliteRunStore.layer({ filename })` from
 * `@effect-flow/sql`), in memory otherwise (`RunRegistry.layerMemory`). The layer provides the
 * `HttpServer` (its `address` tells the port when `port` is 0) and the `RunRegistry`; it needs the
 * services the workflows' steps use.
 *
 * @example
 * ```ts
 * import { NodeRuntime } from "@effect/platform-node"
 * import { WorkflowServer } from "@effect-flow/server"
 * import { Layer } from "effect"
 *
 * Layer.launch(WorkflowServer.layer({ workflows: [parallel], port: 8787 })).pipe(NodeRuntime.runMain)
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = <W extends Workflow.Any>(
  options: Options<W>
): Layer.Layer<
  HttpServer.HttpServer | RunRegistry.RunRegistry,
  HttpServerError.ServeError | InvalidOptionError | WorkflowValidationError | RunRegistry.DuplicateWorkflowError,
  Workflow.Workflow.Services<W>
> => {
  const registry = Layer.unwrap(
    Effect.map(Effect.serviceOption(RunStore.RunStore), (store) =>
      Option.isSome(store)
        ? RunRegistry.layerDurable({ workflows: options.workflows })
        : RunRegistry.layerMemory({ workflows: options.workflows, keepRuns: options.keepRuns })
    )
  )
  const server = NodeHttpServer.layer(createServer, { port: options.port, host: options.host ?? "127.0.0.1" })
  return Layer.unwrap(
    Effect.map(checkOptions(options, "WorkflowServer.layer"), () => {
      // Stopping waits for the open requests to finish, and an event stream of a run that goes on never does:
      // the first thing the layer does when it closes (it is built last) is to cut those streams.
      const stopping = Deferred.makeUnsafe<void>()
      const cutStreams = Layer.effectDiscard(Effect.addFinalizer(() => Deferred.succeed(stopping, undefined)))
      return cutStreams.pipe(
        Layer.provideMerge(
          HttpRouter.serve(routesUntil(options, Deferred.await(stopping)), {
            disableLogger: true,
            disableListenLog: true
          })
        ),
        Layer.provideMerge(registry),
        Layer.provideMerge(server)
      )
    })
  ) as any
}
