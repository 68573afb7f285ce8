/**
 * Runs across machines, on `effect/cluster`: each run is an entity keyed by its `runId`, placed on one
 * runner by the cluster's sharding. Runners register workflows with {@link layer}; any process in the
 * cluster (a runner or a client) runs one with {@link run}, routed to the runner that owns the `runId`.
 *
 * @since 0.1.0
 */
import {
  Durable,
  type Event,
  RunBusyError,
  RunNotFoundError,
  RunStore,
  RunStoreError,
  StepTimeoutError,
  UnhandledEventError,
  type Workflow,
  WorkflowCancelledError,
  WorkflowChangedError,
  type WorkflowError,
  WorkflowInputError,
  WorkflowStalledError,
  WorkflowTimeoutError,
  WorkflowValidationError
} from "@effect-flow/core"

type AnyEvent = Event.AnyEvent

import { Cause, Clock, Duration, Effect, Exit, Fiber, Layer, Result, Schedule, Schema, Semaphore, Stream } from "effect"
import { type ClusterError, ClusterSchema, Entity, Sharding } from "effect/cluster"
import { Rpc } from "effect/rpc"
import * as EventLog from "./internal/eventLog.ts"
import { distributorLayer, stepLayer } from "./internal/stepEntity.ts"

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

/**
 * A run's events stream (`Distributed.start`'s `events`) cannot go on: the runner that served it stopped the
 * run (it shut down, or the cluster moved the run's shard) or is gone, and the run goes on on another runner,
 * which resumed it from its journal. The stream is served by the run's owner from what it published, so it
 * does not continue across owners without possible gaps or repeats: it fails with this instead of ending as if
 * the run had. Also when the request reached a runner where the run is not executing and it ran elsewhere (the
 * request came while runners were joining, or after the run ended on a previous owner or its entity went
 * idle): once the run is over, or that runner lets the run's shard go, rather than wait there for ever. The
 * run itself is not affected: `result` (and `Distributed.status`) still give its outcome.
 *
 * @example
 * ```ts
 * handle.events.pipe(
 *   Stream.runForEach((event) => Effect.log(event._tag)),
 *   Effect.catchTag("RunMovedError", () => Effect.log("the run moved; waiting for its result"))
 * )
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class RunMovedError extends Schema.TaggedError<RunMovedError>()("RunMovedError", {
  workflow: Schema.String,
  runId: Schema.String
}) {
  override get message() {
    return `The events stream of run "${this.runId}" (workflow "${this.workflow}") stopped: the runner that served it does not run it (it stopped the run, which goes on on another runner, or the run ran elsewhere); its events from there are not part of this stream. Read the handle's result or Distributed.status for its outcome`
  }
}

export {
  /**
   * A `distribute: true` step's invocation failed on a runner with the handler's own error (its `_tag` and
   * message; the class stays on the runner).
   *
   * @since 0.1.0
   * @category errors
   */
  DistributedStepError,
  /**
   * The payload of a {@link StepEntity} message: one invocation and attempt, its event as JSON text.
   *
   * @since 0.1.0
   * @category entities
   */
  InvokePayload,
  /**
   * The cluster entity each invocation of a `distribute: true` step is a message to: its id is the
   * invocation's `invocationId`, the message's primary key its attempt (a message sent again is handled once).
   * `Distributed.layer` registers it on every runner.
   *
   * @since 0.1.0
   * @category entities
   */
  StepEntity
} from "./internal/stepEntity.ts"

const RunError = Schema.Union([
  UnknownWorkflowError,
  RunFailedError,
  WorkflowValidationError,
  WorkflowInputError,
  WorkflowTimeoutError,
  WorkflowStalledError,
  UnhandledEventError,
  StepTimeoutError,
  WorkflowCancelledError,
  RunStoreError,
  RunNotFoundError,
  WorkflowChangedError,
  RunBusyError
])

