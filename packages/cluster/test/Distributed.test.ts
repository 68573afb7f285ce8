/**
 * Runs as cluster entities, in one process on effect's TestRunner (no database) with runs journaled in an
 * in-memory RunStore: the examples' workflows give the same outcome (result or typed error) through the
 * cluster as run locally, a workflow no runner registered is a typed error naming what the runner has, a
 * finished run answers its stored outcome, a stored unfinished run is resumed, and a runner registering a
 * changed definition while runs of it are live is refused with WorkflowChangedError.
 */
import { assert, describe, it } from "@effect/vitest"
import { Distributed, RunMovedError } from "@effect-flow/cluster"
import {
  Durable,
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  RunNotFoundError,
  RunStore,
  StartEvent,
  StopEvent,
  Workflow,
  WorkflowChangedError,
  WorkflowStalledError
} from "@effect-flow/core"
import { Cause, Deferred, Effect, Exit, Fiber, Layer, Option, Result, Schema, Scope, Stream } from "effect"
import { TestRunner } from "effect/cluster"
import * as fc from "fast-check"
import { ParallelAccumulatorWorkflow } from "../../examples/src/accumulator.ts"
import { DocumentAnalysisWorkflow } from "../../examples/src/document-analysis.ts"
import { MixedResultsWorkflow } from "../../examples/src/mixed-results.ts"
import { ParallelWorkflow } from "../../examples/src/parallel.ts"
import { RobustParallelWorkflow } from "../../examples/src/robust-parallel.ts"
import * as EventLog from "../src/internal/eventLog.ts"

class BoomError extends Schema.TaggedError<BoomError>()("BoomError", { what: Schema.String }) {}

const Failing = defineWorkflow({ name: "failing", input: Schema.Struct({ what: Schema.String }) }).step(
  StartEvent,
  (ev) => Effect.fail(new BoomError({ what: ev.what }))
)

const Typed = defineWorkflow({
  name: "typed",
  input: Schema.Struct({ n: Schema.Number }),
  output: Schema.Struct({ at: Schema.Date })
}).step(StartEvent, (ev) => Effect.succeed(new StopEvent({ result: { at: new Date(ev.n) } })))

class Never extends Schema.TaggedClass<Never>()("Never", {}) {}

/** Emits an event nobody turns into a StopEvent: the run stalls. */
const Stalls = defineWorkflow({ name: "stalls" })
  .step(StartEvent, () => Effect.succeed(new Never()), { emits: [Never] })
  .step(Never, () => Effect.void)

/** Its first attempt hangs; a resumed attempt finishes, saying which attempt it was. */
const Halting = defineWorkflow({ name: "halting", input: Schema.Struct({ n: Schema.Number }) }).step(
  StartEvent,
  (ev, ctx) =>
    ctx.attempt === 1 ? Effect.never : Effect.succeed(new StopEvent({ result: { n: ev.n, attempt: ctx.attempt } }))
)

/** Asks a human, and stops with the answer. */
const Approval = defineWorkflow({ name: "approval", input: Schema.Struct({ amount: Schema.Number }) })
  .step(StartEvent, (ev) => Effect.succeed(new InputRequiredEvent({ prefix: `approve ${ev.amount}?` })))
  .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.response })))

/** Handler calls of the self-interrupting workflows, by workflow. */
const selfCalls = { arrow: 0, generator: 0 }

/** Its handler interrupts itself (`Effect.interrupt`), in both handler shapes: the run ends with that interruption. */
const SelfInterrupting = {
  arrow: defineWorkflow({ name: "self-arrow" }).step(StartEvent, () =>
    Effect.suspend(() => {
      selfCalls.arrow++
      return Effect.interrupt
    })
  ),
  generator: defineWorkflow({ name: "self-generator" }).step(StartEvent, function* () {
    selfCalls.generator++
    yield* Effect.interrupt
    return new StopEvent({ result: 1 })
  })
}

