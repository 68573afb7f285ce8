import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { CollectBuffer, describeNeed } from "../src/internal/collectBuffer.ts"

interface Ev {
  readonly _tag: string
  readonly id: number
}

const TAGS = ["A", "B", "C"] as const

/** Events with unique ids, of a few tags. */
const events = (maxLength: number) =>
  fc
    .array(fc.constantFrom(...TAGS), { maxLength, size: "max" })
    .map((tags) => tags.map((_tag, id): Ev => ({ _tag, id })))

/**
 * The reference model of the count form: hold in order; take the first n once n are held. A need of 0
 * completes at once with nothing, and does not hold the event.
 */
const modelCount = (held: Array<Ev>, ev: Ev, n: number): ReadonlyArray<Ev> | undefined => {
  if (n === 0) return []
  held.push(ev)
  if (held.length < n) return undefined
  return held.splice(0, n)
}

/** The reference model of the list form, written the slow, obvious way. */
const modelClasses = (held: Array<Ev>, ev: Ev, tags: ReadonlyArray<string>): ReadonlyArray<Ev> | undefined => {
  if (tags.length === 0) return []
  held.push(ev)
  const want = (tag: string) => tags.filter((t) => t === tag).length
  for (const tag of new Set(tags)) if (held.filter((e) => e._tag === tag).length < want(tag)) return undefined
  const picked = new Set<Ev>()
  const out = tags.map((tag) => {
    const e = held.find((x) => x._tag === tag && !picked.has(x))!
    picked.add(e)
    return e
  })
  const kept = held.filter((e) => !picked.has(e))
  held.splice(0, held.length, ...kept)
  return out
}

const countBy = (evs: ReadonlyArray<Ev>): Record<string, number> => {
  const out: Record<string, number> = {}
  for (const e of evs) out[e._tag] = (out[e._tag] ?? 0) + 1
  return out
}

const byId = (a: Ev, b: Ev) => a.id - b.id

describe("CollectBuffer (count form)", () => {
  it("property: matches the reference model, offer by offer", () => {
    fc.assert(
      fc.property(events(60), fc.array(fc.integer({ min: 0, max: 8 }), { minLength: 1, maxLength: 5 }), (evs, ns) => {
        const buffer = new CollectBuffer<Ev>()
        const held: Array<Ev> = []
        evs.forEach((ev, i) => {
          const n = ns[i % ns.length]!
          assert.deepStrictEqual(buffer.offer(ev, n), modelCount(held, ev, n))
          assert.deepStrictEqual(buffer.items, held)
          assert.strictEqual(buffer.size, held.length)
          assert.deepStrictEqual({ ...buffer.holds() }, countBy(held))
        })
      })
    )
  })

  it("property: nothing lost or duplicated; rounds followed by what is held is the offered sequence; every round has n", () => {
    fc.assert(
      fc.property(events(80), fc.integer({ min: 1, max: 10 }), (evs, n) => {
        const buffer = new CollectBuffer<Ev>()
        const rounds: Array<ReadonlyArray<Ev>> = []
        for (const ev of evs) {
          const taken = buffer.offer(ev, n)
          if (taken !== undefined) rounds.push([...taken])
        }
        for (const round of rounds) assert.strictEqual(round.length, n)
        assert.strictEqual(rounds.length, Math.floor(evs.length / n))
        assert.strictEqual(buffer.size, evs.length % n)
        assert.deepStrictEqual([...rounds.flat(), ...buffer.items], evs)
      })
    )
  })

  it("property: large counts (a round held in an array of its length) match the reference model, mixed with other needs", () => {
    // A run of offers with one large count, then a change of need part-way (a smaller or larger count, a list).
    const need = fc.oneof(
      fc.constantFrom<number | ReadonlyArray<string>>(1024, 1025, 1500, 3, 0),
      fc.constantFrom<number | ReadonlyArray<string>>(["A"], ["B", "A"])
    )
    fc.assert(
      fc.property(
        events(3000),
        fc.array(fc.record({ need, times: fc.integer({ min: 1, max: 1600 }) }), { minLength: 1, maxLength: 4 }),
        (evs, plan) => {
          const buffer = new CollectBuffer<Ev>()
          const held: Array<Ev> = []
          let i = 0
          for (const { need, times } of plan) {
            for (let k = 0; k < times && i < evs.length; k++, i++) {
              const ev = evs[i]!
              const expected =
                typeof need === "number" ? modelCount(held, ev, need) : modelClasses(held, ev, need as Array<string>)
              const got = buffer.offer(ev, need)
              assert.deepStrictEqual(got === undefined ? undefined : [...got], expected)
              assert.strictEqual(buffer.size, held.length)
            }
            assert.deepStrictEqual(buffer.items, held)
            assert.deepStrictEqual({ ...buffer.holds() }, countBy(held))
          }
        }
      ),
      { numRuns: 60 }
    )
  })

  it("a round is taken on the offer that completes it, and not before", () => {
    const buffer = new CollectBuffer<Ev>()
    assert.isUndefined(buffer.offer({ _tag: "A", id: 0 }, 3))
    assert.isUndefined(buffer.offer({ _tag: "B", id: 1 }, 3))
    assert.deepStrictEqual(
      buffer.offer({ _tag: "A", id: 2 }, 3)?.map((e) => e.id),
      [0, 1, 2]
    )
    assert.strictEqual(buffer.size, 0)
    assert.deepStrictEqual({ ...buffer.holds() }, {})
  })

  it("surplus stays for the next round (2n events: two rounds of n)", () => {
    const buffer = new CollectBuffer<Ev>()
    const taken: Array<ReadonlyArray<number>> = []
    for (let id = 0; id < 6; id++) {
      const t = buffer.offer({ _tag: "A", id }, 3)
      if (t) taken.push(t.map((e) => e.id))
    }
    assert.deepStrictEqual(taken, [
      [0, 1, 2],
      [3, 4, 5]
    ])
  })

  it("a smaller count takes the oldest held events first (a surplus left by a bigger count)", () => {
    const buffer = new CollectBuffer<Ev>()
    buffer.offer({ _tag: "A", id: 0 }, 5)
    buffer.offer({ _tag: "A", id: 1 }, 5)
    buffer.offer({ _tag: "A", id: 2 }, 5)
    assert.deepStrictEqual(
      buffer.offer({ _tag: "A", id: 3 }, 2)?.map((e) => e.id),
      [0, 1]
    )
    assert.deepStrictEqual(
      buffer.items.map((e) => e.id),
      [2, 3]
    )
  })

  it("n = 0 returns an empty round at once", () => {
    const buffer = new CollectBuffer<Ev>()
    assert.deepStrictEqual(buffer.offer({ _tag: "A", id: 0 }, 0), [])
  })

  it("remembers what the last offer needed, for the stall message", () => {
    const buffer = new CollectBuffer<Ev>()
    assert.isUndefined(buffer.lastNeed)
    buffer.offer({ _tag: "A", id: 0 }, 3)
    assert.strictEqual(buffer.lastNeed, 3)
    assert.strictEqual(describeNeed(3), "3 events")
    assert.strictEqual(describeNeed(1), "1 event")
    assert.include(describeNeed(["A", "B", "A"]), "2 A")
    assert.include(describeNeed(["A", "B", "A"]), "1 B")
  })
})

