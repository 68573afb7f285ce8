/**
 * `npm run serve`: serve every example workflow (packages/examples) on 127.0.0.1 and open the run viewer.
 *
 *   npm run serve                       # http://127.0.0.1:8787
 *   PORT=9000 FLOW_TOKEN=s3cret npm run serve
 *   npm run serve -- --trace            # also print every span (OpenTelemetry console exporter)
 *   npm run serve -- --db runs.db       # durable runs in a SQLite file: they outlive the server
 *
 * The examples' services are provided here: the simulated summarizer, local models, Node's HTTP client.
 */
import { NodeHttpClient, NodeRuntime } from "@effect/platform-node"
import { Workflow } from "@effect-flow/core"
import { SqliteRunStore } from "@effect-flow/sql"
import { ConsoleSpanExporter } from "@opentelemetry/sdk-trace-base"
import { Console, Effect, Layer } from "effect"
import { HttpServer } from "effect/http"
import { exampleNames, loadExample, workflowsOf } from "../../examples/src/draw.ts"
import { localModels } from "../../examples/src/multi-model.ts"
import { Summarizer } from "../../examples/src/service.ts"
import { Tracing, WorkflowServer } from "../src/index.ts"

const port = Number(process.env.PORT ?? 8787)
const dbAt = process.argv.indexOf("--db")
const db = dbAt === -1 ? undefined : process.argv[dbAt + 1]
const token = process.env.FLOW_TOKEN || undefined

const program = Effect.gen(function* () {
  const workflows = new Map<string, Workflow.Any>()
  for (const name of yield* exampleNames()) {
    for (const [exportName, workflow] of workflowsOf(yield* loadExample(name))) {
      if (workflows.has(workflow.name)) continue // a variant of one already served (same name)
      const valid = yield* Effect.result(Workflow.validate(workflow))
      if (valid._tag === "Failure") yield* Console.warn(`skipping ${name}.${exportName}: ${valid.failure.message}`)
      else workflows.set(workflow.name, workflow)
    }
  }
  const services = Layer.mergeAll(Summarizer.layer, localModels(), NodeHttpClient.layerUndici)
  const tracing = process.argv.includes("--trace") ? Tracing.layer(new ConsoleSpanExporter()) : Layer.empty
  if (dbAt !== -1 && (db === undefined || db.startsWith("--"))) {
    return yield* Console.error("--db needs a file name: npm run serve -- --db runs.db")
  }
  // With a RunStore in context the server runs are durable (journaled in the file, resumed by the next server).
  const store = db === undefined ? Layer.empty : SqliteRunStore.layer({ filename: db })
  const server = WorkflowServer.layer({ workflows: [...workflows.values()], port, token }).pipe(
    Layer.provide(Layer.mergeAll(services, tracing, store))
  )
  yield* Effect.gen(function* () {
    const { address } = yield* HttpServer.HttpServer
    yield* Console.log(`Serving ${workflows.size} workflows: ${[...workflows.keys()].join(", ")}`)
    if (db !== undefined) yield* Console.log(`Durable runs in ${db}`)
    yield* Console.log(`Run viewer: ${HttpServer.formatAddress(address)}/${token ? "  (token: FLOW_TOKEN)" : ""}`)
    return yield* Effect.never
  }).pipe(Effect.provide(server as Layer.Layer<HttpServer.HttpServer>))
})

NodeRuntime.runMain(program)
