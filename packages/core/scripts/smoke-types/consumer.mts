// Type-level smoke check of the BUILT package for an ES module consumer: without the source condition,
// `@effect-flow/core` must resolve to dist/esm/*.d.ts (scripts/smoke.ts checks which files tsc loaded).
import { defineWorkflow, StartEvent, StopEvent, Workflow, WorkflowInputError } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect, Schema } from "effect"

const doubler = defineWorkflow({ name: "doubler", input: Schema.Struct({ n: Schema.Number }) }).step(
  StartEvent,
  (ev) => Effect.succeed(new StopEvent({ result: ev.n * 2 })),
  { name: "double" }
)

export const result: Promise<unknown> = Workflow.runPromise(doubler, { n: 21 })
export const virtual = runVirtual(Workflow.run(doubler, { n: 21 }))
export const isInputError = (u: unknown): u is WorkflowInputError => u instanceof WorkflowInputError

// @ts-expect-error the input is checked against the workflow's input schema
Workflow.runPromise(doubler, { n: "21" })

// @ts-expect-error internal/* is not exported
export type Runtime = typeof import("@effect-flow/core/internal/runtime")

export const program = Workflow.run(doubler, { n: 21 })

// Each public module is also a subpath, as in effect (`effect/Effect`): declaration emit names the types a
// consumer's exports infer (e.g. `WorkflowError`) through it.
export type Failure = import("@effect-flow/core/WorkflowError").WorkflowError
