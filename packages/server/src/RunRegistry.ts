/**
 * The server's record of runs: it starts them, keeps each run's published events as a log that any
 * number of subscribers replay from any position, answers a run's status, takes outside input and
 * cancels. The HTTP routes see only this service.
 *
 * Two implementations, served by the same routes: {@link layerMemory} (runs in memory, in the server's
 * scope, the last `keepRuns` finished ones kept) and {@link layerDurable} (durable runs in a `RunStore`:
 * `Durable.start` starts them, `Durable.status` reads them, their journal gives their events, `Durable.send`
 * takes input, and a server started on the same store picks up the runs an earlier one left).
 *
 * @since 0.1.0
 */
import {
  Durable,
  type Event,
  HumanResponseEvent,
  RunBusyError,
  RunStore,
  Workflow,
  WorkflowCancelledError,
  type WorkflowValidationError
} from "@effect-flow/core"
import {
  Cause,
  Context,
  Duration,
  Effect,
  Exit,
  type Fiber,
  Layer,
  Option,
  Schema,
  Scope,
  Semaphore,
  Stream
} from "effect"
import { encodeEvent, encodeFailure, resultEncoder } from "./internal/encode.ts"
import { type Entry, EventLog } from "./internal/eventLog.ts"
import { JournalReader } from "./internal/journalEvents.ts"
import { InvalidBody, RunBusy, RunEnded, RunNotFound, type RunStatus, WorkflowNotFound } from "./WorkflowApi.ts"

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
 * `send` and `cancel` fail with `WorkflowNotFound` for a run (of a shared store) whose workflow is not served.
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
  readonly send: (
    runId: string,
    event: unknown
  ) => Effect.Effect<void, RunNotFound | WorkflowNotFound | InvalidBody | RunEnded>
  readonly cancel: (runId: string) => Effect.Effect<typeof RunStatus.Type, RunNotFound | WorkflowNotFound | RunBusy>
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

/** The error of a run that a handler's `Effect.interrupt` ended, as `Durable.status` gives it for a durable run. */
const SELF_INTERRUPTED = {
  _tag: "Interrupt",
  message: "A handler interrupted the run (Effect.interrupt): it ended with that interruption"
}

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

/** The served workflows by name, validated, with no two of one name. */
const served = (
  workflows: ReadonlyArray<Workflow.Any>
): Effect.Effect<Map<string, Workflow.Any>, WorkflowValidationError | DuplicateWorkflowError> =>
  Effect.gen(function* () {
    const byName = new Map<string, Workflow.Any>()
    for (const workflow of workflows) {
      if (byName.has(workflow.name)) return yield* new DuplicateWorkflowError({ workflow: workflow.name })
      byName.set(workflow.name, yield* Workflow.validate(workflow))
    }
    return byName
  })

/**
 * An event sent to a run, decoded with the schema of the event class its `_tag` names among those the
 * workflow takes from outside.
 */
const decodeSent = (
  classes: Map<string, Schema.Top>,
  body: unknown,
  where: string
): Effect.Effect<Event.AnyEvent, InvalidBody> =>
  Effect.gen(function* () {
    const tag = (body as any)?._tag
    if (body === null || typeof body !== "object" || Array.isArray(body) || typeof tag !== "string") {
      return yield* new InvalidBody({ where, issue: 'expected a JSON object with a string "_tag"' })
    }
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
    return (yield* decode(body).pipe(
      Effect.mapError((e) => new InvalidBody({ where, issue: e.message }))
    )) as Event.AnyEvent
  })

