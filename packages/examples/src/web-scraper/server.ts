/**
 * The web scraper's embedded demo server: a small HTTP server on `127.0.0.1` and an ephemeral port,
 * serving pages that answer fast, slowly, with an error status, or never, so the scraper meets every
 * kind of failure without touching the network. It counts requests in flight, so a test can check
 * that the scraper never runs more than its `workers` at once.
 *
 * Routes:
 * - `/page/<n>?delay=<ms>`: an HTML page titled `Page <n>`, answered after `delay` ms (default 0).
 * - `/status/<code>`: an HTML page with that status (404, 500, ...).
 * - `/moved/<n>`: a 301 redirect to `/page/<n>`.
 * - `/hang`: answers after a minute, far beyond any scraper timeout.
 * - `/gate?n=<k>`: answers once `k` requests are in flight at the same time (503 after 10 s), which
 *   turns "the scraper runs k requests at once" into an observable fact instead of a timing.
 * - anything else: 404.
 *
 * @since 0.1.0
 */
import * as Http from "node:http"
import * as Net from "node:net"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Option, Ref, type Scope, Stream, SubscriptionRef } from "effect"
import { type HttpServerError, HttpServerRequest, HttpServerResponse } from "effect/http"

/**
 * A running demo server.
 *
 * @example
 * ```ts
 * const server = yield* DemoServer.make
 * const { peakInFlight } = yield* server.stats
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DemoServer {
  /** `http://127.0.0.1:<port>`. */
  readonly origin: string
  /** The absolute URL of a path on this server. */
  readonly url: (path: string) => string
  /** Requests served so far, in flight now, and the most ever in flight at once. */
  readonly stats: Effect.Effect<DemoServer.Stats>
}

/**
 * The types that go with {@link DemoServer}.
 *
 * @since 0.1.0
 * @category models
 */
export declare namespace DemoServer {
  /**
   * Request counters of a {@link DemoServer}.
   *
   * @example
   * ```ts
   * const stats: DemoServer.Stats = yield* server.stats
   * ```
   *
   * @since 0.1.0
   * @category models
   */
  export interface Stats {
    readonly requests: number
    readonly inFlight: number
    readonly peakInFlight: number
  }
}

/**
 * The paths the demo scrapes: 30 pages (6 of them slow, 300-480 ms), a 404, a 500, a 503 and one page
 * that hangs, 34 in all. The demo adds a refused port and a malformed URL to reach 36.
 *
 * @example
 * ```ts
 * const urls = demoPaths.map(server.url)
 * ```
 *
 * @since 0.1.0
 * @category demo
 */
export const demoPaths: ReadonlyArray<string> = (() => {
  const slow = new Set([4, 9, 15, 20, 26, 29])
  const pages = Array.from({ length: 30 }, (_, i) => {
    const n = i + 1
    const delay = slow.has(n) ? 300 + ((n * 37) % 200) : 10 + ((n * 23) % 60)
    return `/page/${n}?delay=${delay}`
  })
  return [
    ...pages.slice(0, 10),
    "/status/404",
    ...pages.slice(10, 14),
    "/hang",
    ...pages.slice(14, 20),
    "/status/500",
    ...pages.slice(20, 26),
    "/status/503",
    ...pages.slice(26)
  ]
})()

const topics = ["effects", "fibers", "layers", "schedules", "streams", "schemas", "scopes", "queues"]

const pageHtml = (n: number): string => {
  const topic = topics[n % topics.length]
  const paragraphs = Array.from(
    { length: 1 + (n % 5) },
    (_, i) => `<p>Paragraph ${i + 1} of page ${n}, about ${topic}.</p>`
  ).join("\n")
  return `<!doctype html>\n<html><head><title>Page ${n}: ${topic}</title></head>\n<body>\n${paragraphs}\n</body></html>\n`
}

const statusHtml = (status: number): string =>
  `<!doctype html>\n<html><head><title>${status} ${Http.STATUS_CODES[status] ?? ""}</title></head><body></body></html>\n`

const html = (body: string, status = 200) => HttpServerResponse.text(body, { status, contentType: "text/html" })

const intParam = (value: string | null, fallback: number): number => {
  const n = value === null ? Number.NaN : Number(value)
  return Number.isInteger(n) && n >= 0 ? n : fallback
}

