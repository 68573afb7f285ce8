import { assert, describe, it } from "@effect/vitest"
import type { Event } from "@effect-flow/core"
import {
  Distribution,
  defineWorkflow,
  StartEvent,
  StopEvent,
  Workflow,
  WorkflowValidationError
} from "@effect-flow/core"

type AnyEvent = Event.AnyEvent

import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Schedule, Schema, Stream } from "effect"
import * as fc from "fast-check"
import { defectOf, successOf } from "./fixtures/events.ts"

class Job extends Schema.TaggedClass<Job>()("Job", { index: Schema.Number }) {}
class Done extends Schema.TaggedClass<Done>()("Done", { index: Schema.Number, by: Schema.String }) {}
class Progress extends Schema.TaggedClass<Progress>()("Progress", { index: Schema.Number }) {}
class Flaky extends Schema.TaggedError<Flaky>()("Flaky", { index: Schema.Number }) {}

/** A fan-out whose middle step is distributed (or not), and whose fan-in checks every item came back once. */
const fanOut = (options: { readonly distribute: boolean; readonly workers: number; readonly delay?: number }) =>
  defineWorkflow({ name: "fan", input: Schema.Struct({ n: Schema.Number }), initialState: { n: 0 } })
    .step(
      StartEvent,
      (ev, ctx) =>
        Effect.gen(function* () {
          yield* ctx.store.set("n", ev.n)
          yield* ctx.sendAll(Array.from({ length: ev.n }, (_, index) => new Job({ index })))
        }),
      { emits: [Job] }
    )
    .step(
      Job,
      (ev, ctx) =>
        Effect.gen(function* () {
          if (options.delay !== undefined) yield* Effect.sleep(Duration.millis(options.delay))
          yield* ctx.write(new Progress({ index: ev.index }))
          return new Done({ index: ev.index, by: `${ctx.invocationId}#${ctx.attempt}` })
        }),
      { name: "work", workers: options.workers, distribute: options.distribute, emits: [Done], writes: [Progress] }
    )
    .step(
      Done,
      (ev, ctx) =>
        Effect.gen(function* () {
          const n = yield* ctx.store.get("n")
          const all = yield* ctx.collect(ev, n)
          if (all._tag === "None") return
          return new StopEvent({ result: all.value.map((d) => d.index).sort((a, b) => a - b) })
        }),
      { emits: [StopEvent] }
    )

/** A distributor that runs each invocation here, counting what it saw and how many were in flight. */
const recording = (wf: Workflow.Any, delay: number) => {
  const seen: Array<Distribution.Invocation> = []
  let inFlight = 0
  let peak = 0
  const distributor: Distribution.Distributor = {
    invoke: (invocation) =>
      Effect.gen(function* () {
        seen.push(invocation)
        inFlight++
        peak = Math.max(peak, inFlight)
        yield* Effect.sleep(Duration.millis(delay))
        // As a runner would: the event crosses the wire encoded, the writes are replayed on the owner.
        const event = Distribution.decodeEvent(wf, Distribution.encodeEvent(wf, invocation.event))
        const writes: Array<AnyEvent> = []
        const out = yield* Distribution.runInvocation(wf, { ...invocation, event }, (w) =>
          Effect.sync(() => void writes.push(w))
        ) as Effect.Effect<AnyEvent | undefined, unknown>
        for (const w of writes) yield* invocation.write(w)
        return out
      }).pipe(
        Effect.ensuring(
          Effect.sync(() => {
            inFlight--
          })
        )
      )
  }
  return { distributor, seen, peak: () => peak }
}

