/**
 * Back-pressure: a step worker that routes an event into a mailbox holding {@link MAILBOX_HIGH} or more
 * events waits until the mailbox has drained to {@link MAILBOX_LOW}, as long as something will drain it
 * (see `drains`: a worker of the target that is not waiting, or one waiting on a mailbox that will
 * drain). The event is queued before the sender waits, so nothing is lost and order is kept. Where senders
 * wait, a mailbox holds at most MAILBOX_HIGH events plus one per waiting sender. Where they may not (a wait
 * that would close a cycle, a target whose workers are all in `waitFor`, a send inside `store.edit`, events
 * from outside the run, retries), the mailbox grows as it must: that is what keeps cycles from deadlocking.
 *
 * Also here: `ctx.send` and `ctx.sendAll`, the two ways a running handler routes events and may be made
 * to wait.
 */
import { Effect } from "effect"
import type { AnyEvent } from "../Event.ts"
import { UnhandledEventError } from "../WorkflowError.ts"
import type { Context_ } from "./context.ts"
import { outsideEmits, routeEmitted, routeOrError } from "./routing.ts"
import { andThen, type Run } from "./run.ts"
import { NO_SENDERS, type StepRun } from "./stepRun.ts"

/** See the module's description. */
export const MAILBOX_HIGH = 256
/** See {@link MAILBOX_HIGH}. */
export const MAILBOX_LOW = 128

/** Route an event a worker sends with `ctx.send`, then wait for room if its mailbox is full. */
export const send = (
  run: Run,
  ctx: Context_,
  ev: AnyEvent,
  target: string | undefined
): Effect.Effect<void, UnhandledEventError> => {
  // A durable re-run: a send the journal holds was routed already.
  if (ctx.journaled !== undefined && ctx.replayed() !== undefined) return Effect.void
  let routed: Effect.Effect<void> | UnhandledEventError
  if (target === undefined && run.record === undefined) {
    // As `sendAll`: the per-event path of `routeEmitted` (an event that goes to one step only goes straight
    // there), which checks the step's `emits` itself.
    run.full = undefined
    routed = routeEmitted(run, ctx.sr.step, ev, ctx)
  } else {
    const refused = outsideEmits(run, ctx.sr.step, ev)
    if (refused !== undefined) return Effect.fail(refused)
    run.full = undefined
    if (run.record !== undefined) ctx.recordOp({ op: "send", event: ev, target })
    routed = routeOrError(run, ctx.step, ev, target, ctx)
  }
  if (routed !== Effect.void && routed instanceof UnhandledEventError) return Effect.fail(routed)
  const full = filled(run, ctx)
  return full === undefined ? routed : andThen(routed, room(ctx, full))
}

/** Route events in order, as `send` would one by one; when a mailbox fills, wait for room, then go on. */
export const sendAll = (
  run: Run,
  ctx: Context_,
  events: Iterator<AnyEvent>,
  target: string | undefined
): Effect.Effect<void, UnhandledEventError> => {
  let forks: Effect.Effect<void> = Effect.void
  let routedHere = 0
  while (true) {
    // Workers that finish in place (see `enqueue`) never fill a mailbox, so the loop never waits for room:
    // it yields now and then instead, as a fiber does after so many operations, so it does not hold the thread.
    if (++routedHere > YIELD_EVERY) {
      return andThen(
        forks,
        Effect.andThen(
          Effect.yieldNow,
          Effect.suspend(() => sendAll(run, ctx, events, target))
        )
      )
    }
    const next = events.next()
    if (next.done === true) return forks
    if (ctx.journaled !== undefined && ctx.replayed() !== undefined) continue
    run.full = undefined
    let routed: Effect.Effect<void> | UnhandledEventError
    if (target === undefined && run.record === undefined) routed = routeEmitted(run, ctx.sr.step, next.value, ctx)
    else {
      const refused = outsideEmits(run, ctx.sr.step, next.value)
      if (refused === undefined && run.record !== undefined) ctx.recordOp({ op: "send", event: next.value, target })
      routed = refused ?? routeOrError(run, ctx.step, next.value, target, ctx)
    }
    if (routed !== Effect.void && routed instanceof UnhandledEventError) return andThen(forks, Effect.fail(routed))
    forks = andThen(forks, routed)
    const full = filled(run, ctx)
    if (full !== undefined) {
      return andThen(
        forks,
        Effect.andThen(
          room(ctx, full),
          Effect.suspend(() => sendAll(run, ctx, events, target))
        )
      )
    }
  }
}

