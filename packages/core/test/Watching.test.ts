import { assert, describe, it } from "@effect/vitest"
import {
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  RunEvent,
  StartEvent,
  StepTimeoutError,
  StopEvent,
  Workflow,
  WorkflowCancelledError,
  WorkflowStalledError
} from "@effect-flow/core"
import { explore, interleavings, runVirtual } from "@effect-flow/core/testing"
import { Cause, Duration, Effect, Exit, Fiber, Option, Schedule, Schema, Stream, Tracer } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { errorOf, successOf } from "./fixtures/events.ts"
import { ItemEvent, ProcessedEvent, parallel } from "./fixtures/parallel.ts"

class Progress extends Schema.TaggedClass<Progress>()("Progress", { n: Schema.Number }) {}
class Boom extends Schema.TaggedError<Boom>()("Boom", { reason: Schema.String }) {}
class Work extends Schema.TaggedClass<Work>()("Work", { id: Schema.Number }) {}
class Done extends Schema.TaggedClass<Done>()("Done", { id: Schema.Number, ok: Schema.Boolean }) {}

const tags = (events: ReadonlyArray<{ readonly _tag: string }>) => events.map((e) => e._tag)

/** Writes progress twice, then stops. */
const writer = defineWorkflow({ name: "writer" }).step(StartEvent, (_, ctx) =>
  Effect.gen(function* () {
    yield* ctx.write(new Progress({ n: 1 }))
    yield* Effect.sleep("10 millis")
    yield* ctx.write(new Progress({ n: 2 }))
    return new StopEvent({ result: "done" })
  })
)