/** Facts the tests wait on instead of sleeping, by runId: each done the first time it happens. */
const facts = (): ((runId: string) => Deferred.Deferred<void>) => {
  const seen = new Map<string, Deferred.Deferred<void>>()
  return (runId) => {
    let fact = seen.get(runId)
    if (fact === undefined) {
      fact = Deferred.makeUnsafe<void>()
      seen.set(runId, fact)
    }
    return fact
  }
}

/** A subscriber to a run's events is registered with the run's entity (its subscription to the run's log open). */
const subscribed = facts()
/** The store refused a run's lease (`RunBusyError`): someone else holds it. */
const refused = facts()

/** The memory store, telling `refused` when it refuses a run's lease. */
const observedStore = Layer.effect(
  RunStore.RunStore,
  Effect.map(
    RunStore.makeMemory,
    (store): RunStore.Shape => ({
      ...store,
      acquire: (runId, request) =>
        Effect.tapError(store.acquire(runId, request), (error) =>
          error._tag === "RunBusyError" ? Deferred.succeed(refused(runId), undefined) : Effect.void
        )
    })
  )
)

const runner = Distributed.layer({
  workflows: [
    ParallelWorkflow,
    ParallelAccumulatorWorkflow,
    MixedResultsWorkflow,
    DocumentAnalysisWorkflow,
    RobustParallelWorkflow,
    Failing,
    Typed,
    Stalls,
    Halting,
    Approval,
    SelfInterrupting.arrow,
    SelfInterrupting.generator
  ]
}).pipe(
  Layer.provide(
    Layer.succeed(EventLog.OnSubscribe)((runId) => Effect.asVoid(Deferred.succeed(subscribed(runId), undefined)))
  ),
  Layer.provideMerge(observedStore),
  Layer.provideMerge(TestRunner.layer)
)

/** The accumulator's list is in the order its four workers finished: compare it by index. */
const normalize = (outcome: Result.Result<unknown, unknown>): Result.Result<unknown, unknown> =>
  Result.map(outcome, (value) =>
    Array.isArray(value)
      ? [...value].sort((a, b) => (a as { index: number }).index - (b as { index: number }).index)
      : value
  )

const cases: ReadonlyArray<readonly [Workflow.Any, unknown]> = [
  [ParallelWorkflow, { items: ["a", "bb", "ccc", ""] }],
  [ParallelAccumulatorWorkflow, { items: ["x", "y", "z"] }],
  [MixedResultsWorkflow, { items: ["1", "20", "oops", "300", "x"] }],
  [
    DocumentAnalysisWorkflow,
    {
      documents: [
        { id: "d1", content: "one two three" },
        { id: "d2", content: "four" }
      ]
    }
  ],
  [RobustParallelWorkflow, { tasks: ["task-1", "task-2", "task-3", "task-4"] }]
]

