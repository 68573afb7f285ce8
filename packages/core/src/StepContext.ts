/**
 * What a handler gets besides its event: `send` (fan-out), `collect` (fan-in), the typed `store`,
 * `write` (publish to the caller's stream), `waitFor` (human in the loop), and where it runs (`runId`,
 * `step`, `attempt`, `worker`).
 *
 * @since 0.1.0
 */
import type { Duration, Effect, Option } from "effect"
import type { AnyEvent, EventClass, InstanceOf } from "./Event.ts"
import type { StepTimeoutError, UnhandledEventError } from "./WorkflowError.ts"

/**
 * Options of `ctx.send`. Naming a `step` that does not exist or does not accept the event fails with
 * `UnhandledEventError`.
 *
 * @example
 * ```ts
 * yield* ctx.send(new ItemEvent({ item, index }), { step: "process_item" })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface SendOptions {
  /** Deliver the event only to this step, instead of every step that accepts its tag. */
  readonly step?: string | undefined
}

/**
 * Options of `ctx.waitFor`. Give each open wait its own `id` (or `match`) when several can be open at once,
 * so an answer goes to the right one.
 *
 * @example
 * ```ts
 * const answer = yield* ctx.waitFor(HumanResponseEvent, {
 *   request: new InputRequiredEvent({ prefix: "Approve order 42? ", id: "order-42" }),
 *   id: "order-42",
 *   timeout: "1 hour"
 * })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface WaitForOptions<E, Request extends AnyEvent = AnyEvent> {
  /**
   * Sent once the wait is open, so its answer cannot arrive before: published to the caller's event stream,
   * and routed to the steps that accept it, if any. When the step declares `writes`, the request must be one
   * of those classes (it joins the run's event stream type through them).
   */
  readonly request?: Request | undefined
  /** Only an event whose `id` field equals this answers the wait. */
  readonly id?: string | undefined
  /** Only an event for which this holds answers the wait. */
  readonly match?: ((event: E) => boolean) | undefined
  /** Fail the invocation with `StepTimeoutError` when no answer came in time. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * The run's typed state, described by the workflow's `state` schema and started from `initialState`.
 *
 * `edit` is the atomic read-modify-write: edits, sets and updates of one run never interleave, so
 * concurrent workers that accumulate through `edit` lose no update. Calling `edit`, `set` or `update`
 * inside an `edit` would wait for itself: the run dies with a `NestedStoreEditError` instead.
 *
 * @example
 * ```ts
 * yield* ctx.store.edit((s) => Effect.succeed({ ...s, results: [...s.results, ev.index] }))
 * const n = yield* ctx.store.get("total_items")
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Store<State> {
  /** The whole state. */
  readonly getAll: Effect.Effect<State>
  /** One field of the state. */
  get<K extends keyof State>(key: K): Effect.Effect<State[K]>
  /** Replace one field; waits for an `edit` in progress. */
  set<K extends keyof State>(key: K, value: State[K]): Effect.Effect<void>
  /** Replace one field with a function of its value, atomically. */
  update<K extends keyof State>(key: K, f: (value: State[K]) => State[K]): Effect.Effect<void>
  /** Atomic, effectful read-modify-write of the whole state. If `f` fails, the state is unchanged. */
  edit<E = never, R = never>(f: (state: State) => Effect.Effect<State, E, R>): Effect.Effect<void, E, R>
}

declare const UndeclaredWriteId: unique symbol

/**
 * The marker a `ctx.write` (or a `ctx.waitFor` with a `request`) leaves in a handler's requirements when
 * its step declared no `writes`. It is not a service: `.step(...)` and `Step.make` remove it from the
 * requirements and widen the type of the run's event stream to any event instead. Declare `writes` on the
 * step to keep the stream's type precise (and `ctx.write` checked).
 *
 * @example
 * ```ts
 * // (ev, ctx) => ctx.write(new Progress({ done: 1 }))          // Effect<void, never, UndeclaredWrite>
 * // .step(A, handler, { writes: [Progress] })                   // ctx.write takes Progress; no marker
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export interface UndeclaredWrite {
  readonly [UndeclaredWriteId]: "ctx.write in a step without `writes`: the run's events widen to any event"
}

/**
 * {@link UndeclaredWrite} when a step's `Writes` are undeclared (any event), else `never`.
 *
 * @example
 * ```ts
 * type A = StepContext.WriteMarker<Event.AnyEvent> // UndeclaredWrite
 * type B = StepContext.WriteMarker<Progress> // never
 * ```
 *
 * @since 0.1.0
 * @category type-level
 */
export type WriteMarker<Writes> = [AnyEvent] extends [Writes] ? UndeclaredWrite : never