/** Errors that keep their own class across the wire, by `_tag`. */
const wireClasses: ReadonlyMap<string, Schema.Top> = new Map<string, Schema.Top>([
  ["WorkflowValidationError", WorkflowValidationError],
  ["WorkflowInputError", WorkflowInputError],
  ["WorkflowTimeoutError", WorkflowTimeoutError],
  ["WorkflowStalledError", WorkflowStalledError],
  ["UnhandledEventError", UnhandledEventError],
  ["StepTimeoutError", StepTimeoutError],
  ["WorkflowCancelledError", WorkflowCancelledError],
  ["RunStoreError", RunStoreError],
  ["RunNotFoundError", RunNotFoundError],
  ["WorkflowChangedError", WorkflowChangedError],
  ["RunBusyError", RunBusyError]
])

/**
 * The cluster entity every run is: its id is the `runId`. `Run` runs (or resumes, or answers from the
 * store) the named workflow with the encoded input, `Resume` continues a stored run; both answer with the
 * encoded result (JSON text, encoded with the workflow's `output` schema when it has one). Both messages are
 * persisted in the cluster's message storage: when the runner that owns the run dies, the cluster delivers
 * the message again to the run's next owner, which resumes the run from its journal. Both are interrupted when
 * the entity terminates (its runner shuts down, its shard moves): the run stops there as closing
 * `Durable.start`'s scope stops it (journal kept, lease released), the message stays unanswered in storage, and
 * the next owner resumes the run at once instead of the runner waiting `entityTerminationTimeout` for it.
 * `Events` streams what the run publishes on its owner (`Distributed.start`'s `events`), ending as the run did
 * (quietly, or failing with the run's error as `Run` answers it, or with its own interruption): a `runId` the store
 * does not know fails it at once with `RunNotFoundError`, unless the payload says `started: true` (a handle
 * whose `Run` message is on its way), which waits for the run to be stored.
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
    .annotate(ClusterSchema.Persisted, true)
    .annotate(ClusterSchema.InterruptOnTermination, true),
  Rpc.make("Resume", {
    payload: { workflow: Schema.String },
    success: Schema.String,
    error: RunError
  })
    .annotate(ClusterSchema.Persisted, true)
    .annotate(ClusterSchema.InterruptOnTermination, true),
  Rpc.make("Events", {
    payload: {
      workflow: Schema.String,
      /**
       * Set by `Distributed.start`'s handle, whose `Run` message is on its way: the subscriber waits for the run
       * to be stored. Without it, a run the store does not know fails the stream with `RunNotFoundError`.
       */
      started: Schema.optional(Schema.Boolean)
    },
    /** `x`: the entity's instance (a new one after a move or restart), `t`: the event, encoded. */
    success: Schema.Struct({ x: Schema.String, t: Schema.String }),
    /** The run's error (as `Run` answers it) when it failed, or `RunMovedError`. */
    error: Schema.Union([RunError, RunMovedError]),
    stream: true
  }),
  Rpc.make("Send", {
    payload: { workflow: Schema.String, event: Schema.String },
    error: RunError
  }),
  Rpc.make("Cancel", {})
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

/**
 * A run's error as it crosses the wire: core's and Durable's errors keep their class (a finished run's error
 * read back from the store is rebuilt from its stored fields), anything else is a `RunFailedError`.
 */
const toWireError = (wf: Workflow.Any, runId: string, error: unknown): Schema.Schema.Type<typeof RunError> => {
  const tag = typeof error === "object" && error !== null && "_tag" in error ? String(error._tag) : undefined
  const cls = tag === undefined ? undefined : wireClasses.get(tag)
  if (cls !== undefined) {
    if (Schema.is(cls)(error)) return error as Schema.Schema.Type<typeof RunError>
    const rebuilt = Schema.decodeUnknownOption(Schema.toCodecJson(cls as Schema.Codec<unknown, unknown>))({
      ...(error as object)
    })
    if (rebuilt._tag === "Some") return rebuilt.value as Schema.Schema.Type<typeof RunError>
  }
  const reason = error instanceof Error ? error.message : typeof error === "string" ? error : JSON.stringify(error)
  return new RunFailedError({ workflow: wf.name, runId, tag, reason: reason ?? String(error) })
}

/**
 * Store trouble (a database that is down, a lease still held by a runner that died on another host) is
 * retried by the run's owner before it answers: the run stays `"running"` in the store, and each retry
 * resumes it from its journal. About 40 s in all, past a lease's expiry (6 s).
 */
