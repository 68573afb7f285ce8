/**
 * The way back from a journal: `rebuild` folds a run's entries (pure) into its state, collect buffers, step
 * counters, open invocations and unanswered input requests, and `resumeFrom` starts a run there instead of
 * routing its StartEvent.
 */
import { Effect } from "effect"
import type { AnyEvent } from "../../Event.ts"
import type { Need } from "../collectBuffer.ts"
import { checkIdle } from "../lifecycle.ts"
import type { Journaled, Operation } from "../record.ts"
import { andThen, type Run } from "../run.ts"
import { Retry } from "../stepRun.ts"
import { enqueueRetry } from "../workers.ts"
import type { Codecs } from "./codecs.ts"
import { compactOf } from "./entries.ts"

/** An invocation as the journal leaves it. */
interface Invocation {
  readonly step: string
  readonly n: number
  readonly event: unknown
  attempt: number
  /** The attempt its current try began as: 1, or the attempt of its last retry after a failure. */
  since: number
  /** `queued`: routed or due again, not started; `running`: started, not ended; `done`: ended. */
  phase: "queued" | "running" | "done"
  ops: Journaled
}

/** What a journal says of a run: enough to go on from where it stopped. @internal */
export interface Rebuilt {
  readonly entries: number
  /** The state after the last journaled store write (`undefined`: none; the initial state stands). */
  readonly state: { readonly value: unknown } | undefined
  readonly steps: ReadonlyMap<string, { delivered: number; readonly offers: Array<readonly [AnyEvent, Need]> }>
  /** Invocations that did not end, in routing order per step. */
  readonly open: ReadonlyArray<Invocation>
  /** Invocations whose end is journaled. */
  readonly ended: number
  /** `InputRequiredEvent`s published and not answered yet (encoded), oldest first. */
  readonly awaiting: ReadonlyArray<unknown>
}

/**
 * Fold the journal entries of run `runId` into what a resume needs. Throws `NotJournalable` on an entry it cannot
 * read. It reads the compact arrays as they are (invocations keyed by their id within the run), and entries of
 * the object format through `compactOf`. @internal
 */
export const rebuild = (c: Codecs, runId: string, entries: ReadonlyArray<string>): Rebuilt => {
  const prefix = `${runId}/`
  const invocations = new Map<string, Invocation>()
  const steps = new Map<string, { delivered: number; offers: Array<readonly [AnyEvent, Need]> }>()
  let state: unknown
  let stateSet = false
  let ended = 0
  const awaiting: Array<unknown> = []
  const stepOf = (name: string) => {
    let s = steps.get(name)
    if (s === undefined) steps.set(name, (s = { delivered: 0, offers: [] }))
    return s
  }
  for (const raw of entries) {
    const parsed = JSON.parse(raw)
    const e: Array<any> = Array.isArray(parsed) ? parsed : compactOf(parsed, prefix)
    const t = e[0]
    if (t === "q") {
      awaiting.push(e[1])
      continue
    }
    if (t === "x") {
      awaiting.shift()
      continue
    }
    const i = e[1] as string
    const inv = invocations.get(i)
    switch (t) {
      case "r": {
        const slash = i.lastIndexOf("/")
        const step = i.slice(0, slash)
        const n = Number(i.slice(slash + 1))
        const s = stepOf(step)
        s.delivered = Math.max(s.delivered, n)
        invocations.set(i, { step, n, event: e[2], attempt: 1, since: 1, phase: "queued", ops: new Map() })
        break
      }
      case "s":
        if (inv !== undefined) {
          inv.attempt = e[2]
          inv.phase = "running"
        }
        break
      case "o": {
        if (inv === undefined) break
        const q = e[2] as number
        const op = e[3] as Operation["op"]
        if (op === "set" || op === "update" || op === "edit") {
          state = e[4]
          stateSet = true
        }
        if (op === "collect") {
          stepOf(inv.step).offers.push([c.decodeEvent(e[4]), e[5]])
          const tk = e[6] as ReadonlyArray<unknown> | null | undefined
          inv.ops.set(q, { op, taken: tk === undefined || tk === null ? undefined : tk.map(c.decodeEvent) })
        } else if (op === "waitFor" && e[5] !== null && e[5] !== undefined) {
          inv.ops.set(q, { op, deadline: e[5] })
        } else {
          inv.ops.set(q, { op })
        }
        break
      }
      case "w":
        if (inv !== undefined) inv.ops.set(e[2], { op: "waitFor", answer: c.decodeEvent(e[3]) })
        break
      case "e":
        if (inv === undefined) break
        if (e[2] === "B") {
          // A real failure: the next attempt starts afresh, its operations act again.
          inv.ops = new Map()
          inv.phase = "queued"
        } else {
          inv.phase = "done"
          ended++
        }
        break
      case "b":
      case "d":
        if (inv !== undefined) {
          inv.attempt = e[2]
          inv.since = e[2]
          inv.phase = "queued"
        }
        break
    }
  }
  const open = [...invocations.values()].filter((inv) => inv.phase !== "done")
  return {
    entries: entries.length,
    state: stateSet ? { value: c.state.decode(state) } : undefined,
    steps,
    open,
    ended,
    awaiting
  }
}

/**
 * Start `run` where `rebuilt` left it: its state and collect buffers restored, its step counters where they
 * were, and every invocation that did not end delivered again under its own `invocationId`: one that had
 * started runs with its attempt one higher and replays its journaled operations (`Context_.replayed`); the
 * step's retry schedule starts afresh (a crash spends none of it). @internal
 */
export const resumeFrom =
  (c: Codecs, rebuilt: Rebuilt) =>
  (run: Run): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (rebuilt.state !== undefined) run.state = rebuilt.state.value
      // Input requests still unanswered: the caller sees them again, and the run waits for their answers.
      run.awaitingInput = rebuilt.awaiting.length
      for (const ev of rebuilt.awaiting) run.emit(c.decodeEvent(ev))
      for (const [name, s] of rebuilt.steps) {
        const step = run.compiled.byName.get(name)
        if (step === undefined) continue
        const sr = run.stepRun(step.index)
        for (const [event, need] of s.offers) sr.buffer.offer(event, need)
        sr.delivered = s.delivered
        sr.taken = s.delivered
      }
      let effect: Effect.Effect<void> = Effect.void
      // In journal order, which per step is routing order.
      for (const inv of rebuilt.open) {
        const step = run.compiled.byName.get(inv.step)
        if (step === undefined) continue
        const running = inv.phase === "running"
        const item = new Retry(
          c.decodeEvent(inv.event),
          running ? inv.attempt + 1 : inv.attempt,
          undefined,
          inv.n,
          running && inv.ops.size > 0 ? inv.ops : undefined,
          // A distributed invocation's attempt may still run, or have ended, on another runner: its message.
          running ? inv.since : undefined
        )
        run.active++
        effect = andThen(effect, enqueueRetry(run, run.stepRun(step.index), item))
      }
      if (rebuilt.open.length === 0) checkIdle(run)
      return effect
    })
