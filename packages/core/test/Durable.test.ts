import { assert, describe, it } from "@effect/vitest"
import { Durable, defineWorkflow, RunStore, StartEvent, StopEvent, WorkflowChangedError } from "@effect-flow/core"
import { Data, Effect, Exit, Fiber, Option, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

class Item extends Schema.TaggedClass<Item>()("Item", { i: Schema.Number }) {}
class Done extends Schema.TaggedClass<Done>()("Done", { i: Schema.Number, v: Schema.Number }) {}
class Flaky extends Data.TaggedError("Flaky")<{ readonly i: number }> {}

/** What the handlers did, across every segment of a run (a crash and its resume). */
const makeCounts = () => ({
  /** `edit` functions called. */
  edits: 0,
  /** Handler calls of `work`, by invocationId, with their attempts. */
  calls: new Map<string, Array<number>>(),
  /** Failures `work` raised on purpose (each item whose i % 4 === 1 fails its first attempt). */
  failed: new Set<number>()
})

/** A fan-out: `n` items, 3 workers that edit the store, fail once for some items (retried), a collect of all. */
const makeWorkflow = (counts: ReturnType<typeof makeCounts>, name = "fanout") =>
  defineWorkflow({
    name,
    input: Schema.Struct({ n: Schema.Number }),
    state: Schema.Struct({ sum: Schema.Number, n: Schema.Number }),
    initialState: { sum: 0, n: 0 }
  })
    .step(
      StartEvent,
      (ev, ctx) =>
        Effect.gen(function* () {
          yield* ctx.store.set("n", ev.n)
          for (let i = 0; i < ev.n; i++) {
            yield* ctx.send(new Item({ i }))
            // a crash may land between two sends
            if (i % 3 === 2) yield* Effect.sleep("1 millis")
          }
        }),
      { name: "dispatch", emits: [Item] }
    )
    .step(
      Item,
      (ev, ctx) =>
        Effect.gen(function* () {
          const calls = counts.calls.get(ctx.invocationId) ?? []
          calls.push(ctx.attempt)
          counts.calls.set(ctx.invocationId, calls)
          yield* Effect.sleep(`${1 + (ev.i % 3)} millis`)
          if (ev.i % 4 === 1 && !counts.failed.has(ev.i)) {
            counts.failed.add(ev.i)
            return yield* new Flaky({ i: ev.i })
          }
          yield* ctx.store.edit((s) =>
            Effect.sync(() => {
              counts.edits++
              return { ...s, sum: s.sum + ev.i }
            })
          )
          yield* Effect.sleep("1 millis")
          return new Done({ i: ev.i, v: ev.i * 10 })
        }),
      {
        name: "work",
        workers: 3,
        emits: [Done],
        retry: Schedule.recurs(2).pipe(Schedule.addDelay(() => Effect.succeed("5 millis")))
      }
    )
    .step(
      Done,
      (ev, ctx) =>
        Effect.gen(function* () {
          const n = yield* ctx.store.get("n")
          const all = yield* ctx.collect(ev, n)
          // a crash may land between the offer and the invocation's end
          yield* Effect.sleep("1 millis")
          if (Option.isNone(all)) return
          const state = yield* ctx.store.getAll
          return new StopEvent({ result: { values: all.value.map((d) => d.v).sort((a, b) => a - b), sum: state.sum } })
        }),
      { name: "gather", emits: [StopEvent] }
    )

const expected = (n: number) => ({
  values: Array.from({ length: n }, (_, i) => i * 10),
  sum: (n * (n - 1)) / 2
})

/** Let fibers run, then move the test clock on, until `fiber` is done. */
const drive = <A, E>(fiber: Fiber.Fiber<A, E>) =>
  Effect.gen(function* () {
    for (let t = 0; t < 100_000; t++) {
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      const exit = fiber.pollUnsafe()
      if (exit !== undefined) return exit
      yield* TestClock.adjust("1 millis")
    }
    return yield* Effect.die("the run did not end")
  })

/** Run `steps` clock ticks of a run (with yields between), then interrupt it: a crash, as far as the run knows. */
const crashAfter = <A, E>(fiber: Fiber.Fiber<A, E>, ticks: number, yields: number) =>
  Effect.gen(function* () {
    for (let t = 0; t < ticks; t++) {
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      if (fiber.pollUnsafe() !== undefined) return
      yield* TestClock.adjust("1 millis")
    }
    for (let i = 0; i < yields; i++) yield* Effect.yieldNow
    yield* Fiber.interrupt(fiber)
  })

/** Invocation ids whose end (not a back-off) the stored journal holds. */
const endedIn = (runId: string, journal: ReadonlyArray<RunStore.JournalEntry>) =>
  new Set(
    journal
      .map((e) => Durable.readEntry(runId, e.data))
      .filter((e) => e.t === "e" && e.k !== "B")
      .map((e) => e.i as string)
  )

/** A lease or journal call the engine made on a store, in the order it made them. */
type StoreCall =
  | { readonly op: "acquire" | "release"; readonly token: number }
  | { readonly op: "readJournal"; readonly runId: string }

/**
 * `store`, noting in `calls` each lease it gave (once given), each release (when asked, so a read racing a
 * release counts as unleased) and each journal read (when asked).
 */
const recording = (store: RunStore.Shape, calls: Array<StoreCall>): RunStore.Shape => ({
  ...store,
  acquire: (runId, request) =>
    Effect.tap(store.acquire(runId, request), (lease) =>
      Effect.sync(() => calls.push({ op: "acquire", token: lease.token }))
    ),
  release: (lease) =>
    Effect.suspend(() => {
      calls.push({ op: "release", token: lease.token })
      return store.release(lease)
    }),
  readJournal: (runId, options) =>
    Effect.suspend(() => {
      calls.push({ op: "readJournal", runId })
      return store.readJournal(runId, options)
    })
})

describe("Durable.run on RunStore.layerMemory", () => {
  it.effect("an uninterrupted durable run: the in-memory result, each edit once, status completed", () =>
    Effect.gen(function* () {
      const counts = makeCounts()
      const wf = makeWorkflow(counts)
      const fiber = yield* Effect.forkChild(Durable.run(wf, { n: 12 }, { runId: "r1" }), { startImmediately: true })
      const exit = yield* drive(fiber)
      assert.deepStrictEqual(exit, Exit.succeed(expected(12)))
      assert.strictEqual(counts.edits, 12)
      const status = yield* Durable.status("r1")
      assert.strictEqual(status.status, "completed")
      assert.deepStrictEqual(JSON.parse(status.result!), expected(12))
      const listed = yield* Durable.list({ workflow: "fanout" })
      assert.deepStrictEqual(
        listed.map((s) => s.runId),
        ["r1"]
      )
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "the journal keeps what a run published (a write's event, a waitFor's request), for readers of its events",
    () =>
      Effect.gen(function* () {
        class Note extends Schema.TaggedClass<Note>()("Note", { text: Schema.String }) {}
        class Ask extends Schema.TaggedClass<Ask>()("Ask", { id: Schema.String }) {}
        class Answer extends Schema.TaggedClass<Answer>()("Answer", { id: Schema.String }) {}
        /** Not a schema class, so no codec holds it: journaled as its JSON fields, and the run goes on. */
        class Plain {
          readonly _tag = "Plain"
          readonly n: number
          constructor(n: number) {
            this.n = n
          }
        }
        const wf = defineWorkflow({ name: "publishing", outsideInput: [Answer] }).step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            yield* ctx.write(new Note({ text: "<b>hi</b>" }))
            yield* ctx.write(new Plain(3) as never)
            const answer = yield* ctx.waitFor(Answer, { request: new Ask({ id: "a1" }), id: "a1" })
            return new StopEvent({ result: answer.id })
          })
        )
        const fiber = yield* Effect.forkChild(Durable.run(wf, {}, { runId: "pub" }), { startImmediately: true })
        for (let i = 0; i < 50 && (yield* Durable.status("pub")).status !== "waiting"; i++) {
          yield* TestClock.adjust("100 millis")
        }
        yield* Durable.send(wf, "pub", new Answer({ id: "a1" }))
        assert.deepStrictEqual(yield* Fiber.join(fiber), "a1")
        const store = yield* RunStore.RunStore
        const ops = (yield* store.readJournal("pub"))
          .map((e) => Durable.readEntry("pub", e.data))
          .filter((e) => e.t === "o")
        assert.deepStrictEqual(
          ops.map((e) => [e.op, e.ev, e.rq]),
          [
            ["write", { _tag: "Note", text: "<b>hi</b>" }, undefined],
            ["write", { _tag: "Plain", n: 3 }, undefined],
            ["waitFor", undefined, { _tag: "Ask", id: "a1" }]
          ]
        )
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("a finished runId returns its stored outcome without running a handler", () =>
    Effect.gen(function* () {
      const counts = makeCounts()
      const wf = makeWorkflow(counts)
      const first = yield* Effect.forkChild(Durable.run(wf, { n: 5 }, { runId: "r2" }), { startImmediately: true })
      yield* drive(first)
      const calls = [...counts.calls.values()].flat().length
      const edits = counts.edits
      const again = yield* Durable.run(wf, { n: 5 }, { runId: "r2" })
      assert.deepStrictEqual(again, expected(5))
      const resumed = yield* Durable.resume(wf, "r2")
      assert.deepStrictEqual(resumed, expected(5))
      assert.strictEqual([...counts.calls.values()].flat().length, calls)
      assert.strictEqual(counts.edits, edits)
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "a changed workflow or input is refused with WorkflowChangedError naming what changed; unknown runId: RunNotFoundError",
    () =>
      Effect.gen(function* () {
        const counts = makeCounts()
        const wf = makeWorkflow(counts)
        const fiber = yield* Effect.forkChild(Durable.run(wf, { n: 6 }, { runId: "r3" }), { startImmediately: true })
        yield* crashAfter(fiber, 2, 0)
        const changedInput = yield* Effect.flip(Durable.run(wf, { n: 7 }, { runId: "r3" }))
        assert.instanceOf(changedInput, WorkflowChangedError)
        assert.match(
          (changedInput as WorkflowChangedError).changes.join("\n"),
          /input: stored \{"n":6\}, given \{"n":7\}/
        )
        const other = makeWorkflow(counts).step(Item, () => Effect.void, { name: "extra" })
        const changed = yield* Effect.flip(Durable.resume(other as never, "r3"))
        assert.instanceOf(changed, WorkflowChangedError)
        assert.match((changed as WorkflowChangedError).changes.join("\n"), /step extra: added/)
        const missing = yield* Effect.flip(Durable.resume(wf, "nope"))
        assert.strictEqual((missing as { _tag: string })._tag, "RunNotFoundError")
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "property: crashed at a random point and resumed, the result equals an uninterrupted run's; no ended invocation runs again; re-runs keep their invocationId; each edit applies once",
    () =>
      Effect.gen(function* () {
        const ctx = yield* Effect.context<never>()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.integer({ min: 1, max: 14 }),
              fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 40 })), {
                minLength: 1,
                maxLength: 3
              }),
              (n, crashes) =>
                Effect.runPromiseWith(ctx)(
                  Effect.gen(function* () {
                    const store = yield* RunStore.RunStore
                    const counts = makeCounts()
                    const wf = makeWorkflow(counts)
                    const runId = `p-${n}-${Math.random()}`
                    let segment = Durable.run(wf, { n }, { runId })
                    let endedBefore = new Set<string>()
                    for (const [ticks, yields] of crashes) {
                      const before = new Map([...counts.calls].map(([k, v]) => [k, v.length]))
                      const fiber = yield* Effect.forkChild(segment, { startImmediately: true })
                      yield* crashAfter(fiber, ticks, yields)
                      // No invocation whose end was journaled before this segment ran in it.
                      for (const id of endedBefore) {
                        assert.strictEqual(counts.calls.get(id)?.length ?? 0, before.get(id) ?? 0, `${id} ran again`)
                      }
                      endedBefore = endedIn(runId, yield* store.readJournal(runId))
                      segment = Durable.resume(wf, runId)
                    }
                    const before = new Map([...counts.calls].map(([k, v]) => [k, v.length]))
                    const exit = yield* drive(yield* Effect.forkChild(segment, { startImmediately: true }))
                    if (process.env.DEBUG_DURABLE && Exit.isSuccess(exit) && exit.value.sum !== expected(n).sum) {
                      console.log((yield* store.readJournal(runId)).map((e) => e.data).join("\n"))
                    }
                    assert.deepStrictEqual(exit, Exit.succeed(expected(n)))
                    for (const id of endedBefore) {
                      assert.strictEqual(counts.calls.get(id)?.length ?? 0, before.get(id) ?? 0, `${id} ran again`)
                    }
                    // Every item's edit applied once (the sum is exact); an edit function runs again only
                    // when its invocation was interrupted before the edit was journaled.
                    assert.isAtLeast(counts.edits, n)
                    // Attempts of one invocation only go up.
                    for (const [id, attempts] of counts.calls) {
                      for (let i = 1; i < attempts.length; i++) {
                        assert.isAbove(attempts[i]!, attempts[i - 1]!, `${id}: ${attempts}`)
                      }
                    }
                    assert.strictEqual((yield* Durable.status(runId)).status, "completed")
                  }).pipe(Effect.provide(RunStore.layerMemory))
                )
            ),
            { numRuns: Number(process.env.DURABLE_RUNS ?? 30) }
          )
        )
      }),
    60_000
  )

  it.effect(
    "property: crashed at a random point and resumed, every segment reads the run's journal only under the run's lease (acquired, not yet released)",
    () =>
      Effect.gen(function* () {
        const ctx = yield* Effect.context<never>()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.integer({ min: 1, max: 8 }),
              fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 40 })), {
                minLength: 1,
                maxLength: 3
              }),
              (n, crashes) =>
                Effect.runPromiseWith(ctx)(
                  Effect.gen(function* () {
                    const inner = yield* RunStore.makeMemory
                    const calls: Array<StoreCall> = []
                    const store = recording(inner, calls)
                    const wf = makeWorkflow(makeCounts())
                    const runId = `lease-${n}-${Math.random()}`
                    let segment = Durable.run(wf, { n }, { runId })
                    for (const [ticks, yields] of crashes) {
                      const fiber = yield* Effect.forkChild(Effect.provideService(segment, RunStore.RunStore, store), {
                        startImmediately: true
                      })
                      yield* crashAfter(fiber, ticks, yields)
                      segment = Durable.resume(wf, runId)
                    }
                    const exit = yield* drive(
                      yield* Effect.forkChild(Effect.provideService(segment, RunStore.RunStore, store), {
                        startImmediately: true
                      })
                    )
                    assert.deepStrictEqual(exit, Exit.succeed(expected(n)))
                    // Replay the calls in order: each journal read is made while a lease of the run is held.
                    const held = new Set<number>()
                    let reads = 0
                    for (const [i, call] of calls.entries()) {
                      if (call.op === "acquire") held.add(call.token)
                      else if (call.op === "release") held.delete(call.token)
                      else {
                        reads++
                        assert.isAbove(
                          held.size,
                          0,
                          `journal read #${reads} with no lease held; calls: ${calls.slice(0, i + 1).map((c) => c.op)}`
                        )
                      }
                    }
                    // The first segment reads its (empty) journal at least: the property is never vacuous.
                    assert.isAtLeast(reads, 1)
                  })
                )
            ),
            { numRuns: Number(process.env.DURABLE_RUNS ?? 30) }
          )
        )
      }),
    60_000
  )

  it.effect(
    "a crash retry spends nothing of the step's retry schedule: the re-run's own failure is still retried",
    () =>
      Effect.gen(function* () {
        const attempts: Array<number> = []
        // One retry allowed. Attempt 1 is cut by a crash; attempt 2 (the crash re-run) fails for real; attempt 3,
        // the retry the schedule still owes, succeeds.
        const wf = defineWorkflow({ name: "retrying" }).step(
          StartEvent,
          (_, ctx) =>
            Effect.gen(function* () {
              attempts.push(ctx.attempt)
              if (ctx.attempt === 1) yield* Effect.sleep("1 hour")
              if (ctx.attempt === 2) return yield* new Flaky({ i: 0 })
              return new StopEvent({ result: ctx.attempt })
            }),
          { name: "once", emits: [StopEvent], retry: Schedule.recurs(1) }
        )
        const first = yield* Effect.forkChild(Durable.run(wf, {}, { runId: "retry-1" }), { startImmediately: true })
        yield* crashAfter(first, 5, 0)
        const exit = yield* drive(yield* Effect.forkChild(Durable.resume(wf, "retry-1"), { startImmediately: true }))
        assert.deepStrictEqual(exit, Exit.succeed(3))
        assert.deepStrictEqual(attempts, [1, 2, 3])
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "a resume with a changed event schema, state schema or step's workers: WorkflowChangedError naming each",
    () =>
      Effect.gen(function* () {
        class Job extends Schema.TaggedClass<Job>()("Job", { i: Schema.Number }) {}
        class JobV2 extends Schema.TaggedClass<JobV2>()("Job", { i: Schema.Number, label: Schema.String }) {}
        const Version1 = Schema.Struct({ n: Schema.Number })
        const make = (job: typeof Job | typeof JobV2, state: Schema.Top, workers: number) =>
          defineWorkflow({ name: "versions", state: state as typeof Version1, initialState: { n: 0 } })
            .step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })), {
              name: "start",
              emits: [job, StopEvent]
            })
            .step(job, () => Effect.void, { name: "work", workers })
        const v1 = make(Job, Version1, 1)
        assert.strictEqual(yield* Durable.run(v1, {}, { runId: "v" }), 1)
        assert.strictEqual(yield* Durable.resume(v1, "v"), 1)
        const changes = (w: typeof v1) =>
          Effect.map(Effect.flip(Durable.resume(w, "v")), (e) => (e as WorkflowChangedError).changes.join("\n"))
        assert.match(yield* changes(make(JobV2, Version1, 1) as never), /event Job schema: stored \{.*, given \{/)
        assert.match(
          yield* changes(make(Job, Schema.Struct({ n: Schema.Number, m: Schema.optional(Schema.Number) }), 1) as never),
          /state schema: stored/
        )
        assert.match(yield* changes(make(Job, Version1, 4)), /step work: stored .*workers 1, given .*workers 4/)
      }).pipe(Effect.provide(RunStore.layerMemory))
  )
})
