/**
 * The durable benchmarks' workflow: a StartEvent step sends N items, a step with 8 workers turns each into a
 * result with a `store.edit`, a collecting step gathers all N. `counter` counts the items handled in this process.
 */
import { defineWorkflow, StartEvent, StopEvent } from "@effect-flow/core"
import { Effect, Option, Schema } from "effect"

export class Item extends Schema.TaggedClass<Item>()("Item", { i: Schema.Number }) {}
export class Result extends Schema.TaggedClass<Result>()("Result", { i: Schema.Number, v: Schema.Number }) {}

export const counter: { done: number; onItem: ((done: number) => void) | undefined } = {
  done: 0,
  onItem: undefined
}

export const fanout = defineWorkflow({
  name: "bench-fanout",
  input: Schema.Struct({ n: Schema.Number }),
  state: Schema.Struct({ n: Schema.Number, sum: Schema.Number }),
  initialState: { n: 0, sum: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("n", ev.n)
        for (let i = 0; i < ev.n; i++) yield* ctx.send(new Item({ i }))
      }),
    { name: "dispatch", emits: [Item] }
  )
  .step(
    Item,
    (ev, ctx) =>
      Effect.map(
        ctx.store.edit((s) => Effect.succeed({ ...s, sum: s.sum + ev.i })),
        () => {
          counter.done++
          counter.onItem?.(counter.done)
          return new Result({ i: ev.i, v: ev.i * 2 })
        }
      ),
    { name: "work", workers: 8, emits: [Result] }
  )
  .step(
    Result,
    (ev, ctx) =>
      Effect.gen(function* () {
        const n = yield* ctx.store.get("n")
        const all = yield* ctx.collect(ev, n)
        if (Option.isNone(all)) return
        return new StopEvent({ result: all.value.length })
      }),
    { name: "gather", emits: [StopEvent] }
  )
