/**
 * What an event is: any value with a string `_tag`, usually an instance of a `Schema.TaggedClass`.
 * Routing is by exact `_tag`. This module also holds the built-in events: `StartEvent` (carries the
 * workflow's input), `StopEvent` (ends the run with its `result`), and the human-in-the-loop pair
 * `InputRequiredEvent` / `HumanResponseEvent`.
 *
 * @since 0.1.0
 */
import { Data, Predicate, Schema } from "effect"

/**
 * Any event: a value whose `_tag` names its type. Routing reads only the `_tag`, so two classes with the
 * same tag are the same event type to the engine.
 *
 * @example
 * ```ts
 * import type { Event } from "@effect-flow/core"
 *
 * const logTag = (ev: Event.AnyEvent) => Effect.log(`got ${ev._tag}`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface AnyEvent {
  readonly _tag: string
}

/**
 * A class whose instances are events, for example a `Schema.TaggedClass`; what `.step(...)` accepts and
 * `emits` lists.
 *
 * @example
 * ```ts
 * class ItemEvent extends Schema.TaggedClass<ItemEvent>()("ItemEvent", { item: Schema.String }) {}
 * const accepted: Event.EventClass<ItemEvent> = ItemEvent
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type EventClass<E extends AnyEvent = AnyEvent> = abstract new (...args: any) => E

/**
 * The instance type of an event class (`never` for anything that is not a class).
 *
 * @example
 * ```ts
 * const classes = [ItemEvent, ProcessedEvent] as const
 * type Either = Event.InstanceOf<(typeof classes)[number]> // ItemEvent | ProcessedEvent
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type InstanceOf<C> = C extends abstract new (...args: any) => infer E ? E : never

const StartEventTypeId: unique symbol = Symbol.for("@effect-flow/core/StartEvent") as any
const StopEventTypeId: unique symbol = Symbol.for("@effect-flow/core/StopEvent") as any

/**
 * The event every run begins with. It carries the workflow's decoded input fields, so a step that
 * accepts `StartEvent` reads them directly (`ev.items`).
 *
 * @example
 * ```ts
 * defineWorkflow({ input: Schema.Struct({ items: Schema.Array(Schema.String) }) })
 *   .step(StartEvent, (ev) => Effect.log(ev.items.length))
 * ```
 *
 * @since 0.1.0
 * @category built-in events
 */
export type StartEvent<Input = {}> = { readonly _tag: "StartEvent" } & Readonly<Input>

/**
 * The class of {@link StartEvent}; pass it to `.step(StartEvent, ...)`. The engine builds the StartEvent
 * from the decoded input: you rarely construct one yourself.
 *
 * @example
 * ```ts
 * const isStart = (cls: Step.Accepts): cls is Event.StartEventClass => cls === StartEvent
 * ```
 *
 * @since 0.1.0
 * @category built-in events
 */
export interface StartEventClass {
  readonly [StartEventTypeId]: typeof StartEventTypeId
  readonly _tag: "StartEvent"
  new <Input extends object = {}>(input: Input): StartEvent<Input>
}

/**
 * The event every run begins with, as a class: accept it with `.step(StartEvent, ...)`. Its fields are the
 * decoded input; a `_tag` field in the input never overrides `"StartEvent"`.
 *
 * @example
 * ```ts
 * import { defineWorkflow, StartEvent, StopEvent } from "@effect-flow/core"
 *
 * defineWorkflow({ input: Schema.Struct({ who: Schema.String }) })
 *   .step(StartEvent, (ev) => Effect.succeed(new StopEvent({ result: `Hi ${ev.who}` })))
 * ```
 *
 * @since 0.1.0
 * @category built-in events
 */
