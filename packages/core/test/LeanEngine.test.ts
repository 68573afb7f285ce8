/**
 * Probes of the lean interpreter (handlers run in place, workers started in the sender's fiber,
 * a run listing its own fibers): finalizers on cancel and timeout, services, defects, deep chains, store atomicity,
 * and results against a sequential map.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, Event, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Context, Effect, Exit, Fiber, Logger, Option, References, Schedule, Schema } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

class Item extends Event.TaggedData("Item")<{ readonly n: number }> {}
class Done extends Event.TaggedData("Done")<{ readonly n: number }> {}
class Hop extends Event.TaggedData("Hop")<{ readonly n: number }> {}

class Multiplier extends Context.Service<Multiplier, { readonly times: number }>()("probe/Multiplier") {}

describe("the lean engine, as workflows use it", () => {
  it.effect("cancel while handlers sleep: each generator finally and ensuring runs exactly once", () =>
    Effect.scoped(
      Effect.gen(function* () {
        const log = { finally: 0, ensuring: 0, after: 0 }
        const wf = defineWorkflow({ name: "cancelling" })
          .step(StartEvent, (_, ctx) => ctx.sendAll(Array.from({ length: 6 }, (_, n) => new Item({ n }))), {
            name: "dispatch",
            emits: [Item]
          })
          .step(
            Item,
            (ev) =>
              ev.n % 2 === 0
                ? Effect.onInterrupt(
                    Effect.gen(function* () {
                      yield* Effect.sleep("10 seconds")
                      log.after++
                      return new Done({ n: ev.n })
                    }),
                    () => Effect.sync(() => log.finally++)
                  )
                : Effect.ensuring(
                    Effect.as(
                      Effect.andThen(
                        Effect.sleep("10 seconds"),
                        Effect.sync(() => log.after++)
                      ),
                      new Done({ n: ev.n })
                    ),
                    Effect.sync(() => log.ensuring++)
                  ),
            { name: "work", workers: 3, emits: [Done] }
          )
          .step(Done, () => Effect.succeed(new StopEvent({ result: 1 })), { name: "end", emits: [StopEvent] })
        const handle = yield* Workflow.start(wf, {})
        yield* TestClock.adjust("1 second")
        yield* handle.cancel
        yield* TestClock.adjust("1 minute")
        // 3 workers: items 0, 1, 2 started (0 and 2 generators, 1 an ensuring chain); none may run on.
        assert.deepStrictEqual(log, { finally: 2, ensuring: 1, after: 0 })
        const exit = yield* Effect.exit(handle.result)
        assert.isTrue(Exit.isFailure(exit))
      })
    )
  )

  it.effect("a run's timeout while generator handlers are in retry backoff and sleeping: no work after the end", () =>
    Effect.gen(function* () {
      const log = { attempts: 0, finally: 0, afterEnd: 0 }
      let ended = false
      const wf = defineWorkflow({ name: "timing-out", timeout: "5 seconds" })
        .step(StartEvent, (_, ctx) => ctx.sendAll([new Item({ n: 0 }), new Item({ n: 1 })]), {
          name: "dispatch",
          emits: [Item]
        })
        .step(
          Item,
          (ev) =>
            Effect.ensuring(
              Effect.gen(function* () {
                log.attempts++
                if (ended) log.afterEnd++
                if (ev.n === 0) return yield* Effect.fail("again")
                yield* Effect.sleep("1 hour")
                return new StopEvent({ result: 1 })
              }),
              Effect.sync(() => log.finally++)
            ),
          { name: "work", workers: 2, emits: [StopEvent], retry: Schedule.spaced("1 second") }
        )
      const fiber = yield* Effect.forkChild(Effect.exit(Workflow.run(wf, {})))
      yield* TestClock.adjust("4500 millis")
      yield* TestClock.adjust("1 second")
      const exit = yield* Fiber.join(fiber)
      ended = true
      assert.isTrue(Exit.isFailure(exit))
      yield* TestClock.adjust("1 minute")
      assert.strictEqual(log.afterEnd, 0)
      // Item 0 at 0, 1, 2, 3 and 4 s, item 1 once; each attempt's finalizer once, nothing after the end.
      assert.strictEqual(log.attempts, 6)
      assert.strictEqual(log.finally, log.attempts)
    })
  )

  it.effect(
    "services: yield* of a service in Effect.gen, and provideService inside a handler, in place and started",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "services" })
          .step(StartEvent, (_, ctx) => ctx.sendAll([new Item({ n: 1 }), new Item({ n: 2 })]), {
            name: "dispatch",
            emits: [Item]
          })
          .step(
            Item,
            (ev) =>
              Effect.gen(function* () {
                const m = yield* Multiplier
                return new Done({ n: ev.n * m.times })
              }),
            { name: "work", workers: 2, emits: [Done] }
          )
          .step(
            Done,
            (ev, ctx) =>
              Effect.flatMap(
                Effect.provideService(
                  Effect.gen(function* () {
                    return (yield* Multiplier).times
                  }),
                  Multiplier,
                  { times: 1000 }
                ),
                (k) =>
                  Effect.map(ctx.collect(ev, 2), (all) =>
                    Option.isSome(all)
                      ? new StopEvent({ result: all.value.map((d) => d.n + k).sort((a, b) => a - b) })
                      : undefined
                  )
              ),
            { name: "collect", emits: [StopEvent] }
          )
        const ran = yield* Effect.provideService(Workflow.run(wf, {}), Multiplier, { times: 10 })
        assert.deepStrictEqual(ran, [1010, 1020])
        const started = yield* Effect.scoped(
          Effect.provideService(
            Effect.flatMap(Workflow.start(wf, {}), (h) => h.result),
            Multiplier,
            { times: 3 }
          )
        )
        assert.deepStrictEqual(started, [1003, 1006])
      })
  )

  it.effect("a service the sender provides around ctx.send does not reach the receiving step", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "leak" })
        .step(
          StartEvent,
          (_, ctx) =>
            Effect.andThen(
              Effect.provideService(ctx.send(new Item({ n: 1 })), Multiplier, { times: 1000 }),
              ctx.send(new Item({ n: 2 }))
            ),
          { name: "dispatch", emits: [Item] }
        )
        .step(
          Item,
          (ev) =>
            Effect.gen(function* () {
              yield* Effect.yieldNow
              const m = yield* Multiplier
              return new Done({ n: ev.n * m.times })
            }),
          { name: "work", workers: 1, emits: [Done] }
        )
        .step(
          Done,
          (ev, ctx) =>
            Effect.map(ctx.collect(ev, 2), (all) =>
              Option.isSome(all)
                ? new StopEvent({ result: all.value.map((d) => d.n).sort((a, b) => a - b) })
                : undefined
            ),
          { name: "collect", emits: [StopEvent] }
        )
      const ran = yield* Effect.provideService(Workflow.run(wf, {}), Multiplier, { times: 10 })
      assert.deepStrictEqual(ran, [10, 20])
    })
  )

  it.effect(
    "log annotations, spans and level set around a sender's ctx.send do not reach the receiving step's logs",
    () =>
      Effect.gen(function* () {
        const seen: Array<string> = []
        const wf = defineWorkflow({ name: "annotated" })
          .step(
            StartEvent,
            (_, ctx) =>
              Effect.andThen(Effect.logWarning("a"), ctx.send(new Item({ n: 1 }))).pipe(
                Effect.annotateLogs("step", "first"),
                Effect.withLogSpan("first"),
                Effect.provideService(References.MinimumLogLevel, "Warn")
              ),
            { name: "first", emits: [Item] }
          )
          .step(Item, () => Effect.as(Effect.logInfo("b"), new StopEvent({ result: 1 })), {
            name: "second",
            emits: [StopEvent]
          })
        const logger = Logger.make(({ fiber, message }) => {
          const spans = fiber.getRef(References.CurrentLogSpans).map(([label]) => label)
          seen.push(`${String(message)}:${JSON.stringify(fiber.getRef(References.CurrentLogAnnotations))}:${spans}`)
        })
        yield* Effect.provide(Workflow.run(wf, {}), Logger.layer([logger]))
        // "b" is logged at Info: it would be dropped had the sender's minimum level (Warn) reached it.
        assert.deepStrictEqual(seen, ['a:{"step":"first"}:first', "b:{}:"])
      })
  )

  it.effect("a throw in Effect.sync or a map, run in place, ends the run as a defect, not retried", () =>
    Effect.gen(function* () {
      let attempts = 0
      const wf = defineWorkflow({ name: "throwing" }).step(
        StartEvent,
        () =>
          Effect.map(
            Effect.sync(() => {
              attempts++
              if (attempts < 3) throw new Error("boom")
              return attempts
            }),
            (n) => new StopEvent({ result: n })
          ),
        { name: "s", emits: [StopEvent], retry: Schedule.recurs(5) }
      )
      // A defect is not retried: it ends the run as a defect, in place as in a fiber.
      const thrown = yield* Effect.exit(Workflow.run(wf, {}))
      assert.isTrue(Exit.isFailure(thrown) && String(thrown.cause).includes("boom"))
      assert.strictEqual(attempts, 1)
      const failing = defineWorkflow({ name: "throwing2" }).step(
        StartEvent,
        () =>
          Effect.map(Effect.succeed(1), (): StopEvent<number> => {
            throw new Error("mapped")
          }),
        { name: "s", emits: [StopEvent] }
      )
      const exit = yield* Effect.exit(Workflow.run(failing, {}))
      assert.isTrue(Exit.isFailure(exit))
      assert.include(String(Exit.isFailure(exit) ? exit.cause : ""), "mapped")
    })
  )

  it.effect(
    "catch around failing ctx-built chains, Effect.exit, orElse and uninterruptible give what a fiber gives",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({
          name: "catching",
          state: Schema.Struct({ k: Schema.Number }),
          initialState: { k: 5 }
        }).step(
          StartEvent,
          (_, ctx) =>
            Effect.flatMap(
              Effect.exit(
                Effect.flatMap(ctx.store.get("k"), (k) => (k > 1 ? Effect.fail(`big ${k}`) : Effect.succeed(k)))
              ),
              (exit) =>
                Effect.flatMap(
                  Effect.orElseSucceed(
                    Effect.flatMap(ctx.store.get("k"), () => Effect.fail("x")),
                    () => 7
                  ),
                  (seven) =>
                    Effect.uninterruptible(
                      Effect.map(ctx.store.get("k"), (k) => new StopEvent({ result: [Exit.isFailure(exit), seven, k] }))
                    )
                )
            ),
          { name: "s", emits: [StopEvent] }
        )
        assert.deepStrictEqual(yield* Workflow.run(wf, {}), [true, 7, 5])
      })
  )

  it.effect("a loop of 100,000 hops and a handler with a 10,000-deep flatMap chain", () =>
    Effect.gen(function* () {
      const loop = defineWorkflow({ name: "loop", input: Schema.Struct({ hops: Schema.Number }) })
        .step(StartEvent, (ev) => Effect.succeed(new Hop({ n: ev.hops })), { name: "start", emits: [Hop] })
        .step(Hop, (ev) => Effect.succeed(ev.n === 0 ? new StopEvent({ result: "done" }) : new Hop({ n: ev.n - 1 })), {
          name: "hop",
          emits: [Hop, StopEvent]
        })
      assert.strictEqual(yield* Workflow.run(loop, { hops: 100_000 }), "done")
      const deep = defineWorkflow({ name: "deep" }).step(
        StartEvent,
        () => {
          let e: Effect.Effect<number> = Effect.succeed(0)
          for (let i = 0; i < 10_000; i++) e = Effect.flatMap(e, (n) => Effect.succeed(n + 1))
          let r: Effect.Effect<number> = Effect.succeed(0)
          const nest = (i: number, n: number): Effect.Effect<number> =>
            i === 0
              ? Effect.succeed(n)
              : Effect.flatMap(
                  Effect.sync(() => n + 1),
                  (m) => nest(i - 1, m)
                )
          r = nest(10_000, 0)
          return Effect.flatMap(e, (a) => Effect.map(r, (b) => new StopEvent({ result: a + b })))
        },
        { name: "s", emits: [StopEvent] }
      )
      assert.strictEqual(yield* Workflow.run(deep, {}), 20_000)
    })
  )

  it.effect("fan-out of 100,000 with 1 and 64 workers", () =>
    Effect.gen(function* () {
      for (const workers of [1, 64]) {
        const wf = defineWorkflow({ name: "fan", input: Schema.Struct({ count: Schema.Number }) })
          .step(StartEvent, (ev, ctx) => ctx.sendAll(Array.from({ length: ev.count }, (_, n) => new Item({ n }))), {
            name: "dispatch",
            emits: [Item]
          })
          .step(Item, (ev) => Effect.succeed(new Done({ n: ev.n })), { name: "work", workers, emits: [Done] })
          .step(
            Done,
            (ev, ctx) =>
              Effect.map(ctx.collect(ev, 100_000), (all) =>
                Option.isSome(all) ? new StopEvent({ result: all.value.reduce((s, d) => s + d.n, 0) }) : undefined
              ),
            { name: "collect", emits: [StopEvent] }
          )
        assert.strictEqual(yield* Workflow.run(wf, { count: 100_000 }), (100_000 * 99_999) / 2)
      }
    })
  )

  it.effect("property: N increments by store.edit from in-place and fiber workers give N", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.constantFrom("sync", "yield", "sleep0", "gen"), { minLength: 1, maxLength: 60 }),
          fc.integer({ min: 1, max: 8 }),
          async (kinds, workers) => {
            const wf = defineWorkflow({
              name: "edits",
              state: Schema.Struct({ count: Schema.Number }),
              initialState: { count: 0 }
            })
              .step(StartEvent, (_, ctx) => ctx.sendAll(kinds.map((_, n) => new Item({ n }))), {
                name: "dispatch",
                emits: [Item]
              })
              .step(
                Item,
                (ev, ctx) => {
                  const kind = kinds[ev.n]!
                  const edit = ctx.store.edit((s) => Effect.succeed({ ...s, count: s.count + 1 }))
                  const done = new Done({ n: ev.n })
                  if (kind === "sync") return Effect.as(edit, done)
                  if (kind === "yield") return Effect.as(Effect.andThen(Effect.yieldNow, edit), done)
                  if (kind === "sleep0") return Effect.as(Effect.andThen(edit, Effect.sleep(0)), done)
                  return Effect.gen(function* () {
                    yield* Effect.yieldNow
                    yield* edit
                    return done
                  })
                },
                { name: "work", workers, emits: [Done] }
              )
              .step(
                Done,
                (ev, ctx) =>
                  Effect.flatMap(ctx.collect(ev, kinds.length), (all) =>
                    Option.isSome(all)
                      ? Effect.map(ctx.store.get("count"), (count) => new StopEvent({ result: count }))
                      : Effect.succeed(undefined)
                  ),
                { name: "collect", emits: [StopEvent] }
              )
            const count = await Effect.runPromise(Workflow.run(wf, {}))
            return count === kinds.length
          }
        ),
        { numRuns: 60 }
      )
    )
  )

  it.effect("property: random sync/async handler mixes give the sequential map's result", () =>
    Effect.promise(() =>
      fc.assert(
        fc.asyncProperty(
          fc.array(fc.tuple(fc.integer({ min: -1000, max: 1000 }), fc.constantFrom(0, 1, 2, 3, 4)), {
            minLength: 0,
            maxLength: 80
          }),
          fc.integer({ min: 1, max: 6 }),
          async (items, workers) => {
            const f = (n: number) => n * 3 - 1
            const wf = defineWorkflow({ name: "mix" })
              .step(
                StartEvent,
                (_, ctx) =>
                  items.length === 0
                    ? Effect.succeed(new StopEvent({ result: [] as Array<number> }))
                    : Effect.as(ctx.sendAll(items.map((_, n) => new Item({ n }))), undefined),
                { name: "dispatch", emits: [Item, StopEvent] }
              )
              .step(
                Item,
                (ev) => {
                  const [v, kind] = items[ev.n]!
                  const out = new Done({ n: ev.n })
                  switch (kind) {
                    case 0:
                      return Effect.succeed(out)
                    case 1:
                      return Effect.map(Effect.yieldNow, () => out)
                    case 2:
                      return Effect.gen(function* () {
                        yield* Effect.promise(() => Promise.resolve(v))
                        return out
                      })
                    case 3:
                      return Effect.flatMap(
                        Effect.sync(() => v),
                        () => Effect.succeed(out)
                      )
                    default:
                      return Effect.as(Effect.sleep(0), out)
                  }
                },
                { name: "work", workers, emits: [Done] }
              )
              .step(
                Done,
                (ev, ctx) =>
                  Effect.map(ctx.collect(ev, items.length), (all) =>
                    Option.isSome(all)
                      ? new StopEvent({
                          result: [...all.value].sort((a, b) => a.n - b.n).map((d) => f(items[d.n]![0]))
                        })
                      : undefined
                  ),
                { name: "collect", emits: [StopEvent] }
              )
            const result = await Effect.runPromise(Workflow.run(wf, {}))
            assert.deepStrictEqual(
              result,
              items.map(([v]) => f(v))
            )
          }
        ),
        { numRuns: 60 }
      )
    )
  )
})