describe("Workflow.stream", () => {
  it.effect("gives the written events in order, ending with the StopEvent", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Stream.runCollect(Workflow.stream(writer, {})))
      assert.isTrue(Exit.isSuccess(exit))
      const events = Exit.isSuccess(exit) ? exit.value : []
      assert.deepStrictEqual(tags(events), ["Progress", "Progress", "StopEvent"])
      assert.deepStrictEqual((events[1] as Progress).n, 2)
      assert.deepStrictEqual((events[2] as StopEvent<string>).result, "done")
    })
  )

  it.effect("fails with the handler's error, and does not hang", () =>
    Effect.gen(function* () {
      const boom = new Boom({ reason: "x" })
      const wf = defineWorkflow({ name: "failing" }).step(StartEvent, (_, ctx) =>
        Effect.andThen(ctx.write(new Progress({ n: 1 })), Effect.fail(boom))
      )
      const seen: Array<string> = []
      const { exit } = yield* runVirtual(
        Workflow.stream(wf, {}).pipe(Stream.runForEach((ev) => Effect.sync(() => seen.push(ev._tag))))
      )
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual(Cause.squash((exit as Exit.Failure<any, any>).cause), boom)
      assert.deepStrictEqual(seen, ["Progress"])
    })
  )

  it.effect("fails with a stall at once, and with a timeout when the run times out", () =>
    Effect.gen(function* () {
      const stalls = defineWorkflow({ name: "stalls" }).step(StartEvent, () => Effect.void)
      const stalled = yield* runVirtual(Stream.runCollect(Workflow.stream(stalls, {})))
      assert.isTrue(Exit.isFailure(stalled.exit))
      assert.instanceOf(Cause.squash((stalled.exit as Exit.Failure<any, any>).cause), WorkflowStalledError)
      assert.strictEqual(Duration.toMillis(stalled.elapsed), 0)
      const slow = defineWorkflow({ name: "slow", timeout: "1 second" }).step(StartEvent, () => Effect.never)
      const timedOut = yield* runVirtual(Stream.runCollect(Workflow.stream(slow, {})))
      assert.isTrue(Exit.isFailure(timedOut.exit))
      assert.strictEqual(Duration.toMillis(timedOut.elapsed), 1000)
      const error = Exit.isFailure(timedOut.exit) ? Cause.squash(timedOut.exit.cause) : undefined
      assert.strictEqual((error as { _tag: string })._tag, "WorkflowTimeoutError")
    })
  )

  it.effect("fails with an input error before anything runs", () =>
    Effect.gen(function* () {
      const exit = yield* Effect.exit(Stream.runCollect(Workflow.stream(parallel, { items: 3 } as any)))
      assert.isTrue(Exit.isFailure(exit))
      assert.strictEqual((Cause.squash((exit as Exit.Failure<any, any>).cause) as any)._tag, "WorkflowInputError")
    })
  )

  it.effect("with lifecycle events: started, queued, completed per invocation; writes precede completion", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(
        Stream.runCollect(Workflow.stream(parallel, { items: ["a", "b", "c", "d", "e", "f"] }, { lifecycle: true }))
      )
      assert.isTrue(Exit.isSuccess(exit))
      const events = Exit.isSuccess(exit) ? exit.value : []
      const started = events.filter((e): e is RunEvent.StepStarted => e._tag === "StepStarted")
      const completed = events.filter((e): e is RunEvent.StepCompleted => e._tag === "StepCompleted")
      const queued = events.filter((e): e is RunEvent.EventQueued => e._tag === "EventQueued")
      // dispatch once, process_item 6 times, collect_results 6 times
      assert.strictEqual(started.length, 13)
      assert.strictEqual(started.filter((e) => e.step === "process_item").length, 6)
      assert.isTrue(started.filter((e) => e.step === "process_item").every((e) => e.worker >= 0 && e.worker < 4))
      // 4 workers: items 5 and 6 wait for a slot
      assert.deepStrictEqual(
        queued.filter((e) => e.step === "process_item").map((e) => e.event),
        ["ItemEvent", "ItemEvent"]
      )
      assert.deepStrictEqual(
        completed.filter((e) => e.step === "process_item").map((e) => e.returned),
        Array(6).fill("ProcessedEvent")
      )
      assert.strictEqual(events.at(-1)?._tag, "StopEvent")
      // the collector's last completion (returning the StopEvent) comes before the StopEvent itself
      assert.strictEqual(events.at(-2)?._tag, "StepCompleted")
    })
  )

  it.effect("a step's writes come before its own completion event; nothing after the StopEvent", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "race" })
        .step(StartEvent, (_, ctx) => Effect.andThen(ctx.send(new Work({ id: 1 })), ctx.send(new Work({ id: 2 }))))
        .step(
          Work,
          (ev, ctx) =>
            Effect.gen(function* () {
              yield* ctx.write(new Progress({ n: ev.id }))
              yield* Effect.sleep(ev.id === 1 ? "10 millis" : "20 millis")
              yield* ctx.write(new Progress({ n: ev.id * 10 }))
              return new StopEvent({ result: ev.id })
            }),
          { workers: 2 }
        )
      const { exit } = yield* runVirtual(Stream.runCollect(Workflow.stream(wf, {}, { lifecycle: true })))
      assert.isTrue(Exit.isSuccess(exit))
      const events = Exit.isSuccess(exit) ? exit.value : []
      const firstCompletion = events.findIndex((e) => e._tag === "StepCompleted" && (e as any).step === "handleWork")
      const write10 = events.findIndex((e) => e._tag === "Progress" && (e as Progress).n === 10)
      assert.isTrue(write10 >= 0 && write10 < firstCompletion)
      assert.strictEqual(events.at(-1)?._tag, "StopEvent")
      assert.strictEqual((events.at(-1) as StopEvent<number>).result, 1)
      // the second invocation's late write (20) never appears
      assert.isFalse(events.some((e) => e._tag === "Progress" && (e as Progress).n === 20))
    })
  )

  it.effect(
    "an invocation interrupted by the StopEvent writes nothing that reaches the stream, even from a finalizer",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "late-writer" })
          .step(StartEvent, (_, ctx) => Effect.andThen(ctx.send(new Work({ id: 1 })), ctx.send(new Work({ id: 2 }))))
          .step(
            Work,
            (ev, ctx) =>
              ev.id === 1
                ? Effect.as(Effect.sleep("10 millis"), new StopEvent({ result: "first" }))
                : Effect.never.pipe(Effect.ensuring(ctx.write(new Progress({ n: 99 })))),
            { workers: 2 }
          )
        const { exit } = yield* runVirtual(Stream.runCollect(Workflow.stream(wf, {})))
        assert.deepStrictEqual(tags(successOf(exit)), ["StopEvent"])
      })
  )

  it.effect("a written event is not routed, even to a step that accepts its class", () =>
    Effect.gen(function* () {
      let handled = 0
      const wf = defineWorkflow({ name: "write-only" })
        .step(StartEvent, (_, ctx) =>
          Effect.andThen(
            ctx.write(new Progress({ n: 1 })),
            Effect.as(Effect.sleep("1 second"), new StopEvent({ result: "done" }))
          )
        )
        .step(Progress, () =>
          Effect.sync(() => {
            handled++
          })
        )
      const { exit } = yield* runVirtual(Stream.runCollect(Workflow.stream(wf, {})))
      assert.deepStrictEqual(tags(successOf(exit)), ["Progress", "StopEvent"])
      assert.strictEqual(handled, 0)
    })
  )

  it.effect("stopping the stream early interrupts the run", () =>
    Effect.gen(function* () {
      let finalized = false
      const wf = defineWorkflow({ name: "endless" }).step(StartEvent, (_, ctx) =>
        Effect.gen(function* () {
          yield* Effect.addFinalizer(() => Effect.sync(() => (finalized = true)))
          for (let i = 0; ; i++) {
            yield* ctx.write(new Progress({ n: i }))
            yield* Effect.sleep("1 second")
          }
        }).pipe(Effect.scoped)
      )
      const { exit } = yield* runVirtual(Stream.runCollect(Stream.take(Workflow.stream(wf, {}), 3)))
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual(Exit.isSuccess(exit) ? exit.value.length : 0, 3)
      assert.isTrue(finalized)
    })
  )
})

