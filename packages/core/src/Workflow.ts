/**
 * The immutable workflow builder (`defineWorkflow(...).step(...)`) and the ways to run a workflow:
 * `run` (an Effect), `runPromise` (a Promise), `compile` (a reusable function from input to Effect),
 * `start` / `startPromise` (a handle: events, outside input, result, cancel) and `stream` (the run's events).
 * Also the checks of a definition (`validate`, `problems`, `assertComplete`) and its inspection
 * (`describe`, `toMermaid`).
 *
 * @since 0.1.0
 */
import { Cause, type Duration, Effect, Exit, Layer, ManagedRuntime, Predicate, Schema, Scope, Stream } from "effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type { AnyEvent, EventClass, StopEvent } from "./Event.ts"
import { nameOf } from "./Event.ts"
import type * as Graph from "./internal/graph.ts"
import { EventFeed, RunHandle } from "./internal/handle.ts"
import * as Prepare from "./internal/prepare.ts"
import { isExit } from "./internal/primitive.ts"
import { causeToError, startPromiseHandle } from "./internal/promiseHandle.ts"
import { launch } from "./internal/runtime.ts"
import { fromArgs } from "./internal/step.ts"
import type * as RunEvent from "./RunEvent.ts"
import type * as Step from "./Step.ts"
import {
  type Problem,
  type UnhandledEventError,
  WorkflowCancelledError,
  type WorkflowError,
  type WorkflowInputError,
  WorkflowValidationError
} from "./WorkflowError.ts"

const TypeId: unique symbol = Symbol.for("@effect-flow/core/Workflow") as any

/**
 * The configuration given to {@link defineWorkflow}. Every field is optional; give `state` and
 * `initialState` together, and set `timeout` only as a safety net (stalls already fail at once).
 *
 * @example
 * ```ts
 * defineWorkflow({
 *   name: "parallel",
 *   input: Schema.Struct({ items: Schema.Array(Schema.String) }),
 *   state: Schema.Struct({ total_items: Schema.Number }),
 *   initialState: { total_items: 0 },
 *   timeout: "30 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Config<Input = {}, InputEncoded = {}, Output = never, State = {}> {
  /** A name for messages, traces and diagrams. Default `"workflow"`. */
  readonly name?: string | undefined
  /** The schema the run's input is decoded with; its fields are on the `StartEvent`. */
  readonly input?: Schema.Codec<Input, InputEncoded> | undefined
  /** The schema of the run's result. */
  readonly output?: Schema.Codec<Output, any> | undefined
  /** The schema of the run's state (`ctx.store`). */
  readonly state?: Schema.Codec<State, any> | undefined
  /** The state every run starts from. */
  readonly initialState?: State | undefined
  /** Fail a run that has no result after this long with `WorkflowTimeoutError`. No default. */
  readonly timeout?: Duration.Input | undefined
  /**
   * Events the caller sends into a run (through a handle's `send`) besides `HumanResponseEvent`. Graph
   * checks treat them like `StartEvent`: a step accepting one is reachable, and it needs no producing step.
   * Diagrams draw them as coming from the caller.
   */
  readonly outsideInput?: ReadonlyArray<EventClass<any>> | undefined
  /**
   * Graph checks this workflow opts out of, for every step (a step can opt out alone with its own
   * `ignoreChecks`). Structural checks cannot be ignored. See `Workflow.validate`.
   */
  readonly ignoreChecks?: ReadonlyArray<Graph.IgnorableCheck> | undefined
}