const storeRetry = Schedule.min([Schedule.exponential("250 millis", 2), Schedule.spaced("4 seconds")]).pipe(
  Schedule.upTo({ duration: "40 seconds" })
)

/** How often a subscriber with no execution of its run here checks the run's shard, and every how many checks its status. */
const elsewherePoll = Duration.millis(100)
const elsewhereStoreEvery = 5

/** A run's lease lasts this long unless renewed (core's `Durable`), and one that never started is given as long. */
const leaseTtl = Duration.seconds(6)
/** Who probes a run's lease for a subscriber: never a run's real owner. Host as core's `Durable` names it. */
const probe: RunStore.LeaseRequest = {
  owner: `effect-flow/cluster-probe-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`,
  pid: globalThis.process?.pid ?? 0,
  host: globalThis.process?.env?.HOSTNAME ?? "localhost",
  ttl: Duration.seconds(1)
}

/**
 * Whether an unfinished run has no owner: its lease is free or has expired (or its holder was a process on this
 * host that is gone), tried by taking it and giving it back at once. A run created less than a lease's length
 * ago with nothing journaled yet is left alone: its starter may not have taken its lease yet.
 */
const orphaned = (store: RunStore.Shape, info: RunStore.RunInfo) =>
  Effect.gen(function* () {
    const now = yield* Clock.currentTimeMillis
    if (info.journalLength === 0 && now - info.createdAt < Duration.toMillis(leaseTtl)) return false
    const lease = yield* Effect.option(store.acquire(info.runId, probe))
    if (lease._tag === "None") return false
    yield* Effect.ignore(store.release(lease.value))
    return true
  })

const isTransient = (error: unknown): boolean => {
  const tag = typeof error === "object" && error !== null && "_tag" in error ? error._tag : undefined
  return tag === "RunStoreError" || tag === "RunBusyError"
}

/**
 * Options of {@link layer}.
 *
 * @since 0.2.0
 * @category models
 */
export interface LayerOptions<Workflows extends ReadonlyArray<Workflow.Any>> {
  readonly workflows: Workflows
  /**
   * How long a run's entity stays in memory with no message after its run ended. Default 1 minute. A
   * running run is never idle.
   */
  readonly maxIdleTime?: Duration.Input | undefined
}

/**
 * Register workflows on a runner: the runner then takes runs of them whose `runId`s the cluster places on
 * it, and runs each with `Durable.run` on the `RunStore` in context (a `SqlRunStore` on the Postgres the
 * runners share), so a run whose runner dies is resumed from its journal by the runner that takes its shard.
 * Provide the cluster's runner layer (`TestRunner.layer` in one process, `NodeClusterSocket.layer` across
 * processes), the store and the workflows' services.
 *
 * Before it takes runs, the layer checks each workflow against the store's live runs of its name
 * (`Durable.checkDefinition`): a changed definition fails the layer with `WorkflowChangedError` naming the
 * run and what changed, so a deploy drains old runs first.
 *
 * @example
 * ```ts
 * const runner = Distributed.layer({ workflows: [parallel, rag] }).pipe(
 *   Layer.provide(Embedder.layer),
 *   Layer.provideMerge(RunStore.layerMemory),
 *   Layer.provideMerge(TestRunner.layer)
 * )
 * ```
 *
 * @since 0.1.0
 * @category runners
 */
export const layer = <const Workflows extends ReadonlyArray<Workflow.Any>>(
  options: LayerOptions<Workflows>
): Layer.Layer<
  never,
  WorkflowChangedError | RunStoreError | RunNotFoundError,
  Sharding.Sharding | RunStore.RunStore | Workflow.Workflow.Services<Workflows[number]>
