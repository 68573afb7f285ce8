/**
 * The interpreter: one run of a compiled workflow.
 *
 * Each step of a run has a FIFO mailbox (a plain array with a read cursor) and a count of running
 * invocations. Delivering an event to a step either starts a worker fiber at once (fewer than `workers`
 * are running) or queues the event. A worker fiber drains its step's mailbox and ends when it is empty,
 * so an idle step costs no fiber, a busy step never runs more than `workers` invocations, and the
 * per-event path is: push, handler, route. Every fiber is forked into the run's scope.
 *
 * `active` counts events queued or being handled. When it drops to zero without a StopEvent, nothing can
 * ever happen again: the run fails at once with `WorkflowStalledError`.
 *
 * All run state (mailboxes, in-flight events, collect buffers, store) is plain data, read by `snapshot`.
 */
import { Cause, Context, Deferred, Duration, Effect, Exit, Option, Scope, Semaphore } from "effect"
import type { AnyEvent } from "../Event.ts"
import { isEvent, StartEvent, tagOf } from "../Event.ts"
import type * as Step from "../Step.ts"
import type { StepContext, Store } from "../StepContext.ts"
import {
  NestedStoreEditError,
  PartialCollect,
  UnhandledEventError,
  WorkflowStalledError,
  WorkflowTimeoutError
} from "../WorkflowError.ts"
import { CollectBuffer, describeNeed, type Need } from "./collectBuffer.ts"

/** A workflow, checked and turned into routing tables. Shared by all its runs. @internal */
export interface Compiled {
  readonly name: string
  readonly steps: ReadonlyArray<CompiledStep>
  /** Event tag to the indices of the steps that accept it. */
  readonly routes: ReadonlyMap<string, ReadonlyArray<number>>
  readonly byName: ReadonlyMap<string, CompiledStep>
  readonly timeout: Duration.Duration | undefined
  readonly initialState: unknown
}

/** @internal */
export interface CompiledStep {
  readonly index: number
  readonly name: string
  readonly workers: number
  readonly acceptsTags: ReadonlySet<string>
  readonly def: Step.Any
}

/** @internal */
export const compile = (
  name: string,
  steps: ReadonlyArray<Step.Any>,
  timeout: Duration.Input | undefined,
  initialState: unknown
): Compiled => {
  const compiledSteps: Array<CompiledStep> = []
  const routes = new Map<string, Array<number>>()
  const byName = new Map<string, CompiledStep>()
  steps.forEach((def, index) => {
    const acceptsTags = new Set(def.accepts.map((c) => tagOf(c as any)!))
    const step: CompiledStep = { index, name: def.name, workers: def.workers, acceptsTags, def }
    compiledSteps.push(step)
    byName.set(def.name, step)
    for (const tag of acceptsTags) {
      const list = routes.get(tag)
      if (list) list.push(index)
      else routes.set(tag, [index])
    }
  })
  return {
    name,
    steps: compiledSteps,
    routes,
    byName,
    timeout: timeout === undefined ? undefined : Duration.fromInputUnsafe(timeout),
    initialState
  }
}

/** The current store edit, per fiber, to tell a nested edit from a waiting one. @internal */
const EditingRun = Context.Reference<Run | undefined>("@effect-flow/core/internal/EditingRun", {
  defaultValue: () => undefined
})

class StepRun {
  /** Mailbox: events from `head` on are waiting. */
  queue: Array<AnyEvent> = []
  head = 0
  running = 0
  /** The event each worker slot is handling, for snapshots and timeouts. */
  readonly current: Array<AnyEvent | undefined>
  /** One context per worker slot, made on first use. */
  readonly contexts: Array<Context_ | undefined>
  readonly freeSlots: Array<number>
  readonly buffer = new CollectBuffer()
  readonly step: CompiledStep
  constructor(step: CompiledStep) {
    this.step = step
    this.current = new Array(step.workers).fill(undefined)
    this.contexts = new Array(step.workers).fill(undefined)
    this.freeSlots = []
    for (let i = step.workers - 1; i >= 0; i--) this.freeSlots.push(i)
  }
  get queued(): number {
    return this.queue.length - this.head
  }
  shift(): AnyEvent | undefined {
    if (this.head === this.queue.length) return undefined
    const ev = this.queue[this.head]!
    this.queue[this.head] = undefined as any
    this.head++
    if (this.head === this.queue.length) {
      this.queue = []
      this.head = 0
    } else if (this.head > 1024 && this.head * 2 > this.queue.length) {
      this.queue = this.queue.slice(this.head)
      this.head = 0
    }
    return ev
  }
}

