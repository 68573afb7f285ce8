import { assert, describe, it } from "@effect/vitest"
import type { Context as Ctx } from "@effect-flow/core"
import {
  defineWorkflow,
  NestedStoreEditError,
  StartEvent,
  StopEvent,
  UnhandledEventError,
  Workflow,
  WorkflowStalledError
} from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit, Option, Schema } from "effect"
import * as fc from "fast-check"
import {
  Boom,
  defectOf,
  errorOf,
  Failure,
  HEAVY_TEST_TIMEOUT,
  Item,
  Orphan,
  Ping,
  PingPong,
  property,
  Success,
  successOf
} from "./fixtures/events.ts"

/**
 * A workflow whose start step runs `send`, waits 1 s of virtual time (long enough for every other step to
 * have handled what it was sent) and stops with the log of which step saw which event.
 */
const routing = (log: Array<string>) => {
  const record = (ev: Ping | PingPong, ctx: { readonly step: string }) =>
    Effect.sync(() => {
      log.push(`${ctx.step}:${ev._tag}${ev.n}`)
    })
  return defineWorkflow({ name: "routing" })
    .step(Ping, record, { name: "a" })
    .step(Ping, record, { name: "b" })
    .step(PingPong, record, { name: "pong" })
}

describe("StepContext.send", () => {
  it.effect("routes by exact _tag and broadcasts to every step that accepts the tag", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const wf = routing(log).step(StartEvent, (_, ctx) =>
        Effect.gen(function* () {
          yield* ctx.send(new Ping({ n: 1 }))
          yield* Effect.sleep("1 second")
          return new StopEvent({ result: [...log].sort() })
        })
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed(["a:Ping1", "b:Ping1"]))
    })
  )

  it.effect("a returned event is broadcast too", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const wf = routing(log)
        .step(StartEvent, () => Effect.succeed(new PingPong({ n: 2 })), { name: "start" })
        .step(PingPong, () => Effect.as(Effect.sleep("1 second"), new StopEvent({ result: [...log].sort() })), {
          name: "stopper"
        })
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed(["pong:PingPong2"]))
    })
  )

  it.effect("ctx.send(ev, { step }) delivers to the named step only", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const wf = routing(log).step(StartEvent, (_, ctx) =>
        Effect.gen(function* () {
          yield* ctx.send(new Ping({ n: 3 }), { step: "b" })
          yield* Effect.sleep("1 second")
          return new StopEvent({ result: [...log] })
        })
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed(["b:Ping3"]))
    })
  )

  it.effect("ctx.sendAll routes every event in order, broadcasting each, or to the named step only", () =>
    Effect.gen(function* () {
      const log: Array<string> = []
      const wf = routing(log).step(StartEvent, (_, ctx) =>
        Effect.gen(function* () {
          yield* ctx.sendAll([new Ping({ n: 1 }), new PingPong({ n: 2 }), new Ping({ n: 3 })])
          yield* ctx.sendAll(
            (function* () {
              yield new Ping({ n: 4 })
              yield new Ping({ n: 5 })
            })(),
            { step: "b" }
          )
          yield* ctx.sendAll([])
          yield* Effect.sleep("1 second")
          return new StopEvent({ result: [...log] })
        })
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      const seen = successOf(exit) as Array<string>
      // Each step (one worker) sees its events in the order they were sent.
      assert.deepStrictEqual(
        seen.filter((s) => s.startsWith("a:")),
        ["a:Ping1", "a:Ping3"]
      )
      assert.deepStrictEqual(
        seen.filter((s) => s.startsWith("b:")),
        ["b:Ping1", "b:Ping3", "b:Ping4", "b:Ping5"]
      )
      assert.deepStrictEqual(
        seen.filter((s) => s.startsWith("pong:")),
        ["pong:PingPong2"]
      )
    })
  )

  it.effect("ctx.sendAll with an event no step accepts fails there; the events before it were routed", () =>
    Effect.gen(function* () {
      const wf = routing([]).step(
        StartEvent,
        (_, ctx) => ctx.sendAll([new Ping({ n: 1 }), new Orphan(), new Ping({ n: 2 })]),
        { name: "start" }
      )
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.strictEqual(err._tag, "UnhandledEventError")
      assert.include(err.message, "Orphan")
      assert.include(err.message, '"start"')
      // Caught in the handler: Ping 1 was routed, Ping 2 was not.
      const log: Array<string> = []
      const caught = defineWorkflow({ name: "caught" })
        .step(Ping, (ev) =>
          Effect.sync(() => {
            log.push(`p:${ev.n}`)
          })
        )
        .step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            const sent = yield* Effect.flip(ctx.sendAll([new Ping({ n: 1 }), new Orphan(), new Ping({ n: 2 })]))
            yield* Effect.sleep("1 second")
            return new StopEvent({ result: { error: sent.event, log: [...log] } })
          })
        )
      const { exit } = yield* runVirtual(Workflow.run(caught, {}))
      assert.deepStrictEqual(successOf(exit), { error: "Orphan", log: ["p:1"] })
    })
  )

  it.effect("a targeted send to an unknown step fails the run with UnhandledEventError naming both", () =>
    Effect.gen(function* () {
      const wf = routing([]).step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 }), { step: "nosuch" }), {
        name: "start"
      })
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.instanceOf(err, UnhandledEventError)
      assert.strictEqual(err._tag, "UnhandledEventError")
      const e = err as UnhandledEventError
      assert.strictEqual(e.step, "start")
      assert.strictEqual(e.event, "Ping")
      assert.include(e.message, "nosuch")
      assert.include(e.message, "Ping")
      assert.include(e.message, "routing")
      assert.include(e.message, "start")
    })
  )

  it.effect("a StopEvent sent to a named step is an error, not the end of the run", () =>
    Effect.gen(function* () {
      const wf = routing([]).step(StartEvent, (_, ctx) => ctx.send(new StopEvent({ result: 1 }), { step: "nosuch" }), {
        name: "start"
      })
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.strictEqual(err._tag, "UnhandledEventError")
      assert.include(err.message, "nosuch")
      assert.include(err.message, "StopEvent")
    })
  )

  it.effect("a targeted send to a step that does not accept the event fails with UnhandledEventError naming both", () =>
    Effect.gen(function* () {
      const wf = routing([]).step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 }), { step: "pong" }), {
        name: "start"
      })
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.strictEqual(err._tag, "UnhandledEventError")
      assert.include(err.message, "pong")
      assert.include(err.message, "Ping")
      assert.include(err.message, "PingPong")
    })
  )

  it.effect("sending an event that no step accepts fails with UnhandledEventError naming the event and the step", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "orphans" }).step(StartEvent, (_, ctx) => ctx.send(new Orphan()), {
        name: "start"
      })
      const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
      assert.strictEqual(err._tag, "UnhandledEventError")
      assert.include(err.message, "Orphan")
      assert.include(err.message, '"start"')
      assert.include(err.message, '"orphans"')
    })
  )

  it.effect(
    "a send of another tag after many of one, by a generator or an arrow, is still held to the step's emits",
    () =>
      Effect.gen(function* () {
        const sends = function* (_: StartEvent, ctx: Ctx<{}, Ping>) {
          for (let n = 0; n < 3; n++) yield* ctx.send(new Ping({ n }))
          // Not in `emits`: refused, though the step's last sends went straight to their step.
          yield* ctx.send(new Orphan() as unknown as Ping)
        }
        for (const handler of [sends, (ev: StartEvent, ctx: Ctx<{}, Ping>) => Effect.gen(() => sends(ev, ctx))]) {
          const wf = defineWorkflow({ name: "emits" })
            .step(StartEvent, handler, { name: "start", emits: [Ping] })
            .step(Ping, () => Effect.void, { name: "ping" })
            .step(Orphan, () => Effect.succeed(new StopEvent({ result: "reached" })), { name: "orphan" })
          const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
          assert.strictEqual(err._tag, "UnhandledEventError")
          assert.include(err.message, "Orphan")
          assert.include(err.message, "emits")
        }
      })
  )

  it.effect(
    "returning an event that no step accepts fails with UnhandledEventError naming the event and the step",
    () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "orphans" })
          .step(StartEvent, () => Effect.succeed(new Ping({ n: 1 })), { name: "start" })
          .step(Ping, () => Effect.succeed(new Orphan()), { name: "pinger" })
        const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
        assert.strictEqual(err._tag, "UnhandledEventError")
        assert.strictEqual((err as UnhandledEventError).step, "pinger")
        assert.strictEqual((err as UnhandledEventError).event, "Orphan")
        assert.include(err.message, "Orphan")
        assert.include(err.message, '"pinger"')
      })
  )

  it.effect("returning a value that is not an event fails clearly", () =>
    Effect.gen(function* () {
      for (const value of [42, "done", { result: 1 }]) {
        const wf = defineWorkflow({ name: "values" }).step(StartEvent, () => Effect.succeed(value as any), {
          name: "start"
        })
        const err = errorOf(yield* Effect.exit(Workflow.run(wf, {})))
        assert.strictEqual(err._tag, "UnhandledEventError")
        assert.include(err.message, '"start"')
        assert.include(err.message, "not an event")
      }
    })
  )
})

