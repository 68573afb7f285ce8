/**
 * Durable runs live in this process: the process's identity as a lease owner, the runs it holds per store (so
 * that `Durable.send` reaches a live run at once, and a second start here is `RunBusyError`), and what a run
 * would take now (`takes`: outside input that something routes, or that belongs in the inbox).
 */
import type { Effect } from "effect"
import type { AnyEvent } from "../../Event.ts"
import type * as JournalWriter from "../../JournalWriter.ts"
import type { UnhandledEventError } from "../../WorkflowError.ts"
import type { Run } from "../runtime.ts"
import { awaited } from "../waits.ts"

/** This process as a lease owner: one owner for all its runs. @internal */
export const OWNER = `owner-${Date.now().toString(36)}-${Math.random().toString(36).slice(2, 10)}`

const proc = (globalThis as { process?: { pid?: number; env?: Record<string, string | undefined> } }).process
export const PID = proc?.pid ?? 0
export const HOST = proc?.env?.HOSTNAME ?? "localhost"

/** How a run is watched while it runs here: `Durable.start`'s handle. */
export interface Watch {
  readonly publish?: ((event: AnyEvent) => void) | undefined
  readonly lifecycle?: boolean | undefined
  /** Called once the run is live in this process (not for a finished run's stored outcome). */
  readonly onLive?: ((live: Live) => void) | undefined
  /** Called instead of `onLive` when the run is finished: what follows is its stored outcome. */
  readonly onStored?: (() => void) | undefined
  /**
   * Called when the run ends with an interruption it ended itself with (a handler's `Effect.interrupt`, live or
   * as stored): not one from outside (the scope closing), after which the run resumes later.
   */
  readonly endedItself?: (() => void) | undefined
  /** Called when the run ends by `cancel` (live, once its end is stored, or as stored). */
  readonly cancelled?: (() => void) | undefined
}

/** A durable run live in this process, as `Durable.send` and a handle reach it. */
export interface Live {
  readonly runId: string
  /**
   * Give `event` to the run now if something takes it (an open wait, a step that accepts it), and wait until
   * its routing is committed. `false`: nothing takes it now (it belongs in the inbox).
   */
  readonly offer: (event: AnyEvent) => Effect.Effect<boolean, UnhandledEventError | JournalWriter.WriteError>
  /** Look at the inbox now. */
  readonly nudge: () => void
  /** End the run as `"cancelled"`. */
  readonly cancel: () => void
}

/** The runs live in this process, per store (a runId names a run within one store). */
const liveRuns = new WeakMap<object, Map<string, Live>>()
export const liveIn = (store: object): Map<string, Live> => {
  let runs = liveRuns.get(store)
  if (runs === undefined) liveRuns.set(store, (runs = new Map()))
  return runs
}

/** The run is being stopped here (its scope closing): what it does now says nothing of the stored run. */
export const stopping = (run: Run): boolean => run.closing

/** Whether something takes `ev` now: the end (a StopEvent), a step that accepts it, or an open wait it matches. */
export const takes = (run: Run, ev: AnyEvent): boolean =>
  ev._tag === "StopEvent" || run.compiled.routes.has(ev._tag) || awaited(run, ev)
