/**
 * The tiny run's floor: effect-flow's three handlers (imported, so they cannot drift) chained with `flatMap` in one
 * `Effect.runPromise` per run. No engine: no input decoding, routing, scope, fibers or run span. What effect-flow
 * costs above this is its per-run cost.
 *
 * @since 0.1.0
 */
import { StartEvent } from "@effect-flow/core"
import { Effect } from "effect"
import type { TinyAdapter } from "../tiny.ts"
import { start, step, stop } from "./effectFlow.ts"

/**
 * The floor adapter.
 *
 * @example
 * ```ts
 * await adapter.make().run(3) // 7
 * ```
 *
 * @since 0.1.0
 */
export const adapter: TinyAdapter = {
  name: "Effect.runPromise of the three handlers",
  kind: "floor",
  how: "effect-flow's three handlers and events chained with `flatMap` (`start(new StartEvent({ value }))` → `step` → `stop`) in one `Effect.runPromise` per run",
  packages: ["effect"],
  make: () => ({
    run: (value) =>
      Effect.runPromise(
        Effect.map(Effect.flatMap(Effect.flatMap(start(new StartEvent({ value })), step), stop), (ev) => ev.result)
      )
  })
}
