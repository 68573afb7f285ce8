/**
 * The handler boundary, part one (issue 13, points 2, 3 and 5): every wrong option is a problem of
 * `Workflow.validate`, reported with the others; input and state are fresh objects; `StepFailedEvent` is
 * the engine's to emit.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, RunEvent, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { runVirtual, trace } from "@effect-flow/core/testing"
import { Duration, Effect, Exit, Option, Schedule, Schema } from "effect"
import { Boom, errorOf, Item, Ping, successOf } from "./fixtures/events.ts"

const stop = () => Effect.succeed(new StopEvent({ result: 1 }))
const checksOf = (wf: Workflow.Any) => Workflow.problems(wf).map((p) => p.check)
const problemOf = (wf: Workflow.Any, check: string) => Workflow.problems(wf).find((p) => p.check === check)

describe("validation reports every wrong option", () => {
  it.effect("retry that is not a Schedule is a problem, so `retry: 3` fails before any step runs", () =>
    Effect.gen(function* () {
      let ran = 0
      const wf = defineWorkflow({ name: "r" }).step(
        StartEvent,
        () => {
          ran++
          return Effect.fail(new Boom({ reason: "x" }))
        },
        { name: "flaky", retry: 3 as any }
      )
      const problem = problemOf(wf, "retry")
      assert.include(problem?.message, 'step "flaky" has retry 3, which is not a Schedule')
      assert.include(problem?.message, "Schedule.recurs(3)")
      const { exit } = yield* runVirtual(Workflow.run(wf, {}), { maxTime: "1 second" })
      assert.strictEqual(errorOf(exit)._tag, "WorkflowValidationError")
      assert.strictEqual(ran, 0)
      // A real schedule is fine.
      assert.notInclude(checksOf(defineWorkflow().step(StartEvent, stop, { retry: Schedule.recurs(3) })), "retry")
    })
  )

  it("negative, NaN and zero timeouts of the run and of a step are problems naming where", () => {
    const wf = defineWorkflow({ name: "t", timeout: -1 }).step(StartEvent, stop, { name: "a", timeout: Number.NaN })
    const problems = Workflow.problems(wf).filter((p) => p.check === "timeout")
    assert.strictEqual(problems.length, 2)
    assert.include(problems[0]!.message, "the workflow has timeout -1, which is negative")
    assert.include(problems[1]!.message, 'step "a" has timeout NaN')
    assert.deepStrictEqual(problems[1]!.steps, ["a"])
    const zero = defineWorkflow({ timeout: "0 millis" }).step(StartEvent, stop)
    assert.include(problemOf(zero, "timeout")?.message, "zero")
    assert.deepStrictEqual(checksOf(defineWorkflow({ timeout: Duration.infinity }).step(StartEvent, stop)), [])
  })

  it("workers must be a positive safe integer", () => {
    for (const workers of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 53, "4" as any]) {
      const wf = defineWorkflow().step(StartEvent, stop, { name: "w", workers })
      assert.include(problemOf(wf, "workers")?.message, `step "w" has workers: ${String(workers)}`, String(workers))
    }
    for (const workers of [1, 2 ** 32, Number.MAX_SAFE_INTEGER]) {
      assert.notInclude(checksOf(defineWorkflow().step(StartEvent, stop, { workers })), "workers")
    }
  })

  it.effect("a step with workers: Number.MAX_SAFE_INTEGER runs, using only the worker slots it needs", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "huge", input: Schema.Struct({ n: Schema.Number }) })
        .step(StartEvent, (ev, ctx) =>
          ctx.sendAll(Array.from({ length: ev.n }, (_, index) => new Item({ item: "x", index, total: ev.n })))
        )
        .step(
          Item,
          (ev, ctx) =>
            Effect.gen(function* () {
              yield* Effect.sleep("10 millis")
              const all = yield* ctx.collect(ev, ev.total)
              return Option.isSome(all) ? new StopEvent({ result: all.value.length }) : undefined
            }),
          { name: "work", workers: Number.MAX_SAFE_INTEGER }
        )
      const { exit } = yield* runVirtual(trace(wf, { n: 5 }), { maxTime: "1 second" })
      const traced = successOf(exit)
      assert.strictEqual(successOf(traced.exit), 5)
      // Five events at once use slots 0 to 4, and nothing was made for the others.
      const slots = traced.invocations.filter((i) => i.step === "work").map((i) => i.worker)
      assert.deepStrictEqual([...new Set(slots)].sort(), [0, 1, 2, 3, 4])
    })
  )

  it("a handler that is not a function is a problem naming the step", () => {
    const wf = defineWorkflow()
      .step(StartEvent, null as any, { name: "nothing" })
      .step(Ping, "go" as any)
    const problems = Workflow.problems(wf).filter((p) => p.check === "handler")
    assert.deepStrictEqual(
      problems.map((p) => p.steps),
      [["nothing"], ["handlePing"]]
    )
    assert.include(problems[0]!.message, 'step "nothing" has handler null, which is not a function')
  })

  it("an initialState that the state schema cannot encode, or that is cyclic with no schema, is a problem", () => {
    const State = Schema.Struct({ n: Schema.Number })
    const wrong = defineWorkflow({ state: State, initialState: { n: "one" } as any }).step(StartEvent, stop)
    assert.include(problemOf(wrong, "initial-state")?.message, "does not match the state schema")
    const cyclic: Record<string, unknown> = { a: { list: [1] } }
    ;(cyclic.a as any).list.push(cyclic)
    const wf = defineWorkflow({ initialState: cyclic }).step(StartEvent, stop)
    assert.include(problemOf(wf, "initial-state")?.message, "initialState.a.list[1]")
    // Shared but acyclic objects are fine.
    const shared = { x: 1 }
    assert.deepStrictEqual(
      checksOf(defineWorkflow({ initialState: { a: shared, b: shared } }).step(StartEvent, stop)),
      []
    )
  })

  it.effect("defineWorkflow(null) and other non-objects are problems, not a crash", () =>
    Effect.gen(function* () {
      for (const config of [null, "name", 3, [] as any]) {
        const wf = defineWorkflow(config as any).step(StartEvent, stop)
        assert.strictEqual(wf.name, "workflow")
        assert.include(problemOf(wf, "config")?.message, "which is not an object", String(config))
      }
      const exit = yield* Effect.exit(Workflow.run(defineWorkflow(null as any).step(StartEvent, stop), {}))
      assert.strictEqual(errorOf(exit)._tag, "WorkflowValidationError")
    })
  )

  it("every problem is reported at once", () => {
    const wf = defineWorkflow({ timeout: -5, initialState: undefined }).step(StartEvent, 1 as any, {
      name: "a",
      workers: 0 as number,
      retry: "twice" as any,
      timeout: Number.NaN
    })
    assert.includeMembers(checksOf(wf), ["handler", "workers", "retry", "timeout"])
    assert.strictEqual(checksOf(wf).filter((c) => c === "timeout").length, 2)
  })
})

describe("input and state are fresh objects", () => {
  it.effect("a __proto__ key in JSON input (no input schema) is a field, not the StartEvent's prototype", () =>
    Effect.gen(function* () {
      const input = JSON.parse('{"__proto__": {"polluted": true}, "x": 1}')
      const wf = defineWorkflow({ name: "proto" }).step(StartEvent, (ev) =>
        Effect.succeed(
          new StopEvent({
            result: {
              protoKept: Object.getPrototypeOf(ev) === StartEvent.prototype,
              polluted: (ev as any).polluted,
              x: (ev as any).x,
              own: Object.keys(ev).sort()
            }
          })
        )
      )
      const result = yield* Workflow.run(wf, input)
      assert.deepStrictEqual(result, { protoKept: true, polluted: undefined, x: 1, own: ["__proto__", "_tag", "x"] })
      assert.strictEqual(({} as any).polluted, undefined)
    })
  )

  it.effect(
    "a __proto__ key in initialState is a field of the state, not its prototype; each run has its own copy",
    () =>
      Effect.gen(function* () {
        const initialState = JSON.parse(
          '{"count": 0, "__proto__": {"polluted": true}, "nested": {"__proto__": {"p": 1}}}'
        )
        const wf = defineWorkflow({ name: "state-proto", initialState }).step(StartEvent, (_, ctx) =>
          Effect.gen(function* () {
            const state: any = yield* ctx.store.getAll
            state.nested.mutated = true
            return new StopEvent({
              result: {
                plain: Object.getPrototypeOf(state) === Object.prototype,
                nestedPlain: Object.getPrototypeOf(state.nested) === Object.prototype,
                polluted: state.polluted
              }
            })
          })
        )
        assert.deepStrictEqual(yield* Workflow.run(wf, {}), { plain: true, nestedPlain: true, polluted: undefined })
        assert.strictEqual(initialState.nested.mutated, undefined)
      })
  )

  it.effect("input without a schema is copied: a handler that mutates it does not change the caller's object", () =>
    Effect.gen(function* () {
      const input = { list: [1, 2] }
      const wf = defineWorkflow({ name: "copy" }).step(StartEvent, (ev: any) =>
        Effect.sync(() => {
          ev.list.push(3)
          return new StopEvent({ result: ev.list.length })
        })
      )
      assert.strictEqual(yield* Workflow.run(wf, input), 3)
      assert.deepStrictEqual(input.list, [1, 2])
    })
  )
})

describe("StepFailedEvent is the engine's to emit", () => {
  it.effect("a step accepting it passes graph checks in a workflow where every step declares emits, and recovers", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "recovering" })
        .step(StartEvent, () => Effect.fail(new Boom({ reason: "down" })), { name: "risky", emits: [StopEvent] })
        .step(
          RunEvent.StepFailedEvent,
          (failed) => Effect.succeed(new StopEvent({ result: `recovered ${failed.step}` })),
          {
            name: "recover",
            emits: [StopEvent]
          }
        )
      assert.deepStrictEqual(Workflow.problems(wf), [])
      const { exit } = yield* runVirtual(Workflow.run(wf, {}), { maxTime: "1 second" })
      assert.deepStrictEqual(exit, Exit.succeed("recovered risky"))
    })
  )
})
