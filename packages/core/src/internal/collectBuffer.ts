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

/** @internal */
export class CollectBuffer<E extends AnyEvent = AnyEvent> {
  /** Held events, in arrival order. Counts by tag are derived from it when needed, never kept per event. */
  items: Array<E> = []
  /** What the last call asked for, for the stall error. */
  lastNeed: Need | undefined = undefined

  offer(event: E, need: Need): ReadonlyArray<E> | undefined {
    // A round of nothing completes at once and takes nothing; the event is the caller's, not held.
    if (need === 0 || (typeof need !== "number" && need.length === 0)) return []
    this.items.push(event)
    this.lastNeed = need
    return typeof need === "number" ? this.takeCount(need) : this.takeClasses(need)
  }

  get size(): number {
    return this.items.length
  }

  /** Held events counted by tag, in first-arrival order of the tags. */
  holds(): Record<string, number> {
    const out: Record<string, number> = {}
    for (const ev of this.items) out[ev._tag] = (out[ev._tag] ?? 0) + 1
    return out
  }

  private takeCount(n: number): ReadonlyArray<E> | undefined {
    if (this.items.length < n) return undefined
    const taken = n === this.items.length ? this.items : this.items.slice(0, n)
    this.items = n === this.items.length ? [] : this.items.slice(n)
    return taken
  }

  private takeClasses(tags: ReadonlyArray<string>): ReadonlyArray<E> | undefined {
    const needed = new Map<string, number>()
    for (const tag of tags) needed.set(tag, (needed.get(tag) ?? 0) + 1)
    // Enough of each listed tag? (A scan of the held events: a class-list round is short; a count round,
    // the hot case, never gets here.)
    const held = new Map<string, number>()
    for (const ev of this.items) if (needed.has(ev._tag)) held.set(ev._tag, (held.get(ev._tag) ?? 0) + 1)
    for (const [tag, k] of needed) if ((held.get(tag) ?? 0) < k) return undefined
    // Take the first k of each tag, in arrival order; keep everything else in order.
    const byTag = new Map<string, Array<E>>()
    const kept: Array<E> = []
    for (const ev of this.items) {
      const want = needed.get(ev._tag) ?? 0
      const got = byTag.get(ev._tag)
      if (want > 0 && (got === undefined || got.length < want)) {
        if (got === undefined) byTag.set(ev._tag, [ev])
        else got.push(ev)
      } else {
        kept.push(ev)
      }
    }
    this.items = kept
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
