/**
 * The adapter contract: each system runs the same fan-out / fan-in its own documented way. `make` builds
 * the system's workflow once per process (definition cost is not part of a run); `run` does one run over
 * the given items and resolves with its N results (in any order: verification sorts them).
 */
import { Effect } from "effect"
import type { Result, Work } from "./workload.ts"

export type Kind = "engine" | "floor" | "peer"

export interface Runner {
  /** One fan-out / fan-in run over `items`. */
  readonly run: (items: ReadonlyArray<number>) => Promise<ReadonlyArray<Result>>
  /** Many independent runs at once (workload D). Defaults to `Promise.all` over `run`. */
  readonly runMany?: (batches: ReadonlyArray<ReadonlyArray<number>>) => Promise<ReadonlyArray<ReadonlyArray<Result>>>
}

/**
 * The runner of an Effect-based system: one run per `run`, and `runMany`'s runs all at once.
 *
 * @example
 * ```ts
 * make: (workers, work) => effectRunner((items) => Effect.forEach(items, work.effect, { concurrency: workers }))
 * ```
 */
export const effectRunner = <A extends ReadonlyArray<Result>>(
  one: (items: ReadonlyArray<number>) => Effect.Effect<A, unknown>
): Runner => ({
  run: (items) => Effect.runPromise(one(items)),
  runMany: (batches) => Effect.runPromise(Effect.forEach(batches, one, { concurrency: "unbounded" }))
})

export interface Adapter {
  readonly name: string
  readonly kind: Kind
  /** How the adapter does it, in one line, for BENCHMARKS.md. */
  readonly how: string
  /** The npm packages whose versions the report lists. */
  readonly packages: ReadonlyArray<string>
  readonly make: (workers: number, work: Work) => Runner
}

/** Every system, in report order; loaded lazily so a child process only loads the one it measures. */
export const adapters: ReadonlyArray<{
  readonly name: string
  readonly kind: Kind
  readonly load: () => Promise<Adapter>
}> = [
  { name: "effect-flow", kind: "engine", load: () => import("./adapters/effectFlow.ts").then((m) => m.adapter) },
  {
    name: "effect-flow (Effect.fn handlers)",
    kind: "engine",
    load: () => import("./adapters/effectFlowFn.ts").then((m) => m.adapter)
  },
  {
    name: "effect-flow (generator handlers)",
    kind: "engine",
    load: () => import("./adapters/effectFlowGen.ts").then((m) => m.adapter)
  },
  {
    name: "effect-flow as issue 15 was filed",
    kind: "engine",
    load: () => import("./adapters/effectFlowFiled.ts").then((m) => m.load())
  },
  {
    name: "effect-flow (lean handlers)",
    kind: "engine",
    load: () => import("./adapters/effectFlowLean.ts").then((m) => m.adapter)
  },
  { name: "Effect.forEach", kind: "floor", load: () => import("./adapters/effectForEach.ts").then((m) => m.adapter) },
  {
    name: "Effect.forEach with the workflow's handlers",
    kind: "floor",
    load: () => import("./adapters/effectForEachHandlers.ts").then((m) => m.adapter)
  },
  {
    name: "Effect.forEach with the documented style's handlers",
    kind: "floor",
    load: () => import("./adapters/effectForEachGenerators.ts").then((m) => m.adapter)
  },
  {
    name: "Effect.forEach with the arrow row's handlers",
    kind: "floor",
    load: () => import("./adapters/effectForEachArrows.ts").then((m) => m.adapter)
  },
  {
    name: "Effect queue pipeline",
    kind: "floor",
    load: () => import("./adapters/effectQueue.ts").then((m) => m.adapter)
  },
  { name: "p-limit promises", kind: "floor", load: () => import("./adapters/pLimit.ts").then((m) => m.adapter) },
  {
    name: "LlamaIndex workflow-core",
    kind: "peer",
    load: () => import("./adapters/llamaindex.ts").then((m) => m.adapter)
  },
  { name: "LangGraph", kind: "peer", load: () => import("./adapters/langgraph.ts").then((m) => m.adapter) },
  { name: "Mastra workflows", kind: "peer", load: () => import("./adapters/mastra.ts").then((m) => m.adapter) }
]

/** The system every ratio is taken against. */
export const BASELINE = "Effect.forEach"
/** The engine row whose handlers the handlers floor runs with no engine: the pair the engine's own share compares. */
export const LEAN = "effect-flow (lean handlers)"
/** The floor running {@link LEAN}'s handlers and events under `Effect.forEach`. */
export const HANDLERS = "Effect.forEach with the workflow's handlers"
/** The documented style's row, and the floor running its handlers and events under `Effect.forEach`. */
export const GENERATOR = "effect-flow (generator handlers)"
export const GENERATOR_HANDLERS = "Effect.forEach with the documented style's handlers"
/** The floor running the `Effect.gen`-arrow row's handlers and events under `Effect.forEach`. */
export const ARROW_HANDLERS = "Effect.forEach with the arrow row's handlers"