describe("Distributed.run on TestRunner", () => {
  for (const [wf, input] of cases) {
    it.live(
      `${wf.name}: the result through the cluster equals the local run's`,
      () =>
        Effect.gen(function* () {
          const local = yield* Effect.result(Workflow.run(wf, input as never))
          const remote = yield* Effect.result(Distributed.run(wf, input as never, { runId: `${wf.name}-1` }))
          assert.isTrue(Result.isSuccess(local), `the local run of ${wf.name} succeeds`)
          assert.deepStrictEqual(normalize(remote), normalize(local))
        }).pipe(Effect.provide(runner)),
      30_000
    )
  }

  it.live(
    "parallel and accumulator agree with local runs over sampled random inputs",
    () =>
      Effect.gen(function* () {
        const samples = fc.sample(
          fc.tuple(
            fc.constantFrom(ParallelWorkflow, ParallelAccumulatorWorkflow),
            fc.array(fc.string({ maxLength: 8 }), { maxLength: 10 })
          ),
          { numRuns: 12, seed: 17 }
        )
        for (const [index, [wf, items]] of samples.entries()) {
          const local = yield* Effect.result(Workflow.run(wf, { items }))
          const remote = yield* Effect.result(Distributed.run(wf, { items }, { runId: `sample-${index}` }))
          assert.deepStrictEqual(normalize(remote), normalize(local), `${wf.name} over ${JSON.stringify(items)}`)
        }
      }).pipe(Effect.provide(runner)),
    60_000
  )

  it.live("the result is decoded with the workflow's output schema", () =>
    Effect.gen(function* () {
      const result = yield* Distributed.run(Typed, { n: 86_400_000 })
      assert.instanceOf(result.at, Date)
      assert.strictEqual(result.at.toISOString(), "1970-01-02T00:00:00.000Z")
    }).pipe(Effect.provide(runner))
  )

  it.live("a workflow no runner registered fails with UnknownWorkflowError naming the registered ones", () =>
    Effect.gen(function* () {
      const stranger = defineWorkflow({ name: "stranger" }).step(StartEvent, () =>
        Effect.succeed(new StopEvent({ result: 1 }))
      )
      const error = yield* Effect.flip(Distributed.run(stranger, {}, { runId: "r-unknown" }))
      assert.strictEqual(error._tag, "UnknownWorkflowError")
      if (error._tag !== "UnknownWorkflowError") return
      assert.strictEqual(error.workflow, "stranger")
      assert.strictEqual(error.runId, "r-unknown")
      assert.include(error.registered, "parallel")
      assert.match(error.message, /No workflow "stranger".*run "r-unknown".*"parallel"/)
    }).pipe(Effect.provide(runner))
  )

  it.live("bad input is core's WorkflowInputError, across the cluster", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Distributed.run(ParallelWorkflow, { items: 3 } as never))
      assert.strictEqual(error._tag, "WorkflowInputError")
    }).pipe(Effect.provide(runner))
  )

  it.live("a handler's error comes back as RunFailedError with its tag and message", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(Distributed.run(Failing, { what: "disk" }, { runId: "r-fail" }))
      assert.strictEqual(error._tag, "RunFailedError")
      if (error._tag !== "RunFailedError") return
      assert.strictEqual(error.tag, "BoomError")
      assert.strictEqual(error.runId, "r-fail")
      assert.strictEqual(error.workflow, "failing")
    }).pipe(Effect.provide(runner))
  )

  it.live("a finished run answers its stored outcome: the same result, the same typed error, no second run", () =>
    Effect.gen(function* () {
      const first = yield* Distributed.run(ParallelWorkflow, { items: ["a", "bb"] }, { runId: "again-1" })
      const second = yield* Distributed.run(ParallelWorkflow, { items: ["a", "bb"] }, { runId: "again-1" })
      assert.deepStrictEqual(second, first)
      const failed = yield* Effect.flip(Distributed.run(Failing, { what: "disk" }, { runId: "again-fail" }))
      const stored = yield* Effect.flip(Distributed.run(Failing, { what: "disk" }, { runId: "again-fail" }))
      assert.strictEqual(stored._tag, "RunFailedError")
      assert.deepStrictEqual({ ...stored }, { ...failed })
      // core's errors keep their class when read back from the store
      const stalled = yield* Effect.flip(Distributed.run(Stalls, {}, { runId: "again-stall" }))
      const storedStall = yield* Effect.flip(Distributed.run(Stalls, {}, { runId: "again-stall" }))
      assert.instanceOf(stalled, WorkflowStalledError)
      assert.instanceOf(storedStall, WorkflowStalledError)
      const status = yield* Distributed.status("again-stall")
      assert.strictEqual(status.status, "failed")
      assert.strictEqual(status.workflow, "stalls")
    }).pipe(Effect.provide(runner))
  )

  it.live("a different input for a runId is WorkflowChangedError; resume of an unknown runId RunNotFoundError", () =>
    Effect.gen(function* () {
      yield* Distributed.run(ParallelWorkflow, { items: ["a"] }, { runId: "input-1" })
      const changed = yield* Effect.flip(Distributed.run(ParallelWorkflow, { items: ["b"] }, { runId: "input-1" }))
      assert.instanceOf(changed, WorkflowChangedError)
      const missing = yield* Effect.flip(Distributed.resume(ParallelWorkflow, "no-such-run"))
      assert.strictEqual(missing._tag, "RunNotFoundError")
    }).pipe(Effect.provide(runner))
  )

  it.live(
    "a run stored unfinished (its process stopped mid-invocation) is resumed through the cluster from its journal; status and list read the store",
    () =>
      Effect.gen(function* () {
        const store = yield* RunStore.RunStore
        // started in this process and stopped while its first invocation hangs, as a crash would leave it
        const fiber = yield* Effect.forkChild(Durable.run(Halting, { n: 3 }, { runId: "half-1" }))
        while ((yield* Effect.exit(store.readJournal("half-1"))).pipe(Exit.isSuccess) === false) {
          yield* Effect.sleep("5 millis")
        }
        while ((yield* store.readJournal("half-1")).length < 3) yield* Effect.sleep("5 millis")
        yield* Fiber.interrupt(fiber)
        assert.strictEqual((yield* Distributed.status("half-1")).status, "running")
        // the invocation runs again on the runner, with the same invocationId and attempt 2
        const resumed = yield* Distributed.resume(Halting, "half-1")
        assert.deepStrictEqual(resumed, { n: 3, attempt: 2 })
        assert.strictEqual((yield* Distributed.status("half-1")).status, "completed")
        const listed = yield* Distributed.list({ workflow: "halting", status: "completed" })
        assert.include(
          listed.map((s) => s.runId),
          "half-1"
        )
      }).pipe(Effect.provide(runner))
  )
})

