/**
 * A failed invocation: a typed failure is retried on the step's schedule (the event backs off in a fiber of
 * its own while its worker slot goes on with other events, then comes back to its step, `requeue` in
 * `workers.ts`); with no retry left it goes to a step that accepts `StepFailedEvent`, if any, or the run ends.
 * A defect ends the run.
 */
import { Cause, Clock, Duration, Effect, Pull, Schedule } from "effect"
import { StepFailedEvent } from "../RunEvent.ts"
import type { Context_ } from "./context.ts"
import { fork, RunFiber } from "./fibers.ts"
import { ended } from "./invocation.ts"
import { failCause } from "./lifecycle.ts"
import { route } from "./routing.ts"
import type { Run } from "./run.ts"
import { Retry } from "./stepRun.ts"
import { requeue } from "./workers.ts"

/** An invocation failed: retry it on the step's schedule, hand it to a recovering step, or end the run. */
export const failed = (run: Run, ctx: Context_, original: Cause.Cause<unknown>): Effect.Effect<void> => {
  const { retry, sr } = ctx
  const cause = namingMissingService(original, run.compiled.name, sr.step.name)
  const ev = ctx.event!
  const schedule = sr.step.def.retry
  const error = Cause.squash(cause)
  const emitFailed = (willRetry: boolean) => {
    if (run.record !== undefined) ended(run, ctx, { _tag: "Failed", error, willRetry })
  }
  const finalFailure = () => {
    emitFailed(false)
    if (run.recovers && ev._tag !== "StepFailedEvent" && Cause.hasFails(cause)) {
      return Effect.catchCause(
        route(
          run,
          sr.step.name,
          new StepFailedEvent({ step: sr.step.name, event: ev, error, attempts: ctx.attempt }),
          undefined,
          ctx
        ),
        (c) => Effect.sync(() => failCause(run, c))
      )
    }
    failCause(run, cause)
    return Effect.void
  }
  // Only typed failures are retried; defects end the run.
  if (schedule === undefined || !Cause.hasFails(cause)) return finalFailure()
  const failure = Cause.findError(cause)
  const input = failure._tag === "Success" ? failure.success : error
  const nextStep =
    retry?.next !== undefined
      ? Effect.succeed(retry.next)
      : (Schedule.toStep(schedule as Schedule.Schedule<unknown, unknown>) as Effect.Effect<NonNullable<Retry["next"]>>)
  return Effect.flatMap(nextStep, (step) =>
    Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Pull.matchEffect(step(now, input), {
        onSuccess: ([, delay]) => {
          if (run.finished) {
            emitFailed(false)
            return Effect.void
          }
          const attempt = ctx.attempt + 1
          emitFailed(true)
          if (run.record !== undefined) {
            const delayMillis = Duration.toMillis(delay)
            run.record({
              _tag: "RetryScheduled",
              invocationId: ctx.invocationId,
              step: sr.step.name,
              event: ev,
              attempt,
              delayMillis,
              dueAt: now + delayMillis
            })
          }
          // The event stays active while it backs off, but its worker slot goes on to other events.
          ctx.retrying = true
          sr.backingOff++
          const again = new Retry(ev, attempt, step, ctx.n)
          return fork(
            run,
            Effect.andThen(
              Effect.sleep(delay),
              Effect.suspend(() => {
                sr.backingOff--
                return run.finished ? Effect.void : requeue(run, sr, again)
              })
            ),
            new RunFiber(run)
          )
        },
        onFailure: (scheduleCause) =>
          Effect.sync(() => {
            emitFailed(false)
            failCause(run, scheduleCause)
          }),
        onDone: () => finalFailure()
      })
    )
  )
}

/**
 * Effect's "Service not found: <key>" defect says nothing of where: say which workflow and step needed the
 * service, and how to provide it. Any other cause is returned as it is.
 */
const namingMissingService = (cause: Cause.Cause<unknown>, workflow: string, step: string): Cause.Cause<unknown> => {
  const found = Cause.findDefect(cause)
  if (found._tag !== "Success") return cause
  const defect = found.success
  if (!(defect instanceof Error) || !defect.message.startsWith("Service not found")) return cause
  return Cause.die(
    new Error(
      `${defect.message}, needed by step "${step}" of workflow "${workflow}". Provide it with its Layer: ` +
        "Workflow.run(...).pipe(Effect.provide(layer)), or { layer } in Workflow.runPromise / startPromise.",
      { cause: defect }
    )
  )
}
