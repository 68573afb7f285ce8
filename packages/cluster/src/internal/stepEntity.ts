/**
 * Distributed steps on the cluster. Each invocation of a `distribute: true` step is one persisted message to
 * the entity `effect-flow/Step` whose id is the invocation's `invocationId`, so the cluster spreads a
 * fan-out's invocations over the shards, and so over every runner. The message's primary key is the attempt
 * its try began as: a message sent again for the same invocation and attempt is handled once (the second
 * sender gets the stored reply), while a retry after a failure (the next attempt) runs again. The reply is always a success carrying what the
 * handler wrote and its outcome (returned event, typed failure or defect), encoded with the workflow's event
 * schemas; the run's owner replays the writes and then returns, fails or dies with it, so the engine routes,
 * retries and journals it as a local invocation's. A run resumed by another owner re-sends the message of an
 * invocation attempt that had started (`Distribution.Invocation.since`), so the handler does not run again
 * when that attempt ended, or still runs, on a runner that lives.
 */
import { Distribution, type Event, type Workflow, WorkflowValidationError } from "@effect-flow/core"
import { Cause, Deferred, Duration, Effect, Fiber, Layer, Option, PrimaryKey, Schema } from "effect"
import { ClusterSchema, Entity, Sharding } from "effect/cluster"
import { Rpc } from "effect/rpc"

/**
 * A distributed invocation failed with the handler's own error: its `_tag` and message cross the wire (the
 * error's class is the application's).
 *
 * @since 0.1.0
 * @category errors
 */
export class DistributedStepError extends Schema.TaggedError<DistributedStepError>()("DistributedStepError", {
  workflow: Schema.String,
  step: Schema.String,
  invocationId: Schema.String,
  /** The handler error's `_tag`, when it has one. */
  tag: Schema.optional(Schema.String),
  /** The handler error's message, or the error as text. */
  reason: Schema.String
}) {
  override get message() {
    return `Distributed invocation ${this.invocationId} of step "${this.step}" (workflow "${this.workflow}") failed${this.tag === undefined ? "" : ` with ${this.tag}`}: ${this.reason}`
  }
}

/**
 * One invocation, as the step entity's message payload. Its primary key is `since`, the attempt its try began
 * as: with the entity id (the `invocationId`) it keys the message, so a message sent again for the same
 * invocation and try is handled once. That is what a run resumed by a new owner (after a crash, or when the
 * cluster moved the run) does for an invocation that had started: it sends the message of the attempt it
 * re-runs again, and gets that attempt's reply (at once when it has ended, when it ends if it still runs on
 * its runner) instead of running the handler again.
 *
 * @internal
 */
export class InvokePayload extends Schema.Class<InvokePayload>("@effect-flow/cluster/InvokePayload")({
  workflow: Schema.String,
  runId: Schema.String,
  step: Schema.String,
  invocationId: Schema.String,
  /** The attempt the handler runs as (`ctx.attempt`). */
  attempt: Schema.Number,
  /** The attempt this try began as (`Distribution.Invocation.since`): the message's key. */
  since: Schema.Number,
  /** The event, encoded with the workflow's schema, as JSON text. */
  event: Schema.String
}) {
  [PrimaryKey.symbol](): string {
    return String(this.since)
  }
}

/** @internal */
export const StepEntity = Entity.make("effect-flow/Step", [
  Rpc.make("Invoke", {
    payload: InvokePayload,
    /** `Reply` as JSON text. */
    success: Schema.String
  })
]).annotateRpcs(ClusterSchema.Persisted, true)

/** How often a running invocation checks whether its runner is shutting down. */
const shutdownPoll = Duration.millis(100)

/**
 * Leave the message to the shard's next owner: an interruption effect/cluster reads as abandoned (no reply
 * stored; the message is delivered again to the next owner), as its own `ClusterAbandon.interrupt` does.
 */
const abandon: Effect.Effect<never> = Effect.interruptible(
  Effect.callback<never>(() => {
    const fiber = Fiber.getCurrent()!
    fiber.interruptUnsafe(fiber.id, ClusterSchema.Abandon.annotation)
  })
)