describe("Distributed.start on TestRunner", () => {
  it.live(
    "the run's events stream to the client that started it: the local run's events, ending with its StopEvent",
    () =>
      Effect.gen(function* () {
        const input = { items: ["a", "bb", "ccc"] }
        const handle = yield* Distributed.start(ParallelWorkflow, input, { runId: "start-1" })
        assert.strictEqual(handle.runId, "start-1")
        const events = yield* Stream.runCollect(handle.events)
        const local = yield* Stream.runCollect(Workflow.stream(ParallelWorkflow, input))
        assert.deepStrictEqual(events.map((e) => e._tag).sort(), local.map((e) => e._tag).sort())
        assert.strictEqual(events[events.length - 1]!._tag, "StopEvent")
        assert.deepStrictEqual(yield* handle.result, yield* Workflow.run(ParallelWorkflow, input))
      }).pipe(Effect.provide(runner))
  )

  it.live(
    "a human-in-the-loop run: the request streams to the client, its answer is sent through the cluster, the run finishes; status says waiting meanwhile",
    () =>
      Effect.gen(function* () {
        const handle = yield* Distributed.start(Approval, { amount: 100 }, { runId: "approve-1" })
        const request = yield* handle.events.pipe(
          Stream.filter((e) => e._tag === "InputRequiredEvent"),
          Stream.take(1),
          Stream.runCollect
        )
        assert.strictEqual((request[0] as InputRequiredEvent).prefix, "approve 100?")
        // "waiting" is stored by the run's owner in a journal batch after it publishes the request, so it may
        // lag the event here: wait for it (bounded) rather than read it once.
        let waiting = yield* Distributed.status("approve-1")
        for (let i = 0; i < 400 && waiting.status !== "waiting"; i++) {
          yield* Effect.sleep("5 millis")
          waiting = yield* Distributed.status("approve-1")
        }
        assert.strictEqual(waiting.status, "waiting")
        yield* handle.send(new HumanResponseEvent({ response: "yes" }))
        assert.strictEqual(yield* handle.result, "yes")
        assert.strictEqual((yield* Distributed.status("approve-1")).status, "completed")
        // a run that ended: send is refused, typed
        const late = yield* Effect.flip(
          Distributed.send(Approval, "approve-1", new HumanResponseEvent({ response: "no" }))
        )
        assert.strictEqual(late._tag, "UnhandledEventError")
      }).pipe(Effect.provide(runner))
  )

  it.live(
    "a run whose handler interrupts itself ends interrupted, as Workflow.run does; its subscribers see it end with the interruption (not RunMovedError), live and from the store",
    () =>
      Effect.gen(function* () {
        const interrupted = (exit: Exit.Exit<unknown, unknown>) =>
          Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
        for (const shape of ["arrow", "generator"] as const) {
          const wf = SelfInterrupting[shape]
          assert.isTrue(interrupted(yield* Effect.exit(Workflow.run(wf, {}))), `${shape}: Workflow.run`)
          selfCalls[shape] = 0
          // Live on its owner, then again by its runId (answered from the store, without running a handler).
          for (const when of ["live", "stored"]) {
            const handle = yield* Distributed.start(wf, {}, { runId: `self-${shape}` })
            const events = yield* Effect.exit(Stream.runCollect(handle.events))
            // Before, the stream failed with RunMovedError, as if the run went on on another runner; then it ended
            // quietly. It ends as Durable.start's and Workflow.start's events do: with the interruption.
            assert.isTrue(
              interrupted(events),
              `${shape}, ${when}: events ended with ${Exit.isFailure(events) ? Cause.pretty(events.cause) : "success"}`
            )
            assert.isTrue(interrupted(yield* Effect.exit(handle.result)), `${shape}, ${when}: result`)
            assert.strictEqual((yield* Distributed.status(`self-${shape}`)).status, "failed", `${shape}, ${when}`)
          }
          assert.strictEqual(selfCalls[shape], 1, `${shape}: the handler ran once`)
        }
      }).pipe(Effect.provide(runner)),
    30_000
  )

  it.live("cancel ends the run live on its owner as cancelled", () =>
    Effect.gen(function* () {
      const handle = yield* Distributed.start(Approval, { amount: 5 }, { runId: "cancel-1" })
      yield* handle.events.pipe(
        Stream.filter((e) => e._tag === "InputRequiredEvent"),
        Stream.take(1),
        Stream.runDrain
      )
      yield* handle.cancel
      const error = yield* Effect.flip(handle.result)
      assert.strictEqual(error._tag, "WorkflowCancelledError")
      assert.strictEqual((yield* Distributed.status("cancel-1")).status, "cancelled")
    }).pipe(Effect.provide(runner))
  )
})

