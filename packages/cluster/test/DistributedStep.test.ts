/**
 * Distributed steps on effect's TestRunner (one process, memory storage): each invocation of a
 * `distribute: true` step is a message to the step entity keyed by its invocationId; the run gets the
 * same result as locally, writes reach it, a message sent again for the same invocation and attempt is
 * handled once, and a handler's failure or a reach for ctx.send comes back typed. (That the writes reach
 * the run and workers bounds what is in flight is core's Distribution test, with the same hook.)
 */
import { assert, describe, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { Distribution, Durable, defineWorkflow, RunStore, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Deferred, Effect, Exit, Fiber, Layer, Option, Result, Schedule, Schema, Scope } from "effect"
import { type Sharding, TestRunner } from "effect/cluster"
import * as fc from "fast-check"
import { distributorLayer } from "../src/internal/stepEntity.ts"

class Job extends Schema.TaggedClass<Job>()("Job", { index: Schema.Number, item: Schema.String }) {}
class Done extends Schema.TaggedClass<Done>()("Done", { index: Schema.Number, length: Schema.Number }) {}
class Progress extends Schema.TaggedClass<Progress>()("Progress", { index: Schema.Number }) {}
class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { index: Schema.Number }) {}

/** Each handler call, by invocationId and attempt: what ran, and where the test can count it. */
const calls: Array<string> = []

const fanOut = defineWorkflow({
  name: "dist-fan",
  input: Schema.Struct({ items: Schema.Array(Schema.String), failUntil: Schema.Number }),
  initialState: { n: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("n", ev.items.length)
        yield* ctx.sendAll(ev.items.map((item, index) => new Job({ index, item })))
      }),
    { emits: [Job] }
  )
  .step(
    Job,
    (ev, ctx) =>
      Effect.gen(function* () {
        calls.push(`${ctx.invocationId}#${ctx.attempt}`)
        if (ev.item === "flaky" && ctx.attempt < 3) return yield* new Flaky({ index: ev.index })
        yield* ctx.write(new Progress({ index: ev.index }))
        return new Done({ index: ev.index, length: ev.item.length })
      }),
    { name: "work", distribute: true, workers: 4, emits: [Done], writes: [Progress], retry: Schedule.recurs(3) }
  )
  .step(
    Done,
    (ev, ctx) =>
      Effect.gen(function* () {
        const all = yield* ctx.collect(ev, yield* ctx.store.get("n"))
        if (all._tag === "None") return
        return new StopEvent({ result: [...all.value].sort((a, b) => a.index - b.index).map((d) => d.length) })
      }),
    { emits: [StopEvent] }
  )

class Nope extends Schema.TaggedError<Nope>()("Nope", { why: Schema.String }) {}

const failing = defineWorkflow({ name: "dist-failing" })
  .step(StartEvent, () => Effect.succeed(new Job({ index: 0, item: "x" })), { emits: [Job] })
  .step(Job, (ev) => Effect.fail(new Nope({ why: `no ${ev.item}` })), { name: "remote", distribute: true })

const cheating = defineWorkflow({ name: "dist-cheating" })
  .step(StartEvent, () => Effect.succeed(new Job({ index: 0, item: "x" })), { emits: [Job] })
  .step(Job, (ev, ctx) => Effect.as((ctx as any).send(ev) as Effect.Effect<void>, new StopEvent({ result: 1 })), {
    name: "remote",
    distribute: true
  })

/** Each item's handler waits for the test to open its gate. */
const gates = new Map<string, Deferred.Deferred<void>>()
const gate = (item: string) => {
  let g = gates.get(item)
  if (g === undefined) gates.set(item, (g = Deferred.makeUnsafe<void>()))
  return g
}

