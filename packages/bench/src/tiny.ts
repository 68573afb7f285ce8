/**
 * The tiny-run workload (issue 15): a 3-step workflow, start -> step -> stop, run once per call. This is where
 * the engine is all the cost: the handlers do almost nothing, so a run measures per-run set-up and teardown.
 * Every system runs its own normal 3-step workflow; a run is given `value` and must answer `valueOf(value)`
 * (the start step doubles it, the middle step adds one, the stop step returns it), which the child verifies.
 */
import type { Kind } from "./adapter.ts"

export interface TinyRunner {
  /** One run of the 3-step workflow on `value`; resolves with its result. */
  readonly run: (value: number) => Promise<number>
}

export interface TinyAdapter {
  readonly name: string
  readonly kind: Kind
  /** How the system does it, in one line, for BENCHMARKS.md. */
  readonly how: string
  /** The npm packages whose versions the report lists. */
  readonly packages: ReadonlyArray<string>
  /** Builds the workflow once per process (definition cost is not part of a run). */
  readonly make: () => TinyRunner
}

/** The effect-flow system of the tiny workload. */
export const TINY_FLOW = "effect-flow"
/** The floor: the same three handlers chained in one `Effect.runPromise` per run. */
export const TINY_FLOOR = "Effect.runPromise of the three handlers"
export const TINY_MASTRA = "Mastra workflows"

/** Every tiny-run system, in report order; loaded lazily so a child process only loads the one it measures. */
export const tinySystems: ReadonlyArray<{
  readonly name: string
  readonly kind: Kind
  readonly load: () => Promise<TinyAdapter>
}> = [
  { name: TINY_FLOW, kind: "engine", load: () => import("./tiny/effectFlow.ts").then((m) => m.adapter) },
  { name: TINY_FLOOR, kind: "floor", load: () => import("./tiny/effectFloor.ts").then((m) => m.adapter) },
  {
    name: "LlamaIndex workflow-core",
    kind: "peer",
    load: () => import("./tiny/llamaindex.ts").then((m) => m.adapter)
  },
  { name: "LangGraph", kind: "peer", load: () => import("./tiny/langgraph.ts").then((m) => m.adapter) },
  { name: TINY_MASTRA, kind: "peer", load: () => import("./tiny/mastra.ts").then((m) => m.adapter) }
]