> => {
  const byName = new Map<string, Workflow.Any>()
  for (const wf of options.workflows) byName.set(wf.name, wf)
  const registered = [...byName.keys()]
  const checked = Layer.effectDiscard(Effect.forEach(byName.values(), Durable.checkDefinition, { discard: true }))
  const entity = RunEntity.toLayer(
    Effect.gen(function* () {
      const address = yield* Entity.CurrentAddress
      const sharding = yield* Sharding.Sharding
      const context = yield* Effect.context<RunStore.RunStore | Workflow.Workflow.Services<Workflows[number]>>()
      const runId = address.entityId
      // One execution of the run at a time in this entity: a second message for it (a client's retry, a
      // Resume) waits, then gets the stored outcome.
      const one = yield* Semaphore.make(1)
      // What this entity's executions published (encoded), for Events subscribers: a late one gets the past
      // first, each event once.
      const onSubscribe = yield* EventLog.OnSubscribe
      const events = yield* EventLog.make<Schema.Schema.Type<typeof RunError>>(onSubscribe(runId))
      // This entity instance: a client following its events tells a new instance (the run moved) by it.
      const instance = `${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`
      let current: { readonly cancel: Effect.Effect<void> } | undefined
      // Whether the last execution's Durable.start handle ended its events quietly (completed or cancelled).
      let quiet = false
      // Whether a subscriber with no execution here sent the run's Resume (once per entity instance).
      let resumeSent = false
      const lookup = (name: string) => {
        const wf = byName.get(name)
        return wf === undefined
          ? Effect.fail(new UnknownWorkflowError({ workflow: name, runId, registered }))
          : Effect.succeed(wf)
      }
      /** Run (or resume, or answer) the run here with `Durable.start`, forwarding its events to subscribers. */
      const durable = (wf: Workflow.Any, input: unknown) =>
        Effect.scoped(
          Effect.gen(function* () {
            quiet = false
            const handle = yield* Durable.start(wf, input as never, { runId })
            current = handle
            const forwarder = yield* handle.events.pipe(
              Stream.runForEach((event) =>
                Effect.match(Durable.encodeEvent(wf, event), {
                  onFailure: () => undefined,
                  onSuccess: events.publish
                })
              ),
              Effect.forkScoped
            )
            const exit = yield* Effect.exit(handle.result)
            // The handle's events end as the run did: quietly when it completed or was cancelled.
            quiet = Exit.isSuccess(yield* Fiber.await(forwarder))
            return yield* exit
          })
        ).pipe(Effect.ensuring(Effect.sync(() => (current = undefined))))
      /**
       * How subscribers see an execution that did not succeed end, as `Durable.start`'s events would: interrupted
       * from outside, the entity terminates (the runner stops, the shard moves) and the run goes on elsewhere, so
       * they are told so (`Stopped`: `RunMovedError`) rather than see an end; quietly when the run's handle
       * ended its events so (it was cancelled); with the interruption when the run interrupted itself; otherwise
       * with the run's error as `Run` answers it (`toWireError`, after the same mapping of a defect).
       */
      const ending = (
        wf: Workflow.Any,
        cause: Cause.Cause<unknown>,
        endedItself: boolean
      ): EventLog.End<Schema.Schema.Type<typeof RunError>> =>
        Cause.hasInterruptsOnly(cause)
          ? endedItself
            ? Cause.interrupt()
            : "stopped"
          : quiet
            ? undefined
            : Cause.fail(toWireError(wf, runId, Cause.squash(cause)))
      const execute = (name: string, input: (wf: Workflow.Any) => Effect.Effect<unknown, unknown, any>) =>
        Effect.flatMap(lookup(name), (wf) => {
          // The run ended itself with an interruption (a handler's `Effect.interrupt`; stored as over, by core's
          // Durable): it reached here as a failure, which an interruption of this fiber from outside skips.
          let endedItself = false
          return Effect.flatMap(input(wf), (value) => durable(wf, value)).pipe(
            Effect.retry({ schedule: storeRetry, while: isTransient }),
            Effect.catchCause((cause) => {
              endedItself = Cause.hasInterruptsOnly(cause)
              return Effect.failCause(cause)
            }),
            // Subscribers follow the execution through its retries: a transient failure retried is not the end.
            // They see the execution end as Durable.start's events do (`ending`).
            (attempts) =>
              Effect.andThen(
                Effect.sync(() => {
                  quiet = false
                  events.begin()
                }),
                Effect.onExit(attempts, (exit) =>
                  Effect.sync(() => events.end(Exit.isSuccess(exit) ? undefined : ending(wf, exit.cause, endedItself)))
                )
              ),
            one.withPermits(1),
            Effect.provideContext(context),
            // A defect ended the run (and was stored as its failure): answer it, rather than restart the entity.
            Effect.catchDefect((defect) => Effect.fail(defect)),
            Effect.mapError((error) => toWireError(wf, runId, error)),
            Effect.flatMap((value) => encodeResult(wf, runId, value))
          )
        })
      /**
       * Until an execution of the run begins here, a subscriber waits for one (the run's `Run` message is on
       * its way), but the run may be executing, or have run, elsewhere: this runner took the run's shard after
       * the run ended on its previous owner, or got the request while runners were joining and the shards
       * moving, or this entity is a new instance after the old one went idle. Its events are not here then, and
       * no execution may come: the subscriber fails with `RunMovedError` once the store says the run is over,
       * or once this runner no longer holds the run's shard (it stops, or the shard moves: the entity's
       * termination waits for its requests, and an execution's own subscribers are told by its interruption).
       * And the store may say the run is unfinished while no process owns it (its owner stopped or died and
       * nothing resumes it, e.g. it was started outside the cluster; or it was created and never started): no
       * `Run` message will ever come then, so once its lease is free or expired this runner, which holds the
       * run's shard, resumes it (a persisted `Resume` to itself, as the cluster does after an owner's death)
       * and the subscriber follows that execution, rather than wait for ever. A run the store does not know
       * fails the subscriber with `RunNotFoundError` at once (a wrong `runId`), unless it comes from
       * `Distributed.start`'s handle (`started`), whose `Run` message may not have stored the run yet.
       */
      const elsewhere = (workflow: string, started: boolean) =>
        Effect.gen(function* () {
          const store = yield* RunStore.RunStore
          for (let i = 0; !events.begun(); i++) {
            let gone = !sharding.hasShardId(address.shardId)
            if (!gone && i % elsewhereStoreEvery === 0) {
              const found = yield* Effect.result(store.get(runId))
              if (events.begun()) return
              // Store trouble is not an answer: it is read again at the next check.
              if (!started && Result.isFailure(found) && found.failure._tag === "RunNotFoundError") {
                return yield* found.failure
              }
              const info = Result.getSuccess(found)
              gone = info._tag === "Some" && RunStore.isFinished(info.value.status)
              if (info._tag === "Some" && !gone && !resumeSent && (yield* orphaned(store, info.value))) {
                // Unfinished, and no process owns it: nothing would ever run it, so this runner, which holds its
                // shard, resumes it as it would after its owner's death, through the cluster (a persisted
                // Resume message: it survives this runner's death too). The subscriber follows that execution.
                resumeSent = true
                yield* Effect.ignore(
                  sharding
                    .makeClient(RunEntity)
                    .pipe(Effect.flatMap((client) => client(runId).Resume({ workflow }, { discard: true })))
                )
              }
            }
            if (events.begun()) return
            if (gone) return yield* new RunMovedError({ workflow, runId })
            yield* Effect.sleep(elsewherePoll)
          }
        }).pipe(Effect.provideContext(context))
      return RunEntity.of({
        Run: ({ payload }) => execute(payload.workflow, () => Effect.sync(() => JSON.parse(payload.input))),
        Resume: ({ payload }) =>
          execute(payload.workflow, () =>
            Effect.map(
              Effect.flatMap(RunStore.RunStore, (store) => store.get(runId)),
              (info) => JSON.parse(info.input) as unknown
            )
          ),
        Events: ({ payload }) =>
          Stream.unwrap(
            Effect.as(
              lookup(payload.workflow),
              events.stream.pipe(
                Stream.map((t) => ({ x: instance, t })),
                Stream.catchTag("Stopped", () => Stream.fail(new RunMovedError({ workflow: payload.workflow, runId }))),
                (stream) =>
                  events.begun()
                    ? stream
                    : Stream.merge(
                        stream,
                        Stream.drain(Stream.fromEffect(elsewhere(payload.workflow, payload.started === true))),
                        {
                          haltStrategy: "left"
                        }
                      )
              )
            )
          ),
        Send: ({ payload }) =>
          Effect.flatMap(lookup(payload.workflow), (wf) =>
            Effect.flatMap(Durable.decodeEvent(wf, payload.event), (event) => Durable.send(wf, runId, event)).pipe(
              Effect.provideContext(context),
              Effect.mapError((error) => toWireError(wf, runId, error))
            )
          ),
        Cancel: () => (current === undefined ? Effect.void : current.cancel)
      })
    }),
    {
      concurrency: "unbounded",
      maxIdleTime: options.maxIdleTime ?? Duration.minutes(1),
      // A defect outside a run (in this entity's own code): restart the entity soon and deliver its messages again.
      defectRetryPolicy: Schedule.exponential("200 millis", 2).pipe(Schedule.upTo({ times: 5 }))
    }
  )
  // Runs on this runner send their distributed steps' invocations to the step entity (keyed by
  // invocationId, so spread over every runner); this runner takes its share of every run's invocations.
  return Layer.mergeAll(
    Layer.provide(entity, checked).pipe(Layer.provide(distributorLayer(byName))),
    stepLayer(byName)
  ) as any
}