/**
 * A workflow: plain data (its name, config and steps) plus the types its steps accumulated.
 *
 * - `Input` / `InputEncoded`: the decoded and the caller-side type of the input.
 * - `Output`: the result, from the `StopEvent`s the steps return (or the `output` schema).
 * - `State`: the store's type.
 * - `Handled`: the events some step accepts. `Emitted`: the events steps return or declare in `emits`.
 * - `E`, `R`: the handlers' errors and requirements.
 * - `Published`: the events the steps may publish to the run's event stream (their `writes`, the
 *   `InputRequiredEvent`s they emit; any event when a step writes without declaring `writes`).
 *
 * Every `.step(...)` returns a new workflow; the original is never changed, so a partial workflow can
 * serve as a base for several.
 *
 * @example
 * ```ts
 * const base = defineWorkflow({ name: "base" }).step(StartEvent, dispatch, { emits: [ItemEvent] })
 * const a = base.step(ItemEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.item })))
 * base.steps.length // still 1; a.steps.length // 2
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Workflow<
  out Input = {},
  in InputEncoded = {},
  out Output = never,
  in out State = {},
  out Handled = never,
  out Emitted = never,
  out E = never,
  out R = never,
  out Published = never
> extends Pipeable {
  readonly [TypeId]: {
    readonly _Input: (_: never) => Input
    readonly _Output: (_: never) => Output
    readonly _Handled: (_: never) => Handled
    readonly _Emitted: (_: never) => Emitted
    readonly _E: (_: never) => E
    readonly _R: (_: never) => R
    readonly _Published: (_: never) => Published
  }
  readonly name: string
  readonly config: Config<any, any, any, any>
  /** The steps, in the order they were added. */
  readonly steps: ReadonlyArray<Step.Any>

  /**
   * Add a step: `accepts` is an event class, `StartEvent`, or an array of classes; `handler` returns an
   * Effect of the next event, a `StopEvent`, or nothing.
   *
   * Or the handler is a generator function, `function* (event, ctx) { ... }`, written as the body of
   * `Effect.gen` or `Effect.fn`: `yield*` Effects, `return` the next event, a `StopEvent` or nothing. The
   * engine wraps it once (as `Effect.fnUntraced` does), not per event, and its types are inferred the same
   * way: the errors and services of what it yields join the workflow's.
   *
   * @example
   * ```ts
   * defineWorkflow({ name: "greet", input: Schema.Struct({ who: Schema.String }) })
   *   .step(StartEvent, function* (ev) {
   *     yield* Effect.sleep("10 millis")
   *     return new StopEvent({ result: `Hello, ${ev.who}!` })
   *   })
   * ```
   */
  step<
    const A extends Step.Accepts,
    Out extends ([Em] extends [never] ? AnyEvent : Step.EmitsOf<Em>) | void | undefined,
    E1 = never,
    R1 = never,
    const Em extends ReadonlyArray<EventClass<any>> = never,
    const W extends number = number,
    const Wr extends ReadonlyArray<EventClass<any>> = never,
    Eff extends Effect.Effect<any, any, any> = never,
    const D extends boolean = false
  >(
    accepts: A & Step.CheckAccepts<A>,
    handler: (
      event: Step.EventOf<A, Input>,
      ctx: Step.ContextOf<D, State, Step.EmitsOf<Em>, Step.WritesOf<Wr>>
    ) => Effect.Effect<Out, E1, R1> | Generator<Eff, Out, never>,
    options?: Step.Options<Em, W, Wr, D>
  ): Workflow<
    Input,
    InputEncoded,
    Output | Step.ResultOf<Out>,
    State,
    Handled | Step.EventOf<A, Input>,
    Emitted | Exclude<Out, void | undefined> | ([Em] extends [never] ? never : Step.EmitsOf<Em>),
    E | E1 | Effect.Error<Eff>,
    R | Step.ServicesOf<R1 | Effect.Services<Eff>>,
    Published | Step.PublishedOf<Wr, R1 | Effect.Services<Eff>, Out | ([Em] extends [never] ? never : Step.EmitsOf<Em>)>
  >
  /** Add a step defined on its own with `Step.make`. */
  step<In extends AnyEvent, Out, E1, R1, P>(
    step: Step.Step<In, Out, E1, R1, State, P>
  ): Workflow<
    Input,
    InputEncoded,
    Output | Step.ResultOf<Out>,
    State,
    Handled | In,
    Emitted | Out,
    E | E1,
    R | R1,
    Published | P
  >
}

/**
 * Any workflow, whatever its types: for functions that only inspect or draw one.
 *
 * @example
 * ```ts
 * const stepNames = (wf: Workflow.Any) => wf.steps.map((s) => s.name)
 * stepNames(parallel) // ["dispatch", "process_item", "collect_results"]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Workflow<any, any, any, any, any, any, any, any, any>

/**
 * The type-level parts of a workflow: read its input, output, state, errors and services off its type.
 *
 * @example
 * ```ts
 * type In = Workflow.Workflow.InputEncoded<typeof parallel> // { readonly items: ReadonlyArray<string> }
 * type Out = Workflow.Workflow.Output<typeof parallel> // Array<string>
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export declare namespace Workflow {
  /** The caller-side input type. */
  export type InputEncoded<W> = W extends Workflow<any, infer I, any, any, any, any, any, any, any> ? I : never
  /** The decoded input, as on the StartEvent. */
  export type Input<W> = W extends Workflow<infer I, any, any, any, any, any, any, any, any> ? I : never
  /** The result type. */
  export type Output<W> = W extends Workflow<any, any, infer O, any, any, any, any, any, any> ? O : never
  /** The state type. */
  export type State<W> = W extends Workflow<any, any, any, infer S, any, any, any, any, any> ? S : never
  /** The handlers' error union. */
  export type Error<W> = W extends Workflow<any, any, any, any, any, any, infer E, any, any> ? E : never
  /** The handlers' requirements. */
  export type Services<W> = W extends Workflow<any, any, any, any, any, any, any, infer R, any> ? R : never
  /** The events some step accepts. */
  export type Handled<W> = W extends Workflow<any, any, any, any, infer H, any, any, any, any> ? H : never
  /** The events the steps emit. */
  export type Emitted<W> = W extends Workflow<any, any, any, any, any, infer Em, any, any, any> ? Em : never
  /** The events the steps publish to the run's event stream (`writes`, `InputRequiredEvent`s). */
  export type Published<W> = W extends Workflow<any, any, any, any, any, any, any, any, infer P> ? P : never
  /**
   * The type of the run's event stream (`Workflow.stream`, a handle's `events`): what the steps publish,
   * the `StopEvent` of the result, and with `Lifecycle = true` the lifecycle events.
   */
  export type Events<W, Lifecycle extends boolean = false> =
    | Published<W>
    | StopEvent<Output<W>>
    | (true extends Lifecycle ? RunEvent.Lifecycle : never)
}