/**
 * Start the demo server on `127.0.0.1` and an ephemeral port. It stops when the scope closes, dropping
 * any connection still open (a hanging page's, say).
 *
 * @example
 * ```ts
 * Effect.scoped(Effect.gen(function*() {
 *   const server = yield* DemoServer.make
 *   const urls = DemoServer.demoPaths.map(server.url)
 * }))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make: Effect.Effect<DemoServer, HttpServerError.ServeError, Scope.Scope> = Effect.gen(function* () {
  const requests = yield* Ref.make(0)
  const peak = yield* Ref.make(0)
  const inFlight = yield* SubscriptionRef.make(0)

  const enter = Effect.gen(function* () {
    yield* Ref.update(requests, (n) => n + 1)
    const now = yield* SubscriptionRef.updateAndGet(inFlight, (n) => n + 1)
    yield* Ref.update(peak, (p) => Math.max(p, now))
  })
  const leave = SubscriptionRef.update(inFlight, (n) => n - 1)

  const gate = (target: number) =>
    SubscriptionRef.changes(inFlight).pipe(
      Stream.filter((n) => n >= target),
      Stream.runHead,
      Effect.timeoutOption("10 seconds"),
      Effect.map((reached) =>
        Option.isSome(reached)
          ? html(`<html><head><title>Gate ${target}</title></head></html>`)
          : html(statusHtml(503), 503)
      )
    )

  const route = (url: URL): Effect.Effect<HttpServerResponse.HttpServerResponse> => {
    const [first, second, ...rest] = url.pathname.split("/").filter((p) => p.length > 0)
    const id = rest.length === 0 ? second : undefined
    if (first === "page" && id !== undefined && /^\d+$/.test(id)) {
      const n = Number(id)
      return Effect.succeed(html(pageHtml(n))).pipe(Effect.delay(intParam(url.searchParams.get("delay"), 0)))
    }
    if (first === "status" && id !== undefined && /^[1-5]\d\d$/.test(id)) {
      const status = Number(id)
      return Effect.succeed(html(statusHtml(status), status))
    }
    if (first === "moved" && id !== undefined && /^\d+$/.test(id)) {
      return Effect.succeed(HttpServerResponse.redirect(`/page/${id}`, { status: 301 }))
    }
    if (url.pathname === "/hang") {
      return Effect.succeed(html(pageHtml(0))).pipe(Effect.delay("1 minute"))
    }
    if (url.pathname === "/gate") return gate(intParam(url.searchParams.get("n"), 1))
    return Effect.succeed(html(statusHtml(404), 404))
  }

  const app = Effect.gen(function* () {
    const request = yield* HttpServerRequest.HttpServerRequest
    // A bare server app runs uninterruptibly (HttpRouter routes opt in for you): opt in here, so a client
    // that gives up (a scraper timeout) interrupts the handler instead of leaving it to finish.
    return yield* Effect.acquireUseRelease(
      enter,
      () => Effect.interruptible(route(new URL(request.url, "http://127.0.0.1"))),
      () => leave
    )
  })

  const nodeServer = Http.createServer()
  const server = yield* NodeHttpServer.make(() => nodeServer, { host: "127.0.0.1", port: 0 })
  yield* server.serve(app)
  // Runs first on close: drop open connections so shutting down never waits for a hanging page.
  yield* Effect.addFinalizer(() => Effect.sync(() => nodeServer.closeAllConnections()))

  const address = nodeServer.address() as Net.AddressInfo
  const origin = `http://127.0.0.1:${address.port}`
  return {
    origin,
    url: (path: string) => new URL(path, origin).href,
    stats: Effect.all({
      requests: Ref.get(requests),
      inFlight: SubscriptionRef.get(inFlight),
      peakInFlight: Ref.get(peak)
    })
  }
})

/**
 * A loopback port nothing listens on: bind `127.0.0.1:0`, note the port, close. Connecting to it is
 * refused (unless another process grabs the port in between, which is unlikely but possible).
 *
 * @example
 * ```ts
 * const port = yield* freePort
 * const refused = `http://127.0.0.1:${port}/`
 * ```
 *
 * @since 0.1.0
 * @category demo
 */
export const freePort: Effect.Effect<number> = Effect.callback<number>((resume) => {
  const probe = Net.createServer()
  probe.listen({ host: "127.0.0.1", port: 0 }, () => {
    const { port } = probe.address() as Net.AddressInfo
    probe.close(() => resume(Effect.succeed(port)))
  })
  probe.on("error", (error) => resume(Effect.die(error)))
})
