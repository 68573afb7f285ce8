/**
 * A handle's side of a run (`Workflow.start`): the run launched with no fiber of its own (`launch` in
 * `launch.ts`), its published events held until someone reads them (`EventFeed`), and the handle's
 * effects, built when asked for. A server may hold thousands of handles whose runs wait for a person:
 * each costs the run and a few small objects, with no fiber, queue or effect built ahead of use.
 */
import { Cause, Deferred, Effect, Exit, Stream } from "effect"
import type { AnyEvent } from "../Event.ts"
import { type UnhandledEventError, WorkflowCancelledError } from "../WorkflowError.ts"
import type { Launched } from "./launch.ts"
import { isWaiting } from "./lifecycle.ts"
import { sendFromOutside } from "./waits.ts"

type Take = Effect.Effect<ReadonlyArray<AnyEvent> & readonly [AnyEvent, ...Array<AnyEvent>], unknown>

/**
 * A run's published events, for one reader (the handle of `Workflow.start` or `Durable.start`): held from the
 * start, so none is missed by reading late, and taken in batches as the reader pulls. When the run ends the stream
 * ends (success, or an interruption from outside the run) or fails with the run's cause, once the events before it
 * have been read (as an ended `Queue` would). @internal
 */
export class EventFeed {
  private items: Array<AnyEvent> | undefined = undefined
  /** What a pull gets once the held events are read: the stream's end. */
  private end: Take | undefined = undefined
  /** Readers waiting for an event (usually none, or one). */
  private takers: Array<(take: Take) => void> | undefined = undefined

  publish(event: AnyEvent): void {
    if (this.end !== undefined) return
    if (this.items === undefined) this.items = [event]
    else this.items.push(event)
    this.wake()
  }

  /**
   * `publish` as a function, for the run's hooks: made here, so that it keeps the feed alone (one made where
   * the run is started would keep what that function's scope holds, such as the input, while the run waits).
   */
  publisher(): (event: AnyEvent) => void {
    return (event) => this.publish(event)
  }

  /**
   * The run ended with `exit`. An interruption from outside (a cancel, the handle's scope closing) ends the
   * stream quietly; one the run ended itself with (`endedItself`: a handler's `Effect.interrupt`) fails it, as
   * the run's other failures do and as `result` does.
   */
  close(exit: Exit.Exit<unknown, unknown>, endedItself = false): void {
    if (this.end !== undefined) return
    this.end =
      Exit.isSuccess(exit) || (!endedItself && Cause.hasInterruptsOnly(exit.cause))
        ? Cause.done()
        : Effect.failCause(exit.cause)
    this.wake()
  }

  /** What a pull gets now: the events held, the end, or `undefined` when it must wait. */
  private take(): Take | undefined {
    const items = this.items
    if (items !== undefined) {
      this.items = undefined
      return Effect.succeed(items as never)
    }
    return this.end
  }

  private wake(): void {
    const takers = this.takers
    if (takers === undefined) return
    while (takers.length > 0) {
      const take = this.take()
      if (take === undefined) return
      takers.shift()!(take)
    }
    this.takers = undefined
  }

  /** The events held, or the end, or a wait for either. */
  private pull(): Take {
    return (
      this.take() ??
      Effect.callback<ReadonlyArray<AnyEvent> & readonly [AnyEvent, ...Array<AnyEvent>], unknown>((resume) => {
        ;(this.takers ??= []).push(resume)
        return Effect.sync(() => {
          const i = this.takers?.indexOf(resume) ?? -1
          if (i !== -1) this.takers!.splice(i, 1)
        })
      })
    )
  }

  get stream(): Stream.Stream<AnyEvent, unknown> {
    return Stream.fromPull(Effect.sync(() => Effect.suspend(() => this.pull())))
  }
}

/** The handle `Workflow.start` returns: its effects are built when read. @internal */
export class RunHandle {
  private cancelled = false
  readonly workflow: string
  readonly launched: Launched
  readonly feed: EventFeed
  constructor(workflow: string, launched: Launched, feed: EventFeed) {
    this.workflow = workflow
    this.launched = launched
    this.feed = feed
  }
  get runId(): string {
    return this.launched.run.id
  }
  get events(): Stream.Stream<AnyEvent, unknown> {
    return this.feed.stream
  }
  /** A getter, so that `const { send } = handle` works, and no handle keeps a function for it. */
  get send(): (event: AnyEvent) => Effect.Effect<void, UnhandledEventError> {
    const run = this.launched.run
    return (event) => Effect.suspend(() => sendFromOutside(run, event))
  }
  /** A run ended by `cancel` fails with WorkflowCancelledError rather than reporting an interruption. */
  get result(): Effect.Effect<unknown, unknown> {
    return Effect.catchCause(Deferred.await(this.launched.closed), (cause) =>
      this.cancelled && Cause.hasInterruptsOnly(cause)
        ? Effect.fail(new WorkflowCancelledError({ workflow: this.workflow, runId: this.runId, by: "cancel()" }))
        : Effect.failCause(cause)
    )
  }
  get cancel(): Effect.Effect<void> {
    return Effect.withFiber((fiber) => {
      this.cancelled = true
      return this.launched.interrupt(fiber.id)
    })
  }
  get waiting(): Effect.Effect<boolean> {
    return Effect.sync(() => isWaiting(this.launched.run))
  }
}
