/**
 * The run's record of transitions (internal/record.ts): made only when someone listens, exact for a small
 * fan-out, and complete: every routed event ends in exactly one invocation outcome or stays queued, and the
 * record replays (a pure function) to the run's own snapshot after every transition.
 */
import { assert, describe, it } from "@effect/vitest"
import { Data, Effect, Exit, Option, Schedule, Schema } from "effect"
import * as fc from "fast-check"
import { defineWorkflow, StartEvent, StopEvent } from "../src/index.ts"
import { runControlled } from "../src/internal/explore.ts"
import { prepare } from "../src/internal/prepare.ts"
import { type Run, replay, runCompiled, type Snapshot, type Transition } from "../src/internal/runtime.ts"
import * as Workflow from "../src/Workflow.ts"

class ItemEvent extends Schema.TaggedClass<ItemEvent>()("ItemEvent", { item: Schema.Number }) {}
class DoneEvent extends Schema.TaggedClass<DoneEvent>()("DoneEvent", { item: Schema.Number }) {}
class Flaky extends Data.TaggedError("Flaky")<{ readonly item: number }> {}

/** start -> sendAll items -> square (retrying failures) -> collect all -> stop; `fails[i]`: attempts item i fails. */
const fanOut = (options: {
  readonly workers: number
  readonly fails: ReadonlyArray<number>
  readonly delays: ReadonlyArray<number>
}) =>
  defineWorkflow({
    name: "fan",
    input: Schema.Struct({ items: Schema.Array(Schema.Number) }),
    state: Schema.Struct({ n: Schema.Number, seen: Schema.Number }),
    initialState: { n: 0, seen: 0 }
  })
    .step(
      StartEvent,
      (ev, ctx) =>
        Effect.gen(function* () {
          yield* ctx.store.set("n", ev.items.length)
          yield* ctx.sendAll(ev.items.map((item) => new ItemEvent({ item })))
        }),
      { name: "start", emits: [ItemEvent] }
    )
    .step(
      ItemEvent,
      (ev, ctx) =>
        Effect.gen(function* () {
          const delay = options.delays[ev.item % options.delays.length] ?? 0
          if (delay > 0) yield* Effect.sleep(delay)
          if (ctx.attempt <= (options.fails[ev.item] ?? 0)) return yield* new Flaky({ item: ev.item })
          yield* ctx.store.edit((s) => Effect.succeed({ ...s, seen: s.seen + 1 }))
          return new DoneEvent({ item: ev.item * ev.item })
        }),
      { name: "square", workers: options.workers, emits: [DoneEvent], retry: Schedule.recurs(3) }
    )
    .step(
      DoneEvent,
      (ev, ctx) =>
        Effect.gen(function* () {
          const n = yield* ctx.store.get("n")
          const all = yield* ctx.collect(ev, n)
          return Option.isSome(all) ? new StopEvent({ result: all.value.map((d) => d.item) }) : undefined
        }),
      { name: "collect", emits: [StopEvent] }
    )

/** Run `wf` recorded, under the controlled scheduler; at every transition, compare the replay with the run. */
const recorded = (wf: Workflow.Any, input: unknown, choices: ReadonlyArray<number>, compare = true) => {
  const record: Array<Transition> = []
  const mismatches: Array<{ at: number; live: Snapshot; replayed: Snapshot }> = []
  let run: Run | undefined
  const result = runControlled(
    (decide) =>
      Effect.flatMap(prepare(wf as any, input), ([compiled, decoded]) =>
        runCompiled(compiled, decoded, {
          yieldPoints: decide,
          onRun: (r) => {
            run = r
          },
          record: (t) => {
            record.push(t)
            if (!compare) return
            const live = run!.snapshot()
            const replayed = replay(record)
            try {
              assert.deepStrictEqual(replayed, live)
            } catch {
              mismatches.push({ at: record.length - 1, live, replayed })
            }
          }
        })
      ) as Effect.Effect<unknown, unknown>,
    choices
  )
  return { record, mismatches, exit: result.exit, run: run! }
}

