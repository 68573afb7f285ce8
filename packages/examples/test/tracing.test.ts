/**
 * Tracing a workflow: every run is a span (`effect-flow.run <workflow>`) and every step invocation a child
 * span (`effect-flow.step <step>`) with the workflow, step, event tag, attempt and run id as attributes.
 * They go through Effect's tracer, so `@effect/opentelemetry` (or `effect/observability`'s Otlp layer)
 * exports them to your backend; here an in-memory tracer collects them.
 */
import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect, Exit, Option, Tracer } from "effect"
import { ParallelWorkflow as parallel } from "../src/parallel.ts"

/** A tracer that keeps every span it starts. */
const inMemoryTracer = () => {
  const spans: Array<Tracer.Span> = []
  const tracer = Tracer.make({
    span: (options) => {
      const span = new Tracer.NativeSpan(options)
      spans.push(span)
      return span
    }
  })
  return { spans, tracer }
}

describe("tracing the parallel example", () => {
  it.effect("one run span, and a child span per step invocation with its attributes", () =>
    Effect.gen(function* () {
      const { spans, tracer } = inMemoryTracer()
      const { exit } = yield* runVirtual(
        Workflow.run(parallel, { items: ["a", "b", "c"] }).pipe(Effect.withSpan("request"), Effect.withTracer(tracer))
      )
      assert.isTrue(Exit.isSuccess(exit))
      const request = spans.find((s) => s.name === "request")!
      const run = spans.find((s) => s.name.startsWith("effect-flow.run"))!
      assert.strictEqual(run.name, "effect-flow.run parallel")
      assert.isTrue(
        Option.isSome(run.parent) && run.parent.value.spanId === request.spanId,
        "the run nests in the caller's span"
      )
      const steps = spans.filter((s) => s.name.startsWith("effect-flow.step"))
      // dispatch once, process_item per item, collect_results per result
      assert.deepStrictEqual(steps.map((s) => s.attributes.get("workflow.step")).sort(), [
        "collect_results",
        "collect_results",
        "collect_results",
        "dispatch",
        "process_item",
        "process_item",
        "process_item"
      ])
      for (const s of steps) {
        assert.isTrue(Option.isSome(s.parent) && s.parent.value.spanId === run.spanId)
        assert.strictEqual(s.attributes.get("workflow.name"), "parallel")
        assert.strictEqual(s.attributes.get("workflow.run_id"), run.attributes.get("workflow.run_id"))
        assert.strictEqual(s.attributes.get("workflow.attempt"), 1)
        assert.isTrue(s.status._tag === "Ended")
      }
      assert.deepStrictEqual(
        steps
          .filter((s) => s.attributes.get("workflow.step") === "process_item")
          .map((s) => s.attributes.get("workflow.event")),
        ["ItemEvent", "ItemEvent", "ItemEvent"]
      )
    })
  )
})