const gated = defineWorkflow({ name: "dist-gated", input: Schema.Struct({ items: Schema.Array(Schema.String) }) })
  .step(StartEvent, (ev, ctx) => ctx.sendAll(ev.items.map((item, index) => new Job({ index, item }))), {
    emits: [Job]
  })
  .step(
    Job,
    (ev, ctx) =>
      Effect.gen(function* () {
        calls.push(`${ctx.invocationId}#${ctx.attempt}`)
        yield* Deferred.await(gate(ev.item))
        return new Done({ index: ev.index, length: ev.item.length })
      }),
    { name: "work", distribute: true, workers: 4, emits: [Done] }
  )
  .step(
    Done,
    (ev, ctx) =>
      Effect.map(ctx.collect(ev, 2), (all) =>
        all._tag === "None" ? undefined : new StopEvent({ result: [...all.value].map((d) => d.index).sort() })
      ),
    { emits: [StopEvent] }
  )

/** Its distributed handler never ends by itself; `hung` counts its calls and their interruptions. */
const hung = { started: 0, interrupted: 0 }
const hanging = defineWorkflow({ name: "dist-hanging" })
  .step(StartEvent, () => Effect.succeed(new Job({ index: 0, item: "x" })), { emits: [Job] })
  .step(
    Job,
    () =>
      Effect.sync(() => hung.started++).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Effect.sync(() => hung.interrupted++))
      ),
    { name: "remote", distribute: true }
  )

const runner = Distributed.layer({ workflows: [fanOut, failing, cheating, gated] }).pipe(
  Layer.provideMerge(RunStore.layerMemory),
  Layer.provideMerge(TestRunner.layer)
)