describe("the run's record", () => {
  it.effect("is not made when nobody listens", () =>
    Effect.gen(function* () {
      let plain: Run | undefined
      const wf = fanOut({ workers: 2, fails: [], delays: [0] })
      const [compiled, input] = yield* prepare(wf, { items: [1, 2, 3] })
      yield* runCompiled(compiled, input, {
        onRun: (r) => {
          plain = r
        },
        publish: () => {}
      })
      assert.strictEqual(plain!.record, undefined)
      // Watching the stream without lifecycle events makes no record either; with them, it does.
      let watched: Run | undefined
      yield* runCompiled(compiled, input, {
        onRun: (r) => {
          watched = r
        },
        publish: () => {},
        lifecycle: true
      })
      assert.isFunction(watched!.record)
    })
  )

  it("is exact for a small fan-out", () => {
    const { record, exit, run } = recorded(fanOut({ workers: 2, fails: [0, 1], delays: [0] }), { items: [0, 1] }, [])
    assert.deepStrictEqual(exit, Exit.succeed([0, 1]))
    // As JSON, with the run's id as RUN: the events, the state and the failure in their encoded form.
    const json = JSON.parse(JSON.stringify(record).replaceAll(run.id, "RUN"))
    assert.deepStrictEqual(json, [
      {
        _tag: "RunStarted",
        runId: "RUN",
        workflow: "fan",
        input: { items: [0, 1] },
        steps: ["start", "square", "collect"],
        state: { n: 0, seen: 0 }
      },
      {
        _tag: "Routed",
        from: "(start)",
        to: "start",
        event: { items: [0, 1], _tag: "StartEvent" },
        invocationId: "RUN/start/1",
        worker: 0,
        queued: 0
      },
      {
        _tag: "InvocationStarted",
        invocationId: "RUN/start/1",
        step: "start",
        event: { items: [0, 1], _tag: "StartEvent" },
        attempt: 1,
        worker: 0
      },
      {
        _tag: "Operation",
        invocationId: "RUN/start/1",
        step: "start",
        attempt: 1,
        seq: 1,
        operation: { op: "set", key: "n", state: { n: 2, seen: 0 } }
      },
      {
        _tag: "Operation",
        invocationId: "RUN/start/1",
        step: "start",
        attempt: 1,
        seq: 2,
        operation: { op: "send", event: { _tag: "ItemEvent", item: 0 } }
      },
      {
        _tag: "Routed",
        from: "start",
        by: "RUN/start/1",
        to: "square",
        event: { _tag: "ItemEvent", item: 0 },
        invocationId: "RUN/square/1",
        worker: 0,
        queued: 0
      },
      {
        _tag: "Operation",
        invocationId: "RUN/start/1",
        step: "start",
        attempt: 1,
        seq: 3,
        operation: { op: "send", event: { _tag: "ItemEvent", item: 1 } }
      },
      {
        _tag: "Routed",
        from: "start",
        by: "RUN/start/1",
        to: "square",
        event: { _tag: "ItemEvent", item: 1 },
        invocationId: "RUN/square/2",
        worker: 1,
        queued: 0
      },
      {
        _tag: "InvocationStarted",
        invocationId: "RUN/square/1",
        step: "square",
        event: { _tag: "ItemEvent", item: 0 },
        attempt: 1,
        worker: 0
      },
      {
        _tag: "Operation",
        invocationId: "RUN/square/1",
        step: "square",
        attempt: 1,
        seq: 1,
        operation: { op: "edit", state: { n: 2, seen: 1 } }
      },
      {
        _tag: "InvocationEnded",
        invocationId: "RUN/square/1",
        step: "square",
        event: { _tag: "ItemEvent", item: 0 },
        attempt: 1,
        worker: 0,
        outcome: { _tag: "Returned", event: { _tag: "DoneEvent", item: 0 } }
      },
      {
        _tag: "Routed",
        from: "square",
        by: "RUN/square/1",
        to: "collect",
        event: { _tag: "DoneEvent", item: 0 },
        invocationId: "RUN/collect/1",
        worker: 0,
        queued: 0
      },
      {
        _tag: "InvocationStarted",
        invocationId: "RUN/collect/1",
        step: "collect",
        event: { _tag: "DoneEvent", item: 0 },
        attempt: 1,
        worker: 0
      },
      {
        _tag: "Operation",
        invocationId: "RUN/collect/1",
        step: "collect",
        attempt: 1,
        seq: 1,
        operation: { op: "get", key: "n", value: 2 }
      },
      {
        _tag: "Operation",
        invocationId: "RUN/collect/1",
        step: "collect",
        attempt: 1,
        seq: 2,
        operation: { op: "collect", event: { _tag: "DoneEvent", item: 0 }, need: 2 }
      },
      {
        _tag: "InvocationEnded",
        invocationId: "RUN/collect/1",
        step: "collect",
        event: { _tag: "DoneEvent", item: 0 },
        attempt: 1,
        worker: 0,
        outcome: { _tag: "Returned" }
      },
      { _tag: "WorkerIdle", step: "collect", worker: 0 },
      { _tag: "WorkerIdle", step: "square", worker: 0 },
      {
        _tag: "InvocationStarted",
        invocationId: "RUN/square/2",
        step: "square",
        event: { _tag: "ItemEvent", item: 1 },
        attempt: 1,
        worker: 1
      },
      {
        _tag: "InvocationEnded",
        invocationId: "RUN/square/2",
        step: "square",
        event: { _tag: "ItemEvent", item: 1 },
        attempt: 1,
        worker: 1,
        outcome: { _tag: "Failed", error: { item: 1, _tag: "Flaky" }, willRetry: true }
      },
      {
        _tag: "RetryScheduled",
        invocationId: "RUN/square/2",
        step: "square",
        event: { _tag: "ItemEvent", item: 1 },
        attempt: 2,
        delayMillis: 0,
        dueAt: 0
      },
      { _tag: "WorkerIdle", step: "square", worker: 1 },
      {
        _tag: "InvocationEnded",
        invocationId: "RUN/start/1",
        step: "start",
        event: { items: [0, 1], _tag: "StartEvent" },
        attempt: 1,
        worker: 0,
        outcome: { _tag: "Returned" }
      },
      { _tag: "WorkerIdle", step: "start", worker: 0 },
      {
        _tag: "RetryDue",
        invocationId: "RUN/square/2",
        step: "square",
        event: { _tag: "ItemEvent", item: 1 },
        attempt: 2,
        worker: 1,
        queued: 0
      },
      {
        _tag: "InvocationStarted",
        invocationId: "RUN/square/2",
        step: "square",
        event: { _tag: "ItemEvent", item: 1 },
        attempt: 2,
        worker: 1
      },
      {
        _tag: "Operation",
        invocationId: "RUN/square/2",
        step: "square",
        attempt: 2,
        seq: 1,
        operation: { op: "edit", state: { n: 2, seen: 2 } }
      },
      {
        _tag: "InvocationEnded",
        invocationId: "RUN/square/2",
        step: "square",
        event: { _tag: "ItemEvent", item: 1 },
        attempt: 2,
        worker: 1,
        outcome: { _tag: "Returned", event: { _tag: "DoneEvent", item: 1 } }
      },
      {
        _tag: "Routed",
        from: "square",
        by: "RUN/square/2",
        to: "collect",
        event: { _tag: "DoneEvent", item: 1 },
        invocationId: "RUN/collect/2",
        worker: 0,
        queued: 0
      },
      {
        _tag: "InvocationStarted",
        invocationId: "RUN/collect/2",
        step: "collect",
        event: { _tag: "DoneEvent", item: 1 },
        attempt: 1,
        worker: 0
      },
      {
        _tag: "Operation",
        invocationId: "RUN/collect/2",
        step: "collect",
        attempt: 1,
        seq: 1,
        operation: { op: "get", key: "n", value: 2 }
      },
      {
        _tag: "Operation",
        invocationId: "RUN/collect/2",
        step: "collect",
        attempt: 1,
        seq: 2,
        operation: {
          op: "collect",
          event: { _tag: "DoneEvent", item: 1 },
          need: 2,
          taken: [
            { _tag: "DoneEvent", item: 0 },
            { _tag: "DoneEvent", item: 1 }
          ]
        }
      },
      {
        _tag: "InvocationEnded",
        invocationId: "RUN/collect/2",
        step: "collect",
        event: { _tag: "DoneEvent", item: 1 },
        attempt: 1,
        worker: 0,
        outcome: { _tag: "Returned", event: { _tag: "StopEvent", result: [0, 1] } }
      },
      { _tag: "RunEnded", result: { _tag: "Success", value: [0, 1] } }
    ])
  })

  const configs = fc.record({
    items: fc.array(fc.integer({ min: 0, max: 9 }), { maxLength: 7 }),
    workers: fc.integer({ min: 1, max: 3 }),
    fails: fc.array(fc.integer({ min: 0, max: 4 }), { maxLength: 10 }),
    delays: fc.array(fc.integer({ min: 0, max: 3 }), { minLength: 1, maxLength: 3 }),
    choices: fc.array(fc.nat({ max: 7 }), { maxLength: 60 })
  })

  it(
    "property: every routed event ends in exactly one invocation outcome, or is still queued or backing off",
    () =>
      fc.assert(
        fc.property(configs, ({ choices, items, ...options }) => {
          const { exit, record, run } = recorded(fanOut(options), { items }, choices, false)
          assert.isDefined(exit)
          const routed = new Set<string>()
          const outcomes = new Map<string, number>()
          const backingOff = new Set<string>()
          for (const t of record) {
            if (t._tag === "Routed") {
              assert.isFalse(routed.has(t.invocationId), `${t.invocationId} routed twice`)
              routed.add(t.invocationId)
            } else if (t._tag === "InvocationEnded") {
              assert.isTrue(routed.has(t.invocationId), `${t.invocationId} ended but was never routed`)
              if (t.outcome._tag === "Failed" && t.outcome.willRetry) backingOff.add(t.invocationId)
              else outcomes.set(t.invocationId, (outcomes.get(t.invocationId) ?? 0) + 1)
            } else if (t._tag === "RetryDue") backingOff.delete(t.invocationId)
          }
          // What the run still held when it ended: its queues and the slots of interrupted invocations.
          const snapshot = run.snapshot()
          const held = snapshot.steps.reduce((n, s) => n + s.queued.length, 0)
          for (const id of routed) {
            const n = outcomes.get(id) ?? 0
            assert.isAtMost(n, 1, `${id} ended ${n} times`)
          }
          const unfinished = [...routed].filter((id) => !outcomes.has(id) && !backingOff.has(id))
          assert.strictEqual(unfinished.length, held, `unfinished: ${unfinished.join(", ")}`)
          if (exit !== undefined && Exit.isSuccess(exit)) {
            const squares = items.map((x) => x * x).sort((a, b) => a - b)
            assert.deepStrictEqual(
              [...(exit.value as ReadonlyArray<number>)].sort((a, b) => a - b),
              squares
            )
            assert.strictEqual(outcomes.size, routed.size)
          }
        }),
        { numRuns: 60 }
      ),
    60_000
  )

  it(
    "property: the record replays to the run's snapshot after every transition",
    () =>
      fc.assert(
        fc.property(configs, ({ choices, items, ...options }) => {
          const { mismatches, record } = recorded(fanOut(options), { items }, choices)
          assert.strictEqual(record[0]?._tag, "RunStarted")
          assert.deepStrictEqual(mismatches.slice(0, 1), [])
        }),
        { numRuns: 40 }
      ),
    60_000
  )

  it.effect("ctx.invocationId: one per step and routed event, the same across retries", () =>
    Effect.gen(function* () {
      const seen: Array<[number, number, string]> = []
      const wf = defineWorkflow({ name: "ids", input: Schema.Struct({ items: Schema.Array(Schema.Number) }) })
        .step(StartEvent, (ev, ctx) => ctx.sendAll(ev.items.map((item) => new ItemEvent({ item }))), {
          name: "start",
          emits: [ItemEvent]
        })
        .step(
          ItemEvent,
          (ev, ctx) =>
            Effect.gen(function* () {
              seen.push([ev.item, ctx.attempt, ctx.invocationId])
              if (ctx.attempt < 2) return yield* new Flaky({ item: ev.item })
              const n = yield* ctx.collect(ev, 2)
              return Option.isSome(n) ? new StopEvent({ result: ctx.runId }) : undefined
            }),
          { name: "item", workers: 2, retry: Schedule.recurs(1), emits: [StopEvent] }
        )
      const runId = yield* Workflow.run(wf, { items: [7, 8] })
      const byItem = (item: number) => seen.filter(([i]) => i === item).map(([, attempt, id]) => [attempt, id])
      assert.deepStrictEqual(byItem(7), [
        [1, `${runId}/item/1`],
        [2, `${runId}/item/1`]
      ])
      assert.deepStrictEqual(byItem(8), [
        [1, `${runId}/item/2`],
        [2, `${runId}/item/2`]
      ])
    })
  )
})
