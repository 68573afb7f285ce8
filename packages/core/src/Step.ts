/**
 * A step as plain data: what it accepts, what it may emit, its handler, how many workers run it at once,
 * and its retry schedule and per-invocation timeout. Steps are usually added with `.step(...)` on a
 * workflow; `Step.make` defines one on its own, to add it to several workflows.
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Schedule } from "effect"
import type {
  AnyEvent,
  EventClass,
  InputRequiredEvent,
  InstanceOf,
  StartEvent,
  StartEventClass,
  StopEvent,
  StopEventClass
} from "./Event.ts"
import type { IgnorableCheck } from "./internal/graph.ts"
import { fromArgs } from "./internal/step.ts"
import type { DistributedContext, StepContext, UndeclaredWrite } from "./StepContext.ts"

/**
 * What a step can accept: one event class, `StartEvent`, or an array of classes (the handler then gets
 * their union).
 *
 * @example
 * ```ts
 * const one: Step.Accepts = ItemEvent
 * const many: Step.Accepts = [SuccessEvent, ErrorEvent] // the handler gets SuccessEvent | ErrorEvent
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Accepts = EventClass<any> | StartEventClass | ReadonlyArray<EventClass<any> | StartEventClass>

/**
 * `unknown` when `accepts` is fine; a sentence saying what is wrong when it includes `StopEvent`, which ends
 * the run and is never delivered to a step. `.step` intersects its `accepts` parameter with it, so the
 * compiler reports the sentence at the call site.
 *
 * @example
 * ```ts
 * // @ts-expect-error StopEvent ends the run and is never delivered to a step
 * defineWorkflow().step(StopEvent, () => Effect.void)
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type CheckAccepts<A> = [Extract<A extends ReadonlyArray<infer C> ? C : A, StopEventClass>] extends [never]
  ? unknown
  : "StopEvent ends the run and is never delivered to a step: accept the events that lead to it instead"

/**
 * `unknown` for a `workers` value that may be right; for a literal that cannot be (0, negative, fractional),
 * an object type whose one key says what is wrong, so the compiler reports it at the call site.
 *
 * @example
 * ```ts
 * // @ts-expect-error workers must be an integer >= 1
 * defineWorkflow().step(StartEvent, () => Effect.void, { workers: 0 })
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type CheckWorkers<W extends number> = number extends W
  ? unknown
  : `${W}` extends `-${string}` | "0" | `${string}.${string}` | `${string}e${string}`
    ? { readonly "workers must be an integer >= 1": W }
    : unknown

/**
 * The event type a handler receives for `accepts`, given the workflow's decoded input.
 *
 * @example
 * ```ts
 * type A = Step.EventOf<[typeof SuccessEvent, typeof ErrorEvent]> // SuccessEvent | ErrorEvent
 * type B = Step.EventOf<typeof StartEvent, { items: ReadonlyArray<string> }> // StartEvent<{ items: ... }>
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type EventOf<A, Input = {}> = A extends ReadonlyArray<infer C> ? EventOfClass<C, Input> : EventOfClass<A, Input>

/**
 * The event type one accepted class gives a handler: `StartEvent<Input>` for `StartEvent`, else the
 * class's instance type. {@link EventOf} applies it to each class of an array.
 *
 * @example
 * ```ts
 * type A = Step.EventOfClass<typeof ItemEvent, {}> // ItemEvent
 * type B = Step.EventOfClass<typeof StartEvent, { n: number }> // StartEvent<{ n: number }>
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type EventOfClass<C, Input> = C extends StartEventClass ? StartEvent<Input> : InstanceOf<C>

/**
 * The events a step may send or return, from its `emits` option (any event when it has none).
 *
 * @example
 * ```ts
 * type A = Step.EmitsOf<readonly [typeof ItemEvent, typeof StopEvent]> // ItemEvent | StopEvent<unknown>
 * type B = Step.EmitsOf<never> // Event.AnyEvent
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type EmitsOf<Em> = [Em] extends [never] ? AnyEvent : Em extends ReadonlyArray<infer C> ? InstanceOf<C> : AnyEvent

/**
 * The events a step may `ctx.write`, from its `writes` option (any event when it has none).
 *
 * @example
 * ```ts
 * type A = Step.WritesOf<readonly [typeof Progress]> // Progress
 * type B = Step.WritesOf<never> // Event.AnyEvent
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type WritesOf<Wr> = [Wr] extends [never]
  ? AnyEvent
  : Wr extends ReadonlyArray<infer C>
    ? InstanceOf<C>
    : AnyEvent

/**
 * What a step adds to the run's event stream: the events declared in `writes` (any event when the handler
 * writes without declaring them, seen through the {@link UndeclaredWrite} marker in its requirements `R`),
 * and the `InputRequiredEvent`s it returns or declares in `emits`.
 *
 * @example
 * ```ts
 * type A = Step.PublishedOf<readonly [typeof Progress], never, ItemEvent> // Progress
 * type B = Step.PublishedOf<never, UndeclaredWrite, InputRequiredEvent> // Event.AnyEvent | InputRequiredEvent
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type PublishedOf<Wr, R, Out> =
  | ([Wr] extends [never] ? (UndeclaredWrite extends R ? AnyEvent : never) : WritesOf<Wr>)
  | Extract<Out, InputRequiredEvent>

/**
 * A handler's requirements without the {@link UndeclaredWrite} marker: the services it needs.
 *
 * @example
 * ```ts
 * type R = Step.ServicesOf<Embedder | UndeclaredWrite> // Embedder
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ServicesOf<R> = Exclude<R, UndeclaredWrite>

/**
 * The result type of the `StopEvent`s in a union of events: how a workflow's `Output` is inferred.
 *
 * @example
 * ```ts
 * type R = Step.ResultOf<ItemEvent | StopEvent<string>> // string
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ResultOf<Out> = Out extends StopEvent<infer R> ? R : never

/**
 * The non-`StopEvent` events in a union (what a step routes on).
 *
 * @example
 * ```ts
 * type R = Step.RoutedOf<ItemEvent | StopEvent<string> | void> // ItemEvent
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type RoutedOf<Out> = Exclude<Out, StopEvent<any> | void | undefined>

/**
 * The context a step's handler gets: a {@link DistributedContext} for a step declared with
 * `distribute: true` (or a `distribute` that may be true), else the full `StepContext`.
 *
 * @example
 * ```ts
 * type A = Step.ContextOf<true, {}, ProcessedEvent, Event.AnyEvent> // DistributedContext<Event.AnyEvent>
 * type B = Step.ContextOf<false, { n: number }, ItemEvent, Progress> // StepContext<{ n: number }, ItemEvent, Progress>
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type ContextOf<D extends boolean, State, Emits extends AnyEvent, Writes extends AnyEvent> = [D] extends [false]
  ? StepContext<State, Emits, Writes>
  : DistributedContext<Writes>

/**
 * Options of a step, the third argument of `.step(...)` and `Step.make`. Declare `emits`: it types the
 * handler's return and `ctx.send`, and lets graph checks and diagrams see the step's edges.
 *
 * @example
 * ```ts
 * .step(ItemEvent, process, {
 *   name: "process_item", workers: 4, emits: [ProcessedEvent],
 *   retry: Schedule.recurs(2), timeout: "5 seconds"
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Options<
  Em extends ReadonlyArray<EventClass<any>> = ReadonlyArray<EventClass<any>>,
  W extends number = number,
  Wr extends ReadonlyArray<EventClass<any>> = ReadonlyArray<EventClass<any>>,
  D extends boolean = boolean
> {
  /** Unique within the workflow. Default: the handler's function name, else `handle` + the accepted tags. */
  readonly name?: string | undefined
  /** How many invocations of this step may run at once (an integer >= 1). Default 1. */
  readonly workers?: (W & CheckWorkers<W>) | undefined
  /**
   * The event classes the step may return or send. When given, returning or sending anything else is a
   * type error, and graph checks and diagrams use it.
   */
  readonly emits?: Em | undefined
  /**
   * The event classes the step may `ctx.write` (and use as a `ctx.waitFor` request). When given, writing
   * anything else is a type error, and they join the type of the run's event stream (`Workflow.stream`, a
   * handle's `events`). A step that writes without declaring them makes that stream "any event".
   */
  readonly writes?: Wr | undefined
  /** Retry a failed invocation, with the same event, on this schedule. */
  readonly retry?: Schedule.Schedule<any, any, any, any> | undefined
  /** Fail one invocation that runs longer than this with `StepTimeoutError`. */
  readonly timeout?: Duration.Input | undefined
  /**
   * In a cluster (`@effect-flow/cluster`), run each invocation of this step on any runner, as a cluster
   * message keyed by its `invocationId`, so a fan-out uses every runner; its returned event comes back to
   * the run. The handler then gets a {@link DistributedContext} (no `send`, `store`, `collect` or
   * `waitFor`). `workers` still bounds how many of the run's invocations of the step are in flight.
   * Outside a cluster the step runs locally, with the same restricted context. Default `false`.
   */
  readonly distribute?: D | undefined
  /**
   * Graph checks this step opts out of, e.g. `["dead-end"]` for a side branch that logs and returns
   * nothing. See `Workflow.validate`.
   */
  readonly ignoreChecks?: ReadonlyArray<IgnorableCheck> | undefined
}

