import { assert, describe, it } from "@effect/vitest"
import {
  defineWorkflow,
  StartEvent,
  Step,
  StopEvent,
  Workflow,
  WorkflowInputError,
  WorkflowStalledError
} from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit, Fiber, Option, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { Boom, errorOf, HEAVY_TEST_TIMEOUT, Item, Ping, Processed, property, successOf } from "./fixtures/events.ts"

const Items = Schema.Struct({ items: Schema.Array(Schema.String) })

/** dispatch -> work (x workers, sleeps `durations[i]` ms) -> collect, observing the work step's concurrency. */
const fanOut = (
  workers: number,
  durations: ReadonlyArray<number>,
  probe: { running: number; peak: number; calls: number }
) =>
  defineWorkflow({ name: "fanOut", input: Items })
    .step(
      StartEvent,
      (ev, ctx) =>
        Effect.gen(function* () {
          if (ev.items.length === 0) return new StopEvent({ result: [] as Array<string> })
          for (const [index, item] of ev.items.entries()) {
            yield* ctx.send(new Item({ item, index, total: ev.items.length }))
          }
        }),
      { name: "dispatch" }
    )
    .step(
      Item,
      (ev) =>
        Effect.gen(function* () {
          probe.calls++
          probe.running++
          probe.peak = Math.max(probe.peak, probe.running)
          yield* Effect.sleep(Duration.millis(durations[ev.index % durations.length]!))
          probe.running--
          return new Processed({ result: `${ev.item}!`, index: ev.index, total: ev.total })
        }),
      { name: "work", workers }
    )
    .step(
      Processed,
      (ev, ctx) =>
        Effect.gen(function* () {
          const all = yield* ctx.collect(ev, ev.total)
          if (Option.isNone(all)) return
          return new StopEvent({ result: [...all.value].sort((a, b) => a.index - b.index).map((p) => p.result) })
        }),
      { name: "collect" }
    )

