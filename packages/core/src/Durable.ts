/**
 * Durable runs: a run that writes a journal as it goes (the interpreter's record of transitions, encoded
 * with the workflow's schemas and appended through a group-committing `JournalWriter`) and can be resumed
 * by its `runId` after a crash or a deploy. The same workflow value runs either way; durability is chosen
 * at the call, and a run without it pays nothing.
 *
 * - `run` / `runPromise`: run with a journal (a finished `runId` answers with its stored outcome, an
 *   unfinished one is resumed); `start` / `startPromise`: the same as a handle; `resume`: go on by `runId`.
 * - `send`: outside input (a `HumanResponseEvent`, a `waitFor` answer) for a stored run, live here, live in
 *   another process (through its inbox, read within a second) or stopped (read first by its resume).
 * - `status` / `list`: what the store holds; `"waiting"` means only outside input can move the run.
 *
 * @example
 * ```ts
 * import { Durable, RunStore } from "@effect-flow/core"
 *
 * const result = await Durable.runPromise(wf, { items: ["a", "b"] }, { runId: "order-42", layer: RunStore.layerMemory })
 * // a run waiting for an answer, from any process:
 * await Effect.runPromise(Durable.send(wf, "order-43", new HumanResponseEvent({ response: "yes" })).pipe(Effect.provide(layer)))
 * ```
 *
 * @since 0.2.0
 */
import { Effect, Exit, Layer, Scope, type Stream } from "effect"
import type { RunNotFoundError, RunStoreError, WorkflowChangedError } from "./DurableError.ts"
import type { AnyEvent } from "./Event.ts"
import * as Definition_ from "./internal/durable/definition.ts"
import type * as Entries_ from "./internal/durable/entries.ts"
import { readEntry as readEntry_ } from "./internal/durable/entries.ts"
import * as Execute_ from "./internal/durable/execute.ts"
import * as Handle_ from "./internal/durable/handle.ts"
import * as Outside_ from "./internal/durable/outside.ts"
import { causeToError, startPromiseHandle } from "./internal/promiseHandle.ts"
import { type RunInfo, type RunStatus, RunStore } from "./RunStore.ts"
import type { Any, PromiseHandle, ProvidedBy, ProvidesServices, WatchOptions, Workflow } from "./Workflow.ts"
import type {
  UnhandledEventError,
  WorkflowError,
  WorkflowInputError,
  WorkflowValidationError
} from "./WorkflowError.ts"

/**
 * The errors of a durable run's store: `RunStoreError | RunNotFoundError | WorkflowChangedError | RunBusyError`.
 *
 * @since 0.2.0
 * @category models
 */
export type DurableError = import("./DurableError.ts").DurableError

/**
 * A stored run, as `Durable.status` and `Durable.list` report it. `result` and `error` are as stored
 * (encoded JSON).
 *
 * @since 0.2.0
 * @category models
 */
export interface Status {
  readonly runId: string
  readonly workflow: string
  readonly status: RunStatus
  readonly createdAt: number
  readonly updatedAt: number
  readonly result?: string | undefined
  readonly error?: string | undefined
}

/**
 * Options of {@link run}: the `runId` (a fresh one when absent).
 *
 * @since 0.2.0
 * @category models
 */
export interface RunOptions {
  readonly runId?: string | undefined
}

/**
 * Run a workflow with a journal. A `runId` that finished returns its stored outcome without running a
 * handler; one that is unfinished is resumed from its journal (a different input or definition:
 * `WorkflowChangedError` naming what changed). Fails with the handler's error, a `WorkflowError`, or a
 * `DurableError`.
 *
 * @example
 * ```ts
 * const result = yield* Durable.run(wf, { items: ["a", "b"] }, { runId: "order-42" })
 * // provide a store: Effect.provide(RunStore.layerMemory), or SqliteRunStore.layer({ filename }) from @effect-flow/sql
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const run = <W extends Any>(
  self: W,
  input: Workflow.InputEncoded<W>,
  options?: RunOptions
): Effect.Effect<
  Workflow.Output<W>,
  Workflow.Error<W> | WorkflowError | DurableError,
  Workflow.Services<W> | RunStore
> => Effect.flatMap(Execute_.create(self, input, options?.runId), (info) => Execute_.execute(self, info)) as any

/**
 * Continue a stored run from its journal, with the workflow it started with. On a finished run, its stored
 * outcome, decoded, without running a handler. `RunNotFoundError` for an unknown `runId`.
 *
 * @example
 * ```ts
 * const result = yield* Durable.resume(wf, "order-42")
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const resume = <W extends Any>(
  self: W,
  runId: string
): Effect.Effect<
  Workflow.Output<W>,
  Workflow.Error<W> | WorkflowError | DurableError,
  Workflow.Services<W> | RunStore
> => Execute_.resume(self, runId) as any

/**
 * A finished run's failure, read back from the store: the original error's `_tag`, `message` and JSON fields.
 *
 * @since 0.2.0
 * @category errors
 */