/**
 * The context a handler runs in.
 *
 * `Emits` is the union of events the step declared in `emits` (any event when it declared none);
 * `send` only takes those. `Writes` is the union of the events it declared in `writes` (any event when it
 * declared none); `write` only takes those. Annotate a standalone handler's `ctx` with it (exported from the package root as
 * `Context`) to get a typed store.
 *
 * @example
 * ```ts
 * import type { Context, StartEvent } from "@effect-flow/core"
 *
 * const dispatch = (ev: StartEvent<{ items: ReadonlyArray<string> }>, ctx: Context<{ total: number }>) =>
 *   Effect.gen(function*() {
 *     yield* ctx.store.set("total", ev.items.length)
 *     for (const [index, item] of ev.items.entries()) yield* ctx.send(new ItemEvent({ item, index }))
 *   })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface StepContext<State = unknown, Emits extends AnyEvent = AnyEvent, Writes extends AnyEvent = AnyEvent> {
  /** The run this invocation belongs to. */
  readonly runId: string
  /** The step's name. */
  readonly step: string
  /** 1 for the first attempt, counting up with each retry. */
  readonly attempt: number
  /**
   * Names this invocation: one per step and routed event (`<runId>/<step>/<n>`), the same across retries.
   * Key the handler's own outside effects (an HTTP call, a payment) with it to make them idempotent.
   */
  readonly invocationId: string
  /** The worker slot (0 to workers - 1) running this invocation. */
  readonly worker: number
  /**
   * Route an event now: to every step that accepts its tag, or only to `options.step`. Fails with
   * `UnhandledEventError` when no step accepts it, or the named step does not exist or does not accept it.
   * When that leaves a mailbox holding 256 events, the sender then waits until it has drained to 128, unless
   * nothing would drain it (back-pressure: see the package README).
   */
  send(event: Emits, options?: SendOptions): Effect.Effect<void, UnhandledEventError>
  /**
   * Route many events, in order, as `send` would one by one, in one effect: the fast way to fan out.
   * Like `send`, it waits for room whenever a mailbox fills, then goes on with the rest; like sends one
   * by one, events before one that no step accepts have been routed when it fails.
   *
   * @example
   * ```ts
   * (ev, ctx) => ctx.sendAll(ev.items.map((item, index) => new ItemEvent({ item, index })))
   * ```
   *
   * @since 0.1.0
   */
  sendAll(events: Iterable<Emits>, options?: SendOptions): Effect.Effect<void, UnhandledEventError>
  /**
   * Fan-in: buffer `event` in this step's collect buffer and return `Option.some` of exactly `n` events,
   * in arrival order, once `n` are held (else `Option.none()`). Surplus events stay for the next round.
   * With a list of classes, waits for one event per listed class (a class listed k times waits for k)
   * and returns them in the listed order.
   */
  collect<E extends AnyEvent>(event: E, n: number): Effect.Effect<Option.Option<ReadonlyArray<E>>>
  collect<E extends AnyEvent, const Classes extends ReadonlyArray<EventClass>>(
    event: E,
    classes: Classes
  ): Effect.Effect<Option.Option<ReadonlyArray<InstanceOf<Classes[number]>>>>
  /** The run's typed state. */
  readonly store: Store<State>
  /**
   * Publish an event to the caller's event stream (`Workflow.stream`, a handle's `events`); not routed to steps.
   * With `writes` declared on the step, only those events; without, any event, and the run's stream is then
   * typed as any event (see {@link UndeclaredWrite}).
   */
  write(event: Writes): Effect.Effect<void, never, WriteMarker<Writes>>
  /**
   * Human in the loop: publish `options.request` to the caller's stream (and route it to the steps that
   * accept it, if any) and suspend this invocation (only
   * this one: other steps go on) until an event of class `cls` matching `id` / `match` is sent into the
   * run, and return it. Side effects before the wait happen once. Several waits can be open at once.
   *
   * The wait takes events sent from outside and from other steps (they still reach every step that
   * accepts them), but only once it is open: an event sent earlier is routed as usual (and fails with `UnhandledEventError` when no step accepts it). So
   * do not `ctx.send` the event that triggers the answer and then wait: pass it as `request`, which is
   * sent once the wait is open. `explore` (from `@effect-flow/core/testing`) finds such send-then-wait races.
   */
  waitFor<C extends EventClass, Request extends Writes = never>(
    cls: C,
    options?: WaitForOptions<InstanceOf<C>, Request>
  ): Effect.Effect<InstanceOf<C>, StepTimeoutError, [Request] extends [never] ? never : WriteMarker<Writes>>
}

/**
 * The context of a step declared with `distribute: true`: where the invocation runs (`runId`, `step`,
 * `attempt`, `invocationId`) and `write`. In a cluster the invocation runs on any runner, away from the
 * run's owner, so `send`, `store`, `collect` and `waitFor` (which need the run itself) are absent: return the
 * next event instead. A distributed handler that reaches one anyway (through a cast) ends the run with a
 * `WorkflowValidationError` naming the step and the operation.
 *
 * @example
 * ```ts
 * .step(ItemEvent, (ev, ctx) => Effect.gen(function* () {
 *   yield* ctx.write(new Progress({ item: ev.item }))
 *   return new ProcessedEvent({ result: `${ctx.invocationId}: ${ev.item}` })
 * }), { distribute: true, workers: 8, emits: [ProcessedEvent], writes: [Progress] })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface DistributedContext<Writes extends AnyEvent = AnyEvent> {
  /** The run this invocation belongs to. */
  readonly runId: string
  /** The step's name. */
  readonly step: string
  /** 1 for the first attempt, counting up with each retry. */
  readonly attempt: number
  /**
   * Names this invocation (`<runId>/<step>/<n>`), the same across retries and on whichever runner runs it:
   * key the handler's outside effects with it.
   */
  readonly invocationId: string
  /**
   * Publish an event to the caller's event stream. In a cluster the writes reach the run's owner with the
   * invocation's outcome, in order, before its returned event is routed.
   */
  write(event: Writes): Effect.Effect<void, never, WriteMarker<Writes>>
}
