/**
 * A worker whose handler returns an event for one idle step hands its fiber over to that step (see
 * `mayHandOver` in internal/workers.ts): a chain of steps runs in one fiber, and that fiber's watcher then
 * names the step it runs now.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, RunEvent, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Cause, Effect, Exit, Fiber, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import { FRAME_EFFECT } from "../src/internal/context.ts"
import { isExit } from "../src/internal/primitive.ts"
import { Ping } from "./fixtures/events.ts"
import { countingStarts } from "./fixtures/fibers.ts"

class Pong extends Schema.TaggedClass<Pong>()("Pong", { n: Schema.Number }) {}

describe("handing a worker's fiber over to the next step", () => {
  it.effect("a chain of steps that each return the next event runs in one worker fiber", () =>
    Effect.gen(function* () {
      const chain = defineWorkflow({ name: "chain" })
        .step(StartEvent, () => Effect.succeed(new Ping({ n: 1 })), { name: "start" })
        // `yieldNow` needs a fiber (a `map` of a value would be run in place, with none).
        .step(Ping, (ev) => Effect.map(Effect.yieldNow, () => new StopEvent({ result: ev.n + 1 })), { name: "next" })
      for (let i = 0; i < 3; i++) {
        const [result, fibers] = yield* countingStarts(Workflow.run(chain, {}))
        assert.strictEqual(result, 2)
        // The start step's worker, which goes on as the next step's: no fiber per step.
        assert.strictEqual(fibers.started, 1)
      }
    })
  )

  it.effect("a chain whose handlers all return an Exit runs in the caller's fiber: no fiber at all", () =>
    Effect.gen(function* () {
      const chain = defineWorkflow({ name: "at-once" })
        .step(StartEvent, () => Effect.succeed(new Ping({ n: 1 })), { name: "start" })
        .step(Ping, (ev) => Effect.succeed(new StopEvent({ result: ev.n + 1 })), { name: "next" })
      for (let i = 0; i < 3; i++) {
        const [result, fibers] = yield* countingStarts(Workflow.run(chain, {}))
        assert.strictEqual(result, 2)
        assert.strictEqual(fibers.started, 0)
      }
    })
  )

  it.effect("a start step that suspends goes on in a worker fiber, which the run's timeout interrupts", () =>
    Effect.gen(function* () {
      let interrupted = 0
      let interruptedIn: number | undefined
      const slow = defineWorkflow({ name: "slow-start", timeout: "1 second" }).step(
        StartEvent,
        () =>
          Effect.onInterrupt(Effect.as(Effect.sleep("1 hour"), new StopEvent({ result: 1 })), () =>
            Effect.withFiber((fiber) =>
              Effect.sync(() => {
                interrupted++
                interruptedIn = fiber.id
              })
            )
          ),
        { name: "start" }
      )
      const fiber = yield* Effect.forkChild(Effect.flip(countingStarts(Workflow.run(slow, {}))))
      yield* TestClock.adjust("1 second")
      const error = yield* Fiber.join(fiber)
      assert.strictEqual(error._tag, "WorkflowTimeoutError")
      assert.strictEqual(interrupted, 1)
      // The handler began in the caller's fiber; what was left when it suspended went on in a worker fiber.
      assert.isDefined(interruptedIn)
      assert.notStrictEqual(interruptedIn, fiber.id)
    })
  )

  it.effect("a handed-over fiber that dies outside its handler's error handling is named by the step it runs", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "handed-over" })
        .step(StartEvent, () => Effect.succeed(new Ping({ n: 1 })), { name: "start" })
        .step(Ping, (() => Effect.flatMap(Effect.void, () => Promise.resolve(1) as any)) as any, { name: "bad" })
      const exit = yield* Effect.exit(Workflow.run(wf, {}))
      assert.isTrue(Exit.isFailure(exit))
      const defect = Exit.isFailure(exit) ? Cause.squash(exit.cause) : undefined
      assert.instanceOf(defect, Error)
      const message = (defect as Error).message
      assert.include(message, 'step "bad" handling Ping')
      assert.include(message, "went on with a Promise")
    })
  )

  it("the engine's test of a handler's Exit (by its prototype) agrees with Exit.isExit", () => {
    const values: ReadonlyArray<Effect.Effect<unknown, unknown>> = [
      Exit.succeed(1),
      Exit.fail("no"),
      Exit.die("defect"),
      Effect.succeed(1),
      Effect.map(Effect.void, () => 1),
      Effect.sync(() => 1),
      Effect.never
    ]
    for (const value of values) assert.strictEqual(isExit(value), Exit.isExit(value))
  })

  it("on this effect version a worker slot reuses one frame for its handlers' outcomes", () => {
    // If effect changes how it keeps a frame's effect, the engine falls back to a frame per invocation; this
    // says so, so that the per-event cost does not go back up unnoticed.
    assert.strictEqual(FRAME_EFFECT, "~effect/Effect/args")
  })

  it.effect("one worker slot gets each handler's own outcome, success or failure, event after event", () =>
    Effect.gen(function* () {
      const seen: Array<string> = []
      const wf = defineWorkflow({ name: "outcomes" })
        .step(StartEvent, (_, ctx) => ctx.sendAll([1, 2, 3, 4, 5, 6].map((n) => new Ping({ n }))), { name: "start" })
        .step(
          Ping,
          (ev) =>
            ev.n % 2 === 0 ? Effect.fail(`failed ${ev.n}`) : Effect.map(Effect.void, () => new Pong({ n: ev.n })),
          { name: "work" }
        )
        .step(
          RunEvent.StepFailedEvent,
          (ev) => Effect.sync(() => seen.push(String(ev.error))).pipe(Effect.as(new Pong({ n: 0 }))),
          { name: "recover" }
        )
        .step(
          Pong,
          (ev, ctx) =>
            Effect.map(ctx.collect(ev, 6), (all) =>
              Option.isSome(all) ? new StopEvent({ result: all.value.map((p) => p.n) }) : undefined
            ),
          { name: "gather" }
        )
      const result = yield* Workflow.run(wf, {})
      assert.deepStrictEqual([...result].sort(), [0, 0, 0, 1, 3, 5])
      assert.deepStrictEqual(seen.sort(), ["failed 2", "failed 4", "failed 6"])
    })
  )
})
