/**
 * The server's record of runs: it starts them, keeps each run's published events as a log that any
 * number of subscribers replay from any position, answers a run's status, takes outside input and
 * cancels. The HTTP routes see only this service.
 *
 * This is the seam for durable runs and for the interpreter's record of transitions: a registry backed by
 * a `RunStore` (its journal gives the events, `Durable.status` the status, `Durable.send` the input) or by
 * the record of transitions provides this same `RunRegistry` service, and `WorkflowServer` serves it
 * without any change to the routes. Today there is one implementation, {@link layerMemory}: runs in
 * memory, in the server's scope, the last `keepRuns` finished ones kept.
 *
 * @since 0.1.0
 */
import {
  type Event,
  HumanResponseEvent,
  Workflow,
  WorkflowCancelledError,
  type WorkflowValidationError
} from "@effect-flow/core"
import { Cause, Context, Effect, Exit, Layer, Schema, Scope, Stream } from "effect"
import { encodeEvent, encodeFailure, resultEncoder } from "./internal/encode.ts"
import { type Entry, EventLog } from "./internal/eventLog.ts"
import { InvalidBody, RunEnded, RunNotFound, type RunStatus, WorkflowNotFound } from "./WorkflowApi.ts"

/**
 * One published event of a run, as the event stream sends it: `id` is its position in the run (1-based,
 * the SSE `id:` and what `Last-Event-ID` names), `lifecycle` whether it is a lifecycle event, `data` its JSON.
 *
 * @example
 * ```ts
 * const entry: RunRegistry.LogEntry = { id: 1, lifecycle: false, data: '{"_tag":"StopEvent","result":3}' }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export type LogEntry = Entry

/**
 * Options of {@link RunRegistryShape.events}: replay after position `after` (0: from the run's start),
 * with or without lifecycle events.
 *
 * @example
 * ```ts
 * const options: RunRegistry.EventsOptions = { after: 0, lifecycle: true }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface EventsOptions {
  readonly after: number
  readonly lifecycle: boolean
}

/**
 * What a run registry does. Every method fails with the API's typed errors, so the routes only translate.
 *
 * - `start`: decode `input` with the workflow's schema and start a run that outlives the request.
 * - `status`: `Durable.status`'s shape.
 * - `events`: the run's published events, in batches, from the start (or after `after`) and live; the
 *   stream ends after the run's end (`StopEvent`, or a `RunFailed` / `RunCancelled` entry). Interrupting
 *   it never touches the run.
 * - `send`: outside input, decoded with the event's own schema (by `_tag`).
 * - `cancel`: end the run as `"cancelled"`; its status after.
 *
 * @example
 * ```ts
 * const registry = yield* RunRegistry.RunRegistry
 * const runId = yield* registry.start("parallel", { items: ["a"] })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RunRegistryShape {
  readonly workflows: ReadonlyArray<Workflow.Any>
  readonly start: (workflow: string, input: unknown) => Effect.Effect<string, WorkflowNotFound | InvalidBody>
  readonly status: (runId: string) => Effect.Effect<typeof RunStatus.Type, RunNotFound>
  readonly events: (
    runId: string,
    options: EventsOptions
  ) => Effect.Effect<Stream.Stream<ReadonlyArray<LogEntry>>, RunNotFound>
  readonly send: (runId: string, event: unknown) => Effect.Effect<void, RunNotFound | InvalidBody | RunEnded>
  readonly cancel: (runId: string) => Effect.Effect<typeof RunStatus.Type, RunNotFound>
}

/**
 * The run registry service: what `WorkflowServer` serves.
 *
 * @example
 * ```ts
 * const status = yield* Effect.flatMap(RunRegistry.RunRegistry.asEffect(), (r) => r.status(runId))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class RunRegistry extends Context.Service<RunRegistry, RunRegistryShape>()("@effect-flow/server/RunRegistry") {}

/**
 * Two served workflows have the same name: the routes name workflows, so names must differ.
 *
 * @example
 * ```ts
 * // RunRegistry.layerMemory({ workflows: [a, a2] }) with a.name === a2.name fails with:
 * // DuplicateWorkflowError: Two served workflows are named "a": give each a distinct name (defineWorkflow({ name }))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class DuplicateWorkflowError extends Schema.TaggedError<DuplicateWorkflowError>()("DuplicateWorkflowError", {
  workflow: Schema.String
}) {
  override get message() {
    return `Two served workflows are named "${this.workflow}": give each a distinct name (defineWorkflow({ name }))`
  }
}

/**
 * Options of {@link layerMemory}.
 *
 * @example
 * ```ts
 * const options: RunRegistry.MemoryOptions = { workflows: [parallel], keepRuns: 100 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MemoryOptions<W extends Workflow.Any = Workflow.Any> {
  readonly workflows: ReadonlyArray<W>
  /** How many finished runs to keep (their status and events); the oldest finished go first. Default 1000. */
  readonly keepRuns?: number | undefined
}

