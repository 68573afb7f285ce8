/**
 * The room that writes a durable run's journal. `RunJournal.record` is the run's record listener: it turns each
 * transition into an entry (`entries.ts`) and queues it on the run's `JournalWriter` (group commit). Outside
 * input is journaled in one batch with its inbox message marked consumed (`deliver`), and everything from the
 * StopEvent on is held and written in one batch with the run's end (`end`).
 */
import { Cause, Context, type Duration, Effect, type Latch } from "effect"
import type { AnyEvent } from "../../Event.ts"
import type * as JournalWriter from "../../JournalWriter.ts"
import type { StatusUpdate } from "../../RunStore.ts"
import type { UnhandledEventError } from "../../WorkflowError.ts"
import { failCause } from "../lifecycle.ts"
import type { Transition } from "../record.ts"
import { isWaiting, type Run, sendFromOutside } from "../runtime.ts"
import { type Codecs, NotJournalable } from "./codecs.ts"
import { DEFINITION, validation } from "./definition.ts"
import { entryOf } from "./entries.ts"

/**
 * How long a durable run's journal writer lets entries wait before writing their batch (`JournalWriter`'s
 * `maxDelay`). Tests set 0 to have every entry committed as soon as it is appended, so each point where the run
 * yields is a point a crash can cut the journal at. @internal
 */
export const JournalDelay = Context.Reference<Duration.Input>("@effect-flow/core/internal/JournalDelay", {
  defaultValue: () => "10 millis"
})

/** A durable run's journal, written as the run goes. @internal */
export class RunJournal {
  /** The run, once it is live: a transition that cannot be journaled fails it. */
  run: Run | undefined = undefined
  readonly writer: JournalWriter.JournalWriter
  private readonly workflow: string
  private readonly codecs: Codecs
  /** Opened when the inbox or the stored status may need a look: a wait opened, the run started or stopped waiting. */
  private readonly wake: Latch.Latch
  /** The length of `<runId>/`, which the journal's entries leave out of invocation ids. */
  private readonly prefix: number
  /** What could not be journaled: the run fails with it, and nothing more is journaled. */
  private problem: string | undefined = undefined
  private waiting = false
  /**
   * While outside input is routed, the entries it makes are held here, then queued in one piece with the inbox
   * message marked consumed: one batch, so a crash cannot keep one without the other. (Routing may resume the
   * answered invocation at once, whose entries follow in order.)
   */
  private buffer: Array<string> | undefined = undefined
  /**
   * From the StopEvent on (returned, sent, or given from outside), the entries are held here and written in one
   * batch with the run's end: committed before it, the StopEvent's invocation would count as done while the run
   * is not, and a resume after a crash in between would find nothing left to run and stall.
   */
  private final: Array<string> | undefined = undefined
  private readonly finalConsumed: Array<number> = []

  constructor(workflow: string, runId: string, codecs: Codecs, writer: JournalWriter.JournalWriter, wake: Latch.Latch) {
    this.workflow = workflow
    this.codecs = codecs
    this.writer = writer
    this.wake = wake
    this.prefix = runId.length + 1
  }

  /** The journal's first entry: the workflow's definition, to say what changed on a resume. */
  begin(def: Record<string, string>): Effect.Effect<number, JournalWriter.WriteError> {
    return this.writer.append(JSON.stringify({ t: DEFINITION, def }))
  }

  /** The run's record listener: the entry of `t`, queued (or held, see `buffer` and `final`). */
  readonly record = (t: Transition): void => {
    if (this.problem !== undefined) return
    let entry: string | undefined
    try {
      entry = entryOf(this.codecs, t, this.prefix)
    } catch (error) {
      const message = error instanceof Error ? error.message : String(error)
      this.problem =
        error instanceof NotJournalable || t._tag !== "Operation"
          ? message
          : `the state after ctx.store.${t.operation.op} in step "${t.step}" (invocation ${t.invocationId}) cannot be journaled with the state schema: ${message}`
      if (this.run !== undefined) failCause(this.run, Cause.fail(validation(this.workflow, this.problem)))
      return
    }
    if (entry !== undefined) {
      if (this.final === undefined && stops(t)) this.final = []
      if (this.buffer !== undefined) this.buffer.push(entry)
      else if (this.final !== undefined) this.final.push(entry)
      else this.writer.appendUnsafe(entry)
    }
    const live = this.run
    if (live !== undefined) {
      const now = isWaiting(live)
      if (now !== this.waiting) {
        this.waiting = now
        this.wake.openUnsafe()
      } else if (t._tag === "Operation" && t.operation.op === "waitFor") this.wake.openUnsafe()
    }
  }

  /**
   * Give outside input to the run, its routing journaled in one batch with inbox message `consumed` marked
   * consumed. Uninterruptible: routing may end the run at once, and the run's end stops the fiber that delivers.
   */
  deliver(run: Run, event: AnyEvent, consumed: number | undefined): Effect.Effect<void, UnhandledEventError> {
    return Effect.uninterruptible(
      Effect.suspend(() => {
        const entries: Array<string> = []
        this.buffer = entries
        let routing: Effect.Effect<void, UnhandledEventError>
        try {
          routing = sendFromOutside(run, event)
        } finally {
          this.buffer = undefined
        }
        if (this.final !== undefined) {
          this.final.push(...entries)
          if (consumed !== undefined) this.finalConsumed.push(consumed)
          return routing
        }
        // A failed write fails the run through the writer; routing goes on regardless.
        const queued = Effect.ignore(
          this.writer.appendAll(entries, consumed === undefined ? undefined : { consumed: [consumed] })
        )
        return Effect.andThen(queued, routing)
      })
    )
  }

  /** The run's end: the held entries from the StopEvent on, the end entry and the status, in one batch. */
  end(ok: boolean, status: StatusUpdate): Effect.Effect<void, JournalWriter.WriteError> {
    return Effect.andThen(
      this.writer.appendAll([...(this.final ?? []), JSON.stringify({ t: "end", ok })], {
        status,
        consumed: this.finalConsumed
      }),
      this.writer.flush
    )
  }
}

/** Whether transition `t` routes a StopEvent: the run ends with it. */
const stops = (t: Transition): boolean =>
  (t._tag === "InvocationEnded" &&
    t.outcome._tag === "Returned" &&
    (t.outcome.event as { _tag?: unknown } | undefined)?._tag === "StopEvent") ||
  (t._tag === "Operation" &&
    t.operation.op === "send" &&
    t.operation.target === undefined &&
    t.operation.event._tag === "StopEvent") ||
  (t._tag === "OutsideInput" && t.event._tag === "StopEvent")