/** The state of one run, as plain data. @internal */
export interface Snapshot {
  readonly runId: string
  readonly steps: ReadonlyArray<{
    readonly step: string
    readonly queued: ReadonlyArray<AnyEvent>
    readonly inFlight: ReadonlyArray<AnyEvent>
    readonly collecting: ReadonlyArray<AnyEvent>
    readonly need: Need | undefined
  }>
  readonly state: unknown
}

let runCounter = 0

/** @internal */
export class Run {
  readonly id: string
  readonly steps: Array<StepRun>
  readonly done: Deferred.Deferred<unknown, unknown>
  finished = false
  active = 0
  state: unknown
  readonly lock = Semaphore.makeUnsafe(1)
  readonly compiled: Compiled
  readonly scope: Scope.Scope
  readonly context: Context.Context<never>

  constructor(compiled: Compiled, scope: Scope.Scope, context: Context.Context<never>) {
    this.compiled = compiled
    this.scope = scope
    this.context = context
    this.id = `${compiled.name}-${(++runCounter).toString(36)}-${Math.random().toString(36).slice(2, 8)}`
    this.steps = compiled.steps.map((s) => new StepRun(s))
    this.done = Deferred.makeUnsafe()
    this.state = compiled.initialState
  }

  snapshot(): Snapshot {
    return {
      runId: this.id,
      steps: this.steps.map((sr) => ({
        step: sr.step.name,
        queued: sr.queue.slice(sr.head),
        inFlight: sr.current.filter((e): e is AnyEvent => e !== undefined),
        collecting: [...sr.buffer.items],
        need: sr.buffer.lastNeed
      })),
      state: this.state
    }
  }

  activeSteps(): Array<string> {
    return this.steps.filter((sr) => sr.running > 0 || sr.queued > 0).map((sr) => sr.step.name)
  }

  // ---------------------------------------------------------------------------------------------
  // ending the run

  stop(result: unknown): void {
    if (this.finished) return
    this.finished = true
    Deferred.doneUnsafe(this.done, Exit.succeed(result))
  }

  failCause(cause: Cause.Cause<unknown>): void {
    if (this.finished) return
    this.finished = true
    Deferred.doneUnsafe(this.done, Exit.failCause(cause))
  }

  private stalled(): void {
    const collects = this.steps
      .filter((sr) => sr.buffer.size > 0)
      .map(
        (sr) =>
          new PartialCollect({ step: sr.step.name, holds: sr.buffer.holds(), needs: describeNeed(sr.buffer.lastNeed) })
      )
    this.failCause(Cause.fail(new WorkflowStalledError({ workflow: this.compiled.name, collects })))
  }

  // ---------------------------------------------------------------------------------------------
  // routing

  /** Start the run: route the StartEvent built from the decoded input. */
  start(input: object): Effect.Effect<void> {
    const ev = new StartEvent(input)
    const targets = this.compiled.routes.get(ev._tag) ?? []
    let effect: Effect.Effect<void> = Effect.void
    for (const i of targets) effect = this.deliverAll(effect, this.steps[i]!, ev)
    return effect
  }

