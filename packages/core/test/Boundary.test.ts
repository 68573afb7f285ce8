/**
 * The handler boundary, part two (issue 13, points 1, 4, 6 and 8): nothing dies silently, messages name
 * the call, an answer goes to its wait alone, and what happens after the end. (Points 2, 3 and 5 are in
 * Validation.test.ts; the fault-injection suite in Faults.test.ts covers every mistake.)
 */
import { assert, describe, it } from "@effect/vitest"
import {
  defineWorkflow,
  HandlerBoundaryError,
  RunEvent,
  StartEvent,
  StopEvent,
  UnhandledEventError,
  Workflow,
  WorkflowCancelledError
} from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Cause, Deferred, Duration, Effect, Exit, Schema } from "effect"
import { errorOf, Ping, successOf } from "./fixtures/events.ts"

class Approval extends Schema.TaggedClass<Approval>()("Approval", { id: Schema.String }) {}
class Ask extends Schema.TaggedClass<Ask>()("Ask", { id: Schema.String }) {}

describe("no silent death", () => {
  it("runPromise of a workflow with an async handler rejects at once, naming workflow, step, event and the fix", async () => {
    const wf = defineWorkflow({ name: "async-handler" }).step(
      StartEvent,
      (async () => new StopEvent({ result: 1 })) as any,
      { name: "fetch" }
    )
    const error = await Workflow.runPromise(wf, {}).then(
      () => undefined,
      (e: unknown) => e
    )
    assert.instanceOf(error, HandlerBoundaryError)
    assert.include(
      (error as Error).message,
      'Workflow "async-handler": step "fetch" handling StartEvent: the handler returned a Promise, not an Effect'
    )
    assert.include((error as Error).message, "Effect.tryPromise")
  })

  it.effect("a worker fiber that dies outside its handler's error handling ends the run, not its timeout", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "dies", timeout: "1 hour" })
        .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 })))
        .step(
          Ping,
          () => Effect.flatMap(Effect.sleep("1 second"), () => Promise.resolve(1) as any) as Effect.Effect<void>,
          {
            name: "worker"
          }
        )
      const { exit, elapsed } = yield* runVirtual(Workflow.run(wf, {}))
      assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause))
      const died = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.instanceOf(died, HandlerBoundaryError)
      assert.include((died as Error).message, 'step "worker" handling Ping: went on with a Promise')
      // Ended when the sleep did, not at the run's timeout.
      assert.strictEqual(Duration.toMillis(elapsed), 1000)
    })
  )
})

describe("messages that name the call", () => {
  it.effect("ctx.collect(ev, undefined) names the step and what it got", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "miscount", initialState: { total: 1 } }).step(
        StartEvent,
        (ev, ctx) => Effect.flatMap(ctx.store.get("totl" as "total"), (n) => ctx.collect(ev, n)),
        { name: "gather" }
      )
      const exit = yield* Effect.exit(Workflow.run(wf, {}))
      const died = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.include(String(died), 'step "gather" called ctx.collect(StartEvent, undefined)')
      assert.notInclude(String(died), "not iterable")
    })
  )

  it.effect("events outside emits fail the run naming both; StepFailedEvent and waitFor requests are exempt", () =>
    Effect.gen(function* () {
      // Graph checks do not see waitFor requests and answers; this test is about the run.
      const wf = defineWorkflow({ name: "exempt", ignoreChecks: ["unhandled-event", "never-emitted", "dead-end"] })
        .step(
          StartEvent,
          (_, ctx) =>
            Effect.gen(function* () {
              // The request is not in emits: the engine sends it on the step's behalf.
              const answer = yield* ctx.waitFor(Approval, { request: new Ask({ id: "1" }) })
              return new Ping({ n: answer.id.length })
            }),
          { name: "asker", emits: [Ping] }
        )
        .step(Ask, (ev) => Effect.succeed(new Approval({ id: ev.id })), { name: "answerer", emits: [Approval] })
        .step(Ping, () => Effect.fail("failed on purpose"), { name: "failing", emits: [] })
        .step(RunEvent.StepFailedEvent, (failed) => Effect.succeed(new StopEvent({ result: failed.step })), {
          name: "recover",
          emits: [StopEvent]
        })
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed("failing"))
    })
  )
})

