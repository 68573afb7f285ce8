/**
 * The workflows the cluster benchmark's runner processes register (`cluster.ts`): the same fan-out with its
 * work step distributed or not. Each item's work is `busyMs` of CPU (a stand-in for parsing, scoring, a local
 * model), so throughput shows what spreading it over runner processes buys on this machine.
 */
import { defineWorkflow, StartEvent, StopEvent } from "@effect-flow/core"
import { Effect, Option, Schema } from "effect"

class Item extends Schema.TaggedClass<Item>()("BenchItem", { i: Schema.Number, busyMs: Schema.Number }) {}
class Done extends Schema.TaggedClass<Done>()("BenchDone", { i: Schema.Number }) {}

const busy = (ms: number) => {
  const until = performance.now() + ms
  let x = 0
  while (performance.now() < until) x++
  return x
}

const make = (name: string, distribute: boolean) =>
  defineWorkflow({
    name,
    input: Schema.Struct({ n: Schema.Number, busyMs: Schema.Number }),
    state: Schema.Struct({ n: Schema.Number }),
    initialState: { n: 0 },
    output: Schema.Number
  })
    .step(
      StartEvent,
      (ev, ctx) =>
        Effect.gen(function* () {
          yield* ctx.store.set("n", ev.n)
          yield* ctx.sendAll(Array.from({ length: ev.n }, (_, i) => new Item({ i, busyMs: ev.busyMs })))
        }),
      { emits: [Item] }
    )
    .step(
      Item,
      (ev) =>
        Effect.sync(() => {
          if (ev.busyMs > 0) busy(ev.busyMs)
          return new Done({ i: ev.i })
        }),
      { name: "work", distribute, workers: 32, emits: [Done] }
    )
    .step(
      Done,
      (ev, ctx) =>
        Effect.gen(function* () {
          const all = yield* ctx.collect(ev, yield* ctx.store.get("n"))
          if (Option.isNone(all)) return
          return new StopEvent({ result: new Set(all.value.map((d) => d.i)).size })
        }),
      { emits: [StopEvent] }
    )

export const distributedFanout = make("bench-distributed", true)
export const localFanout = make("bench-local", false)

export const workflows = [distributedFanout, localFanout]
