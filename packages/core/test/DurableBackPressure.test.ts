import { assert, describe, it } from "@effect/vitest"
import { Durable, defineWorkflow, RunStore, StartEvent, StopEvent, type Workflow } from "@effect-flow/core"
import { Effect, Fiber, Layer, Option, Schema } from "effect"
import { TestClock } from "effect/testing"

class Item extends Schema.TaggedClass<Item>()("Item", { i: Schema.Number }) {}
class Done extends Schema.TaggedClass<Done>()("Done", { i: Schema.Number }) {}

/** A fan-out of `n` items, 4 workers taking 1 ms each; `handled` counts the work invocations that returned. */
const makeFanout = (counts: { handled: number }) =>
  defineWorkflow({
    name: "pressed",
    input: Schema.Struct({ n: Schema.Number }),
    state: Schema.Struct({ sum: Schema.Number }),
    initialState: { sum: 0 }
  })
    .step(
      StartEvent,
      (ev, ctx) =>
        Effect.gen(function* () {
          for (let i = 0; i < ev.n; i++) yield* ctx.send(new Item({ i }))
        }),
      { name: "dispatch", emits: [Item] }
    )
    .step(
      Item,
      (ev, ctx) =>
        Effect.gen(function* () {
          yield* Effect.sleep("1 millis")
          yield* ctx.store.update("sum", (sum) => sum + ev.i)
          counts.handled++
          return new Done({ i: ev.i })
        }),
      { name: "work", workers: 4, emits: [Done] }
    )
    .step(
      Done,
      (ev, ctx) =>
        Effect.gen(function* () {
          const all = yield* ctx.collect(ev, 300)
          if (Option.isNone(all)) return
          return new StopEvent({ result: (yield* ctx.store.getAll).sum })
        }),
      { name: "gather", emits: [StopEvent] }
    )

/**
 * A memory store slower than the run: each batch takes 20 ms plus 0.2 ms per entry on the TestClock (a remote
 * database, a busy disk). The run makes about 40 entries a millisecond; this store takes 5.
 */
const slowStore = Effect.map(RunStore.makeMemory, (inner) => {
  const store: RunStore.Shape = {
    ...inner,
    append: (lease, batch) =>
      Effect.andThen(Effect.sleep(`${20 + Math.ceil(batch.entries.length / 5)} millis`), inner.append(lease, batch))
  }
  return { inner, store }
})

/**
 * How many entries of run `runId`'s journal `counts`, as an effect to poll: each time it reads only what was
 * appended since it last did. The tests here poll every virtual millisecond; reading the whole journal each
 * time made the first one quadratic, and on a loaded machine it ran past its timeout.
 */
const tally = (inner: RunStore.Shape, runId: string, counts: (entry: Durable.Entry) => boolean) => {
  let read = 0
  let total = 0
  return Effect.suspend(() =>
    Effect.map(inner.readJournal(runId, { from: read }), (journal) => {
      read += journal.length
      for (const e of journal) if (counts(Durable.readEntry(runId, e.data))) total++
      return total
    })
  )
}

/** A returned work invocation's end. */
const isWorkEnd = (entry: Durable.Entry) => entry.t === "e" && entry.k === "R" && String(entry.i).includes("/work/")

/** Work invocations whose end the store holds. */
const workEnded = (inner: RunStore.Shape, runId: string) =>
  Effect.map(inner.readJournal(runId), (journal) => {
    const ended = new Map<string, number>()
    for (const e of journal) {
      const entry = Durable.readEntry(runId, e.data)
      if (isWorkEnd(entry)) {
        ended.set(entry.i!, (ended.get(entry.i!) ?? 0) + 1)
      }
    }
    return ended
  })