describe("Distributed events on a runner where the run does not execute", () => {
  it.live(
    "a subscriber that reaches a runner while the run executes elsewhere (a runner still joining, a stale assignment) does not wait there for ever: once the run is over it fails with RunMovedError",
    () =>
      Effect.gen(function* () {
        // The run executes outside this runner's entity (as on another owner), on the store the runner shares.
        const elsewhere = yield* Durable.start(Approval, { amount: 3 }, { runId: "elsewhere-1" })
        yield* elsewhere.events.pipe(
          Stream.filter((e) => e._tag === "InputRequiredEvent"),
          Stream.take(1),
          Stream.runDrain
        )
        // The events request reaches the run's entity here, which has no execution of the run.
        const client = yield* Distributed.RunEntity.client
        const following = yield* Effect.forkChild(
          Stream.runCollect(client("elsewhere-1").Events({ workflow: Approval.name })).pipe(Effect.exit)
        )
        // While the run is live elsewhere its Run message may still come here: the subscriber waits.
        yield* Deferred.await(subscribed("elsewhere-1"))
        assert.isUndefined(following.pollUnsafe(), "the subscriber waits while the run is live elsewhere")
        yield* elsewhere.send(new HumanResponseEvent({ response: "ok" }))
        assert.strictEqual(yield* elsewhere.result, "ok")
        // Bounded: a stream that neither ends nor fails is the bug.
        const exit = yield* Effect.timeoutOption(Fiber.join(following), "10 seconds")
        assert.isTrue(Option.isSome(exit), "the subscriber did not wait for ever")
        const failed = Option.getOrThrow(exit)
        assert.isTrue(Exit.isFailure(failed))
        if (Exit.isFailure(failed)) assert.instanceOf(Cause.squash(failed.cause), RunMovedError)
      }).pipe(Effect.scoped, Effect.provide(runner)),
    20_000
  )

  it.live(
    "a subscriber waiting on a runner for an execution that has not come fails with RunMovedError when that runner stops, rather than hold its shutdown for entityTerminationTimeout (15 s)",
    () =>
      Effect.gen(function* () {
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(runner, scope)
        const client = yield* Distributed.RunEntity.client.pipe(Effect.provideContext(context))
        // No run of this id anywhere yet: the subscriber, which says its run was started (as
        // Distributed.start's handle does), waits for its Run message.
        const following = yield* Effect.forkChild(
          Stream.runCollect(client("not-yet-1").Events({ workflow: Approval.name, started: true })).pipe(Effect.exit)
        )
        yield* Deferred.await(subscribed("not-yet-1"))
        assert.isUndefined(following.pollUnsafe(), "the subscriber waits for the run's Run message")
        const closed = yield* Effect.timeoutOption(Scope.close(scope, Exit.void), "5 seconds")
        assert.isTrue(Option.isSome(closed), "the runner stopped without waiting for the subscriber")
        const exit = Option.getOrThrow(yield* Effect.timeoutOption(Fiber.join(following), "5 seconds"))
        assert.isTrue(Exit.isFailure(exit))
        if (Exit.isFailure(exit)) assert.instanceOf(Cause.squash(exit.cause), RunMovedError)
      }),
    20_000
  )

  it.live(
    "a subscriber to a runId the store does not know (a wrong runId) fails at once with RunNotFoundError naming it, rather than wait for a Run message that will not come",
    () =>
      Effect.gen(function* () {
        const client = yield* Distributed.RunEntity.client
        // Bounded: a stream that neither ends nor fails is the bug.
        const exit = yield* Effect.timeoutOption(
          Effect.exit(Stream.runCollect(client("no-such-run-1").Events({ workflow: Approval.name }))),
          "10 seconds"
        )
        assert.isTrue(Option.isSome(exit), "the subscriber did not wait for ever")
        const failed = Option.getOrThrow(exit)
        assert.isTrue(Exit.isFailure(failed))
        if (Exit.isFailure(failed)) {
          const error = Cause.squash(failed.cause)
          assert.instanceOf(error, RunNotFoundError)
          assert.strictEqual((error as RunNotFoundError).runId, "no-such-run-1")
          assert.include((error as RunNotFoundError).message, `"no-such-run-1"`)
        }
      }).pipe(Effect.provide(runner)),
    20_000
  )

  it.live(
    "while the run's previous owner still holds it (RunBusyError, retried by the new owner), the new owner's subscriber waits through the retries and follows the run to its end, instead of ending at the first refused attempt",
    () =>
      Effect.gen(function* () {
        const store = yield* RunStore.RunStore
        // The run's previous owner, a runner on another host, ran it to its request for input and still holds it.
        yield* Effect.scoped(
          Effect.flatMap(Durable.start(Approval, { amount: 4 }, { runId: "busy-1" }), (held) =>
            held.events.pipe(
              Stream.filter((e) => e._tag === "InputRequiredEvent"),
              Stream.take(1),
              Stream.runDrain
            )
          )
        )
        const lease = yield* store.acquire("busy-1", {
          owner: "previous-runner",
          pid: 1,
          host: "previous.example",
          ttl: "1 minute"
        })
        const handle = yield* Distributed.start(Approval, { amount: 4 }, { runId: "busy-1" })
        const following = yield* Effect.forkChild(Stream.runCollect(handle.events).pipe(Effect.exit))
        // The entity's first attempt is refused (the lease is held) and retried; the subscriber is in place.
        yield* Deferred.await(refused("busy-1"))
        yield* Deferred.await(subscribed("busy-1"))
        assert.isUndefined(following.pollUnsafe(), "the subscriber waits while the run is busy elsewhere")
        // The previous owner lets go (lease released); the retry resumes the run here.
        yield* store.release(lease)
        yield* handle.events.pipe(
          Stream.filter((e) => e._tag === "InputRequiredEvent"),
          Stream.take(1),
          Stream.runDrain
        )
        yield* handle.send(new HumanResponseEvent({ response: "late" }))
        assert.strictEqual(yield* handle.result, "late")
        const events = Option.getOrThrow(yield* Effect.timeoutOption(Fiber.join(following), "5 seconds"))
        assert.isTrue(Exit.isSuccess(events))
        if (Exit.isSuccess(events)) assert.strictEqual(events.value.at(-1)?._tag, "StopEvent")
      }).pipe(Effect.provide(runner)),
    20_000
  )
})