describe("Workflow: running", () => {
  it.effect("handlers written with Effect.fnUntraced (a generator reused across events) run like arrow handlers", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({
        name: "fn-handlers",
        input: Schema.Struct({ items: Schema.Array(Schema.String) }),
        state: Schema.Struct({ total: Schema.Number }),
        initialState: { total: 0 }
      })
        .step(
          StartEvent,
          Effect.fnUntraced(function* (ev, ctx) {
            yield* ctx.store.set("total", ev.items.length)
            yield* ctx.sendAll(ev.items.map((item, index) => new Item({ item, index, total: ev.items.length })))
          })
        )
        .step(
          Item,
          Effect.fnUntraced(function* (ev) {
            yield* Effect.sleep(Duration.millis(10 * (ev.total - ev.index)))
            return new Processed({ result: ev.item.toUpperCase(), index: ev.index, total: ev.total })
          }),
          { workers: 3 }
        )
        .step(
          Processed,
          Effect.fnUntraced(function* (ev, ctx) {
            const all = yield* ctx.collect(ev, yield* ctx.store.get("total"))
            if (Option.isNone(all)) return
            return new StopEvent({ result: [...all.value].sort((a, b) => a.index - b.index).map((p) => p.result) })
          })
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, { items: ["a", "b", "c", "d", "e"] }))
      assert.deepStrictEqual(exit, Exit.succeed(["A", "B", "C", "D", "E"]))
    })
  )

  it.effect(
    "property: fan-out/fan-in equals a sequential map, and peak concurrency is exactly min(workers, items)",
    () =>
      Effect.gen(function* () {
        yield* property(
          [
            fc.array(fc.string({ maxLength: 4 }), { maxLength: 40, size: "max" }),
            fc.integer({ min: 1, max: 16 }),
            fc.array(
              fc.integer({ min: 1, max: 5 }).map((n) => n * 10),
              { minLength: 1, maxLength: 8 }
            )
          ],
          async (run, items, workers, durations) => {
            const probe = { running: 0, peak: 0, calls: 0 }
            const { exit } = await run(runVirtual(Workflow.run(fanOut(workers, durations, probe), { items })))
            assert.deepStrictEqual(exit, Exit.succeed(items.map((s) => `${s}!`)))
            assert.strictEqual(probe.calls, items.length)
            assert.isAtMost(probe.peak, workers)
            if (items.length > 0) assert.strictEqual(probe.peak, Math.min(workers, items.length))
          },
          { numRuns: 60 }
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  it.effect(
    "property: n items of equal duration d on w workers take ceil(n / w) * d of virtual time",
    () =>
      Effect.gen(function* () {
        yield* property(
          [
            fc.integer({ min: 1, max: 40 }),
            fc.integer({ min: 1, max: 16 }),
            fc.integer({ min: 1, max: 5 }).map((n) => n * 10)
          ],
          async (run, n, workers, d) => {
            const items = Array.from({ length: n }, (_, i) => `i${i}`)
            const probe = { running: 0, peak: 0, calls: 0 }
            const { elapsed, exit } = await run(runVirtual(Workflow.run(fanOut(workers, [d], probe), { items })))
            assert.isTrue(Exit.isSuccess(exit))
            assert.strictEqual(Duration.toMillis(elapsed), Math.ceil(n / workers) * d)
          },
          { numRuns: 40 }
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  it.effect(
    "property: with any workers, a step starts its events in the order they were sent, by send or sendAll, past the mailbox limit too",
    () =>
      Effect.gen(function* () {
        yield* property(
          [
            fc.integer({ min: 1, max: 8 }),
            fc.array(
              fc.integer({ min: 1, max: 4 }).map((n) => n * 10),
              { minLength: 1, maxLength: 8 }
            ),
            fc.integer({ min: 1, max: 600 }),
            fc.boolean()
          ],
          async (run, workers, pattern, count, batch) => {
            const durations = Array.from({ length: count }, (_, i) => pattern[i % pattern.length]!)
            const started: Array<number> = []
            const wf = defineWorkflow({ name: "startOrder" })
              .step(StartEvent, (_, ctx) =>
                batch
                  ? ctx.sendAll(durations.map((_, n) => new Ping({ n })))
                  : Effect.gen(function* () {
                      for (let n = 0; n < durations.length; n++) yield* ctx.send(new Ping({ n }))
                    })
              )
              .step(
                Ping,
                (ev, ctx) =>
                  Effect.gen(function* () {
                    started.push(ev.n)
                    yield* Effect.sleep(Duration.millis(durations[ev.n]!))
                    const all = yield* ctx.collect(ev, durations.length)
                    if (Option.isSome(all)) return new StopEvent({ result: [...started] })
                  }),
                { name: "ordered", workers }
              )
            const { exit } = await run(runVirtual(Workflow.run(wf, {})))
            assert.deepStrictEqual(exit, Exit.succeed(durations.map((_, i) => i)))
          },
          { numRuns: 30 }
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  it.effect(
    "per-step FIFO: with workers: 1, events are handled in the order they were sent",
    () =>
      Effect.gen(function* () {
        yield* property(
          [
            fc.array(
              fc.integer({ min: 0, max: 3 }).map((n) => n * 10),
              { minLength: 1, maxLength: 30, size: "max" }
            )
          ],
          async (run, durations) => {
            const seen: Array<number> = []
            const wf = defineWorkflow({ name: "fifo" })
              .step(StartEvent, (_, ctx) =>
                Effect.gen(function* () {
                  for (let n = 0; n < durations.length; n++) {
                    yield* ctx.send(new Ping({ n }))
                    // the mailbox keeps filling while the worker is busy
                    if (n % 3 === 0) yield* Effect.sleep("5 millis")
                  }
                })
              )
              .step(
                Ping,
                (ev) =>
                  Effect.gen(function* () {
                    seen.push(ev.n)
                    if (durations[ev.n]! > 0) yield* Effect.sleep(Duration.millis(durations[ev.n]!))
                    if (ev.n === durations.length - 1) return new StopEvent({ result: [...seen] })
                  }),
                { name: "ordered" }
              )
            const { exit } = await run(runVirtual(Workflow.run(wf, {})))
            assert.deepStrictEqual(exit, Exit.succeed(durations.map((_, i) => i)))
          },
          { numRuns: 30 }
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  it.effect("the first StopEvent wins; every other invocation is interrupted at once and its finalizers run", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const wf = defineWorkflow({ name: "race" })
        .step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            yield* ctx.send(new Ping({ n: 10 }), { step: "fast" })
            yield* ctx.send(new Ping({ n: 20 }), { step: "slow" })
            yield* ctx.send(new Ping({ n: 3_600_000 }), { step: "long" })
          })
        )
        .step(Ping, (ev) => Effect.as(Effect.sleep(Duration.millis(ev.n)), new StopEvent({ result: "fast" })), {
          name: "fast"
        })
        .step(Ping, (ev) => Effect.as(Effect.sleep(Duration.millis(ev.n)), new StopEvent({ result: "slow" })), {
          name: "slow"
        })
        .step(
          Ping,
          (ev) =>
            Effect.scoped(
              Effect.gen(function* () {
                yield* Effect.addFinalizer(() => Effect.sync(() => log.push("finalizer")))
                yield* Effect.sleep(Duration.millis(ev.n))
                log.push("after sleep")
              }).pipe(Effect.onInterrupt(() => Effect.sync(() => log.push("interrupted"))))
            ),
          { name: "long" }
        )
      const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed("fast"))
      assert.strictEqual(Duration.toMillis(elapsed), 10)
      assert.deepStrictEqual(log.sort(), ["finalizer", "interrupted"])
      // nothing of the run is left running: moving the clock far on changes nothing
      yield* TestClock.adjust("3 hours")
      assert.deepStrictEqual(log.sort(), ["finalizer", "interrupted"])
    })
  )

  it.effect("two StopEvents at the same instant: the result is one of them", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "tie" })
        .step(StartEvent, (_, ctx) => Effect.andThen(ctx.send(new Ping({ n: 1 })), ctx.send(new Ping({ n: 2 }))))
        .step(
          Ping,
          (ev) =>
            Effect.gen(function* () {
              yield* Effect.sleep("10 millis")
              return new StopEvent({ result: ev.n })
            }),
          { name: "stopper", workers: 2 }
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.include([1, 2], successOf(exit))
    })
  )

  for (const _tag of ["Ping", "Nope"]) {
    it.effect(`an input field _tag: "${_tag}" does not change where the StartEvent goes, and the run cannot hang`, () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "tagInput" })
          .step(StartEvent, () => Effect.succeed(new StopEvent({ result: "start" })), { name: "start" })
          .step(Ping, () => Effect.succeed(new StopEvent({ result: "wrong step" })), { name: "ping" })
        const { exit } = yield* runVirtual(Workflow.run(wf, { _tag } as {}), { maxTime: "1 minute", tick: "1 second" })
        // either the StartEvent keeps its tag, or the input is refused; never another step, never a hang
        if (Exit.isSuccess(exit)) assert.strictEqual(exit.value, "start")
        else assert.strictEqual(errorOf(exit)._tag, "WorkflowInputError")
      })
    )
  }

  it.effect("interrupting a run interrupts every fiber of it and runs their finalizers", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const wf = defineWorkflow({ name: "cancelled" })
        .step(StartEvent, (_, ctx) => Effect.andThen(ctx.send(new Ping({ n: 1 })), ctx.send(new Ping({ n: 2 }))))
        .step(
          Ping,
          (ev) =>
            Effect.sleep("1 hour").pipe(
              Effect.andThen(Effect.sync(() => log.push(`late ${ev.n}`))),
              Effect.onInterrupt(() => Effect.sync(() => log.push(`interrupted ${ev.n}`))),
              Effect.asVoid
            ),
          { workers: 2 }
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}), { maxTime: "1 second", tick: "100 millis" })
      assert.isTrue(Exit.isFailure(exit))
      assert.deepStrictEqual(log.sort(), ["interrupted 1", "interrupted 2"])
      yield* TestClock.adjust("2 hours")
      assert.deepStrictEqual(log.sort(), ["interrupted 1", "interrupted 2"])
    })
  )
})

