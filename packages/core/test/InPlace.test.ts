/**
 * Handlers run without a fiber where they need none (internal/inPlace.ts, and `enqueue` in
 * internal/workers.ts): a worker starts in its sender's fiber, its handler's `map`/`flatMap` of values at hand
 * and its step-context operations are run in place, and a fiber is forked only for what must wait.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, Event, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Cause, Effect, Exit, Option, Schema } from "effect"
import * as fc from "fast-check"
import { inPlaceWorks, runInPlace } from "../src/internal/inPlace.ts"
import { countingStarts } from "./fixtures/fibers.ts"

class Item extends Event.TaggedData("Item")<{ readonly n: number }> {}
class Done extends Event.TaggedData("Done")<{ readonly n: number }> {}

/** A fan-out of `count` items to 4 workers and a collector, with the collector's handler given. */
const fanOut = (collector: (ev: Done, ctx: any) => Effect.Effect<StopEvent<ReadonlyArray<number>> | undefined>) =>
  defineWorkflow({
    name: "in-place",
    input: Schema.Struct({ count: Schema.Number }),
    state: Schema.Struct({ count: Schema.Number }),
    initialState: { count: 0 }
  })
    .step(
      StartEvent,
      (ev, ctx) =>
        Effect.andThen(
          ctx.store.set("count", ev.count),
          ctx.sendAll(Array.from({ length: ev.count }, (_, n) => new Item({ n })))
        ),
      { name: "dispatch", emits: [Item] }
    )
    .step(Item, (ev) => Effect.map(Effect.succeed(ev.n), (n) => new Done({ n: n * 2 })), {
      name: "work",
      workers: 4,
      emits: [Done]
    })
    .step(Done, collector, { name: "collect", emits: [StopEvent] })

const collectAll =
  (wait: Effect.Effect<void>) =>
  (ev: Done, ctx: any): Effect.Effect<StopEvent<ReadonlyArray<number>> | undefined> =>
    Effect.flatMap(wait, () =>
      Effect.flatMap(ctx.store.get("count") as Effect.Effect<number>, (count) =>
        Effect.map(ctx.collect(ev, count) as Effect.Effect<Option.Option<ReadonlyArray<Done>>>, (all) =>
          Option.isSome(all) ? new StopEvent({ result: all.value.map((d) => d.n) }) : undefined
        )
      )
    )

const expected = (count: number) => Array.from({ length: count }, (_, n) => n * 2)

describe("handlers run in place", () => {
  it("on this effect version, effects are run in place", () => {
    assert.isTrue(inPlaceWorks)
  })

  it.effect("a fan-out whose handlers need no fiber forks none past the dispatcher's", () =>
    Effect.gen(function* () {
      const wf = fanOut(collectAll(Effect.void))
      const [result, fibers] = yield* countingStarts(Workflow.run(wf, { count: 2_000 }))
      assert.deepStrictEqual(
        [...result].sort((a, b) => a - b),
        expected(2_000)
      )
      // The dispatcher's store.set waits for the store's lock: its worker gets a fiber. Nothing else does.
      assert.strictEqual(fibers.started, 1)
    })
  )

  it.effect("a collector that must wait gets a fiber, and back-pressure started in place still drains", () =>
    Effect.gen(function* () {
      // The workers finish in place and fill the collector's mailbox; each one's wait for room is forked and
      // starts after the dispatcher's loop, when the collector may have drained already: none may hang.
      const wf = fanOut(collectAll(Effect.yieldNow))
      for (const count of [300, 1_000, 5_000]) {
        const result = yield* Workflow.run(wf, { count })
        assert.deepStrictEqual(
          [...result].sort((a, b) => a - b),
          expected(count)
        )
      }
    })
  )

  it("property: an effect run in place, then in a fiber, gives what the fiber alone gives", () => {
    type Shape = {
      readonly op: "map" | "flatMap" | "andThen" | "as" | "sync" | "suspend" | "yield" | "fail" | "throw" | "gen"
    }
    const shape = fc.constantFrom<Shape["op"]>(
      "map",
      "flatMap",
      "andThen",
      "as",
      "sync",
      "suspend",
      "yield",
      "fail",
      "throw",
      "gen"
    )
    const build = (ops: ReadonlyArray<Shape["op"]>): Effect.Effect<number, string> => {
      let effect: Effect.Effect<number, string> = Effect.succeed(1)
      for (const op of ops) {
        const inner = effect
        switch (op) {
          case "map":
            effect = Effect.map(inner, (n) => n + 1)
            break
          case "flatMap":
            effect = Effect.flatMap(Effect.succeed(2), (m) => Effect.map(inner, (n) => n * m))
            break
          case "andThen":
            effect = Effect.andThen(
              Effect.sync(() => 0),
              inner
            )
            break
          case "as":
            effect = Effect.as(inner, 7)
            break
          case "sync":
            effect = Effect.flatMap(inner, (n) => Effect.sync(() => n + 3))
            break
          case "suspend":
            effect = Effect.suspend(() => inner)
            break
          case "yield":
            effect = Effect.andThen(Effect.yieldNow, inner)
            break
          case "fail":
            effect = Effect.flatMap(inner, (n) => (n % 2 === 0 ? Effect.fail(`odd ${n}`) : Effect.succeed(n)))
            break
          case "throw":
            effect = Effect.map(inner, (n) => {
              if (n > 20) throw new Error(`big ${n}`)
              return n
            })
            break
          case "gen":
            effect = Effect.gen(function* () {
              return (yield* inner) + 1
            })
            break
        }
      }
      return effect
    }
    const show = (exit: Exit.Exit<number, string>) =>
      Exit.isSuccess(exit) ? `ok ${exit.value}` : `failed ${String(Cause.squash(exit.cause))}`
    fc.assert(
      fc.property(fc.array(shape, { maxLength: 8 }), (ops) => {
        const inPlace = runInPlace(build(ops))
        // What is left (a generator body the engine would step itself, or an effect that needs a fiber) is run by
        // a fiber here.
        assert.strictEqual(
          show(Effect.runSyncExit(inPlace) as Exit.Exit<number, string>),
          show(Effect.runSyncExit(build(ops)))
        )
      }),
      { numRuns: 300 }
    )
  })
})
