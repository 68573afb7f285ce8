/**
 * The record of a run: one typed transition for each thing the run does, in the order it does them. It is
 * made only when someone listens (`Hooks.record`, the lifecycle events, the testing kit's traces): every
 * place that would make one first checks `run.record !== undefined`, so a run nobody watches pays nothing.
 *
 * Each transition is emitted just after the run's state changed, so the record up to any transition
 * replays (`replay`, a pure function) to what `Run.snapshot()` says at that moment.
 *
 * Identities: an invocation is one step handling one routed event; its `invocationId` is
 * `<runId>/<step>/<n>`, `n` counting the events routed to that step from 1, and stays the same across
 * retries. A step-context operation is keyed by `invocationId`, the attempt, and `seq`, its position among
 * the operations of that attempt (from 1). That is the granularity a durable journal needs: an invocation
 * re-run after a crash gets the recorded outcome of each operation it repeats, by `seq`.
 */
import type { AnyEvent } from "../Event.ts"
import { CollectBuffer, type Need } from "./collectBuffer.ts"
import type { Snapshot } from "./run.ts"

/** What a step-context operation did, with what a replay needs to return it again without acting. @internal */
export type Operation =
  /**
   * `ctx.send`, and each event of `ctx.sendAll` (one operation per event, in order, as each is routed): its
   * routing follows as `Routed`, `Answered` or `InputRequired` transitions (none: a StopEvent).
   */
  | { readonly op: "send"; readonly event: AnyEvent; readonly target: string | undefined }
  /** `ctx.store.getAll` (`key` undefined) and `ctx.store.get`: the value read. */
  | { readonly op: "get"; readonly key: string | undefined; readonly value: unknown }
  /** `ctx.store.set`, `update` and `edit`: the whole state after the write. */
  | { readonly op: "set" | "update" | "edit"; readonly key: string | undefined; readonly state: unknown }
  /** `ctx.collect`: the event offered, the need, and the round it completed (`undefined`: not yet). */
  | {
      readonly op: "collect"
      readonly event: AnyEvent
      readonly need: Need
      readonly taken: ReadonlyArray<AnyEvent> | undefined
    }
  /** `ctx.write`: the event published to the caller's stream. */
  | { readonly op: "write"; readonly event: AnyEvent }
  /** `ctx.waitFor` opened (its answer comes as `Answered` with the same key, or it closes as `WaitClosed`). */
  | {
      readonly op: "waitFor"
      readonly tag: string
      readonly id: string | undefined
      readonly request: AnyEvent | undefined
      /** Epoch millis on the run's clock when the wait times out, if it has a timeout. */
      readonly deadline: number | undefined
    }

/**
 * What a durable run's journal says an interrupted invocation already did, by `seq`: each operation it
 * repeats on its re-run returns this instead of acting again (`taken`: a collect's round; `answer`: the
 * answer of a `waitFor`, if it came). @internal
 */
export type Journaled = Map<
  number,
  {
    readonly op: Operation["op"]
    readonly taken?: ReadonlyArray<AnyEvent> | undefined
    readonly answer?: AnyEvent | undefined
    /** A `waitFor`'s deadline (epoch millis), if it has a timeout: a reopened wait keeps it. */
    readonly deadline?: number | undefined
  }
>

/** How an invocation ended. @internal */
export type Outcome =
  /** The handler returned `event` (`undefined`: nothing), which is routed next. */
  | { readonly _tag: "Returned"; readonly event: unknown }
  /** The handler failed; `willRetry`: a `RetryScheduled` follows; otherwise recovery or the run's end. */
  | { readonly _tag: "Failed"; readonly error: unknown; readonly willRetry: boolean }
  /** The run ended (or a timeout struck) while the handler ran. */
  | { readonly _tag: "Interrupted" }

