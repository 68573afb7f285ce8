/**
 * A durable run's published events, read back from its journal: what a step wrote (`ctx.write`), a
 * `waitFor`'s request, an `InputRequiredEvent` that went to the caller, the lifecycle events an invocation's
 * start, end and backoff stand for, and the run's end. Each comes with the sequence number of its journal
 * entry, which is the SSE `id:`; the ids survive a server restart, so `Last-Event-ID` does too.
 *
 * The journal's format is `@effect-flow/core`'s, read with `Durable.readEntry`; entries this reader does not
 * know publish nothing. Events are already encoded with their schemas there, so they pass through as JSON.
 * What the journal does not hold is not invented: `EventQueued` (no mailbox lengths are journaled) and the
 * worker slot of a lifecycle event. An invocation that starts again without having ended (its server stopped
 * under it; a resume runs it again) has `resumed: true` on its second `StepStarted`, so a reader counting
 * running invocations counts it once.
 *
 * @internal
 */

import { Durable } from "@effect-flow/core"

/** What one journal entry publishes: an event (JSON text), the run's end, or nothing. */
export type Published =
  | { readonly _tag: "Event"; readonly lifecycle: boolean; readonly data: string }
  | { readonly _tag: "End"; readonly ok: boolean }
  | undefined

/** Reads one run's journal in order; it remembers what later entries refer to (an invocation's event). */
export class JournalReader {
  private readonly invocations = new Map<string, { event: string; attempt: number; running: boolean }>()
  private readonly prefix: string
  private readonly runId: string

  constructor(runId: string) {
    this.runId = runId
    this.prefix = `${runId}/`
  }

  /** The step of invocation `i` (`<runId>/<step>/<n>`). */
  private stepOf(i: string): string {
    const from = i.startsWith(this.prefix) ? this.prefix.length : i.indexOf("/") + 1
    return i.slice(from, i.lastIndexOf("/"))
  }

  private lifecycle(tag: string, i: string, fields: Record<string, unknown>): Published {
    const invocation = this.invocations.get(i)
    return {
      _tag: "Event",
      lifecycle: true,
      data: JSON.stringify({
        _tag: tag,
        step: this.stepOf(i),
        event: invocation?.event ?? "?",
        attempt: invocation?.attempt ?? 1,
        ...fields
      })
    }
  }

  read(data: string): Published {
    let e: any
    try {
      e = Durable.readEntry(this.runId, data)
    } catch {
      return undefined
    }
    if (e === null || typeof e !== "object") return undefined
    switch (e.t) {
      case "r":
        this.invocations.set(e.i, {
          event: typeof e.ev?._tag === "string" ? e.ev._tag : "?",
          attempt: 1,
          running: false
        })
        return undefined
      case "s": {
        // Started again without having ended: its process stopped under it, and a resume runs it again.
        const invocation = this.invocations.get(e.i)
        const resumed = invocation?.running === true
        if (invocation !== undefined) {
          invocation.attempt = e.a
          invocation.running = true
        }
        return this.lifecycle("StepStarted", e.i, resumed ? { resumed: true } : {})
      }
      case "o":
        if (e.op === "write" && e.ev !== undefined) return event(e.ev)
        if (e.op === "waitFor" && e.rq !== undefined) return event(e.rq)
        return undefined
      case "q":
        return e.ev === undefined ? undefined : event(e.ev)
      case "e": {
        const invocation = this.invocations.get(e.i)
        if (invocation !== undefined) invocation.running = false
        return e.k === "R"
          ? this.lifecycle("StepCompleted", e.i, {})
          : this.lifecycle("StepFailed", e.i, { willRetry: e.k === "B" })
      }
      case "b": {
        const published = this.lifecycle("StepRetrying", e.i, { attempt: e.a })
        const invocation = this.invocations.get(e.i)
        if (invocation !== undefined) invocation.attempt = e.a
        return published
      }
      case "end":
        return { _tag: "End", ok: e.ok === true }
      default:
        return undefined
    }
  }
}

const event = (encoded: unknown): Published =>
  encoded !== null && typeof encoded === "object" && typeof (encoded as { _tag?: unknown })._tag === "string"
    ? { _tag: "Event", lifecycle: false, data: JSON.stringify(encoded) }
    : undefined
