import { assert, describe, it } from "@effect/vitest"
import {
  defineWorkflow,
  HandlerBoundaryError,
  StartEvent,
  StepTimeoutError,
  StopEvent,
  UnhandledEventError,
  Workflow,
  WorkflowInputError,
  WorkflowStalledError,
  WorkflowTimeoutError,
  WorkflowValidationError
} from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Cause, Duration, Effect, Exit, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { Boom, defectOf, errorOf, Orphan, Ping, Success } from "./fixtures/events.ts"

/**
 * Adds a `bystander` step that sleeps for an hour on every Ping, logging when it is interrupted and
 * (wrongly) when it finishes, to check that a run's end interrupts the other invocations.
 */
const withBystander = (log: Array<string>) =>
  defineWorkflow({ name: "errors", input: Schema.Struct({ n: Schema.Number }) }).step(
    Ping,
    () =>
      Effect.sleep("1 hour").pipe(
        Effect.andThen(Effect.sync(() => log.push("finished"))),
        Effect.onInterrupt(() => Effect.sync(() => log.push("interrupted"))),
        Effect.asVoid
      ),
    { name: "bystander" }
  )

/** After the run: the bystander was interrupted, and moving the clock on does not wake it. */
const assertInterrupted = (log: Array<string>) =>
  Effect.gen(function* () {
    assert.deepStrictEqual(log, ["interrupted"])
    yield* TestClock.adjust("2 hours")
    assert.deepStrictEqual(log, ["interrupted"])
  })

describe("every workflow error", () => {
  it("is a Schema.TaggedError class", () => {
    for (const cls of [
      WorkflowValidationError,
      WorkflowInputError,
      WorkflowTimeoutError,
      WorkflowStalledError,
      UnhandledEventError,
      StepTimeoutError
    ]) {
      assert.isTrue(Schema.isSchema(cls), cls.name)
    }
  })

  it.effect("can be caught by its tag with Effect.catchTag", () =>
    Effect.gen(function* () {
      const stalls = defineWorkflow({ name: "stalls" }).step(StartEvent, () => Effect.void)
      const caught = yield* Workflow.run(stalls, {}).pipe(
        Effect.catchTag("WorkflowStalledError", (e) => Effect.succeed(`stalled: ${e.workflow}`))
      )
      assert.strictEqual(caught, "stalled: stalls")
      const orphans = defineWorkflow({ name: "orphans" }).step(StartEvent, (_, ctx) => ctx.send(new Orphan()))
      const unhandled = yield* Workflow.run(orphans, {}).pipe(
        Effect.catchTag("UnhandledEventError", (e) => Effect.succeed(e.event))
      )
      assert.strictEqual(unhandled, "Orphan")
    })
  )
})

describe("WorkflowInputError", () => {
  it.effect("the input does not decode: the message carries the schema issue; no handler runs", () =>
    Effect.gen(function* () {
      let calls = 0
      const wf = defineWorkflow({
        name: "typedInput",
        input: Schema.Struct({ items: Schema.Array(Schema.String) })
      }).step(StartEvent, () => Effect.sync(() => calls++).pipe(Effect.as(new StopEvent({ result: 1 }))))
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, { items: [1, 2] } as any)))
      assert.instanceOf(err, WorkflowInputError)
      assert.strictEqual(err._tag, "WorkflowInputError")
      assert.include(err.message, '"typedInput"')
      assert.include(err.message, "items")
      assert.include(err.message, "string")
      assert.strictEqual(calls, 0)
    })
  )

  it.effect("the StartEvent carries the decoded input (a transforming schema)", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "decoded", input: Schema.Struct({ n: Schema.FiniteFromString }) }).step(
        StartEvent,
        (ev) => Effect.succeed(new StopEvent({ result: ev.n + 1 }))
      )
      assert.strictEqual(yield* Workflow.run(wf, { n: "41" }), 42)
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, { n: "forty" })))
      assert.strictEqual(err._tag, "WorkflowInputError")
      assert.include(err.message, "finite")
      assert.include(err.message, '["n"]')
    })
  )

  it.effect("a missing field is an input error too", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "typedInput", input: Schema.Struct({ who: Schema.String }) }).step(
        StartEvent,
        (ev) => Effect.succeed(new StopEvent({ result: ev.who }))
      )
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {} as any)))
      assert.strictEqual(err._tag, "WorkflowInputError")
      assert.include(err.message, "who")
    })
  )
})