describe("Distributed events of a run nobody runs", () => {
  it.live(
    "a subscriber to a run the store says is unfinished but no process owns (its owner stopped it and nothing resumes it; then a dead runner's lease) does not wait for ever: once the lease is free or expired, the runner holding the run's shard resumes it and the subscriber follows it to its end",
    () =>
      Effect.gen(function* () {
        const store = yield* RunStore.RunStore
        // Its owner, outside the cluster, ran it to its request for input and stopped (a deploy): the run stays
        // "waiting", resumable, and no Run message for it will ever come.
        yield* Effect.scoped(
          Effect.flatMap(Durable.start(Approval, { amount: 6 }, { runId: "orphan-1" }), (stopped) =>
            stopped.events.pipe(
              Stream.filter((e) => e._tag === "InputRequiredEvent"),
              Stream.take(1),
              Stream.runDrain
            )
          )
        )
        // ...and as if a runner on another host took it and died: its lease lasts one more second.
        yield* store.acquire("orphan-1", { owner: "dead-runner", pid: 1, host: "dead.example", ttl: "1 second" })
        assert.isFalse(RunStore.isFinished((yield* Distributed.status("orphan-1")).status))
        const client = yield* Distributed.RunEntity.client
        const following = yield* Effect.forkChild(
          Stream.runCollect(client("orphan-1").Events({ workflow: Approval.name })).pipe(Effect.exit)
        )
        yield* Deferred.await(subscribed("orphan-1"))
        // Answered through the cluster: given to the resumed run, or kept in its inbox for the resume to read.
        yield* Distributed.send(Approval, "orphan-1", new HumanResponseEvent({ response: "found" }))
        // Bounded: a stream that neither ends nor fails is the bug.
        const exit = yield* Effect.timeoutOption(Fiber.join(following), "10 seconds")
        assert.isTrue(Option.isSome(exit), "the subscriber did not wait for ever")
        const events = Option.getOrThrow(exit)
        assert.isTrue(Exit.isSuccess(events), `the stream ended: ${events}`)
        if (Exit.isSuccess(events)) {
          assert.strictEqual(JSON.parse(events.value.at(-1)?.t ?? "{}")._tag, "StopEvent")
        }
        const status = yield* Distributed.status("orphan-1")
        assert.strictEqual(status.status, "completed")
        assert.strictEqual(JSON.parse(status.result ?? "null"), "found")
      }).pipe(Effect.provide(runner)),
    20_000
  )
})

