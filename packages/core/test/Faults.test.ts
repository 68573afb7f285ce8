/**
 * Fault injection: every way a user can hand the engine something wrong (non-Effects, throws, bad options,
 * bad counts, bad inputs) ends the run in bounded virtual time with a typed error or a named defect, and no
 * fiber of the run is left running. Fibers are counted with Effect's `Metric.FiberRuntimeMetrics` hook: every
 * fiber started under the test ends before it returns.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Cause, Duration, Effect, Exit, Metric, Option, Schema } from "effect"
import { Item, Orphan, Ping } from "./fixtures/events.ts"

class Approval extends Schema.TaggedClass<Approval>()("Approval", { id: Schema.String }) {}
class Ask extends Schema.TaggedClass<Ask>()("Ask", { id: Schema.String }) {}

type Expect =
  | { readonly typed: string; readonly says: ReadonlyArray<string> }
  | { readonly defect: string; readonly says: ReadonlyArray<string> }

interface Fault {
  readonly name: string
  readonly workflow: () => Workflow.Any
  readonly input?: unknown
  readonly expect: Expect
}

const typed = (tag: string, ...says: Array<string>): Expect => ({ typed: tag, says })
const defect = (name: string, ...says: Array<string>): Expect => ({ defect: name, says })

const stop = (result: unknown = 1) => Effect.succeed(new StopEvent({ result }))
const wf = (name: string) => defineWorkflow({ name })
/** A two-step workflow whose second step (named "bad", accepting Ping) runs `handler`. */
const second = (name: string, handler: (ev: Ping, ctx: any) => any, options?: object) =>
  wf(name)
    .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 })), { name: "start" })
    .step(Ping, handler, { name: "bad", ...options })

