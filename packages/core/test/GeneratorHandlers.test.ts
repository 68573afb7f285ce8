/**
 * The engine drives generator handlers itself (`internal/generator.ts`): what a generator yields that is done
 * at once (an Exit, a step-context operation of its own invocation) is answered in place, anything else runs
 * in the worker's fiber. These tests hold it to what `Effect.fnUntraced` does with the same generator: the
 * same results, the same published events, the same failures and defects, and no stack growth on long runs.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Cause, Effect, Exit, Fiber, Option, Schedule, Schema, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { asEffect, nativeOps, type Op, SuspendOp, SyncOp } from "../src/internal/primitive.ts"
import { Boom, defectOf, errorOf, HEAVY_TEST_TIMEOUT, property } from "./fixtures/events.ts"

class Job extends Schema.TaggedClass<Job>()("Job", { index: Schema.Number }) {}
class Done extends Schema.TaggedClass<Done>()("Done", { index: Schema.Number, value: Schema.Number }) {}
class Note extends Schema.TaggedClass<Note>()("Note", { index: Schema.Number, at: Schema.Number }) {}

/** What a worker's generator does, one instruction at a time. */
type Instruction =
  | "exit"
  | "async"
  | "get"
  | "update"
  | "write"
  | "reuse"
  | "nested"
  | "send"
  | "fail"
  | "throw"
  | "notAnEffect"

const instructions: ReadonlyArray<Instruction> = [
  "exit",
  "async",
  "get",
  "update",
  "write",
  "reuse",
  "nested",
  "send",
  "fail",
  "throw",
  "notAnEffect"
]

const state = Schema.Struct({ count: Schema.Number })

/**
 * A fan-out / fan-in whose handlers are the generator functions made here, passed as they are (`drive`) or
 * wrapped in `Effect.fnUntraced` (the reference: an ordinary handler returning an Effect). The engine steps an
 * `Effect.fnUntraced` body itself too (`generatorOf` in internal/inPlace.ts), so the reference adds an
 * `Effect.onExit` that does nothing, which the engine does not run in place: the reference runs in a fiber.
 */
const workflowOf = (
  programs: ReadonlyArray<ReadonlyArray<Instruction>>,
  mode: "drive" | "fnUntraced"
): Workflow.Workflow<{}, {}, unknown, any, any, any, unknown, never, any> => {
  const wrap = <F extends (...args: Array<any>) => Generator<any, any, any>>(f: F): F =>
    mode === "drive" ? f : (Effect.fnUntraced(f as any, (e) => Effect.onExit(e, () => Effect.void)) as unknown as F)
  const n = programs.length
  const wf = defineWorkflow({ name: "generators", state, initialState: { count: 0 } })
    .step(
      StartEvent,
      wrap(function* (_ev, ctx) {
        for (let index = 0; index < n; index++) yield* ctx.send(new Job({ index }))
      }),
      { name: "dispatch", emits: [Job] }
    )
    .step(
      Job,
      wrap(function* (ev, ctx) {
        let acc = 0
        for (const [at, instruction] of programs[ev.index]!.entries()) {
          switch (instruction) {
            case "exit":
              acc += yield* Effect.succeed(at)
              break
            case "async":
              yield* Effect.sleep("1 millis")
              break
            case "get":
              acc += yield* ctx.store.get("count")
              break
            case "update":
              yield* ctx.store.update("count", (c: number) => c + 1)
              break
            case "write":
              yield* ctx.write(new Note({ index: ev.index, at }))
              break
            case "reuse": {
              const read = ctx.store.get("count")
              acc += (yield* read) + (yield* read)
              break
            }
            case "nested":
              acc += yield* Effect.flatMap(ctx.store.get("count"), (c: number) => Effect.succeed(c + 1))
              break
            case "send":
              // Sent to the collector, which counts it as one of the n it waits for only if it is a Done.
              yield* ctx.send(new Note({ index: ev.index, at }), { step: "notes" })
              break
            case "fail":
              return yield* Effect.fail(new Boom({ reason: `job ${ev.index} at ${at}` }))
            case "throw":
              throw new Error(`thrown by job ${ev.index} at ${at}`)
            case "notAnEffect":
              yield 42 as any
              break
          }
        }
        return new Done({ index: ev.index, value: acc })
      }),
      { name: "work", emits: [Done, Note] }
    )
    .step(
      Note,
      wrap(function* (ev, ctx) {
        yield* ctx.write(new Note({ index: -1 - ev.index, at: ev.at }))
      }),
      { name: "notes" }
    )
    .step(
      Done,
      wrap(function* (ev, ctx) {
        const all = yield* ctx.collect(ev, n)
        if (Option.isNone(all)) return
        const count = yield* ctx.store.get("count")
        return new StopEvent({ result: { done: all.value.map((d: Done) => [d.index, d.value]), count } })
      }),
      { name: "collect", emits: [StopEvent] }
    )
  // The requirements are `unknown` only because one instruction yields a value that is not an Effect.
  return wf as unknown as Workflow.Workflow<{}, {}, unknown, any, any, any, unknown, never, any>
}