/** One transition of a run. @internal */
export type Transition =
  | {
      readonly _tag: "RunStarted"
      readonly runId: string
      readonly workflow: string
      readonly input: object
      /** The step names, in definition order, and the initial state: what `replay` starts from. */
      readonly steps: ReadonlyArray<string>
      readonly state: unknown
      /** Epoch millis when the workflow's timeout strikes, if it has one. */
      readonly deadline: number | undefined
    }
  /**
   * `event` delivered to step `to` as invocation `invocationId`, emitted by `from` (a step, `(start)` or
   * `(outside)`; `by`: the emitting invocation, when a step's). `worker`: the worker slot that took it at
   * once; otherwise it was queued and `queued` is the mailbox's length after.
   */
  | {
      readonly _tag: "Routed"
      readonly from: string
      readonly by: string | undefined
      readonly to: string
      readonly event: AnyEvent
      readonly invocationId: string
      readonly worker: number | undefined
      readonly queued: number
    }
  /** An event answered the open `waitFor` of invocation `invocationId` (operation `attempt`/`seq`). */
  | {
      readonly _tag: "Answered"
      readonly from: string
      readonly event: AnyEvent
      readonly invocationId: string
      readonly attempt: number
      readonly seq: number
    }
  /** A `waitFor` closed without an answer: it timed out, or its invocation was interrupted. */
  | { readonly _tag: "WaitClosed"; readonly invocationId: string; readonly attempt: number; readonly seq: number }
  /** An `InputRequiredEvent` no step accepts went to the caller, who answers with outside input. */
  | { readonly _tag: "InputRequired"; readonly from: string; readonly event: AnyEvent }
  /**
   * A handle's `send`: the event came from outside; its routing follows. `answersRequest`: it counts as the answer
   * to an `InputRequiredEvent` still open (it is not an open `waitFor`'s answer).
   */
  | { readonly _tag: "OutsideInput"; readonly event: AnyEvent; readonly answersRequest: boolean }
  | {
      readonly _tag: "InvocationStarted"
      readonly invocationId: string
      readonly step: string
      readonly event: AnyEvent
      readonly attempt: number
      readonly worker: number
      /** Epoch millis when the step's timeout strikes, if it has one. */
      readonly deadline: number | undefined
    }
  | {
      readonly _tag: "Operation"
      readonly invocationId: string
      readonly step: string
      readonly attempt: number
      readonly seq: number
      readonly operation: Operation
    }
  | {
      readonly _tag: "InvocationEnded"
      readonly invocationId: string
      readonly step: string
      readonly event: AnyEvent
      readonly attempt: number
      readonly worker: number
      readonly outcome: Outcome
    }
  /** A failed invocation backs off; at `dueAt` (epoch millis) it comes back as `RetryDue`, attempt `attempt`. */
  | {
      readonly _tag: "RetryScheduled"
      readonly invocationId: string
      readonly step: string
      readonly event: AnyEvent
      readonly attempt: number
      readonly delayMillis: number
      readonly dueAt: number
    }
  /** A backed-off event is back: taken by `worker` at once, or queued (`queued`: the mailbox's length after). */
  | {
      readonly _tag: "RetryDue"
      readonly invocationId: string
      readonly step: string
      readonly event: AnyEvent
      readonly attempt: number
      readonly worker: number | undefined
      readonly queued: number
    }
  /** A worker slot found its mailbox empty and went idle. */
  | { readonly _tag: "WorkerIdle"; readonly step: string; readonly worker: number }
  /** The run's end: its result, or the cause of its failure. */
  | { readonly _tag: "RunEnded"; readonly result: { readonly _tag: "Success"; readonly value: unknown } }
  | { readonly _tag: "RunEnded"; readonly result: { readonly _tag: "Failure"; readonly cause: unknown } }

/** A listener of the record. @internal */
export type Listener = (transition: Transition) => void

/** Both listeners, or the one there is. @internal */
export const both = (a: Listener | undefined, b: Listener | undefined): Listener | undefined =>
  a === undefined
    ? b
    : b === undefined
      ? a
      : (t) => {
          a(t)
          b(t)
        }

/** The `invocationId` of the `n`th event routed to `step` in run `runId`. @internal */
export const invocationId = (runId: string, step: string, n: number): string => `${runId}/${step}/${n}`

/**
 * The run's snapshot after `record`, computed from the record alone (a pure function: durable runs rebuild
 * a run's state from their journal with it). `record` must begin with `RunStarted`.
 *
 * @internal
 */
export const replay = (record: Iterable<Transition>): Snapshot => {
  let runId = ""
  let state: unknown
  const steps = new Map<
    string,
    {
      queued: Array<{ id: string; event: AnyEvent }>
      slots: Array<AnyEvent | undefined>
      buffer: CollectBuffer
    }
  >()
  const waiting: Array<{ key: string; step: string; event: string }> = []
  const waitKey = (id: string, attempt: number, seq: number) => `${id}#${attempt}#${seq}`
  const arrive = (step: string, id: string, event: AnyEvent, worker: number | undefined) => {
    const s = steps.get(step)!
    if (worker === undefined) s.queued.push({ id, event })
    else s.slots[worker] = event
  }
  for (const t of record) {
    switch (t._tag) {
      case "RunStarted":
        runId = t.runId
        state = t.state
        for (const name of t.steps) steps.set(name, { queued: [], slots: [], buffer: new CollectBuffer() })
        break
      case "Routed":
        arrive(t.to, t.invocationId, t.event, t.worker)
        break
      case "RetryDue":
        arrive(t.step, t.invocationId, t.event, t.worker)
        break
      case "InvocationStarted": {
        const s = steps.get(t.step)!
        const i = s.queued.findIndex((q) => q.id === t.invocationId)
        if (i !== -1) s.queued.splice(i, 1)
        s.slots[t.worker] = t.event
        break
      }
      case "WorkerIdle":
        steps.get(t.step)!.slots[t.worker] = undefined
        break
      case "Operation": {
        const o = t.operation
        switch (o.op) {
          case "set":
          case "update":
          case "edit":
            state = o.state
            break
          case "collect":
            steps.get(t.step)!.buffer.offer(o.event, o.need)
            break
          case "waitFor":
            waiting.push({ key: waitKey(t.invocationId, t.attempt, t.seq), step: t.step, event: o.tag })
            break
        }
        break
      }
      case "Answered":
      case "WaitClosed": {
        const i = waiting.findIndex((w) => w.key === waitKey(t.invocationId, t.attempt, t.seq))
        if (i !== -1) waiting.splice(i, 1)
        break
      }
    }
  }
  return {
    runId,
    steps: [...steps].map(([step, s]) => ({
      step,
      queued: s.queued.map((q) => q.event),
      inFlight: s.slots.filter((e): e is AnyEvent => e !== undefined),
      collecting: [...s.buffer.items],
      need: s.buffer.lastNeed
    })),
    waiting: waiting.map((w) => ({ step: w.step, event: w.event })),
    state
  }
}