describe("Workflow.start (a handle)", () => {
  it.effect("gives runId, events and result", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Workflow.start(writer, {})
        assert.match(handle.runId, /^writer-/)
        const { exit } = yield* runVirtual(Effect.all([Stream.runCollect(handle.events), handle.result]))
        assert.isTrue(Exit.isSuccess(exit))
        const [events, result] = Exit.isSuccess(exit) ? exit.value : [[], ""]
        assert.deepStrictEqual(tags(events), ["Progress", "Progress", "StopEvent"])
        assert.strictEqual(result, "done")
      })
    )
  )

  it.effect("cancel interrupts every fiber of the run; result fails with WorkflowCancelledError; events end", () =>
    Effect.scoped(
      Effect.gen(function* () {
        let interrupted = 0
        const wf = defineWorkflow({ name: "cancellable" })
          .step(StartEvent, (_, ctx) => Effect.andThen(ctx.send(new Work({ id: 1 })), ctx.send(new Work({ id: 2 }))))
          .step(Work, () => Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => interrupted++))), {
            workers: 2
          })
        const handle = yield* Workflow.start(wf, {})
        const events = yield* Effect.forkChild(Stream.runCollect(handle.events))
        yield* runVirtual(Effect.sleep("1 second"))
        yield* handle.cancel
        const result = yield* Effect.exit(handle.result)
        const cancelled = errorOf(result)
        assert.strictEqual(cancelled._tag, "WorkflowCancelledError")
        assert.include(cancelled.message, `Workflow "cancellable" run ${handle.runId} was cancelled by cancel()`)
        assert.strictEqual(interrupted, 2)
        const streamed = yield* Fiber.join(events)
        assert.deepStrictEqual(streamed, [])
      })
    )
  )

  it.effect("closing the caller's scope interrupts the run", () =>
    Effect.gen(function* () {
      let interrupted = false
      const wf = defineWorkflow({ name: "scoped" }).step(StartEvent, () =>
        Effect.never.pipe(Effect.onInterrupt(() => Effect.sync(() => (interrupted = true))))
      )
      yield* Effect.scoped(Effect.andThen(Workflow.start(wf, {}), Effect.yieldNow))
      assert.isTrue(interrupted)
    })
  )

  it.effect("send injects an event from outside, routed to the steps that accept it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "ask" })
          .step(StartEvent, () => Effect.succeed(new InputRequiredEvent({ prefix: "Approve? " })))
          .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: `answer: ${ev.response}` })))
        const handle = yield* Workflow.start(wf, {})
        const program = handle.events.pipe(
          Stream.runForEach((ev) =>
            ev._tag === "InputRequiredEvent" ? handle.send(new HumanResponseEvent({ response: "yes" })) : Effect.void
          ),
          Effect.andThen(handle.result)
        )
        const { exit } = yield* runVirtual(program)
        assert.deepStrictEqual(exit, Exit.succeed("answer: yes"))
      })
    )
  )

  it.effect("a run only waiting for outside input is not stalled; Workflow.run of it is", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "ask" })
        .step(StartEvent, () => Effect.succeed(new InputRequiredEvent({ prefix: "Name? " })))
        .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.response })))
      const viaRun = yield* runVirtual(Workflow.run(wf, {}))
      assert.isTrue(Exit.isFailure(viaRun.exit))
      const stall = Cause.squash((viaRun.exit as Exit.Failure<any, any>).cause)
      assert.instanceOf(stall, WorkflowStalledError)
      assert.strictEqual((stall as WorkflowStalledError).awaitingInput, 1)
      assert.include((stall as WorkflowStalledError).message, "Workflow.start")
      const answered = yield* Effect.scoped(
        Effect.gen(function* () {
          const handle = yield* Workflow.start(wf, {})
          // an hour of virtual time passes: still waiting, not stalled
          const waited = yield* runVirtual(handle.result, { maxTime: "1 hour", tick: "1 minute" })
          assert.isTrue(Exit.isFailure(waited.exit) && Cause.hasInterruptsOnly(waited.exit.cause))
          yield* handle.send(new HumanResponseEvent({ response: "Ada" }))
          return yield* handle.result
        })
      )
      assert.strictEqual(answered, "Ada")
    })
  )

  it.effect("waiting: true only while outside input alone can move the run, whatever class a waitFor request is", () =>
    Effect.scoped(
      Effect.gen(function* () {
        class Question extends Schema.TaggedClass<Question>()("Question", { text: Schema.String }) {}
        class Answer extends Schema.TaggedClass<Answer>()("Answer", { text: Schema.String }) {}
        const wf = defineWorkflow({ name: "ask-while-working", initialState: { done: 0 } })
          .step(StartEvent, (_, ctx) =>
            Effect.gen(function* () {
              yield* ctx.send(new Work({ id: 1 }))
              const answer = yield* ctx.waitFor(Answer, { request: new Question({ text: "Colour?" }) })
              const done = yield* ctx.store.get("done")
              return new StopEvent({ result: `${answer.text} after ${done}` })
            })
          )
          .step(Work, (ev, ctx) =>
            Effect.gen(function* () {
              yield* Effect.sleep("1 minute")
              yield* ctx.store.set("done", ev.id)
            })
          )
        const handle = yield* Workflow.start(wf, {})
        yield* Effect.yieldNow
        // the wait is open, but another step is still working: running, not waiting
        assert.isFalse(yield* handle.waiting)
        yield* TestClock.adjust("2 minutes")
        assert.isTrue(yield* handle.waiting)
        yield* handle.send(new Answer({ text: "blue" }))
        assert.isFalse(yield* handle.waiting)
        assert.strictEqual(yield* handle.result, "blue after 1")
        assert.isFalse(yield* handle.waiting)
      })
    )
  )

  it.effect("waiting: true while an InputRequiredEvent awaits its answer", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "ask" })
          .step(StartEvent, () => Effect.succeed(new InputRequiredEvent({ prefix: "Name? " })))
          .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.response })))
        const handle = yield* Workflow.start(wf, {})
        yield* Effect.yieldNow
        assert.isTrue(yield* handle.waiting)
        yield* handle.send(new HumanResponseEvent({ response: "Ada" }))
        assert.strictEqual(yield* handle.result, "Ada")
        assert.isFalse(yield* handle.waiting)
      })
    )
  )

  it.effect("send after the run ended fails with a clear error", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Workflow.start(writer, {})
        yield* runVirtual(handle.result)
        const exit = yield* Effect.exit(handle.send(new HumanResponseEvent({ response: "late" })))
        assert.isTrue(Exit.isFailure(exit))
        assert.include(String(Cause.squash((exit as Exit.Failure<any, any>).cause)), "already ended")
      })
    )
  )
})

