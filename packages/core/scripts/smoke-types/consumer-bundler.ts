// Type-level check of the packed package for a bundler-style consumer (`moduleResolution: "bundler"`, as Vite
// or esbuild projects use): the exports map's types resolve, and the run's events narrow on `_tag`.
import { defineWorkflow, InputRequiredEvent, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect, Schema, Stream } from "effect"

class Progress extends Schema.TaggedClass<Progress>()("Progress", { done: Schema.Number }) {}

const asking = defineWorkflow({ name: "asking", input: Schema.Struct({ n: Schema.Number }) }).step(
  StartEvent,
  (ev, ctx) =>
    Effect.gen(function* () {
      yield* ctx.write(new Progress({ done: ev.n }))
      return ev.n > 0 ? new StopEvent({ result: ev.n }) : new InputRequiredEvent({ prefix: "n? " })
    }),
  { writes: [Progress], emits: [StopEvent, InputRequiredEvent] }
)

export const labels = Workflow.stream(asking, { n: 1 }).pipe(
  Stream.map((ev) =>
    ev._tag === "Progress" ? `done ${ev.done}` : ev._tag === "InputRequiredEvent" ? ev.prefix : "stop"
  )
)
export const virtual = runVirtual(Workflow.run(asking, { n: 2 }))
