/**
 * effect-flow's tiny run: three steps (start -> step -> stop), `Event.TaggedData` events, each handler one
 * `Effect.succeed` of the next event, `Workflow.runPromise` per run. The handlers and events are exported so the
 * floor runs exactly these with no engine.
 *
 * @since 0.1.0
 */
import * as Core from "@effect-flow/core"
import { Effect, Schema } from "effect"
import type { TinyAdapter, TinyRunner } from "../tiny.ts"

/**
 * The tiny workflow, its events and handlers, built on `core`: this package's engine, or another copy of its
 * sources (the profile's `--engine <commit>` builds the same workflow on an older engine, for a before/after).
 *
 * @since 0.1.0
 */
export const tinyOn = (core: typeof Core) => {
  /** What the start step emits. */
  class Doubled extends core.Event.TaggedData("Doubled")<{ readonly value: number }> {}
  /** What the middle step emits. */
  class Incremented extends core.Event.TaggedData("Incremented")<{ readonly value: number }> {}
  const start = (ev: { readonly value: number }): Effect.Effect<Doubled> =>
    Effect.succeed(new Doubled({ value: ev.value * 2 }))
  const step = (ev: Doubled): Effect.Effect<Incremented> => Effect.succeed(new Incremented({ value: ev.value + 1 }))
  const stop = (ev: Incremented): Effect.Effect<Core.StopEvent<number>> =>
    Effect.succeed(new core.StopEvent({ result: ev.value }))
  const tiny = core
    .defineWorkflow({ name: "tiny", input: Schema.Struct({ value: Schema.Number }) })
    .step(core.StartEvent, start, { name: "start", emits: [Doubled] })
    .step(Doubled, step, { name: "step", emits: [Incremented] })
    .step(Incremented, stop, { name: "stop", emits: [core.StopEvent] })
  const runner: TinyRunner = { run: (value) => core.Workflow.runPromise(tiny, { value }) }
  return { tiny, start, step, stop, runner }
}

const built = tinyOn(Core)

/**
 * The tiny workflow on this package's engine.
 *
 * @example
 * ```ts
 * await Workflow.runPromise(tiny, { value: 3 }) // 7
 * ```
 *
 * @since 0.1.0
 */
export const tiny = built.tiny

/** The start, middle and stop handlers (the floor runs exactly these, with no engine). */
export const { start, step, stop } = built

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
  make: () => built.runner
}
