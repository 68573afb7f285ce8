/**
 * A served run's spans reach an OpenTelemetry exporter through @effect/opentelemetry.
 */
import { InMemorySpanExporter, type ReadableSpan } from "@opentelemetry/sdk-trace-base"
import { describe, expect, it } from "vitest"
import { Tracing } from "../src/index.ts"
import { awaitEnd, post, startServer } from "./fixtures.ts"

describe("traces", () => {
  it("a run started over HTTP exports its run span and a span per step invocation", async () => {
    const exporter = new InMemorySpanExporter()
    const server = await startServer({}, Tracing.layer(exporter) as any)
    let runId: string
    let spans: Array<ReadableSpan>
    try {
      runId = ((await (await post(`${server.url}/api/workflows/fan-out/runs`, { count: 3 })).json()) as any).runId
      expect((await awaitEnd(server.url, runId)).status).toBe("completed")
      // the run span ends just after the status says completed
      for (let i = 0; i < 100 && !exporter.getFinishedSpans().some((s) => s.name.startsWith("effect-flow.run")); i++) {
        await new Promise((r) => setTimeout(r, 10))
      }
    } finally {
      spans = [...exporter.getFinishedSpans()] // shutting the provider down empties an in-memory exporter
      await server.close()
    }
    const run = spans.find((s) => s.name === "effect-flow.run fan-out")
    expect(run, spans.map((s) => s.name).join(", ")).toBeDefined()
    expect(run!.attributes["workflow.run_id"]).toBe(runId)
    const steps = spans.filter((s) => s.name.startsWith("effect-flow.step"))
    expect(steps.map((s) => s.name).sort()).toEqual([
      "effect-flow.step collect",
      "effect-flow.step collect",
      "effect-flow.step collect",
      "effect-flow.step dispatch",
      "effect-flow.step work",
      "effect-flow.step work",
      "effect-flow.step work"
    ])
    for (const s of steps) expect(s.spanContext().traceId).toBe(run!.spanContext().traceId)
  })
})
