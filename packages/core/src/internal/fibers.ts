/**
 * The run's fibers: every fiber a run forks (a worker, a retry's backoff, the run's timer) goes through `fork`,
 * which lists it in the run's live fibers (`Run.fibers`) until it ends and watches it, so closing the run
 * interrupts it and one that dies outside a handler's error handling ends the run (`died`). Worker fibers
 * start at once, in the forking fiber's turn, at most `MAX_NESTED_STARTS` deep.
 */
import { Cause, Effect, type Exit, type Fiber } from "effect"
import * as Boundary from "./boundary.ts"
import type { Context_ } from "./context.ts"
import { failCause } from "./lifecycle.ts"
import type { Run } from "./run.ts"

/**
 * A fiber of the run, listed in the run's live fibers (`Run.fibers`, linked through `prev`/`next`) from its
 * fork until it ends: closing the run interrupts every fiber listed (see `Run.close`). The run keeps this
 * list instead of a `Scope` with a finalizer per fiber: a fiber then costs the run this object and its
 * watcher, not a finalizer, its closures and a second observer. @internal
 */
export class RunFiber {
  fiber: Fiber.Fiber<void> | undefined = undefined
  prev: RunFiber | undefined = undefined
  next: RunFiber | undefined = undefined
  readonly run: Run
  private watch_: ((exit: Exit.Exit<void>) => void) | undefined = undefined
  /**
   * Watches the fiber: it leaves the list, and one that dies outside the handler's error handling ends the run.
   * Made when the node first gets a fiber (`fork`): a worker started in place that never forks (the run's spare
   * node, see `startHere` in workers.ts) makes none.
   */
  get watch(): (exit: Exit.Exit<void>) => void {
    return (this.watch_ ??= (exit) => {
      this.run.unlist(this)
      const cause = diedOf(exit)
      if (cause !== undefined) this.died(this.run, cause)
    })
  }
  constructor(run: Run) {
    this.run = run
  }
  /** The fiber failed: end the run, naming where. */
  died(run: Run, cause: Cause.Cause<unknown>): void {
    died(run, undefined, cause)
  }
}

/** A worker fiber: which slot's invocation it runs now (it changes when it is handed over), for its watcher. */
export class WorkerFiber extends RunFiber {
  ctx: Context_
  /**
   * Whether the worker yields once when its mailbox is empty, before it ends (see `pull`). A worker started in
   * its sender's fiber (`startHere`) does not: it ends when its mailbox is empty, however its handlers ran,
   * so events are handled in the same order whether a handler finished at once or needed a fiber.
   */
  readonly lingers: boolean
  constructor(run: Run, ctx: Context_, lingers: boolean) {
    super(run)
    this.ctx = ctx
    this.lingers = lingers
  }
  override died(run: Run, cause: Cause.Cause<unknown>): void {
    died(run, this.ctx, cause)
  }
}

/**
 * Fork `effect` as the fiber of `node`, listed in the run's live fibers until it ends, and watched: every
 * fiber the run forks goes through here, and one that ends with anything but success or interruption fails
 * the run (see `died`). Nothing a fiber of the run does can end it silently. Once the run is closing, nothing
 * is forked (as a fork into a closed scope, whose fiber is interrupted before it starts).
 *
 * The fiber starts at once, in the forking fiber's turn, and runs until it first suspends: so every sleep
 * the engine's scheduling reaches (a worker's first sleep after a fan-out, a retry backoff, a nested run)
 * is registered before the forking fiber goes on, and `TestClock.adjust` right after forking a run sees
 * them all, as with `Effect.forEach`. A worker yields once before it ends (see `pull`), which keeps one
 * fiber draining a busy mailbox.
 */
export const fork = (run: Run, effect: Effect.Effect<void>, node: RunFiber): Effect.Effect<void> =>
  Effect.withFiber((parent) => {
    if (run.closing) return Effect.void
    // A fiber started at once runs on the forking fiber's stack; one that starts another at once nests
    // deeper (a step with many workers feeding itself). Past MAX_NESTED_STARTS the fork is scheduled instead.
    const immediate = run.nestedStarts < MAX_NESTED_STARTS
    if (immediate) run.nestedStarts++
    return Effect.flatMap(
      // The fiber runs in the run's context, and in nothing else: a handler's local services, log annotations,
      // log spans, log level, spans or store edit stay its own (the run's context replaces the forking fiber's;
      // a merge would keep what the run's context has no key for). Forked from a fiber already in it (the common
      // case), it inherits it as is.
      Effect.forkDetach(
        parent.context === run.context ? effect : Effect.updateContext(effect, () => run.forkContext),
        immediate ? AT_ONCE : SCHEDULED
      ),
      (fiber) => {
        if (immediate) run.nestedStarts--
        node.fiber = fiber
        const exit = fiber.pollUnsafe()
        if (exit !== undefined) {
          // It ended while it started: nothing to list.
          node.watch(exit)
          return Effect.void
        }
        // The run began closing while it started: stopped at once, as a fork into a closing scope is.
        if (run.closing) fiber.interruptUnsafe(parent.id)
        else run.list(node)
        fiber.addObserver(node.watch)
        return Effect.void
      }
    )
  })

const AT_ONCE = { startImmediately: true } as const
const SCHEDULED = { startImmediately: false } as const

/** How many worker fibers may start at once, one inside another, before forks are scheduled instead. */
export const MAX_NESTED_STARTS = 32

/** A fiber that failed (not by interruption alone): what the run's fiber watchers look for. */
const diedOf = (exit: Exit.Exit<unknown, unknown>): Cause.Cause<unknown> | undefined =>
  exit._tag === "Failure" && !Cause.hasInterruptsOnly(exit.cause) ? exit.cause : undefined

/** A fiber of the run failed outside any handler's error handling: end the run, naming where. */
export const died = (run: Run, ctx: Context_ | undefined, cause: Cause.Cause<unknown>): void => {
  if (run.finished) return
  const site = { workflow: run.compiled.name, step: ctx?.step, event: ctx?.event?._tag }
  failCause(run, Cause.die(Boundary.fiberDied(site, cause)))
}
