/**
 * The canonical Effect test pattern (issue 13, point 7): fork `Workflow.run`, `TestClock.adjust`, join.
 * Every sleep the engine's own scheduling reaches (a handler's first sleep after a fan-out, a retry backoff,
 * a nested run) is registered before `adjust` looks for due sleepers, so no `runVirtual` is needed.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Effect, Fiber, Metric, Option, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Boom, HEAVY_TEST_TIMEOUT, Item, Ping, Processed } from "./fixtures/events.ts"

/**
 * Join `f`, which must have ended by now: a few yields for the run to close its scope, then its exit. A run
 * still going fails the test at once instead of waiting for the test runner's timeout.
 */
const joinNow = <A, E>(f: Fiber.Fiber<A, E>): Effect.Effect<A, E> =>
  Effect.gen(function* () {
    for (let i = 0; i < 20 && f.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
    assert.isDefined(f.pollUnsafe(), "the run has not ended after TestClock.adjust")
    return yield* Fiber.join(f)
  })

const Items = Schema.Struct({ items: Schema.Array(Schema.String) })

/** dispatch -> work (4 workers, each sleeps 500 ms) -> collect: the seed's parallel example. */
const parallel = defineWorkflow({ name: "parallel", input: Items })
  .step(StartEvent, (ev, ctx) =>
    ctx.sendAll(ev.items.map((item, index) => new Item({ item, index, total: ev.items.length })))
  )
  .step(
    Item,
    (ev) =>
      Effect.succeed(new Processed({ result: ev.item.toUpperCase(), index: ev.index, total: ev.total })).pipe(
        Effect.delay("500 millis")
      ),
    { workers: 4 }
  )
  .step(Processed, (ev, ctx) =>
    Effect.map(ctx.collect(ev, ev.total), (all) =>
      Option.isSome(all)
        ? new StopEvent({ result: [...all.value].sort((a, b) => a.index - b.index).map((p) => p.result) })
        : undefined
    )
  )

describe("fork, TestClock.adjust, join", () => {
  it.effect("a fan-out whose workers sleep: 4 items with 4 workers take 500 ms", () =>
    Effect.gen(function* () {
      const f = yield* Effect.forkChild(Workflow.run(parallel, { items: ["a", "b", "c", "d"] }))
      yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual(yield* joinNow(f), ["A", "B", "C", "D"])
    })
  )

  it.effect("8 items with 4 workers: two adjusts of 500 ms", () =>
    Effect.gen(function* () {
      const f = yield* Effect.forkChild(Workflow.run(parallel, { items: ["a", "b", "c", "d", "e", "f", "g", "h"] }))
      yield* TestClock.adjust("500 millis")
      assert.isUndefined(f.pollUnsafe())
      yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual(yield* joinNow(f), ["A", "B", "C", "D", "E", "F", "G", "H"])
    })
  )

  it.effect("a sleep two fiber hops from the start (StartEvent step, then a sleeping step)", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "two-hops" })
        .step(StartEvent, () => Effect.succeed(new Item({ item: "x", index: 0, total: 1 })))
        .step(Item, (ev) => Effect.as(Effect.sleep("1 second"), new StopEvent({ result: ev.item })))
      const f = yield* Effect.forkChild(Workflow.run(wf, {}))
      yield* TestClock.adjust("1 second")
      assert.strictEqual(yield* joinNow(f), "x")
    })
  )

  it.effect("retries with backoff", () =>
    Effect.gen(function* () {
      let attempts = 0
      const wf = defineWorkflow({ name: "backoff" })
        .step(StartEvent, () => Effect.succeed(new Item({ item: "x", index: 0, total: 1 })))
        .step(
          Item,
          () =>
            Effect.suspend(() =>
              ++attempts < 3
                ? Effect.fail(new Boom({ reason: "flaky" }))
                : Effect.succeed(new StopEvent({ result: attempts }))
            ),
          { retry: Schedule.exponential("100 millis") }
        )
      const f = yield* Effect.forkChild(Workflow.run(wf, {}))
      // 100 ms, then 200 ms of backoff.
      yield* TestClock.adjust("300 millis")
      assert.strictEqual(yield* joinNow(f), 3)
    })
  )

  it.effect("a step that runs a nested workflow whose steps sleep", () =>
    Effect.gen(function* () {
      const outer = defineWorkflow({ name: "outer" })
        .step(StartEvent, () => Effect.succeed(new Item({ item: "y", index: 0, total: 1 })))
        .step(Item, (ev) =>
          Effect.map(Workflow.run(parallel, { items: [ev.item, "z"] }), (result) => new StopEvent({ result }))
        )
      const f = yield* Effect.forkChild(Workflow.run(outer, {}))
      yield* TestClock.adjust("500 millis")
      assert.deepStrictEqual(yield* joinNow(f), ["Y", "Z"])
    })
  )
})

describe("workers start at once, and one fiber drains a busy mailbox", () => {
  it.effect("a fan-out of 1,000 events with no sleeps runs on a handful of fibers, not one per event", () =>
    Effect.gen(function* () {
      let started = 0
      const metrics: Metric.FiberRuntimeMetricsService = {
        recordFiberStart: () => {
          started++
        },
        recordFiberEnd: () => {}
      }
      const lean = defineWorkflow({ name: "lean", input: Items })
        .step(StartEvent, (ev, ctx) =>
          ctx.sendAll(ev.items.map((item, index) => new Item({ item, index, total: ev.items.length })))
        )
        .step(Item, (ev) => Effect.succeed(new Processed({ result: ev.item, index: ev.index, total: ev.total })), {
          workers: 4
        })
        .step(Processed, (ev, ctx) =>
          Effect.map(ctx.collect(ev, ev.total), (all) =>
            Option.isSome(all) ? new StopEvent({ result: all.value.length }) : undefined
          )
        )
      const items = Array.from({ length: 1000 }, (_, i) => `${i}`)
      const result = yield* Effect.provideService(Workflow.run(lean, { items }), Metric.FiberRuntimeMetrics, metrics)
      assert.strictEqual(result, 1000)
      // Two thousand events; the start step, four workers and the collector, each started a few times.
      assert.isBelow(started, 50)
    })
  )

  it.effect(
    "a step with many workers feeding itself 20,000 times does not start fibers ever deeper on the stack",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "self-feeding" })
          .step(StartEvent, () => Effect.succeed(new Ping({ n: 0 })))
          .step(
            Ping,
            (ev) => Effect.succeed(ev.n >= 20_000 ? new StopEvent({ result: ev.n }) : new Ping({ n: ev.n + 1 })),
            { workers: 1_000_000 }
          )
        assert.strictEqual(yield* Workflow.run(wf, {}), 20_000)
      }),
    HEAVY_TEST_TIMEOUT
  )
})