describe("Workflow.startPromise", () => {
  it("iterates events with for await, sends, and awaits the result", async () => {
    const wf = defineWorkflow({ name: "ask" })
      .step(StartEvent, () => Effect.succeed(new InputRequiredEvent({ prefix: "Name? " })))
      .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: `Hi ${ev.response}` })))
    const handle = await Workflow.startPromise(wf, {})
    const seen: Array<string> = []
    for await (const ev of handle.events) {
      seen.push(ev._tag)
      if (ev._tag === "InputRequiredEvent") await handle.send(new HumanResponseEvent({ response: "Ada" }))
    }
    assert.deepStrictEqual(seen, ["InputRequiredEvent", "StopEvent"])
    assert.strictEqual(await handle.result, "Hi Ada")
  })

  it("cancel rejects the result with a WorkflowCancelledError", async () => {
    const wf = defineWorkflow({ name: "forever" }).step(StartEvent, () => Effect.never)
    const handle = await Workflow.startPromise(wf, {})
    await handle.cancel()
    const error = await handle.result.then(
      () => undefined,
      (e: unknown) => e
    )
    assert.instanceOf(error, WorkflowCancelledError)
    assert.strictEqual((error as WorkflowCancelledError)._tag, "WorkflowCancelledError")
  })

  it("rejects with the original error instance", async () => {
    const boom = new Boom({ reason: "promise" })
    const wf = defineWorkflow({ name: "boom" }).step(StartEvent, () => Effect.fail(boom))
    const handle = await Workflow.startPromise(wf, {})
    const error = await handle.result.then(
      () => undefined,
      (e: unknown) => e
    )
    assert.strictEqual(error, boom)
  })

  it("a run whose handler interrupts itself rejects as Workflow.runPromise does, not as a cancel", async () => {
    const rejection = (promise: Promise<unknown>) =>
      promise.then(
        () => undefined,
        (e: unknown) => e
      )
    const shapes = {
      "an arrow returning Effect.interrupt": defineWorkflow({ name: "self" }).step(StartEvent, () => Effect.interrupt),
      "a function* yielding Effect.interrupt": defineWorkflow({ name: "self" }).step(StartEvent, function* () {
        yield* Effect.interrupt
        return new StopEvent({ result: 1 })
      })
    }
    for (const [shape, wf] of Object.entries(shapes)) {
      const expected = await rejection(Workflow.runPromise(wf, {}))
      assert.instanceOf(expected, Error, `${shape}: runPromise`)
      const handle = await Workflow.startPromise(wf, {})
      const error = await rejection(handle.result)
      // Before, it rejected with WorkflowCancelledError { by: "cancel()" }, though nothing called cancel().
      assert.notInstanceOf(error, WorkflowCancelledError, shape)
      assert.strictEqual((error as Error).constructor, (expected as Error).constructor, shape)
      assert.strictEqual((error as Error).message, (expected as Error).message, shape)
      // The events end quietly, as the PromiseHandle contract says: the error comes from `result`.
      const seen: Array<string> = []
      for await (const ev of handle.events) seen.push(ev._tag)
      assert.deepStrictEqual(seen, [], shape)
    }
  })
})

