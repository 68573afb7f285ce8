import { assert, describe, it } from "@effect/vitest"
import {
  Durable,
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  RunStore,
  StartEvent,
  StopEvent,
  Workflow,
  WorkflowCancelledError
} from "@effect-flow/core"
import { Cause, type Duration, Effect, Exit, Fiber, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"

class Approval extends Schema.TaggedClass<Approval>()("Approval", { id: Schema.String, ok: Schema.Boolean }) {}
class AskApproval extends Schema.TaggedClass<AskApproval>()("AskApproval", { id: Schema.String }) {}
class Undeclared extends Schema.TaggedClass<Undeclared>()("Undeclared", { x: Schema.Number }) {}

/** Waits in `ctx.waitFor` for the Approval with the run's id, after `delay`; counts its handler calls. */
const makeApprovals = (
  counts: { calls: number },
  delay: Duration.Input = "0 millis",
  timeout: Duration.Input | undefined = undefined,
  waitTimeout: Duration.Input | undefined = undefined
) =>
  defineWorkflow({
    name: "approvals",
    input: Schema.Struct({ id: Schema.String }),
    outsideInput: [Approval],
    timeout
  }).step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        counts.calls++
        yield* Effect.sleep(delay)
        const answer = yield* ctx.waitFor(Approval, {
          id: ev.id,
          request: new AskApproval({ id: ev.id }),
          ...(waitTimeout === undefined ? {} : { timeout: waitTimeout })
        })
        return new StopEvent({ result: answer.ok ? `approved ${ev.id}` : `rejected ${ev.id}` })
      }),
    { name: "ask", writes: [AskApproval], emits: [StopEvent] }
  )

/** Asks with an InputRequiredEvent (no step takes it: it goes to the caller), answered by a HumanResponseEvent. */
const human = defineWorkflow({ name: "human" })
  .step(StartEvent, () => Effect.succeed(new InputRequiredEvent({ prefix: "Approve? " })), {
    name: "ask",
    emits: [InputRequiredEvent]
  })
  .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: `said ${ev.response}` })), {
    name: "answer",
    emits: [StopEvent]
  })

/** Let the run's fibers and the journal writer (10 ms group commit) go on. */
const settle = Effect.gen(function* () {
  for (let t = 0; t < 5; t++) {
    for (let i = 0; i < 20; i++) yield* Effect.yieldNow
    yield* TestClock.adjust("10 millis")
  }
  for (let i = 0; i < 20; i++) yield* Effect.yieldNow
})

const statusOf = (runId: string) => Effect.map(Durable.status(runId), (s) => s.status)