describe("Durable runs on a store slower than the run", () => {
  // Without back-pressure the run ran ahead of its journal: all 300 items were handled within ~80 ms while the
  // first batches were still being committed, so a crash then would have thrown away ~260 items of finished work.
  it.effect("the run waits for its store: finished work not yet committed stays within ~10 ms of work", () =>
    Effect.gen(function* () {
      const { inner, store } = yield* slowStore
      const counts = { handled: 0 }
      const wf = makeFanout(counts)
      const fiber = yield* Effect.forkChild(
        Durable.run(wf, { n: 300 }, { runId: "slow" }).pipe(Effect.provide(Layer.succeed(RunStore.RunStore, store))),
        { startImmediately: true }
      )
      let worst = 0
      let ms = 0
      const workEnds = tally(inner, "slow", isWorkEnd)
      while (fiber.pollUnsafe() === undefined) {
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        // what a crash now would lose: work invocations that returned, their end not yet in the store (each
        // ends once: checked below)
        const committed = yield* workEnds
        worst = Math.max(worst, counts.handled - committed)
        yield* TestClock.adjust("1 millis")
        ms++
        assert.isBelow(ms, 20_000, "the run ends")
      }
      // 4 workers, 1 ms an item: about 44 items in the batch being committed and as many behind it
      assert.isAtMost(worst, 100, `at most 100 items' work uncommitted (the worst was ${worst})`)
      assert.strictEqual(yield* Fiber.join(fiber), (300 * 299) / 2)
      // the run went at the store's speed (~3,000 entries at 5 a millisecond), not its own (~80 ms)
      assert.isAbove(ms, 400)
      // nothing lost, nothing twice: each of the 300 work invocations ended once in the journal
      const ended = yield* workEnded(inner, "slow")
      assert.strictEqual(ended.size, 300)
      assert.isTrue([...ended.values()].every((c) => c === 1))
      assert.strictEqual((yield* inner.get("slow")).status, "completed")
    })
  )

  it.effect("stopped while waiting for its store, the run resumes where its journal ends and finishes", () =>
    Effect.gen(function* () {
      const { inner, store } = yield* slowStore
      const counts = { handled: 0 }
      const wf = makeFanout(counts)
      const slow = Layer.succeed(RunStore.RunStore, store)
      const first = yield* Effect.forkChild(Durable.run(wf, { n: 300 }, { runId: "stop" }).pipe(Effect.provide(slow)), {
        startImmediately: true
      })
      for (let ms = 0; ms < 150; ms++) {
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        yield* TestClock.adjust("1 millis")
      }
      assert.isUndefined(first.pollUnsafe(), "still running: it goes at the store's speed")
      // at its own speed it would have handled all 300 by now (within ~80 ms)
      assert.isAbove(counts.handled, 0)
      assert.isBelow(counts.handled, 150)
      // stop it (its scope closes, as on a deploy), letting the store finish its last writes
      const stopping = yield* Effect.forkChild(Fiber.interrupt(first), { startImmediately: true })
      // bounded (virtual time): a regression fails here with a message instead of hanging until the test timeout
      for (let round = 0; round < 1_000 && stopping.pollUnsafe() === undefined; round++) {
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        yield* TestClock.adjust("10 millis")
      }
      assert.isDefined(stopping.pollUnsafe(), "the run stopped within 10 virtual seconds")
      const resumed = yield* Effect.forkChild(Durable.resume(wf, "stop").pipe(Effect.provide(slow)), {
        startImmediately: true
      })
      for (let round = 0; round < 10_000 && resumed.pollUnsafe() === undefined; round++) {
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        yield* TestClock.adjust("1 millis")
      }
      assert.isDefined(resumed.pollUnsafe(), "the resumed run ended within 10 virtual seconds")
      assert.strictEqual(yield* Fiber.join(resumed), (300 * 299) / 2)
      const ended = yield* workEnded(inner, "stop")
      assert.strictEqual(ended.size, 300)
      assert.isTrue([...ended.values()].every((c) => c === 1))
      // only the items the first process had not handled ran again (and those whose end it had not committed)
      assert.isAtMost(counts.handled, 300 + 4)
    })
  )
})

class Tick extends Schema.TaggedClass<Tick>()("Tick", { i: Schema.Number, n: Schema.Number }) {}

/** A chain of `n` invocations of one step, each taking 1 ms and calling no step-context operation. */
const makeChain = (counts: { handled: number }) =>
  defineWorkflow({ name: "chained", input: Schema.Struct({ n: Schema.Number }) })
    .step(StartEvent, (ev) => Effect.succeed(new Tick({ i: 0, n: ev.n })), { name: "begin", emits: [Tick] })
    .step(
      Tick,
      (ev) =>
        Effect.map(Effect.sleep("1 millis"), () => {
          counts.handled++
          return ev.i + 1 === ev.n ? new StopEvent({ result: ev.n }) : new Tick({ i: ev.i + 1, n: ev.n })
        }),
      { name: "tick", emits: [Tick, StopEvent] }
    )