const faults: ReadonlyArray<Fault> = [
  // -- handlers that return something other than an Effect
  {
    name: "an async handler (a Promise)",
    workflow: () => second("async", (async () => new StopEvent({ result: 1 })) as any),
    expect: defect(
      "HandlerBoundaryError",
      'step "bad" handling Ping: the handler returned a Promise',
      "Effect.promise",
      "Effect.tryPromise"
    )
  },
  {
    name: "a handler returning a bare event",
    workflow: () => second("bare", () => new StopEvent({ result: 1 })),
    expect: defect(
      "HandlerBoundaryError",
      "returned the event StopEvent, not an Effect",
      "Effect.succeed(new StopEvent"
    )
  },
  {
    name: "a handler with a block body and no return (undefined)",
    workflow: () =>
      second("undef", (() => {
        Effect.succeed(1)
      }) as any),
    expect: defect("HandlerBoundaryError", "returned undefined, not an Effect", "Effect.void")
  },
  {
    name: "a handler returning a plain object",
    workflow: () => second("plain", () => ({ result: 1 })),
    expect: defect("HandlerBoundaryError", "returned an object without _tag (result), not an Effect")
  },
  {
    name: "a handler returning null",
    workflow: () => second("null", () => null),
    expect: defect("HandlerBoundaryError", "returned null, not an Effect")
  },
  {
    name: "a handler returning a generator object",
    workflow: () => second("gen-object", () => (function* () {})()),
    expect: defect("HandlerBoundaryError", "function* (event, ctx)")
  },
  {
    name: "an Effect.flatMap inside a handler that returns a Promise",
    workflow: () => second("flatmap-promise", () => Effect.flatMap(Effect.void, (() => Promise.resolve(1)) as any)),
    expect: defect("HandlerBoundaryError", 'step "bad" handling Ping: went on with a Promise', "Effect.tryPromise")
  },
  {
    name: "an Effect.flatMap after a sleep that returns undefined",
    workflow: () =>
      second("flatmap-undefined", () => Effect.flatMap(Effect.sleep("1 second"), (() => undefined) as any), {
        workers: 3
      }),
    expect: defect("HandlerBoundaryError", "went on with undefined, which is not an Effect")
  },
  {
    name: "Effect.sync(async () => ...): an Effect of a Promise",
    workflow: () => second("sync-async", () => Effect.sync(async () => new StopEvent({ result: 1 }))),
    expect: typed("UnhandledEventError", 'step "bad" emitted a Promise, which is not an event')
  },
  {
    name: "a handler that returns an Option",
    workflow: () => second("option", () => Effect.succeed(Option.some(new StopEvent({ result: 1 })))),
    expect: typed("UnhandledEventError", "an Option (Some)")
  },
  // -- store, waitFor and output functions
  {
    name: "store.edit returning the state instead of an Effect",
    workflow: () =>
      defineWorkflow({ name: "edit", initialState: { n: 0 } }).step(StartEvent, (_, ctx) =>
        ctx.store.edit(((s: { n: number }) => ({ n: s.n + 1 })) as any)
      ),
    expect: defect("HandlerBoundaryError", "the function given to ctx.store.edit returned an object", "Effect.succeed")
  },
  {
    name: "store.edit returning a Promise",
    workflow: () =>
      defineWorkflow({ name: "edit-async", initialState: { n: 0 } }).step(StartEvent, (_, ctx) =>
        ctx.store.edit((async (s: { n: number }) => s) as any)
      ),
    expect: defect("HandlerBoundaryError", "ctx.store.edit returned a Promise", "Effect.promise")
  },
  {
    name: "store.edit inside store.edit",
    workflow: () =>
      defineWorkflow({ name: "nested", initialState: { n: 0 } }).step(StartEvent, (_, ctx) =>
        ctx.store.edit((s) => Effect.as(ctx.store.set("n", 1), s))
      ),
    expect: defect("NestedStoreEditError", "called store.set inside store.edit")
  },
  {
    name: "store.update with a function that throws",
    workflow: () =>
      defineWorkflow({ name: "update-throws", initialState: { n: 0 } }).step(StartEvent, (_, ctx) =>
        ctx.store.update("n", () => {
          throw new RangeError("update threw")
        })
      ),
    expect: defect("RangeError", "update threw")
  },
  {
    name: "a waitFor match that throws",
    workflow: () =>
      wf("match-throws")
        .step(
          StartEvent,
          (_, ctx) =>
            Effect.map(
              ctx.waitFor(Approval, {
                request: new Ask({ id: "1" }),
                match: () => {
                  throw new Error("match exploded")
                }
              }),
              () => new StopEvent({ result: 1 })
            ),
          { name: "waiting" }
        )
        .step(Ask, (ev) => Effect.succeed(new Approval({ id: ev.id })), { name: "answer" }),
    expect: defect("HandlerBoundaryError", 'step "waiting" handling waitFor(Approval)', "match exploded")
  },
  {
    name: "a waitFor match that is not a function",
    workflow: () =>
      wf("match-string").step(StartEvent, (_, ctx) => ctx.waitFor(Approval, { match: "yes" as any }), { name: "w" }),
    expect: defect("TypeError", 'step "w" called ctx.waitFor(Approval) with match string yes')
  },
  {
    name: "ctx.waitFor with something that is not an event class",
    workflow: () =>
      wf("wait-nonclass").step(StartEvent, (_, ctx) => Effect.asVoid(ctx.waitFor("Approval" as any)), { name: "w" }),
    expect: defect("TypeError", 'step "w" called ctx.waitFor with string Approval, which is not an event class')
  },
  {
    name: "an output schema check that throws",
    workflow: () =>
      defineWorkflow({
        name: "output-throws",
        output: Schema.Number.check(
          Schema.makeFilter(() => {
            throw new Error("check exploded")
          })
        )
      }).step(StartEvent, () => stop(1), { name: "finish" }),
    expect: defect(
      "HandlerBoundaryError",
      'step "finish" handling StopEvent: checking the StopEvent\'s result with the output schema threw'
    )
  },
  {
    name: "a result that does not match the output schema",
    workflow: () =>
      defineWorkflow({ name: "output-mismatch", output: Schema.Number }).step(StartEvent, () => stop("x")),
    expect: defect("TypeError", "does not match the output schema")
  },
  // -- throws
  {
    name: "a handler that throws before returning an Effect",
    workflow: () =>
      second("throws", () => {
        throw new TypeError("thrown early")
      }),
    expect: defect("HandlerBoundaryError", "handling Ping: the handler threw TypeError: thrown early", "Effect.try")
  },
  {
    name: "a handler whose Effect.sync throws, after a retry schedule (defects are not retried)",
    workflow: () =>
      second("sync-throws", () =>
        Effect.sync(() => {
          throw new Error("sync threw")
        })
      ),
    expect: defect("Error", "sync threw")
  },
  // -- events a step may not emit
  {
    name: "a returned event outside the step's emits",
    workflow: () =>
      wf("emits-return")
        .step(StartEvent, () => Effect.succeed(new Ping({ n: 1 }) as any), { name: "start", emits: [StopEvent] })
        .step(Ping, () => stop(), { ignoreChecks: ["never-emitted"] }),
    expect: typed("UnhandledEventError", 'step "start" emitted Ping, which is not in its emits (StopEvent)')
  },
  {
    name: "a sent event outside the step's emits",
    workflow: () =>
      wf("emits-send")
        .step(StartEvent, (_, ctx) => ctx.send(new Ping({ n: 1 }) as any), { name: "start", emits: [Item] })
        .step(Ping, () => stop())
        .step(Item, () => stop()),
    expect: typed("UnhandledEventError", 'step "start" emitted Ping, which is not in its emits (Item)')
  },
  {
    name: "ctx.send to a step that does not exist",
    workflow: () => second("send-unknown", (_, ctx) => ctx.send(new Ping({ n: 2 }), { step: "nope" })),
    expect: typed("UnhandledEventError", 'to step "nope", which does not exist')
  },
  {
    name: "ctx.send of a plain object",
    workflow: () => second("send-plain", (_, ctx) => ctx.send({ n: 1 })),
    expect: typed("UnhandledEventError", "an object without _tag (n), which is not an event")
  },
  {
    name: "an event no step accepts",
    workflow: () => second("orphan", () => Effect.succeed(new Orphan())),
    expect: typed("UnhandledEventError", "but no step accepts Orphan")
  },
  // -- bad counts
  {
    name: "ctx.collect(ev, undefined): a misspelt state key",
    workflow: () =>
      defineWorkflow({ name: "collect-undefined", initialState: { total: 2 } }).step(
        StartEvent,
        (ev, ctx) => Effect.flatMap(ctx.store.get("totl" as any), (n) => ctx.collect(ev, n as any)),
        { name: "gather" }
      ),
    expect: defect("TypeError", 'step "gather" called ctx.collect(StartEvent, undefined)', "misspelt")
  },
  {
    name: "ctx.collect(ev, -1)",
    workflow: () => second("collect-negative", (ev, ctx) => ctx.collect(ev, -1)),
    expect: defect("RangeError", 'step "bad" called ctx.collect with -1')
  },
  {
    name: "ctx.collect(ev, 1.5)",
    workflow: () => second("collect-fraction", (ev, ctx) => ctx.collect(ev, 1.5)),
    expect: defect("RangeError", "called ctx.collect with 1.5")
  },
  {
    name: "ctx.collect(ev, NaN)",
    workflow: () => second("collect-nan", (ev, ctx) => ctx.collect(ev, Number.NaN)),
    expect: defect("RangeError", "called ctx.collect with NaN")
  },
  {
    name: "ctx.collect with a list holding something that is not a class",
    workflow: () => second("collect-list", (ev, ctx) => ctx.collect(ev, [Ping, "Item"])),
    expect: defect("TypeError", "called ctx.collect with string Item, which is not an event class")
  },
  {
    name: "ctx.collect waiting for more events than ever come",
    workflow: () =>
      second("collect-short", (ev, ctx) =>
        Effect.map(ctx.collect(ev, 3), (all: Option.Option<ReadonlyArray<Ping>>) =>
          Option.isSome(all) ? new StopEvent({ result: 1 }) : undefined
        )
      ),
    expect: typed("WorkflowStalledError", 'step "bad" is collecting: it holds 1 Ping but needs 3 events')
  },
  // -- bad options
  {
    name: "retry: 3",
    workflow: () => wf("retry-number").step(StartEvent, () => Effect.fail("no"), { retry: 3 as any }),
    expect: typed("WorkflowValidationError", "[retry]", "which is not a Schedule")
  },
  {
    name: "a negative step timeout",
    workflow: () => wf("timeout-negative").step(StartEvent, () => stop(), { name: "s", timeout: -1 }),
    expect: typed("WorkflowValidationError", '[timeout] step "s" has timeout -1, which is negative')
  },
  {
    name: "a NaN run timeout",
    workflow: () => defineWorkflow({ name: "timeout-nan", timeout: Number.NaN }).step(StartEvent, () => stop()),
    expect: typed("WorkflowValidationError", "[timeout] the workflow has timeout NaN")
  },
  {
    name: "a timeout that is not a duration",
    workflow: () => wf("timeout-text").step(StartEvent, () => stop(), { timeout: "soon" as any }),
    expect: typed("WorkflowValidationError", 'has timeout "soon", which is not a duration')
  },
  {
    name: "workers: 0",
    workflow: () => wf("workers-zero").step(StartEvent, () => stop(), { name: "s", workers: 0 as number }),
    expect: typed("WorkflowValidationError", '[workers] step "s" has workers: 0')
  },
  {
    name: "workers: 2 ** 53 (not a safe integer)",
    workflow: () => wf("workers-huge").step(StartEvent, () => stop(), { name: "s", workers: 2 ** 53 }),
    expect: typed("WorkflowValidationError", "[workers]", "Number.MAX_SAFE_INTEGER")
  },
  {
    name: "a handler that is not a function",
    workflow: () => wf("handler-missing").step(StartEvent, undefined as any, { name: "s" }),
    expect: typed("WorkflowValidationError", '[handler] step "s" has handler undefined, which is not a function')
  },
  {
    name: "defineWorkflow(null)",
    workflow: () => defineWorkflow(null as any).step(StartEvent, () => stop()),
    expect: typed("WorkflowValidationError", "[config] defineWorkflow was given null")
  },
  {
    name: "a cyclic initialState",
    workflow: () => {
      const state: Record<string, unknown> = {}
      state.self = state
      return defineWorkflow({ name: "cyclic", initialState: state }).step(StartEvent, () => stop())
    },
    expect: typed("WorkflowValidationError", "[initial-state] initialState is cyclic (initialState.self")
  },
  {
    name: "an initialState the state schema cannot encode",
    workflow: () =>
      defineWorkflow({
        name: "bad-state",
        state: Schema.Struct({ n: Schema.Number }),
        initialState: { n: "1" } as any
      }).step(StartEvent, () => stop()),
    expect: typed("WorkflowValidationError", "[initial-state] initialState does not match the state schema")
  },
  {
    name: "accepts that is not an event class",
    workflow: () =>
      wf("accepts-string")
        .step(StartEvent, () => stop())
        .step("Ping" as any, () => stop(), { name: "p" }),
    expect: typed("WorkflowValidationError", '[event-class] step "p" accepts')
  },
  // -- bad inputs
  {
    name: "input that does not match the input schema",
    workflow: () =>
      defineWorkflow({ name: "input-schema", input: Schema.Struct({ n: Schema.Number }) }).step(StartEvent, () =>
        stop()
      ),
    input: { n: "one" },
    expect: typed("WorkflowInputError", 'Input of workflow "input-schema" does not match its input schema')
  },
  {
    name: "a string as input with no input schema",
    workflow: () => wf("input-string").step(StartEvent, () => stop()),
    input: "items",
    expect: typed("WorkflowInputError", "Expected an object of start fields, got string")
  },
  {
    name: "an array as input with no input schema",
    workflow: () => wf("input-array").step(StartEvent, () => stop()),
    input: [1, 2],
    expect: typed("WorkflowInputError", "got an array")
  }
]