const makeMemory = Effect.fnUntraced(function* <W extends Workflow.Any>(options: MemoryOptions<W>) {
  const keepRuns = Math.max(0, options.keepRuns ?? 1000)
  const scope = yield* Effect.scope
  const services = yield* Effect.context<never>()
  const byName = yield* served(options.workflows)
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
        } else if (run.cancelling) {
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
          // An interruption with no cancel is a handler's own `Effect.interrupt`: the run failed with it, stored as a
          // durable run that did so is (`Durable.status`), so both kinds of server tell it alike.
          run.status = "failed"
          run.error = exit.cause.reasons.every((r) => r._tag === "Interrupt")
            ? SELF_INTERRUPTED
            : encodeFailure(exit.cause)
          run.log.append(false, JSON.stringify({ _tag: "RunFailed", error: run.error }))
        }
        // Retired before its log ends: a subscriber that sees the end (and may read statuses at once, in the
        // same tick) finds the runs kept as they will stay.
        retire(run)
        markEnded()
        run.log.end()
      }
      // The events stream fails with the run's error, or with its interruption when a handler interrupted itself
      // (not a failure: `Effect.ignore` would pass it on and the run's end would never be recorded).
      yield* Stream.runForEachArray(handle.events, (events) => Effect.sync(() => record(events))).pipe(
        Effect.exit,
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
        const event = yield* decodeSent(sendable.get(run.workflow.name)!, body, where)
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

/**
 * Options of {@link layerDurable}.
 *
 * @example
 * ```ts
 * const options: RunRegistry.DurableOptions = { workflows: [parallel, approval], pollEvery: "100 millis" }
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface DurableOptions<W extends Workflow.Any = Workflow.Any> {
  readonly workflows: ReadonlyArray<W>
  /**
   * Take over, when the layer is built, the unfinished runs of the served workflows that no live process
   * owns (a server stopped or crashed mid-run), so they go on here. Default `true`.
   */
  readonly resume?: boolean | undefined
  /**
   * With `resume`, how often to look again for unfinished runs that no live process owns (one whose owner died
   * on another host is free once its lease expires). Default 5 seconds.
   */
  readonly takeOverEvery?: Duration.Input | undefined
  /** How often an event stream with a subscriber reads new journal entries of a run that has not ended. Default 50 ms. */
  readonly pollEvery?: Duration.Input | undefined
}

/**
 * Durable runs in the `RunStore` in context (`SqliteRunStore.layer({ filename })` from `@effect-flow/sql`,
 * or any other store):
 *
 * - `start` is `Durable.start`: the run lives in the layer's scope; closing it (a deploy, a stop) leaves the
 *   run resumable, as a crash would.
 * - `status` is `Durable.status`, so a run started by an earlier server on the same store is visible.
 * - `events` are read from the run's journal, from its start: a step's writes, `waitFor` requests, input
 *   requests, lifecycle events (an invocation's start, end, failure and backoff; the journal holds no mailbox
 *   lengths, so no `EventQueued`), and the end. Each event's id is its journal sequence number, so
 *   `Last-Event-ID` goes on where it left off across a server restart.
 * - `send` is `Durable.send`: at once to a run live here, otherwise to its inbox; a run nobody owns is then
 *   taken over here, so the answer is read.
 * - `cancel` ends the run as `"cancelled"`, taking it over first when nobody owns it; a run live in another
 *   process is `RunBusy` (409), naming that process.
 *
 * With `resume` (the default), the unfinished runs of served workflows that no live process owns are taken
 * over when the layer is built, and looked for again every `takeOverEvery`.
 *
 * @example
 * ```ts
 * import { SqliteRunStore } from "@effect-flow/sql"
 *
 * const registry = RunRegistry.layerDurable({ workflows: [parallel, approval] }).pipe(
 *   Layer.provide(SqliteRunStore.layer({ filename: "runs.db" }))
 * )
 * ```
 *
 * @since 0.2.0
 * @category layers
 */
export const layerDurable = <W extends Workflow.Any>(
  options: DurableOptions<W>
): Layer.Layer<
  RunRegistry,
  WorkflowValidationError | DuplicateWorkflowError,
  Workflow.Workflow.Services<W> | RunStore.RunStore
> => Layer.effect(RunRegistry, makeDurable(options)) as any

/** A run live in this process: its handle, and the scope it lives in. */
interface Owned {
  readonly handle: Durable.Handle<unknown, unknown>
}

