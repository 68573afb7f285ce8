/**
 * A started run that waits for outside input holds only what its wait needs (issue 15, memory per waiting
 * run): no fiber of its own (`launch`), its events in a plain buffer (`EventFeed`), no worker slots of idle
 * steps. What it lets go of must come back as it was: these tests check the behaviour around each.
 */
import { assert, describe, it } from "@effect/vitest"
import {
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  StartEvent,
  StopEvent,
  Workflow,
  WorkflowCancelledError
} from "@effect-flow/core"
import { Cause, Effect, Exit, Option, Schema, Stream, Tracer } from "effect"
import { TestClock } from "effect/testing"

class Again extends Schema.TaggedClass<Again>()("Again", { round: Schema.Number }) {}
class Note extends Schema.TaggedClass<Note>()("Note", { text: Schema.String }) {}

/** `ask` runs on the start and on each `Again`, asking each time; `answer` takes each answer. */
const rounds = defineWorkflow({ name: "rounds" })
  .step(
    StartEvent,
    (_, ctx) => Effect.as(ctx.write(new Note({ text: ctx.invocationId })), new InputRequiredEvent({ prefix: "1?" })),
    { name: "ask", writes: [Note] }
  )
  .step(
    Again,
    (_, ctx) => Effect.as(ctx.write(new Note({ text: ctx.invocationId })), new InputRequiredEvent({ prefix: "2?" })),
    { name: "askAgain", writes: [Note] }
  )
  .step(
    HumanResponseEvent,
    (ev, ctx) =>
      Effect.as(
        ctx.write(new Note({ text: ctx.invocationId })),
        ev.response === "again" ? new Again({ round: 2 }) : new StopEvent({ result: ev.response })
      ),
    { name: "answer", emits: [Again, StopEvent], writes: [Note] }
  )

const notes = (events: ReadonlyArray<{ readonly _tag: string }>) =>
  events.filter((e): e is Note => e._tag === "Note").map((n) => n.text.split("/").slice(1).join("/"))

