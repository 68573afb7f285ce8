import { NodeHttpClient } from "@effect/platform-node"
import { assert, describe, it } from "@effect/vitest"
import { type Event, StopEvent, Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect, Exit, Result, Stream } from "effect"
import { TestConsole } from "effect/testing"
import { renderBar, withProgress } from "../src/web-scraper/progress.ts"
import * as DemoServer from "../src/web-scraper/server.ts"
import { FetchResultEvent, main, parseUrl, type ScrapeResult, summarize, webScraper } from "../src/web-scraper.ts"

// Real HTTP on loopback runs on the live clock (`it.live`): I/O is not a sleep. Nothing here asserts on
// how long anything took; the embedded server makes the interesting cases (concurrency, timeouts) facts.
// The margins are wide so a loaded CI machine cannot blur them: a per-request timeout of seconds where a
// loopback fetch takes milliseconds, a slow page that answers a minute later, and test limits (LIVE_TIMEOUT)
// far above the time the test needs.
const LIVE_TIMEOUT = 30_000

const scrape = (urls: ReadonlyArray<string>, timeoutMillis?: number) =>
  Workflow.run(webScraper, timeoutMillis === undefined ? { urls } : { urls, timeoutMillis }).pipe(
    Effect.provide(NodeHttpClient.layerUndici)
  )

describe("web scraper workflow", () => {
  it.live(
    "scrapes good pages and reports every kind of failure with its reason, in URL order",
    () =>
      Effect.gen(function* () {
        const server = yield* DemoServer.make
        const refusedPort = yield* DemoServer.freePort
        const refused = `http://127.0.0.1:${refusedPort}/nobody-home`
        const page1 = server.url("/page/1")
        const notFound = server.url("/status/404")
        const page2 = server.url("/page/2?delay=30")
        const serverError = server.url("/status/500")
        const malformed = "http//missing-colon/page"
        const page3 = server.url("/page/3")
        const moved = server.url("/moved/5")
        const tooSlow = server.url("/page/9?delay=60000")
        const urls = [page1, notFound, page2, serverError, refused, malformed, page3, moved, tooSlow]

        const result: ScrapeResult = yield* scrape(urls, 3_000)

        assert.strictEqual(result.fetched, 4)
        assert.strictEqual(result.failed, 5)
        assert.deepStrictEqual(
          result.results.map((p) => [p.url, p.status, p.title]),
          [
            [page1, 200, "Page 1: fibers"],
            [page2, 200, "Page 2: layers"],
            [page3, 200, "Page 3: schedules"],
            [moved, 200, "Page 5: schemas"]
          ]
        )
        for (const page of result.results) assert.isAbove(page.bytes, 100)
        assert.deepStrictEqual(result.errors, [
          { url: notFound, error: "HTTP 404 Not Found" },
          { url: serverError, error: "HTTP 500 Internal Server Error" },
          { url: refused, error: `connection refused (127.0.0.1:${refusedPort})` },
          { url: malformed, error: 'malformed URL: "http//missing-colon/page" (not an absolute URL)' },
          { url: tooSlow, error: "timed out after 3s" }
        ])
        // The malformed URL was rejected before any request, the refused one never reached this server, and
        // the redirect took two requests.
        const stats = yield* server.stats
        assert.strictEqual(stats.requests, 8)
      }),
    LIVE_TIMEOUT
  )

  it.live(
    "runs exactly 5 fetches at once, never more",
    () =>
      Effect.gen(function* () {
        const server = yield* DemoServer.make
        // Each /gate page answers only once 5 requests are in flight together, so all five succeed only if
        // fetch_url really runs 5 at once; the slow pages after them keep the workers busy.
        const gates = Array.from({ length: 5 }, (_, i) => server.url(`/gate?n=5&i=${i}`))
        const pages = Array.from({ length: 15 }, (_, i) => server.url(`/page/${i + 1}?delay=${20 + (i % 4) * 15}`))

        // A per-request timeout well above the slowest page, well below the test's own limit: if fewer than
        // five ran at once, the gates would time out and the errors below would say so.
        const result = yield* scrape([...gates, ...pages], 5_000)

        assert.deepStrictEqual(result.errors, [])
        assert.strictEqual(result.fetched, 20)
        assert.deepStrictEqual(
          result.results.map((p) => p.url),
          [...gates, ...pages]
        )
        const stats = yield* server.stats
        assert.strictEqual(stats.requests, 20)
        assert.strictEqual(stats.peakInFlight, 5)
        assert.strictEqual(stats.inFlight, 0)
      }),
    LIVE_TIMEOUT
  )

  it.effect("finishes at once with empty results when there is nothing to scrape", () =>
    Effect.gen(function* () {
      const result = yield* scrape([])
      assert.deepStrictEqual(result, { fetched: 0, failed: 0, results: [], errors: [] })
    })
  )

  it.effect("rejects a non-positive timeout as invalid input", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(scrape(["http://127.0.0.1/"], 0))
      assert.strictEqual(error._tag, "WorkflowInputError")
    })
  )
})

