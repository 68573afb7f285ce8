/**
 * `Durable.start`'s handle: a durable run (`execute.ts`) forked into the caller's scope, its events held for the
 * reader until read, `send` as `Durable.send`, `cancel` ending it as `"cancelled"`.
 */
import { Deferred, Effect, Exit, Fiber, type Scope } from "effect"
import type { Handle } from "../../Durable.ts"
import type { AnyEvent } from "../../Event.ts"
import { RunStore } from "../../RunStore.ts"
import type { Any } from "../../Workflow.ts"
import { EventFeed } from "../handle.ts"
import { create, execute } from "./execute.ts"
import type { Live } from "./live.ts"
import { send } from "./outside.ts"

/** `Durable.start`. @internal */
export const start = (
  self: Any,
  input: unknown,
  runId: string | undefined,
  lifecycle: boolean | undefined
): Effect.Effect<Handle<unknown, unknown, AnyEvent>, unknown, RunStore | Scope.Scope> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const info = yield* create(self, input, runId)
    // Held until read, and ended with the run (as `Workflow.start`'s events are).
    const feed = new EventFeed()
    // The run live here, or `undefined` for a finished run: a handle whose `result` is its stored outcome (a
    // stored failure or cancel too, as `Workflow.start` gives a handle and its `result` fails) and whose events
    // end at once as that outcome does. A failure before either (the lease held elsewhere, a store error) fails
    // `start` itself.
    const ready = Deferred.makeUnsafe<Live | undefined, unknown>()
    // The run ended itself with an interruption (a handler's `Effect.interrupt`, live or as stored): the events
    // fail with it, as `Workflow.start`'s do; an interruption from outside (the scope closing) ends them quietly.
    let endedItself = false
    // The run ended by `cancel` (this handle's, live, or as stored): the events end quietly, as `Workflow.start`'s
    // do after its `cancel`, while `result` fails with WorkflowCancelledError.
    let cancelled = false
    const fiber = yield* Effect.forkScoped(
      Effect.onExit(
        execute(self, info, {
          publish: (ev) => {
            feed.publish(ev)
          },
          lifecycle,
          onLive: (live) => Deferred.doneUnsafe(ready, Exit.succeed(live)),
          onStored: () => Deferred.doneUnsafe(ready, Exit.succeed(undefined)),
          endedItself: () => {
            endedItself = true
          },
          cancelled: () => {
            cancelled = true
          }
        }),
        (exit) =>
          Effect.sync(() => {
            Deferred.doneUnsafe(ready, Exit.isSuccess(exit) ? Exit.succeed(undefined) : Exit.failCause(exit.cause))
            feed.close(cancelled ? Exit.void : exit, endedItself)
          })
      ),
      { startImmediately: true }
    )
    const live = yield* Deferred.await(ready)
    return {
      runId: info.runId,
      events: feed.stream,
      send: (event: AnyEvent) => Effect.provideService(send(self, info.runId, event), RunStore, store),
      result: Fiber.join(fiber),
      cancel: Effect.suspend(() => {
        live?.cancel()
        return Effect.asVoid(Fiber.await(fiber))
      })
    }
  })