/**
 * Runs in memory. Each run lives in the layer's scope (closing the layer interrupts the runs still going;
 * a request or a subscriber going away never does); a finished run stays readable until `keepRuns` newer
 * runs have finished. The workflows are validated when the layer is built.
 *
 * @example
 * ```ts
 * const registry = RunRegistry.layerMemory({ workflows: [parallel, approval], keepRuns: 100 })
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layerMemory = <W extends Workflow.Any>(
  options: MemoryOptions<W>
): Layer.Layer<RunRegistry, WorkflowValidationError | DuplicateWorkflowError, Workflow.Workflow.Services<W>> =>
  Layer.effect(RunRegistry, makeMemory(options)) as any

interface Run {
  readonly runId: string
  readonly workflow: Workflow.Any
  readonly log: EventLog
  readonly createdAt: number
  updatedAt: number
  status: (typeof RunStatus.Type)["status"]
  result?: unknown
  error?: unknown
  cancelling: boolean
  send(event: Event.AnyEvent): Effect.Effect<void, unknown>
  cancel: Effect.Effect<void>
  /** Whether only outside input can move the run (the interpreter's own account: `Handle.waiting`). */
  readonly waiting: Effect.Effect<boolean>
  /** Completes when the run's end is recorded. */
  readonly ended: Promise<void>
}

const LIFECYCLE = new Set(["StepStarted", "StepCompleted", "StepFailed", "StepRetrying", "EventQueued"])

const isFinished = (run: Run): boolean =>
  run.status === "completed" || run.status === "failed" || run.status === "cancelled"

const sendableClasses = (workflow: Workflow.Any): Map<string, Schema.Top> => {
  const classes = new Map<string, Schema.Top>()
  const add = (c: unknown) => {
    const tag = (c as any)?._tag ?? (c as any)?.identifier
    if (Schema.isSchema(c) && typeof tag === "string" && tag !== "StartEvent" && tag !== "StopEvent") {
      if (!classes.has(tag)) classes.set(tag, c)
    }
  }
  add(HumanResponseEvent)
  for (const c of workflow.config.outsideInput ?? []) add(c)
  for (const step of workflow.steps) {
    for (const c of step.accepts) add(c)
    for (const c of step.emits ?? []) add(c)
  }
  return classes
}

