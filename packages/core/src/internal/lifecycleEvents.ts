/**
 * The lifecycle events of the run's event stream (`{ lifecycle: true }`), read from the run's record: a
 * listener that turns transitions into `StepStarted`, `StepCompleted`, `StepFailed`, `StepRetrying` and
 * `EventQueued`, published after what the steps publish themselves.
 */
import { isEvent } from "../Event.ts"
import { EventQueued, StepCompleted, StepFailed, StepRetrying, StepStarted } from "../RunEvent.ts"
import type { Listener } from "./record.ts"
import type { Run } from "./run.ts"

/** @internal */
export const lifecycleEvents =
  (run: Run): Listener =>
  (t) => {
    switch (t._tag) {
      case "Routed":
        if (t.worker === undefined) run.emit(new EventQueued({ step: t.to, event: t.event._tag, queued: t.queued }))
        break
      case "RetryDue":
        if (t.worker === undefined) run.emit(new EventQueued({ step: t.step, event: t.event._tag, queued: t.queued }))
        break
      case "InvocationStarted":
        run.emit(new StepStarted({ step: t.step, event: t.event._tag, worker: t.worker, attempt: t.attempt }))
        break
      case "InvocationEnded": {
        const o = t.outcome
        const site = { step: t.step, event: t.event._tag, worker: t.worker, attempt: t.attempt }
        if (o._tag === "Returned") {
          run.emit(new StepCompleted({ ...site, returned: isEvent(o.event) ? o.event._tag : undefined }))
        } else if (o._tag === "Failed") {
          run.emit(new StepFailed({ ...site, error: o.error, willRetry: o.willRetry }))
        }
        break
      }
      case "RetryScheduled":
        run.emit(
          new StepRetrying({ step: t.step, event: t.event._tag, attempt: t.attempt, delayMillis: t.delayMillis })
        )
        break
    }
  }
