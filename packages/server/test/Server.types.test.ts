/**
 * Type tests of the public API: the services a served workflow needs flow into the server layer's
 * requirements, and the client's methods carry the API's types.
 */
import { defineWorkflow, type RunStore, StartEvent, StopEvent, type WorkflowValidationError } from "@effect-flow/core"
import { Context, Effect, type Layer, Schema } from "effect"
import type { HttpRouter, HttpServer, HttpServerError } from "effect/http"
import { describe, expectTypeOf, it } from "vitest"
import { RunRegistry, type WorkflowApi, type WorkflowClient, WorkflowServer } from "../src/index.ts"

class Greeter extends Context.Service<Greeter, { readonly greet: (name: string) => string }>()("test/Greeter") {}

const greet = defineWorkflow({ name: "greet", input: Schema.Struct({ name: Schema.String }) }).step(
  StartEvent,
  (ev) =>
    Effect.gen(function* () {
      const greeter = yield* Greeter
      return new StopEvent({ result: greeter.greet(ev.name) })
    }),
  { emits: [StopEvent] }
)

describe("types", () => {
  it("WorkflowServer.layer needs what the workflows' steps need, and provides the server and the registry", () => {
    const layer = WorkflowServer.layer({ workflows: [greet], port: 0 })
    const needsGreeter: Layer.Layer<HttpServer.HttpServer | RunRegistry.RunRegistry, unknown, Greeter> = layer
    // @ts-expect-error the layer cannot be used without the Greeter its step needs
    const needsNothing: Layer.Layer<HttpServer.HttpServer, unknown, never> = layer
    expectTypeOf(needsGreeter).not.toBeAny()
    expectTypeOf(needsNothing).not.toBeAny()
    // @ts-expect-error the port is required
    WorkflowServer.layer({ workflows: [greet] })
    // allowedHosts is a list of host names, as allowedOrigins is of origins
    WorkflowServer.layer({ workflows: [greet], port: 0, allowedHosts: ["flows.example.com"] })
    // @ts-expect-error a list, not one name
    WorkflowServer.layer({ workflows: [greet], port: 0, allowedHosts: "flows.example.com" })
    // an option that cannot work is a typed failure of the layer, as a port already taken is
    expectTypeOf<Layer.Error<typeof layer>>().toEqualTypeOf<
      | HttpServerError.ServeError
      | WorkflowServer.InvalidOptionError
      | WorkflowValidationError
      | RunRegistry.DuplicateWorkflowError
    >()
  })

  it("WorkflowServer.routes fails as the layer does on an option that cannot work, and needs a registry and a router", () => {
    const routes = WorkflowServer.routes({ workflows: [greet], port: 0 })
    expectTypeOf(routes).toEqualTypeOf<
      Layer.Layer<never, WorkflowServer.InvalidOptionError, RunRegistry.RunRegistry | HttpRouter.HttpRouter>
    >()
  })

  it("RunRegistry.layerDurable needs a RunStore besides what the steps need", () => {
    const layer = RunRegistry.layerDurable({ workflows: [greet] })
    expectTypeOf(layer).toEqualTypeOf<
      Layer.Layer<
        RunRegistry.RunRegistry,
        WorkflowValidationError | RunRegistry.DuplicateWorkflowError,
        Greeter | RunStore.RunStore
      >
    >()
  })

  it("the client's methods are typed by the API", () => {
    const use = (client: WorkflowClient.Client) =>
      Effect.gen(function* () {
        const started = yield* client.workflows.start({ params: { name: "greet" }, payload: { name: "Ada" } })
        expectTypeOf(started.runId).toEqualTypeOf<string>()
        const status = yield* client.runs.get({ params: { runId: started.runId } })
        expectTypeOf(status.status).toEqualTypeOf<"running" | "waiting" | "completed" | "failed" | "cancelled">()
        // @ts-expect-error a run id is required
        yield* client.runs.get({ params: {} })
        const failure = yield* Effect.flip(client.runs.get({ params: { runId: "x" } }))
        if (failure._tag === "RunNotFound") expectTypeOf(failure).toEqualTypeOf<WorkflowApi.RunNotFound>()
      })
    expectTypeOf(use).toBeFunction()
  })
})