describe("WorkflowTimeoutError", () => {
  it.effect("the run's timeout elapses: names the workflow and the active steps, at exactly the timeout", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const wf = defineWorkflow({ name: "slow", timeout: "1 second" })
        .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 })), { name: "start" })
        .step(
          Ping,
          () =>
            Effect.sleep("1 hour").pipe(
              Effect.andThen(Effect.sync(() => log.push("finished"))),
              Effect.onInterrupt(() => Effect.sync(() => log.push("interrupted"))),
              Effect.as(new StopEvent({ result: "late" }))
            ),
          { name: "sleeper" }
        )
      const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, {}))
      const err = errorOf(exit)
      assert.instanceOf(err, WorkflowTimeoutError)
      assert.strictEqual(err._tag, "WorkflowTimeoutError")
      assert.deepStrictEqual((err as WorkflowTimeoutError).activeSteps, ["sleeper"])
      assert.include(err.message, '"slow"')
      assert.include(err.message, "sleeper")
      assert.strictEqual(Duration.toMillis(elapsed), 1000)
      yield* assertInterrupted(log)
    })
  )

  it.effect("a run that ends before its timeout is not affected by it", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "quick", timeout: "1 second" }).step(StartEvent, () =>
        Effect.as(Effect.sleep("999 millis"), new StopEvent({ result: "ok" }))
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}), { tick: "1 millis" })
      assert.deepStrictEqual(exit, Exit.succeed("ok"))
    })
  )
})

describe("WorkflowStalledError", () => {
  it.effect(
    "fires at virtual time 0 with no timeout configured, naming each partial collect, what it holds and needs",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "miscount" })
          .step(StartEvent, (_, ctx) =>
            Effect.andThen(ctx.send(new Success({ id: 1 })), ctx.send(new Success({ id: 2 })))
          )
          .step(
            Success,
            (ev, ctx) =>
              Effect.gen(function* () {
                const all = yield* ctx.collect(ev, 3)
                if (Option.isSome(all)) return new StopEvent({ result: all.value })
              }),
            { name: "gather" }
          )
        const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, {}), { maxTime: "1 minute" })
        const err = errorOf(exit)
        assert.instanceOf(err, WorkflowStalledError)
        assert.strictEqual(err._tag, "WorkflowStalledError")
        assert.strictEqual(Duration.toMillis(elapsed), 0)
        const e = err as WorkflowStalledError
        assert.strictEqual(e.workflow, "miscount")
        assert.deepStrictEqual(
          e.collects.map((c) => ({ step: c.step, holds: { ...c.holds }, needs: c.needs })),
          [{ step: "gather", holds: { Success: 2 }, needs: "3 events" }]
        )
        assert.include(e.message, '"miscount"')
        assert.include(e.message, '"gather"')
        assert.include(e.message, "2 Success")
        assert.include(e.message, "3 events")
      })
  )

  it.effect("fires after the last sleeping step finishes, not at a timeout", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "noStop" })
        .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 })))
        .step(Ping, () => Effect.sleep("300 millis"))
      const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, {}), { maxTime: "1 minute" })
      assert.strictEqual(errorOf(exit)._tag, "WorkflowStalledError")
      assert.strictEqual(Duration.toMillis(elapsed), 300)
      assert.include(errorOf(exit).message, "StopEvent")
    })
  )

  it.effect("fires at once even when a timeout is configured (the timeout is not waited for)", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "stallsEarly", timeout: "1 hour" }).step(StartEvent, () => Effect.void)
      const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, {}), { tick: "1 second" })
      assert.strictEqual(errorOf(exit)._tag, "WorkflowStalledError")
      assert.strictEqual(Duration.toMillis(elapsed), 0)
    })
  )

  it.effect("names every partial collect, one per step", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "two" })
        .step(StartEvent, (_, ctx) => ctx.send(new Success({ id: 1 })))
        .step(Success, (ev, ctx) => Effect.asVoid(ctx.collect(ev, 2)), { name: "left" })
        .step(Success, (ev, ctx) => Effect.asVoid(ctx.collect(ev, [Success, Orphan])), { name: "right" })
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.strictEqual(err._tag, "WorkflowStalledError")
      const steps = (err as WorkflowStalledError).collects.map((c) => c.step).sort()
      assert.deepStrictEqual(steps, ["left", "right"])
      assert.include(err.message, "Orphan")
    })
  )
})

