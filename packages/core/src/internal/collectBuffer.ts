/**
 * The fan-in buffer of one step of one run, as plain synchronous logic (no fibers, no effects), so it
 * can be property-tested alone. `ctx.collect` calls `offer` inside one synchronous step, which is what
 * makes "exactly one invocation gets each completed round" hold with several workers.
 *
 * Semantics:
 * - `offer(ev, n)`: hold `ev`; once at least `n` events are held, take the first `n` in arrival order.
 * - `offer(ev, tags)`: hold `ev`; once every listed tag is held as many times as it is listed, take the
 *   first k of each tag (arrival order) and return them in the listed order.
 * - Nothing is dropped: whatever a round does not take stays held for the next round.
 * - A need of 0 (or no classes) completes at once with nothing, and does not hold the event.
 */
import type { AnyEvent } from "../Event.ts"

/** @internal */
export type Need = number | ReadonlyArray<string>

/** A count round this large or larger, up to `RESERVE_MAX`, is held in an array of its length (see `reserved`). */
const RESERVE_MIN = 1024
const RESERVE_MAX = 1 << 20

/** @internal */
export class CollectBuffer<E extends AnyEvent = AnyEvent> {
  /** Held events, in arrival order (while no round is `reserved`). Counts by tag are derived when needed. */
  private held: Array<E> = []
  /**
   * A count round of `RESERVE_MIN` events or more, begun on an empty buffer: an array of the round's length,
   * filled up to `filled` and handed out whole when full. Pushing a large round's events one by one grows
   * (copies) the array over and over while it is young: a 100,000-event fan-in then cost its run ~10 % more CPU.
   */
  private reserved: Array<E> | undefined = undefined
  private filled = 0
  /** What the last call asked for, for the stall error. */
  lastNeed: Need | undefined = undefined

  /** Held events, in arrival order. */
  get items(): Array<E> {
    const reserved = this.reserved
    return reserved === undefined ? this.held : reserved.slice(0, this.filled)
  }

  offer(event: E, need: Need): ReadonlyArray<E> | undefined {
    // A round of nothing completes at once and takes nothing; the event is the caller's, not held.
    if (need === 0 || (typeof need !== "number" && need.length === 0)) return []
    this.lastNeed = need
    const reserved = this.reserved
    if (reserved !== undefined) {
      if (need === reserved.length) {
        reserved[this.filled++] = event
        if (this.filled < need) return undefined
        this.reserved = undefined
        this.filled = 0
        return reserved
      }
      // Another need: what the round holds is held as for any other round.
      this.held = reserved.slice(0, this.filled)
      this.reserved = undefined
      this.filled = 0
    } else if (typeof need === "number" && need >= RESERVE_MIN && need <= RESERVE_MAX && this.held.length === 0) {
      const round: Array<E> = new Array(need)
      round[0] = event
      this.reserved = round
      this.filled = 1
      return undefined
    }
    this.held.push(event)
    return typeof need === "number" ? this.takeCount(need) : this.takeClasses(need)
  }

  get size(): number {
    return this.reserved === undefined ? this.held.length : this.filled
  }

  /** Held events counted by tag, in first-arrival order of the tags. */
  holds(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const ev of this.items) out[ev._tag] = (out[ev._tag] ?? 0) + 1
    return out
  }

  private takeCount(n: number): ReadonlyArray<E> | undefined {
    if (this.held.length < n) return undefined
    const taken = n === this.held.length ? this.held : this.held.slice(0, n)
    this.held = n === this.held.length ? [] : this.held.slice(n)
    return taken
  }

  private takeClasses(tags: ReadonlyArray<string>): ReadonlyArray<E> | undefined {
    const needed = new Map<string, number>()
    for (const tag of tags) needed.set(tag, (needed.get(tag) ?? 0) + 1)
    // Enough of each listed tag? (A scan of the held events: a class-list round is short; a count round,
    // the hot case, never gets here.)
    const held = new Map<string, number>()
    for (const ev of this.held) if (needed.has(ev._tag)) held.set(ev._tag, (held.get(ev._tag) ?? 0) + 1)
    for (const [tag, k] of needed) if ((held.get(tag) ?? 0) < k) return undefined
    // Take the first k of each tag, in arrival order; keep everything else in order.
    const byTag = new Map<string, Array<E>>()
    const kept: Array<E> = []
    for (const ev of this.held) {
      const want = needed.get(ev._tag) ?? 0
      const got = byTag.get(ev._tag)
      if (want > 0 && (got === undefined || got.length < want)) {
        if (got === undefined) byTag.set(ev._tag, [ev])
        else got.push(ev)
      } else {
        kept.push(ev)
      }
    }
    this.held = kept
    const cursor = new Map<string, number>()
    return tags.map((tag) => {
      const i = cursor.get(tag) ?? 0
      cursor.set(tag, i + 1)
      return byTag.get(tag)![i]!
    })
  }
}

/** @internal */
export const describeNeed = (need: Need | undefined): string => {
  if (need === undefined) return "nothing"
  if (typeof need === "number") return `${need} event${need === 1 ? "" : "s"}`
  const counts = new Map<string, number>()
  for (const tag of need) counts.set(tag, (counts.get(tag) ?? 0) + 1)
  return [...counts].map(([tag, n]) => `${n} ${tag}`).join(" + ") + " (one per listed class)"
}