describe("Durable.start and Durable.send", () => {
  it.effect("a handle: events show the request, the stored status is waiting, send answers, completed", () =>
    Effect.gen(function* () {
      const counts = { calls: 0 }
      const wf = makeApprovals(counts)
      const handle = yield* Durable.start(wf, { id: "a1" }, { runId: "s1" })
      assert.strictEqual(handle.runId, "s1")
      yield* settle
      assert.strictEqual(yield* statusOf("s1"), "waiting")
      yield* handle.send(new Approval({ id: "a1", ok: true }))
      assert.strictEqual(yield* handle.result, "approved a1")
      const events = yield* Stream.runCollect(handle.events)
      assert.deepStrictEqual(
        events.map((e) => e._tag),
        ["AskApproval", "StopEvent"]
      )
      yield* settle
      const status = yield* Durable.status("s1")
      assert.strictEqual(status.status, "completed")
      assert.strictEqual(JSON.parse(status.result!), "approved a1")
      assert.strictEqual(counts.calls, 1)
    }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "closing start's scope stops the run here: lease released, still waiting; Durable.send stores the answer in the inbox; Durable.resume reads it and finishes",
    () =>
      Effect.gen(function* () {
        const store = yield* RunStore.RunStore
        const counts = { calls: 0 }
        const wf = makeApprovals(counts)
        yield* Effect.scoped(Effect.andThen(Durable.start(wf, { id: "a2" }, { runId: "s2" }), settle))
        assert.strictEqual(yield* statusOf("s2"), "waiting")
        // the lease is free: another owner takes it at once
        const other = yield* store.acquire("s2", { owner: "someone-else", pid: 0, host: "elsewhere", ttl: "1 second" })
        yield* store.release(other)
        yield* Durable.send(wf, "s2", new Approval({ id: "a2", ok: false }))
        assert.strictEqual((yield* store.readInbox("s2")).length, 1)
        const fiber = yield* Effect.forkChild(Durable.resume(wf, "s2"), { startImmediately: true })
        yield* settle
        assert.deepStrictEqual(fiber.pollUnsafe(), Exit.succeed("rejected a2"))
        assert.strictEqual((yield* store.readInbox("s2")).length, 0)
        assert.strictEqual(yield* statusOf("s2"), "completed")
        // the waiting invocation ran again on resume, under its own invocationId
        assert.strictEqual(counts.calls, 2)
      }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "a run waiting for a HumanResponseEvent: not stalled under Durable.run, waiting; after a crash a resumed handle shows the InputRequiredEvent again and its send finishes the run",
    () =>
      Effect.gen(function* () {
        const crashed = yield* Effect.forkChild(Durable.run(human, {}, { runId: "h1" }), { startImmediately: true })
        yield* settle
        assert.isUndefined(crashed.pollUnsafe(), "a run waiting for outside input is not stalled")
        assert.strictEqual(yield* statusOf("h1"), "waiting")
        yield* Fiber.interrupt(crashed)
        const handle = yield* Durable.start(human, {}, { runId: "h1" })
        yield* settle
        yield* handle.send(new HumanResponseEvent({ response: "yes" }))
        assert.strictEqual(yield* handle.result, "said yes")
        const events = yield* Stream.runCollect(handle.events)
        assert.deepStrictEqual(
          events.map((e) => e._tag),
          ["InputRequiredEvent", "StopEvent"]
        )
      }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )

  it.effect("Durable.send to a run live in this process answers it at once; nothing goes to the inbox", () =>
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const wf = makeApprovals({ calls: 0 })
      const fiber = yield* Effect.forkChild(Durable.run(wf, { id: "a3" }, { runId: "s3" }), { startImmediately: true })
      yield* settle
      yield* Durable.send(wf, "s3", new Approval({ id: "a3", ok: true }))
      assert.strictEqual((yield* store.readInbox("s3")).length, 0)
      assert.strictEqual(yield* Fiber.join(fiber), "approved a3")
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("a live owner reads outside input stored by another process within a second", () =>
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const wf = makeApprovals({ calls: 0 })
      const fiber = yield* Effect.forkChild(Durable.run(wf, { id: "a9" }, { runId: "s9" }), { startImmediately: true })
      yield* settle
      // The same stored runs through another store value: as another process sees them, with no live run.
      const elsewhere = { ...store }
      yield* Effect.provideService(
        Durable.send(wf, "s9", new Approval({ id: "a9", ok: true })),
        RunStore.RunStore,
        elsewhere
      )
      assert.strictEqual((yield* store.readInbox("s9")).length, 1)
      for (let i = 0; i < 20; i++) yield* Effect.yieldNow
      assert.isUndefined(fiber.pollUnsafe(), "not delivered at once: it went to the inbox")
      yield* TestClock.adjust("1 second")
      yield* settle
      assert.deepStrictEqual(fiber.pollUnsafe(), Exit.succeed("approved a9"))
      assert.strictEqual((yield* store.readInbox("s9")).length, 0)
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("an answer sent before its wait opens waits in the inbox and is taken when the wait opens", () =>
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      const wf = makeApprovals({ calls: 0 }, "5 seconds")
      const fiber = yield* Effect.forkChild(Durable.run(wf, { id: "a4" }, { runId: "s4" }), { startImmediately: true })
      yield* settle
      assert.strictEqual(yield* statusOf("s4"), "running")
      // another run's answer and this one's: only the matching one is taken
      yield* Durable.send(wf, "s4", new Approval({ id: "other", ok: true }))
      yield* Durable.send(wf, "s4", new Approval({ id: "a4", ok: true }))
      assert.strictEqual((yield* store.readInbox("s4")).length, 2)
      yield* TestClock.adjust("5 seconds")
      yield* settle
      assert.deepStrictEqual(fiber.pollUnsafe(), Exit.succeed("approved a4"))
      const left = yield* store.readInbox("s4")
      assert.deepStrictEqual(
        left.map((m) => JSON.parse(m.data).id),
        ["other"]
      )
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("a run's timeout counts from its start across a resume: its deadline is where it was", () =>
    Effect.gen(function* () {
      const wf = makeApprovals({ calls: 0 }, "0 millis", "1 minute")
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Durable.start(wf, { id: "t1" }, { runId: "t1" })
          yield* settle
          yield* TestClock.adjust("40 seconds")
        })
      )
      assert.strictEqual(yield* statusOf("t1"), "waiting")
      const fiber = yield* Effect.forkChild(Durable.resume(wf, "t1"), { startImmediately: true })
      yield* settle
      yield* TestClock.adjust("25 seconds")
      yield* settle
      const exit = fiber.pollUnsafe()
      assert.isDefined(exit, "the run timed out 60 s after it started, not 60 s after its resume")
      assert.strictEqual((yield* Effect.flip(Fiber.join(fiber)))._tag, "WorkflowTimeoutError")
      assert.strictEqual(yield* statusOf("t1"), "failed")
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("a waitFor's timeout keeps its deadline across a resume", () =>
    Effect.gen(function* () {
      const wf = makeApprovals({ calls: 0 }, "0 millis", undefined, "1 minute")
      yield* Effect.scoped(
        Effect.gen(function* () {
          yield* Durable.start(wf, { id: "t2" }, { runId: "t2" })
          yield* settle
          yield* TestClock.adjust("40 seconds")
        })
      )
      const fiber = yield* Effect.forkChild(Durable.resume(wf, "t2"), { startImmediately: true })
      yield* settle
      yield* TestClock.adjust("25 seconds")
      yield* settle
      assert.isDefined(fiber.pollUnsafe(), "the wait timed out 60 s after it opened, not 60 s after the resume")
      const error = yield* Effect.flip(Fiber.join(fiber))
      assert.strictEqual(error._tag, "StepTimeoutError")
      assert.strictEqual(yield* statusOf("t2"), "failed")
    }).pipe(Effect.provide(RunStore.layerMemory))
  )

  it.effect("cancel ends the run as cancelled: result fails with WorkflowCancelledError, stored as such", () =>
    Effect.gen(function* () {
      const wf = makeApprovals({ calls: 0 })
      const handle = yield* Durable.start(wf, { id: "a5" }, { runId: "s5" })
      yield* settle
      yield* handle.cancel
      const error = yield* Effect.flip(handle.result)
      assert.instanceOf(error, WorkflowCancelledError)
      const status = yield* Durable.status("s5")
      assert.strictEqual(status.status, "cancelled")
      assert.strictEqual(JSON.parse(status.error!)._tag, "WorkflowCancelledError")
      // a finished run: its stored outcome, and send refuses
      const again = yield* Effect.flip(Durable.run(wf, { id: "a5" }, { runId: "s5" }))
      assert.strictEqual((again as { _tag: string })._tag, "WorkflowCancelledError")
      const late = yield* Effect.flip(Durable.send(wf, "s5", new Approval({ id: "a5", ok: true })))
      assert.strictEqual(late._tag, "UnhandledEventError")
      assert.include(late.message, "has already cancelled")
    }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )

  it.effect("an InputRequiredEvent answered before a crash is not asked again by the resumed run", () =>
    Effect.gen(function* () {
      class Said extends Schema.TaggedClass<Said>()("Said", { response: Schema.String }) {}
      const askThenWork = defineWorkflow({ name: "askThenWork" })
        .step(StartEvent, () => Effect.succeed(new InputRequiredEvent({ prefix: "Go? " })), {
          name: "ask",
          emits: [InputRequiredEvent]
        })
        .step(HumanResponseEvent, (ev) => Effect.succeed(new Said({ response: ev.response })), {
          name: "answer",
          emits: [Said]
        })
        .step(Said, (ev) => Effect.as(Effect.sleep("1 hour"), new StopEvent({ result: `did ${ev.response}` })), {
          name: "work",
          emits: [StopEvent]
        })
      // Asked and answered; the process goes away while `work` runs.
      yield* Effect.scoped(
        Effect.gen(function* () {
          const handle = yield* Durable.start(askThenWork, {}, { runId: "h2" })
          yield* settle
          yield* handle.send(new HumanResponseEvent({ response: "yes" }))
          yield* settle
        })
      )
      assert.strictEqual(yield* statusOf("h2"), "running")
      const resumed = yield* Durable.start(askThenWork, {}, { runId: "h2" })
      yield* settle
      yield* TestClock.adjust("1 hour")
      assert.strictEqual(yield* resumed.result, "did yes")
      const events = yield* Stream.runCollect(resumed.events)
      assert.deepStrictEqual(
        events.map((e) => e._tag),
        ["StopEvent"]
      )
    }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )

  it.effect(
    "an InputRequiredEvent still open after a waitFor's answer: the run waits, and a resume asks it again",
    () =>
      Effect.gen(function* () {
        class Go extends Schema.TaggedClass<Go>()("Go", {}) {}
        const both = defineWorkflow({ name: "both", outsideInput: [Approval] })
          .step(StartEvent, (_, ctx) => Effect.as(ctx.send(new Go()), new InputRequiredEvent({ prefix: "Name? " })), {
            name: "start",
            emits: [Go, InputRequiredEvent]
          })
          .step(
            Go,
            (_, ctx) => Effect.asVoid(ctx.waitFor(Approval, { id: "x", request: new AskApproval({ id: "x" }) })),
            {
              name: "approve",
              writes: [AskApproval]
            }
          )
          .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.response })), {
            name: "answer",
            emits: [StopEvent]
          })
        // The wait is answered; the process goes away while the InputRequiredEvent is still open.
        yield* Effect.scoped(
          Effect.gen(function* () {
            const handle = yield* Durable.start(both, {}, { runId: "both" })
            yield* settle
            yield* handle.send(new Approval({ id: "x", ok: true }))
            yield* settle
          })
        )
        assert.strictEqual(yield* statusOf("both"), "waiting")
        const resumed = yield* Durable.start(both, {}, { runId: "both" })
        yield* settle
        yield* resumed.send(new HumanResponseEvent({ response: "bob" }))
        assert.strictEqual(yield* resumed.result, "bob")
        const events = yield* Stream.runCollect(resumed.events)
        assert.deepStrictEqual(
          events.map((e) => e._tag),
          ["InputRequiredEvent", "StopEvent"]
        )
      }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )

  it.effect("Durable.send to a run of another workflow fails with WorkflowChangedError naming both", () =>
    Effect.gen(function* () {
      yield* Durable.start(makeApprovals({ calls: 0 }), { id: "a9" }, { runId: "s9" })
      const other = defineWorkflow({ name: "other", outsideInput: [Approval] }).step(StartEvent, () =>
        Effect.succeed(new StopEvent({ result: 0 }))
      )
      const changed = yield* Effect.flip(Durable.send(other, "s9", new Approval({ id: "a9", ok: true })))
      assert.strictEqual(changed._tag, "WorkflowChangedError")
      assert.include(changed.message, 'stored "approvals", given "other"')
      assert.strictEqual((yield* RunStore.RunStore.pipe(Effect.flatMap((s) => s.readInbox("s9")))).length, 0)
    }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )

  it.effect("Durable.send refuses an unknown run and an event class the workflow does not declare", () =>
    Effect.gen(function* () {
      const wf = makeApprovals({ calls: 0 })
      const missing = yield* Effect.flip(Durable.send(wf, "nope", new Approval({ id: "x", ok: true })))
      assert.strictEqual(missing._tag, "RunNotFoundError")
      yield* Durable.start(wf, { id: "a6" }, { runId: "s6" })
      const undeclared = yield* Effect.flip(Durable.send(wf, "s6", new Undeclared({ x: 1 })))
      assert.strictEqual(undeclared._tag, "UnhandledEventError")
      assert.include(undeclared.message, "outsideInput: [Undeclared]")
    }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )

  it.effect("a second start of a run live in this process fails with RunBusyError", () =>
    Effect.gen(function* () {
      const wf = makeApprovals({ calls: 0 })
      yield* Durable.start(wf, { id: "a7" }, { runId: "s7" })
      const busy = yield* Effect.flip(Durable.start(wf, { id: "a7" }, { runId: "s7" }))
      assert.strictEqual(busy._tag, "RunBusyError")
    }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )

  it.effect("start on a finished runId: its stored outcome, no events, no handler call", () =>
    Effect.gen(function* () {
      const counts = { calls: 0 }
      const wf = makeApprovals(counts)
      const first = yield* Durable.start(wf, { id: "a8" }, { runId: "s8" })
      yield* settle
      yield* first.send(new Approval({ id: "a8", ok: true }))
      yield* first.result
      const again = yield* Durable.start(wf, { id: "a8" }, { runId: "s8" })
      assert.strictEqual(yield* again.result, "approved a8")
      assert.strictEqual((yield* Stream.runCollect(again.events)).length, 0)
      assert.strictEqual(counts.calls, 1)
    }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )
})

class Note extends Schema.TaggedClass<Note>()("Note", { n: Schema.Number }) {}
class Boom extends Schema.TaggedError<Boom>()("Boom", { why: Schema.String }) {}

/** One workflow per way a run ends; each writes a Note first, and "cancelled" asks for an approval it never gets. */
const endings = {
  completed: defineWorkflow({ name: "completes" }).step(
    StartEvent,
    (_, ctx) => Effect.as(ctx.write(new Note({ n: 1 })), new StopEvent({ result: 1 })),
    { name: "go", writes: [Note], emits: [StopEvent] }
  ),
  failed: defineWorkflow({ name: "fails" }).step(
    StartEvent,
    (_, ctx) => Effect.andThen(ctx.write(new Note({ n: 1 })), Effect.fail(new Boom({ why: "no" }))),
    { name: "go", writes: [Note] }
  ),
  cancelled: defineWorkflow({ name: "cancelled", outsideInput: [Approval] }).step(
    StartEvent,
    (_, ctx) =>
      Effect.andThen(
        ctx.write(new Note({ n: 1 })),
        Effect.as(
          ctx.waitFor(Approval, { id: "c", request: new AskApproval({ id: "c" }) }),
          new StopEvent({ result: 0 })
        )
      ),
    { name: "ask", writes: [Note, AskApproval], emits: [StopEvent] }
  ),
  "self-interrupted": defineWorkflow({ name: "self" }).step(
    StartEvent,
    (_, ctx) => Effect.andThen(ctx.write(new Note({ n: 1 })), Effect.interrupt),
    { name: "go", writes: [Note] }
  )
}

/** How an Exit ended, to compare: the value, "interrupted", or the error's tag. */
const endOf = (exit: Exit.Exit<unknown, unknown>): unknown =>
  Exit.isSuccess(exit)
    ? { value: exit.value }
    : Cause.hasInterruptsOnly(exit.cause)
      ? "interrupted"
      : { error: (Cause.squash(exit.cause) as { _tag?: string })._tag }

/** A handle's events (tags, then how the stream ended) and result, cancelling it once it asks for an approval. */
const watched = (handle: {
  readonly events: Stream.Stream<{ readonly _tag: string }, unknown>
  readonly result: Effect.Effect<unknown, unknown>
  readonly cancel: Effect.Effect<void>
}) =>
  Effect.gen(function* () {
    const read: Array<string> = []
    const reader = yield* Effect.forkChild(
      Effect.exit(
        Stream.runForEach(handle.events, (ev) =>
          Effect.suspend(() => {
            read.push(ev._tag)
            return ev._tag === "AskApproval" ? handle.cancel : Effect.void
          })
        )
      )
    )
    const result = endOf(yield* Effect.exit(handle.result))
    const events = endOf(yield* Fiber.join(reader))
    return { read, events, result }
  })

describe("Durable.start's events end as Workflow.start's do", () => {
  it.effect(
    "completed: quietly after the StopEvent; failed: with the error; cancelled: quietly; self-interrupted: with the interruption",
    () =>
      Effect.gen(function* () {
        const expected = {
          completed: { events: { value: undefined }, result: { value: 1 } },
          failed: { events: { error: "Boom" }, result: { error: "Boom" } },
          cancelled: { events: { value: undefined }, result: { error: "WorkflowCancelledError" } },
          "self-interrupted": { events: "interrupted", result: "interrupted" }
        }
        for (const [name, wf] of Object.entries(endings)) {
          for (const lifecycle of [false, true]) {
            const inMemory = yield* Effect.scoped(
              Effect.flatMap(Workflow.start(wf as Workflow.Any, {}, { lifecycle }), watched)
            )
            const durable = yield* Effect.scoped(
              Effect.flatMap(
                Durable.start(wf as Workflow.Any, {}, { runId: `${name}-${lifecycle}`, lifecycle }),
                watched
              )
            )
            const what = `${name}${lifecycle ? " (lifecycle)" : ""}`
            assert.include(inMemory.read, "Note", what)
            if (lifecycle) assert.include(inMemory.read, "StepStarted", what)
            assert.deepStrictEqual(
              { events: inMemory.events, result: inMemory.result },
              expected[name as keyof typeof expected],
              `${what}: Workflow.start`
            )
            // Before, a cancelled durable run's events failed with WorkflowCancelledError.
            assert.deepStrictEqual(durable, inMemory, `${what}: Durable.start as Workflow.start`)
          }
          // A finished runId: no event, and the events end as the live handle's did.
          const stored = yield* Effect.scoped(
            Effect.flatMap(Durable.start(wf as Workflow.Any, {}, { runId: `${name}-false` }), watched)
          )
          assert.deepStrictEqual(stored.read, [], `${name}: stored, no event`)
          assert.deepStrictEqual(stored.events, expected[name as keyof typeof expected].events, `${name}: stored`)
        }
      }).pipe(Effect.provide(RunStore.layerMemory))
  )
})

describe("Durable.startPromise", () => {
  it("a promise handle over a layer: send answers, result resolves", async () => {
    const wf = makeApprovals({ calls: 0 })
    const handle = await Durable.startPromise(wf, { id: "p1" }, { runId: "p1", layer: RunStore.layerMemory })
    const seen: Array<string> = []
    const reading = (async () => {
      for await (const ev of handle.events) {
        seen.push(ev._tag)
        if (ev._tag === "AskApproval") await handle.send(new Approval({ id: ev.id, ok: true }))
      }
    })()
    assert.strictEqual(await handle.result, "approved p1")
    await reading
    assert.deepStrictEqual(seen, ["AskApproval", "StopEvent"])
  })
  it("a run whose handler interrupts itself rejects as Durable.runPromise does, not as a cancel", async () => {
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
      const layer = RunStore.layerMemory
      const expected = await rejection(Durable.runPromise(wf, {}, { runId: "by-run", layer }))
      assert.instanceOf(expected, Error, `${shape}: runPromise`)
      const handle = await Durable.startPromise(wf, {}, { runId: "by-start", layer })
      const error = await rejection(handle.result)
      // Before, it rejected with WorkflowCancelledError { by: "cancel()" }, though nothing called cancel().
      assert.notInstanceOf(error, WorkflowCancelledError, shape)
      assert.strictEqual((error as Error).constructor, (expected as Error).constructor, shape)
      assert.strictEqual((error as Error).message, (expected as Error).message, shape)
    }
  })
})