/**
 * A handler: from the event and the step context to an Effect of the next event, a `StopEvent`, or nothing.
 * Returning nothing is fine for a step that only `ctx.send`s or collects.
 *
 * @example
 * ```ts
 * const process: Step.Handler<ItemEvent, ProcessedEvent, never, never> = (ev, ctx) =>
 *   Effect.succeed(new ProcessedEvent({ result: `${ctx.step}: ${ev.item}`, index: ev.index }))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Handler<In, Out, E, R, State = any, Emits extends AnyEvent = AnyEvent> = (
  event: In,
  ctx: StepContext<State, Emits>
) => Effect.Effect<Out, E, R>

/**
 * A step: plain data, readable back.
 *
 * The type parameters record what the handler receives (`In`), what it returns (`Out`), its error `E`
 * and requirements `R`, and the state and input it expects of the workflow it is added to.
 *
 * @example
 * ```ts
 * const double: Step.Step<NumberEvent, NumberEvent> = Step.make(NumberEvent, (ev) =>
 *   Effect.succeed(new NumberEvent({ n: ev.n * 2 })), { name: "double" })
 * double.name // "double"; double.workers // 1
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Step<in out In = any, out Out = any, out E = any, out R = any, in State = any, out Published = never> {
  /** Type-level only: the events this step adds to the run's event stream. */
  readonly "~published"?: (_: never) => Published
  readonly name: string
  /** The accepted classes, as given (`StartEvent` included). */
  readonly accepts: ReadonlyArray<EventClass<any> | StartEventClass>
  /** The declared `emits`, or `undefined` when the step declared none. */
  readonly emits: ReadonlyArray<EventClass<any>> | undefined
  /** The declared `writes`, or `undefined` when the step declared none. */
  readonly writes?: ReadonlyArray<EventClass<any>> | undefined
  readonly workers: number
  readonly retry: Schedule.Schedule<any, any, any, any> | undefined
  readonly timeout: Duration.Input | undefined
  /** The graph checks this step opts out of (`Workflow.validate`). */
  readonly ignoreChecks?: ReadonlyArray<IgnorableCheck> | undefined
  /** `true`: in a cluster, each invocation runs on any runner (see {@link Options}). */
  readonly distribute?: boolean | undefined
  readonly handler: Handler<In, Out | void | undefined, E, R, State, any>
}