export const StartEvent: StartEventClass = class StartEvent {
  static readonly [StartEventTypeId] = StartEventTypeId
  static readonly _tag = "StartEvent"
  declare readonly _tag: "StartEvent"
  constructor(input: object) {
    // A `__proto__` field of the input is defined, not assigned: it stays a field and never replaces the prototype.
    // `for...in` over own keys (what `Object.keys` lists, in its order) reads the keys without an array of them.
    for (const key in input) {
      if (!Object.hasOwn(input, key)) continue
      const value = (input as Record<string, unknown>)[key]
      if (key === "__proto__")
        Object.defineProperty(this, key, { value, enumerable: true, writable: true, configurable: true })
      else (this as Record<string, unknown>)[key] = value
    }
    // The tag wins over an input field of the same name: routing must not depend on the input.
    ;(this as { _tag: string })._tag = "StartEvent"
  }
} as any

/**
 * The event that ends a run: the first `StopEvent` routed wins, its `result` is the run's result,
 * and every other invocation of the run is interrupted.
 *
 * @example
 * ```ts
 * .step(ProcessedEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.result })))
 * ```
 *
 * @since 0.1.0
 * @category built-in events
 */
export interface StopEvent<out Result = unknown> {
  readonly _tag: "StopEvent"
  readonly result: Result
}

/**
 * The class of {@link StopEvent}: generic in its `result`, so `new StopEvent({ result })` types the run's output.
 *
 * @example
 * ```ts
 * const stop = new StopEvent({ result: [1, 2, 3] }) // StopEvent<Array<number>>
 * ```
 *
 * @since 0.1.0
 * @category built-in events
 */
export interface StopEventClass {
  readonly [StopEventTypeId]: typeof StopEventTypeId
  readonly _tag: "StopEvent"
  new <Result>(props: { readonly result: Result }): StopEvent<Result>
  // A non-generic signature too, so `emits: [StopEvent]` can be inferred as a list of event classes.
  new (props: { readonly result: unknown }): StopEvent<unknown>
}

/**
 * The event that ends a run, as a class: return (or `ctx.send`) `new StopEvent({ result })` and the run
 * succeeds with `result`. Only the first one counts; no step may accept `StopEvent`.
 *
 * @example
 * ```ts
 * import { StopEvent } from "@effect-flow/core"
 *
 * .step(ProcessedEvent, (ev) => Effect.succeed(new StopEvent({ result: ev.result })), { emits: [StopEvent] })
 * ```
 *
 * @since 0.1.0
 * @category built-in events
 */
export const StopEvent: StopEventClass = class StopEvent {
  static readonly [StopEventTypeId] = StopEventTypeId
  static readonly _tag = "StopEvent"
  readonly _tag = "StopEvent"
  readonly result: unknown
  constructor(props: { readonly result: unknown }) {
    this.result = props.result
  }
} as any

/**
 * Published to the caller's event stream when a step needs outside input. It needs no consuming step:
 * the caller answers by sending a {@link HumanResponseEvent} (or any event) into the run. Only a run started
 * with `Workflow.start` / `startPromise` can be answered; under `Workflow.run` the run stalls instead.
 *
 * @example
 * ```ts
 * import { InputRequiredEvent, StartEvent } from "@effect-flow/core"
 *
 * .step(StartEvent, () => Effect.succeed(new InputRequiredEvent({ prefix: "Approve? " })))
 * ```
 *
 * @since 0.1.0
 * @category built-in events
 */
export class InputRequiredEvent extends Schema.TaggedClass<InputRequiredEvent>()("InputRequiredEvent", {
  prefix: Schema.String,
  id: Schema.optional(Schema.String),
  payload: Schema.optional(Schema.Unknown)
}) {}

/**
 * The caller's answer to an {@link InputRequiredEvent}, sent in through a handle's `send`; a step that
 * accepts `HumanResponseEvent` (or a `ctx.waitFor(HumanResponseEvent)`) receives it.
 *
 * @example
 * ```ts
 * import { HumanResponseEvent } from "@effect-flow/core"
 *
 * yield* handle.send(new HumanResponseEvent({ response: "yes" }))
 * ```
 *
 * @since 0.1.0
 * @category built-in events
 */
export class HumanResponseEvent extends Schema.TaggedClass<HumanResponseEvent>()("HumanResponseEvent", {
  response: Schema.String,
  id: Schema.optional(Schema.String)
}) {}

