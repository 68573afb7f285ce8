/**
 * The errors a run can end with, besides a handler's own typed failure. Each is a `Schema.TaggedError`:
 * yieldable, matchable with `Effect.catchTag`, and serialisable. Messages say what happened, where
 * (workflow, step, event) and what to do.
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { ignorableChecks, structuralChecks } from "./internal/checks.ts"

/**
 * One problem found in a workflow's definition: the `check` that found it, a `message` saying how to fix it,
 * and the `steps` and `events` involved. Listed by `Workflow.problems` and `WorkflowValidationError`.
 *
 * @example
 * ```ts
 * for (const p of Workflow.problems(wf)) console.log(`[${p.check}] ${p.message}`, p.steps, p.events)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class Problem extends Schema.Class<Problem>("@effect-flow/core/Problem")({
  /** The name of the check that found it, e.g. `"unique-step-names"` (a `Workflow.Check`). */
  check: Schema.Literals([...structuralChecks, ...ignorableChecks]),
  /** What is wrong and how to fix it. */
  message: Schema.String,
  steps: Schema.Array(Schema.String),
  events: Schema.Array(Schema.String)
}) {}

/**
 * The definition is wrong. `problems` lists every problem found, not just the first. Raised before any
 * step runs, by `Workflow.validate`, `compile`, `run`, `start` and `stream`.
 *
 * @example
 * ```ts
 * import { WorkflowValidationError } from "@effect-flow/core"
 *
 * const checked = Workflow.validate(wf).pipe(
 *   Effect.catchTag("WorkflowValidationError", (e) => Effect.die(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowValidationError extends Schema.TaggedError<WorkflowValidationError>()("WorkflowValidationError", {
  workflow: Schema.String,
  problems: Schema.Array(Problem)
}) {
  override get message() {
    return `Workflow "${this.workflow}" is not valid (${this.problems.length} problem${
      this.problems.length === 1 ? "" : "s"
    }):\n${this.problems.map((p) => `  - [${p.check}] ${p.message}`).join("\n")}`
  }
}

/**
 * The input does not decode with the workflow's `input` schema; `issue` is the schema's explanation. No step
 * runs.
 *
 * @example
 * ```ts
 * Workflow.run(parallel, { items: ["a"] }).pipe(
 *   Effect.catchTag("WorkflowInputError", (e) => Effect.logError(e.issue))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowInputError extends Schema.TaggedError<WorkflowInputError>()("WorkflowInputError", {
  workflow: Schema.String,
  issue: Schema.String
}) {
  override get message() {
    return `Input of workflow "${this.workflow}" does not match its input schema:\n${this.issue}`
  }
}

/**
 * The run's `timeout` elapsed before a `StopEvent`; `activeSteps` names the steps still running or queued.
 * Only a workflow configured with `timeout` raises it.
 *
 * @example
 * ```ts
 * Workflow.run(slow, input).pipe(
 *   Effect.catchTag("WorkflowTimeoutError", (e) => Effect.logWarning(`stuck in ${e.activeSteps.join(", ")}`))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowTimeoutError extends Schema.TaggedError<WorkflowTimeoutError>()("WorkflowTimeoutError", {
  workflow: Schema.String,
  timeout: Schema.String,
  activeSteps: Schema.Array(Schema.String)
}) {
  override get message() {
    return `Workflow "${this.workflow}" timed out after ${this.timeout}; active steps: ${
      this.activeSteps.join(", ") || "none"
    }`
  }
}

/**
 * What one step's collect buffer held when a run stalled, and what its last `collect` call needed.
 *
 * @example
 * ```ts
 * // WorkflowStalledError.collects, e.g.
 * // [{ step: "collect_results", holds: { ProcessedEvent: 2 }, needs: "3 events" }]
 * stalled.collects.map((c) => `${c.step} needs ${c.needs}`)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class PartialCollect extends Schema.Class<PartialCollect>("@effect-flow/core/PartialCollect")({
  step: Schema.String,
  /** The held events, counted by tag, e.g. `{ SuccessEvent: 3 }`. */
  holds: Schema.Record(Schema.String, Schema.Number),
  /** What the last `collect` call asked for, e.g. `"3 events"` or `"3 SuccessEvent, 3 ErrorEvent"`. */
  needs: Schema.String
}) {}

const describeHolds = (holds: Readonly<Record<string, number>>): string => {
  const entries = Object.entries(holds)
  return entries.length === 0 ? "nothing" : entries.map(([tag, n]) => `${n} ${tag}`).join(", ")
}