  /**
   * Route an event emitted by `from` (returned, or sent with `ctx.send`). A StopEvent ends the run.
   * Returns the effect that starts any worker fibers the event needs.
   */
  route(from: StepRun, ev: unknown, target: string | undefined): Effect.Effect<void, UnhandledEventError> {
    if (this.finished) return Effect.void
    if (!isEvent(ev)) {
      return Effect.fail(
        new UnhandledEventError({
          workflow: this.compiled.name,
          step: from.step.name,
          event: describeValue(ev),
          reason: "which is not an event: return or send an instance of an event class (a Schema.TaggedClass)."
        })
      )
    }
    if (ev._tag === "StopEvent") {
      this.stop((ev as { result?: unknown }).result)
      return Effect.void
    }
    if (target !== undefined) {
      const step = this.compiled.byName.get(target)
      if (step === undefined || !step.acceptsTags.has(ev._tag)) {
        return Effect.fail(
          new UnhandledEventError({
            workflow: this.compiled.name,
            step: from.step.name,
            event: ev._tag,
            target,
            reason: step === undefined
              ? `to step "${target}", which does not exist. Steps: ${[...this.compiled.byName.keys()].join(", ")}.`
              : `to step "${target}", which does not accept ${ev._tag} (it accepts ${[...step.acceptsTags].join(", ")}).`
          })
        )
      }
      return this.deliver(this.steps[step.index]!, ev)
    }
    const targets = this.compiled.routes.get(ev._tag)
    if (targets === undefined) {
      return Effect.fail(
        new UnhandledEventError({
          workflow: this.compiled.name,
          step: from.step.name,
          event: ev._tag,
          reason: `but no step accepts ${ev._tag}. Add a step for it, or stop emitting it.`
        })
      )
    }
    if (targets.length === 1) return this.deliver(this.steps[targets[0]!]!, ev)
    let effect: Effect.Effect<void> = Effect.void
    for (const i of targets) effect = this.deliverAll(effect, this.steps[i]!, ev)
    return effect
  }

  private deliverAll(acc: Effect.Effect<void>, sr: StepRun, ev: AnyEvent): Effect.Effect<void> {
    const next = this.deliver(sr, ev)
    return next === Effect.void ? acc : acc === Effect.void ? next : Effect.andThen(acc, next)
  }

  /** Queue `ev` for `sr`, or start a worker for it when a slot is free. */
  private deliver(sr: StepRun, ev: AnyEvent): Effect.Effect<void> {
    this.active++
    if (sr.running < sr.step.workers) {
      sr.running++
      const slot = sr.freeSlots.pop()!
      sr.current[slot] = ev
      return Effect.asVoid(
        Effect.forkIn(Effect.provideContext(this.work(sr, slot, ev), this.context), this.scope, {
          startImmediately: false
        })
      )
    }
    sr.queue.push(ev)
    return Effect.void
  }

  // ---------------------------------------------------------------------------------------------
  // workers

  /** Handle `ev` in worker `slot` of `sr`, then whatever is queued, until the mailbox is empty. */
  private work(sr: StepRun, slot: number, ev: AnyEvent): Effect.Effect<void> {
    const ctx = sr.contexts[slot] ?? (sr.contexts[slot] = new Context_(this, sr, slot))
    const loop = (event: AnyEvent): Effect.Effect<void> =>
      Effect.flatMap(this.invoke(sr, ctx, event), () => {
        this.active--
        if (this.finished) return Effect.void
        const next = sr.shift()
        if (next !== undefined) {
          sr.current[slot] = next
          return loop(next)
        }
        sr.running--
        sr.current[slot] = undefined
        sr.freeSlots.push(slot)
        if (this.active === 0) this.stalled()
        return Effect.void
      })
    return loop(ev)
  }

  private invoke(sr: StepRun, ctx: Context_, ev: AnyEvent): Effect.Effect<void> {
    ctx.attempt = 1
    const handler = sr.step.def.handler
    return Effect.matchCauseEffect(
      Effect.suspend(() => handler(ev, ctx) as Effect.Effect<unknown, unknown>),
      {
        onSuccess: (out) =>
          out === undefined || out === null
            ? Effect.void
            : Effect.catchCause(this.route(sr, out, undefined), (cause) => {
              this.failCause(cause)
              return Effect.void
            }),
        onFailure: (cause) => {
          if (!Cause.hasInterruptsOnly(cause)) this.failCause(cause)
          return Effect.void
        }
      }
    )
  }

  // ---------------------------------------------------------------------------------------------
  // the whole run

  /** Await the run's end (with its timeout). */
  await(): Effect.Effect<unknown, unknown> {
    const wait = Deferred.await(this.done)
    const timeout = this.compiled.timeout
    if (timeout === undefined) return wait
    return Effect.timeoutOrElse(wait, {
      duration: timeout,
      orElse: () =>
        Effect.suspend(() => {
          const activeSteps = this.activeSteps()
          this.finished = true
          return Effect.fail(
            new WorkflowTimeoutError({
              workflow: this.compiled.name,
              timeout: Duration.format(timeout),
              activeSteps
            })
          )
        })
    })
  }