describe("UnhandledEventError", () => {
  it.effect("ends the run and interrupts the other invocations", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const wf = withBystander(log).step(
        StartEvent,
        (_, ctx) =>
          ctx.send(new Ping({ n: 1 })).pipe(
            // let the bystander start sleeping first
            Effect.andThen(Effect.sleep("10 millis")),
            Effect.as(new Orphan())
          ),
        { name: "start" }
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, { n: 1 }))
      const err = errorOf(exit)
      assert.instanceOf(err, UnhandledEventError)
      assert.include(err.message, "Orphan")
      assert.include(err.message, '"start"')
      assert.include(err.message, '"errors"')
      yield* assertInterrupted(log)
    })
  )
})

describe("a handler's own failure", () => {
  it.effect("a typed error ends the run with the same instance; the other invocations are interrupted", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const boom = new Boom({ reason: "typed" })
      const wf = withBystander(log)
        .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 })))
        .step(Ping, () => Effect.andThen(Effect.sleep("10 millis"), Effect.fail(boom)), { name: "failing" })
      const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, { n: 1 }).pipe(Effect.flip))
      assert.isTrue(Exit.isSuccess(exit))
      assert.strictEqual((exit as Exit.Success<unknown>).value, boom)
      assert.strictEqual(Duration.toMillis(elapsed), 10)
      yield* assertInterrupted(log)
    })
  )

  it.effect("a defect ends the run as a defect (the same value); the other invocations are interrupted", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const defect = new Error("kaput")
      const wf = withBystander(log)
        .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 })))
        .step(Ping, () => Effect.andThen(Effect.sleep("10 millis"), Effect.die(defect)), { name: "dying" })
      const { exit } = yield* runVirtual(Workflow.run(wf, { n: 1 }))
      assert.isTrue(Exit.isFailure(exit))
      assert.isFalse(Cause.hasFails((exit as Exit.Failure<unknown, unknown>).cause))
      assert.strictEqual(defectOf(exit), defect)
      yield* assertInterrupted(log)
    })
  )

  it.effect("a thrown exception in a handler's Effect.sync is a defect", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "throws" }).step(StartEvent, () =>
        Effect.sync(() => {
          throw new RangeError("thrown")
        })
      )
      const exit = yield* Effect.exit(Workflow.run(wf, {}))
      assert.instanceOf(defectOf(exit), RangeError)
    })
  )

  it.effect(
    "a handler that throws before returning an Effect is a defect naming the step, with the throw as its cause",
    () =>
      Effect.gen(function* () {
        const thrown = new TypeError("thrown synchronously")
        const wf = defineWorkflow({ name: "throwsEarly" }).step(
          StartEvent,
          (): Effect.Effect<void> => {
            throw thrown
          },
          { name: "early" }
        )
        const exit = yield* Effect.exit(Workflow.run(wf, {}))
        const defect = defectOf(exit)
        assert.instanceOf(defect, HandlerBoundaryError)
        assert.strictEqual((defect as HandlerBoundaryError).cause, thrown)
        assert.include(
          (defect as HandlerBoundaryError).message,
          'Workflow "throwsEarly": step "early" handling StartEvent'
        )
        assert.include((defect as HandlerBoundaryError).message, "the handler threw TypeError: thrown synchronously")
      })
  )

  it.effect("the run can be caught by tag", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "caught" }).step(StartEvent, () => Effect.fail(new Boom({ reason: "r" })))
      const out = yield* Workflow.run(wf, {}).pipe(Effect.catchTag("Boom", (e) => Effect.succeed(`caught ${e.reason}`)))
      assert.strictEqual(out, "caught r")
    })
  )
})

