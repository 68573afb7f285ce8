/**
 * Live progress for the web scraper, driven by the run's event stream: the fetch step `ctx.write`s each
 * finished URL's result, and {@link withProgress} consumes `Workflow.stream`, counting them into a
 * `SubscriptionRef` that a forked fiber renders on stderr: a one-line bar redrawn in place
 * (`[#####---------------] 9/36 (2 failed)`) when stderr is a terminal, plain periodic lines otherwise,
 * so CI logs get a few readable lines instead of escape codes.
 *
 * @since 0.1.0
 */
import type { Event } from "@effect-flow/core"
import { Console, type Duration, Effect, Fiber, Schedule, Stream, SubscriptionRef } from "effect"

/**
 * How many URLs are done, of how many, and how many of those failed.
 *
 * @example
 * ```ts
 * const counts: Counts = { done: 9, failed: 2, total: 36 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Counts {
  readonly done: number
  readonly failed: number
  readonly total: number
}

/**
 * A progress bar: `[#####---------------] 9/36`, plus `(k failed)` when some failed.
 *
 * @example
 * ```ts
 * renderBar({ done: 9, failed: 2, total: 36 }, 20) // "[#####---------------] 9/36 (2 failed)"
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const renderBar = (counts: Counts, width = 20): string => {
  const ratio = counts.total === 0 ? 1 : Math.min(1, counts.done / counts.total)
  const filled = Math.round(ratio * width)
  const failed = counts.failed > 0 ? ` (${counts.failed} failed)` : ""
  return `[${"#".repeat(filled)}${"-".repeat(width - filled)}] ${counts.done}/${counts.total}${failed}`
}

/**
 * Options of {@link withProgress}.
 *
 * @example
 * ```ts
 * withProgress(run, urls.length, { tty: false, interval: "1 second" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** Redraw one line in place (a terminal) or print plain lines. Default: whether stderr is a TTY. */
  readonly tty?: boolean | undefined
  /** How often to redraw. Default 80 ms on a terminal, 500 ms otherwise. */
  readonly interval?: Duration.Input | undefined
}

/**
 * Consume a run's event stream, counting each written result (an event with a boolean `success`) for
 * `total` URLs; render the counts on stderr while it runs and once more, final, when it ends (whatever
 * way it ends). Succeeds with the `result` of the stream's `StopEvent`.
 *
 * @example
 * ```ts
 * const result = yield* withProgress(Workflow.stream(webScraper, { urls }), urls.length)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const withProgress = <A, E, R>(
  events: Stream.Stream<Event.AnyEvent, E, R>,
  total: number,
  options?: Options
): Effect.Effect<A, E, R> =>
  Effect.gen(function* () {
    const tty = options?.tty ?? process.stderr.isTTY === true
    const interval = options?.interval ?? (tty ? "80 millis" : "500 millis")
    const counts = yield* SubscriptionRef.make<Counts>({ done: 0, failed: 0, total })

    let shown: Counts | undefined
    const draw = (final: boolean) =>
      Effect.gen(function* () {
        const now = yield* SubscriptionRef.get(counts)
        const changed = shown === undefined || shown.done !== now.done || shown.failed !== now.failed
        if (tty) {
          // "\r" + erase-line redraws the bar in place; the final draw ends the line.
          if (changed || final) yield* writeStderr(`\r\x1b[2K${renderBar(now)}${final ? "\n" : ""}`)
        } else if (changed) {
          yield* Console.error(`progress: ${now.done}/${now.total} done, ${now.failed} failed`)
        }
        shown = now
      })

    const renderer = yield* draw(false).pipe(
      Effect.repeat(Schedule.spaced(interval)),
      Effect.forkChild({ startImmediately: true })
    )
    let result: A | undefined
    yield* events.pipe(
      Stream.runForEach((ev) => {
        if (ev._tag === "StopEvent") {
          result = (ev as unknown as { readonly result: A }).result
          return Effect.void
        }
        const success = (ev as { readonly success?: unknown }).success
        if (typeof success !== "boolean") return Effect.void
        return SubscriptionRef.update(counts, (c) => ({ ...c, done: c.done + 1, failed: c.failed + (success ? 0 : 1) }))
      }),
      Effect.ensuring(Effect.andThen(Fiber.interrupt(renderer), draw(true)))
    )
    return result as A
  })

const writeStderr = (text: string) => Effect.sync(() => void process.stderr.write(text))