export { StoredFailure } from "./internal/durable/execute.ts"

const toStatus = (info: RunInfo): Status => ({
  runId: info.runId,
  workflow: info.workflow,
  status: info.status,
  createdAt: info.createdAt,
  updatedAt: info.updatedAt,
  ...(info.result === undefined ? {} : { result: info.result }),
  ...(info.error === undefined ? {} : { error: info.error })
})

/**
 * The stored status of a run. `"waiting"` means only outside input can move it.
 *
 * @example
 * ```ts
 * const { status, result } = yield* Durable.status("order-42")
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const status = (runId: string): Effect.Effect<Status, RunNotFoundError | RunStoreError, RunStore> =>
  Effect.flatMap(RunStore, (store) => Effect.map(store.get(runId), toStatus))

/**
 * The stored runs' statuses, newest created first.
 *
 * @example
 * ```ts
 * const failed = yield* Durable.list({ workflow: "orders", status: "failed" })
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const list = (options?: {
  readonly workflow?: string | undefined
  readonly status?: RunStatus | undefined
}): Effect.Effect<ReadonlyArray<Status>, RunStoreError, RunStore> =>
  Effect.flatMap(RunStore, (store) => Effect.map(store.list(options), (runs) => runs.map(toStatus)))

/**
 * What {@link send} fails with: the event cannot go to this run (it has ended, or the workflow does not declare
 * the event's class), it cannot be journaled (`WorkflowValidationError`, check `"journal"`), or the store failed.
 *
 * @example
 * ```ts
 * Durable.send(wf, "order-42", answer).pipe(Effect.catchTag("UnhandledEventError", (e) => Effect.logWarning(e.message)))
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export type SendError = UnhandledEventError | WorkflowValidationError | DurableError

/**
 * Give outside input to a stored run: a `HumanResponseEvent`, the answer to a `ctx.waitFor`, or any event a
 * step accepts. A run live in this process gets it at once when something takes it now (an open wait it
 * matches, a step that accepts it); otherwise it is stored in the run's inbox, which a live owner in another
 * process reads within a second and a resume reads first. An event that nothing takes yet stays in the inbox
 * until a wait it matches opens. When `send` returns, the event is committed (journaled or in the inbox).
 *
 * The event's class must be one the workflow declares (a step's `accepts`, `emits` or `writes`, or
 * `defineWorkflow({ outsideInput })`), so that a resume in another process can decode it.
 *
 * @example
 * ```ts
 * yield* Durable.send(approval, "order-42", new HumanResponseEvent({ response: "yes" }))
 * const result = yield* Durable.resume(approval, "order-42")
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const send = <W extends Any>(
  self: W,
  runId: string,
  event: AnyEvent
): Effect.Effect<void, SendError, RunStore> => Outside_.send(self, runId, event)

/**
 * A durable run started with {@link start}: `runId`, the run's `events` (from this process's part of the run:
 * a resumed run shows what happens from the resume on, and input requests still open again), `send` (as
 * {@link send}), `result`, and `cancel`, which ends the run as `"cancelled"` (`result` then fails with
 * `WorkflowCancelledError`). The events end as `Workflow.start`'s do: quietly after the `StopEvent`, failing with
 * the run's error (or with the interruption of a handler that interrupted itself), quietly after a `cancel`.
 *
 * @example
 * ```ts
 * const handle: Durable.Handle<boolean, WorkflowError, AskApproval | StopEvent<boolean>> = yield* Durable.start(approval, input)
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface Handle<Output, E, Events extends AnyEvent = AnyEvent> {
  readonly runId: string
  readonly events: Stream.Stream<Events, E>
  send(event: AnyEvent): Effect.Effect<void, SendError>
  readonly result: Effect.Effect<Output, E>
  readonly cancel: Effect.Effect<void>
}

/**
 * Options of {@link start}: the `runId` (a fresh one when absent) and what to watch (`lifecycle`).
 *
 * @example
 * ```ts
 * yield* Durable.start(wf, input, { runId: "order-42", lifecycle: true })
 * ```
 *
 * @since 0.2.0
 * @category models
 */
