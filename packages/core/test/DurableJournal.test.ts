/**
 * The journal's entry format: compact entries (arrays, invocation ids without the run's id) that read back, with
 * `Durable.readEntry`, as exactly what the object format of 0.2 wrote; and journals in that format still resume.
 */
import { assert, describe, it } from "@effect/vitest"
import { Durable, RunStore } from "@effect-flow/core"
import { Effect } from "effect"
import * as fc from "fast-check"
import {
  counts,
  expected,
  legacy,
  legacyJournal,
  legacyRun,
  runLegacy,
  runOnTestClock
} from "./fixtures/legacyJournal.ts"

const bytes = (entries: ReadonlyArray<string>) => entries.reduce((n, e) => n + Buffer.byteLength(e), 0)

/** A store holding run `legacy-1` with `entries` as its journal, as a process of 0.2 left it. */
const storeWith = (entries: ReadonlyArray<string>) =>
  Effect.gen(function* () {
    const store = yield* RunStore.makeMemory
    yield* store.create(legacyRun)
    const lease = yield* store.acquire(legacyRun.runId, { owner: "0.2", pid: 1, host: "old", ttl: "1 minute" })
    yield* store.append(lease, { seq: 0, entries })
    yield* store.release(lease)
    return store
  })

describe("the journal's entry format", () => {
  it.effect(
    "compact entries read back as exactly what the object format wrote for the same run, in 45 % of its bytes",
    () =>
      Effect.gen(function* () {
        assert.deepStrictEqual(yield* runLegacy("legacy-1"), expected)
        const store = yield* RunStore.RunStore
        const journal = (yield* store.readJournal("legacy-1")).map((e) => e.data)
        assert.deepStrictEqual(
          journal.map((data) => Durable.readEntry("legacy-1", data)),
          legacyJournal.map((data) => JSON.parse(data))
        )
        // every entry but the definition and the end is an array that names no key and not the run
        const compact = journal.slice(1, -1)
        assert.isTrue(compact.every((data) => data.startsWith("[") && !data.includes("legacy-1")))
        const ratio = bytes(compact) / bytes(legacyJournal.slice(1, -1))
        assert.isBelow(ratio, 0.55, `compact entries take ${(ratio * 100).toFixed(0)} % of the object format's bytes`)
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("a journal in the object format resumes from any prefix to the uninterrupted result, each edit once", () =>
    Effect.gen(function* () {
      const ctx = yield* Effect.context<never>()
      // Where a crash can cut it: before an invocation's start or one of its operations, after the entries of a
      // routing (a send's operation and what it routed, an invocation's end and the event it returned are appended
      // in one go, so in one batch).
      const cuts = legacyJournal
        .map((data, k) => ({ e: JSON.parse(data), before: k === 0 ? undefined : JSON.parse(legacyJournal[k - 1]!) }))
        .flatMap(({ e, before }, k) =>
          ["s", "o", "b", "d"].includes(e.t) && before.t !== "e" && !(before.t === "o" && before.op === "send")
            ? [k]
            : []
        )
      assert.isAbove(cuts.length, 60)
      const cut = fc.constantFrom(...cuts)
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(cut, (k) =>
            Effect.runPromiseWith(ctx)(
              Effect.gen(function* () {
                const prefix = legacyJournal.slice(0, k)
                const store = yield* storeWith(prefix)
                counts.edits = 0
                const result = yield* Effect.forkChild(Durable.resume(legacy, "legacy-1"), {
                  startImmediately: true
                }).pipe(Effect.flatMap(runOnTestClock), Effect.provideService(RunStore.RunStore, store))
                assert.deepStrictEqual(result, expected)
                // an edit the old journal holds is not applied again; the others are applied here, once
                const before = prefix.filter((data) => JSON.parse(data).op === "edit").length
                assert.strictEqual(before + counts.edits, 12)
                // the resumed run went on in the compact format, after the object entries
                const journal = (yield* store.readJournal("legacy-1")).map((e) => e.data)
                assert.deepStrictEqual(journal.slice(0, k), prefix)
                const after = journal.slice(k)
                assert.isTrue(after.slice(0, -1).every((data) => data.startsWith("[")))
                assert.strictEqual(Durable.readEntry("legacy-1", after.at(-1)!).t, "end")
              })
            )
          ),
          { numRuns: 30, examples: [[cuts[0]!], [cuts.at(-1)!]] }
        )
      )
    })
  )

  it("readEntry reads both formats into one shape, and names what a compact entry leaves out", () => {
    const read = (data: unknown) => Durable.readEntry("a/b", JSON.stringify(data))
    // a step name with a slash, a run id with one
    assert.deepStrictEqual(read(["r", "fetch/page/3", { _tag: "Url" }]), {
      t: "r",
      i: "a/b/fetch/page/3",
      to: "fetch/page",
      ev: { _tag: "Url" }
    })
    assert.deepStrictEqual(read({ t: "r", i: "a/b/fetch/page/3", to: "fetch/page", ev: { _tag: "Url" } }), {
      t: "r",
      i: "a/b/fetch/page/3",
      to: "fetch/page",
      ev: { _tag: "Url" }
    })
    assert.deepStrictEqual(read(["o", "w/1", 2, "waitFor", null, null]), { t: "o", i: "a/b/w/1", q: 2, op: "waitFor" })
    assert.deepStrictEqual(read(["o", "w/1", 2, "waitFor", { _tag: "Ask" }, 99]), {
      t: "o",
      i: "a/b/w/1",
      q: 2,
      op: "waitFor",
      rq: { _tag: "Ask" },
      dl: 99
    })
    assert.deepStrictEqual(read(["o", "w/1", 3, "collect", { _tag: "D" }, 2]), {
      t: "o",
      i: "a/b/w/1",
      q: 3,
      op: "collect",
      ev: { _tag: "D" },
      need: 2,
      tk: null
    })
    assert.deepStrictEqual(read(["q", { _tag: "InputRequiredEvent" }]), { t: "q", ev: { _tag: "InputRequiredEvent" } })
    assert.deepStrictEqual(read(["x"]), { t: "x" })
    assert.deepStrictEqual(read({ t: "end", ok: true }), { t: "end", ok: true })
    assert.throws(() => Durable.readEntry("a/b", "not json"))
  })
})