describe("ctx.waitFor (human in the loop)", () => {
  class Approval extends Schema.TaggedClass<Approval>()("Approval", { id: Schema.String, ok: Schema.Boolean }) {}

  it.effect("suspends only that invocation; side effects before the wait run once; other steps go on", () =>
    Effect.scoped(
      Effect.gen(function* () {
        let sideEffects = 0
        const wf = defineWorkflow({ name: "approve" })
          .step(StartEvent, (_, ctx) => Effect.andThen(ctx.send(new Work({ id: 1 })), ctx.send(new Work({ id: 2 }))))
          .step(
            Work,
            (ev, ctx) =>
              Effect.gen(function* () {
                if (ev.id === 2) {
                  yield* Effect.sleep("1 second")
                  return new Done({ id: 2, ok: true })
                }
                sideEffects++
                const answer = yield* ctx.waitFor(Approval, {
                  request: new InputRequiredEvent({ prefix: "approve 1?", id: "a1" }),
                  id: "a1"
                })
                return new Done({ id: 1, ok: answer.ok })
              }),
            { workers: 2 }
          )
          .step(Done, (ev, ctx) =>
            Effect.map(ctx.collect(ev, 2), (o) =>
              Option.isSome(o) ? new StopEvent({ result: o.value.map((d) => `${d.id}:${d.ok}`) }) : undefined
            )
          )
        const handle = yield* Workflow.start(wf, {})
        const program = handle.events.pipe(
          Stream.runForEach((ev) =>
            ev._tag === "InputRequiredEvent"
              ? Effect.andThen(Effect.sleep("5 seconds"), handle.send(new Approval({ id: "a1", ok: true })))
              : Effect.void
          ),
          Effect.andThen(handle.result)
        )
        const { exit, elapsed } = yield* runVirtual(program)
        // Work 2 finished at 1 s while Work 1 waited; the answer came at 5 s
        assert.deepStrictEqual(exit, Exit.succeed(["2:true", "1:true"]))
        assert.strictEqual(Duration.toMillis(elapsed), 5000)
        assert.strictEqual(sideEffects, 1)
      })
    )
  )

  it.effect("several waits at once are told apart by id and by match", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "many" })
          .step(StartEvent, (_, ctx) =>
            Effect.forEach([1, 2, 3], (id) => ctx.send(new Work({ id })), { discard: true })
          )
          .step(
            Work,
            (ev, ctx) =>
              Effect.map(
                ev.id === 3
                  ? ctx.waitFor(Approval, { match: (a) => a.id.startsWith("third") })
                  : ctx.waitFor(Approval, { id: `w${ev.id}` }),
                (a) => new Done({ id: ev.id, ok: a.ok })
              ),
            { workers: 3 }
          )
          .step(Done, (ev, ctx) =>
            Effect.map(ctx.collect(ev, 3), (o) =>
              Option.isSome(o)
                ? new StopEvent({ result: [...o.value].sort((a, b) => a.id - b.id).map((d) => d.ok) })
                : undefined
            )
          )
        const handle = yield* Workflow.start(wf, {})
        const program = Effect.gen(function* () {
          yield* Effect.sleep("1 second")
          yield* handle.send(new Approval({ id: "third-x", ok: true }))
          yield* handle.send(new Approval({ id: "w2", ok: false }))
          yield* handle.send(new Approval({ id: "w1", ok: true }))
          return yield* handle.result
        })
        const { exit } = yield* runVirtual(program)
        assert.deepStrictEqual(exit, Exit.succeed([true, false, true]))
      })
    )
  )

  it.effect("a wait with a timeout fails that invocation with StepTimeoutError", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "impatient" }).step(StartEvent, (_, ctx) =>
          Effect.as(ctx.waitFor(Approval, { timeout: "30 seconds" }), new StopEvent({ result: "answered" }))
        )
        const handle = yield* Workflow.start(wf, {})
        const { exit, elapsed } = yield* runVirtual(handle.result)
        assert.isTrue(Exit.isFailure(exit))
        const error = Cause.squash((exit as Exit.Failure<any, any>).cause)
        assert.instanceOf(error, StepTimeoutError)
        assert.strictEqual((error as StepTimeoutError)._tag, "StepTimeoutError")
        assert.strictEqual(Duration.toMillis(elapsed), 30000)
      })
    )
  )

  it.effect("in Workflow.run, a wait nothing can answer is a stall that names the step", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "lonely" }).step(
        StartEvent,
        (_, ctx) => Effect.as(ctx.waitFor(Approval), new StopEvent({ result: 1 })),
        { name: "asker" }
      )
      const { exit, elapsed } = yield* runVirtual(Workflow.run(wf, {}))
      const error = Cause.squash((exit as Exit.Failure<any, any>).cause) as WorkflowStalledError
      assert.instanceOf(error, WorkflowStalledError)
      assert.deepStrictEqual(
        error.waiting.map((w) => [w.step, w.event]),
        [["asker", "Approval"]]
      )
      assert.strictEqual(Duration.toMillis(elapsed), 0)
    })
  )

  it.effect("in Workflow.run, a wait with a timeout is not a stall: it times out, and the handler may go on", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "patient" }).step(StartEvent, (_, ctx) =>
        ctx.waitFor(Approval, { timeout: "100 millis" }).pipe(
          Effect.map((a) => new StopEvent({ result: a.id })),
          Effect.catchTag("StepTimeoutError", () => Effect.succeed(new StopEvent({ result: "fallback" })))
        )
      )
      const { exit, elapsed } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed("fallback"))
      assert.strictEqual(Duration.toMillis(elapsed), 100)
    })
  )

  it.effect(
    "an event a step sends while a wait is open answers the wait alone: steps that accept it do not get it too",
    () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const wf = defineWorkflow({ name: "broadcast-and-wait" })
          .step(StartEvent, (_, ctx) =>
            Effect.gen(function* () {
              const answer = yield* ctx.waitFor(Approval, { request: new Work({ id: 1 }) })
              yield* Effect.sleep("1 second")
              return new StopEvent({ result: { answer: answer.id, seen: [...seen] } })
            })
          )
          .step(Work, (ev, ctx) => ctx.send(new Approval({ id: `a${ev.id}`, ok: true })), { name: "approver" })
          .step(
            Approval,
            (ev) =>
              Effect.sync(() => {
                seen.push(ev.id)
              }),
            { name: "listener" }
          )
        const { exit } = yield* runVirtual(Workflow.run(wf, {}))
        assert.deepStrictEqual(exit, Exit.succeed({ answer: "a1", seen: [] }))
      })
  )

  it.effect("a wait's request is published to the stream, and routed to the steps that accept it", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "request-published" })
        .step(StartEvent, (_, ctx) =>
          Effect.map(ctx.waitFor(Approval, { request: new Work({ id: 3 }) }), (a) => new StopEvent({ result: a.id }))
        )
        .step(Work, (ev, ctx) => ctx.send(new Approval({ id: `w${ev.id}`, ok: true })))
      const { exit } = yield* runVirtual(Stream.runCollect(Workflow.stream(wf, {})))
      const events = successOf(exit)
      assert.deepStrictEqual(
        events.map((e) => e._tag),
        ["Work", "StopEvent"]
      )
      assert.strictEqual((events.at(-1) as StopEvent<string>).result, "w3")
    })
  )

  it.effect("an event sent by another step answers a wait", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "internal" })
        .step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            yield* ctx.send(new Work({ id: 7 }))
            const answer = yield* ctx.waitFor(Approval)
            return new StopEvent({ result: answer.id })
          })
        )
        .step(Work, (ev) =>
          Effect.succeed(new Approval({ id: `from-${ev.id}`, ok: true })).pipe(Effect.delay("1 second"))
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed("from-7"))
    })
  )
})

