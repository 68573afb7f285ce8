/**
 * What a run's entity published (its events, encoded), for `Events` subscribers: a late subscriber gets the
 * past first, then what is published after, each event exactly once and in order. Every event carries its
 * sequence number (its position in the log); a subscription is opened before the past is copied, so an event
 * published in between is both in the copy and in the subscription, and the subscriber drops the second by
 * its number. After the events, a subscriber gets how the execution ended, as `Durable.start`'s events end.
 */
import { Cause, Context, Data, Effect, PubSub, Stream } from "effect"

/**
 * How an execution here ended, for its subscribers after its events: `undefined` quietly (the run completed or
 * was cancelled), `"stopped"` when it stopped here without the run ending (its entity terminated: the runner
 * shuts down or the shard moves, so the run goes on elsewhere), or a cause the stream fails with (the run's
 * error, or its own interruption). @internal
 */
export type End<E> = undefined | "stopped" | Cause.Cause<E>

/** An event and its number in the log, or the end of an execution. @internal */
export type Item<E = never> = { readonly seq: number; readonly text: string } | { readonly end: End<E> }

/** The run's execution here stopped without the run ending: it goes on on another runner. @internal */
export class Stopped extends Data.TaggedError("Stopped")<{}> {}

const ending = <E>(end: Exclude<End<E>, undefined>): Cause.Cause<Stopped | E> =>
  end === "stopped" ? Cause.fail(new Stopped()) : end

/** @internal */
export interface EventLog<E = never> {
  /** Append an event and publish it to the subscribers. */
  readonly publish: (text: string) => void
  /** An execution starts: subscribers from now on follow it live. */
  readonly begin: () => void
  /** Whether an execution has begun here (in this entity instance) at all. */
  readonly begun: () => boolean
  /**
   * The execution ended, as `end` says: live subscribers end so after their events; later subscribers get the
   * past and that end, until the next `begin`.
   */
  readonly end: (end?: End<E>) => void
  /**
   * Every event published so far, then the live ones until the current execution ends; each once, in order;
   * then that end (quiet, `Stopped`, or the execution's failure).
   */
  readonly stream: Stream.Stream<string, Stopped | E>
}

/**
 * A subscriber's events: `past` (the log's first `past.length` events, copied after `live` was opened), then
 * `live` from event number `past.length` on, until an execution's end, which ends the stream as it says;
 * nothing live when `finished`, whose end is `end`. @internal
 */
export const follow = <E = never>(
  past: ReadonlyArray<string>,
  finished: boolean,
  live: Stream.Stream<Item<E>>,
  end: End<E> = undefined
): Stream.Stream<string, Stopped | E> => {
  const copied = Stream.fromIterable(past)
  if (finished) return end === undefined ? copied : Stream.concat(copied, Stream.failCause(ending(end)))
  const from = past.length
  return Stream.concat(
    copied,
    live.pipe(
      Stream.takeWhile((item) => !("end" in item) || item.end !== undefined),
      Stream.mapEffect((item) =>
        "end" in item ? Effect.failCause(ending(item.end as Exclude<End<E>, undefined>)) : Effect.succeed(item)
      ),
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
export const make = <E = never>(subscribed: Effect.Effect<void> = Effect.void): Effect.Effect<EventLog<E>> =>
  Effect.gen(function* () {
    const published: Array<string> = []
    let finished = false
    let ended: End<E>
    let begun = false
    const pubsub = yield* PubSub.unbounded<Item<E>>()
    return {
      publish: (text) => {
        const seq = published.length
        published.push(text)
        PubSub.publishUnsafe(pubsub, { seq, text })
      },
      begin: () => {
        begun = true
        finished = false
        ended = undefined
      },
      begun: () => begun,
      end: (end) => {
        finished = true
        ended = end
        PubSub.publishUnsafe(pubsub, { end })
      },
      // The subscription is opened before the past is copied, so nothing published in between is missed.
      stream: Stream.unwrap(
        Effect.map(
          Effect.tap(PubSub.subscribe(pubsub), () => subscribed),
          (subscription) => follow(published.slice(), finished, Stream.fromSubscription(subscription), ended)
        )
      )
    }
  })