describe("a started run waiting for outside input", () => {
  it.effect("a step that ran before the wait numbers its next invocations on from where it was", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Workflow.start(rounds, {})
        // The first request: the run now waits, and its idle steps have let go of their worker slots.
        const first = yield* Stream.runHead(Stream.filter(handle.events, (e) => e._tag === "InputRequiredEvent"))
        assert.isTrue(Option.isSome(first))
        assert.isTrue(yield* handle.waiting)
        yield* handle.send(new HumanResponseEvent({ response: "again" }))
        const second = yield* Stream.runHead(Stream.filter(handle.events, (e) => e._tag === "InputRequiredEvent"))
        assert.isTrue(Option.isSome(second))
        yield* handle.send(new HumanResponseEvent({ response: "done" }))
        assert.strictEqual(yield* handle.result, "done")
        const rest = yield* Stream.runCollect(handle.events)
        // Every Note was read by one of the three readers; the last reader gets what the first two left.
        assert.includeMembers(notes(rest), ["answer/2"])
        assert.strictEqual(rest.at(-1)?._tag, "StopEvent")
      })
    )
  )

  it.effect("events read in several goes: each event once, in order, then the end", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Workflow.start(rounds, {})
        const seen: Array<string> = []
        const first = yield* Stream.runCollect(Stream.take(handle.events, 2))
        seen.push(...first.map((e) => e._tag))
        yield* handle.send(new HumanResponseEvent({ response: "again" }))
        const next = yield* Stream.runCollect(Stream.take(handle.events, 3))
        seen.push(...next.map((e) => e._tag))
        yield* handle.send(new HumanResponseEvent({ response: "done" }))
        const rest = yield* Stream.runCollect(handle.events)
        seen.push(...rest.map((e) => e._tag))
        assert.deepStrictEqual(seen, [
          "Note",
          "InputRequiredEvent",
          "Note",
          "Note",
          "InputRequiredEvent",
          "Note",
          "StopEvent"
        ])
        // Ended: a later reader gets the end at once.
        assert.deepStrictEqual(yield* Stream.runCollect(handle.events), [])
      })
    )
  )

  it.effect("invocation ids go on across the wait (ask/1, answer/1, askAgain/1, answer/2)", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Workflow.start(rounds, {})
        const all: Array<{ readonly _tag: string }> = []
        const readUntilAsked = Stream.runForEachWhile(handle.events, (e) =>
          Effect.sync(() => {
            all.push(e)
            return e._tag !== "InputRequiredEvent"
          })
        )
        yield* readUntilAsked
        yield* handle.send(new HumanResponseEvent({ response: "again" }))
        yield* readUntilAsked
        yield* handle.send(new HumanResponseEvent({ response: "again" }))
        yield* readUntilAsked
        yield* handle.send(new HumanResponseEvent({ response: "done" }))
        all.push(...(yield* Stream.runCollect(handle.events)))
        assert.deepStrictEqual(notes(all), ["ask/1", "answer/1", "askAgain/1", "answer/2", "askAgain/2", "answer/3"])
      })
    )
  )

  it.effect("cancel while it waits: result fails with WorkflowCancelledError, the events end, send is refused", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Workflow.start(rounds, {})
        yield* Stream.runHead(Stream.filter(handle.events, (e) => e._tag === "InputRequiredEvent"))
        yield* handle.cancel
        const exit = yield* Effect.exit(handle.result)
        assert.isTrue(Exit.isFailure(exit))
        assert.instanceOf(Cause.squash((exit as Exit.Failure<any, any>).cause), WorkflowCancelledError)
        assert.deepStrictEqual(yield* Stream.runCollect(handle.events), [])
        assert.isFalse(yield* handle.waiting)
        const refused = yield* Effect.exit(handle.send(new HumanResponseEvent({ response: "late" })))
        assert.isTrue(Exit.isFailure(refused))
        assert.strictEqual((Cause.squash((refused as Exit.Failure<any, any>).cause) as any)._tag, "UnhandledEventError")
      })
    )
  )

  it.effect("with a tracer, a started run has its run span, ended with the run, parent of its step spans", () =>
    Effect.gen(function* () {
      const spans: Array<Tracer.Span> = []
      const tracer = Tracer.make({
        span: (options) => {
          const span = new Tracer.NativeSpan(options)
          spans.push(span)
          return span
        }
      })
      const result = yield* Effect.scoped(
        Effect.gen(function* () {
          const handle = yield* Workflow.start(rounds, {})
          yield* Stream.runHead(Stream.filter(handle.events, (e) => e._tag === "InputRequiredEvent"))
          const run = spans.find((s) => s.name === "effect-flow.run rounds")
          assert.isDefined(run)
          assert.strictEqual(run!.status._tag, "Started")
          yield* handle.send(new HumanResponseEvent({ response: "done" }))
          return yield* handle.result
        })
      ).pipe(Effect.withTracer(tracer))
      assert.strictEqual(result, "done")
      const run = spans.find((s) => s.name === "effect-flow.run rounds")!
      assert.strictEqual(run.status._tag, "Ended")
      assert.match(String(run.attributes.get("workflow.run_id")), /^rounds-/)
      const steps = spans.filter((s) => s.name.startsWith("effect-flow.step "))
      assert.deepStrictEqual(steps.map((s) => s.name).sort(), ["effect-flow.step answer", "effect-flow.step ask"])
      for (const s of steps) assert.isTrue(Option.isSome(s.parent) && s.parent.value.spanId === run.spanId)
    })
  )

  it.effect(
    "a run waiting in ctx.waitFor keeps one fiber, its waiting invocation's; cancel interrupts it (its finalizer runs) and none is left",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          let finalized = 0
          const asking = defineWorkflow({ name: "asking" }).step(
            StartEvent,
            (_, ctx) =>
              Effect.ensuring(
                Effect.map(
                  ctx.waitFor(HumanResponseEvent, { request: new InputRequiredEvent({ prefix: "?" }) }),
                  (answer) => new StopEvent({ result: answer.response })
                ),
                Effect.sync(() => finalized++)
              ),
            { name: "ask", emits: [StopEvent] }
          )
          const handle = yield* Workflow.start(asking, {})
          yield* Stream.runHead(handle.events)
          assert.deepStrictEqual(liveFibers(handle), 1)
          yield* handle.cancel
          assert.strictEqual(finalized, 1)
          assert.deepStrictEqual(liveFibers(handle), 0)
          // Answered instead, the run ends and its fiber leaves the list as it ends.
          const answered = yield* Workflow.start(asking, {})
          yield* Stream.runHead(answered.events)
          yield* answered.send(new HumanResponseEvent({ response: "yes" }))
          assert.strictEqual(yield* answered.result, "yes")
          assert.strictEqual(finalized, 2)
          assert.deepStrictEqual(liveFibers(answered), 0)
        })
      )
  )

  it.effect(
    "a wait that times out, is answered, or is interrupted lets go of its worker each time (it waits for nothing after)",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const timed = defineWorkflow({ name: "timed" }).step(
            StartEvent,
            (_, ctx) =>
              Effect.map(
                ctx.waitFor(HumanResponseEvent, {
                  request: new InputRequiredEvent({ prefix: "?" }),
                  timeout: "1 second"
                }),
                (answer) => new StopEvent({ result: answer.response })
              ).pipe(Effect.catchTag("StepTimeoutError", () => Effect.succeed(new StopEvent({ result: "timed out" })))),
            { name: "ask", emits: [StopEvent] }
          )
          const released = (handle: unknown) => {
            const run = (handle as any).launched.run
            assert.strictEqual(run.waiters.length, 0)
            for (const ctx of run.steps[0].contexts) assert.strictEqual(ctx.eventWaits, 0)
          }
          const late = yield* Workflow.start(timed, {})
          yield* Stream.runHead(late.events)
          yield* TestClock.adjust("2 seconds")
          assert.strictEqual(yield* late.result, "timed out")
          released(late)
          const answered = yield* Workflow.start(timed, {})
          yield* Stream.runHead(answered.events)
          yield* answered.send(new HumanResponseEvent({ response: "yes" }))
          assert.strictEqual(yield* answered.result, "yes")
          released(answered)
          const cancelled = yield* Workflow.start(timed, {})
          yield* Stream.runHead(cancelled.events)
          const slot = (cancelled as any).launched.run.steps[0].contexts[0]
          assert.strictEqual(slot.eventWaits, 1)
          yield* cancelled.cancel
          assert.strictEqual(slot.eventWaits, 0)
          assert.strictEqual((cancelled as any).launched.run.waiters.length, 0)
        })
      )
  )

  it.effect("the answer to a waitFor does not answer an InputRequiredEvent still open: the run waits for it", () =>
    Effect.scoped(
      Effect.gen(function* () {
        class Go extends Schema.TaggedClass<Go>()("Go", {}) {}
        class Approval extends Schema.TaggedClass<Approval>()("Approval", { id: Schema.String }) {}
        // `start` asks the caller and starts `approve`, which waits for an Approval: two questions open at once.
        const both = defineWorkflow({ name: "both", outsideInput: [Approval] })
          .step(StartEvent, (_, ctx) => Effect.as(ctx.send(new Go()), new InputRequiredEvent({ prefix: "Name? " })), {
            name: "start",
            emits: [Go, InputRequiredEvent]
          })
          .step(Go, (_, ctx) => Effect.asVoid(ctx.waitFor(Approval, { id: "x" })), { name: "approve" })
          .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.response })), {
            name: "answer",
            emits: [StopEvent]
          })
        const handle = yield* Workflow.start(both, {})
        yield* Stream.runHead(Stream.filter(handle.events, (e) => e._tag === "InputRequiredEvent"))
        yield* handle.send(new Approval({ id: "x" }))
        for (let i = 0; i < 20; i++) yield* Effect.yieldNow
        assert.isTrue(yield* handle.waiting, "still waiting for the answer to its InputRequiredEvent")
        yield* handle.send(new HumanResponseEvent({ response: "bob" }))
        assert.strictEqual(yield* handle.result, "bob")
      })
    )
  )

  it.effect("a run waiting after its step returned an InputRequiredEvent keeps no fiber", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const handle = yield* Workflow.start(rounds, {})
        yield* Stream.runHead(Stream.filter(handle.events, (e) => e._tag === "InputRequiredEvent"))
        assert.isTrue(yield* handle.waiting)
        // The worker that returned the request yields once before it ends (it may still take an event).
        for (let i = 0; i < 5 && liveFibers(handle) > 0; i++) yield* Effect.yieldNow
        assert.deepStrictEqual(liveFibers(handle), 0)
      })
    )
  )

  it.effect(
    "a waiting run lets go of its store lock; the step that takes the answer gets a new one and the state as it was",
    () =>
      Effect.scoped(
        Effect.gen(function* () {
          const stored = defineWorkflow({
            name: "stored",
            state: Schema.Struct({ value: Schema.Number }),
            initialState: { value: 0 }
          })
            .step(
              StartEvent,
              (_, ctx) => Effect.as(ctx.store.set("value", 20), new InputRequiredEvent({ prefix: "?" })),
              {
                name: "ask"
              }
            )
            .step(
              HumanResponseEvent,
              (ev, ctx) =>
                Effect.gen(function* () {
                  yield* ctx.store.update("value", (v: number) => v + Number(ev.response))
                  return new StopEvent({ result: yield* ctx.store.get("value") })
                }),
              { name: "answer", emits: [StopEvent] }
            )
          const handle = yield* Workflow.start(stored, {})
          yield* Stream.runHead(handle.events)
          for (let i = 0; i < 5 && liveFibers(handle) > 0; i++) yield* Effect.yieldNow
          assert.isTrue(yield* handle.waiting)
          assert.isUndefined((handle as any).launched.run.lock_)
          yield* handle.send(new HumanResponseEvent({ response: "1" }))
          assert.strictEqual(yield* handle.result, 21)
        })
      )
  )
})

/** How many fibers the handle's run lists as live (internal: `Run.fibers`, see `fork` in workers.ts). */
const liveFibers = (handle: unknown): number => {
  let n = 0
  for (let node = (handle as any).launched.run.fibers; node !== undefined; node = node.next) n++
  return n
}
