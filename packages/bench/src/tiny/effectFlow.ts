/**
 * effect-flow's tiny run: three steps (start -> step -> stop), `Event.TaggedData` events, each handler one
 * `Effect.succeed` of the next event, `Workflow.runPromise` per run. The handlers and events are exported so the
 * floor runs exactly these with no engine.
 *
 * @since 0.1.0
 */
import { defineWorkflow, Event, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Effect, Schema } from "effect"
import type { TinyAdapter } from "../tiny.ts"

/** What the start step emits. */
export class Doubled extends Event.TaggedData("Doubled")<{ readonly value: number }> {}

/** What the middle step emits. */
export class Incremented extends Event.TaggedData("Incremented")<{ readonly value: number }> {}

/** The start step's handler. */
export const start = (ev: { readonly value: number }): Effect.Effect<Doubled> =>
  Effect.succeed(new Doubled({ value: ev.value * 2 }))

/** The middle step's handler. */
export const step = (ev: Doubled): Effect.Effect<Incremented> =>
  Effect.succeed(new Incremented({ value: ev.value + 1 }))

/** The stop step's handler. */
export const stop = (ev: Incremented): Effect.Effect<StopEvent<number>> =>
  Effect.succeed(new StopEvent({ result: ev.value }))

/**
 * The tiny workflow.
 *
 * @example
 * ```ts
 * await Workflow.runPromise(tiny, { value: 3 }) // 7
 * ```
 *
 * @since 0.1.0
 */
export const tiny = defineWorkflow({ name: "tiny", input: Schema.Struct({ value: Schema.Number }) })
  .step(StartEvent, start, { name: "start", emits: [Doubled] })
  .step(Doubled, step, { name: "step", emits: [Incremented] })
  .step(Incremented, stop, { name: "stop", emits: [StopEvent] })

/**
 * The effect-flow tiny-run adapter.
 *
 * @example
 * ```ts
 * await adapter.make().run(3) // 7
 * ```
 *
 * @since 0.1.0
 */
export const adapter: TinyAdapter = {
  name: "effect-flow",
  kind: "engine",
  how: "`defineWorkflow` with an input schema, steps start → step → stop on `Event.TaggedData` events, handlers `Effect.succeed(next event)`; `Workflow.runPromise(wf, { value })` per run",
  packages: ["effect"],
  make: () => ({ run: (value) => Workflow.runPromise(tiny, { value }) })
}