/** What crosses the wire back: the writes in order, then the outcome. */
interface Reply {
  readonly w: ReadonlyArray<unknown>
  readonly o:
    | { readonly _tag: "Returned"; readonly event: unknown }
    | { readonly _tag: "Failed"; readonly tag?: string | undefined; readonly reason: string }
    | { readonly _tag: "Died"; readonly reason: string; readonly validation?: unknown }
}

const describeError = (error: unknown): { tag: string | undefined; reason: string } => {
  const tag =
    typeof error === "object" && error !== null && "_tag" in error && typeof error._tag === "string"
      ? error._tag
      : undefined
  const message = error instanceof Error ? error.message : typeof error === "string" ? error : ""
  return { tag, reason: message !== "" ? message : safeJson(error) }
}

const safeJson = (u: unknown): string => {
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return String(u)
  }
}

const encodeValidation = Schema.encodeUnknownSync(Schema.toCodecJson(WorkflowValidationError))
const decodeValidation = Schema.decodeUnknownSync(Schema.toCodecJson(WorkflowValidationError))

/** The step entity's handlers: run each invocation with the registration of its workflow on this runner. */
export const stepLayer = (
  byName: ReadonlyMap<string, Workflow.Any>
): Layer.Layer<never, never, Sharding.Sharding | any> => {
  // The cluster may deliver a stored message again to this runner after it handled it (a redelivery from
  // storage racing the first delivery after a shard moved, or the entity restarted in between): answer it
  // with the reply of the invocation attempt's first delivery here, instead of running the handler again.
  // Storage deduplicates what reaches it through the primary key; this covers redeliveries. Kept a minute,
  // per build of the layer (one runner).
  const entity = (replies: Map<string, Deferred.Deferred<string>>) =>
    StepEntity.toLayer(
      Effect.gen(function* () {
        const context = yield* Effect.context<any>()
        const sharding = yield* Sharding.Sharding
        /**
         * Completes when this runner starts shutting down (SIGTERM, a deploy). An invocation in flight then
         * stops at once and its message is left for the shard's next owner, which runs that attempt again (same
         * `invocationId`, attempt and key): the runner does not wait up to `entityTerminationTimeout` for it.
         * When the shard only moves (runners join or leave), the invocation finishes here, so a live runner's
         * work is not run twice.
         */
        const shuttingDown = Effect.gen(function* () {
          while (!(yield* sharding.isShutdown)) yield* Effect.sleep(shutdownPoll)
        })
        const invoke = (payload: InvokePayload) =>
          Effect.gen(function* () {
            const wf = byName.get(payload.workflow)
            const writes: Array<unknown> = []
            const reply = (o: Reply["o"]): string => JSON.stringify({ w: writes, o } satisfies Reply)
            if (wf === undefined) {
              return reply({
                _tag: "Died",
                reason: `No workflow "${payload.workflow}" is registered on the runner that got invocation ${payload.invocationId}; register it on every runner (Distributed.layer({ workflows }))`
              })
            }
            let event: Event.AnyEvent
            try {
              event = Distribution.decodeEvent(wf, JSON.parse(payload.event))
            } catch (error) {
              return reply({ _tag: "Died", reason: `the event does not decode: ${describeError(error).reason}` })
            }
            const exit = yield* Effect.exit(
              Distribution.runInvocation(wf, { ...payload, event }, (w) =>
                Effect.sync(() => {
                  writes.push(Distribution.encodeEvent(wf, w))
                })
              ).pipe(Effect.provideContext(context))
            )
            if (exit._tag === "Success") {
              const out = exit.value
              return reply({ _tag: "Returned", event: out == null ? null : Distribution.encodeEvent(wf, out) })
            }
            const cause = exit.cause
            if (Cause.hasInterruptsOnly(cause)) return yield* Effect.interrupt
            const failure = Cause.findError(cause)
            if (failure._tag === "Success") return reply({ _tag: "Failed", ...describeError(failure.success) })
            const defect = Cause.squash(cause)
            return reply({
              _tag: "Died",
              reason: describeError(defect).reason,
              validation: defect instanceof WorkflowValidationError ? encodeValidation(defect) : undefined
            })
          }).pipe(
            // An event or write that does not encode is a defect of this invocation, not of the runner.
            Effect.catchDefect((defect) =>
              Effect.succeed(JSON.stringify({ w: [], o: { _tag: "Died", reason: describeError(defect).reason } }))
            )
          )
        return StepEntity.of({
          Invoke: ({ payload }) =>
            Effect.suspend(() => {
              const key = `${payload.invocationId}#${payload.since}`
              const first = replies.get(key)
              if (first !== undefined) return Deferred.await(first)
              const deferred = Deferred.makeUnsafe<string>()
              replies.set(key, deferred)
              return Effect.raceFirst(
                Effect.map(invoke(payload), Option.some),
                Effect.as(shuttingDown, Option.none<string>())
              ).pipe(
                Effect.flatMap((outcome) => (Option.isSome(outcome) ? Effect.succeed(outcome.value) : abandon)),
                Effect.onExit((exit) =>
                  Effect.sync(() => {
                    if (exit._tag === "Success") {
                      Deferred.doneUnsafe(deferred, exit)
                      setTimeout(() => replies.delete(key), 60_000).unref()
                      return
                    }
                    // Interrupted (the runner stops, the shard moves): a later delivery runs it again.
                    replies.delete(key)
                    Deferred.doneUnsafe(deferred, Effect.interrupt)
                  })
                )
              )
            })
        })
      }),
      { maxIdleTime: "10 seconds", concurrency: 1 }
    )
  return Layer.unwrap(Effect.sync(() => entity(new Map())))
}

