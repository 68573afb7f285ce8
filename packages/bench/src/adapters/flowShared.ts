/**
 * What the effect-flow adapters share, so that they differ only in how their steps are written: the
 * workflow's input and state, and a run over the bench's items.
 */
import { defineWorkflow, Workflow } from "@effect-flow/core"
import { Schema } from "effect"
import { effectRunner, type Runner } from "../adapter.ts"
import type { Result } from "../workload.ts"

/** A workflow taking the items, with the count in its state for the collector. */
export const benchWorkflow = (name: string) =>
  defineWorkflow({
    name,
    input: Schema.Struct({ items: Schema.Array(Schema.Number) }),
    state: Schema.Struct({ total: Schema.Number }),
    initialState: { total: 0 }
  })

/** The runner of a bench workflow: one that needs no services and whose result is the N results. */
export const flowRunner = (
  wf: Workflow.Workflow<
    any,
    { readonly items: ReadonlyArray<number> },
    ReadonlyArray<Result>,
    any,
    any,
    any,
    any,
    never
  >
): Runner => effectRunner((items) => Workflow.run(wf, { items }))