describe("distribute: true on TestRunner", () => {
  it.live(
    "a distributed fan-out gives the local result; each invocation is one handler call, on its first attempt",
    () =>
      Effect.gen(function* () {
        const context = yield* Effect.context<Sharding.Sharding>()
        let case_ = 0
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(fc.array(fc.string({ maxLength: 5 }), { minLength: 1, maxLength: 30 }), (items) =>
              Effect.runPromiseWith(context)(
                Effect.gen(function* () {
                  calls.length = 0
                  const runId = `fan-${++case_}`
                  const input = { items, failUntil: 0 }
                  const local = yield* Workflow.run(fanOut, input)
                  calls.length = 0
                  const remote = yield* Distributed.run(fanOut, input, { runId })
                  assert.deepStrictEqual(remote, local)
                  // Each invocation ran once, on its first attempt (`<runId>/work/<n>#1`).
                  assert.deepStrictEqual(
                    calls.map((c) => c.slice(c.indexOf("/work/"))).sort(),
                    items.map((_, i) => `/work/${i + 1}#1`).sort()
                  )
                })
              )
            ),
            { numRuns: 15 }
          )
        )
      }).pipe(Effect.provide(runner)),
    60_000
  )

  it.live(
    "a failed attempt is retried under the same invocationId with attempt + 1, each attempt one message",
    () =>
      Effect.gen(function* () {
        calls.length = 0
        const result = yield* Distributed.run(
          fanOut,
          { items: ["a", "flaky", "ccc"], failUntil: 3 },
          { runId: "flaky-1" }
        )
        assert.deepStrictEqual(result, [1, 5, 3])
        assert.deepStrictEqual(
          calls.filter((c) => c.includes("/work/2#")).map((c) => c.slice(c.indexOf("/work/"))),
          ["/work/2#1", "/work/2#2", "/work/2#3"]
        )
        // The outcomes came back to the run and were journaled: each invocation's end, and the Done it
        // returned routed to the collecting step.
        const store = yield* RunStore.RunStore
        const journal = (yield* store.readJournal("flaky-1")).map((e) => Durable.readEntry("flaky-1", e.data))
        for (const n of [1, 2, 3]) {
          assert.isTrue(journal.some((e) => e.t === "e" && e.i === `flaky-1/work/${n}` && e.k === "R"))
        }
        assert.strictEqual(
          journal.filter((e) => e.t === "r" && (e.ev as { _tag?: string } | undefined)?._tag === "Done").length,
          3
        )
        assert.strictEqual(journal.filter((e) => e.t === "e" && e.i === "flaky-1/work/2" && e.k === "B").length, 2)
      }).pipe(Effect.provide(runner)),
    30_000
  )

  it.live(
    "a message sent again for the same invocation and attempt is handled once: both senders get its one reply",
    () =>
      Effect.gen(function* () {
        calls.length = 0
        const makeClient = yield* Distributed.StepEntity.client
        const payload = new Distributed.InvokePayload({
          workflow: "dist-fan",
          runId: "resend",
          step: "work",
          invocationId: "resend/work/1",
          attempt: 1,
          since: 1,
          event: JSON.stringify({ _tag: "Job", index: 0, item: "abcd" })
        })
        const [first, second] = yield* Effect.all(
          [makeClient("resend/work/1").Invoke(payload), makeClient("resend/work/1").Invoke(payload)],
          { concurrency: 2 }
        )
        const third = yield* makeClient("resend/work/1").Invoke(payload)
        assert.deepStrictEqual(calls, ["resend/work/1#1"])
        assert.strictEqual(first, second)
        assert.strictEqual(third, first)
        assert.deepStrictEqual(JSON.parse(first), {
          w: [{ _tag: "Progress", index: 0 }],
          o: { _tag: "Returned", event: { _tag: "Done", index: 0, length: 4 } }
        })
        // The next attempt of the same invocation is another message: it runs.
        yield* makeClient("resend/work/1").Invoke(new Distributed.InvokePayload({ ...payload, attempt: 2, since: 2 }))
        assert.deepStrictEqual(calls, ["resend/work/1#1", "resend/work/1#2"])
      }).pipe(Effect.provide(runner)),
    30_000
  )

  it.live(
    "a run resumed after its owner stopped gets the reply of an invocation attempt that ended, or still runs, on a runner: the handler does not run again",
    () =>
      Effect.gen(function* () {
        calls.length = 0
        const store = yield* RunStore.RunStore
        const real = yield* Effect.provide(Distribution.Distributor, distributorLayer(new Map([["dist-gated", gated]])))
        // The first owner's messages live on without it, as when its process dies or the cluster moves the
        // run: each call waits in a fiber of its own, and the owner never sees a reply.
        const orphaning: Distribution.Distributor = {
          invoke: (invocation) => Effect.andThen(Effect.forkDetach(real!.invoke(invocation)), Effect.never)
        }
        const first = yield* Effect.forkChild(
          Durable.run(gated, { items: ["ended", "running"] }, { runId: "gated-1" }).pipe(
            Effect.provideService(Distribution.Distributor, orphaning)
          )
        )
        // "ended" finishes on its runner (its reply stored); "running" is still in its handler.
        yield* Deferred.succeed(gate("ended"), undefined)
        while (calls.length < 2) yield* Effect.sleep("5 millis")
        const journal = (yield* store.readJournal("gated-1")).map((e) => Durable.readEntry("gated-1", e.data))
        yield* Fiber.interrupt(first)
        assert.isFalse(journal.some((e) => e.t === "e" && String(e.i).includes("/work/")))

        const resumed = yield* Effect.forkChild(Distributed.resume(gated, "gated-1"))
        yield* Effect.sleep("50 millis")
        yield* Deferred.succeed(gate("running"), undefined)
        assert.deepStrictEqual(yield* Fiber.join(resumed), [0, 1])
        // Each handler ran once, as its first attempt: the resumed run (attempt 2) got attempt 1's replies.
        assert.deepStrictEqual(calls.sort(), ["gated-1/work/1#1", "gated-1/work/2#1"])
        const ends = (yield* store.readJournal("gated-1"))
          .map((e) => Durable.readEntry("gated-1", e.data))
          .filter((e) => e.t === "e" && String(e.i).includes("/work/"))
        assert.deepStrictEqual(ends.map((e) => e.k).sort(), ["R", "R"])
      }).pipe(Effect.provide(runner)),
    30_000
  )

  it.live(
    "a resumed run whose earlier attempt's stored reply is an interruption runs the invocation afresh",
    () =>
      Effect.gen(function* () {
        calls.length = 0
        gates.delete("stopped")
        // The owner's interrupt reaches the step entity (its run was interrupted, not moved): the handler is
        // interrupted and the interruption stored as the reply of attempt 1.
        const first = yield* Effect.forkChild(
          Durable.run(gated, { items: ["stopped", "x"] }, { runId: "gated-2" }).pipe(
            Effect.provide(distributorLayer(new Map([["dist-gated", gated]])))
          )
        )
        yield* Deferred.succeed(gate("x"), undefined)
        while (!calls.some((c) => c.startsWith("gated-2/work/1#"))) yield* Effect.sleep("5 millis")
        yield* Fiber.interrupt(first)
        // The resumed run asks for attempt 1's reply; once that is the interruption, it runs attempt 2 afresh
        // (attempt 1's handler never got past its gate).
        const resumed = yield* Effect.forkChild(Distributed.resume(gated, "gated-2"))
        while (!calls.includes("gated-2/work/1#2")) yield* Effect.sleep("5 millis")
        yield* Deferred.succeed(gate("stopped"), undefined)
        assert.deepStrictEqual(yield* Fiber.join(resumed), [0, 1])
        // Attempt 1 once (stopped at its gate) and attempt 2 once: the resume ran nothing else of item 1 again.
        assert.deepStrictEqual(
          calls.filter((c) => c.startsWith("gated-2/work/1#")),
          ["gated-2/work/1#1", "gated-2/work/1#2"]
        )
      }).pipe(Effect.provide(runner)),
    30_000
  )

  it.live(
    "a handler's own failure comes back as DistributedStepError naming its tag; the run fails with it",
    () =>
      Effect.gen(function* () {
        const outcome = yield* Effect.result(Distributed.run(failing, undefined as never, { runId: "failing-1" }))
        assert.isTrue(Result.isFailure(outcome))
        const error = (outcome as Result.Failure<unknown, any>).failure
        assert.strictEqual(error._tag, "RunFailedError")
        assert.strictEqual(error.tag, "DistributedStepError")
        assert.include(error.reason, "Nope")
        assert.include(error.reason, "no x")
        // Locally the run fails with the handler's own class; across runners its tag and message remain.
        const local = yield* Effect.flip(Workflow.run(failing, {}))
        assert.instanceOf(local, Nope)
      }).pipe(Effect.provide(runner)),
    30_000
  )

  it.live(
    'a distributed handler reaching for ctx.send on a runner: the reply is the "distribute" validation problem',
    () =>
      Effect.gen(function* () {
        const makeClient = yield* Distributed.StepEntity.client
        const reply = yield* makeClient("cheat/remote/1").Invoke(
          new Distributed.InvokePayload({
            workflow: "dist-cheating",
            runId: "cheat",
            step: "remote",
            invocationId: "cheat/remote/1",
            attempt: 1,
            since: 1,
            event: JSON.stringify({ _tag: "Job", index: 0, item: "x" })
          })
        )
        const parsed = JSON.parse(reply)
        assert.strictEqual(parsed.o._tag, "Died")
        assert.strictEqual(parsed.o.validation._tag, "WorkflowValidationError")
        assert.strictEqual(parsed.o.validation.problems[0].check, "distribute")
        assert.include(parsed.o.reason, "ctx.send")
      }).pipe(Effect.provide(runner)),
    30_000
  )

  it.live(
    "a runner that shuts down (a deploy) interrupts the distributed invocations it runs at once, instead of waiting entityTerminationTimeout (15 s) for them",
    () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(
          Distributed.layer({ workflows: [hanging] }).pipe(
            Layer.provideMerge(RunStore.layerMemory),
            Layer.provideMerge(TestRunner.layer)
          ),
          scope
        )
        yield* Distributed.start(hanging, {}, { runId: "hanging-1" }).pipe(Effect.provideContext(context))
        for (let i = 0; hung.started === 0; i++) {
          assert.isBelow(i, 500, "the distributed invocation started")
          yield* Effect.sleep("10 millis")
        }
        const closed = yield* Effect.timeoutOption(Scope.close(scope, Exit.void), "5 seconds")
        assert.isTrue(Option.isSome(closed), "the runner stopped without waiting for the invocation")
        assert.strictEqual(hung.interrupted, hung.started, "the invocation was interrupted")
      }),
    30_000
  )
})