describe("distribute: true", () => {
  it.effect("outside a cluster the step runs locally: same result as without distribute, for any n and workers", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 40 }), fc.integer({ min: 1, max: 8 }), (n, workers) =>
            Effect.runPromiseWith(context)(
              Effect.gen(function* () {
                const local = yield* Workflow.run(fanOut({ distribute: false, workers }), { n })
                const distributed = yield* Workflow.run(fanOut({ distribute: true, workers }), { n })
                assert.deepStrictEqual(distributed, local)
                assert.deepStrictEqual(
                  distributed,
                  Array.from({ length: n }, (_, i) => i)
                )
              })
            )
          ),
          { numRuns: 25 }
        )
      )
    })
  )

  it.effect("a distributed handler's context holds runId, step, attempt, invocationId and write", () =>
    Effect.gen(function* () {
      const seen: Array<Record<string, unknown>> = []
      const wf = defineWorkflow({ name: "ctx" })
        .step(StartEvent, () => Effect.succeed(new Job({ index: 7 })), { emits: [Job] })
        .step(
          Job,
          (ev, ctx) =>
            Effect.gen(function* () {
              seen.push({
                runId: ctx.runId,
                step: ctx.step,
                attempt: ctx.attempt,
                invocationId: ctx.invocationId
              })
              yield* ctx.write(new Progress({ index: ev.index }))
              return new StopEvent({ result: ev.index })
            }),
          { name: "remote", distribute: true, writes: [Progress] }
        )
      const events = yield* Stream.runCollect(Workflow.stream(wf, {}))
      assert.deepStrictEqual(
        events.map((e) => e._tag),
        ["Progress", "StopEvent"]
      )
      assert.strictEqual(seen.length, 1)
      const [s] = seen
      assert.strictEqual(s!.step, "remote")
      assert.strictEqual(s!.attempt, 1)
      assert.strictEqual(s!.invocationId, `${s!.runId}/remote/1`)
    })
  )

  for (const operation of ["send", "sendAll", "collect", "waitFor", "store.edit"] as const) {
    it.effect(`ctx.${operation} reached from a distributed handler ends the run with a "distribute" problem`, () =>
      Effect.gen(function* () {
        const wf = defineWorkflow({ name: "cheat" })
          .step(StartEvent, () => Effect.succeed(new Job({ index: 1 })), { emits: [Job] })
          .step(
            Job,
            (ev, ctx) => {
              const c = ctx as any
              const reached =
                operation === "send"
                  ? c.send(ev)
                  : operation === "sendAll"
                    ? c.sendAll([ev])
                    : operation === "collect"
                      ? c.collect(ev, 1)
                      : operation === "waitFor"
                        ? c.waitFor(Job)
                        : c.store.edit((s: unknown) => Effect.succeed(s))
              return Effect.as(reached as Effect.Effect<unknown>, new StopEvent({ result: 1 }))
            },
            { name: "remote", distribute: true }
          )
        const { exit } = yield* runVirtual(Workflow.run(wf, {}))
        const defect = defectOf(exit)
        assert.instanceOf(defect, WorkflowValidationError)
        const problem = (defect as WorkflowValidationError).problems[0]!
        assert.strictEqual(problem.check, "distribute")
        assert.deepStrictEqual(problem.steps, ["remote"])
        assert.include(problem.message, `ctx.${operation}`)
      })
    )
  }

  it.effect("with a Distributor, each invocation goes through it, and workers bounds those in flight", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(fc.integer({ min: 1, max: 30 }), fc.integer({ min: 1, max: 6 }), (n, workers) =>
            Effect.runPromiseWith(context)(
              Effect.gen(function* () {
                const wf = fanOut({ distribute: true, workers })
                const r = recording(wf, 10)
                const { exit } = yield* runVirtual(
                  Stream.runCollect(Workflow.stream(wf, { n })).pipe(
                    Effect.provideService(Distribution.Distributor, r.distributor)
                  )
                )
                const events = successOf(exit)
                assert.deepStrictEqual(
                  events.filter((e) => e._tag === "Progress").length,
                  n,
                  "every write reached the stream"
                )
                assert.deepStrictEqual(
                  (events.at(-1) as StopEvent<ReadonlyArray<number>>).result,
                  Array.from({ length: n }, (_, i) => i)
                )
                assert.strictEqual(r.seen.length, n)
                assert.strictEqual(new Set(r.seen.map((i) => i.invocationId)).size, n)
                assert.isTrue(r.seen.every((i) => i.workflow === "fan" && i.step === "work" && i.attempt === 1))
                assert.isAtMost(r.peak(), workers)
                assert.strictEqual(r.peak(), Math.min(workers, n))
              })
            )
          ),
          { numRuns: 20 }
        )
      )
    })
  )

  it.effect("a failure from the Distributor is retried on the step's schedule under the same invocationId", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "retry" })
        .step(StartEvent, () => Effect.succeed(new Job({ index: 3 })), { emits: [Job] })
        .step(
          Job,
          (ev, ctx) =>
            ctx.attempt < 3
              ? Effect.fail(new Flaky({ index: ev.index }))
              : Effect.succeed(new StopEvent({ result: ctx.attempt })),
          { name: "remote", distribute: true, retry: Schedule.recurs(5) }
        )
      const r = recording(wf, 0)
      const result = yield* Workflow.run(wf, {}).pipe(Effect.provideService(Distribution.Distributor, r.distributor))
      assert.strictEqual(result, 3)
      assert.deepStrictEqual(
        r.seen.map((i) => i.attempt),
        [1, 2, 3]
      )
      assert.strictEqual(new Set(r.seen.map((i) => i.invocationId)).size, 1)
    })
  )

  it.effect("distribute that is not a boolean is a validation problem naming the step", () =>
    Effect.gen(function* () {
      const wf = defineWorkflow({ name: "bad" }).step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })), {
        name: "start",
        distribute: "yes" as unknown as boolean
      })
      const error = yield* Effect.flip(Workflow.validate(wf))
      const problem = error.problems.find((p) => p.check === "distribute")
      assert.isDefined(problem)
      assert.deepStrictEqual(problem!.steps, ["start"])
      assert.include(problem!.message, '"yes"')
    })
  )
})