class WorkflowImpl {
  readonly [TypeId] = undefined as any
  readonly config: Config<any, any, any, any>
  readonly steps: ReadonlyArray<Step.Any>
  constructor(config: Config<any, any, any, any>, steps: ReadonlyArray<Step.Any>) {
    this.config = config
    this.steps = steps
  }
  get name(): string {
    return typeof this.config.name === "string" ? this.config.name : "workflow"
  }
  step(accepts: any, handler?: any, options?: any): any {
    const step = handler === undefined && isStep(accepts) ? accepts : fromArgs(accepts, handler, options)
    return new WorkflowImpl(this.config, [...this.steps, step])
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
  toJSON() {
    return { _id: "Workflow", ...describe(this as any) }
  }
}

const isStep = (u: unknown): u is Step.Any =>
  Predicate.hasProperty(u, "handler") && Predicate.hasProperty(u, "accepts") && Predicate.hasProperty(u, "workers")

/**
 * Is this value a workflow (built by {@link defineWorkflow})?
 *
 * @example
 * ```ts
 * Workflow.isWorkflow(parallel) // true
 * Workflow.isWorkflow({ steps: [] }) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isWorkflow = (u: unknown): u is Any => Predicate.hasProperty(u, TypeId)

/**
 * Start declaring a workflow. Add steps with `.step(accepts, handler, options)`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
 *
 * const hello = defineWorkflow({ name: "hello", input: Schema.Struct({ who: Schema.String }) })
 *   .step(StartEvent, (ev) => Effect.succeed(new StopEvent({ result: `Hello, ${ev.who}!` })))
 *
 * await Workflow.runPromise(hello, { who: "world" }) // "Hello, world!"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const defineWorkflow = <Input = {}, InputEncoded = {}, Output = never, State = {}>(
  config: Config<Input, InputEncoded, Output, State> = {}
): Workflow<Input, InputEncoded, Output, State> =>
  // A config that is not an object (e.g. `null` from JavaScript) is kept for `validate` to report.
  new WorkflowImpl(
    typeof config === "object" && config !== null && !Array.isArray(config)
      ? config
      : ({ [Prepare.NotAnObject]: config } as Config),
    []
  ) as any

/**
 * A new workflow with the steps of `self` followed by those of `that`; the config (name, input, state,
 * timeout) is `self`'s. Neither is changed.
 *
 * @example
 * ```ts
 * const full = Workflow.combine(dispatching, collecting)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const combine: {
  <I2, IE2, O2, S, H2, Em2, E2, R2, P2>(
    that: Workflow<I2, IE2, O2, S, H2, Em2, E2, R2, P2>
  ): <I, IE, O, H, Em, E, R, P>(
    self: Workflow<I, IE, O, S, H, Em, E, R, P>
  ) => Workflow<I, IE, O | O2, S, H | H2, Em | Em2, E | E2, R | R2, P | P2>
  <I, IE, O, S, H, Em, E, R, P, I2, IE2, O2, H2, Em2, E2, R2, P2>(
    self: Workflow<I, IE, O, S, H, Em, E, R, P>,
    that: Workflow<I2, IE2, O2, S, H2, Em2, E2, R2, P2>
  ): Workflow<I, IE, O | O2, S, H | H2, Em | Em2, E | E2, R | R2, P | P2>
} = dual(2, (self: Any, that: Any) => new WorkflowImpl(self.config, [...self.steps, ...that.steps]) as any)

/**
 * The schema of a workflow's input (its config's `input`; an empty struct when it has none). Its decoded
 * side is the `StartEvent`'s fields, its encoded side what `Workflow.run` takes (the same type for plain
 * structs). Hand it to `it.effect.prop` from `@effect/vitest`, which takes Schemas (or effect Arbitraries)
 * and generates decoded values: encode them with `Schema.encodeSync` when the schema transforms.
 *
 * @example
 * ```ts
 * it.effect.prop("every item is processed", { input: Workflow.inputSchema(parallel) }, ({ input }) =>
 *   Effect.gen(function* () {
 *     const { exit } = yield* runVirtual(Workflow.run(parallel, input))
 *     assert.isTrue(Exit.isSuccess(exit))
 *   }))
 * ```
 *
 * @since 0.1.0
 * @category inspection
 */
export const inputSchema = <W extends Any>(self: W): Schema.Codec<Workflow.Input<W>, Workflow.InputEncoded<W>> =>
  (self.config.input ?? emptyInput) as Schema.Codec<Workflow.Input<W>, Workflow.InputEncoded<W>>

const emptyInput = Schema.Struct({})

/**
 * A workflow's shape as plain data: its name and, per step, what it accepts, emits and writes (`undefined`:
 * not declared) and its workers.
 *
 * @example
 * ```ts
 * Workflow.describe(parallel).steps.map((s) => `${s.name} x${s.workers}`)
 * ```
 *
 * @since 0.1.0
 * @category inspection
 */
export const describe = (
  self: Any
): {
  readonly name: string
  readonly steps: ReadonlyArray<{
    readonly name: string
    readonly accepts: ReadonlyArray<string>
    readonly emits: ReadonlyArray<string> | undefined
    readonly writes: ReadonlyArray<string> | undefined
    readonly workers: number
    readonly retry: boolean
    readonly timeout: Duration.Input | undefined
  }>
} => ({
  name: self.name,
  steps: self.steps.map((s) => ({
    name: s.name,
    accepts: s.accepts.map((c) => nameOf(c as EventClass)),
    emits: s.emits?.map((c) => nameOf(c)),
    writes: s.writes?.map((c) => nameOf(c)),
    workers: s.workers,
    retry: s.retry !== undefined,
    timeout: s.timeout
  }))
})

// -------------------------------------------------------------------------------------------------
// validation and compilation

/**
 * The name of a check `Workflow.validate` runs, as in `Problem.check`.
 *
 * Structural checks (a definition that cannot run at all) are `"event-class"`, `"workers"`,
 * `"stop-event-accepted"`, `"start-step"`, `"unique-step-names"`, `"ignore-checks"` (an unknown name in
 * `ignoreChecks`), `"timeout"` (not a positive duration), `"initial-state"` (does not encode with the
 * `state` schema, or is cyclic), `"retry"` (not a `Schedule`), `"handler"` (not a function) and `"config"`
 * (`defineWorkflow` given something other than an object); the graph checks are listed at {@link IgnorableCheck}.
 *
 * @example
 * ```ts
 * const duplicate: Workflow.Check = "unique-step-names"
 * const clashes = Workflow.problems(wf).filter((p) => p.check === duplicate)
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export type Check = Graph.Check

/**
 * A graph check that a workflow (`defineWorkflow({ ignoreChecks })`) or one step
 * (`.step(A, handler, { ignoreChecks })`) may opt out of:
 *
 * - `"unhandled-event"`: a step declares in `emits` an event no step accepts (`StopEvent` and
 *   `InputRequiredEvent` go to the caller and need none).
 * - `"never-emitted"`: a step accepts an event no step emits and the caller does not send.
 * - `"unreachable"`: a step no path from `StartEvent` or outside input leads to.
 * - `"dead-end"`: a step from which no path leads to a `StopEvent`.
 *
 * @example
 * ```ts
 * defineWorkflow({ ignoreChecks: ["dead-end"] })
 *   .step(ItemEvent, audit, { emits: [], ignoreChecks: ["dead-end"] })
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export type IgnorableCheck = Graph.IgnorableCheck

/**
 * Every problem in a workflow's definition (empty when it is valid). See {@link validate} for the checks.
 *
 * @example
 * ```ts
 * Workflow.problems(wf).map((p) => `[${p.check}] ${p.message}`)
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (self: Any): ReadonlyArray<Problem> => Prepare.problems(self)

type LiteralTagOf<E> = E extends { readonly _tag: infer T extends string } ? (string extends T ? never : T) : never

/**
 * The tags of the events a workflow's steps emit (return, or declare in `emits`) that no step accepts,
 * as the types know them. `StopEvent` and `InputRequiredEvent` go to the caller and are never listed;
 * events typed only as "some event" (a step without `emits` that returns `AnyEvent`) cannot be told apart
 * and are not listed either.
 *
 * @example
 * ```ts
 * type Missing = Workflow.UnhandledEvents<typeof wf> // "ProcessedEvent"
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type UnhandledEvents<W> =
  W extends Workflow<any, any, any, any, infer H, infer Em, any, any, any>
    ? Exclude<LiteralTagOf<Em>, LiteralTagOf<H> | "StopEvent" | "InputRequiredEvent">
    : never

type TagsOf<E> = E extends { readonly _tag: infer T extends string } ? T : never

/**
 * What the types know is missing from a workflow, as sentences (`never` when nothing is):
 * `` `Event has no step: ${Tag}` `` for each of {@link UnhandledEvents}, `"No step accepts StartEvent"`,
 * and `"No step returns or emits a StopEvent"` (not said when some step's events are typed only as "some
 * event", which might be a StopEvent).
 *
 * @example
 * ```ts
 * type Errors = Workflow.CompletenessErrors<typeof wf> // "Event has no step: ProcessedEvent"
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type CompletenessErrors<W> =
  W extends Workflow<any, any, any, any, infer H, infer Em, any, any, any>
    ?
        | `Event has no step: ${UnhandledEvents<W>}`
        | ("StartEvent" extends TagsOf<H> ? never : "No step accepts StartEvent")
        | ("StopEvent" extends TagsOf<Em> ? never : "No step returns or emits a StopEvent")
    : never

/**
 * `W` itself when the types know nothing missing from it, else the sentences of
 * {@link CompletenessErrors}, such as `` `Event has no step: ${Tag}` ``. Used by {@link assertComplete}.
 *
 * @example
 * ```ts
 * type Ok = Workflow.Checked<typeof parallel> // typeof parallel
 * type Bad = Workflow.Checked<typeof halfDone> // "Event has no step: ProcessedEvent"
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type Checked<W> = [CompletenessErrors<W>] extends [never] ? W : CompletenessErrors<W>

/**
 * Have the compiler check a workflow's graph as far as its types know it: every event the steps emit is
 * accepted by some step, some step accepts `StartEvent`, and some step returns or emits a `StopEvent`.
 * When not, the call does not compile, and the error says what is missing:
 * `Argument of type 'Workflow<...>' is not assignable to parameter of type '"Event has no step: ProcessedEvent"'`.
 *
 * It checks what the types know: the events handlers return and the `emits` lists. A step without `emits`
 * may also `ctx.send` events its type does not record; `Workflow.validate` checks the declared `emits` at
 * run time too (`unhandled-event`, `dead-end`, ...). At run time this returns the workflow unchanged.
 *
 * @example
 * ```ts
 * export const parallel = Workflow.assertComplete(
 *   defineWorkflow({ name: "parallel" })
 *     .step(StartEvent, dispatch, { emits: [ItemEvent] })
 *     .step(ItemEvent, process, { emits: [ProcessedEvent] })
 *     .step(ProcessedEvent, collect, { emits: [StopEvent] })
 * )
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const assertComplete = <W extends Any>(self: Checked<W>): W => self as W

/**
 * Check a workflow's definition, failing with one `WorkflowValidationError` that lists every problem.
 * Runs (once, cached) whenever a workflow is compiled or run. Each `Problem` names its `check`, the steps
 * and events involved, and says how to fix it.
 *
 * Structural checks (cannot be ignored): `event-class` (accepts/emits/outsideInput list event classes),
 * `workers` (a positive safe integer; a run makes worker slots only as it uses them, so a large bound
 * costs nothing), `stop-event-accepted` (no step accepts StopEvent), `start-step` (some step accepts
 * StartEvent), `unique-step-names`, `ignore-checks` (only ignorable check names are ignored), `timeout`
 * (a positive duration, for the run and each step), `retry` (a `Schedule`), `handler` (a function),
 * `initial-state` (encodes with the `state` schema; with none, has no cycle) and `config` (an object).
 *
 * Graph checks (ignorable, see {@link IgnorableCheck}): `unhandled-event`, `never-emitted`, `unreachable`,
 * `dead-end`. They read each step's `emits`, so declare it: a step without `emits` may emit any event, and
 * - its own emits are never checked (`unhandled-event` cannot see them);
 * - once such a step is reachable, `never-emitted` and `unreachable` stay silent for the whole workflow,
 *   since it could produce any event and so reach any step;
 * - it counts as able to return a StopEvent, so neither it nor a step leading to it is a `dead-end`.
 *
 * Outside input (`HumanResponseEvent` and the config's `outsideInput`) counts as emitted, and a step
 * accepting it as reachable; so does `StepFailedEvent`, which the engine emits when a step fails for good.
 * `StopEvent` and `InputRequiredEvent` go to the caller and need no step.
 *
 * @example
 * ```ts
 * const checked = yield* Workflow.validate(parallel)
 * // or opt out of a graph check for a whole workflow, or for one step:
 * defineWorkflow({ ignoreChecks: ["dead-end"] })
 * wf.step(AuditEvent, audit, { emits: [], ignoreChecks: ["dead-end"] })
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = <W extends Any>(self: W): Effect.Effect<W, WorkflowValidationError> =>
  Effect.suspend(() => {
    const c = Prepare.compiled(self)
    return c instanceof WorkflowValidationError ? Effect.fail(c) : Effect.succeed(self)
  })

/**
 * Turn a workflow into a function from input to the Effect of one run. The definition is checked
 * once, here; each call starts an independent run (its own state, buffers and mailboxes).
 *
 * @example
 * ```ts
 * const runParallel = yield* Workflow.compile(parallel)
 * const [a, b] = yield* Effect.all([runParallel({ items: ["a"] }), runParallel({ items: ["b"] })], { concurrency: 2 })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const compile = <W extends Any>(
  self: W
): Effect.Effect<
  (
    input: Workflow.InputEncoded<W>
  ) => Effect.Effect<Workflow.Output<W>, Workflow.Error<W> | WorkflowError, Workflow.Services<W>>,
  WorkflowValidationError
> =>
  // Checked once here; each run looks the compiled workflow up in the cache again.
  Effect.map(validate(self), () => (input) => Prepare.run(self, input) as any)

/**
 * Run a workflow: decode the input, route a `StartEvent` built from it, and succeed with the `result`
 * of the first `StopEvent`. Fails with a handler's own error, or a `WorkflowError`. Every fiber of the
 * run lives in the run's scope, closed as soon as the run has its result.
 *
 * @example
 * ```ts
 * const result = yield* Workflow.run(parallel, { items: ["a", "b", "c"] })
 * // or: parallel.pipe(Workflow.run({ items: ["a", "b", "c"] }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run: {
  <IE>(
    input: IE
  ): <W extends Workflow<any, IE, any, any, any, any, any, any, any>>(
    self: W
  ) => Effect.Effect<Workflow.Output<W>, Workflow.Error<W> | WorkflowError, Workflow.Services<W>>
  <W extends Any>(
    self: W,
    input: Workflow.InputEncoded<W>
  ): Effect.Effect<Workflow.Output<W>, Workflow.Error<W> | WorkflowError, Workflow.Services<W>>
} = dual(
  (args) => isWorkflow(args[0]),
  (self: Any, input: unknown) => Prepare.run(self, input)
)

/**
 * What gives a workflow's services to Promise code (`{ layer }` of {@link runPromise} and
 * {@link startPromise}): a `Layer` with no requirements of its own, built for the run and released when
 * it ends, or a `ManagedRuntime`, whose services are built once and shared by every run on it (dispose it
 * yourself). Use a `ManagedRuntime` when the services are costly to build (a connection pool, a model client).
 *
 * @example
 * ```ts
 * const runtime = ManagedRuntime.make(Embedder.layer)
 * await Workflow.runPromise(rag, input, { layer: runtime }) // or { layer: Embedder.layer }
 * await runtime.dispose()
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type ServiceProvider<R = any> = Layer.Layer<R, any, never> | ManagedRuntime.ManagedRuntime<R, any>

/**
 * The services a {@link ServiceProvider} provides.
 *
 * @example
 * ```ts
 * type R = Workflow.ProvidedBy<Layer.Layer<Embedder>> // Embedder
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ProvidedBy<L> =
  L extends Layer.Layer<infer ROut, any, any> ? ROut : L extends ManagedRuntime.ManagedRuntime<infer R, any> ? R : never

/**
 * `W` when `L` provides every service the workflow's steps need; otherwise an object type whose one key
 * says so and whose value is the missing services, so the compiler names them at the call site:
 * `Property '"missing services: pass { layer } with a Layer that provides"' is missing ...: Embedder`.
 *
 * @example
 * ```ts
 * type Ok = Workflow.ProvidesServices<typeof rag, Layer.Layer<Embedder>> // typeof rag
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ProvidesServices<W, L> = [Exclude<Workflow.Services<W>, ProvidedBy<L>>] extends [never]
  ? W
  : {
      readonly "missing services: pass { layer } with a Layer that provides": Exclude<
        Workflow.Services<W>,
        ProvidedBy<L>
      >
    }

/**
 * Options of {@link runPromise}.
 *
 * @example
 * ```ts
 * await Workflow.runPromise(rag, input, { layer: Embedder.layer, signal: AbortSignal.timeout(5000) })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunPromiseOptions<L extends ServiceProvider = never> {
  /** The services the steps need: a Layer (built for this run) or a ManagedRuntime (shared). */
  readonly layer?: L | undefined
  /** Abort the run (it is interrupted, and the promise rejects). */
  readonly signal?: AbortSignal | undefined
}