class Progress extends Schema.TaggedClass<Progress>()("Progress", { i: Schema.Number }) {}

/** One invocation that writes `n` events to the caller's stream, one a millisecond. */
const makeWriter = (counts: { written: number }) =>
  defineWorkflow({ name: "writing", input: Schema.Struct({ n: Schema.Number }) }).step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        for (let i = 0; i < ev.n; i++) {
          yield* Effect.sleep("1 millis")
          yield* ctx.write(new Progress({ i }))
          counts.written++
        }
        return new StopEvent({ result: ev.n })
      }),
    { name: "writer" }
  )

/** A `ctx.write` operation. */
const isWrite = (entry: Durable.Entry) => entry.t === "o" && entry.op === "write"

/** A memory store that takes 50 ms (TestClock) to commit each batch. */
const fiftyMs = Effect.map(RunStore.makeMemory, (inner) => {
  const store: RunStore.Shape = {
    ...inner,
    append: (lease, batch) => Effect.andThen(Effect.sleep("50 millis"), inner.append(lease, batch))
  }
  return { inner, store }
})

/** The end of an invocation of the `tick` step. */
const isTickEnd = (entry: Durable.Entry) => entry.t === "e" && String(entry.i).includes("/tick/")

/**
 * Run `wf` durably on a store that takes 50 ms per batch, a virtual millisecond at a time; at each, how far the
 * work done (`done()`) is ahead of what the store holds of it (its entries that `held` counts). Returns the
 * run's result, the worst lead, the virtual milliseconds the run took and what the store held at the end.
 */
const runAhead = (wf: Workflow.Any, runId: string, done: () => number, held: (entry: Durable.Entry) => boolean) =>
  Effect.gen(function* () {
    const { inner, store } = yield* fiftyMs
    const fiber = yield* Effect.forkChild(
      Durable.run(wf, { n: 200 }, { runId }).pipe(Effect.provide(Layer.succeed(RunStore.RunStore, store))),
      { startImmediately: true }
    )
    const heldNow = tally(inner, runId, held)
    let worst = 0
    let ms = 0
    while (fiber.pollUnsafe() === undefined) {
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      worst = Math.max(worst, done() - (yield* heldNow))
      yield* TestClock.adjust("1 millis")
      ms++
      assert.isBelow(ms, 20_000, "the run ends")
    }
    return { result: yield* Fiber.join(fiber), worst, ms, heldAtEnd: yield* heldNow }
  })

describe("Durable runs wait at each invocation's start and before each step-context operation", () => {
  // A handler that calls no step-context operation is held where its invocation starts: without that wait (only
  // before operations) this chain ran on through every 50 ms commit, ~50 invocations of work a crash would lose.
  it.effect("while the journal writer is behind its store, the next invocation does not start", () =>
    Effect.gen(function* () {
      const counts = { handled: 0 }
      const { result, worst, ms, heldAtEnd } = yield* runAhead(
        makeChain(counts),
        "chain",
        () => counts.handled,
        isTickEnd
      )
      assert.strictEqual(result, 200)
      // the batch being committed holds ~10 invocations (10 ms of work), and ~10 more ran before the writer was
      // behind; never the ~50 a 50 ms commit would let through
      assert.isAtMost(worst, 30, `at most 30 invocations' work uncommitted (the worst was ${worst})`)
      // at the store's speed: ~10 invocations per 50 ms commit, not 1 a millisecond
      assert.isAbove(ms, 600)
      assert.strictEqual(heldAtEnd, 200)
    })
  )

  // One invocation that never ends while the writer is behind: only the wait before each operation holds it.
  it.effect("while the journal writer is behind its store, an operation waits before it acts", () =>
    Effect.gen(function* () {
      const counts = { written: 0 }
      const { result, worst, ms, heldAtEnd } = yield* runAhead(
        makeWriter(counts),
        "writes",
        () => counts.written,
        isWrite
      )
      assert.strictEqual(result, 200)
      assert.isAtMost(worst, 30, `at most 30 writes uncommitted (the worst was ${worst})`)
      assert.isAbove(ms, 600)
      assert.strictEqual(heldAtEnd, 200)
    })
  )
})
