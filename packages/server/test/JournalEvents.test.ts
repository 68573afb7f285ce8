/**
 * Reading a durable run's published events back from its journal entries: in the object format of 0.2 (the
 * cases below are written in it) and the compact format written since, which must publish the same.
 */
import { assert, it as effect } from "@effect/vitest"
import { RunStore } from "@effect-flow/core"
import { Effect } from "effect"
import { describe, expect, it } from "vitest"
import { legacyJournal, runLegacy } from "../../core/test/fixtures/legacyJournal.ts"
import { JournalReader } from "../src/internal/journalEvents.ts"

const entry = (e: unknown) => JSON.stringify(e)

describe("JournalReader", () => {
  it("publishes writes, waitFor requests, input requests, lifecycle events and the end; nothing for the rest", () => {
    const reader = new JournalReader("run-1")
    const read = (e: unknown) => reader.read(entry(e))
    expect(read({ t: "def", def: {} })).toBeUndefined()
    expect(read({ t: "r", i: "run-1/ask/1", to: "ask", ev: { _tag: "StartEvent", n: 1 } })).toBeUndefined()
    expect(read({ t: "s", i: "run-1/ask/1", a: 1 })).toEqual({
      _tag: "Event",
      lifecycle: true,
      data: entry({ _tag: "StepStarted", step: "ask", event: "StartEvent", attempt: 1 })
    })
    expect(read({ t: "o", i: "run-1/ask/1", q: 1, op: "write", ev: { _tag: "Note", text: "<b>" } })).toEqual({
      _tag: "Event",
      lifecycle: false,
      data: entry({ _tag: "Note", text: "<b>" })
    })
    expect(read({ t: "o", i: "run-1/ask/1", q: 2, op: "set", st: { n: 1 } })).toBeUndefined()
    expect(read({ t: "o", i: "run-1/ask/1", q: 3, op: "waitFor", rq: { _tag: "Ask", id: "a" } })).toMatchObject({
      lifecycle: false,
      data: entry({ _tag: "Ask", id: "a" })
    })
    expect(read({ t: "o", i: "run-1/ask/1", q: 4, op: "waitFor" })).toBeUndefined() // a wait with no request
    expect(read({ t: "q", ev: { _tag: "InputRequiredEvent", prefix: "?" } })).toMatchObject({ lifecycle: false })
    expect(read({ t: "x" })).toBeUndefined()
    expect(read({ t: "e", i: "run-1/ask/1", k: "B" })).toMatchObject({
      data: entry({ _tag: "StepFailed", step: "ask", event: "StartEvent", attempt: 1, willRetry: true })
    })
    expect(read({ t: "b", i: "run-1/ask/1", a: 2 })).toMatchObject({
      data: entry({ _tag: "StepRetrying", step: "ask", event: "StartEvent", attempt: 2 })
    })
    expect(read({ t: "e", i: "run-1/ask/1", k: "R" })).toMatchObject({
      data: entry({ _tag: "StepCompleted", step: "ask", event: "StartEvent", attempt: 2 })
    })
    expect(read({ t: "end", ok: false })).toEqual({ _tag: "End", ok: false })
    expect(reader.read("not json")).toBeUndefined()
    expect(read({ t: "unknown-kind" })).toBeUndefined()
  })

  it("a step name with slashes, and a run id that is a prefix of another, still give the step", () => {
    const reader = new JournalReader("a/b")
    reader.read(entry({ t: "r", i: "a/b/fetch/page/3", to: "fetch/page", ev: { _tag: "Url" } }))
    expect(reader.read(entry({ t: "s", i: "a/b/fetch/page/3", a: 1 }))).toMatchObject({
      data: entry({ _tag: "StepStarted", step: "fetch/page", event: "Url", attempt: 1 })
    })
  })

  it("an invocation started again without having ended (a restart) is marked resumed", () => {
    const reader = new JournalReader("r")
    reader.read(entry({ t: "r", i: "r/work/1", to: "work", ev: { _tag: "Item" } }))
    expect(reader.read(entry({ t: "s", i: "r/work/1", a: 1 }))).toMatchObject({
      data: entry({ _tag: "StepStarted", step: "work", event: "Item", attempt: 1 })
    })
    expect(reader.read(entry({ t: "s", i: "r/work/1", a: 2 }))).toMatchObject({
      data: entry({ _tag: "StepStarted", step: "work", event: "Item", attempt: 2, resumed: true })
    })
    reader.read(entry({ t: "e", i: "r/work/1", k: "B" }))
    reader.read(entry({ t: "d", i: "r/work/1", a: 3 }))
    // after an end (a backoff), a new start is a retry, not a resume
    expect(reader.read(entry({ t: "s", i: "r/work/1", a: 3 }))).toMatchObject({
      data: entry({ _tag: "StepStarted", step: "work", event: "Item", attempt: 3 })
    })
  })
})

describe("JournalReader on the compact format", () => {
  effect.effect("a journal in the compact format publishes what the same run's object-format journal did", () =>
    Effect.gen(function* () {
      yield* runLegacy("legacy-1")
      const store = yield* RunStore.RunStore
      const compact = (yield* store.readJournal("legacy-1")).map((e) => e.data)
      assert.isTrue(compact.slice(1, -1).every((data) => data.startsWith("[")))
      const published = (journal: ReadonlyArray<string>) => {
        const reader = new JournalReader("legacy-1")
        return journal.map((data) => reader.read(data))
      }
      const expected = published(legacyJournal)
      // writes, lifecycle events and the end: what the server's event stream shows
      assert.isAbove(expected.filter((p) => p !== undefined).length, 60)
      assert.deepStrictEqual(published(compact), expected)
    }).pipe(Effect.provide(RunStore.layerMemory))
  )
})