describe("Distributed.layer shutdown", () => {
  it.live(
    "closing a runner's scope stops its live runs at once, not after entityTerminationTimeout (15 s): each stays resumable (journal kept, lease released) and another runner on the same store resumes it",
    () =>
      Effect.gen(function* () {
        const store = yield* RunStore.RunStore
        const runnerOnStore = Distributed.layer({ workflows: [Halting, Approval] }).pipe(
          Layer.provideMerge(TestRunner.layer)
        )
        const scope = yield* Scope.make()
        const context = yield* Layer.buildWithScope(runnerOnStore, scope)
        // a run whose first attempt hangs in a handler, and one that waits for outside input
        const halting = yield* Distributed.start(Halting, { n: 7 }, { runId: "deploy-1" }).pipe(
          Effect.provideContext(context)
        )
        const waiting = yield* Distributed.start(Approval, { amount: 9 }, { runId: "deploy-2" }).pipe(
          Effect.provideContext(context)
        )
        yield* waiting.events.pipe(
          Stream.filter((e) => e._tag === "InputRequiredEvent"),
          Stream.take(1),
          Stream.runDrain
        )
        while ((yield* Effect.exit(store.readJournal(halting.runId))).pipe(Exit.isSuccess) === false) {
          yield* Effect.sleep("5 millis")
        }
        while ((yield* store.readJournal(halting.runId)).length < 3) yield* Effect.sleep("5 millis")
        // Without the runs stopping on termination, this waits the cluster's entityTerminationTimeout (15 s).
        const closed = yield* Effect.timeoutOption(Scope.close(scope, Exit.void), "5 seconds")
        assert.isTrue(Option.isSome(closed), "the runner's scope closed without waiting for its live runs")
        assert.strictEqual((yield* Distributed.status("deploy-1")).status, "running")
        assert.strictEqual((yield* Distributed.status("deploy-2")).status, "waiting")
        // A new runner on the same store: the lease is free, the journal intact.
        const [resumed, answered] = yield* Effect.all(
          [
            Distributed.resume(Halting, "deploy-1"),
            Effect.andThen(
              Distributed.send(Approval, "deploy-2", new HumanResponseEvent({ response: "later" })),
              Distributed.resume(Approval, "deploy-2")
            )
          ],
          { concurrency: "unbounded" }
        ).pipe(Effect.provide(runnerOnStore))
        assert.deepStrictEqual(resumed, { n: 7, attempt: 2 })
        assert.strictEqual(answered, "later")
      }).pipe(Effect.provide(RunStore.layerMemory)),
    20_000
  )
})

