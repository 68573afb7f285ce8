/**
 * Type tests for `Distributed`: checked by `npx tsc -p tsconfig.json`; the runtime assertions run in Vitest.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Distributed, type RunFailedError, type RunMovedError, UnknownWorkflowError } from "@effect-flow/cluster"
import {
  type Durable,
  defineWorkflow,
  type RunNotFoundError,
  type RunStore,
  type RunStoreError,
  StartEvent,
  StopEvent,
  type WorkflowChangedError,
  type WorkflowError
} from "@effect-flow/core"
import { Context, Effect, type Layer, Schema, type Stream } from "effect"
import type { Sharding } from "effect/cluster"

class Embedder extends Context.Service<Embedder, { readonly embed: (s: string) => number }>()("test/Embedder") {}

const wf = defineWorkflow({ name: "typed", input: Schema.Struct({ n: Schema.Number }) }).step(StartEvent, (ev) =>
  Effect.gen(function* () {
    const embedder = yield* Embedder
    return new StopEvent({ result: { size: embedder.embed(String(ev.n)) } })
  })
)

describe("Distributed (types)", () => {
  it("run: the workflow's output, the run and cluster errors, needing only Sharding", () => {
    expectTypeOf(Distributed.run(wf, { n: 1 })).toEqualTypeOf<
      Effect.Effect<{ size: number }, Distributed.RunError | Distributed.ClusterFailure, Sharding.Sharding>
    >()
    expectTypeOf<Distributed.RunError>().toEqualTypeOf<
      UnknownWorkflowError | RunFailedError | WorkflowError.WorkflowError | Durable.DurableError
    >()
    // @ts-expect-error: the input is the workflow's encoded input
    Distributed.run(wf, { n: "1" })
    assert.strictEqual(
      new UnknownWorkflowError({ workflow: "w", runId: "r", registered: [] })._tag,
      "UnknownWorkflowError"
    )
  })

  it("resume: the workflow's output, with run's errors", () => {
    expectTypeOf(Distributed.resume(wf, "r")).toEqualTypeOf<
      Effect.Effect<{ size: number }, Distributed.RunError | Distributed.ClusterFailure, Sharding.Sharding>
    >()
  })

  it("status and list: Durable's, reading the shared store", () => {
    expectTypeOf(Distributed.status("r")).toEqualTypeOf<
      Effect.Effect<Durable.Status, RunNotFoundError | RunStoreError, RunStore.RunStore>
    >()
    expectTypeOf(Distributed.list({ status: "running" })).toEqualTypeOf<
      Effect.Effect<ReadonlyArray<Durable.Status>, RunStoreError, RunStore.RunStore>
    >()
  })

  it("layer: needs Sharding, a RunStore and the workflows' services; a changed definition fails it", () => {
    expectTypeOf(Distributed.layer({ workflows: [wf] })).toEqualTypeOf<
      Layer.Layer<
        never,
        WorkflowChangedError | RunStoreError | RunNotFoundError,
        Sharding.Sharding | RunStore.RunStore | Embedder
      >
    >()
  })

  it("start: the handle's events fail with RunMovedError besides the run's and the cluster's errors", () => {
    const handle = Effect.runSync(Effect.succeed(undefined as unknown as Distributed.Handle<unknown, StopEvent>))
    expectTypeOf<Stream.Error<typeof handle.events>>().toEqualTypeOf<
      Distributed.RunError | RunMovedError | Distributed.ClusterFailure
    >()
    assert.isUndefined(handle)
  })

  it("RunEntity's Events: a runId the store does not know fails with RunNotFoundError; started is optional", () => {
    type Events = ReturnType<Effect.Success<typeof Distributed.RunEntity.client>>["Events"]
    expectTypeOf<RunNotFoundError>().toExtend<Stream.Error<ReturnType<Events>>>()
    expectTypeOf<RunMovedError | UnknownWorkflowError>().toExtend<Stream.Error<ReturnType<Events>>>()
    expectTypeOf<{ readonly workflow: string }>().toExtend<Parameters<Events>[0]>()
    expectTypeOf<{ readonly workflow: string; readonly started: boolean }>().toExtend<Parameters<Events>[0]>()
    // @ts-expect-error: started is a boolean
    expectTypeOf<{ readonly workflow: string; readonly started: string }>().toExtend<Parameters<Events>[0]>()
    assert.isDefined(Distributed.RunEntity)
  })
})
