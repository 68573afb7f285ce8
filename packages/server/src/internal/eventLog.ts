/**
 * An append-only log of one run's published events, already encoded as JSON, read by any number of
 * subscribers from any position. Appending never waits; a subscriber that has read everything waits for
 * the next append or the end. Each entry's `id` is the SSE `id:`: its position (1-based) by default, or the
 * id it is appended with (a durable run's journal sequence), always increasing.
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

  append(lifecycle: boolean, data: string, id: number = this.entries.length + 1): Entry {
    const entry: Entry = { id, lifecycle, data }
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

  /** The index of the first entry whose id is above `after` (ids increase: a binary search). */
  private indexAfter(after: number): number {
    let low = 0
    let high = this.entries.length
    while (low < high) {
      const mid = (low + high) >>> 1
      if (this.entries[mid]!.id <= after) low = mid + 1
      else high = mid
    }
    return low
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
        let cursor = this.indexAfter(after)
        const pull: Effect.Effect<readonly [ReadonlyArray<Entry>], Cause.Done> = Effect.suspend(() => {
          // (An `after` beyond the last id skips entries appended later up to it, as a replay would.)
          while (cursor < this.entries.length && this.entries[cursor]!.id <= after) cursor++
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
