/**
 * Type tests for `Distributed`: checked by `npx tsc -p tsconfig.json`; the runtime assertions run in Vitest.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import { Distributed, type RunFailedError, UnknownWorkflowError } from "@effect-flow/cluster"
import { defineWorkflow, StartEvent, StopEvent, type WorkflowError } from "@effect-flow/core"
import { Context, Effect, type Layer, Schema } from "effect"
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
      UnknownWorkflowError | RunFailedError | WorkflowError.WorkflowError
    >()
    // @ts-expect-error: the input is the workflow's encoded input
    Distributed.run(wf, { n: "1" })
    assert.strictEqual(
      new UnknownWorkflowError({ workflow: "w", runId: "r", registered: [] })._tag,
      "UnknownWorkflowError"
    )
  })

  it("layer: needs Sharding and the workflows' services", () => {
    expectTypeOf(Distributed.layer({ workflows: [wf] })).toEqualTypeOf<
      Layer.Layer<never, never, Sharding.Sharding | Embedder>
    >()
  })
})