/**
 * A step suspended in `ctx.waitFor` when a run stalled: usually a run started with `Workflow.run`, which
 * cannot receive outside input; use `Workflow.start` and the handle's `send`.
 *
 * @example
 * ```ts
 * stalled.waiting.map((w) => `${w.step} waits for ${w.event}`) // ["approve waits for HumanResponseEvent"]
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export class WaitingStep extends Schema.Class<WaitingStep>("@effect-flow/core/WaitingStep")({
  step: Schema.String,
  /** The tag of the event it waits for. */
  event: Schema.String
}) {}

/**
 * Nothing is queued, running or waiting for outside input, and no `StopEvent` came. The run can never
 * finish, so it fails at once instead of hanging. `collects` says what each partial collect holds and
 * needs; `waiting` lists steps suspended in `ctx.waitFor` in a run that cannot receive outside input
 * (started with `Workflow.run` rather than `Workflow.start`); `awaitingInput` counts unanswered
 * `InputRequiredEvent`s. Where LlamaIndex would wait for its timeout, this fails at once; the message
 * usually points at a miscounted `ctx.collect`.
 *
 * @example
 * ```ts
 * import { WorkflowStalledError } from "@effect-flow/core"
 *
 * Workflow.run(parallel, input).pipe(
 *   Effect.catchTag("WorkflowStalledError", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowStalledError extends Schema.TaggedError<WorkflowStalledError>()("WorkflowStalledError", {
  workflow: Schema.String,
  collects: Schema.Array(PartialCollect),
  waiting: Schema.Array(WaitingStep),
  awaitingInput: Schema.Number,
  /** The last invocation that completed, e.g. `step "fan_out" handling StartEvent` (it returned nothing). */
  last: Schema.optional(Schema.String)
}) {
  override get message() {
    const lines = [`Workflow "${this.workflow}" stalled: no event is queued or running, and no StopEvent was returned.`]
    for (const c of this.collects) {
      lines.push(`  - step "${c.step}" is collecting: it holds ${describeHolds(c.holds)} but needs ${c.needs}`)
    }
    for (const w of this.waiting) {
      lines.push(
        `  - step "${w.step}" waits for ${w.event}, but this run cannot receive outside input: start it with Workflow.start and answer through the handle's send`
      )
    }
    if (this.awaitingInput > 0) {
      lines.push(
        `  - ${this.awaitingInput} InputRequiredEvent(s) were published, but this run cannot receive outside input: start it with Workflow.start`
      )
    }
    if (this.collects.length > 0) lines.push("Check the count or the event classes passed to ctx.collect.")
    if (lines.length === 1) {
      lines.push(
        `No step is collecting or waiting${
          this.last === undefined ? "" : `; the last to run was ${this.last}, which returned nothing`
        }. Check that some step sends or returns the next event, and that one returns a StopEvent.`
      )
    }
    return lines.join("\n")
  }
}

/**
 * A step emitted an event that no step accepts, or sent an event to a step that does not exist or does
 * not accept it. `ctx.send` fails with it in the handler's error channel; a returned event that no step
 * accepts ends the run with it.
 *
 * @example
 * ```ts
 * yield* ctx.send(new ItemEvent({ item, index }), { step: "process_item" }).pipe(
 *   Effect.catchTag("UnhandledEventError", (e) => Effect.logWarning(e.reason))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnhandledEventError extends Schema.TaggedError<UnhandledEventError>()("UnhandledEventError", {
  workflow: Schema.String,
  step: Schema.String,
  event: Schema.String,
  /** Set when the event was sent to one named step. */
  target: Schema.optional(Schema.String),
  reason: Schema.String
}) {
  override get message() {
    return `Workflow "${this.workflow}": step "${this.step}" emitted ${this.event}, ${this.reason}`
  }
}