/** Run an effect on the services of `layer`, as an Exit. */
const runExitWith = <A, E>(
  effect: Effect.Effect<A, E, any>,
  layer: ServiceProvider | undefined,
  signal?: AbortSignal | undefined
): Promise<Exit.Exit<A, unknown>> => {
  const options = signal === undefined ? undefined : { signal }
  if (layer === undefined) return Effect.runPromiseExit(effect as Effect.Effect<A, E>, options)
  if (ManagedRuntime.isManagedRuntime(layer)) {
    return (layer as ManagedRuntime.ManagedRuntime<any, unknown>).runPromiseExit(effect, options)
  }
  return Effect.runPromiseExit(Effect.provide(effect, layer as Layer.Layer<any, unknown>), options)
}

/**
 * Run a workflow from plain Promise code. Resolves with the result; rejects with the original error
 * instance (so `err._tag` and `instanceof` work), or the defect. Aborting `options.signal` interrupts the
 * run, which then rejects with `WorkflowCancelledError`.
 *
 * A workflow whose steps need services takes them as `{ layer }`: a `Layer` (built for this run, released
 * when it ends) or a `ManagedRuntime` (built once, shared by runs). Forgetting it is a compile error that
 * names the missing services.
 *
 * @example
 * ```ts
 * try {
 *   const result = await Workflow.runPromise(parallel, { items: ["a", "b"] })
 *   const answers = await Workflow.runPromise(rag, { question }, { layer: Embedder.layer })
 * } catch (err) {
 *   if (err instanceof WorkflowStalledError) console.error(err.message)
 * }
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runPromise = <W extends Any, L extends ServiceProvider = never>(
  self: ProvidesServices<W, L>,
  input: Workflow.InputEncoded<W>,
  options?: RunPromiseOptions<L>
): Promise<Workflow.Output<W>> => {
  if (options?.layer === undefined && options?.signal === undefined) {
    // Nothing to provide and nothing to abort: the run starts now, in the caller's turn, as it would in the fiber
    // `Effect.runPromiseExit` starts at once, and gets a fiber only if it does not end at once.
    let started: Effect.Effect<unknown, unknown>
    try {
      started = Prepare.runNow(self as W, input)
    } catch (defect) {
      started = Exit.die(defect)
    }
    if (!isExit(started)) return Effect.runPromiseExit(started).then(settled) as Promise<Workflow.Output<W>>
    return started._tag === "Success"
      ? Promise.resolve(started.value as Workflow.Output<W>)
      : Promise.reject(causeToError(started.cause))
  }
  return runExitWith(Prepare.run(self as W, input), options?.layer, options?.signal).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value as Workflow.Output<W>
    if (options?.signal?.aborted === true && Cause.hasInterruptsOnly(exit.cause)) {
      throw new WorkflowCancelledError({ workflow: (self as W).name, by: "an AbortSignal" })
    }
    throw causeToError(exit.cause)
  })
}

/** A run's result, or its error thrown (see {@link runPromise}). */
const settled = (exit: Exit.Exit<unknown, unknown>): unknown => {
  if (exit._tag === "Success") return exit.value
  throw causeToError(exit.cause)
}

