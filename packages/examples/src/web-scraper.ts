/**
 * Web scraper: the seed lesson's hands-on exercise (WebScraperWorkflow), done for real.
 *
 * What it teaches:
 * - fan-out: `dispatch_urls` stores how many URLs there are, then `ctx.send`s one `URLEvent` per URL;
 * - bounded concurrency: `fetch_url` runs with `workers: 5`, so at most five requests are in flight;
 * - fan-in: `collect_results` waits with `ctx.collect(ev, url_count)` and puts the results back in URL order;
 * - errors as data: every failure (malformed URL, refused connection, HTTP error status, timeout) becomes a
 *   `FetchResultEvent` with `success: false` and a readable reason, so one bad URL never ends the run;
 * - services: the fetch step uses Effect's `HttpClient`, which `main` provides with Node's layer.
 *
 * Run it: `npm start` scrapes an embedded demo server; `npm start -- <url> ...` scrapes your URLs.
 *
 * @since 0.1.0
 */
import { STATUS_CODES } from "node:http"
import { NodeHttpClient } from "@effect/platform-node"
import { defineWorkflow, StartEvent, StopEvent, Workflow, type WorkflowError } from "@effect-flow/core"
import { Cause, Console, Duration, Effect, Option, Predicate, Schema } from "effect"
import { HttpClient, type HttpClientError, type HttpServerError } from "effect/http"
import { withProgress } from "./web-scraper/progress.ts"
import * as DemoServer from "./web-scraper/server.ts"

// -------------------------------------------------------------------------------------------------
// events and results

/**
 * One URL to fetch, with its position in the input.
 *
 * @example
 * ```ts
 * yield* ctx.send(new URLEvent({ url: "https://example.com/", index: 0 }))
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class URLEvent extends Schema.TaggedClass<URLEvent>()("URLEvent", {
  url: Schema.String,
  index: Schema.Number
}) {}

/**
 * The outcome of fetching one URL: on success its status, size and title; on failure the reason.
 *
 * @example
 * ```ts
 * new FetchResultEvent({ url, index, success: false, error: "HTTP 404 Not Found" })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class FetchResultEvent extends Schema.TaggedClass<FetchResultEvent>()("FetchResultEvent", {
  url: Schema.String,
  index: Schema.Number,
  success: Schema.Boolean,
  status: Schema.optional(Schema.Number),
  bytes: Schema.optional(Schema.Number),
  title: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String)
}) {}

/**
 * A page that was fetched.
 *
 * @example
 * ```ts
 * const page: Page = { url: "https://example.com/", status: 200, bytes: 1256, title: "Example Domain" }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Page {
  readonly url: string
  readonly status: number
  /** Size of the body in bytes. */
  readonly bytes: number
  /** The HTML `<title>`, when the page has one. */
  readonly title?: string | undefined
}

/**
 * The scraper's result: counts, then the pages fetched and the failures, each in URL order.
 *
 * @example
 * ```ts
 * const { fetched, failed, errors } = yield* Workflow.run(webScraper, { urls })
 * for (const e of errors) yield* Console.log(`${e.url}: ${e.error}`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ScrapeResult {
  readonly fetched: number
  readonly failed: number
  readonly results: ReadonlyArray<Page>
  readonly errors: ReadonlyArray<{ readonly url: string; readonly error: string }>
}

/**
 * Why one URL could not be scraped. `kind` classifies it; `reason` is the readable message that ends
 * up in `errors`.
 *
 * @example
 * ```ts
 * fetchPage(url, Duration.seconds(1)).pipe(Effect.catchTag("FetchError", (e) => Console.log(e.reason)))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class FetchError extends Schema.TaggedError<FetchError>()("FetchError", {
  url: Schema.String,
  kind: Schema.Literals(["malformed-url", "http-status", "timeout", "connection", "body"]),
  reason: Schema.String
}) {
  override get message() {
    return `${this.url}: ${this.reason}`
  }
}

// -------------------------------------------------------------------------------------------------
// fetching one page

/**
 * The per-request timeout when the input does not set `timeoutMillis`.
 *
 * @example
 * ```ts
 * Duration.format(defaultTimeout) // "1s"
 * ```
 *
 * @since 0.1.0
 * @category fetching
 */
