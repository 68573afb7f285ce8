/**
 * The journal's entry format: compact entries (arrays, invocation ids without the run's id) that read back, with
 * `Durable.readEntry`, as exactly what the object format of 0.2 wrote; and journals in that format still resume.
 */
import { assert, describe, it } from "@effect/vitest"
import { Durable, defineWorkflow, RunStore, StartEvent, StopEvent } from "@effect-flow/core"
import { Effect, Layer, Schema } from "effect"
import * as fc from "fast-check"
import { compactOf } from "../src/internal/durable/entries.ts"
import { JournalDelay } from "../src/internal/durable/journal.ts"
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
    // retries scheduled and due, a waitFor's answer
    assert.deepStrictEqual(read(["b", "work/3", 2]), { t: "b", i: "a/b/work/3", a: 2 })
    assert.deepStrictEqual(read(["d", "work/3", 2]), { t: "d", i: "a/b/work/3", a: 2 })
    assert.deepStrictEqual(read(["w", "ask/1", 4, { _tag: "Answer" }]), {
      t: "w",
      i: "a/b/ask/1",
      q: 4,
      ev: { _tag: "Answer" }
    })
    assert.throws(() => Durable.readEntry("a/b", "not json"))
  })

  // Every compact kind, whatever its fields hold: `readEntry` and `compactOf` are inverse. The b/d/w kinds
  // (retries and waitFor answers) were covered only through resumed runs.
  it("property: every compact kind reads as an Entry that compacts back to the same array, read as the same Entry", () => {
    const runId = "run/1"
    const rel = fc
      .tuple(fc.constantFrom("work", "fetch/page", "a-b"), fc.nat({ max: 10_000 }))
      .map(([step, n]) => `${step}/${n}`)
    const ev = fc.record({ _tag: fc.constantFrom("Item", "Ask"), i: fc.integer() })
    const seq = fc.integer({ min: 1, max: 50 })
    const need = fc.oneof(fc.nat({ max: 9 }), fc.array(fc.constantFrom("A", "B"), { maxLength: 3 }))
    const compact = fc.oneof(
      fc.tuple(fc.constant("r"), rel, ev),
      fc.tuple(fc.constantFrom("s", "b", "d"), rel, fc.integer({ min: 1, max: 9 })),
      fc.tuple(fc.constant("w"), rel, seq, ev),
      fc.tuple(fc.constant("e"), rel, fc.constantFrom("R", "F", "B")),
      fc.tuple(fc.constant("q"), ev),
      fc.constant(["x"]),
      fc.tuple(fc.constant("o"), rel, seq, fc.constantFrom("set", "update", "edit"), fc.jsonValue()),
      fc.tuple(fc.constant("o"), rel, seq, fc.constant("collect"), ev, need),
      fc.tuple(fc.constant("o"), rel, seq, fc.constant("collect"), ev, need, fc.array(ev, { maxLength: 3 })),
      fc.tuple(fc.constant("o"), rel, seq, fc.constant("write"), ev),
      fc.tuple(
        fc.constant("o"),
        rel,
        seq,
        fc.constant("waitFor"),
        fc.option(ev, { nil: null }),
        fc.option(fc.nat(), { nil: null })
      ),
      fc.tuple(fc.constant("o"), rel, seq, fc.constantFrom("get", "send"))
    )
    fc.assert(
      fc.property(compact, (c) => {
        const text = JSON.stringify(c)
        const entry = Durable.readEntry(runId, text)
        assert.strictEqual(entry.t, c[0])
        if (c[0] !== "q" && c[0] !== "x") assert.strictEqual(entry.i, `${runId}/${c[1]}`)
        // the compact array it stands for is the one read (as JSON holds it: -0 is 0)
        assert.deepStrictEqual(compactOf(entry, `${runId}/`), JSON.parse(text))
        // and that array reads as the same Entry
        assert.deepStrictEqual(Durable.readEntry(runId, JSON.stringify(compactOf(entry, `${runId}/`))), entry)
      })
    )
  })

  // A crash between two batches, the first holding the end of the invocation that returned the StopEvent and the
  // second the run's end, left a journal in which every invocation had ended and the run had not: its resume found
  // nothing to run, stalled, and stored the finished run as failed.
  describe("the entries from the StopEvent on are committed with the run's end", () => {
    /** A memory store that keeps each batch it is given. */
    const batching = Effect.map(RunStore.makeMemory, (inner) => {
      const batches: Array<RunStore.Batch> = []
      const store: RunStore.Shape = {
        ...inner,
        append: (lease, batch) =>
          Effect.andThen(
            Effect.sync(() => batches.push(batch)),
            inner.append(lease, batch)
          )
      }
      return { store, batches }
    })
    /** A durable run whose writer commits every entry as soon as it is appended. */
    const eager = <A, E, R>(effect: Effect.Effect<A, E, R>) => Effect.provideService(effect, JournalDelay, 0)

    /** The batch holding the entry `pick` finds, read as entries. */
    const batchOf = (batches: ReadonlyArray<RunStore.Batch>, runId: string, pick: (e: Durable.Entry) => boolean) =>
      batches
        .map((b) => ({ batch: b, entries: b.entries.map((data) => Durable.readEntry(runId, data)) }))
        .find(({ entries }) => entries.some(pick))!

    it.effect("a StopEvent returned: its invocation's end is in the batch of the run's end and its status", () =>
      Effect.gen(function* () {
        const { store, batches } = yield* batching
        const fiber = yield* Effect.forkChild(eager(Durable.run(legacy, { n: 12 }, { runId: "returned" })), {
          startImmediately: true
        }).pipe(Effect.provide(Layer.succeed(RunStore.RunStore, store)))
        assert.deepStrictEqual(yield* runOnTestClock(fiber), expected)
        // committed entry by entry, as far as the run's turns allow
        assert.isAbove(batches.length, 50)
        const { batch, entries } = batchOf(batches, "returned", (e) => e.t === "e" && e.i === "returned/gather/12")
        assert.strictEqual(entries.at(-1)!.t, "end")
        assert.strictEqual(batch.status?.status, "completed")
      })
    )

    it.effect("a StopEvent sent: the send and what follows it are in the batch of the run's end", () =>
      Effect.gen(function* () {
        class Tick extends Schema.TaggedClass<Tick>()("Tick", { i: Schema.Number }) {}
        const sender = defineWorkflow({ name: "sender" })
          .step(
            StartEvent,
            (_, ctx) =>
              Effect.gen(function* () {
                for (let i = 0; i < 30; i++) {
                  yield* ctx.send(new Tick({ i }))
                  yield* Effect.sleep("1 millis")
                }
              }),
            { emits: [Tick] }
          )
          .step(Tick, (ev, ctx) =>
            ev.i === 29 ? ctx.send(new StopEvent({ result: "stopped" })) : Effect.sleep("1 millis")
          )
        const { store, batches } = yield* batching
        const fiber = yield* Effect.forkChild(eager(Durable.run(sender, {}, { runId: "sent" })), {
          startImmediately: true
        }).pipe(Effect.provide(Layer.succeed(RunStore.RunStore, store)))
        assert.strictEqual(yield* runOnTestClock(fiber), "stopped")
        const { batch, entries } = batchOf(
          batches,
          "sent",
          (e) => e.t === "o" && e.op === "send" && e.i === "sent/handleTick/30"
        )
        assert.strictEqual(entries.at(-1)!.t, "end")
        assert.strictEqual(batch.status?.status, "completed")
      })
    )

    it.effect("committed entry by entry, the run resumes from the end of any of its batches to its result", () =>
      Effect.gen(function* () {
        const { store, batches } = yield* batching
        const fiber = yield* Effect.forkChild(eager(Durable.run(legacy, { n: 12 }, { runId: "cuts" })), {
          startImmediately: true
        }).pipe(Effect.provide(Layer.succeed(RunStore.RunStore, store)))
        assert.deepStrictEqual(yield* runOnTestClock(fiber), expected)
        const run = yield* store.get("cuts")
        const ctx = yield* Effect.context<never>()
        // A crash after batch j: the journal holds batches 0..j, the run is not finished. With no delay the writer
        // commits on the appender's stack, entry by entry, even inside what a run appends in one go (a send's
        // operation and what it routed, an invocation's end and the event it returned routed), which a writer
        // with a delay never splits: those cuts are left out.
        const read = (data: string) => Durable.readEntry("cuts", data)
        const cuts = batches.slice(0, -1).flatMap((batch, j) => {
          const last = read(batch.entries.at(-1)!)
          const next = read(batches[j + 1]!.entries[0]!)
          const inOneGo =
            (last.t === "o" && last.op === "send") || (last.t === "e" && (next.t === "r" || next.t === "w"))
          return inOneGo ? [] : [j]
        })
        assert.isAbove(cuts.length, 60)
        const crashAfter = fc.constantFrom(...cuts)
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(crashAfter, (j) =>
              Effect.runPromiseWith(ctx)(
                Effect.gen(function* () {
                  const entries = batches.slice(0, j + 1).flatMap((b) => b.entries)
                  const fresh = yield* RunStore.makeMemory
                  yield* fresh.create({ ...run, runId: "cuts" })
                  const lease = yield* fresh.acquire("cuts", { owner: "dead", pid: 1, host: "gone", ttl: "1 minute" })
                  yield* fresh.append(lease, { seq: 0, entries })
                  yield* fresh.release(lease)
                  counts.edits = 0
                  const result = yield* Effect.forkChild(Durable.resume(legacy, "cuts"), {
                    startImmediately: true
                  }).pipe(Effect.flatMap(runOnTestClock), Effect.provideService(RunStore.RunStore, fresh))
                  assert.deepStrictEqual(result, expected)
                  const before = entries.filter((data) => Durable.readEntry("cuts", data).op === "edit").length
                  assert.strictEqual(before + counts.edits, 12)
                })
              )
            ),
            { numRuns: 40, examples: [[cuts.at(-1)!]] }
          )
        )
      })
    )
  })
})