/**
 * The run owner's side: a `Distribution.Distributor` that sends each invocation to the step entity keyed by
 * its `invocationId`, and turns the reply back into the invocation's writes and outcome.
 */
export const distributorLayer = (
  byName: ReadonlyMap<string, Workflow.Any>
): Layer.Layer<never, never, Sharding.Sharding> =>
  Layer.effect(
    Distribution.Distributor,
    Effect.gen(function* () {
      const client = yield* StepEntity.client
      const distributor: Distribution.Distributor = {
        invoke: (invocation) =>
          Effect.gen(function* () {
            const wf = byName.get(invocation.workflow)!
            const send = (since: number) =>
              client(invocation.invocationId).Invoke(
                new InvokePayload({
                  workflow: invocation.workflow,
                  runId: invocation.runId,
                  step: invocation.step,
                  invocationId: invocation.invocationId,
                  attempt: invocation.attempt,
                  since,
                  event: JSON.stringify(Distribution.encodeEvent(wf, invocation.event))
                })
              )
            // A re-run after a resume asks for the reply of the attempt it re-runs. Should that attempt's stored
            // reply be an interruption (its previous owner interrupted it for good), this attempt runs afresh.
            const text =
              invocation.since === invocation.attempt
                ? yield* send(invocation.attempt)
                : yield* send(invocation.since).pipe(
                    Effect.catchCause((cause) =>
                      Cause.hasInterruptsOnly(cause) ? send(invocation.attempt) : Effect.failCause(cause)
                    )
                  )
            const reply = JSON.parse(text) as Reply
            for (const w of reply.w) yield* invocation.write(Distribution.decodeEvent(wf, w))
            const o = reply.o
            switch (o._tag) {
              case "Returned":
                return o.event === null ? undefined : Distribution.decodeEvent(wf, o.event)
              case "Failed":
                return yield* new DistributedStepError({
                  workflow: invocation.workflow,
                  step: invocation.step,
                  invocationId: invocation.invocationId,
                  tag: o.tag,
                  reason: o.reason
                })
              case "Died":
                return yield* Effect.die(
                  o.validation === undefined
                    ? new Error(`distributed invocation ${invocation.invocationId} died: ${o.reason}`)
                    : decodeValidation(o.validation)
                )
            }
          })
      }
      return distributor
    })
  ) as Layer.Layer<never, never, Sharding.Sharding>
