/**
 * effect-flow in the documented style (issue 15's "documented style" row): handlers written as generator functions
 * (`.step(A, function* (ev, ctx) { ... })`, the shape the newcomer issue adds), `Schema.TaggedClass` events, and a
 * `yield* ctx.send` per item in the dispatch step. The same dispatch / worker / collector workflow as `effectFlow.ts`,
 * whose `Effect.gen`-arrow handlers are what this row is compared against.
 *
 * The engine takes generator handlers once the hardening issue lands them. Until then (found out at load time by
 * running a one-step workflow with a generator handler) the adapter passes the same generator functions wrapped in
 * `Effect.fnUntraced`, which is what the engine is expected to do with them, and its `how` says which was measured.
 *
 * @since 0.1.0
 */
import { defineWorkflow, StartEvent, type Context as StepContext, StopEvent, Workflow } from "@effect-flow/core"
import { Effect, Option, Schema } from "effect"
import type { Adapter } from "../adapter.ts"
import type { Result, Work } from "../workload.ts"
import { benchWorkflow, flowRunner } from "./flowShared.ts"

class ItemEvent extends Schema.TaggedClass<ItemEvent>()("ItemEvent", { index: Schema.Number }) {}

class DoneEvent extends Schema.TaggedClass<DoneEvent>()("DoneEvent", { index: Schema.Number, value: Schema.Number }) {}

/**
 * Whether `.step` takes a generator function as a handler: a one-step workflow with one must end with its result
 * within a second (today's engine, handed a generator, never ends the run).
 */
const probe = async (): Promise<boolean> => {
  try {
    const wf = defineWorkflow({ name: "generator-probe" }).step(
      StartEvent,
      function* () {
        return new StopEvent({ result: "generator" })
      } as any,
      { name: "probe", emits: [StopEvent] }
    )
    let timer: ReturnType<typeof setTimeout> | undefined
    const result = await Promise.race([
      Workflow.runPromise(wf as any, {}),
      new Promise((resolve) => (timer = setTimeout(() => resolve(undefined), 1_000)))
    ])
    clearTimeout(timer)
    return result === "generator"
  } catch {
    return false
  }
}

/** Measured once per process, when the adapter is loaded. */
export const generatorHandlers: boolean = await probe()

/** The generator function itself when the engine takes it, else the same function under `Effect.fnUntraced`. */
const asHandler = <F extends (...args: Array<any>) => Effect.Effect<any, any, any>>(
  generator: (...args: Parameters<F>) => Generator<any, any, any>,
  wrapped: F
): F => (generatorHandlers ? generator : wrapped) as F

type State = { readonly total: number }

function* dispatch(ev: StartEvent<{ readonly items: ReadonlyArray<number> }>, ctx: StepContext<State, ItemEvent>) {
  yield* ctx.store.set("total", ev.items.length)
  for (const index of ev.items) yield* ctx.send(new ItemEvent({ index }))
}

const worker = (work: Work) =>
  function* (ev: ItemEvent) {
    const value = yield* work.effect(ev.index)
    return new DoneEvent({ index: ev.index, value })
  }

function* collector(ev: DoneEvent, ctx: StepContext<State, StopEvent<Array<Result>>>) {
  const total = yield* ctx.store.get("total")
  const all = yield* ctx.collect(ev, total)
  if (Option.isNone(all)) return
  return new StopEvent({ result: all.value.map((d: DoneEvent): Result => ({ index: d.index, value: d.value })) })
}

/**
 * The documented-style adapter.
 *
 * @example
 * ```ts
 * const runner = adapter.make(4, noop)
 * await runner.run([0, 1, 2])
 * ```
 *
 * @since 0.1.0
 */
export const adapter: Adapter = {
  name: "effect-flow (generator handlers)",
  kind: "engine",
  how: `the documented style: handlers written \`function* (ev, ctx) { ... }\`, \`Schema.TaggedClass\` events, a \`yield* ctx.send\` per item; ${
    generatorHandlers
      ? "the generator functions are passed to `.step` as they are"
      : "**the engine does not take generator handlers yet, so the adapter passes the same generator functions wrapped in `Effect.fnUntraced`**"
  }`,
  packages: ["effect"],
  make: (workers, work) => {
    const work_ = worker(work)
    const wf = benchWorkflow("bench-gen")
      .step(StartEvent, asHandler(dispatch, Effect.fnUntraced(dispatch)), { name: "dispatch", emits: [ItemEvent] })
      .step(ItemEvent, asHandler(work_, Effect.fnUntraced(work_)), { name: "work", workers, emits: [DoneEvent] })
      .step(DoneEvent, asHandler(collector, Effect.fnUntraced(collector)), { name: "collect", emits: [StopEvent] })
    return flowRunner(wf)
  }
}