describe("WorkflowValidationError", () => {
  const counted = () => {
    const calls = { n: 0 }
    const handler = () => Effect.sync(() => calls.n++).pipe(Effect.as(new StopEvent({ result: "ran" })))
    return { calls, handler }
  }

  it.effect("no step accepts StartEvent", () =>
    Effect.gen(function* () {
      const { calls, handler } = counted()
      const wf = defineWorkflow({ name: "noStart" }).step(Ping, handler, { name: "p" })
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.instanceOf(err, WorkflowValidationError)
      const v = err as WorkflowValidationError
      // graph checks may add more problems; the one that matters must be there
      assert.include(
        v.problems.map((p) => p.check),
        "start-step"
      )
      assert.include(v.message, '"noStart"')
      assert.include(v.message, "StartEvent")
      assert.strictEqual(calls.n, 0)
    })
  )

  it.effect("duplicate step names", () =>
    Effect.gen(function* () {
      const { calls, handler } = counted()
      const wf = defineWorkflow({ name: "dups" })
        .step(StartEvent, handler, { name: "same" })
        .step(Ping, handler, { name: "same" })
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.strictEqual(err._tag, "WorkflowValidationError")
      const v = err as WorkflowValidationError
      assert.deepStrictEqual(
        v.problems.map((p) => p.check),
        ["unique-step-names"]
      )
      assert.include(v.message, '"same"')
      assert.strictEqual(calls.n, 0)
    })
  )

  for (const workers of [0, 1.5, -1]) {
    it.effect(`workers: ${workers}`, () =>
      Effect.gen(function* () {
        const { calls, handler } = counted()
        const wf = defineWorkflow({ name: "badWorkers" })
          .step(StartEvent, handler, { name: "start" })
          .step(Ping, handler, { name: "p", workers })
        const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
        assert.strictEqual(err._tag, "WorkflowValidationError")
        const v = err as WorkflowValidationError
        assert.deepStrictEqual(
          v.problems.map((p) => p.check),
          ["workers"]
        )
        assert.deepStrictEqual(v.problems[0]!.steps, ["p"])
        assert.include(v.message, `${workers}`)
        assert.include(v.message, '"p"')
        assert.strictEqual(calls.n, 0)
      })
    )
  }

  it.effect("problems lists every problem, not just the first", () =>
    Effect.gen(function* () {
      const { calls, handler } = counted()
      // Computed values, as a config file would give them (the compiler rejects such literals: see
      // Workflow.types.test.ts); validation is what catches these.
      const [zero, half, negative] = [0, 1.5, -1].map((n): number => n)
      const wf = defineWorkflow({ name: "manyProblems" })
        .step(Ping, handler, { name: "a", workers: zero })
        .step(Ping, handler, { name: "a", workers: half })
        .step(Success, handler, { name: "c", workers: negative })
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.instanceOf(err, WorkflowValidationError)
      const v = err as WorkflowValidationError
      const checks = v.problems.map((p) => p.check)
      assert.includeMembers(checks, ["start-step", "unique-step-names"])
      assert.strictEqual(checks.filter((c) => c === "workers").length, 3)
      assert.deepStrictEqual(
        v.problems.filter((p) => p.check === "workers").map((p) => p.steps),
        [["a"], ["a"], ["c"]]
      )
      assert.include(v.message, `${checks.length} problems`)
      for (const p of v.problems) assert.include(v.message, p.message)
      assert.deepStrictEqual(
        Workflow.problems(wf).map((p) => p.check),
        checks
      )
      assert.strictEqual(calls.n, 0)
    })
  )

  it.effect("Workflow.validate, compile and runPromise report it too; a valid workflow has no problems", () =>
    Effect.gen(function* () {
      const bad = defineWorkflow({ name: "bad" })
      assert.strictEqual((yield* Effect.flip(Workflow.validate(bad)))._tag, "WorkflowValidationError")
      assert.strictEqual((yield* Effect.flip(Workflow.compile(bad)))._tag, "WorkflowValidationError")
      const rejected = yield* Effect.promise(() =>
        Workflow.runPromise(bad, {}).then(
          () => undefined,
          (e: unknown) => e
        )
      )
      assert.instanceOf(rejected, WorkflowValidationError)
      const good = defineWorkflow({ name: "good" }).step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })))
      assert.deepStrictEqual(Workflow.problems(good), [])
      assert.strictEqual(yield* Workflow.validate(good), good)
    })
  )
})
