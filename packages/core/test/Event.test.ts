import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, Event, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect, Exit, Option, Schema } from "effect"
import { expectTypeOf } from "vitest"

class Item extends Event.TaggedData("Item")<{ readonly index: number }> {}
class Done extends Event.TaggedData("Done")<{ readonly index: number; readonly value: number }> {}
class Checked extends Schema.TaggedClass<Checked>()("Checked", { n: Schema.Number }) {}

describe("Event.tagOf", () => {
  it("reads the tag of a Schema.TaggedClass, of a TaggedData class and of the built-ins", () => {
    assert.strictEqual(Event.tagOf(Checked), "Checked")
    assert.strictEqual(Event.tagOf(Item), "Item")
    assert.strictEqual(Event.tagOf(StartEvent), "StartEvent")
    assert.strictEqual(Event.tagOf(StopEvent), "StopEvent")
    assert.isUndefined(Event.tagOf(class NotAnEvent {} as any))
  })
})

describe("Event.TaggedData", () => {
  it("makes events with a tag on the instance and on the class", () => {
    const item = new Item({ index: 3 })
    assert.strictEqual(item._tag, "Item")
    assert.strictEqual(item.index, 3)
    assert.strictEqual(Item._tag, "Item")
    expectTypeOf(item).toHaveProperty("index").toEqualTypeOf<number>()
    expectTypeOf(item._tag).toEqualTypeOf<"Item">()
  })

  it.effect("routes like any event class", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "lean", input: Schema.Struct({ n: Schema.Number }) })
        .step(StartEvent, (ev, ctx) =>
          Effect.forEach(
            Array.from({ length: ev.n }, (_, i) => i),
            (index) => ctx.send(new Item({ index })),
            {
              discard: true
            }
          )
        )
        .step(Item, (ev) => Effect.succeed(new Done({ index: ev.index, value: ev.index * 2 })), { workers: 4 })
        .step(Done, (ev, ctx) =>
          Effect.map(ctx.collect(ev, 5), (all) =>
            Option.isSome(all)
              ? new StopEvent({ result: all.value.map((d) => d.value).sort((a, b) => a - b) })
              : undefined
          )
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, { n: 5 }))
      assert.deepStrictEqual(exit, Exit.succeed([0, 2, 4, 6, 8]))
    })
  )
})