describe("StepContext.collect", () => {
  it.effect(
    "property: with workers > 1 on the collecting step, exactly one invocation gets each completed round",
    () =>
      Effect.gen(function* () {
        yield* property(
          [
            fc.integer({ min: 1, max: 8 }),
            fc.integer({ min: 1, max: 6 }),
            fc.integer({ min: 1, max: 5 }),
            fc.array(
              fc.integer({ min: 0, max: 3 }).map((n) => n * 10),
              { minLength: 1, maxLength: 10 }
            )
          ],
          async (run, workers, n, rounds, delays) => {
            const received: Array<ReadonlyArray<number>> = []
            const wf = defineWorkflow({ name: "rounds" })
              .step(StartEvent, (_, ctx) =>
                Effect.gen(function* () {
                  for (let id = 0; id < n * rounds; id++) yield* ctx.send(new Success({ id }))
                })
              )
              .step(
                Success,
                (ev, ctx) =>
                  Effect.gen(function* () {
                    const d = delays[ev.id % delays.length]!
                    if (d > 0) yield* Effect.sleep(Duration.millis(d))
                    const got = yield* ctx.collect(ev, n)
                    if (Option.isNone(got)) return
                    received.push(got.value.map((e) => e.id))
                    if (received.length === rounds) return new StopEvent({ result: received.length })
                  }),
                { name: "collector", workers }
              )
            const { exit } = await run(runVirtual(Workflow.run(wf, {})))
            assert.deepStrictEqual(exit, Exit.succeed(rounds))
            assert.strictEqual(received.length, rounds)
            for (const round of received) assert.strictEqual(round.length, n)
            assert.deepStrictEqual(
              received.flat().sort((a, b) => a - b),
              Array.from({ length: n * rounds }, (_, i) => i)
            )
          },
          { numRuns: 60 }
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  it.effect(
    "property: the list form with workers > 1 gives each round (one per listed class) to exactly one invocation",
    () =>
      Effect.gen(function* () {
        yield* property(
          [
            fc.integer({ min: 1, max: 8 }),
            fc.integer({ min: 1, max: 10 }).chain((rounds) =>
              fc.shuffledSubarray(
                Array.from({ length: 2 * rounds }, (_, i) => i),
                { minLength: 2 * rounds, maxLength: 2 * rounds }
              )
            ),
            fc.array(
              fc.integer({ min: 0, max: 3 }).map((n) => n * 10),
              { minLength: 1, maxLength: 10 }
            )
          ],
          async (run, workers, order, delays) => {
            const rounds = order.length / 2
            const received: Array<ReadonlyArray<string>> = []
            const wf = defineWorkflow({ name: "listRounds" })
              .step(StartEvent, (_, ctx) =>
                Effect.gen(function* () {
                  // ids below `rounds` are Success, the others Failure, sent in a random interleaving
                  for (const id of order) yield* ctx.send(id < rounds ? new Success({ id }) : new Failure({ id }))
                })
              )
              .step(
                [Success, Failure],
                (ev, ctx) =>
                  Effect.gen(function* () {
                    const d = delays[ev.id % delays.length]!
                    if (d > 0) yield* Effect.sleep(Duration.millis(d))
                    const got = yield* ctx.collect(ev, [Failure, Success])
                    if (Option.isNone(got)) return
                    received.push(got.value.map((e) => `${e._tag}${e.id}`))
                    if (received.length === rounds) return new StopEvent({ result: received.length })
                  }),
                { name: "pairs", workers }
              )
            const { exit } = await run(runVirtual(Workflow.run(wf, {})))
            assert.deepStrictEqual(exit, Exit.succeed(rounds))
            for (const round of received) {
              assert.strictEqual(round.length, 2)
              assert.match(round[0]!, /^Failure/)
              assert.match(round[1]!, /^Success/)
            }
            const all = received.flat().map((s) => Number(s.replace(/\D/g, "")))
            assert.deepStrictEqual(
              all.sort((a, b) => a - b),
              Array.from({ length: 2 * rounds }, (_, i) => i)
            )
          },
          { numRuns: 40 }
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  it.effect("surplus events are kept for the next round: 2n events give two rounds of n, in arrival order", () =>
    Effect.gen(function* () {
      const rounds: Array<ReadonlyArray<number>> = []
      const wf = defineWorkflow({ name: "surplus" })
        .step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            for (let id = 0; id < 6; id++) yield* ctx.send(new Success({ id }))
          })
        )
        .step(Success, (ev, ctx) =>
          Effect.gen(function* () {
            const got = yield* ctx.collect(ev, 3)
            if (Option.isNone(got)) return
            rounds.push(got.value.map((e) => e.id))
            if (rounds.length === 2) return new StopEvent({ result: rounds })
          })
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(
        exit,
        Exit.succeed([
          [0, 1, 2],
          [3, 4, 5]
        ])
      )
    })
  )

  it.effect("collect(ev, 0) and collect(ev, []) return Some([]) at once", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "zero" }).step(StartEvent, (_, ctx) =>
        Effect.gen(function* () {
          const a = yield* ctx.collect(new Success({ id: 1 }), 0)
          const b = yield* ctx.collect(new Success({ id: 2 }), [])
          return new StopEvent({ result: [a, b] })
        })
      )
      const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed([Option.some([]), Option.some([])]))
      assert.strictEqual(Duration.toMillis(elapsed), 0)
    })
  )

  it.effect(
    "the list form returns the listed order, arrival order within a class; a class listed k times waits for k",
    () =>
      Effect.gen(function* () {
        const calls: Array<string> = []
        const wf = defineWorkflow({ name: "listed" })
          .step(StartEvent, (_, ctx) =>
            Effect.gen(function* () {
              yield* ctx.send(new Failure({ id: 1 }))
              yield* ctx.send(new Success({ id: 2 }))
              yield* ctx.send(new Failure({ id: 3 }))
              yield* ctx.send(new Success({ id: 4 }))
            })
          )
          .step([Success, Failure], (ev, ctx) =>
            Effect.gen(function* () {
              const got = yield* ctx.collect(ev, [Success, Failure, Success])
              calls.push(Option.isSome(got) ? "some" : "none")
              if (Option.isNone(got)) return
              return new StopEvent({ result: got.value.map((e) => `${e._tag}${e.id}`) })
            })
          )
        const { exit } = yield* runVirtual(Workflow.run(wf, {}))
        assert.deepStrictEqual(exit, Exit.succeed(["Success2", "Failure1", "Success4"]))
        // Failure1, Success2, Failure3 were not enough: Success is listed twice
        assert.deepStrictEqual(calls, ["none", "none", "none", "some"])
      })
  )

  it.effect("a class listed k times with fewer than k sent: the run stalls, saying what is held and needed", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "short" })
        .step(StartEvent, (_, ctx) =>
          Effect.andThen(ctx.send(new Success({ id: 1 })), ctx.send(new Failure({ id: 2 })))
        )
        .step(
          [Success, Failure],
          (ev, ctx) =>
            Effect.gen(function* () {
              const got = yield* ctx.collect(ev, [Success, Success, Failure])
              if (Option.isSome(got)) return new StopEvent({ result: got.value })
            }),
          { name: "gather" }
        )
      const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, {}))
      const err = errorOf(exit)
      assert.instanceOf(err, WorkflowStalledError)
      assert.strictEqual(Duration.toMillis(elapsed), 0)
      const c = (err as WorkflowStalledError).collects
      assert.strictEqual(c.length, 1)
      assert.strictEqual(c[0]!.step, "gather")
      assert.deepStrictEqual({ ...c[0]!.holds }, { Success: 1, Failure: 1 })
      assert.include(c[0]!.needs, "2 Success")
      assert.include(c[0]!.needs, "1 Failure")
    })
  )

  it.effect("collect buffers belong to one step: two collecting steps do not share events", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "two buffers" })
        .step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            for (let id = 0; id < 3; id++) yield* ctx.send(new Success({ id }))
          })
        )
        .step(Success, (ev, ctx) => Effect.asVoid(ctx.collect(ev, 2)), { name: "pairs" })
        .step(
          Success,
          (ev, ctx) =>
            Effect.gen(function* () {
              const got = yield* ctx.collect(ev, 3)
              if (Option.isSome(got)) return new StopEvent({ result: got.value.map((e) => e.id) })
            }),
          { name: "triple" }
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed([0, 1, 2]))
    })
  )
})

