import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect, Exit, Option, Schema } from "effect"

class Ping extends Schema.TaggedClass<Ping>()("Ping", { n: Schema.Number }) {}

const checks = (wf: Workflow.Any) => Workflow.problems(wf).map((p) => p.check)

describe("config checks", () => {
  const ok = defineWorkflow({ name: "ok" }).step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })))

  it("a timeout that is not a duration is a validation problem naming where it is", () => {
    const wf = defineWorkflow({ name: "t", timeout: "forever" as any }).step(
      StartEvent,
      () => Effect.succeed(new StopEvent({ result: 1 })),
      { name: "only", timeout: "soon" as any }
    )
    const problems = Workflow.problems(wf).filter((p) => p.check === "timeout")
    assert.strictEqual(problems.length, 2)
    assert.include(problems[0]!.message, '"forever"')
    assert.deepStrictEqual(problems[1]!.steps, ["only"])
    assert.deepStrictEqual(checks(ok), [])
  })

  it("a state schema needs a matching initialState", () => {
    const State = Schema.Struct({ n: Schema.Number })
    const missing = defineWorkflow({ name: "s", state: State }).step(StartEvent, () =>
      Effect.succeed(new StopEvent({ result: 1 }))
    )
    assert.include(checks(missing), "initial-state")
    const wrong = defineWorkflow({ name: "s", state: State, initialState: { n: "one" } as any }).step(StartEvent, () =>
      Effect.succeed(new StopEvent({ result: 1 }))
    )
    const problem = Workflow.problems(wrong).find((p) => p.check === "initial-state")
    assert.include(problem?.message, "does not match the state schema")
    const right = defineWorkflow({ name: "s", state: State, initialState: { n: 1 } }).step(StartEvent, () =>
      Effect.succeed(new StopEvent({ result: 1 }))
    )
    assert.notInclude(checks(right), "initial-state")
  })
})

describe("collect of nothing", () => {
  it.effect("collect(ev, 0) answers Some([]) at once and does not hold the event for the next round", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "zero" })
        .step(StartEvent, (_, ctx) => Effect.andThen(ctx.send(new Ping({ n: 1 })), ctx.send(new Ping({ n: 2 }))))
        .step(Ping, (ev, ctx) =>
          Effect.gen(function* () {
            if (ev.n === 1) {
              const none = yield* ctx.collect(ev, 0)
              assert.deepStrictEqual(none, Option.some([]))
              return
            }
            const next = yield* ctx.collect(ev, 1)
            return Option.isSome(next) ? new StopEvent({ result: next.value.map((p) => p.n) }) : undefined
          })
        )
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      assert.deepStrictEqual(exit, Exit.succeed([2]))
    })
  )
})

describe("stall messages", () => {
  it.effect("a fan-out over nothing names the last step that ran", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "empty fan-out", input: Schema.Struct({ items: Schema.Array(Schema.String) }) })
        .step(
          StartEvent,
          (ev, ctx) => Effect.forEach(ev.items, () => ctx.send(new Ping({ n: 0 })), { discard: true }),
          {
            name: "fan_out"
          }
        )
        .step(Ping, () => Effect.succeed(new StopEvent({ result: "done" })))
      const { exit } = yield* runVirtual(Workflow.run(wf, { items: [] }))
      assert.isTrue(Exit.isFailure(exit))
      const message = String(Exit.isFailure(exit) ? (exit.cause.reasons[0] as any).error?.message : "")
      assert.include(message, 'the last to run was step "fan_out" handling StartEvent, which returned nothing')
    })
  )

  it.effect("a result that is an Option is refused with a message saying so", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "option" }).step(StartEvent, () => Effect.succeed(Option.some(1) as any))
      const { exit } = yield* runVirtual(Workflow.run(wf, {}))
      const message = String(Exit.isFailure(exit) ? (exit.cause.reasons[0] as any).error?.message : "")
      assert.include(message, "an Option (Some)")
      assert.include(message, "Option.getOrUndefined")
    })
  )
})

describe("the output schema", () => {
  it.effect("a result that fits is returned; one that does not ends the run with a defect that says so", () =>
    Effect.gen(function* () {
      const make = (result: unknown) =>
        defineWorkflow({ name: "typed output", output: Schema.Struct({ count: Schema.Number }) }).step(StartEvent, () =>
          Effect.succeed(new StopEvent({ result: result as { count: number } }))
        )
      const good = yield* runVirtual(Workflow.run(make({ count: 3 }), {}))
      assert.deepStrictEqual(good.exit, Exit.succeed({ count: 3 }))
      const bad = yield* runVirtual(Workflow.run(make({ count: "three" }), {}))
      assert.isTrue(Exit.isFailure(bad.exit) && Exit.hasDies(bad.exit))
      const defect = Exit.isFailure(bad.exit) ? (bad.exit.cause.reasons[0] as { defect?: unknown }).defect : undefined
      assert.include(String(defect), 'Workflow "typed output": the StopEvent\'s result (returned by step "')
      assert.include(String(defect), "does not match the output schema")
    })
  )
})