/**
 * Any step, whatever its types: what a workflow's `steps` holds.
 *
 * @example
 * ```ts
 * const names = (steps: ReadonlyArray<Step.Any>) => steps.map((s) => `${s.name} x${s.workers}`)
 * names(parallel.steps) // ["dispatch x1", "process_item x4", "collect_results x1"]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Step<any, any, any, any, any, any>

/**
 * Define a step on its own, to add it to several workflows with `.step(step)`. Annotate `ctx` to give
 * the step a typed store: `(ev, ctx: Context<{ count: number }>) => ...`, with `Context` (the
 * `StepContext.StepContext` interface) imported from `@effect-flow/core`. The handler may be a generator
 * function (`function* (ev, ctx) { ... }`), as in `.step(...)`.
 *
 * @example
 * ```ts
 * const double = Step.make(NumberEvent, (ev) => Effect.succeed(new NumberEvent({ n: ev.n * 2 })), { name: "double" })
 * const a = defineWorkflow().step(StartEvent, start).step(double)
 * const b = defineWorkflow().step(StartEvent, other).step(double)
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const make = <
  const A extends Accepts,
  Out extends ([Em] extends [never] ? AnyEvent : EmitsOf<Em>) | void | undefined,
  E = never,
  R = never,
  State = any,
  const Em extends ReadonlyArray<EventClass<any>> = never,
  const W extends number = number,
  const Wr extends ReadonlyArray<EventClass<any>> = never,
  Eff extends Effect.Effect<any, any, any> = never,
  const D extends boolean = false
>(
  accepts: A,
  handler: (
    event: EventOf<A, any>,
    ctx: ContextOf<D, State, EmitsOf<Em>, WritesOf<Wr>>
  ) => Effect.Effect<Out, E, R> | Generator<Eff, Out, never>,
  options?: Options<Em, W, Wr, D>
): Step<
  EventOf<A, any>,
  Exclude<Out, void | undefined>,
  E | Effect.Error<Eff>,
  ServicesOf<R | Effect.Services<Eff>>,
  State,
  PublishedOf<Wr, R | Effect.Services<Eff>, Out | ([Em] extends [never] ? never : EmitsOf<Em>)>
> => fromArgs(accepts, handler, options) as any