describe("Workflow.compile", () => {
  class Tagged extends Schema.TaggedClass<Tagged>()("Tagged", { run: Schema.Number, i: Schema.Number }) {}
  const isolated = defineWorkflow({
    name: "isolated",
    input: Schema.Struct({ run: Schema.Number, count: Schema.Number }),
    state: Schema.Struct({ run: Schema.Number, seen: Schema.Array(Schema.Number) }),
    initialState: { run: -1, seen: [] }
  })
    .step(StartEvent, (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("run", ev.run)
        for (let i = 0; i < ev.count; i++) yield* ctx.send(new Tagged({ run: ev.run, i }))
      })
    )
    .step(
      Tagged,
      (ev, ctx) =>
        Effect.gen(function* () {
          yield* Effect.sleep(Duration.millis(10 * ((ev.i * 7 + ev.run) % 5)))
          yield* ctx.store.edit((s) => Effect.succeed({ ...s, seen: [...s.seen, ev.run] }))
          const all = yield* ctx.collect(ev, (ev.run % 5) + 1)
          if (Option.isNone(all)) return
          const state = yield* ctx.store.getAll
          return new StopEvent({
            result: { run: state.run, seen: state.seen, collected: all.value.map((t) => t.run) }
          })
        }),
      { workers: 3 }
    )

  it.effect("returns a reusable function; 50 concurrent runs share no state, buffers or mailboxes", () =>
    Effect.gen(function* () {
      const runIsolated = yield* Workflow.compile(isolated)
      const runs = Array.from({ length: 50 }, (_, run) => runIsolated({ run, count: (run % 5) + 1 }))
      const { exit } = yield* runVirtual(Effect.all(runs, { concurrency: "unbounded" }))
      const results = successOf(exit)
      results.forEach((r, run) => {
        const count = (run % 5) + 1
        assert.deepStrictEqual(r, {
          run,
          seen: Array.from({ length: count }, () => run),
          collected: Array.from({ length: count }, () => run)
        })
      })
    })
  )

  it.effect(
    "runs never share the initial state: mutating what the store gives back does not leak into the next run",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({
          name: "initial",
          initialState: { seen: [] as Array<number>, meta: { runs: 0 } }
        }).step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            ;(yield* ctx.store.get("seen")).push(1)
            ;(yield* ctx.store.get("meta")).runs++
            return new StopEvent({ result: yield* ctx.store.getAll })
          })
        )
        const first = yield* Workflow.run(wf, {})
        const second = yield* Workflow.run(wf, {})
        assert.deepStrictEqual(first, { seen: [1], meta: { runs: 1 } })
        assert.deepStrictEqual(second, { seen: [1], meta: { runs: 1 } })
      })
  )

  it.effect("fails with WorkflowValidationError when the definition is wrong", () =>
    Effect.gen(function* () {
      const err = yield* Effect.flip(Workflow.compile(defineWorkflow({ name: "empty" })))
      assert.strictEqual(err._tag, "WorkflowValidationError")
    })
  )
})