const makeMemory = Effect.fnUntraced(function* <W extends Workflow.Any>(options: MemoryOptions<W>) {
  const keepRuns = Math.max(0, options.keepRuns ?? 1000)
  const scope = yield* Effect.scope
  const services = yield* Effect.context<never>()
  const byName = new Map<string, Workflow.Any>()
  for (const workflow of options.workflows) {
    if (byName.has(workflow.name)) return yield* new DuplicateWorkflowError({ workflow: workflow.name })
    byName.set(workflow.name, yield* Workflow.validate(workflow))
  }
  const sendable = new Map([...byName].map(([name, wf]) => [name, sendableClasses(wf)]))
  const encodeResults = new Map([...byName].map(([name, wf]) => [name, resultEncoder(wf.config.output as any)]))
  const runs = new Map<string, Run>()
  const finished: Array<string> = []

  const lookup = (runId: string): Effect.Effect<Run, RunNotFound> => {
    const run = runs.get(runId)
    return run === undefined ? Effect.fail(new RunNotFound({ runId })) : Effect.succeed(run)
  }

  const statusOf = (run: Run): Effect.Effect<typeof RunStatus.Type> =>
    Effect.map(run.status === "running" ? run.waiting : Effect.succeed(false), (waiting) => ({
      runId: run.runId,
      workflow: run.workflow.name,
      status: waiting && run.status === "running" ? "waiting" : run.status,
      createdAt: run.createdAt,
      updatedAt: run.updatedAt,
      ...(run.result !== undefined ? { result: run.result } : {}),
      ...(run.error !== undefined ? { error: run.error } : {})
    }))

  const retire = (run: Run) => {
    finished.push(run.runId)
    while (finished.length > keepRuns) runs.delete(finished.shift()!)
  }

  const start = (name: string, input: unknown): Effect.Effect<string, WorkflowNotFound | InvalidBody> =>
    Effect.gen(function* () {
      const workflow = byName.get(name)
      if (workflow === undefined) return yield* new WorkflowNotFound({ workflow: name, known: [...byName.keys()] })
      const encodeResult = encodeResults.get(name)!
      const runScope = yield* Scope.fork(scope)
      const started = yield* (
        Workflow.start(workflow, input as never, { lifecycle: true }).pipe(
          Scope.provide(runScope),
          Effect.provideContext(services)
        ) as Effect.Effect<Workflow.Handle<unknown, unknown>, unknown>
      ).pipe(Effect.exit)
      if (Exit.isFailure(started)) {
        yield* Scope.close(runScope, Exit.void)
        const failure = encodeFailure(started.cause)
        return yield* new InvalidBody({ where: `input of workflow "${name}"`, issue: failure.message })
      }
      const handle = started.value
      let markEnded!: () => void
      const now = Date.now()
      const run: Run = {
        runId: handle.runId,
        workflow,
        log: new EventLog(),
        createdAt: now,
        updatedAt: now,
        status: "running",
        cancelling: false,
        send: handle.send,
        cancel: handle.cancel,
        waiting: handle.waiting,
        ended: new Promise((resolve) => (markEnded = resolve))
      }
      runs.set(run.runId, run)
      const record = (events: ReadonlyArray<Event.AnyEvent>) => {
        for (const event of events) {
          run.log.append(LIFECYCLE.has(event._tag), encodeEvent(event, encodeResult))
        }
        run.updatedAt = Date.now()
      }
      const finish = (exit: Exit.Exit<unknown, unknown>) => {
        run.updatedAt = Date.now()
        if (Exit.isSuccess(exit)) {
          run.status = "completed"
          run.result = encodeResult(exit.value)
        } else if (run.cancelling || exit.cause.reasons.every((r) => r._tag === "Interrupt")) {
          run.status = "cancelled"
          const failure = encodeFailure(exit.cause)
          run.error =
            failure._tag === "WorkflowCancelledError"
              ? failure
              : encodeFailure(
                  Cause.fail(
                    new WorkflowCancelledError({
                      workflow: workflow.name,
                      runId: run.runId,
                      by: "DELETE /api/runs/:runId"
                    })
                  )
                )
          run.log.append(false, JSON.stringify({ _tag: "RunCancelled", error: run.error }))
        } else {
          run.status = "failed"
          run.error = encodeFailure(exit.cause)
          run.log.append(false, JSON.stringify({ _tag: "RunFailed", error: run.error }))
        }
        run.log.end()
        retire(run)
        markEnded()
      }
      yield* Stream.runForEachArray(handle.events, (events) => Effect.sync(() => record(events))).pipe(
        Effect.ignore,
        Effect.andThen(Effect.exit(handle.result)),
        Effect.flatMap((exit) => Effect.sync(() => finish(exit))),
        Effect.ensuring(Scope.close(runScope, Exit.void)),
        Effect.forkIn(scope, { startImmediately: true })
      )
      return run.runId
    })

  const registry: RunRegistryShape = {
    workflows: [...byName.values()],
    start,
    status: (runId) => Effect.flatMap(lookup(runId), statusOf),
    events: (runId, { after, lifecycle }) =>
      Effect.map(lookup(runId), (run) => {
        const all = run.log.read(after)
        if (lifecycle) return all
        return all.pipe(
          Stream.map((batch) => batch.filter((e) => !e.lifecycle)),
          Stream.filter((batch) => batch.length > 0)
        )
      }),
    send: (runId, body) =>
      Effect.gen(function* () {
        const run = yield* lookup(runId)
        if (isFinished(run)) return yield* new RunEnded({ runId, status: run.status as "completed" })
        const where = `event sent to run "${runId}" of workflow "${run.workflow.name}"`
        const tag = (body as any)?._tag
        if (body === null || typeof body !== "object" || Array.isArray(body) || typeof tag !== "string") {
          return yield* new InvalidBody({ where, issue: 'expected a JSON object with a string "_tag"' })
        }
        const classes = sendable.get(run.workflow.name)!
        const cls = classes.get(tag)
        if (cls === undefined) {
          return yield* new InvalidBody({
            where,
            issue: `no event with _tag "${tag}" can be sent to this workflow; it takes: ${[...classes.keys()].join(", ")} (declare others in the workflow's outsideInput)`
          })
        }
        const decode = Schema.decodeUnknownEffect(Schema.toCodecJson(cls)) as (
          u: unknown
        ) => Effect.Effect<unknown, Schema.SchemaError>
        const event = yield* decode(body).pipe(Effect.mapError((e) => new InvalidBody({ where, issue: e.message })))
        yield* run
          .send(event as Event.AnyEvent)
          .pipe(
            Effect.catch(
              (e: any): Effect.Effect<never, RunEnded | InvalidBody> =>
                isFinished(run) || /ended/.test(String(e?.message))
                  ? Effect.fail(new RunEnded({ runId, status: run.status }))
                  : Effect.fail(new InvalidBody({ where, issue: String(e?.message ?? e) }))
            )
          )
        run.updatedAt = Date.now()
      }),
    cancel: (runId) =>
      Effect.gen(function* () {
        const run = yield* lookup(runId)
        if (!isFinished(run)) {
          run.cancelling = true
          yield* run.cancel
          yield* Effect.promise(() => run.ended)
        }
        return yield* statusOf(run)
      })
  }
  return registry
})