export interface StartOptions extends RunOptions, WatchOptions {}

/**
 * `W` when `L` provides the `RunStore` and every service the workflow's steps need; otherwise an object type whose
 * one key says what is missing, so the compiler names it at the call site (as `Workflow.ProvidesServices`).
 *
 * @example
 * ```ts
 * type Ok = Durable.ProvidesStore<typeof wf, Layer.Layer<RunStore.RunStore>> // typeof wf, when its steps need no service
 * ```
 *
 * @since 0.2.0
 * @category type-level
 */
export type ProvidesStore<W, L> = [RunStore] extends [ProvidedBy<L>]
  ? ProvidesServices<W, L>
  : {
      readonly "missing RunStore: pass { layer } with a store, e.g. RunStore.layerMemory or SqliteRunStore.layer": RunStore
    }

type LifecycleOf<O> = "lifecycle" extends keyof O ? (true extends O[keyof O & "lifecycle"] ? true : false) : false

/**
 * {@link run} as a handle, like `Workflow.start`. The run lives in the caller's scope: closing the scope stops
 * the run in this process as a crash or a deploy would (its lease is released, it stays resumable, its status
 * stays `"running"` or `"waiting"`; a run that had already reached its end gets that end stored); `cancel` ends
 * it as `"cancelled"`. Fails to start with `RunBusyError`
 * when another live process owns the run (and with `WorkflowChangedError`, a bad input or a store failure).
 * A finished `runId` (completed, failed or cancelled) runs nothing and still gives a handle, as
 * `Workflow.start` does for a run that fails: `result` is its stored outcome, as {@link run} answers it (a
 * stored error as a {@link StoredFailure}), and `events` end at once with no event, as the run ended: quietly
 * when it completed or was cancelled, otherwise failing with `result`'s error.
 *
 * @example
 * ```ts
 * const handle = yield* Durable.start(approval, { amount: 100 }, { runId: "order-42" })
 * yield* handle.send(new HumanResponseEvent({ response: "yes" }))
 * const result = yield* handle.result
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const start = <W extends Any, const O extends StartOptions = {}>(
  self: W,
  input: Workflow.InputEncoded<W>,
  options?: O
): Effect.Effect<
  Handle<Workflow.Output<W>, Workflow.Error<W> | WorkflowError | DurableError, Workflow.Events<W, LifecycleOf<O>>>,
  WorkflowValidationError | WorkflowInputError | DurableError,
  Workflow.Services<W> | RunStore | Scope.Scope
> => Handle_.start(self, input, options?.runId, options?.lifecycle) as any

/**
 * {@link start} from Promise code, with the store (and the steps' services) in `layer`, built for the run
 * and released when it ends. The handle is `Workflow.PromiseHandle`; `result` rejects with the original error
 * instance. A finished `runId` resolves with a handle too: its `result` settles as {@link runPromise} does, its
 * `events` end at once.
 *
 * @example
 * ```ts
 * const handle = await Durable.startPromise(approval, { amount: 100 }, { runId: "order-42", layer: SqliteRunStore.layer({ filename: "runs.db" }) })
 * await handle.send(new HumanResponseEvent({ response: "yes" }))
 * console.log(await handle.result)
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const startPromise = async <
  W extends Any,
  L extends Layer.Layer<any, any, never>,
  const O extends StartOptions = {}
>(
  self: ProvidesStore<W, L>,
  input: Workflow.InputEncoded<W>,
  options: O & { readonly layer: L }
): Promise<PromiseHandle<Workflow.Output<W>, Workflow.Events<W, LifecycleOf<O>>>> => {
  const wf = self as W
  const scope = Scope.makeUnsafe()
  const started = Scope.provide(
    Effect.flatMap(Layer.build(options.layer as Layer.Layer<any, unknown>), (context) =>
      Effect.provideContext(start(wf, input, options), context)
    ),
    scope
  ) as Effect.Effect<Handle<unknown, unknown, any>, unknown>
  return startPromiseHandle(started, scope, (effect) =>
    Effect.runPromiseExit(effect as Effect.Effect<any, unknown>)
  ) as Promise<PromiseHandle<Workflow.Output<W>, Workflow.Events<W, LifecycleOf<O>>>>
}

/**
 * {@link run} from Promise code, with the store (and the steps' services) in `layer`. Rejects with the
 * original error instance.
 *
 * @example
 * ```ts
 * const result = await Durable.runPromise(wf, input, { runId: "order-42", layer: SqliteRunStore.layer({ filename: "runs.db" }) })
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const runPromise = <W extends Any, L extends Layer.Layer<any, any, never>>(
  self: ProvidesStore<W, L>,
  input: Workflow.InputEncoded<W>,
  options: RunOptions & { readonly layer: L }
): Promise<Workflow.Output<W>> =>
  Effect.runPromiseExit(
    Effect.provide(run(self as W, input, options), options.layer) as Effect.Effect<any, unknown>
  ).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw causeToError(exit.cause)
  })

/**
 * Check a workflow against the live runs the store holds under its name: fails with `WorkflowChangedError`
 * when a `"running"` or `"waiting"` run of that name started with a different definition (steps, what they
 * accept, emit and write, the schemas), naming the run and what changed. A runner calls it before taking
 * runs (`Distributed.layer` does), so a deploy with a changed definition is refused while old runs are live:
 * drain them first, or deploy the change under a new name.
 *
 * @example
 * ```ts
 * yield* Durable.checkDefinition(wf) // before serving runs of wf from this process
 * ```
 *
 * @since 0.2.0
 * @category running
 */
