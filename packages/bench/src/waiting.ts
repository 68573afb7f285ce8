/**
 * Memory per waiting run (issue 15): many effect-flow runs held open at once, each waiting for outside input, as a
 * server holds runs that wait for a person. Each system starts a run on `value` that then waits; `answer` sends it
 * the input it waits for, and its result must then be `valueOf(value)`. Measured by `child.ts` (heap used after a
 * forced GC, per run), with a bare Effect fiber waiting on a `Deferred` as the reference.
 */
import {
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  StartEvent,
  StopEvent,
  Workflow
} from "@effect-flow/core"
import { Deferred, Effect, Fiber, Option, Schema, Scope, Stream } from "effect"
import type { Kind } from "./adapter.ts"

/**
 * How to drive one run held open, given what its caller keeps for it while it waits (`held`: a handle for
 * the engine, the fiber and its `Deferred` for the reference): `ready` ends once it waits, `answer` gives it its
 * input, `result` awaits its end. The effects are built when the harness runs them, so what is measured while
 * the runs wait is what a caller keeps for each (as a server keeps a handle per waiting run), not effects
 * built ahead for it.
 */
export interface Waiting<Held> {
  readonly ready: (held: Held) => Effect.Effect<void, unknown>
  readonly answer: (held: Held) => Effect.Effect<void, unknown>
  readonly result: (held: Held) => Effect.Effect<unknown, unknown>
}

export interface WaitingSystem<Held = any> extends Waiting<Held> {
  readonly name: string
  readonly kind: Kind
  readonly how: string
  /** Start a run on `value` in `scope`, waiting for its input: what its caller keeps for it. */
  readonly start: (value: number, scope: Scope.Scope) => Effect.Effect<Held, unknown>
}

const input = Schema.Struct({ value: Schema.Number })

/** The run's first published event is its request for input: once the caller has it, the run waits. */
const requested = (events: Stream.Stream<unknown, unknown>): Effect.Effect<void, unknown> =>
  Effect.flatMap(Stream.runHead(events), (first) =>
    Option.isSome(first) && (first.value as { _tag?: string })._tag === "InputRequiredEvent"
      ? Effect.void
      : Effect.die(new Error(`expected the run to publish an InputRequiredEvent first, got ${String(first)}`))
  )

const answered = new HumanResponseEvent({ response: "1" })

/** An engine row: the caller keeps the run's handle. */
const viaHandle = <W extends Workflow.Any>(
  wf: W
): Omit<WaitingSystem<Workflow.Handle<unknown, unknown>>, "name" | "kind" | "how"> => ({
  start: (value, scope) =>
    Scope.provide(
      Workflow.start(wf, { value } as Workflow.Workflow.InputEncoded<W>),
      scope
    ) as unknown as Effect.Effect<Workflow.Handle<unknown, unknown>, unknown>,
  ready: (handle) => requested(handle.events),
  answer: (handle) => handle.send(answered),
  result: (handle) => handle.result
})

/** A step waiting in `ctx.waitFor`: its invocation (and worker fiber) stays suspended until the answer comes. */
const viaWaitFor = defineWorkflow({ name: "waiting-waitFor", input }).step(
  StartEvent,
  (ev, ctx) =>
    Effect.map(
      ctx.waitFor(HumanResponseEvent, { request: new InputRequiredEvent({ prefix: "value? " }) }),
      (answer) => new StopEvent({ result: ev.value * 2 + Number(answer.response) })
    ),
  { name: "ask", emits: [StopEvent] }
)

/** LlamaIndex's way: a step returns an `InputRequiredEvent` and ends; a step accepting the answer goes on. */
const viaEvent = defineWorkflow({
  name: "waiting-event",
  input,
  state: Schema.Struct({ value: Schema.Number }),
  initialState: { value: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) => Effect.as(ctx.store.set("value", ev.value), new InputRequiredEvent({ prefix: "value? " })),
    { name: "ask" }
  )
  .step(
    HumanResponseEvent,
    (ev, ctx) =>
      Effect.map(ctx.store.get("value"), (value) => new StopEvent({ result: value * 2 + Number(ev.response) })),
    { name: "answer", emits: [StopEvent] }
  )

export const WAIT_FOR = "effect-flow, a step waiting in `ctx.waitFor`"
export const WAIT_EVENT = "effect-flow, after a step returned an `InputRequiredEvent`"

/** Every waiting-run system, in report order. */
export const waitingSystems: ReadonlyArray<WaitingSystem> = [
  {
    name: WAIT_FOR,
    kind: "engine",
    how: "`Workflow.start` (a handle) of a one-step workflow whose step calls `ctx.waitFor(HumanResponseEvent, { request })`; answered with `handle.send`",
    ...viaHandle(viaWaitFor)
  },
  {
    name: WAIT_EVENT,
    kind: "engine",
    how: "`Workflow.start` (a handle) of a workflow whose start step stores the input and returns an `InputRequiredEvent`, and a step accepting `HumanResponseEvent` ends the run",
    ...viaHandle(viaEvent)
  },
  {
    name: "an Effect fiber waiting on a Deferred",
    kind: "floor",
    how: "`Effect.forkIn(Deferred.await(d), scope)` per run, answered with `Deferred.succeed`: what one suspended fiber costs, for reference",
    start: (value, scope) =>
      Effect.gen(function* () {
        const deferred = yield* Deferred.make<number>()
        const fiber = yield* Effect.forkIn(
          Effect.map(Deferred.await(deferred), (answer) => value * 2 + answer),
          scope
        )
        return { deferred, fiber }
      }),
    ready: () => Effect.void,
    answer: (held: { deferred: Deferred.Deferred<number>; fiber: Fiber.Fiber<number> }) =>
      Deferred.succeed(held.deferred, 1),
    result: (held: { deferred: Deferred.Deferred<number>; fiber: Fiber.Fiber<number> }) => Fiber.join(held.fiber)
  }
]