describe("Workflow.runPromise", () => {
  const hello = defineWorkflow({ name: "hello", input: Schema.Struct({ who: Schema.String }) }).step(StartEvent, (ev) =>
    Effect.succeed(new StopEvent({ result: `Hello, ${ev.who}!` }))
  )

  it("resolves with the result", async () => {
    assert.strictEqual(await Workflow.runPromise(hello, { who: "world" }), "Hello, world!")
  })

  it("rejects with the original error instance", async () => {
    const boom = new Boom({ reason: "typed" })
    const failing = defineWorkflow({ name: "failing" }).step(StartEvent, () => Effect.fail(boom))
    const err = await Workflow.runPromise(failing, {}).then(
      () => assert.fail("expected a rejection"),
      (e: unknown) => e
    )
    assert.strictEqual(err, boom)
  })

  it("rejects with a WorkflowStalledError that is an instance of its class", async () => {
    const stalls = defineWorkflow({ name: "stalls" }).step(StartEvent, () => Effect.void)
    const err = await Workflow.runPromise(stalls, {}).then(
      () => assert.fail("expected a rejection"),
      (e: unknown) => e
    )
    assert.instanceOf(err, WorkflowStalledError)
    assert.strictEqual((err as WorkflowStalledError)._tag, "WorkflowStalledError")
  })

  it("a run whose handlers all return at once needs no fiber: they run in the caller's turn, outside any fiber", async () => {
    const seen: Array<string> = []
    const wf = defineWorkflow({ name: "at-once" })
      .step(StartEvent, () =>
        Effect.sync(() => {
          seen.push("handled")
          return new Ping({ n: Fiber.getCurrent() === undefined ? 1 : 0 })
        })
      )
      .step(Ping, (ev) => Effect.succeed(new StopEvent({ result: ev.n })))
    const result = Workflow.runPromise(wf, {})
    seen.push("returned")
    // Handled before runPromise returned (as in the fiber Effect.runPromise starts at once), with no fiber of its own.
    assert.strictEqual(await result, 1)
    assert.deepStrictEqual(seen, ["handled", "returned"])
  })

  it("a run that must wait gets a fiber for what is left, and ends as it would in one from the start", async () => {
    const order: Array<string> = []
    const wf = defineWorkflow({ name: "waits" })
      .step(StartEvent, () =>
        Effect.sync(() => {
          order.push(`start in a fiber: ${Fiber.getCurrent() !== undefined}`)
          return new Ping({ n: 1 })
        })
      )
      .step(Ping, (ev) =>
        Effect.map(Effect.yieldNow, () => {
          order.push(`after the yield in a fiber: ${Fiber.getCurrent() !== undefined}`)
          return new StopEvent({ result: ev.n + 1 })
        })
      )
    const result = Workflow.runPromise(wf, {})
    order.push("returned")
    assert.strictEqual(await result, 2)
    assert.deepStrictEqual(order, ["start in a fiber: false", "returned", "after the yield in a fiber: true"])
  })

  it("a run that fails at once rejects as one in a fiber would: a defect, bad input, a bad definition", async () => {
    const rejection = (p: Promise<unknown>) =>
      p.then(
        () => assert.fail("expected a rejection"),
        (e: unknown) => e
      )
    const thrown = new Error("thrown")
    const throws = defineWorkflow({ name: "throws" }).step(StartEvent, () =>
      Effect.sync((): StopEvent<number> => {
        throw thrown
      })
    )
    assert.strictEqual(await rejection(Workflow.runPromise(throws, {})), thrown)
    const typed = defineWorkflow({ name: "typed", input: Schema.Struct({ n: Schema.Number }) }).step(StartEvent, (ev) =>
      Effect.succeed(new StopEvent({ result: ev.n }))
    )
    assert.instanceOf(await rejection(Workflow.runPromise(typed, { n: "one" } as any)), WorkflowInputError)
    const empty = defineWorkflow({ name: "empty" })
    assert.strictEqual(
      ((await rejection(Workflow.runPromise(empty as any, {}))) as { _tag: string })._tag,
      "WorkflowValidationError"
    )
  })

  it("an aborted signal interrupts the run: it rejects and the handlers' finalizers run", async () => {
    const log: Array<string> = []
    let started!: () => void
    const running = new Promise<void>((resolve) => (started = resolve))
    const sleeper = defineWorkflow({ name: "aborted" }).step(StartEvent, () =>
      Effect.sync(() => started()).pipe(
        Effect.andThen(Effect.never),
        Effect.onInterrupt(() => Effect.sync(() => log.push("interrupted")))
      )
    )
    const controller = new AbortController()
    const result = Workflow.runPromise(sleeper, {}, { signal: controller.signal }).then(
      () => "resolved",
      () => "rejected"
    )
    await running
    controller.abort()
    assert.strictEqual(await result, "rejected")
    assert.deepStrictEqual(log, ["interrupted"])
  })
})