describe("web scraper pieces", () => {
  it.effect("parseUrl accepts absolute http(s) URLs and explains what is wrong with the rest", () =>
    Effect.gen(function* () {
      const ok = yield* Effect.result(parseUrl("https://example.com/a?b=1"))
      assert.isTrue(Result.isSuccess(ok))
      const reasons = yield* Effect.forEach(["example.com/page", "", "ftp://example.com/file", "http://[::1"], (url) =>
        Effect.flip(parseUrl(url)).pipe(Effect.map((e) => [e.kind, e.reason]))
      )
      assert.deepStrictEqual(reasons, [
        ["malformed-url", 'malformed URL: "example.com/page" (not an absolute URL)'],
        ["malformed-url", 'malformed URL: "" (not an absolute URL)'],
        ["malformed-url", 'malformed URL: "ftp://example.com/file" (only http: and https: can be fetched, not ftp:)'],
        ["malformed-url", 'malformed URL: "http://[::1" (not an absolute URL)']
      ])
    })
  )

  it("summarize puts results back in URL order whatever order they arrived in", () => {
    const events = [
      new FetchResultEvent({ url: "c", index: 2, success: true, status: 200, bytes: 3 }),
      new FetchResultEvent({ url: "a", index: 0, success: false, error: "HTTP 500 Internal Server Error" }),
      new FetchResultEvent({ url: "d", index: 3, success: false, error: "timed out after 1s" }),
      new FetchResultEvent({ url: "b", index: 1, success: true, status: 200, bytes: 5, title: "B" })
    ]
    assert.deepStrictEqual(summarize(events), {
      fetched: 2,
      failed: 2,
      results: [
        { url: "b", status: 200, bytes: 5, title: "B" },
        { url: "c", status: 200, bytes: 3 }
      ],
      errors: [
        { url: "a", error: "HTTP 500 Internal Server Error" },
        { url: "d", error: "timed out after 1s" }
      ]
    })
  })

  it("renderBar fills in proportion and mentions failures", () => {
    assert.strictEqual(renderBar({ done: 0, failed: 0, total: 36 }, 10), "[----------] 0/36")
    assert.strictEqual(renderBar({ done: 18, failed: 0, total: 36 }, 10), "[#####-----] 18/36")
    assert.strictEqual(renderBar({ done: 36, failed: 6, total: 36 }, 10), "[##########] 36/36 (6 failed)")
    assert.strictEqual(renderBar({ done: 0, failed: 0, total: 0 }, 4), "[####] 0/0")
  })

  it.effect("without a terminal, progress prints a plain line per interval only when the counts changed", () =>
    Effect.gen(function* () {
      // Four URLs finishing every 400 ms (the second one failing), drawn every 500 ms of virtual time.
      const events = Stream.fromIterable([0, 1, 2, 3]).pipe(
        Stream.mapEffect((i) =>
          Effect.as(
            Effect.sleep("400 millis"),
            new FetchResultEvent({ url: `u${i}`, index: i, success: i !== 1 }) as Event.AnyEvent
          )
        ),
        Stream.concat(Stream.make(new StopEvent({ result: "done" }) as Event.AnyEvent))
      )
      const { exit } = yield* runVirtual(withProgress(events, 4, { tty: false, interval: "500 millis" }))
      assert.deepStrictEqual(exit, Exit.succeed("done"))
      assert.deepStrictEqual(yield* TestConsole.errorLines, [
        "progress: 0/4 done, 0 failed",
        "progress: 1/4 done, 0 failed",
        "progress: 2/4 done, 1 failed",
        "progress: 3/4 done, 1 failed",
        "progress: 4/4 done, 1 failed"
      ])
    })
  )

  it.live(
    "main() scrapes the embedded demo server and prints the counts and every failure",
    () =>
      Effect.gen(function* () {
        yield* main([], { tty: false })
        const out = (yield* TestConsole.logLines).join("\n")
        assert.match(out, /Scraped 36 URLs in .+: 30 fetched, 6 failed/)
        assert.match(out, /✗ http:\/\/127\.0\.0\.1:\d+\/status\/404 {2}HTTP 404 Not Found/)
        assert.match(out, /✗ http:\/\/127\.0\.0\.1:\d+\/status\/500 {2}HTTP 500 Internal Server Error/)
        assert.match(out, /✗ http:\/\/127\.0\.0\.1:\d+\/status\/503 {2}HTTP 503 Service Unavailable/)
        assert.match(out, /✗ http:\/\/127\.0\.0\.1:\d+\/hang {2}timed out after 1s/)
        assert.match(out, /✗ http:\/\/127\.0\.0\.1:\d+\/refused {2}connection refused/)
        assert.match(out, /✗ htp\/\/missing-colon\.example\/page {2}malformed URL/)
        assert.strictEqual(out.match(/✓ /g)?.length, 30)
        const progress = yield* TestConsole.errorLines
        assert.strictEqual(progress.at(-1), "progress: 36/36 done, 6 failed")
      }).pipe(Effect.provide(TestConsole.layer)),
    LIVE_TIMEOUT
  )

  it.effect("main(urls) scrapes the given URLs without the demo server", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(main(["not a url"], { tty: false }))
      assert.isTrue(Exit.isSuccess(exit))
      const out = (yield* TestConsole.logLines).join("\n")
      assert.notMatch(out, /Demo server/)
      assert.match(out, /Scraped 1 URL in .+: 0 fetched, 1 failed/)
      assert.match(out, /✗ not a url {2}malformed URL: "not a url" \(not an absolute URL\)/)
    }).pipe(Effect.provide(TestConsole.layer))
  )
})
