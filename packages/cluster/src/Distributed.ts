/**
 * Runs across machines, on `effect/cluster`: each run is an entity keyed by its `runId`, placed on one
 * runner by the cluster's sharding. Runners register workflows with {@link layer}; any process in the
 * cluster (a runner or a client) runs one with {@link run}, routed to the runner that owns the `runId`.
 *
 * @since 0.1.0
 */
import {
  StepTimeoutError,
  UnhandledEventError,
  Workflow,
  WorkflowCancelledError,
  type WorkflowError,
  WorkflowInputError,
  WorkflowStalledError,
  WorkflowTimeoutError,
  WorkflowValidationError
} from "@effect-flow/core"
import { Effect, type Layer, Schema } from "effect"
import { type ClusterError, Entity, type Sharding } from "effect/cluster"
import { Rpc } from "effect/rpc"

/**
 * No runner registered a workflow of this name (a client asked for it by name).
 *
 * @example
 * ```ts
 * Distributed.run(wf, input).pipe(
 *   Effect.catchTag("UnknownWorkflowError", (e) => Effect.logError(e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownWorkflowError extends Schema.TaggedError<UnknownWorkflowError>()("UnknownWorkflowError", {
  workflow: Schema.String,
  runId: Schema.String,
  /** The workflows the runner that owns `runId` registered. */
  registered: Schema.Array(Schema.String)
}) {
  override get message() {
    const known = this.registered.length === 0 ? "none" : this.registered.map((name) => `"${name}"`).join(", ")
    return `No workflow "${this.workflow}" is registered on the runner that owns run "${this.runId}" (registered: ${known}); add it to Distributed.layer({ workflows }) on every runner`
  }
}

/**
 * A run failed with a handler's own error. Handler errors cross the wire by their `_tag` and message, since
 * their classes are the application's (core's `WorkflowError`s keep their own classes).
 *
 * @example
 * ```ts
 * Distributed.run(wf, input).pipe(
 *   Effect.catchTag("RunFailedError", (e) => Effect.logError(e.tag, e.message))
 * )
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunFailedError extends Schema.TaggedError<RunFailedError>()("RunFailedError", {
  workflow: Schema.String,
  runId: Schema.String,
  /** The handler error's `_tag`, when it has one. */
  tag: Schema.optional(Schema.String),
  /** The handler error's message, or the error as text. */
  reason: Schema.String
}) {
  override get message() {
    return `Run "${this.runId}" of workflow "${this.workflow}" failed${this.tag === undefined ? "" : ` with ${this.tag}`}: ${this.reason}`
  }
}

const RunError = Schema.Union([
  UnknownWorkflowError,
  RunFailedError,
  WorkflowValidationError,
  WorkflowInputError,
  WorkflowTimeoutError,
  WorkflowStalledError,
  UnhandledEventError,
  StepTimeoutError,
  WorkflowCancelledError
])

const workflowErrorTags: ReadonlySet<string> = new Set([
  "WorkflowValidationError",
  "WorkflowInputError",
  "WorkflowTimeoutError",
  "WorkflowStalledError",
  "UnhandledEventError",
  "StepTimeoutError",
  "WorkflowCancelledError"
])

/**
 * The cluster entity every run is: its id is the `runId`. `Run` runs the named workflow with the encoded
 * input and answers with the encoded result (JSON text, encoded with the workflow's `output` schema when it
 * has one).
 *
 * @since 0.1.0
 * @category entities
 */
export const RunEntity = Entity.make("effect-flow/Run", [
  Rpc.make("Run", {
    payload: { workflow: Schema.String, input: Schema.String },
    success: Schema.String,
    error: RunError
  })
])

const resultCodec = (wf: Workflow.Any) =>
  wf.config.output === undefined ? undefined : Schema.toCodecJson(wf.config.output as Schema.Codec<unknown, unknown>)

const encodeResult = (wf: Workflow.Any, runId: string, value: unknown) => {
  const codec = resultCodec(wf)
  const encoded: Effect.Effect<unknown, Schema.SchemaError> =
    codec === undefined ? Effect.succeed(value) : Schema.encodeUnknownEffect(codec)(value)
  return encoded.pipe(
    Effect.map((json) => JSON.stringify(json === undefined ? null : json)),
    Effect.mapError(
      (issue) =>
        new RunFailedError({
          workflow: wf.name,
          runId,
          tag: "ResultEncodeError",
          reason: `the result does not encode with the output schema: ${String(issue)}`
        })
    )
  )
}