export const defaultTimeout: Duration.Duration = Duration.seconds(1)

/**
 * Check that `url` is an absolute `http:` or `https:` URL before any request is made.
 *
 * @example
 * ```ts
 * yield* parseUrl("htp//example.com") // fails: malformed URL: "htp//example.com" (not an absolute URL)
 * ```
 *
 * @since 0.1.0
 * @category fetching
 */
export const parseUrl = (url: string): Effect.Effect<URL, FetchError> => {
  const malformed = (why: string) =>
    Effect.fail(
      new FetchError({ url, kind: "malformed-url", reason: `malformed URL: ${JSON.stringify(url)} (${why})` })
    )
  if (!URL.canParse(url)) return malformed("not an absolute URL")
  const parsed = new URL(url)
  if (parsed.protocol !== "http:" && parsed.protocol !== "https:") {
    return malformed(`only http: and https: can be fetched, not ${parsed.protocol}`)
  }
  return Effect.succeed(parsed)
}

const errorCodes: Record<string, string> = {
  ECONNREFUSED: "connection refused",
  ECONNRESET: "connection reset",
  ENOTFOUND: "host not found",
  EAI_AGAIN: "DNS lookup failed",
  EHOSTUNREACH: "host unreachable",
  ENETUNREACH: "network unreachable",
  ETIMEDOUT: "connection timed out",
  CERT_HAS_EXPIRED: "TLS certificate expired"
}

/** The first `code` in an error's cause chain, with its message. */
const findCode = (u: unknown, depth = 0): { code: string; message: string } | undefined => {
  if (!Predicate.isObject(u) || depth > 5) return undefined
  if (Predicate.hasProperty(u, "code") && typeof u.code === "string") {
    return { code: u.code, message: Predicate.hasProperty(u, "message") ? String(u.message) : u.code }
  }
  return Predicate.hasProperty(u, "cause") ? findCode(u.cause, depth + 1) : undefined
}

const describeHttpError = (url: string, error: HttpClientError.HttpClientError): FetchError => {
  const reason = error.reason
  switch (reason._tag) {
    case "StatusCodeError": {
      const status = reason.response.status
      return new FetchError({ url, kind: "http-status", reason: `HTTP ${status} ${STATUS_CODES[status] ?? ""}`.trim() })
    }
    case "InvalidUrlError":
      return new FetchError({ url, kind: "malformed-url", reason: `malformed URL: ${JSON.stringify(url)}` })
    case "TransportError": {
      const found = findCode(reason.cause)
      const what =
        found === undefined ? (reason.description ?? "transport error") : (errorCodes[found.code] ?? found.message)
      return new FetchError({ url, kind: "connection", reason: `${what} (${new URL(url).host})` })
    }
    default:
      return new FetchError({ url, kind: "body", reason: `could not read the response: ${reason.message}` })
  }
}

const titleOf = (html: string): string | undefined => {
  const match = /<title[^>]*>([^<]*)<\/title>/i.exec(html)
  const title = match?.[1]?.replace(/\s+/g, " ").trim()
  return title === undefined || title === "" ? undefined : title
}

/**
 * Fetch one page with `HttpClient`: validate the URL, GET it, require a 2xx status, read the body and its
 * `<title>`, all within `timeout`. Every failure is a {@link FetchError} with a readable reason.
 *
 * @example
 * ```ts
 * const page = yield* fetchPage("http://127.0.0.1:8080/", Duration.seconds(1))
 * ```
 *
 * @since 0.1.0
 * @category fetching
 */
