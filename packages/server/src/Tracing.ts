/**
 * Export a served run's spans (`effect-flow.run <workflow>` and a child `effect-flow.step <step>` per
 * invocation) to OpenTelemetry through `@effect/opentelemetry`: give it any `SpanExporter` (the console,
 * OTLP, or an in-memory one in tests) and provide the layer to `WorkflowServer.layer`.
 *
 * @since 0.1.0
 */
import * as OtelTracer from "@effect/opentelemetry/OtelTracer"
import { BasicTracerProvider, SimpleSpanProcessor, type SpanExporter } from "@opentelemetry/sdk-trace-base"
import { Effect, Layer } from "effect"

/**
 * Effect's tracer backed by an OpenTelemetry tracer provider that sends every finished span to `exporter`
 * (one at a time: `SimpleSpanProcessor`). The provider is flushed and shut down when the layer closes.
 *
 * @example
 * ```ts
 * import { ConsoleSpanExporter } from "@opentelemetry/sdk-trace-base"
 *
 * WorkflowServer.layer({ workflows, port: 8787 }).pipe(Layer.provide(Tracing.layer(new ConsoleSpanExporter())))
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (exporter: SpanExporter): Layer.Layer<OtelTracer.OtelTracer> =>
  OtelTracer.layer.pipe(
    Layer.provide(
      Layer.effect(
        OtelTracer.OtelTracerProvider,
        Effect.acquireRelease(
          Effect.sync(() => new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] })),
          (provider) => Effect.promise(() => provider.shutdown())
        )
      )
    )
  )
