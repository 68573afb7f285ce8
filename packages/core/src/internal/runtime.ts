/**
 * The interpreter: one run of a compiled workflow, in rooms around one record of the run's state (`run.ts`),
 * read along the data path of an event:
 *
 * - `routing.ts`: the routing tables a workflow compiles to, and `route`, which takes an emitted event to
 *   the end of the run, an open wait, the caller, or the mailboxes of the steps that accept it.
 * - `stepRun.ts`: one step of one run as plain data: its mailbox, worker slots and counts.
 * - `workers.ts`: each step's worker pool: queue an event or start a worker for it.
 * - `fibers.ts`: every fiber of the run, listed and watched until it ends.
 * - `invocation.ts`: one handler call: timeout, span, outcome.
 * - `retry.ts`: a failed invocation: retry, recovery or the run's end.
 * - `backPressure.ts`: `ctx.send`/`sendAll`, and a sender waiting while the mailbox it filled drains.
 * - `waits.ts`: `ctx.waitFor` and outside input.
 * - `lifecycle.ts`: start, stop, failure, stall, timeout and the end of the run; `launch.ts`: a run started
 *   in the background (a handle's).
 * - `context.ts`: the step context a handler gets, handing each operation to its room (`operations.ts`,
 *   `store.ts`).
 *
 * Pure logic with no fibers lives apart: `collectBuffer.ts` (fan-in), `mailbox.ts` (the ring buffer).
 * This module gathers what the rest of the library uses.
 */
export { MAILBOX_HIGH, MAILBOX_LOW } from "./backPressure.ts"
export { launch } from "./launch.ts"
export { isWaiting, runCompiled, runNow } from "./lifecycle.ts"
export { type Listener, replay, type Transition } from "./record.ts"
export { type Compiled, type CompiledStep, compile } from "./routing.ts"
export { type Hooks, Run, type Snapshot } from "./run.ts"
export { sendFromOutside } from "./waits.ts"
