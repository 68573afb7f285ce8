/**
 * What a run's entity published (its events, encoded), for `Events` subscribers: a late subscriber gets the
 * past first, then what is published after, each event exactly once and in order. Every event carries its
 * sequence number (its position in the log); a subscription is opened before the past is copied, so an event
 * published in between is both in the copy and in the subscription, and the subscriber drops the second by
 * its number.
 */
import { Context, Data, Effect, PubSub, Stream } from "effect"

/**
 * An event and its number in the log, the end of an execution (`null`), or `"stopped"`: the execution stopped
 * here without the run ending (its entity terminated: the runner shuts down or the shard moves), so the run
 * goes on elsewhere. @internal
 */
export type Item = { readonly seq: number; readonly text: string } | null | "stopped"

/** The run's execution here stopped without the run ending: it goes on on another runner. @internal */
export class Stopped extends Data.TaggedError("Stopped")<{}> {}

/** @internal */
export interface EventLog {
  /** Append an event and publish it to the subscribers. */
  readonly publish: (text: string) => void
  /** An execution starts: subscribers from now on follow it live. */
  readonly begin: () => void
  /** Whether an execution has begun here (in this entity instance) at all. */
  readonly begun: () => boolean
  /**
   * The execution ended: live subscribers end; later subscribers get the past only, until the next `begin`.
   * With `stopped`, it stopped here without the run ending: subscribers fail with `Stopped` after the past.
   */
  readonly end: (stopped?: boolean) => void
  /** Every event published so far, then the live ones until the current execution ends; each once, in order. */
  readonly stream: Stream.Stream<string, Stopped>
}

/**
 * A subscriber's events: `past` (the log's first `past.length` events, copied after `live` was opened), then
 * `live` from event number `past.length` on, until an execution's end; nothing live when `finished`. An
 * execution that stopped here without the run ending (`stopped`, or `"stopped"` live) fails the stream with
 * `Stopped` after what it published. @internal
 */
export const follow = (
  past: ReadonlyArray<string>,
  finished: boolean,
  live: Stream.Stream<Item>,
  stopped = false
): Stream.Stream<string, Stopped> => {
  const copied = Stream.fromIterable(past)
  if (finished) return stopped ? Stream.concat(copied, Stream.fail(new Stopped())) : copied
  const from = past.length
  return Stream.concat(
    copied,
    live.pipe(
      Stream.takeWhile((item) => item !== null),
      Stream.mapEffect((item) => (item === "stopped" ? Effect.fail(new Stopped()) : Effect.succeed(item!))),
      Stream.filter((item) => item.seq >= from),
      Stream.map((item) => item.text)
    )
  )
}

/**
 * Told with the run's id each time a subscriber's subscription to a run's log is open, before it copies the
 * past: a seam for tests that must act once a subscriber is in place, instead of sleeping. Does nothing unless
 * provided (in the runner layer's context). @internal
 */
export const OnSubscribe = Context.Reference<(runId: string) => Effect.Effect<void>>(
  "@effect-flow/cluster/EventLog/OnSubscribe",
  { defaultValue: () => () => Effect.void }
)

/** A log whose subscriptions, once open, run `subscribed`. @internal */
export const make = (subscribed: Effect.Effect<void> = Effect.void): Effect.Effect<EventLog> =>
  Effect.gen(function* () {
    const published: Array<string> = []
    let finished = false
    let stopped = false
    let begun = false
    const pubsub = yield* PubSub.unbounded<Item>()
    return {
      publish: (text) => {
        const seq = published.length
        published.push(text)
        PubSub.publishUnsafe(pubsub, { seq, text })
      },
      begin: () => {
        begun = true
        finished = false
        stopped = false
      },
      begun: () => begun,
      end: (stoppedHere = false) => {
        finished = true
        stopped = stoppedHere
        PubSub.publishUnsafe(pubsub, stoppedHere ? "stopped" : null)
      },
      // The subscription is opened before the past is copied, so nothing published in between is missed.
      stream: Stream.unwrap(
        Effect.map(
          Effect.tap(PubSub.subscribe(pubsub), () => subscribed),
          (subscription) => follow(published.slice(), finished, Stream.fromSubscription(subscription), stopped)
        )
      )
    }
  })