/** How many events one `sendAll` routes before it yields to other fibers (effect's fibers yield every 2,048 operations). */
const YIELD_EVERY = 2048

/**
 * The mailbox the event just routed by `ctx` filled, if `ctx` should now wait for it to drain: only while
 * something will drain it, and never inside a store edit (the target's workers may wait for the lock).
 */
export const filled = (run: Run, ctx: Context_): StepRun | undefined => {
  const full = run.full
  if (full === undefined) return undefined
  run.full = undefined
  return run.finished || ctx.editing || !drains(full, ctx, new Set()) ? undefined : full
}

/**
 * Whether `sr`'s mailbox will be drained: one of its workers is not waiting, or waits to send to a step
 * that will itself be drained. `sender` counts as waiting on the step it is about to wait for, so a wait
 * that would close a cycle (a step feeding itself, two steps feeding each other) is never started. A
 * worker in `waitFor` may be waiting for an event only a waiting sender would send: it does not count.
 * Called only when a routed event finds its mailbox full; a walk over at most every step once.
 */
const drains = (sr: StepRun, sender: Context_ | undefined, seen: Set<StepRun>): boolean => {
  if (seen.has(sr)) return false
  seen.add(sr)
  for (const w of sr.contexts) {
    // A lingering worker holds no item but will look at the mailbox again: it drains.
    if (w.item === undefined && !w.lingering) continue
    if (w === sender) continue
    if (w.eventWaits > 0) continue
    if (w.roomWaits === 0) return true
    // One wait, for room in a mailbox (a slot waiting on several at once does not count).
    if (w.roomWaits === 1 && drains(w.waitingOn!, sender, seen)) return true
  }
  return false
}

/**
 * Wait until `target`'s mailbox has drained to MAILBOX_LOW (or until nothing would drain it). Built by
 * `filled`'s callers. A worker started in place (see `enqueue`) runs it only when its fiber starts, after
 * other fibers may have drained the mailbox: so whether to wait is asked again here.
 */
export const room = (ctx: Context_, target: StepRun): Effect.Effect<void> =>
  Effect.callback<void>((resume) => {
    if (target.queued <= MAILBOX_LOW || !drains(target, ctx, new Set())) return resume(Effect.void)
    const go = () => {
      ctx.roomWaits--
      resume(Effect.void)
    }
    if (target.senders === NO_SENDERS) target.senders = [go]
    else target.senders.push(go)
    ctx.roomWaits++
    ctx.waitingOn = target
    // Interrupted while waiting (the run ended, or a timeout): no longer a sender.
    return Effect.sync(() => {
      const i = target.senders.indexOf(go)
      if (i !== -1) {
        target.senders.splice(i, 1)
        ctx.roomWaits--
      }
    })
  })

/** A worker starts a `waitFor`: if its step is then drained by nobody, its waiting senders go on. */
export const waitingForEvent = (ctx: Context_): void => {
  ctx.eventWaits++
  const sr = ctx.sr
  if (sr.senders.length > 0 && !drains(sr, undefined, new Set())) release(sr)
}

/** Let every sender waiting on `sr` go on. */
export const release = (sr: StepRun): void => {
  const senders = sr.senders
  sr.senders = NO_SENDERS
  for (const resume of senders) resume()
}
