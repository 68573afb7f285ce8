/**
 * An append-only log of one run's published events, already encoded as JSON, read by any number of
 * subscribers from any position. Appending never waits; a subscriber that has read everything waits for
 * the next append or the end. Each entry's `id` is its position (1-based), the SSE `id:`.
 *
 * @internal
 */
import { Cause, Deferred, Effect, Stream } from "effect"

/** One published event: its position, whether it is a lifecycle event, and its JSON text. */
export interface Entry {
  readonly id: number
  readonly lifecycle: boolean
  readonly data: string
}

export class EventLog {
  readonly entries: Array<Entry> = []
  private ended = false
  private wake: Deferred.Deferred<void> | undefined

  append(lifecycle: boolean, data: string): Entry {
    const entry: Entry = { id: this.entries.length + 1, lifecycle, data }
    this.entries.push(entry)
    this.notify()
    return entry
  }

  end(): void {
    this.ended = true
    this.notify()
  }

  get isEnded(): boolean {
    return this.ended
  }

  private notify(): void {
    const wake = this.wake
    if (wake !== undefined) {
      this.wake = undefined
      Deferred.doneUnsafe(wake, Effect.void)
    }
  }

  private waitForMore(): Effect.Effect<void> {
    return Effect.suspend(() => {
      if (this.wake === undefined) this.wake = Deferred.makeUnsafe<void>()
      return Deferred.await(this.wake)
    })
  }

  /**
   * The entries after position `after` (0: from the start), live: each pull gives every entry appended
   * since the last one, in one batch; the stream ends once the log has ended and everything was read.
   * Interrupting the stream (a client that disconnects) touches nothing else.
   */
  read(after: number): Stream.Stream<ReadonlyArray<Entry>> {
    return Stream.fromPull(
      Effect.sync(() => {
        let cursor = Math.max(0, after)
        const pull: Effect.Effect<readonly [ReadonlyArray<Entry>], Cause.Done> = Effect.suspend(() => {
          if (cursor < this.entries.length) {
            const batch = this.entries.slice(cursor)
            cursor = this.entries.length
            return Effect.succeed([batch] as const)
          }
          if (this.ended) return Cause.done()
          return Effect.andThen(this.waitForMore(), pull)
        })
        return pull
      })
    )
  }
}
