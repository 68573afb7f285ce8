/**
 * A run launched in the background (`Workflow.start`'s handle): no fiber of its own, so a run that waits holds
 * no fiber but those of its waiting invocations. The run's timeout is a timer fiber of the run, and when the run
 * ends a fiber is forked to close it. Starting, stopping and failing are `lifecycle.ts`'s, as for a run in the
 * caller's fiber (`runCompiled`).
 */
import { Cause, Clock, Context, Deferred, type Duration, Effect, Exit, Scope, Tracer } from "effect"
import { fork, RunFiber } from "./fibers.ts"
import { failCause, recordStart, spansOn, start, timedOut, timeoutOf } from "./lifecycle.ts"
import type { Compiled } from "./routing.ts"
import { andThen, type Hooks, Run } from "./run.ts"
import { EditingRun } from "./store.ts"

/**
 * Told a launched run's exit once it has closed (a handle's `EventFeed`), and whether the run ended itself with
 * it (`false`: it was interrupted from outside, by a cancel or its scope closing). @internal
 */
export interface LaunchEnded {
  readonly close: (exit: Exit.Exit<unknown, unknown>, endedItself: boolean) => void
}

/**
 * A run launched in the background with no fiber of its own (a handle's run, `Workflow.start`), so a run
 * that waits holds no fiber but those of its waiting invocations. One object with methods, not closures over
 * what it needs: a server may hold thousands of these while their runs wait. @internal
 */
export class Launched {
  readonly run: Run
  /** The run's exit, once it has closed (every fiber of the run has ended). */
  readonly closed: Deferred.Deferred<unknown, unknown> = Deferred.makeUnsafe<unknown, unknown>()
  /**
   * The run's link in its parent scope: closing it (the run ended, was cancelled, or the parent closed) closes
   * the run, interrupting every fiber the run forked, then ends the span and tells `ended` and `closed`.
   */
  readonly link: Scope.Closeable
  readonly span: Tracer.Span | undefined
  readonly ended: LaunchEnded
  constructor(run: Run, link: Scope.Closeable, span: Tracer.Span | undefined, ended: LaunchEnded) {
    this.run = run
    this.link = link
    this.span = span
    this.ended = ended
  }
  /** The link's finalizer: close the run with its exit (or an interruption), then tell who waits. */
  close(exit: Exit.Exit<unknown, unknown>): Effect.Effect<void> {
    const run = this.run
    const endedItself = run.exit !== undefined
    const final =
      run.exit ?? (Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause) ? exit : Exit.interrupt(undefined))
    // Interrupted: the run is over (it no longer waits, and refuses outside input).
    run.finished = true
    return Effect.andThen(
      run.close(final),
      Effect.sync(() => {
        this.span?.end(Context.get(run.context, Clock.Clock).currentTimeNanosUnsafe(), final)
        this.ended.close(final, endedItself)
        Deferred.doneUnsafe(this.closed, final)
      })
    )
  }
  /** The run ended (see `Run.end`): its link is closed in a fiber of its own, on the scheduler's next turn, as a fiber awaiting the run would resume. */
  runEnded(exit: Exit.Exit<unknown, unknown>): void {
    Effect.runForkWith(this.run.context)(Effect.andThen(Effect.yieldNow, Scope.close(this.link, exit)))
  }
  /** Interrupt the run and wait until it has closed (at once when it has already closed). */
  interrupt(fiberId: number | undefined): Effect.Effect<void> {
    return Effect.andThen(
      Scope.close(this.link, Exit.interrupt(fiberId)),
      Effect.asVoid(Effect.exit(Deferred.await(this.closed)))
    )
  }
}

/**
 * Launch a run in `parent` with no fiber of its own: the StartEvent is routed in the caller's fiber (its
 * workers start at once, as a forked run's would), the run's timeout, when it has one, is a timer fiber of
 * the run, and when the run ends a fiber is forked to close it. Closing `parent` interrupts
 * the run. `ended` is told the run's exit once it has closed, before `closed` completes.
 *
 * @internal
 */
export const launch = (
  compiled: Compiled,
  input: object,
  hooks: Hooks,
  parent: Scope.Scope,
  ended: LaunchEnded
): Effect.Effect<Launched> =>
  Effect.withFiber((fiber) => {
    // As in `runCompiled`: no store edit of an outer run in the run's context, and a run span only when a
    // tracing backend is installed.
    let context = fiber.context
    if (Context.get(context, EditingRun) !== undefined) context = Context.add(context, EditingRun, undefined)
    if (!spansOn(context)) return launched(compiled, input, hooks, parent, ended, context, undefined)
    return Effect.flatMap(
      Effect.makeSpan(`effect-flow.run ${compiled.name}`, { attributes: { "workflow.name": compiled.name } }),
      (span) => launched(compiled, input, hooks, parent, ended, Context.add(context, Tracer.ParentSpan, span), span)
    )
  })

const launched = (
  compiled: Compiled,
  input: object,
  hooks: Hooks,
  parent: Scope.Scope,
  ended: LaunchEnded,
  context: Context.Context<never>,
  span: Tracer.Span | undefined
): Effect.Effect<Launched> => {
  const run = new Run(compiled, context, hooks, span !== undefined)
  span?.attribute("workflow.run_id", run.id)
  const handle = new Launched(run, Scope.forkUnsafe(parent, "sequential"), span, ended)
  run.onEnd = handle
  const timeout = timeoutOf(run, hooks)
  recordStart(run, input, timeout)
  return Effect.andThen(
    Scope.addFinalizerExit(handle.link, (exit) => handle.close(exit)),
    Effect.as(andThen(start(run, input), timeout === undefined ? Effect.void : timer(run, timeout)), handle)
  )
}

/** The run's timeout as a fiber of its own in the run's list (a launched run has no fiber to await it in). */
const timer = (run: Run, timeout: Duration.Duration): Effect.Effect<void> =>
  fork(
    run,
    Effect.flatMap(Effect.sleep(timeout), () =>
      Effect.sync(() => {
        if (!run.finished) run.end(Exit.fail(timedOut(run)))
      })
    ),
    new TimerFiber(run)
  )

/** The timer's fiber: one that dies ends the run with its cause as it is. */
class TimerFiber extends RunFiber {
  override died(run: Run, cause: Cause.Cause<unknown>): void {
    failCause(run, cause)
  }
}