export const fetchPage = Effect.fn("WebScraper.fetchPage")(function* (url: string, timeout: Duration.Duration) {
  const parsed = yield* parseUrl(url)
  const client = (yield* HttpClient.HttpClient).pipe(HttpClient.followRedirects(5), HttpClient.filterStatusOk)
  return yield* client.get(parsed).pipe(
    Effect.flatMap((response) =>
      Effect.map(response.arrayBuffer, (body): Page => {
        const text = new TextDecoder().decode(body)
        return { url, status: response.status, bytes: body.byteLength, title: titleOf(text) }
      })
    ),
    Effect.timeout(timeout),
    Effect.catch((error) =>
      Effect.fail(
        Cause.isTimeoutError(error)
          ? new FetchError({ url, kind: "timeout", reason: `timed out after ${Duration.format(timeout)}` })
          : describeHttpError(url, error)
      )
    )
  )
})

// -------------------------------------------------------------------------------------------------
// the workflow

/**
 * The web scraper workflow: `dispatch_urls` fans out one `URLEvent` per URL, `fetch_url` (5 workers)
 * fetches each, `collect_results` fans in and returns a {@link ScrapeResult} in URL order. Its steps need
 * an `HttpClient`; the per-request timeout is `timeoutMillis` in the input (default 1 s). Redirects are
 * followed (up to 5); a URL counts as fetched when its final status is 2xx.
 *
 * @example
 * ```ts
 * const result = yield* Workflow.run(webScraper, { urls: ["https://example.com/"] }).pipe(
 *   Effect.provide(NodeHttpClient.layerUndici)
 * )
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const webScraper = defineWorkflow({
  name: "web-scraper",
  input: Schema.Struct({
    urls: Schema.Array(Schema.String),
    timeoutMillis: Schema.optional(Schema.Number.check(Schema.isGreaterThan(0)))
  }),
  state: Schema.Struct({ url_count: Schema.Number, timeout_millis: Schema.Number }),
  initialState: { url_count: 0, timeout_millis: Duration.toMillis(defaultTimeout) }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("url_count", ev.urls.length)
        if (ev.timeoutMillis !== undefined) yield* ctx.store.set("timeout_millis", ev.timeoutMillis)
        // Nothing to fetch means nothing to collect: finish here rather than wait for results.
        if (ev.urls.length === 0) return new StopEvent({ result: summarize([]) })
        for (const [index, url] of ev.urls.entries()) yield* ctx.send(new URLEvent({ url, index }))
      }),
    { name: "dispatch_urls", emits: [URLEvent, StopEvent] }
  )
  .step(
    URLEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const timeout = Duration.millis(yield* ctx.store.get("timeout_millis"))
        const result = yield* fetchPage(ev.url, timeout).pipe(
          Effect.map((page) => new FetchResultEvent({ ...page, index: ev.index, success: true })),
          Effect.catch((e) =>
            Effect.succeed(new FetchResultEvent({ url: ev.url, index: ev.index, success: false, error: e.reason }))
          )
        )
        // Published to the caller's event stream: npm start draws its progress bar from these.
        yield* ctx.write(result)
        return result
      }),
    { name: "fetch_url", workers: 5, emits: [FetchResultEvent] }
  )
  .step(
    FetchResultEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const urlCount = yield* ctx.store.get("url_count")
        const all = yield* ctx.collect(ev, urlCount)
        if (Option.isNone(all)) return
        return new StopEvent({ result: summarize(all.value) })
      }),
    { name: "collect_results", emits: [StopEvent] }
  )

/**
 * Turn the collected results (in any order) into a {@link ScrapeResult} in URL order.
 *
 * @example
 * ```ts
 * summarize([b, a]) // { fetched, failed, results, errors }, a's entry first since a.index < b.index
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const summarize = (events: ReadonlyArray<FetchResultEvent>): ScrapeResult => {
  const sorted = [...events].sort((a, b) => a.index - b.index)
  const results: Array<Page> = []
  const errors: Array<{ url: string; error: string }> = []
  for (const r of sorted) {
    if (r.success) {
      results.push({
        url: r.url,
        status: r.status ?? 0,
        bytes: r.bytes ?? 0,
        ...(r.title === undefined ? {} : { title: r.title })
      })
    } else {
      errors.push({ url: r.url, error: r.error ?? "unknown error" })
    }
  }
  return { fetched: results.length, failed: errors.length, results, errors }
}

// -------------------------------------------------------------------------------------------------
// the program

const plural = (n: number, noun: string) => `${n} ${noun}${n === 1 ? "" : "s"}`

const formatBytes = (n: number) => (n < 1024 ? `${n} B` : `${(n / 1024).toFixed(1)} kB`)

/**
 * The summary `main` prints: counts and time, each page fetched, each failure with its reason.
 *
 * @example
 * ```ts
 * yield* Console.log(formatSummary(result, Duration.millis(1270)))
 * // Scraped 36 URLs in 1s 270ms: 30 fetched, 6 failed ...
 * ```
 *
 * @since 0.1.0
 * @category program
 */