/**
 * The errors {@link run} fails with besides the cluster's own (`MailboxFull`, `PersistenceError`, ...).
 *
 * @since 0.1.0
 * @category models
 */
export type RunError = UnknownWorkflowError | RunFailedError | WorkflowError.WorkflowError | Durable.DurableError

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
 * Run a workflow on the cluster, with `Durable.run`'s meaning: the run is the entity `runId` (a fresh one
 * when absent), placed by the cluster on one of the runners, which journals it in the shared store; if that
 * runner dies, the runner that takes its shard resumes the run from the journal and this call still gets the
 * result. A `runId` that finished answers its stored outcome; an unfinished one is resumed (a different
 * input: `WorkflowChangedError`). The result comes back decoded with the workflow's `output` schema. The
 * workflow value is only used for its name and schemas here: the runner runs its own registration of that
 * name.
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

/**
 * Continue a stored run on the cluster, with `Durable.resume`'s meaning: routed to the runner that owns
 * `runId`, which resumes it from its journal (or answers the stored outcome of a finished run).
 * `RunNotFoundError` for an unknown `runId`.
 *
 * @example
 * ```ts
 * const result = yield* Distributed.resume(parallel, "order-42")
 * ```
 *
 * @since 0.2.0
 * @category clients
 */
export const resume = <W extends Workflow.Any>(
  self: W,
  runId: string
): Effect.Effect<Workflow.Workflow.Output<W>, RunError | ClusterFailure, Sharding.Sharding> =>
  Effect.gen(function* () {
    const client = yield* RunEntity.client
    const text = yield* client(runId).Resume({ workflow: self.name })
    return yield* decodeResult(self, runId, text)
  })