/** The published events of one run read from its journal so far, shared by its subscribers. */
interface Tail {
  readonly log: EventLog
  readonly reader: JournalReader
  /** The journal sequence number to read next. */
  next: number
  subscribers: number
  feeder: Fiber.Fiber<void> | undefined
  endedAt: number | undefined
}

/** How many ended runs' event logs stay in memory for late subscribers (re-read from the journal after). */
const KEEP_TAILS = 16

const parseJson = (text: string | undefined): unknown => {
  if (text === undefined) return undefined
  try {
    return JSON.parse(text)
  } catch {
    return text
  }
}

const isDone = (status: string) => status === "completed" || status === "failed" || status === "cancelled"

const makeDurable = Effect.fnUntraced(function* <W extends Workflow.Any>(options: DurableOptions<W>) {
  const scope = yield* Effect.scope
  const services = yield* Effect.context<never>()
  const store = yield* RunStore.RunStore
  const byName = yield* served(options.workflows)
  const sendable = new Map([...byName].map(([name, wf]) => [name, sendableClasses(wf)]))
  const pollEvery = Duration.fromInputUnsafe(options.pollEvery ?? "50 millis")
  const owned = new Map<string, Owned>()
  const tails = new Map<string, Tail>()
  const adopting = yield* Semaphore.make(1)

  /** The served workflow of this name; `WorkflowNotFound` for a stored run's workflow that is not served here. */
  const servedWorkflow = (name: string): Effect.Effect<Workflow.Any, WorkflowNotFound> => {
    const workflow = byName.get(name)
    return workflow === undefined
      ? Effect.fail(new WorkflowNotFound({ workflow: name, known: [...byName.keys()] }))
      : Effect.succeed(workflow)
  }

  const provided = <A, E>(effect: Effect.Effect<A, E, any>) =>
    effect.pipe(Effect.provideService(RunStore.RunStore, store), Effect.provideContext(services)) as Effect.Effect<A, E>

  const statusOf = (runId: string): Effect.Effect<typeof RunStatus.Type, RunNotFound> =>
    provided(Durable.status(runId)).pipe(
      Effect.catchTag("RunNotFoundError", () => Effect.fail(new RunNotFound({ runId }))),
      Effect.catchTag("RunStoreError", (error) => Effect.die(error)),
      Effect.map((s) => ({
        runId: s.runId,
        workflow: s.workflow,
        status: s.status,
        createdAt: s.createdAt,
        updatedAt: s.updatedAt,
        ...(s.result !== undefined ? { result: parseJson(s.result) } : {}),
        ...(s.error !== undefined ? { error: parseJson(s.error) } : {})
      }))
    )

  /**
   * Run `handle`'s run here until it ends or the layer closes. Its events are not read from the handle (the
   * journal has them, with their ids): the handle's queue is drained so it holds nothing.
   */
  const own = (workflow: Workflow.Any, input: unknown, runId: string | undefined) =>
    Effect.gen(function* () {
      const runScope = yield* Scope.fork(scope)
      const started = yield* provided(
        Scope.provide(Durable.start(workflow, input as never, runId === undefined ? {} : { runId }), runScope)
      ).pipe(Effect.exit)
      if (Exit.isFailure(started)) {
        yield* Scope.close(runScope, Exit.void)
        return started
      }
      const handle = started.value as Durable.Handle<unknown, unknown>
      owned.set(handle.runId, { handle })
      yield* Stream.runDrain(handle.events).pipe(
        Effect.exit, // not `ignore`: the events fail with the interruption of a run that interrupted itself
        Effect.andThen(Effect.exit(handle.result)),
        Effect.ensuring(
          Effect.suspend(() => {
            owned.delete(handle.runId)
            return Scope.close(runScope, Exit.void)
          })
        ),
        Effect.forkIn(scope, { startImmediately: true })
      )
      return started
    })

  /** Take over a stored, unfinished run of a served workflow that no live process owns; else leave it. */
  const adopt = (runId: string): Effect.Effect<RunBusyError | undefined> =>
    adopting.withPermits(1)(
      Effect.gen(function* () {
        if (owned.has(runId)) return undefined
        const info = yield* store.get(runId)
        if (RunStore.isFinished(info.status)) return undefined
        const workflow = byName.get(info.workflow)
        if (workflow === undefined) return undefined
        const exit = yield* own(workflow, JSON.parse(info.input), runId)
        if (Exit.isSuccess(exit)) return undefined
        const error = Cause.findErrorOption(exit.cause)
        return Option.isSome(error) && error.value instanceof RunBusyError ? error.value : undefined
      }).pipe(Effect.orElseSucceed(() => undefined))
    )

  /** Take over the unfinished runs of the served workflows that no live process owns. */
  const takeOver = Effect.gen(function* () {
    const unfinished = yield* Effect.orElseSucceed(
      Effect.map(
        Effect.all([store.list({ status: "running" }), store.list({ status: "waiting" })]),
        ([running, waiting]) => [...running, ...waiting].filter((r) => byName.has(r.workflow) && !owned.has(r.runId))
      ),
      () => []
    )
    yield* Effect.forEach(unfinished, (r) => adopt(r.runId), { discard: true })
  })

  if (options.resume !== false) {
    // At once, then now and then: a run whose owner died on another host is free once its lease expires.
    const every = Duration.fromInputUnsafe(options.takeOverEvery ?? "5 seconds")
    yield* Effect.forkIn(Effect.forever(Effect.andThen(takeOver, Effect.sleep(every))), scope)
  }

  const start = (name: string, input: unknown): Effect.Effect<string, WorkflowNotFound | InvalidBody> =>
    Effect.gen(function* () {
      const workflow = byName.get(name)
      if (workflow === undefined) return yield* new WorkflowNotFound({ workflow: name, known: [...byName.keys()] })
      const started = yield* own(workflow, input, undefined)
      if (Exit.isFailure(started)) {
        const failure = encodeFailure(started.cause)
        if (failure._tag === "WorkflowInputError" || failure._tag === "WorkflowValidationError") {
          return yield* new InvalidBody({ where: `input of workflow "${name}"`, issue: failure.message })
        }
        return yield* Effect.die(Cause.squash(started.cause))
      }
      return (started.value as Durable.Handle<unknown, unknown>).runId
    })

  /** Read what the journal has beyond the tail's position; at the run's end, its last event, then the end. */
  const refresh = (runId: string, tail: Tail): Effect.Effect<void> =>
    Effect.gen(function* () {
      const info = yield* store.get(runId)
      if (info.journalLength > tail.next) {
        const entries = yield* store.readJournal(runId, { from: tail.next })
        for (const entry of entries) {
          tail.next = entry.seq + 1
          const published = tail.reader.read(entry.data)
          if (published === undefined) continue
          if (published._tag === "Event") {
            tail.log.append(published.lifecycle, published.data, entry.seq)
            continue
          }
          const status = yield* statusOf(runId)
          yield* Effect.sync(() => finish(tail, status, entry.seq))
          return
        }
      }
      // A finished run whose journal was compacted (or ended without an end entry) ends from its status.
      if (RunStore.isFinished(info.status) && !tail.log.isEnded) {
        const status = yield* statusOf(runId)
        finish(tail, status, Math.max(tail.next, info.journalLength, 1))
      }
    }).pipe(Effect.catch(() => Effect.void))

  const finish = (tail: Tail, status: typeof RunStatus.Type, id: number) => {
    if (status.status === "completed") {
      tail.log.append(false, JSON.stringify({ _tag: "StopEvent", result: status.result ?? null }), id)
    } else {
      const tag = status.status === "cancelled" ? "RunCancelled" : "RunFailed"
      tail.log.append(false, JSON.stringify({ _tag: tag, error: status.error ?? null }), id)
    }
    tail.log.end()
    tail.endedAt = Date.now()
    const ended = [...tails].filter(([, t]) => t.endedAt !== undefined && t.subscribers === 0)
    ended.sort(([, a], [, b]) => a.endedAt! - b.endedAt!)
    for (const [runId] of ended.slice(0, Math.max(0, ended.length - KEEP_TAILS))) tails.delete(runId)
  }

  /** Feed the tail from the journal while it has subscribers and the run has not ended. */
  const feed = (runId: string, tail: Tail): Effect.Effect<void> =>
    Effect.gen(function* () {
      while (true) {
        yield* refresh(runId, tail)
        if (tail.log.isEnded || tail.subscribers === 0) {
          tail.feeder = undefined
          return
        }
        yield* Effect.sleep(pollEvery)
      }
    })

  const events = (runId: string, { after, lifecycle }: EventsOptions) =>
    Effect.gen(function* () {
      const status = yield* statusOf(runId)
      if (!isDone(status.status) && !owned.has(runId)) yield* Effect.forkIn(adopt(runId), scope)
      let tail = tails.get(runId)
      if (tail === undefined) {
        tail = {
          log: new EventLog(),
          reader: new JournalReader(runId),
          next: 0,
          subscribers: 0,
          feeder: undefined,
          endedAt: undefined
        }
        tails.set(runId, tail)
      }
      const t = tail
      const subscribe = Effect.acquireRelease(
        Effect.gen(function* () {
          t.subscribers++
          if (t.feeder === undefined && !t.log.isEnded) {
            t.feeder = yield* Effect.forkIn(feed(runId, t), scope, { startImmediately: true })
          }
        }),
        () =>
          Effect.sync(() => {
            t.subscribers--
          })
      )
      const all = Stream.unwrap(Effect.as(subscribe, t.log.read(after)))
      if (lifecycle) return all
      return all.pipe(
        Stream.map((batch) => batch.filter((e) => !e.lifecycle)),
        Stream.filter((batch) => batch.length > 0)
      )
    })

  const registry: RunRegistryShape = {
    workflows: [...byName.values()],
    start,
    status: statusOf,
    events,
    send: (runId, body) =>
      Effect.gen(function* () {
        const status = yield* statusOf(runId)
        if (isDone(status.status)) return yield* new RunEnded({ runId, status: status.status })
        const workflow = yield* servedWorkflow(status.workflow)
        const where = `event sent to run "${runId}" of workflow "${status.workflow}"`
        const event = yield* decodeSent(sendable.get(workflow.name)!, body, where)
        yield* provided(Durable.send(workflow, runId, event)).pipe(
          Effect.catch((e: any): Effect.Effect<void, RunEnded | InvalidBody> => {
            if (e?._tag === "UnhandledEventError" && /already|ended/.test(String(e.message))) {
              return Effect.flatMap(statusOf(runId).pipe(Effect.orDie), (s) =>
                Effect.fail(new RunEnded({ runId, status: s.status }))
              )
            }
            if (e?._tag === "UnhandledEventError" || e?._tag === "WorkflowValidationError") {
              return Effect.fail(new InvalidBody({ where, issue: String(e.message) }))
            }
            return Effect.die(e)
          })
        )
        // Stored in the inbox of a run nobody owns: take it over, so the answer is read.
        if (!owned.has(runId)) yield* Effect.forkIn(adopt(runId), scope)
      }),
    cancel: (runId) =>
      Effect.gen(function* () {
        const status = yield* statusOf(runId)
        if (isDone(status.status)) return status
        // Durable offers a cancel only through a run's handle, which takes its workflow: a run of a workflow not
        // served here cannot be cancelled here (nor taken over), whoever owns it. Saying so beats a 200 with the run
        // still going.
        yield* servedWorkflow(status.workflow)
        if (!owned.has(runId)) {
          const busy = yield* adopt(runId)
          if (busy !== undefined) {
            return yield* new RunBusy({ runId, owner: `${busy.owner} (pid ${busy.pid} on ${busy.host})` })
          }
        }
        const run = owned.get(runId)
        if (run !== undefined) {
          yield* run.handle.cancel
          yield* Effect.exit(run.handle.result)
        }
        return yield* statusOf(runId).pipe(Effect.orDie)
      })
  }
  return registry
})