export const formatSummary = (result: ScrapeResult, elapsed: Duration.Duration): string => {
  const lines = [
    `Scraped ${plural(result.fetched + result.failed, "URL")} in ${Duration.format(elapsed)}: ${result.fetched} fetched, ${result.failed} failed`
  ]
  if (result.results.length > 0) {
    lines.push("", "Fetched:")
    for (const p of result.results) {
      lines.push(`  ✓ ${p.url}  ${p.status}  ${formatBytes(p.bytes)}${p.title === undefined ? "" : `  "${p.title}"`}`)
    }
  }
  if (result.errors.length > 0) {
    lines.push("", "Failed:")
    for (const e of result.errors) lines.push(`  ✗ ${e.url}  ${e.error}`)
  }
  return lines.join("\n")
}

/**
 * The demo's URLs on a running {@link DemoServer.DemoServer}: its 34 pages, plus a refused port and a
 * malformed URL, 36 in all.
 *
 * @example
 * ```ts
 * const urls = yield* demoUrls(yield* DemoServer.make)
 * ```
 *
 * @since 0.1.0
 * @category program
 */
export const demoUrls = (server: DemoServer.DemoServer): Effect.Effect<ReadonlyArray<string>> =>
  Effect.map(DemoServer.freePort, (port) => [
    ...DemoServer.demoPaths.map(server.url),
    `http://127.0.0.1:${port}/refused`,
    "htp//missing-colon.example/page"
  ])

/**
 * The example's entry point. With no arguments it starts the embedded demo server and scrapes it; with
 * URLs it scrapes those. Shows progress on stderr while it runs, then prints the summary. Succeeds when
 * the workflow completes, even if some URLs failed. `options.tty` overrides whether progress is drawn as
 * a bar (default: whether stderr is a terminal).
 *
 * @example
 * ```ts
 * await Effect.runPromise(main(process.argv.slice(2)))
 * ```
 *
 * @since 0.1.0
 * @category program
 */
export const main = (
  args: ReadonlyArray<string>,
  options?: { readonly tty?: boolean | undefined }
): Effect.Effect<void, WorkflowError.WorkflowError | HttpServerError.ServeError> =>
  Effect.gen(function* () {
    let urls = args
    if (urls.length === 0) {
      const server = yield* DemoServer.make
      urls = yield* demoUrls(server)
      yield* Console.log(`Demo server at ${server.origin}; scraping ${urls.length} URLs with 5 workers.`)
    }
    const [elapsed, result] = yield* withProgress<ScrapeResult, WorkflowError.WorkflowError, HttpClient.HttpClient>(
      Workflow.stream(webScraper, { urls }),
      urls.length,
      { tty: options?.tty }
    ).pipe(Effect.timed)
    yield* Console.log(formatSummary(result, Duration.millis(Math.round(Duration.toMillis(elapsed)))))
  }).pipe(Effect.scoped, Effect.provide(NodeHttpClient.layerUndici))
