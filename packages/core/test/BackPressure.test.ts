/**
 * Back-pressure: a worker that sends into a full mailbox waits for it to drain, so a fan-out's memory is
 * bounded by the mailbox, not by N. The waits never close a cycle, so nothing deadlocks.
 */
import { assert, describe, it } from "@effect/vitest"
import { type Context, defineWorkflow, type Event, RunEvent, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { explore, interleavings, Laws, runVirtual } from "@effect-flow/core/testing"
import { Effect, Option, Schedule, Schema, Stream } from "effect"
import * as fc from "fast-check"
import { MAILBOX_HIGH } from "../src/internal/runtime.ts"
import { HEAVY_TEST_TIMEOUT, property, successOf } from "./fixtures/events.ts"

class Job extends Schema.TaggedClass<Job>()("Job", { index: Schema.Number }) {}
class Done extends Schema.TaggedClass<Done>()("Done", { index: Schema.Number, value: Schema.Number }) {}
class Tick extends Schema.TaggedClass<Tick>()("Tick", { n: Schema.Number }) {}
class Echo extends Schema.TaggedClass<Echo>()("Echo", { n: Schema.Number }) {}
class Answer extends Schema.TaggedClass<Answer>()("Answer", {}) {}

const range = (n: number) => Array.from({ length: n }, (_, i) => i)

/** Collect `n` events, then stop with how many there were. */
const stopWhenAll = (ctx: Context, ev: Event.AnyEvent, n: number) =>
  Effect.map(ctx.collect(ev, n), (all) =>
    Option.isSome(all) ? new StopEvent({ result: all.value.length }) : undefined
  )

/** The deepest a step's mailbox got, from the run's `EventQueued` lifecycle events. */
const deepest = (events: ReadonlyArray<unknown>, step: string): number =>
  Math.max(
    0,
    ...events
      .filter((e): e is RunEvent.EventQueued => (e as { _tag?: string })._tag === "EventQueued")
      .filter((e) => e.step === step)
      .map((e) => e.queued)
  )

describe("back-pressure", () => {
  for (const how of ["send", "sendAll"] as const) {
    it.effect(
      `a dispatcher feeding a slow step waits (${how}): the mailbox stays bounded and every job is handled`,
      () =>
        Effect.gen(function* () {
          const n = 2_000
          const wf = defineWorkflow({ name: "bounded", input: Schema.Struct({ n: Schema.Number }) })
            .step(StartEvent, (ev, ctx) =>
              how === "sendAll"
                ? ctx.sendAll(range(ev.n).map((index) => new Job({ index })))
                : Effect.gen(function* () {
                    for (let index = 0; index < ev.n; index++) yield* ctx.send(new Job({ index }))
                  })
            )
            .step(
              Job,
              (ev) => Effect.as(Effect.sleep("10 millis"), new Done({ index: ev.index, value: ev.index * 2 })),
              {
                name: "work",
                workers: 2
              }
            )
            .step(Done, (ev, ctx) =>
              Effect.map(ctx.collect(ev, n), (all) =>
                Option.isSome(all) ? new StopEvent({ result: all.value.map((d) => d.value) }) : undefined
              )
            )
          const { exit } = yield* runVirtual(Stream.runCollect(Workflow.stream(wf, { n }, { lifecycle: true })))
          const events = successOf(exit)
          const stop = events.at(-1) as StopEvent<ReadonlyArray<number>>
          assert.deepStrictEqual(
            [...stop.result].sort((a, b) => a - b),
            range(n).map((i) => i * 2)
          )
          // One sender: at most MAILBOX_HIGH queued, plus the event it queued before it waited.
          const depth = deepest(events, "work")
          assert.isAtMost(depth, MAILBOX_HIGH + 1)
          assert.isAtLeast(depth, MAILBOX_HIGH)
        }),
      HEAVY_TEST_TIMEOUT
    )
  }

  it.effect(
    "property: whatever the workers and delays, results equal a sequential map, mailboxes stay bounded and at most `workers` run",
    () =>
      property(
        [
          fc.integer({ min: 0, max: 1_200 }),
          fc.integer({ min: 1, max: 5 }),
          fc.array(fc.nat({ max: 3 }), { minLength: 1 })
        ],
        async (run, n, workers, delays) => {
          const wf = defineWorkflow({ name: "law", input: Schema.Struct({ n: Schema.Number }) })
            .step(StartEvent, (ev, ctx) =>
              Effect.gen(function* () {
                if (ev.n === 0) return new StopEvent({ result: [] as ReadonlyArray<Done> })
                for (let index = 0; index < ev.n; index++) yield* ctx.send(new Job({ index }))
              })
            )
            .step(
              Job,
              (ev) =>
                Effect.as(
                  Effect.sleep(delays[ev.index % delays.length]!),
                  new Done({ index: ev.index, value: ev.index * 2 })
                ),
              { name: "work", workers }
            )
            .step(Done, (ev, ctx) =>
              Effect.map(ctx.collect(ev, n), (all) =>
                Option.isSome(all) ? new StopEvent({ result: all.value }) : undefined
              )
            )
          const { exit } = await run(
            runVirtual(Stream.runCollect(Workflow.stream(wf, { n }, { lifecycle: true })), { tick: "1 millis" })
          )
          const events = successOf(exit)
          const done = (events.at(-1) as StopEvent<ReadonlyArray<Done>>).result
          assert.deepStrictEqual(
            [...done].sort((a, b) => a.index - b.index).map((d) => [d.index, d.value]),
            range(n).map((i) => [i, i * 2])
          )
          assert.isAtMost(deepest(events, "work"), MAILBOX_HIGH + 1)
          // Waiting senders do not let more than `workers` invocations run at once.
          let running = 0
          let peak = 0
          for (const e of events) {
            if (e instanceof RunEvent.StepStarted && e.step === "work") peak = Math.max(peak, ++running)
            if (e instanceof RunEvent.StepCompleted && e.step === "work") running--
          }
          assert.isAtMost(peak, workers)
          if (n > 0) assert.isAtLeast(peak, 1)
        },
        { numRuns: 15 }
      ),
    HEAVY_TEST_TIMEOUT
  )

  it.effect("a step that feeds itself past the limit finishes: a worker never waits on its own step alone", () =>
    Effect.gen(function* () {
      const n = MAILBOX_HIGH * 3
      const wf = defineWorkflow({ name: "self-feeding" })
        .step(StartEvent, () => Effect.succeed(new Tick({ n: 0 })))
        .step(
          Tick,
          (ev, ctx) =>
            ev.n === 0
              ? Effect.forEach(range(n), (i) => ctx.send(new Tick({ n: i + 1 })), { discard: true })
              : stopWhenAll(ctx, ev, n),
          { workers: 1 }
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.strictEqual(successOf(exit), n)
    })
  )

  it.effect("two steps feeding each other past the limit finish: waits never close a cycle", () =>
    Effect.gen(function* () {
      const n = MAILBOX_HIGH * 3
      const wf = defineWorkflow({ name: "ping-pong" })
        .step(
          StartEvent,
          (_, ctx) => Effect.forEach(range(n), (i) => ctx.send(new Tick({ n: i })), { discard: true }),
          { name: "ping" }
        )
        .step(Tick, (ev, ctx) => Effect.andThen(ctx.send(new Echo({ n: ev.n })), ctx.send(new Echo({ n: ev.n + n }))), {
          name: "pong",
          workers: 1
        })
        .step(Echo, (ev, ctx) => stopWhenAll(ctx, ev, 2 * n), { name: "count", workers: 1 })
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.strictEqual(successOf(exit), 2 * n)
    })
  )

  it.effect("a cycle through one step with two kinds of events finishes", () =>
    Effect.gen(function* () {
      // "a" sends Ticks to "b"; "b" answers each with an Echo back to "a", whose only worker is still sending.
      const n = MAILBOX_HIGH * 3
      const wf = defineWorkflow({ name: "cycle" })
        .step(StartEvent, () => Effect.succeed(new Echo({ n: -1 })), { name: "start" })
        .step(
          Echo,
          (ev, ctx) =>
            ev.n === -1
              ? Effect.forEach(range(n), (i) => ctx.send(new Tick({ n: i })), { discard: true })
              : stopWhenAll(ctx, ev, n),
          { name: "a", workers: 1 }
        )
        .step(Tick, (ev) => Effect.succeed(new Echo({ n: ev.n })), { name: "b", workers: 1 })
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.strictEqual(successOf(exit), n)
    })
  )

  it.effect("senders do not wait on a step whose worker is in waitFor (it may wait for what they send next)", () =>
    Effect.gen(function* () {
      const n = MAILBOX_HIGH * 2
      const wf = defineWorkflow({ name: "wait-then-drain" })
        .step(
          StartEvent,
          (_, ctx) =>
            Effect.andThen(
              Effect.forEach(range(n), (i) => ctx.send(new Job({ index: i })), { discard: true }),
              ctx.send(new Answer({}))
            ),
          { name: "sender" }
        )
        .step(
          Job,
          (ev, ctx) =>
            Effect.gen(function* () {
              // The first job waits for the Answer, which the sender sends only after all its jobs.
              if (ev.index === 0) yield* ctx.waitFor(Answer)
              return new Done({ index: ev.index, value: 0 })
            }),
          { name: "worker", workers: 1 }
        )
        .step(Done, (ev, ctx) => stopWhenAll(ctx, ev, n))
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.strictEqual(successOf(exit), n)
    })
  )

  it.effect("a sender interrupted while it waits (a step timeout) is retried; what it queued is kept", () =>
    Effect.gen(function* () {
      const seen: Array<number> = []
      const wf = defineWorkflow({ name: "timed-out-sender" })
        .step(
          StartEvent,
          (_, ctx) =>
            // Attempt 1 cannot send all its jobs within the timeout (the slow step takes 10 ms per job), so it
            // is interrupted while it waits for room; attempt 2 sends ten more.
            ctx.attempt === 1
              ? Effect.forEach(range(MAILBOX_HIGH * 4), (i) => ctx.send(new Job({ index: i })), { discard: true })
              : Effect.forEach(range(10), (i) => ctx.send(new Job({ index: 10_000 + i })), { discard: true }),
          { name: "sender", timeout: "2 seconds", retry: Schedule.recurs(1) }
        )
        .step(
          Job,
          (ev) =>
            Effect.as(
              Effect.andThen(
                Effect.sleep("10 millis"),
                Effect.sync(() => seen.push(ev.index))
              ),
              ev.index === 10_009 ? new StopEvent({ result: undefined }) : undefined
            ),
          { name: "slow", workers: 1 }
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      successOf(exit)
      // Attempt 1's jobs, a prefix of what it meant to send, in order; then attempt 2's.
      const first = seen.filter((i) => i < 10_000)
      assert.isAbove(first.length, MAILBOX_HIGH)
      assert.isBelow(first.length, MAILBOX_HIGH * 4)
      assert.deepStrictEqual(seen, [...range(first.length), ...range(10).map((i) => 10_000 + i)])
    })
  )

  it.effect("sends inside a store edit never wait: the steps they feed may be waiting for the same lock", () =>
    Effect.gen(function* () {
      const n = MAILBOX_HIGH * 2
      const wf = defineWorkflow({
        name: "edit-and-send",
        state: Schema.Struct({ seen: Schema.Number }),
        initialState: { seen: 0 },
        timeout: "1 minute"
      })
        .step(
          StartEvent,
          (_, ctx) =>
            ctx.store.edit((s) =>
              Effect.as(
                Effect.forEach(range(n), (i) => ctx.send(new Job({ index: i })), { discard: true }),
                s
              )
            ),
          { name: "sender" }
        )
        .step(
          Job,
          (ev, ctx) =>
            Effect.andThen(
              ctx.store.update("seen", (k) => k + 1),
              Effect.succeed(new Done({ index: ev.index, value: 0 }))
            ),
          { name: "worker", workers: 1 }
        )
        .step(Done, (ev, ctx) =>
          Effect.flatMap(ctx.collect(ev, n), (all) =>
            Option.isSome(all)
              ? Effect.map(ctx.store.get("seen"), (seen) => new StopEvent({ result: seen }))
              : Effect.void
          )
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.strictEqual(successOf(exit), n)
    })
  )

  it(
    "property: in any interleaving, a fan-out and a cycle past the limit finish with every event handled once",
    () => {
      const n = MAILBOX_HIGH + 40
      // dispatch -> work (2 workers) -> count, and work also feeds itself one Tick per job: a cycle through
      // a step that senders wait on.
      const wf = defineWorkflow({ name: "explored" })
        .step(StartEvent, (_, ctx) => ctx.sendAll(range(n).map((index) => new Job({ index }))), { name: "dispatch" })
        .step(
          [Job, Tick],
          (ev, ctx) =>
            ev._tag === "Job"
              ? Effect.andThen(ctx.send(new Tick({ n: ev.index })), ctx.send(new Echo({ n: ev.index })))
              : ctx.send(new Echo({ n: n + ev.n })),
          { name: "work", workers: 2 }
        )
        .step(
          Echo,
          (ev, ctx) =>
            Effect.map(ctx.collect(ev, 2 * n), (all) =>
              Option.isSome(all) ? new StopEvent({ result: all.value.map((e) => e.n) }) : undefined
            ),
          { name: "count" }
        )
      fc.assert(
        // Long choice lists: the first wait for room comes only after a few hundred decisions, and every
        // decision past the end of the list falls back to the ordinary order.
        fc.property(interleavings({ maxLength: 3_000 }), (choices) => {
          const t = explore(wf, {}, choices, { maxSteps: 200_000 })
          const got = [...(successOf(t.exit) as ReadonlyArray<number>)].sort((a, b) => a - b)
          assert.deepStrictEqual(got, range(2 * n))
          assert.deepStrictEqual(Laws.concurrencyBounded(t), [])
        }),
        { numRuns: 25 }
      )
    },
    HEAVY_TEST_TIMEOUT
  )
})