const decodeResult = <W extends Workflow.Any>(wf: W, runId: string, text: string) => {
  const json: unknown = JSON.parse(text)
  const codec = resultCodec(wf)
  const decoded: Effect.Effect<unknown, Schema.SchemaError> =
    codec === undefined ? Effect.succeed(json) : Schema.decodeUnknownEffect(codec)(json)
  return decoded.pipe(
    Effect.mapError(
      (issue) =>
        new RunFailedError({
          workflow: wf.name,
          runId,
          tag: "ResultDecodeError",
          reason: `the result does not decode with the output schema: ${String(issue)}`
        })
    )
  ) as Effect.Effect<Workflow.Workflow.Output<W>, RunFailedError>
}

const toWireError = (wf: Workflow.Any, runId: string, error: unknown): Schema.Schema.Type<typeof RunError> => {
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : undefined
  if (tag !== undefined && workflowErrorTags.has(tag)) return error as WorkflowError.WorkflowError
  const reason = error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error)
  return new RunFailedError({ workflow: wf.name, runId, tag, reason: reason ?? String(error) })
}

/**
 * Register workflows on a runner: the runner then takes runs of them whose `runId`s the cluster places on
 * it. Provide the cluster's runner layer (`TestRunner.layer` in one process, `NodeClusterSocket.layer` across
 * processes) and the workflows' services.
 *
 * @example
 * ```ts
 * const runner = Distributed.layer({ workflows: [parallel, rag] }).pipe(
 *   Layer.provide(Embedder.layer),
 *   Layer.provideMerge(TestRunner.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category runners
 */
export const layer = <const Workflows extends ReadonlyArray<Workflow.Any>>(options: {
  readonly workflows: Workflows
}): Layer.Layer<never, never, Sharding.Sharding | Workflow.Workflow.Services<Workflows[number]>> => {
  const byName = new Map<string, Workflow.Any>()
  for (const wf of options.workflows) byName.set(wf.name, wf)
  const registered = [...byName.keys()]
  return RunEntity.toLayer(
    Effect.gen(function* () {
      const address = yield* Entity.CurrentAddress
      const context = yield* Effect.context<Workflow.Workflow.Services<Workflows[number]>>()
      return RunEntity.of({
        Run: ({ payload }) => {
          const runId = address.entityId
          const wf = byName.get(payload.workflow)
          if (wf === undefined) {
            return Effect.fail(new UnknownWorkflowError({ workflow: payload.workflow, runId, registered }))
          }
          const running = Workflow.run(wf, JSON.parse(payload.input)) as Effect.Effect<unknown, unknown, any>
          return running.pipe(
            Effect.provideContext(context),
            Effect.mapError((error) => toWireError(wf, runId, error)),
            Effect.flatMap((value) => encodeResult(wf, runId, value))
          )
        }
      })
    }),
    { concurrency: "unbounded" }
  ) as Layer.Layer<never, never, Sharding.Sharding | Workflow.Workflow.Services<Workflows[number]>>
}

/**
 * The errors {@link run} fails with besides the cluster's own (`MailboxFull`, `PersistenceError`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export type RunError = UnknownWorkflowError | RunFailedError | WorkflowError.WorkflowError

/**
 * The cluster's own errors a client call can meet (a full mailbox, storage trouble, a shard in transit).
 *
 * @since 0.1.0
 * @category models
 */
export type ClusterFailure =
  | ClusterError.MailboxFull
  | ClusterError.AlreadyProcessingMessage
  | ClusterError.PersistenceError
  | ClusterError.EntityNotAssignedToRunner

const freshRunId = () => `run-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

/**
 * Run a workflow on the cluster: the run is the entity `runId` (a fresh one when absent), placed by the
 * cluster on one of the runners that registered workflows; the result comes back decoded with the workflow's
 * `output` schema. The workflow value is only used for its name and schemas here: the runner runs its own
 * registration of that name.
 *
 * @example
 * ```ts
 * const result = yield* Distributed.run(parallel, { items: ["a", "b"] }, { runId: "order-42" })
 * ```
 *
 * @since 0.1.0
 * @category clients
 */
export const run = <W extends Workflow.Any>(
  self: W,
  input: Workflow.Workflow.InputEncoded<W>,
  options?: { readonly runId?: string | undefined }
): Effect.Effect<Workflow.Workflow.Output<W>, RunError | ClusterFailure, Sharding.Sharding> =>
  Effect.gen(function* () {
    const runId = options?.runId ?? freshRunId()
    const client = yield* RunEntity.client
    const text = yield* client(runId).Run({
      workflow: self.name,
      input: JSON.stringify(input === undefined ? {} : input)
    })
    return yield* decodeResult(self, runId, text)
  })