describe("CollectBuffer (list form)", () => {
  const lists = fc.array(fc.constantFrom(...TAGS), { minLength: 1, maxLength: 5 })

  it("property: matches the reference model, offer by offer", () => {
    fc.assert(
      fc.property(events(60), lists, (evs, tags) => {
        const buffer = new CollectBuffer<Ev>()
        const held: Array<Ev> = []
        for (const ev of evs) {
          assert.deepStrictEqual(buffer.offer(ev, tags), modelClasses(held, ev, tags))
          assert.deepStrictEqual(buffer.items, held)
          assert.deepStrictEqual({ ...buffer.holds() }, countBy(held))
        }
      })
    )
  })

  it("property: each round has the listed tags in the listed order, in arrival order within a tag; nothing lost", () => {
    fc.assert(
      fc.property(events(80), lists, (evs, tags) => {
        const buffer = new CollectBuffer<Ev>()
        const rounds: Array<ReadonlyArray<Ev>> = []
        for (const ev of evs) {
          const taken = buffer.offer(ev, tags)
          if (taken !== undefined) rounds.push([...taken])
        }
        for (const round of rounds) {
          assert.deepStrictEqual(
            round.map((e) => e._tag),
            tags
          )
          for (const tag of new Set(tags)) {
            const ids = round.filter((e) => e._tag === tag).map((e) => e.id)
            assert.deepStrictEqual(
              ids,
              [...ids].sort((a, b) => a - b)
            )
          }
        }
        // taken and held together are what was offered, each event once
        assert.deepStrictEqual([...rounds.flat(), ...buffer.items].sort(byId), evs)
        // whatever is held cannot make a round
        const counts = countBy(buffer.items)
        assert.isTrue([...new Set(tags)].some((t) => (counts[t] ?? 0) < tags.filter((x) => x === t).length))
        // held events stay in arrival order
        assert.deepStrictEqual(buffer.items, [...buffer.items].sort(byId))
      })
    )
  })

  it("a tag listed k times waits for k of it; unlisted tags are held, not dropped", () => {
    const buffer = new CollectBuffer<Ev>()
    const need = ["A", "B", "A"]
    assert.isUndefined(buffer.offer({ _tag: "A", id: 0 }, need))
    assert.isUndefined(buffer.offer({ _tag: "C", id: 1 }, need))
    assert.isUndefined(buffer.offer({ _tag: "B", id: 2 }, need))
    assert.isUndefined(buffer.offer({ _tag: "B", id: 3 }, need))
    assert.deepStrictEqual(
      buffer.offer({ _tag: "A", id: 4 }, need)?.map((e) => `${e._tag}${e.id}`),
      ["A0", "B2", "A4"]
    )
    assert.deepStrictEqual(
      buffer.items.map((e) => `${e._tag}${e.id}`),
      ["C1", "B3"]
    )
    assert.deepStrictEqual({ ...buffer.holds() }, { C: 1, B: 1 })
  })

  it("an empty list returns an empty round at once", () => {
    const buffer = new CollectBuffer<Ev>()
    assert.deepStrictEqual(buffer.offer({ _tag: "A", id: 0 }, []), [])
  })
})