/** What a run shows from outside: its events and its outcome, with failures reduced to what they say. */
const observe = (programs: ReadonlyArray<ReadonlyArray<Instruction>>, mode: "drive" | "fnUntraced") =>
  Effect.map(
    runVirtual(Stream.runCollect(Workflow.stream(workflowOf(programs, mode), {})), { tick: "1 millis" }),
    ({ exit }) =>
      Exit.isSuccess(exit)
        ? { events: exit.value.map((e) => JSON.stringify(e)) }
        : {
            failure: Cause.hasFails(exit.cause)
              ? JSON.stringify(errorOf(exit))
              : String((defectOf(exit) as Error).message ?? defectOf(exit))
          }
  )

describe("generator handlers, driven by the engine", () => {
  it.effect(
    "property: a generator handler behaves as the same generator under Effect.fnUntraced",
    () =>
      property(
        [fc.array(fc.array(fc.constantFrom(...instructions), { maxLength: 6 }), { minLength: 1, maxLength: 6 })],
        async (run, programs) => {
          const driven = await run(observe(programs, "drive"))
          const reference = await run(observe(programs, "fnUntraced"))
          assert.deepStrictEqual(driven, reference)
        },
        { numRuns: 150 }
      ),
    HEAVY_TEST_TIMEOUT
  )

  it.effect(
    "a long fan-out of yield* ctx.send through generator steps finishes, with no stack growth",
    () =>
      Effect.gen(function* () {
        const n = 20_000
        const programs = Array.from({ length: n }, (): ReadonlyArray<Instruction> => ["exit", "get"])
        const result = yield* Workflow.run(workflowOf(programs, "drive"), {})
        const { done, count } = result as { done: ReadonlyArray<[number, number]>; count: number }
        assert.strictEqual(count, 0)
        assert.deepStrictEqual(
          [...done].sort((a, b) => a[0] - b[0]),
          Array.from({ length: n }, (_, i) => [i, 0])
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  it.effect("a step that returns its next event 20,000 times runs them all on a bounded stack", () =>
    Effect.gen(function* () {
      class Tick extends Schema.TaggedClass<Tick>()("Tick", { n: Schema.Number }) {}
      const wf = defineWorkflow({ name: "ticks" })
        .step(StartEvent, function* () {
          return new Tick({ n: 0 })
        })
        .step(Tick, function* (ev) {
          const n = yield* Effect.succeed(ev.n + 1)
          return n === 20_000 ? new StopEvent({ result: n }) : new Tick({ n })
        })
      assert.strictEqual(yield* Workflow.run(wf, {}), 20_000)
    })
  )

  it.effect("a read kept or asked again reads the store as it is when it runs, driven or under Effect.fnUntraced", () =>
    Effect.gen(function* () {
      for (const wrap of [(f: any) => f, (f: any) => Effect.fnUntraced(f)]) {
        const wf = defineWorkflow({ name: "reads", state, initialState: { count: 0 } }).step(
          StartEvent,
          wrap(function* (_ev: StartEvent, ctx: any) {
            const kept = ctx.store.get("count")
            const seen: Array<number> = []
            for (let i = 0; i < 3; i++) {
              yield* ctx.store.update("count", (c: number) => c + 1)
              seen.push(yield* kept, yield* ctx.store.get("count"))
            }
            return new StopEvent({ result: seen })
          })
        )
        assert.deepStrictEqual(yield* Workflow.run(wf, {}), [1, 1, 2, 2, 3, 3])
      }
    })
  )

  it.effect("a throw in a generator, before or after its first yield, is a defect carrying what was thrown", () =>
    Effect.gen(function* () {
      for (const before of [[], ["exit"], ["async"], ["get"]] as const) {
        const { exit } = yield* runVirtual(
          Workflow.run(workflowOf([[...before, "throw"] as ReadonlyArray<Instruction>], "drive"), {})
        )
        assert.strictEqual((defectOf(exit) as Error).message, `thrown by job 0 at ${before.length}`)
      }
    })
  )

  it.effect("a generator step with a timeout, a retry schedule or a recorded run goes through its effect", () =>
    Effect.gen(function* () {
      let attempts = 0
      const flaky = defineWorkflow({ name: "flaky" }).step(
        StartEvent,
        function* (_ev, ctx) {
          attempts++
          if (ctx.attempt < 3) return yield* Effect.fail(new Boom({ reason: `attempt ${ctx.attempt}` }))
          return new StopEvent({ result: ctx.attempt })
        },
        { retry: Schedule.recurs(5) }
      )
      assert.strictEqual(yield* Workflow.run(flaky, {}), 3)
      assert.strictEqual(attempts, 3)

      const slow = defineWorkflow({ name: "slow" }).step(
        StartEvent,
        function* () {
          yield* Effect.sleep("1 second")
          return new StopEvent({ result: "late" })
        },
        { timeout: "10 millis" }
      )
      const { exit } = yield* runVirtual(Workflow.run(slow, {}))
      assert.strictEqual((errorOf(exit) as { _tag: string })._tag, "StepTimeoutError")

      const events = yield* Stream.runCollect(
        Workflow.stream(workflowOf([["get", "write"], ["exit"]], "drive"), {}, { lifecycle: true })
      )
      assert.deepStrictEqual((events.at(-1) as StopEvent<unknown>).result, {
        done: [
          [0, 0],
          [1, 0]
        ],
        count: 0
      })
    })
  )

  it.effect("the result of a driven run equals the reference's", () =>
    Effect.gen(function* () {
      const programs: ReadonlyArray<ReadonlyArray<Instruction>> = [
        ["update", "get", "exit"],
        ["async", "update", "reuse"],
        ["nested", "write", "send"]
      ]
      const driven = yield* observe(programs, "drive")
      const reference = yield* observe(programs, "fnUntraced")
      assert.deepStrictEqual(driven, reference)
      assert.isDefined(driven.events)
    })
  )
})

describe("step-context operations done inside their yield*", () => {
  /** Both ways a generator handler runs: driven by the engine, and as an effect in a fiber (the reference). */
  const ways: ReadonlyArray<readonly ["drive" | "fnUntraced", (f: any) => any]> = [
    ["drive", (f) => f],
    ["fnUntraced", (f) => Effect.fnUntraced(f, (e) => Effect.onExit(e, () => Effect.void))]
  ]

  it.effect("in a driven generator, an operation of its own step context is done inside its yield*", () =>
    Effect.gen(function* () {
      for (const [way, wrap] of ways) {
        let other: any
        const wf = defineWorkflow({ name: "inside", state, initialState: { count: 7 } })
          .step(
            StartEvent,
            wrap(function* (_ev: StartEvent, ctx: any) {
              other = ctx
              yield* ctx.send(new Job({ index: 0 }))
            }),
            { name: "dispatch", emits: [Job] }
          )
          .step(
            Job,
            wrap(function* (_ev: Job, ctx: any) {
              // The generator protocol as `yield*` follows it: the first `next` of the operation's iterator.
              const own = ctx.store.get("count")[Symbol.iterator]().next()
              const others = other.store.get("count")[Symbol.iterator]().next()
              // Done inside, the operation is its value at once; otherwise the generator yields the operation.
              const seen = [own.done, own.done ? own.value : null, others.done]
              const read = yield* ctx.store.get("count")
              const readOther = yield* other.store.get("count")
              return new StopEvent({ result: [...seen, read, readOther] })
            }),
            { name: "work" }
          )
        const result = yield* Workflow.run(wf, {})
        assert.deepStrictEqual(result, way === "drive" ? [true, 7, false, 7, 7] : [false, null, false, 7, 7])
      }
    })
  )

  it.effect("a throw in an operation done inside its yield* is a defect the generator does not catch", () =>
    Effect.gen(function* () {
      for (const [, wrap] of ways) {
        let finished = false
        const wf = defineWorkflow({ name: "throws" }).step(
          StartEvent,
          wrap(function* (ev: StartEvent, ctx: any) {
            try {
              yield* ctx.collect(ev, -1)
            } catch {
              return new StopEvent({ result: "caught" })
            } finally {
              finished = true
            }
            return new StopEvent({ result: "went on" })
          })
        )
        const exit = yield* Effect.exit(Workflow.run(wf, {}))
        assert.include((defectOf(exit) as Error).message, "the count must be an integer >= 0")
        // As under Effect.fnUntraced: a failed yield* ends the generator, which is not resumed.
        assert.isFalse(finished)
      }
    })
  )

  it.effect("a driven generator sending in a loop lets other fibers run", () =>
    Effect.gen(function* () {
      class Spin extends Schema.TaggedClass<Spin>()("Spin", {}) {}
      class Flip extends Schema.TaggedClass<Flip>()("Flip", {}) {}
      class Tick extends Schema.TaggedClass<Tick>()("Tick", {}) {}
      let flipped = false
      const wf = defineWorkflow({ name: "spin" })
        .step(
          StartEvent,
          function* (_ev, ctx) {
            yield* ctx.send(new Spin())
            yield* ctx.send(new Flip())
          },
          { name: "dispatch", emits: [Spin, Flip] }
        )
        .step(
          Spin,
          function* (_ev, ctx) {
            // Its sends are done at once (Tick's worker finishes in place): only those it sends through the
            // fiber's loop now and then let Flip run.
            let sent = 0
            while (!flipped) {
              yield* ctx.send(new Tick())
              sent++
            }
            return new StopEvent({ result: sent > 64 })
          },
          { name: "spin", emits: [Tick, StopEvent] }
        )
        .step(Tick, function* () {}, { name: "tick" })
        .step(
          Flip,
          function* () {
            yield* Effect.yieldNow
            flipped = true
          },
          { name: "flip" }
        )
      assert.isTrue(yield* Workflow.run(wf, {}))
    })
  )

  it.effect("a driven generator reading the store in a loop yields as a fiber does: the run's timeout ends it", () =>
    Effect.gen(function* () {
      // Reads done inside their yield* count as the driver's yield*s: every 2,048 it yields to other fibers.
      const LIMIT = 1_000_000
      let reads = 0
      const wf = defineWorkflow({ name: "reads", state, initialState: { count: 1 }, timeout: "1 second" }).step(
        StartEvent,
        function* (_ev, ctx) {
          while (reads < LIMIT) reads += yield* ctx.store.get("count")
          return new StopEvent({ result: reads })
        }
      )
      const fiber = yield* Effect.forkChild(Effect.exit(Workflow.run(wf, {})))
      yield* TestClock.adjust("2 seconds")
      for (let i = 0; i < 100 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
      const exit = yield* Fiber.join(fiber)
      assert.strictEqual(
        (Cause.squash((exit as Exit.Failure<unknown, unknown>).cause) as any)._tag,
        "WorkflowTimeoutError"
      )
      assert.isBelow(reads, LIMIT)
    })
  )
})

describe("step-context operations on an effect without the Suspend key they build on", () => {
  /** A step context whose run is not paused (see `OpContext`). */
  const unpaused = { run: { pause: undefined } }
  class Read extends SyncOp {
    readonly ctx = unpaused
    readonly result: () => number
    constructor(result: () => number) {
      super()
      this.result = result
    }
    perform() {
      return this.result()
    }
  }
  class Go extends SuspendOp {
    readonly ctx = unpaused
    readonly then_: Effect.Effect<number, string>
    constructor(then_: Effect.Effect<number, string>) {
      super()
      this.then_ = then_
    }
    effect() {
      return this.then_
    }
  }
  const both = <A, E>(op: Op & Effect.Effect<A, E>) => [asEffect(op, true), asEffect(op, false)] as const

  it("operations are effects of their own on effect 4.1, and wrapped ones do the same", () => {
    assert.isTrue(nativeOps)
    const read = new Read(() => 7)
    const [native, wrapped] = both(read)
    assert.strictEqual(native, read)
    assert.notStrictEqual(wrapped, read)
    assert.deepStrictEqual(Effect.runSyncExit(wrapped), Effect.runSyncExit(native))
    const go = new Go(Effect.fail("nope"))
    const [goNative, goWrapped] = both(go)
    assert.deepStrictEqual(Effect.runSyncExit(goWrapped), Effect.runSyncExit(goNative))
    assert.deepStrictEqual(Effect.runSyncExit(goWrapped), Exit.fail("nope"))
  })

  it.effect("an operation yielded by two generators at once, and again after, gives each yield* its own result", () =>
    Effect.gen(function* () {
      let n = 0
      // Suspends once, so the first generator is still inside its `yield*` when the second yields the same operation.
      const go = new Go(Effect.suspend(() => Effect.as(Effect.yieldNow, ++n)))
      const once = Effect.gen(function* () {
        return yield* go
      })
      const both = yield* Effect.all([once, once], { concurrency: 2 })
      assert.deepStrictEqual(both, [1, 2])
      const again = yield* Effect.gen(function* () {
        return [yield* go, yield* go]
      })
      assert.deepStrictEqual(again, [3, 4])
      const read = new Read(() => 7)
      assert.deepStrictEqual([...read], [read])
      assert.deepStrictEqual([...read], [read])
    })
  )

  it("a throw in an operation is a defect either way", () => {
    const boom = new Error("boom")
    for (const effect of both(
      new Read(() => {
        throw boom
      })
    )) {
      assert.deepStrictEqual(Effect.runSyncExit(effect), Exit.die(boom))
    }
  })
})