describe("ctx.waitFor answered by another step, under every interleaving", () => {
  class Go extends Schema.TaggedClass<Go>()("Go", {}) {}
  class Answer extends Schema.TaggedClass<Answer>()("Answer", { v: Schema.Number }) {}
  const answering = (send: "send-then-wait" | "request") =>
    defineWorkflow({ name: send })
      .step(StartEvent, (_, ctx) =>
        Effect.gen(function* () {
          if (send === "send-then-wait") yield* ctx.send(new Go())
          const answer = yield* ctx.waitFor(Answer, send === "request" ? { request: new Go() } : undefined)
          return new StopEvent({ result: answer.v })
        })
      )
      .step(Go, (_, ctx) => ctx.send(new Answer({ v: 7 })))

  it("sending the trigger first races with the wait; explore finds an order where the answer comes too early", () => {
    const found = fc.check(
      fc.property(interleavings(), (choices) => Exit.isSuccess(explore(answering("send-then-wait"), {}, choices).exit)),
      { numRuns: 300, seed: 1 }
    )
    assert.isTrue(found.failed)
  })

  it("passing the trigger as the wait's request is race-free: it is routed once the wait is open", () => {
    fc.assert(
      fc.property(interleavings(), (choices) => {
        assert.deepStrictEqual(explore(answering("request"), {}, choices).exit, Exit.succeed(7))
      }),
      { numRuns: 300, seed: 1 }
    )
  })
})