describe("Workflow: the builder", () => {
  const start = (_: StartEvent, ctx: { send: (ev: Ping) => Effect.Effect<void, any> }) => ctx.send(new Ping({ n: 1 }))

  it("is immutable: adding a step returns a new workflow and leaves the base unchanged", () => {
    const base = defineWorkflow({ name: "base" }).step(StartEvent, start, { name: "start" })
    const a = base.step(Ping, () => Effect.succeed(new StopEvent({ result: "a" })), { name: "a" })
    const b = base.step(Ping, () => Effect.succeed(new StopEvent({ result: "b" })), { name: "b" })
    assert.notStrictEqual(a, base)
    assert.deepStrictEqual(
      base.steps.map((s) => s.name),
      ["start"]
    )
    assert.deepStrictEqual(
      a.steps.map((s) => s.name),
      ["start", "a"]
    )
    assert.deepStrictEqual(
      b.steps.map((s) => s.name),
      ["start", "b"]
    )
  })

  it.effect("two workflows extended from one base run independently", () =>
    Effect.gen(function* () {
      const base = defineWorkflow({ name: "base" }).step(StartEvent, start, { name: "start" })
      const a = base.step(Ping, () => Effect.succeed(new StopEvent({ result: "a" })), { name: "a" })
      const b = base.step(Ping, () => Effect.succeed(new StopEvent({ result: "b" })), { name: "b" })
      assert.strictEqual(yield* Workflow.run(a, {}), "a")
      assert.strictEqual(yield* Workflow.run(b, {}), "b")
    })
  )

  it("is plain data: steps and describe give names, accepts, emits and workers", () => {
    const wf = defineWorkflow({ name: "shape" })
      .step(StartEvent, (_, ctx) => ctx.send(new Item({ item: "x", index: 0, total: 1 })), {
        name: "dispatch",
        emits: [Item]
      })
      .step(Item, (ev) => Effect.succeed(new Processed({ result: ev.item, index: ev.index, total: ev.total })), {
        name: "work",
        workers: 4,
        emits: [Processed]
      })
      .step([Processed, Ping], (_, ctx) => ctx.write(new Ping({ n: 1 })), { name: "sink", writes: [Ping] })
    assert.strictEqual(wf.name, "shape")
    assert.strictEqual(wf.steps.length, 3)
    assert.strictEqual(wf.steps[1]!.workers, 4)
    assert.deepStrictEqual(wf.steps[2]!.accepts, [Processed, Ping])
    const d = Workflow.describe(wf)
    assert.strictEqual(d.name, "shape")
    assert.deepStrictEqual(
      d.steps.map(({ accepts, emits, name, workers, writes }) => ({ name, accepts, emits, writes, workers })),
      [
        { name: "dispatch", accepts: ["StartEvent"], emits: ["Item"], writes: undefined, workers: 1 },
        { name: "work", accepts: ["Item"], emits: ["Processed"], writes: undefined, workers: 4 },
        { name: "sink", accepts: ["Processed", "Ping"], emits: undefined, writes: ["Ping"], workers: 1 }
      ]
    )
    // describe is serialisable plain data
    assert.deepStrictEqual(JSON.parse(JSON.stringify(d)), JSON.parse(JSON.stringify(Workflow.describe(wf))))
  })

  it("default step name: the handler's function name, else handle + the accepted tags; default workers 1", () => {
    function dispatch() {
      return Effect.void
    }
    const wf = defineWorkflow()
      .step(StartEvent, dispatch)
      .step(Ping, () => Effect.void)
      .step([Item, Processed], () => Effect.void)
    assert.deepStrictEqual(
      wf.steps.map((s) => s.name),
      ["dispatch", "handlePing", "handleItemOrProcessed"]
    )
    assert.deepStrictEqual(
      wf.steps.map((s) => s.workers),
      [1, 1, 1]
    )
    assert.strictEqual(defineWorkflow().name, "workflow")
  })

  it.effect("Step.make defines a step once; it can be added to two workflows", () =>
    Effect.gen(function* () {
      const double = Step.make(Ping, (ev) => Effect.succeed(new StopEvent({ result: ev.n * 2 })), { name: "double" })
      const a = defineWorkflow({ name: "a" })
        .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 })))
        .step(double)
      const b = defineWorkflow({ name: "b" })
        .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 21 })))
        .step(double)
      assert.strictEqual(a.steps[1], double)
      assert.strictEqual(b.steps[1], double)
      assert.strictEqual(yield* Workflow.run(a, {}), 2)
      assert.strictEqual(yield* Workflow.run(b, {}), 42)
    })
  )

  it.effect("Workflow.combine appends the steps of one workflow to another, data-first and data-last", () =>
    Effect.gen(function* () {
      const dispatching = defineWorkflow({ name: "combined" }).step(StartEvent, start, { name: "start" })
      const finishing = defineWorkflow().step(Ping, (ev) => Effect.succeed(new StopEvent({ result: ev.n })), {
        name: "finish"
      })
      const full = Workflow.combine(dispatching, finishing)
      const piped = dispatching.pipe(Workflow.combine(finishing))
      assert.deepStrictEqual(
        full.steps.map((s) => s.name),
        ["start", "finish"]
      )
      assert.deepStrictEqual(
        piped.steps.map((s) => s.name),
        ["start", "finish"]
      )
      assert.strictEqual(full.name, "combined")
      assert.deepStrictEqual(
        dispatching.steps.map((s) => s.name),
        ["start"]
      )
      assert.strictEqual(yield* Workflow.run(full, {}), 1)
    })
  )

  it.effect("pipe: wf.pipe(Workflow.run(input)) runs data-last", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "piped", input: Schema.Struct({ n: Schema.Number }) }).step(StartEvent, (ev) =>
        Effect.succeed(new StopEvent({ result: ev.n + 1 }))
      )
      assert.strictEqual(yield* wf.pipe(Workflow.run({ n: 41 })), 42)
    })
  )

  it.effect("a handler's typed error reaches Workflow.run unchanged (the same instance)", () =>
    Effect.gen(function* () {
      const boom = new Boom({ reason: "x" })
      const wf = defineWorkflow({ name: "typed" }).step(StartEvent, () => Effect.fail(boom))
      const exit = yield* Effect.exit(Workflow.run(wf, {}))
      assert.strictEqual(errorOf(exit), boom)
    })
  )
})