/**
 * The stored status of a run, read from the store the runners share (as `Durable.status`).
 *
 * @example
 * ```ts
 * const { status } = yield* Distributed.status("order-42")
 * ```
 *
 * @since 0.2.0
 * @category clients
 */
export const status: (
  runId: string
) => Effect.Effect<Durable.Status, RunNotFoundError | RunStoreError, RunStore.RunStore> = Durable.status

/**
 * The stored runs' statuses, newest created first, read from the store the runners share (as `Durable.list`).
 *
 * @example
 * ```ts
 * const running = yield* Distributed.list({ status: "running" })
 * ```
 *
 * @since 0.2.0
 * @category clients
 */
export const list: (options?: {
  readonly workflow?: string | undefined
  readonly status?: RunStore.RunStatus | undefined
}) => Effect.Effect<ReadonlyArray<Durable.Status>, RunStoreError, RunStore.RunStore> = Durable.list

/**
 * Outside input for a run on the cluster, with `Durable.send`'s meaning: routed to the runner that owns
 * `runId`, which gives it at once to the run live there (an open `waitFor` it matches, a step that accepts it),
 * or stores it in the run's inbox for the run to read. The event's class must be one the workflow declares.
 *
 * @example
 * ```ts
 * yield* Distributed.send(approval, "order-42", new HumanResponseEvent({ response: "yes" }))
 * ```
 *
 * @since 0.2.0
 * @category clients
 */
export const send = <W extends Workflow.Any>(
  self: W,
  runId: string,
  event: AnyEvent
): Effect.Effect<void, RunError | ClusterFailure, Sharding.Sharding> =>
  Effect.gen(function* () {
    const text = yield* Durable.encodeEvent(self, event)
    const client = yield* RunEntity.client
    yield* client(runId).Send({ workflow: self.name, event: text })
  })