describe("retries and step timeouts", () => {
  it.effect("retries the same event on the schedule; ctx.attempt counts", () =>
    Effect.gen(function* () {
      const attempts: Array<[number, number]> = []
      const wf = defineWorkflow({ name: "flaky" })
        .step(StartEvent, (_, ctx) => ctx.send(new Work({ id: 1 })))
        .step(
          Work,
          (ev, ctx) =>
            Effect.gen(function* () {
              attempts.push([ev.id, ctx.attempt])
              if (ctx.attempt < 3) return yield* new Boom({ reason: `attempt ${ctx.attempt}` })
              return new StopEvent({ result: ctx.attempt })
            }),
          { retry: Schedule.spaced("1 second") }
        )
      const { exit, elapsed } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed(3))
      assert.deepStrictEqual(attempts, [
        [1, 1],
        [1, 2],
        [1, 3]
      ])
      assert.strictEqual(Duration.toMillis(elapsed), 2000)
    })
  )

  it.effect("after the last attempt the error ends the run", () =>
    Effect.gen(function* () {
      let calls = 0
      const wf = defineWorkflow({ name: "hopeless" }).step(
        StartEvent,
        () => Effect.suspend(() => Effect.fail(new Boom({ reason: `call ${++calls}` }))),
        { retry: Schedule.recurs(2) }
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(Cause.squash((exit as Exit.Failure<any, any>).cause), new Boom({ reason: "call 3" }))
      assert.strictEqual(calls, 3)
    })
  )

  it.effect("the worker slot is free during the backoff", () =>
    Effect.gen(function* () {
      const order: Array<string> = []
      const wf = defineWorkflow({ name: "free slot" })
        .step(StartEvent, (_, ctx) => Effect.andThen(ctx.send(new Work({ id: 1 })), ctx.send(new Work({ id: 2 }))))
        .step(
          Work,
          (ev, ctx) =>
            Effect.gen(function* () {
              order.push(`${ev.id}#${ctx.attempt}`)
              if (ev.id === 1 && ctx.attempt === 1) return yield* new Boom({ reason: "first" })
              return new Done({ id: ev.id, ok: true })
            }),
          { workers: 1, retry: Schedule.spaced("10 seconds") }
        )
        .step(Done, (ev, ctx) =>
          Effect.map(ctx.collect(ev, 2), (o) =>
            Option.isSome(o) ? new StopEvent({ result: o.value.map((d) => d.id) }) : undefined
          )
        )
      const { exit, elapsed } = yield* runVirtual(Workflow.run(wf, {}))
      // event 2 ran in the only slot while event 1 backed off
      assert.deepStrictEqual(order, ["1#1", "2#1", "1#2"])
      assert.deepStrictEqual(exit, Exit.succeed([2, 1]))
      assert.strictEqual(Duration.toMillis(elapsed), 10000)
    })
  )

  it.effect("a step timeout fails one invocation with StepTimeoutError, which the schedule retries", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "slow step" }).step(
        StartEvent,
        (_, ctx) =>
          Effect.succeed(new StopEvent({ result: ctx.attempt })).pipe(
            Effect.delay(ctx.attempt === 1 ? "1 minute" : "1 second")
          ),
        { timeout: "5 seconds", retry: Schedule.recurs(1) }
      )
      const { exit, elapsed } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed(2))
      assert.strictEqual(Duration.toMillis(elapsed), 6000)
      const noRetry = defineWorkflow({ name: "slow step" }).step(StartEvent, () => Effect.never, {
        name: "sleeper",
        timeout: "5 seconds"
      })
      const failed = yield* runVirtual(Workflow.run(noRetry, {}))
      const error = Cause.squash((failed.exit as Exit.Failure<any, any>).cause)
      assert.instanceOf(error, StepTimeoutError)
      assert.strictEqual((error as StepTimeoutError)._tag, "StepTimeoutError")
      assert.include((error as StepTimeoutError).message, '"sleeper"')
      assert.include((error as StepTimeoutError).message, "StartEvent")
    })
  )

  it.effect("defects are not retried", () =>
    Effect.gen(function* () {
      let calls = 0
      const wf = defineWorkflow({ name: "defect" }).step(
        StartEvent,
        () =>
          Effect.sync(() => {
            calls++
            throw new Error("bug")
          }),
        { retry: Schedule.recurs(5) }
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      assert.strictEqual(calls, 1)
    })
  )

  it.effect("a step accepting StepFailedEvent recovers; the failure goes to the stream", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "recovering" })
        .step(StartEvent, (_, ctx) => Effect.forEach([1, 2, 3], (id) => ctx.send(new Work({ id })), { discard: true }))
        .step(
          Work,
          (ev) =>
            ev.id === 2 ? Effect.fail(new Boom({ reason: "two" })) : Effect.succeed(new Done({ id: ev.id, ok: true })),
          { name: "work", workers: 3, retry: Schedule.recurs(1) }
        )
        .step(
          RunEvent.StepFailedEvent,
          (failed) => Effect.succeed(new Done({ id: (failed.event as Work).id, ok: false })),
          { name: "recover" }
        )
        .step(Done, (ev, ctx) =>
          Effect.map(ctx.collect(ev, 3), (o) =>
            Option.isSome(o)
              ? new StopEvent({ result: [...o.value].sort((a, b) => a.id - b.id).map((d) => d.ok) })
              : undefined
          )
        )
      const { exit } = yield* runVirtual(Stream.runCollect(Workflow.stream(wf, {}, { lifecycle: true })))
      assert.isTrue(Exit.isSuccess(exit))
      const events = Exit.isSuccess(exit) ? exit.value : []
      assert.deepStrictEqual((events.at(-1) as StopEvent<Array<boolean>>).result, [true, false, true])
      const failures = events.filter((e): e is RunEvent.StepFailed => e._tag === "StepFailed")
      assert.deepStrictEqual(
        failures.map((f) => [f.step, f.attempt, f.willRetry]),
        [
          ["work", 1, true],
          ["work", 2, false]
        ]
      )
      assert.isTrue(events.some((e) => e._tag === "StepRetrying"))
    })
  )
})