/** Counts the fibers started and ended while `effect` runs. */
const countingFibers = <A, E, R>(effect: Effect.Effect<A, E, R>) =>
  Effect.suspend(() => {
    const count = { started: 0, ended: 0 }
    const metrics: Metric.FiberRuntimeMetricsService = {
      recordFiberStart: () => {
        count.started++
      },
      recordFiberEnd: () => {
        count.ended++
      }
    }
    return Effect.map(Effect.provideService(effect, Metric.FiberRuntimeMetrics, metrics), (a) => [a, count] as const)
  })

const defectName = (u: unknown): string =>
  u instanceof Error ? ((u as { _tag?: string })._tag ?? u.constructor.name) : typeof u

describe("fault injection: every user mistake ends the run, typed or named, with no fiber left", () => {
  it("covers at least 30 mistakes", () => {
    assert.isAtLeast(faults.length, 30)
  })

  for (const fault of faults) {
    it.effect(fault.name, () =>
      Effect.gen(function* () {
        const [{ exit, elapsed }, fibers] = yield* countingFibers(
          runVirtual(Workflow.run(fault.workflow(), fault.input ?? {}) as Effect.Effect<unknown, unknown>, {
            maxTime: "1 minute"
          })
        )
        assert.isTrue(Exit.isFailure(exit), "the run must fail")
        if (Exit.isSuccess(exit)) return
        assert.isFalse(Cause.hasInterruptsOnly(exit.cause), "the run must end by itself, not be interrupted at maxTime")
        assert.isBelow(Duration.toMillis(elapsed), 60_000)
        const expect = fault.expect
        let message: string
        if ("typed" in expect) {
          const found = Cause.findError(exit.cause)
          assert.strictEqual(found._tag, "Success", `a typed failure, got ${Cause.pretty(exit.cause)}`)
          const error = found._tag === "Success" ? (found.success as { _tag: string; message: string }) : undefined
          assert.strictEqual(error?._tag, expect.typed)
          message = error?.message ?? ""
        } else {
          assert.isTrue(Cause.hasDies(exit.cause), `a defect, got ${Cause.pretty(exit.cause)}`)
          const died = Cause.squash(exit.cause)
          assert.strictEqual(defectName(died), expect.defect)
          message = died instanceof Error ? died.message : String(died)
        }
        for (const part of expect.says) assert.include(message, part)
        // Every fiber started for the run, its workers and the test clock's, has ended.
        assert.isAbove(fibers.started, 0)
        assert.strictEqual(fibers.ended, fibers.started, "a fiber was left running")
      })
    )
  }
})