/**
 * Options for watching a run with {@link start}, {@link startPromise} or {@link stream}. Lifecycle events
 * are off by default: a busy run publishes several per event.
 *
 * @example
 * ```ts
 * const events = Workflow.stream(parallel, { items: ["a", "b"] }, { lifecycle: true })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface WatchOptions {
  /** Also publish lifecycle events (`StepStarted`, `StepCompleted`, `StepFailed`, `StepRetrying`, `EventQueued`). */
  readonly lifecycle?: boolean | undefined
}

/** `true` when the options may turn lifecycle events on. */
type LifecycleOf<O> = "lifecycle" extends keyof O ? (true extends O[keyof O & "lifecycle"] ? true : false) : false

/**
 * A running workflow, from `Workflow.start`.
 *
 * - `events`: the run's event stream (writes, input requests, lifecycle events if asked for, then the
 *   `StopEvent`), ending when the run ends, failing with its error. One consumer: the events are queued
 *   for it from the start, so none is missed by subscribing late. Typed as what the workflow can publish
 *   (`Workflow.Workflow.Events`), so `switch (ev._tag)` narrows.
 * - `send(event)`: inject an event from outside: it answers an open `ctx.waitFor`, or is routed to the
 *   steps that accept it (e.g. a `HumanResponseEvent`).
 * - `result`: the run's result or error. `cancel`: interrupt every fiber of the run; `result` then
 *   fails with `WorkflowCancelledError`.
 * - `waiting`: `true` while only outside input can move the run (`Durable.status`'s `"waiting"`): every
 *   unfinished invocation is suspended in `ctx.waitFor` or an `InputRequiredEvent` awaits its answer, and
 *   nothing else is queued, running or backing off. Whatever class a `waitFor` request is, it counts.
 *
 * @example
 * ```ts
 * const handle = yield* Workflow.start(approval, { amount: 100 })
 * yield* handle.send(new HumanResponseEvent({ response: "yes" }))
 * const result = yield* handle.result
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Handle<Output, E, Events extends AnyEvent = AnyEvent> {
  readonly runId: string
  readonly events: Stream.Stream<Events, E>
  send(event: AnyEvent): Effect.Effect<void, UnhandledEventError>
  readonly result: Effect.Effect<Output, E>
  readonly cancel: Effect.Effect<void>
  readonly waiting: Effect.Effect<boolean>
}

/**
 * Start a run and get a {@link Handle} to watch it, feed it outside input, await or cancel it. The run
 * lives in the caller's scope: closing the scope interrupts it.
 *
 * @example
 * ```ts
 * Effect.scoped(Effect.gen(function*() {
 *   const handle = yield* Workflow.start(approval, { amount: 100 })
 *   yield* handle.events.pipe(Stream.runForEach((ev) =>
 *     ev._tag === "InputRequiredEvent" ? handle.send(new HumanResponseEvent({ response: "yes" })) : Effect.void))
 *   return yield* handle.result
 * }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const start = <W extends Any, const O extends WatchOptions = {}>(
  self: W,
  input: Workflow.InputEncoded<W>,
  options?: O
): Effect.Effect<
  Handle<Workflow.Output<W>, Workflow.Error<W> | WorkflowError, Workflow.Events<W, LifecycleOf<O>>>,
  WorkflowValidationError | WorkflowInputError,
  Workflow.Services<W> | Scope.Scope
> =>
  Effect.gen(function* () {
    const [c, decoded] = yield* Prepare.prepare(self, input)
    const feed = new EventFeed()
    const launched = yield* launch(
      c,
      decoded,
      { publish: feed.publisher(), lifecycle: options?.lifecycle, outsideInput: true },
      yield* Scope.Scope,
      feed
    )
    return new RunHandle(self.name, launched, feed)
  }) as any

/**
 * The run's events as an Effect `Stream`: what steps `ctx.write`, the `InputRequiredEvent`s they publish,
 * lifecycle events with `{ lifecycle: true }`, and last the `StopEvent`. Fails with the run's error
 * (a handler's error, a timeout, a stall). It cannot hang once the run has ended; stopping the stream
 * early interrupts the run. Typed as what the workflow can publish (`Workflow.Workflow.Events`).
 *
 * @example
 * ```ts
 * yield* Workflow.stream(scraper, { urls }, { lifecycle: true }).pipe(
 *   Stream.runForEach((ev) => ev._tag === "StepCompleted" ? progress.tick : Effect.void)
 * )
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const stream = <W extends Any, const O extends WatchOptions = {}>(
  self: W,
  input: Workflow.InputEncoded<W>,
  options?: O
): Stream.Stream<Workflow.Events<W, LifecycleOf<O>>, Workflow.Error<W> | WorkflowError, Workflow.Services<W>> =>
  Stream.unwrap(Effect.map(start(self, input, options), (handle) => handle.events)) as any

/**
 * A {@link Handle} for Promise code: iterate `events` with `for await`, `await result`, `send`, `cancel`.
 * `events` ends quietly when the run fails: the error comes from `result`, so always await it.
 *
 * @example
 * ```ts
 * const handle = await Workflow.startPromise(approval, { amount: 100 })
 * await handle.send(new HumanResponseEvent({ response: "yes" }))
 * console.log(await handle.result)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface PromiseHandle<Output, Events extends AnyEvent = AnyEvent> {
  readonly runId: string
  readonly events: AsyncIterable<Events>
  send(event: AnyEvent): Promise<void>
  /** Resolves with the result; rejects with the original error instance, or a `WorkflowCancelledError` after `cancel`. */
  readonly result: Promise<Output>
  cancel(): Promise<void>
}