/**
 * Is this value an event (an object with a string `_tag`)? A structural check: it does not tell whether
 * any step accepts the tag.
 *
 * @example
 * ```ts
 * import { Event } from "@effect-flow/core"
 *
 * Event.isEvent(new ItemEvent({ item: "a" })) // true
 * Event.isEvent({ item: "a" }) // false
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isEvent = (u: unknown): u is AnyEvent =>
  // Written out (not `Predicate.hasProperty`): the engine asks this of every event it routes.
  u !== null && (typeof u === "object" || typeof u === "function") && typeof (u as { _tag?: unknown })._tag === "string"

/**
 * Is this event a {@link StopEvent}? Handy on a run's event stream, whose last event is the StopEvent.
 *
 * @example
 * ```ts
 * import { Event, Workflow } from "@effect-flow/core"
 *
 * yield* Workflow.stream(parallel, { items: ["a"] }).pipe(
 *   Stream.runForEach((ev) => (Event.isStopEvent(ev) ? Effect.log(ev.result) : Effect.void))
 * )
 * ```
 *
 * @since 0.1.0
 * @category guards
 */
export const isStopEvent = (u: AnyEvent): u is StopEvent => u._tag === "StopEvent"

const tags = new WeakMap<object, string | undefined>()

/**
 * The `_tag` an event class gives its instances, read from a `Schema.TaggedClass`'s `_tag` field or a
 * static `_tag`; `undefined` when the class is not an event class.
 *
 * @example
 * ```ts
 * class Ping extends Schema.TaggedClass<Ping>()("Ping", {}) {}
 * Event.tagOf(Ping) // "Ping"
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const tagOf = (cls: EventClass): string | undefined => {
  if (!Predicate.isFunction(cls)) return undefined
  if (tags.has(cls)) return tags.get(cls)
  let tag: string | undefined
  const c = cls as unknown as {
    readonly _tag?: unknown
    readonly fields?: { readonly _tag?: { readonly ast?: { readonly _tag?: unknown; readonly literal?: unknown } } }
  }
  const ast = c.fields?._tag?.ast
  if (typeof c._tag === "string") tag = c._tag
  else if (ast?._tag === "Literal" && typeof ast.literal === "string") tag = ast.literal
  tags.set(cls, tag)
  return tag
}

/**
 * A readable name for an event class, for messages: its tag, or its JavaScript name. Unlike
 * {@link tagOf} it never returns `undefined`.
 *
 * @example
 * ```ts
 * Event.nameOf(ItemEvent) // "ItemEvent"
 * Event.nameOf(StartEvent) // "StartEvent"
 * ```
 *
 * @since 0.1.0
 * @category accessors
 */
export const nameOf = (cls: EventClass): string => tagOf(cls) ?? (cls?.name || String(cls))

/**
 * An event class without schema validation: `Data.TaggedClass` with the tag also on the class, so the
 * engine can route to it. Constructing one costs a fraction of a `Schema.TaggedClass` (which validates
 * its fields), so use it for high-volume internal events in hot fan-outs; keep `Schema.TaggedClass` for
 * events that cross a boundary (input from a caller, a checkpoint), where validation and encoding matter.
 *
 * @example
 * ```ts
 * class ItemEvent extends Event.TaggedData("ItemEvent")<{ readonly index: number }> {}
 * defineWorkflow().step(ItemEvent, (ev) => Effect.log(ev.index))
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const TaggedData = <const Tag extends string>(
  tag: Tag
): (new <A extends Record<string, any> = {}>(
  args: [keyof A] extends [never] ? void : { readonly [P in keyof A as P extends "_tag" ? never : P]: A[P] }
) => Readonly<A> & { readonly _tag: Tag }) & { readonly _tag: Tag } => {
  const Base = Data.TaggedClass(tag) as unknown as new (args: unknown) => object
  class TaggedEvent extends Base {
    static readonly _tag = tag
  }
  return TaggedEvent as any
}