describe("StepContext.store", () => {
  const Counter = Schema.Struct({ count: Schema.Number, label: Schema.String })

  it.effect("get / set / update / getAll read and write the run's typed state", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "store", state: Counter, initialState: { count: 1, label: "a" } }).step(
        StartEvent,
        (_, ctx) =>
          Effect.gen(function* () {
            const before = yield* ctx.store.get("count")
            yield* ctx.store.set("label", "b")
            yield* ctx.store.update("count", (n) => n + 10)
            const after = yield* ctx.store.getAll
            return new StopEvent({ result: { before, after } })
          })
      )
      assert.deepStrictEqual(yield* Workflow.run(wf, {}), { before: 1, after: { count: 11, label: "b" } })
      // a second run starts from initialState again
      assert.deepStrictEqual(yield* Workflow.run(wf, {}), { before: 1, after: { count: 11, label: "b" } })
    })
  )

  /** `items` workers-bounded increments of `count`, through `increment`; stops with the final count. */
  const counting = (
    workers: number,
    items: number,
    delays: ReadonlyArray<number>,
    increment: (ctx: Ctx<typeof Counter.Type>, d: number) => Effect.Effect<void>
  ) =>
    defineWorkflow({ name: "counting", state: Counter, initialState: { count: 0, label: "" } })
      .step(StartEvent, (_, ctx) =>
        Effect.gen(function* () {
          for (let id = 0; id < items; id++) yield* ctx.send(new Success({ id }))
        })
      )
      .step(
        Success,
        (ev, ctx) =>
          Effect.gen(function* () {
            const d = delays[ev.id % delays.length]!
            yield* Effect.sleep(Duration.millis(d))
            yield* increment(ctx, delays[(ev.id + 1) % delays.length]!)
            yield* Effect.sleep(Duration.millis(d))
            const done = yield* ctx.collect(ev, items)
            if (Option.isSome(done)) return new StopEvent({ result: yield* ctx.store.get("count") })
          }),
        { workers }
      )

  it.effect(
    "property: concurrent increments through edit lose no update (sleeps inside the edit and between)",
    () =>
      Effect.gen(function* () {
        yield* property(
          [
            fc.integer({ min: 1, max: 16 }),
            fc.integer({ min: 1, max: 100 }),
            fc.array(
              fc.integer({ min: 0, max: 3 }).map((n) => n * 10),
              { minLength: 1, maxLength: 8 }
            )
          ],
          async (run, workers, items, delays) => {
            const wf = counting(workers, items, delays, (ctx, d) =>
              ctx.store.edit((s) => Effect.as(Effect.sleep(Duration.millis(d)), { ...s, count: s.count + 1 }))
            )
            const { exit } = await run(runVirtual(Workflow.run(wf, {})))
            assert.deepStrictEqual(exit, Exit.succeed(items))
          },
          { numRuns: 40 }
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  it.effect(
    "the law discriminates: get, sleep, set loses updates when workers overlap",
    () =>
      Effect.gen(function* () {
        yield* property(
          [fc.integer({ min: 2, max: 16 }), fc.integer({ min: 2, max: 100 })],
          async (run, workers, items) => {
            const wf = counting(workers, items, [10], (ctx, d) =>
              Effect.gen(function* () {
                const n = yield* ctx.store.get("count")
                yield* Effect.sleep(Duration.millis(d))
                yield* ctx.store.set("count", n + 1)
              })
            )
            const { exit } = await run(runVirtual(Workflow.run(wf, {})))
            assert.isBelow(successOf(exit), items)
          },
          { numRuns: 20 }
        )
      }),
    HEAVY_TEST_TIMEOUT
  )

  for (const operation of ["edit", "set", "update"] as const) {
    it.effect(`store.${operation} inside store.edit dies with NestedStoreEditError instead of deadlocking`, () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "nested", state: Counter, initialState: { count: 0, label: "" } }).step(
          StartEvent,
          (_, ctx) =>
            Effect.as(
              ctx.store.edit((s) =>
                Effect.as(
                  operation === "edit"
                    ? ctx.store.edit((t) => Effect.succeed(t))
                    : operation === "set"
                      ? ctx.store.set("count", 1)
                      : ctx.store.update("count", (n) => n + 1),
                  s
                )
              ),
              new StopEvent({ result: "unreachable" })
            ),
          { name: "editor" }
        )
        const { elapsed, exit } = yield* runVirtual(Workflow.run(wf, {}), { maxTime: "1 minute" })
        const defect = defectOf(exit)
        assert.instanceOf(defect, NestedStoreEditError)
        assert.strictEqual((defect as NestedStoreEditError)._tag, "NestedStoreEditError")
        assert.strictEqual((defect as NestedStoreEditError).operation, operation)
        assert.include((defect as NestedStoreEditError).message, '"editor"')
        assert.strictEqual(Duration.toMillis(elapsed), 0)
      })
    )
  }

  it.effect("an edit in another step's fiber waits for the edit in progress (no false NestedStoreEditError)", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "waits", state: Counter, initialState: { count: 0, label: "" } })
        .step(StartEvent, (_, ctx) =>
          Effect.andThen(
            ctx.store.edit((s) =>
              Effect.gen(function* () {
                // forked from inside the edit: a different invocation, which must wait, not die
                yield* ctx.send(new Ping({ n: 1 }))
                yield* Effect.sleep("50 millis")
                return { ...s, label: "outer" }
              })
            ),
            Effect.void
          )
        )
        .step(Ping, (_, ctx) =>
          Effect.gen(function* () {
            yield* ctx.store.update("count", (n) => n + 1)
            return new StopEvent({ result: yield* ctx.store.getAll })
          })
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed({ count: 1, label: "outer" }))
    })
  )

  it.effect("a set issued during an edit waits for it, so the edit's stale copy does not overwrite the set", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "ordered", state: Counter, initialState: { count: 0, label: "" } })
        .step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            yield* ctx.send(new Ping({ n: 1 }))
            yield* ctx.store.edit((s) => Effect.as(Effect.sleep("50 millis"), { ...s, label: "edited" }))
          })
        )
        .step(Ping, (_, ctx) =>
          Effect.gen(function* () {
            yield* Effect.sleep("10 millis")
            yield* ctx.store.set("count", 7)
            yield* Effect.sleep("100 millis")
            return new StopEvent({ result: yield* ctx.store.getAll })
          })
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed({ count: 7, label: "edited" }))
    })
  )

  it.effect("if the edit function fails, the state is unchanged and the error is the handler's", () =>
    Effect.gen(function* () {
      const boom = new Boom({ reason: "edit" })
      const wf = defineWorkflow({ name: "failing edit", state: Counter, initialState: { count: 5, label: "x" } }).step(
        StartEvent,
        (_, ctx) =>
          Effect.gen(function* () {
            const err = yield* Effect.flip(
              ctx.store.edit((s) => Effect.andThen(Effect.sleep("10 millis"), Effect.fail(boom)).pipe(Effect.as(s)))
            )
            return new StopEvent({ result: { err, state: yield* ctx.store.getAll } })
          })
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      const { err, state } = successOf(exit)
      assert.strictEqual(err, boom)
      assert.deepStrictEqual(state, { count: 5, label: "x" })
    })
  )

  it.effect("a failed edit releases the lock: a later edit goes through", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "relock", state: Counter, initialState: { count: 0, label: "" } }).step(
        StartEvent,
        (_, ctx) =>
          Effect.gen(function* () {
            yield* Effect.ignore(ctx.store.edit(() => Effect.fail(new Boom({ reason: "no" }))))
            yield* ctx.store.edit((s) => Effect.succeed({ ...s, count: s.count + 1 }))
            return new StopEvent({ result: yield* ctx.store.get("count") })
          })
      )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}), { maxTime: "1 minute" })
      assert.deepStrictEqual(exit, Exit.succeed(1))
    })
  )
})

describe("StepContext: where the handler runs", () => {
  it.effect("runId is the same for every step of a run and differs between runs; step is the step's name", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "where" })
        .step(StartEvent, (_, ctx) => ctx.send(new Item({ item: ctx.runId, index: 0, total: 1 })), { name: "first" })
        .step(
          Item,
          (ev, ctx) =>
            Effect.succeed(
              new StopEvent({
                result: { same: ev.item === ctx.runId, runId: ctx.runId, step: ctx.step, attempt: ctx.attempt }
              })
            ),
          {
            name: "second"
          }
        )
      const a = yield* Workflow.run(wf, {})
      const b = yield* Workflow.run(wf, {})
      assert.isTrue(a.same)
      assert.strictEqual(a.step, "second")
      assert.strictEqual(a.attempt, 1)
      assert.notStrictEqual(a.runId, b.runId)
    })
  )
})