describe("tracing", () => {
  it.effect("a span per run and per step invocation, with workflow, step, event, attempt and run id", () =>
    Effect.gen(function* () {
      const spans: Array<Tracer.Span> = []
      const tracer = Tracer.make({
        span: (options) => {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      const { exit } = yield* runVirtual(Workflow.run(parallel, { items: ["a", "b"] }).pipe(Effect.withTracer(tracer)))
      assert.isTrue(Exit.isSuccess(exit))
      const run = spans.find((s) => s.name === "effect-flow.run parallel")
      assert.isDefined(run)
      const runId = run!.attributes.get("workflow.run_id")
      assert.match(String(runId), /^parallel-/)
      const steps = spans.filter((s) => s.name.startsWith("effect-flow.step "))
      assert.deepStrictEqual(steps.map((s) => s.name).sort(), [
        "effect-flow.step collect_results",
        "effect-flow.step collect_results",
        "effect-flow.step dispatch",
        "effect-flow.step process_item",
        "effect-flow.step process_item"
      ])
      for (const s of steps) {
        assert.strictEqual(s.attributes.get("workflow.name"), "parallel")
        assert.strictEqual(s.attributes.get("workflow.run_id"), runId)
        assert.strictEqual(s.attributes.get("workflow.attempt"), 1)
        assert.isTrue(
          Option.isSome(s.parent) && s.parent.value.spanId === run!.spanId,
          "step spans are children of the run span"
        )
      }
      assert.deepStrictEqual(
        steps
          .filter((s) => s.attributes.get("workflow.step") === "process_item")
          .map((s) => s.attributes.get("workflow.event")),
        [ItemEvent.identifier, ItemEvent.identifier]
      )
      assert.strictEqual(
        steps.find((s) => s.attributes.get("workflow.step") === "collect_results")?.attributes.get("workflow.event"),
        ProcessedEvent.identifier
      )
    })
  )

  it.effect("run and step spans exist only when a tracing backend is installed (nothing else would see them)", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const wf = defineWorkflow({ name: "spans" }).step(
        StartEvent,
        () =>
          Effect.map(Effect.option(Effect.currentSpan), (span) => {
            const name = span._tag === "Some" ? span.value.name : "(no span)"
            seen.push(name)
            return new StopEvent({ result: name })
          }),
        { name: "look" }
      )
      yield* runVirtual(Workflow.run(wf, {}))
      const tracer = Tracer.make({ span: (options) => new Tracer.NativeSpan(options) })
      yield* runVirtual(Workflow.run(wf, {}).pipe(Effect.withTracer(tracer)))
      assert.deepStrictEqual(seen, ["(no span)", "effect-flow.step look"])
    })
  )
})