describe("Distributed.layer and live runs of a changed definition", () => {
  const v1 = defineWorkflow({ name: "deployed", input: Schema.Struct({ n: Schema.Number }) }).step(
    StartEvent,
    () => Effect.never
  )
  class Extra extends Schema.TaggedClass<Extra>()("Extra", {}) {}
  const v2 = defineWorkflow({ name: "deployed", input: Schema.Struct({ n: Schema.Number }) })
    .step(StartEvent, () => Effect.succeed(new Extra()), { emits: [Extra] })
    .step(Extra, () => Effect.succeed(new StopEvent({ result: 2 })), { name: "extra" })

  it.live(
    "a runner registering a changed workflow while a run of it is live fails with WorkflowChangedError naming the run and the change; the same definition registers",
    () =>
      Effect.gen(function* () {
        const store = yield* RunStore.RunStore
        const fiber = yield* Effect.forkChild(Durable.run(v1, { n: 1 }, { runId: "live-1" }))
        while ((yield* Effect.exit(store.readJournal("live-1"))).pipe(Exit.isSuccess) === false) yield* Effect.yieldNow
        while ((yield* store.readJournal("live-1")).length < 2) yield* Effect.sleep("5 millis")
        yield* Fiber.interrupt(fiber)
        const refused = yield* Effect.flip(
          Layer.build(Distributed.layer({ workflows: [v2] }).pipe(Layer.provide(TestRunner.layer)))
        )
        assert.instanceOf(refused, WorkflowChangedError)
        if (!(refused instanceof WorkflowChangedError)) return
        assert.strictEqual(refused.runId, "live-1")
        assert.strictEqual(refused.workflow, "deployed")
        assert.match(refused.changes.join("\n"), /step extra: added/)
        yield* Layer.build(Distributed.layer({ workflows: [v1] }).pipe(Layer.provide(TestRunner.layer)))
      }).pipe(Effect.scoped, Effect.provide(RunStore.layerMemory))
  )
})