/**
 * One invocation exceeded its step's `timeout` (or a `ctx.waitFor` its own `timeout`). A step's `retry`
 * schedule may retry it; otherwise it ends the run.
 *
 * @example
 * ```ts
 * .step(UrlEvent, fetchPage, { timeout: "5 seconds", retry: Schedule.recurs(2) })
 * // after 3 timed-out attempts: StepTimeoutError { step: "fetchPage", event: "UrlEvent", timeout: "5s" }
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class StepTimeoutError extends Schema.TaggedError<StepTimeoutError>()("StepTimeoutError", {
  workflow: Schema.String,
  step: Schema.String,
  event: Schema.String,
  timeout: Schema.String
}) {
  override get message() {
    return `Workflow "${this.workflow}": step "${this.step}" handling ${this.event} timed out after ${this.timeout}`
  }
}

/**
 * `ctx.store.edit`, `set` or `update` was called inside an `edit` of the same run's store, which would wait
 * for itself forever. The run dies with this defect; return the new state from the outer `edit` instead.
 *
 * @example
 * ```ts
 * // dies with NestedStoreEditError:
 * ctx.store.edit((s) => Effect.as(ctx.store.set("count", s.count + 1), s))
 * // instead:
 * ctx.store.edit((s) => Effect.succeed({ ...s, count: s.count + 1 }))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class NestedStoreEditError extends Schema.TaggedError<NestedStoreEditError>()("NestedStoreEditError", {
  workflow: Schema.String,
  step: Schema.String,
  operation: Schema.String
}) {
  override get message() {
    return `Workflow "${this.workflow}": step "${this.step}" called store.${this.operation} inside store.edit, which would deadlock. Return the new state from the outer edit instead.`
  }
}

/**
 * The run was cancelled: through a handle's `cancel` (`Workflow.start`, `Workflow.startPromise`) or an
 * `AbortSignal` given to `Workflow.runPromise`. Every fiber of the run was interrupted and its finalizers ran.
 * (Interrupting the fiber that runs `Workflow.run` is an interruption, as for any Effect, not this error.)
 *
 * @example
 * ```ts
 * import { WorkflowCancelledError } from "@effect-flow/core"
 *
 * const controller = new AbortController()
 * const result = Workflow.runPromise(parallel, { items: ["a"] }, { signal: controller.signal })
 * controller.abort()
 * await result.catch((e) => e instanceof WorkflowCancelledError) // true
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowCancelledError extends Schema.TaggedError<WorkflowCancelledError>()("WorkflowCancelledError", {
  workflow: Schema.String,
  /** The run, when it had started. */
  runId: Schema.optional(Schema.String),
  /** What cancelled it, e.g. `"cancel()"` or `"an AbortSignal"`. */
  by: Schema.String
}) {
  override get message() {
    return `Workflow "${this.workflow}"${this.runId === undefined ? "" : ` run ${this.runId}`} was cancelled by ${this.by}`
  }
}

/**
 * User code handed the engine something it cannot run: a handler that returned a Promise, an event, `undefined`
 * or another value that is not an Effect; a `store.edit` function that returned the state instead of an Effect
 * of it; a `ctx.waitFor` `match` that threw; an `output` schema check that threw; a fiber of the run that died
 * outside any handler's error handling. The run ends at once with this as its defect; `problem` says what was
 * wrong and `fix` how to fix it.
 *
 * @example
 * ```ts
 * // dies with HandlerBoundaryError: step "fetch" handling StartEvent: the handler returned a Promise, not an Effect
 * defineWorkflow().step(StartEvent, async () => new StopEvent({ result: await fetchIt() }) as any)
 * // instead:
 * defineWorkflow().step(StartEvent, () => Effect.promise(() => fetchIt()).pipe(Effect.map((result) => new StopEvent({ result }))))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class HandlerBoundaryError extends Schema.TaggedError<HandlerBoundaryError>()("HandlerBoundaryError", {
  workflow: Schema.String,
  /** The step whose code went wrong, when there is one. */
  step: Schema.optional(Schema.String),
  /** The event it was handling, or the call (e.g. `waitFor(Approval)`). */
  event: Schema.optional(Schema.String),
  problem: Schema.String,
  fix: Schema.String,
  /** What the user's code threw or died with, when the problem is a throw. */
  cause: Schema.optional(Schema.Defect())
}) {
  override get message() {
    const where =
      this.step === undefined ? "" : ` step "${this.step}"${this.event === undefined ? "" : ` handling ${this.event}`}`
    return `Workflow "${this.workflow}":${where}${where === "" ? "" : ":"} ${this.problem}. ${this.fix}`
  }
}

/**
 * Every error a run can end with, besides the handlers' own (`NestedStoreEditError` and
 * `HandlerBoundaryError` are defects, not part of it). Match on `_tag` to handle each.
 *
 * @example
 * ```ts
 * const explain = (e: WorkflowError.WorkflowError): string =>
 *   e._tag === "WorkflowStalledError" ? `stalled: ${e.collects.length} partial collect(s)` : e.message
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export type WorkflowError =
  | WorkflowValidationError
  | WorkflowInputError
  | WorkflowTimeoutError
  | WorkflowStalledError
  | UnhandledEventError
  | StepTimeoutError
  | WorkflowCancelledError
