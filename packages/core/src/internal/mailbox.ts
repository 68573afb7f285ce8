/** The ring of every mailbox made empty, never written (see `Mailbox`'s constructor). */
const EMPTY: Array<never> = Object.freeze([]) as unknown as Array<never>

/**
 * A step's mailbox: a FIFO queue on a ring buffer whose length is a power of two. It is reused for the
 * whole run, so queuing an event allocates nothing once the buffer has grown to the mailbox's depth
 * (back-pressure keeps that depth near `MAILBOX_HIGH`).
 *
 * @internal
 */
export class Mailbox<A> {
  private ring: Array<A | undefined>
  private head = 0
  /** How many items are queued. */
  size = 0

  /** A mailbox of `capacity` 0 allocates its ring on its first push. */
  constructor(capacity = 16) {
    if (capacity === 0) {
      // Never written: the first push makes a ring of its own.
      this.ring = EMPTY
      return
    }
    let length = 1
    while (length < capacity) length *= 2
    this.ring = new Array(length).fill(undefined)
  }

  push(item: A): void {
    if (this.size === this.ring.length) {
      const bigger: Array<A | undefined> = new Array(Math.max(8, this.ring.length * 2)).fill(undefined)
      for (let i = 0; i < this.size; i++) bigger[i] = this.ring[(this.head + i) & (this.ring.length - 1)]
      this.ring = bigger
      this.head = 0
    }
    this.ring[(this.head + this.size) & (this.ring.length - 1)] = item
    this.size++
  }

  /** The oldest item, taken out; `undefined` when empty. */
  shift(): A | undefined {
    if (this.size === 0) return undefined
    const item = this.ring[this.head]
    this.ring[this.head] = undefined
    this.head = (this.head + 1) & (this.ring.length - 1)
    this.size--
    return item
  }

  /** The queued items, oldest first. */
  toArray(): Array<A> {
    const out: Array<A> = []
    for (let i = 0; i < this.size; i++) out.push(this.ring[(this.head + i) & (this.ring.length - 1)]!)
    return out
  }
}
