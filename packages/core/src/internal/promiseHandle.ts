/**
 * Promise code's side of a run's handle (`Workflow.startPromise`, `Durable.startPromise`): a started handle
 * whose effects run as promises, its scope closed when the run ends, errors thrown as their original instances.
 */
import { Cause, Effect, Exit, Scope, Stream } from "effect"
import type { AnyEvent } from "../Event.ts"
import type { PromiseHandle } from "../Workflow.ts"

/** The error a rejected promise carries: the failure's own instance, or the defect. @internal */
export const causeToError = (cause: Cause.Cause<unknown>): unknown => {
  const found = Cause.findError(cause)
  if (found._tag === "Success") return found.success
  return Cause.squash(cause)
}

/** What `startPromise` needs of an Effect handle. @internal */
export interface EffectHandle<Output, Events> {
  readonly runId: string
  readonly events: Stream.Stream<Events, unknown>
  send(event: AnyEvent): Effect.Effect<void, unknown>
  readonly result: Effect.Effect<Output, unknown>
  readonly cancel: Effect.Effect<void, unknown>
}

/**
 * Start a handle (`started`, which lives in `scope`) from Promise code: `runExit` runs an effect (on a
 * ManagedRuntime, or plainly). `scope` is closed when the run has ended, or at once when it did not start.
 * `result` rejects as `runPromise` does for the same run: a `cancel()` is already a `WorkflowCancelledError`
 * failure of the handle's `result`, so an interruption left is the run's own (a handler's `Effect.interrupt`).
 * @internal
 */
export const startPromiseHandle = async <Output, Events>(
  started: Effect.Effect<EffectHandle<Output, Events>, unknown, any>,
  scope: Scope.Closeable,
  runExit: <A>(effect: Effect.Effect<A, unknown, any>) => Promise<Exit.Exit<A, unknown>>
): Promise<PromiseHandle<Output, Events & AnyEvent>> => {
  const exit = await runExit(started)
  if (Exit.isFailure(exit)) {
    await Effect.runPromise(Scope.close(scope, exit))
    throw causeToError(exit.cause)
  }
  const handle = exit.value
  const result = runExit(handle.result).then(async (exit) => {
    await Effect.runPromise(Scope.close(scope, Exit.void))
    if (Exit.isSuccess(exit)) return exit.value
    throw causeToError(exit.cause)
  })
  // A rejection nobody awaited yet must not crash the process.
  result.catch(() => {})
  return {
    runId: handle.runId,
    events: Stream.toAsyncIterable(Stream.catchCause(handle.events, () => Stream.empty)) as AsyncIterable<
      Events & AnyEvent
    >,
    send: (event) =>
      Effect.runPromiseExit(handle.send(event)).then((exit) => {
        if (Exit.isFailure(exit)) throw causeToError(exit.cause)
      }),
    result,
    cancel: () => Effect.runPromise(handle.cancel as Effect.Effect<void>)
  }
}