/**
 * A run on the cluster, started by {@link start}: its `runId`; `events`, what the run publishes on its owner,
 * streamed here (from the run's start, or from a resume when another runner took it over); `send` (as
 * {@link send}); `result` (as {@link run}: it survives a failover); `cancel`, which cancels the run where it is
 * live. `events` ends as `Durable.start`'s does: quietly after the `StopEvent` when the run completed, or after
 * what it had when `cancel` ended it; failing with `result`'s error (the same typed value) when the run failed;
 * with the interruption when a handler interrupted itself. It comes from the run's owner and does not continue
 * across owners: if the owner stops the run (it shuts down, the shard moves) or dies, the stream fails with
 * {@link RunMovedError} after what it had, and `result` still gives the run's outcome.
 *
 * @since 0.2.0
 * @category models
 */
export interface Handle<Output, Events extends AnyEvent = AnyEvent> {
  readonly runId: string
  readonly events: Stream.Stream<Events, RunError | RunMovedError | ClusterFailure>
  send(event: AnyEvent): Effect.Effect<void, RunError | ClusterFailure>
  readonly result: Effect.Effect<Output, RunError | ClusterFailure>
  readonly cancel: Effect.Effect<void, ClusterFailure>
}

/**
 * Start a run on the cluster and get a handle, with `Durable.start`'s meaning: the run is a persisted
 * message to the entity `runId` (so it survives the death of its runner), its events stream to this client
 * from the runner that owns it, decoded with the workflow's classes, and end as `Durable.start`'s and
 * `Workflow.start`'s do: quietly when the run completed or was cancelled, failing with the run's error (as
 * `result` fails: core's errors with their class, a handler's own as a {@link RunFailedError}) or with a
 * handler's own interruption; {@link RunMovedError} when the run's owner changed (see {@link Handle}).
 * Closing the caller's scope does not stop the run: it belongs to the cluster; `cancel` ends it.
 *
 * @example
 * ```ts
 * const handle = yield* Distributed.start(approval, { amount: 100 }, { runId: "order-42" })
 * yield* handle.events.pipe(
 *   Stream.runForEach((event) => Effect.log(event._tag)),
 *   Effect.catchTag("RunFailedError", (e) => Effect.logError(e.message)) // the run failed: result fails so too
 * )
 * const result = yield* handle.result
 * ```
 *
 * @since 0.2.0
 * @category clients
 */
export const start = <W extends Workflow.Any>(
  self: W,
  input: Workflow.Workflow.InputEncoded<W>,
  options?: { readonly runId?: string | undefined }
): Effect.Effect<Handle<Workflow.Workflow.Output<W>, Workflow.Workflow.Events<W>>, ClusterFailure, Sharding.Sharding> =>
  Effect.gen(function* () {
    const runId = options?.runId ?? freshRunId()
    const client = yield* RunEntity.client
    const sharding = yield* Effect.context<Sharding.Sharding>()
    yield* client(runId).Run(
      { workflow: self.name, input: JSON.stringify(input === undefined ? {} : input) },
      { discard: true }
    )
    return {
      runId,
      events: Stream.suspend(() => {
        // The cluster sends the request again to the run's next owner when its runner dies: events from another
        // instance of the run's entity are not a continuation of these.
        let instance: string | undefined
        return client(runId)
          .Events({ workflow: self.name, started: true })
          .pipe(
            Stream.mapEffect((item): Effect.Effect<AnyEvent, RunMovedError | WorkflowValidationError> => {
              instance ??= item.x
              return item.x === instance
                ? Durable.decodeEvent(self, item.t)
                : Effect.fail(new RunMovedError({ workflow: self.name, runId }))
            })
          )
      }) as Stream.Stream<Workflow.Workflow.Events<W>, RunError | RunMovedError | ClusterFailure>,
      send: (event: AnyEvent) => Effect.provideContext(send(self, runId, event), sharding),
      result: Effect.provideContext(run(self, input, { runId }), sharding),
      cancel: client(runId).Cancel()
    }
  })
