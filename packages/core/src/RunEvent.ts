/**
 * What a run tells its watchers. `Workflow.stream` and a handle's `events` carry the events steps
 * `ctx.write`, the `InputRequiredEvent`s they publish, and the final `StopEvent`; with
 * `{ lifecycle: true }` also these lifecycle events: an invocation started, completed, failed or is
 * retrying, and an event queued for lack of a free worker.
 *
 * `StepFailedEvent` is different: it is routed like any event. A step that accepts it recovers from
 * other steps' failures (after their retries), instead of the failure ending the run.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"

/**
 * An invocation of a step started. Published only when watching with `{ lifecycle: true }`.
 *
 * @example
 * ```ts
 * import { RunEvent, Workflow } from "@effect-flow/core"
 *
 * yield* Workflow.stream(parallel, { items }, { lifecycle: true }).pipe(
 *   Stream.filter((ev): ev is RunEvent.StepStarted => ev._tag === "StepStarted"),
 *   Stream.runForEach((ev) => Effect.log(`${ev.step} #${ev.worker} took ${ev.event}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export class StepStarted extends Schema.TaggedClass<StepStarted>()("StepStarted", {
  step: Schema.String,
  event: Schema.String,
  worker: Schema.Number,
  attempt: Schema.Number
}) {}

/**
 * An invocation of a step completed; `returned` is the tag of what it returned, if anything. Published only
 * with `{ lifecycle: true }`; a good progress signal.
 *
 * @example
 * ```ts
 * yield* Workflow.stream(parallel, { items }, { lifecycle: true }).pipe(
 *   Stream.runForEach((ev) => (ev._tag === "StepCompleted" ? Effect.log(`${ev.step} done`) : Effect.void))
 * )
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export class StepCompleted extends Schema.TaggedClass<StepCompleted>()("StepCompleted", {
  step: Schema.String,
  event: Schema.String,
  worker: Schema.Number,
  attempt: Schema.Number,
  returned: Schema.optional(Schema.String)
}) {}

/**
 * An invocation of a step failed. `willRetry` says whether its retry schedule tries again. Published only
 * with `{ lifecycle: true }`; it reports the failure, it does not handle it (see {@link StepFailedEvent}).
 *
 * @example
 * ```ts
 * const handle = yield* Workflow.start(scraper, { urls }, { lifecycle: true })
 * yield* handle.events.pipe(
 *   Stream.runForEach((ev) => (ev._tag === "StepFailed" ? Effect.logWarning(`${ev.step} failed`) : Effect.void))
 * )
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export class StepFailed extends Schema.TaggedClass<StepFailed>()("StepFailed", {
  step: Schema.String,
  event: Schema.String,
  worker: Schema.Number,
  attempt: Schema.Number,
  error: Schema.Defect(),
  willRetry: Schema.Boolean
}) {}

/**
 * A failed event will be handled again, attempt `attempt`, after `delayMillis`. Its worker slot is free
 * meanwhile. Published only with `{ lifecycle: true }`, for steps with a `retry` schedule.
 *
 * @example
 * ```ts
 * const retrying = (ev: Event.AnyEvent): ev is RunEvent.StepRetrying => ev._tag === "StepRetrying"
 * // e.g. { step: "fetch", event: "UrlEvent", attempt: 2, delayMillis: 100 }
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export class StepRetrying extends Schema.TaggedClass<StepRetrying>()("StepRetrying", {
  step: Schema.String,
  event: Schema.String,
  attempt: Schema.Number,
  delayMillis: Schema.Number
}) {}

/**
 * An event waits in a step's mailbox because all its workers are busy; `queued` is the mailbox's length.
 * Published only with `{ lifecycle: true }`; many of them suggest raising the step's `workers`.
 *
 * @example
 * ```ts
 * const queued = events.filter((e): e is RunEvent.EventQueued => e._tag === "EventQueued")
 * const deepest = Math.max(0, ...queued.map((e) => e.queued))
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export class EventQueued extends Schema.TaggedClass<EventQueued>()("EventQueued", {
  step: Schema.String,
  event: Schema.String,
  queued: Schema.Number
}) {}

/**
 * The lifecycle events, the union published with `{ lifecycle: true }` besides the run's own events.
 *
 * @example
 * ```ts
 * const lifecycleTags = ["StepStarted", "StepCompleted", "StepFailed", "StepRetrying", "EventQueued"]
 * const isLifecycle = (ev: Event.AnyEvent): ev is RunEvent.Lifecycle => lifecycleTags.includes(ev._tag)
 * ```
 *
 * @since 0.1.0
 * @category lifecycle
 */
export type Lifecycle = StepStarted | StepCompleted | StepFailed | StepRetrying | EventQueued

/**
 * Routed when a step's invocation fails for good (after its retries) and some step accepts
 * `StepFailedEvent`: that step recovers, and the run goes on. Without such a step, the failure ends the run.
 *
 * @example
 * ```ts
 * .step(StepFailedEvent, (failed) => Effect.succeed(new ResultEvent({ ok: false, why: String(failed.error) })))
 * ```
 *
 * @since 0.1.0
 * @category recovery
 */
export class StepFailedEvent extends Schema.TaggedClass<StepFailedEvent>()("StepFailedEvent", {
  step: Schema.String,
  /** The event whose handling failed. */
  event: Schema.Unknown,
  error: Schema.Defect(),
  attempts: Schema.Number
}) {}