describe("an event that answers an open waitFor goes to that wait alone", () => {
  it.effect("with several workers, the waiting step is not started again by the answer", () =>
    Effect.gen(function* () {
      let preWait = 0
      const wf = defineWorkflow({ name: "answer-alone" })
        .step(
          [StartEvent, Approval],
          (ev, ctx) =>
            Effect.gen(function* () {
              if (ev._tag === "Approval") return new StopEvent({ result: "broadcast reached the waiting step" })
              preWait++
              const answer = yield* ctx.waitFor(Approval, { request: new Ask({ id: "a" }) })
              return new StopEvent({ result: { answer: answer.id, preWait } })
            }),
          { name: "waiting", workers: 4 }
        )
        .step(Ask, (ev) => Effect.succeed(new Approval({ id: ev.id })), { name: "answerer" })
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed({ answer: "a", preWait: 1 }))
    })
  )

  it.effect("an event that matches no open wait is broadcast as before", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const wf = defineWorkflow({ name: "no-match" })
        .step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            const answer = yield* ctx.waitFor(Approval, { request: new Ask({ id: "x" }), match: (a) => a.id === "y" })
            yield* Effect.sleep("1 second")
            return new StopEvent({ result: { answer: answer.id, seen: [...seen] } })
          })
        )
        .step(Ask, (_, ctx) => Effect.andThen(ctx.send(new Approval({ id: "x" })), ctx.send(new Approval({ id: "y" }))))
        .step(Approval, (ev) => Effect.sync(() => void seen.push(ev.id)), { name: "listener" })
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed({ answer: "y", seen: ["x"] }))
    })
  )
})

describe("after the end", () => {
  it.effect("ctx.send from a fiber that outlived its run fails with UnhandledEventError: the run has ended", () =>
    Effect.gen(function* () {
      const late = yield* Deferred.make<Exit.Exit<void, UnhandledEventError>>()
      const wf = defineWorkflow({ name: "outlived" })
        .step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            yield* Effect.forkDetach(
              Effect.sleep("1 second").pipe(
                Effect.andThen(Effect.exit(ctx.send(new Ping({ n: 1 })))),
                Effect.flatMap((exit) => Deferred.succeed(late, exit))
              )
            )
            return new StopEvent({ result: "done" })
          })
        )
        .step(Ping, () => Effect.void)
      assert.strictEqual(successOf((yield* runVirtual(Workflow.run(wf, {}))).exit), "done")
      const { exit } = yield* runVirtual(Deferred.await(late))
      const error = errorOf(successOf(exit))
      assert.instanceOf(error, UnhandledEventError)
      assert.include(error.message, 'step "handleStartEvent" emitted Ping, but the run has ended')
    })
  )

  it("an AbortSignal given to runPromise rejects with WorkflowCancelledError", async () => {
    const wf = defineWorkflow({ name: "aborted" }).step(StartEvent, () => Effect.never)
    const controller = new AbortController()
    const result = Workflow.runPromise(wf, {}, { signal: controller.signal }).then(
      () => undefined,
      (e: unknown) => e
    )
    controller.abort()
    const error = await result
    assert.instanceOf(error, WorkflowCancelledError)
    assert.strictEqual((error as WorkflowCancelledError).message, 'Workflow "aborted" was cancelled by an AbortSignal')
  })

  it.effect("a handle's cancel fails its result with WorkflowCancelledError", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "handle-cancel" }).step(StartEvent, () => Effect.never)
        const handle = yield* Workflow.start(wf, {})
        yield* handle.cancel
        const error = errorOf(yield* Effect.exit(handle.result))
        assert.strictEqual(error._tag, "WorkflowCancelledError")
        assert.strictEqual(error.message, `Workflow "handle-cancel" run ${handle.runId} was cancelled by cancel()`)
      })
    )
  )
})