/**
 * Options of {@link startPromise}: what to watch, and the services the steps need (`layer`: a Layer built
 * for the run and released when it ends, or a shared `ManagedRuntime`).
 *
 * @example
 * ```ts
 * await Workflow.startPromise(rag, input, { layer: Embedder.layer, lifecycle: true })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StartPromiseOptions<L extends ServiceProvider = never> extends WatchOptions {
  readonly layer?: L | undefined
}

/**
 * Start a run from plain Promise code. Services go in `{ layer }` as for {@link runPromise}.
 *
 * @example
 * ```ts
 * const handle = await Workflow.startPromise(approval, { amount: 100 })
 * for await (const ev of handle.events) {
 *   if (ev._tag === "InputRequiredEvent") await handle.send(new HumanResponseEvent({ response: "yes" }))
 * }
 * console.log(await handle.result)
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const startPromise = async <
  W extends Any,
  L extends ServiceProvider = never,
  const O extends StartPromiseOptions<L> = {}
>(
  self: ProvidesServices<W, L>,
  input: Workflow.InputEncoded<W>,
  options?: O & StartPromiseOptions<L>
): Promise<PromiseHandle<Workflow.Output<W>, Workflow.Events<W, LifecycleOf<O>>>> => {
  const wf = self as W
  const layer = options?.layer
  const scope = Scope.makeUnsafe()
  // A Layer is built into the run's scope, so its services live as long as the run, not just its start.
  const started = Scope.provide(
    layer === undefined || ManagedRuntime.isManagedRuntime(layer)
      ? start(wf, input, options)
      : Effect.flatMap(Layer.build(layer as Layer.Layer<any, unknown>), (context) =>
          Effect.provideContext(start(wf, input, options), context)
        ),
    scope
  )
  const runtime = layer !== undefined && ManagedRuntime.isManagedRuntime(layer) ? layer : undefined
  return startPromiseHandle(started as Effect.Effect<Handle<Workflow.Output<W>, unknown, any>>, scope, (effect) =>
    runExitWith(effect, runtime)
  ) as Promise<PromiseHandle<Workflow.Output<W>, Workflow.Events<W, LifecycleOf<O>>>>
}

/**
 * A Mermaid `flowchart` of the workflow: steps as boxes with their workers, events as rounded nodes,
 * StartEvent and StopEvent styled apart, outside input as an external node. Deterministic output.
 * The same as `Diagram.toMermaid`.
 *
 * @example
 * ```ts
 * console.log(Workflow.toMermaid(parallel)) // flowchart TD ...
 * ```
 *
 * @since 0.1.0
 * @category inspection
 */
export { toMermaid } from "./Diagram.ts"