export const checkDefinition = (
  self: Any
): Effect.Effect<void, WorkflowChangedError | RunStoreError | RunNotFoundError, RunStore> =>
  Definition_.checkDefinition(self)

/**
 * An event of this workflow as JSON text, encoded with its class's schema as the journal holds it: for
 * transports that carry a durable run's events or outside input to another process (the cluster does). The
 * event's class must be one the workflow declares (a step's `accepts`, `emits` or `writes`, `outsideInput`, or
 * a built-in event).
 *
 * @example
 * ```ts
 * const text = yield* Durable.encodeEvent(approval, new HumanResponseEvent({ response: "yes" }))
 * const event = yield* Durable.decodeEvent(approval, text)
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const encodeEvent = (
  self: Any,
  event: AnyEvent
): Effect.Effect<string, UnhandledEventError | WorkflowValidationError> => Outside_.encodeOutside(self, event)

/**
 * The event that {@link encodeEvent} encoded, decoded with the workflow's classes. Text that is not such an
 * event fails with `WorkflowValidationError` (check `"journal"`) saying why.
 *
 * @example
 * ```ts
 * const event = yield* Durable.decodeEvent(approval, '{"_tag":"HumanResponseEvent","response":"yes"}')
 * ```
 *
 * @since 0.2.0
 * @category encoding
 */
export const decodeEvent = (self: Any, text: string): Effect.Effect<AnyEvent, WorkflowValidationError> =>
  Outside_.decodeOutside(self, text)

/**
 * One entry of a durable run's journal, read with {@link readEntry}: what the run did, in one shape whatever
 * version of effect-flow wrote it. `t` says what it is: `"def"` the workflow's definition (`def`, the first
 * entry); `"r"` an event (`ev`, encoded) routed to step `to` as invocation `i`; `"s"` attempt `a` of `i`
 * started; `"o"` its step-context operation number `q` (`op`: `"send"`, `"get"`, `"set"`, `"update"`, `"edit"`
 * with the state after it in `st`, `"collect"` with `ev`, `need` and the round it completed in `tk`, `"write"`
 * with `ev`, `"waitFor"` with its request `rq` and deadline `dl`); `"w"` the answer `ev` of its `waitFor` `q`;
 * `"e"` `i` ended (`k`: `"R"` returned, `"F"` failed, `"B"` failed and backs off); `"b"` / `"d"` a retry
 * scheduled / due as attempt `a`; `"q"` an `InputRequiredEvent` (`ev`) went to the caller; `"x"` outside input
 * answered one (an open `waitFor`'s answer is its `"w"`); `"end"` the run ended (`ok`). `i` is the invocation's
 * `ctx.invocationId`.
 *
 * @since 0.2.0
 * @category reading
 */
export type Entry = Entries_.Entry

/**
 * Read one entry of run `runId`'s journal (the `data` of what `RunStore.readJournal` returns) as an
 * {@link Entry}. The journal keeps entries compact (no keys, invocation ids without the run's id), and journals
 * written by earlier versions hold objects: read entries through this, not with `JSON.parse`. Throws on text
 * that is not JSON.
 *
 * @example
 * ```ts
 * const store = yield* RunStore.RunStore
 * const entries = (yield* store.readJournal("order-42")).map((e) => Durable.readEntry("order-42", e.data))
 * const ended = entries.filter((e) => e.t === "e" && e.k !== "B").map((e) => e.i)
 * ```
 *
 * @since 0.2.0
 * @category reading
 */
export const readEntry: (runId: string, data: string) => Entry = readEntry_