  // ---------------------------------------------------------------------------------------------
  // store

  withLock<A, E, R>(ctx: Context_, operation: string, effect: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> {
    return Effect.flatMap(Effect.service(EditingRun), (editing) =>
      editing === this
        ? Effect.die(new NestedStoreEditError({ workflow: this.compiled.name, step: ctx.step, operation }))
        : this.lock.withPermits(1)(effect))
  }
}

/** The step context of one worker slot. @internal */
class Context_ implements StepContext<any, AnyEvent> {
  attempt = 1
  readonly runId: string
  readonly step: string
  readonly store: Store<any>
  readonly run: Run
  readonly sr: StepRun
  readonly worker: number
  constructor(run: Run, sr: StepRun, worker: number) {
    this.run = run
    this.sr = sr
    this.worker = worker
    this.runId = run.id
    this.step = sr.step.name
    this.store = makeStore(run, this)
  }

  send(event: AnyEvent, options?: { readonly step?: string | undefined }): Effect.Effect<void, UnhandledEventError> {
    return Effect.suspend(() => this.run.route(this.sr, event, options?.step))
  }

  collect(event: AnyEvent, need: number | ReadonlyArray<any>): Effect.Effect<Option.Option<ReadonlyArray<any>>> {
    return Effect.suspend(() => {
      let spec: Need
      if (typeof need === "number") {
        if (!Number.isInteger(need) || need < 0) {
          return Effect.die(
            new RangeError(
              `Workflow "${this.run.compiled.name}": step "${this.step}" called ctx.collect with ${need}; the count must be an integer >= 0.`
            )
          )
        }
        spec = need
      } else {
        const tags: Array<string> = []
        for (const cls of need) {
          const tag = tagOf(cls)
          if (tag === undefined) {
            return Effect.die(
              new TypeError(
                `Workflow "${this.run.compiled.name}": step "${this.step}" called ctx.collect with ${describeValue(cls)}, which is not an event class.`
              )
            )
          }
          tags.push(tag)
        }
        spec = tags
      }
      const taken = this.sr.buffer.offer(event, spec)
      return Effect.succeed(taken === undefined ? Option.none() : Option.some(taken))
    })
  }
}

const makeStore = (run: Run, ctx: Context_): Store<any> => {
  const setState = (f: (s: any) => any) =>
    Effect.sync(() => {
      run.state = f(run.state)
    })
  return {
    getAll: Effect.sync(() => run.state),
    get: (key) => Effect.sync(() => (run.state as any)[key]),
    set: (key, value) => run.withLock(ctx, "set", setState((s) => ({ ...s, [key]: value }))),
    update: (key, f) => run.withLock(ctx, "update", setState((s) => ({ ...s, [key]: f(s[key]) }))),
    edit: (f) =>
      run.withLock(
        ctx,
        "edit",
        Effect.flatMap(
          Effect.provideService(
            Effect.suspend(() => f(run.state)),
            EditingRun,
            run
          ),
          (next) => setState(() => next)
        )
      )
  }
}

const describeValue = (u: unknown): string => {
  if (u === null) return "null"
  if (typeof u === "function") return `function ${u.name || "(anonymous)"}`
  if (typeof u === "object") return `an object without _tag (${Object.keys(u).slice(0, 5).join(", ") || "no keys"})`
  return `${typeof u} ${String(u)}`
}

/**
 * Run a compiled workflow on decoded input, in a scope of its own that is closed (interrupting every
 * fiber of the run) as soon as the run has a result.
 *
 * @internal
 */
export const runCompiled = (compiled: Compiled, input: object): Effect.Effect<unknown, unknown> =>
  Effect.acquireUseRelease(
    Scope.make("parallel"),
    (scope) =>
      Effect.flatMap(Effect.context<never>(), (context) => {
        const run = new Run(compiled, scope, context)
        return Effect.andThen(run.start(input), run.await())
      }),
    (scope, exit) => Scope.close(scope, exit)
  )
