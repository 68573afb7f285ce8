/**
 * The hook through which a `distribute: true` step's invocations may run somewhere else. Core only knows the
 * hook: with no {@link Distributor} in a run's context (the default), a distributed step runs locally. A
 * cluster package (`@effect-flow/cluster`) provides one that sends each invocation to a runner, which runs
 * it with {@link runInvocation}; events cross the wire encoded with {@link encodeEvent} / {@link decodeEvent}.
 *
 * @since 0.1.0
 */
import { type Context, Effect } from "effect"
import type { AnyEvent } from "./Event.ts"
import * as Boundary from "./internal/boundary.ts"
import { DistributedView, DistributorRef } from "./internal/distributed.ts"
import * as Codecs_ from "./internal/durable/codecs.ts"
import * as Prepare from "./internal/prepare.ts"
import type { Any, Workflow } from "./Workflow.ts"
import { Problem, WorkflowValidationError } from "./WorkflowError.ts"

/**
 * One invocation of a distributed step, as the run's owner hands it to the {@link Distributor}.
 *
 * @example
 * ```ts
 * const describe = (i: Distribution.Invocation) => `${i.invocationId} attempt ${i.attempt} of ${i.step}`
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Invocation {
  /** The workflow's name (every runner registers the same workflows by name). */
  readonly workflow: string
  readonly runId: string
  readonly step: string
  /** `<runId>/<step>/<n>`: the same across retries and resumes of this invocation. */
  readonly invocationId: string
  readonly attempt: number
  /**
   * The attempt this one continues: `attempt` itself, unless a durable run resumed from its journal (after its
   * owner crashed, stopped, or the cluster moved the run) re-runs an attempt that had started and not ended;
   * then the attempt that one began as, which may still be running, or have ended, where it was sent. A
   * distributor that keys its messages by `invocationId` and `since` gets that attempt's outcome instead of
   * running the handler again. A retry after a failure begins afresh (`since` is its `attempt`).
   */
  readonly since: number
  /** The event the handler gets. */
  readonly event: AnyEvent
  /** The run's `ctx.write`: publish what the handler wrote, in order, before its outcome. */
  readonly write: (event: AnyEvent) => Effect.Effect<void>
}

/**
 * Runs distributed invocations elsewhere: `invoke` answers with the handler's returned event (or
 * `undefined`), fails with its error, or dies with its defect; the run then routes, retries or recovers as
 * for a local invocation. Its worker slot waits meanwhile, so `workers` bounds the invocations in flight.
 *
 * @example
 * ```ts
 * const inline: Distribution.Distributor = {
 *   invoke: (i) => Distribution.runInvocation(wf, i, i.write)
 * }
 * Workflow.run(wf, input).pipe(Effect.provideService(Distribution.Distributor, inline))
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Distributor {
  readonly invoke: (invocation: Invocation) => Effect.Effect<AnyEvent | undefined, unknown>
}

/**
 * The run's {@link Distributor}, read when a distributed invocation starts; `undefined` (the default): the
 * step runs locally.
 *
 * @example
 * ```ts
 * Workflow.run(wf, input).pipe(Effect.provideService(Distribution.Distributor, myDistributor))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export const Distributor: Context.Reference<Distributor | undefined> = DistributorRef

/**
 * An event of `workflow` as JSON, encoded with its class's schema (as the journal holds it). Throws an
 * `Error` naming the event when it cannot be encoded.
 *
 * @example
 * ```ts
 * const json = Distribution.encodeEvent(wf, new ItemEvent({ item: "a", index: 0 }))
 * ```
 *
 * @since 0.1.0
 * @category codecs
 */
export const encodeEvent = (workflow: Any, event: AnyEvent): unknown => Codecs_.codecs(workflow).event(event)

/**
 * The event {@link encodeEvent} encoded, decoded with the class `workflow` declares for its `_tag`. Throws an
 * `Error` naming the event when the workflow declares no such class or the JSON does not decode.
 *
 * @example
 * ```ts
 * const ev = Distribution.decodeEvent(wf, { _tag: "ItemEvent", item: "a", index: 0 })
 * ```
 *
 * @since 0.1.0
 * @category codecs
 */
export const decodeEvent = (workflow: Any, json: unknown): AnyEvent => Codecs_.codecs(workflow).decodeEvent(json)

const notDistributed = (workflow: string, step: string, why: string) =>
  new WorkflowValidationError({
    workflow,
    problems: [
      new Problem({
        check: "distribute",
        message: `a distributed invocation of step "${step}" reached a runner whose workflow "${workflow}" ${why}: register the same workflow on every runner.`,
        steps: [step],
        events: []
      })
    ]
  })

/**
 * Run one invocation of a distributed step of `workflow` here (on the runner a cluster sent it to): its
 * handler gets a `DistributedContext` whose `write` is `write`. Answers with the returned event, or
 * `undefined`. Dies with a `WorkflowValidationError` when the workflow is invalid or has no such
 * `distribute: true` step. The step's timeout and retries stay with the run's owner.
 *
 * @example
 * ```ts
 * const writes: Array<AnyEvent> = []
 * const out = yield* Distribution.runInvocation(wf, invocation, (ev) => Effect.sync(() => void writes.push(ev)))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runInvocation = <W extends Any>(
  workflow: W,
  invocation: {
    readonly runId: string
    readonly step: string
    readonly invocationId: string
    readonly attempt: number
    readonly event: AnyEvent
  },
  write: (event: AnyEvent) => Effect.Effect<void>
): Effect.Effect<AnyEvent | undefined, Workflow.Error<W>, Workflow.Services<W>> =>
  Effect.suspend(() => {
    const compiled = Prepare.compiled(workflow)
    if (compiled instanceof WorkflowValidationError) return Effect.die(compiled)
    const step = compiled.byName.get(invocation.step)
    if (step === undefined) return Effect.die(notDistributed(workflow.name, invocation.step, "has no such step"))
    if (step.def.distribute !== true) {
      return Effect.die(notDistributed(workflow.name, invocation.step, "does not declare it distribute: true"))
    }
    const ctx = new DistributedView(workflow.name, { ...invocation, write })
    const site = { workflow: workflow.name, step: step.name, event: invocation.event._tag }
    try {
      return Boundary.handlerResult(site, step.handler(invocation.event, ctx as never)) as Effect.Effect<
        AnyEvent | undefined,
        Workflow.Error<W>,
        Workflow.Services<W>
      >
    } catch (thrown) {
      return Effect.die(Boundary.handlerThrew(site, thrown))
    }
  })
