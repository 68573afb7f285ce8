/**
 * The immutable workflow builder (`defineWorkflow(...).step(...)`) and the ways to run a workflow:
 * `run` (an Effect), `runPromise` (a Promise), `compile` (a reusable function from input to Effect).
 *
 * @since 0.1.0
 */
import { Cause, type Duration, Effect, Exit, Predicate, Schema } from "effect"
import { dual } from "effect/Function"
import { type Pipeable, pipeArguments } from "effect/Pipeable"
import type { AnyEvent, EventClass, StartEventClass } from "./Event.ts"
import { nameOf, tagOf } from "./Event.ts"
import { type Compiled, compile as compileRuntime, runCompiled } from "./internal/runtime.ts"
import * as Step from "./Step.ts"
import type { StepContext } from "./StepContext.ts"
import { Problem, type WorkflowError, WorkflowInputError, WorkflowValidationError } from "./WorkflowError.ts"

const TypeId: unique symbol = Symbol.for("@effect-flow/core/Workflow") as any

/**
 * The configuration given to {@link defineWorkflow}.
 *
 * @since 0.1.0
 * @category models
 */
export interface Config<Input = {}, InputEncoded = {}, Output = never, State = {}> {
  /** A name for messages, traces and diagrams. Default `"workflow"`. */
  readonly name?: string | undefined
  /** The schema the run's input is decoded with; its fields are on the `StartEvent`. */
  readonly input?: Schema.Codec<Input, InputEncoded> | undefined
  /** The schema of the run's result. */
  readonly output?: Schema.Codec<Output, any> | undefined
  /** The schema of the run's state (`ctx.store`). */
  readonly state?: Schema.Codec<State, any> | undefined
  /** The state every run starts from. */
  readonly initialState?: State | undefined
  /** Fail a run that has no result after this long with `WorkflowTimeoutError`. No default. */
  readonly timeout?: Duration.Input | undefined
}

/**
 * A workflow: plain data (its name, config and steps) plus the types its steps accumulated.
 *
 * - `Input` / `InputEncoded`: the decoded and the caller-side type of the input.
 * - `Output`: the result, from the `StopEvent`s the steps return (or the `output` schema).
 * - `State`: the store's type.
 * - `Handled`: the events some step accepts. `Emitted`: the events steps return or declare in `emits`.
 * - `E`, `R`: the handlers' errors and requirements.
 *
 * Every `.step(...)` returns a new workflow; the original is never changed, so a partial workflow can
 * serve as a base for several.
 *
 * @since 0.1.0
 * @category models
 */
export interface Workflow<
  out Input = {},
  in out InputEncoded = {},
  out Output = never,
  in out State = {},
  out Handled = never,
  out Emitted = never,
  out E = never,
  out R = never
> extends Pipeable {
  readonly [TypeId]: {
    readonly _Input: (_: never) => Input
    readonly _Output: (_: never) => Output
    readonly _Handled: (_: never) => Handled
    readonly _Emitted: (_: never) => Emitted
    readonly _E: (_: never) => E
    readonly _R: (_: never) => R
  }
  readonly name: string
  readonly config: Config<any, any, any, any>
  /** The steps, in the order they were added. */
  readonly steps: ReadonlyArray<Step.Any>

  /**
   * Add a step: `accepts` is an event class, `StartEvent`, or an array of classes; `handler` returns an
   * Effect of the next event, a `StopEvent`, or nothing.
   */
  step<
    const A extends Step.Accepts,
    Out extends ([Em] extends [never] ? AnyEvent : Step.EmitsOf<Em>) | void | undefined,
    E1 = never,
    R1 = never,
    const Em extends ReadonlyArray<EventClass<any>> = never
  >(
    accepts: A,
    handler: (event: Step.EventOf<A, Input>, ctx: StepContext<State, Step.EmitsOf<Em>>) => Effect.Effect<Out, E1, R1>,
    options?: Step.Options<Em>
  ): Workflow<
    Input,
    InputEncoded,
    Output | Step.ResultOf<Out>,
    State,
    Handled | Step.EventOf<A, Input>,
    Emitted | Exclude<Out, void | undefined> | ([Em] extends [never] ? never : Step.EmitsOf<Em>),
    E | E1,
    R | R1
  >
  /** Add a step defined on its own with `Step.make`. */
  step<In extends AnyEvent, Out, E1, R1>(
    step: Step.Step<In, Out, E1, R1, State>
  ): Workflow<Input, InputEncoded, Output | Step.ResultOf<Out>, State, Handled | In, Emitted | Out, E | E1, R | R1>
}

/**
 * Any workflow.
 *
 * @since 0.1.0
 * @category models
 */
export type Any = Workflow<any, any, any, any, any, any, any, any>

/**
 * The type-level parts of a workflow.
 *
 * @since 0.1.0
 * @category type-level
 */
export declare namespace Workflow {
  /** The caller-side input type. */
  export type InputEncoded<W> = W extends Workflow<any, infer I, any, any, any, any, any, any> ? I : never
  /** The decoded input, as on the StartEvent. */
  export type Input<W> = W extends Workflow<infer I, any, any, any, any, any, any, any> ? I : never
  /** The result type. */
  export type Output<W> = W extends Workflow<any, any, infer O, any, any, any, any, any> ? O : never
  /** The state type. */
  export type State<W> = W extends Workflow<any, any, any, infer S, any, any, any, any> ? S : never
  /** The handlers' error union. */
  export type Error<W> = W extends Workflow<any, any, any, any, any, any, infer E, any> ? E : never
  /** The handlers' requirements. */
  export type Services<W> = W extends Workflow<any, any, any, any, any, any, any, infer R> ? R : never
  /** The events some step accepts. */
  export type Handled<W> = W extends Workflow<any, any, any, any, infer H, any, any, any> ? H : never
  /** The events the steps emit. */
  export type Emitted<W> = W extends Workflow<any, any, any, any, any, infer Em, any, any> ? Em : never
}

class WorkflowImpl {
  readonly [TypeId] = undefined as any
  readonly config: Config<any, any, any, any>
  readonly steps: ReadonlyArray<Step.Any>
  constructor(config: Config<any, any, any, any>, steps: ReadonlyArray<Step.Any>) {
    this.config = config
    this.steps = steps
  }
  get name(): string {
    return this.config.name ?? "workflow"
  }
  step(accepts: any, handler?: any, options?: any): any {
    const step = handler === undefined && isStep(accepts) ? accepts : Step.fromArgs(accepts, handler, options)
    return new WorkflowImpl(this.config, [...this.steps, step])
  }
  pipe() {
    return pipeArguments(this, arguments)
  }
  toJSON() {
    return { _id: "Workflow", ...describe(this as any) }
  }
}

const isStep = (u: unknown): u is Step.Any =>
  Predicate.hasProperty(u, "handler") && Predicate.hasProperty(u, "accepts") && Predicate.hasProperty(u, "workers")

/**
 * Is this value a workflow?
 *
 * @since 0.1.0
 * @category guards
 */
export const isWorkflow = (u: unknown): u is Any => Predicate.hasProperty(u, TypeId)

/**
 * Start declaring a workflow. Add steps with `.step(accepts, handler, options)`.
 *
 * @example
 * ```ts
 * import { Effect, Schema } from "effect"
 * import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
 *
 * const hello = defineWorkflow({ name: "hello", input: Schema.Struct({ who: Schema.String }) })
 *   .step(StartEvent, (ev) => Effect.succeed(new StopEvent({ result: `Hello, ${ev.who}!` })))
 *
 * await Workflow.runPromise(hello, { who: "world" }) // "Hello, world!"
 * ```
 *
 * @since 0.1.0
 * @category constructors
 */
export const defineWorkflow = <Input = {}, InputEncoded = {}, Output = never, State = {}>(
  config: Config<Input, InputEncoded, Output, State> = {}
): Workflow<Input, InputEncoded, Output, State> => new WorkflowImpl(config, []) as any

/**
 * A new workflow with the steps of `self` followed by those of `that`; the config (name, input, state,
 * timeout) is `self`'s. Neither is changed.
 *
 * @example
 * ```ts
 * const full = Workflow.combine(dispatching, collecting)
 * ```
 *
 * @since 0.1.0
 * @category combinators
 */
export const combine: {
  <I2, IE2, O2, S, H2, Em2, E2, R2>(
    that: Workflow<I2, IE2, O2, S, H2, Em2, E2, R2>
  ): <I, IE, O, H, Em, E, R>(
    self: Workflow<I, IE, O, S, H, Em, E, R>
  ) => Workflow<I, IE, O | O2, S, H | H2, Em | Em2, E | E2, R | R2>
  <I, IE, O, S, H, Em, E, R, I2, IE2, O2, H2, Em2, E2, R2>(
    self: Workflow<I, IE, O, S, H, Em, E, R>,
    that: Workflow<I2, IE2, O2, S, H2, Em2, E2, R2>
  ): Workflow<I, IE, O | O2, S, H | H2, Em | Em2, E | E2, R | R2>
} = dual(2, (self: Any, that: Any) => new WorkflowImpl(self.config, [...self.steps, ...that.steps]) as any)

/**
 * A workflow's shape as plain data: its name and, per step, what it accepts and emits and its workers.
 *
 * @example
 * ```ts
 * Workflow.describe(parallel).steps.map((s) => `${s.name} x${s.workers}`)
 * ```
 *
 * @since 0.1.0
 * @category inspection
 */
export const describe = (
  self: Any
): {
  readonly name: string
  readonly steps: ReadonlyArray<{
    readonly name: string
    readonly accepts: ReadonlyArray<string>
    readonly emits: ReadonlyArray<string> | undefined
    readonly workers: number
    readonly retry: boolean
    readonly timeout: Duration.Input | undefined
  }>
} => ({
  name: self.name,
  steps: self.steps.map((s) => ({
    name: s.name,
    accepts: s.accepts.map((c) => nameOf(c as EventClass)),
    emits: s.emits?.map((c) => nameOf(c)),
    workers: s.workers,
    retry: s.retry !== undefined,
    timeout: s.timeout
  }))
})

// -------------------------------------------------------------------------------------------------
// validation and compilation

const problem = (check: string, message: string, steps: ReadonlyArray<string>, events: ReadonlyArray<string>) =>
  new Problem({ check, message, steps, events })

/**
 * Every problem in a workflow's definition (empty when it is valid).
 *
 * @since 0.1.0
 * @category validation
 */
export const problems = (self: Any): ReadonlyArray<Problem> => {
  const out: Array<Problem> = []
  const steps = self.steps
  const classOk = (c: unknown) => tagOf(c as EventClass) !== undefined
  for (const s of steps) {
    for (const c of s.accepts) {
      if (!classOk(c)) {
        out.push(
          problem(
            "event-class",
            `step "${s.name}" accepts ${nameOf(c as EventClass)}, which is not an event class: use a Schema.TaggedClass (or StartEvent).`,
            [s.name],
            [nameOf(c as EventClass)]
          )
        )
      }
    }
    if (s.accepts.length === 0) {
      out.push(problem("event-class", `step "${s.name}" accepts no event: pass an event class.`, [s.name], []))
    }
    for (const c of s.emits ?? []) {
      if (!classOk(c)) {
        out.push(
          problem(
            "event-class",
            `step "${s.name}" emits ${nameOf(c)}, which is not an event class: list Schema.TaggedClass classes in emits.`,
            [s.name],
            [nameOf(c)]
          )
        )
      }
    }
    if (!Number.isInteger(s.workers) || s.workers < 1) {
      out.push(
        problem(
          "workers",
          `step "${s.name}" has workers: ${s.workers}; workers must be an integer >= 1.`,
          [s.name],
          s.accepts.map((c) => nameOf(c as EventClass))
        )
      )
    }
    if (s.accepts.some((c) => tagOf(c as EventClass) === "StopEvent")) {
      out.push(
        problem(
          "stop-event-accepted",
          `step "${s.name}" accepts StopEvent, but a StopEvent ends the run and is never delivered to a step.`,
          [s.name],
          ["StopEvent"]
        )
      )
    }
  }
  if (!steps.some((s) => s.accepts.some((c) => tagOf(c as EventClass) === "StartEvent"))) {
    out.push(
      problem(
        "start-step",
        "no step accepts StartEvent, so a run could never begin: add .step(StartEvent, ...).",
        [],
        ["StartEvent"]
      )
    )
  }
  const seen = new Map<string, number>()
  for (const s of steps) seen.set(s.name, (seen.get(s.name) ?? 0) + 1)
  for (const [name, n] of seen) {
    if (n > 1) {
      out.push(
        problem(
          "unique-step-names",
          `${n} steps are named "${name}"; step names must be unique: give each a distinct { name }.`,
          [name],
          []
        )
      )
    }
  }
  return out
}

const compiledCache = new WeakMap<object, Compiled | WorkflowValidationError>()

const compiled = (self: Any): Compiled | WorkflowValidationError => {
  let c = compiledCache.get(self)
  if (c === undefined) {
    const found = problems(self)
    c =
      found.length > 0
        ? new WorkflowValidationError({ workflow: self.name, problems: found })
        : compileRuntime(self.name, self.steps, self.config.timeout, self.config.initialState ?? {})
    compiledCache.set(self, c)
  }
  return c
}

/**
 * Check a workflow's definition, failing with one `WorkflowValidationError` that lists every problem.
 * Runs (once, cached) whenever a workflow is compiled or run.
 *
 * @example
 * ```ts
 * yield* Workflow.validate(parallel)
 * ```
 *
 * @since 0.1.0
 * @category validation
 */
export const validate = <W extends Any>(self: W): Effect.Effect<W, WorkflowValidationError> =>
  Effect.suspend(() => {
    const c = compiled(self)
    return c instanceof WorkflowValidationError ? Effect.fail(c) : Effect.succeed(self)
  })

type RunEffect<W> = Effect.Effect<Workflow.Output<W>, Workflow.Error<W> | WorkflowError, Workflow.Services<W>>

const decodeInput = (self: Any, input: unknown): Effect.Effect<object, WorkflowInputError> => {
  const schema = self.config.input
  if (schema === undefined) {
    if (input === undefined) return Effect.succeed({})
    if (Predicate.isObject(input)) return Effect.succeed(input)
    return Effect.fail(
      new WorkflowInputError({ workflow: self.name, issue: `Expected an object of start fields, got ${typeof input}` })
    )
  }
  return Effect.mapError(
    Schema.decodeUnknownEffect(schema as Schema.Codec<object, unknown>)(input),
    (error) => new WorkflowInputError({ workflow: self.name, issue: error.message })
  )
}

/**
 * Turn a workflow into a function from input to the Effect of one run. The definition is checked
 * once, here; each call starts an independent run (its own state, buffers and mailboxes).
 *
 * @example
 * ```ts
 * const runParallel = yield* Workflow.compile(parallel)
 * const [a, b] = yield* Effect.all([runParallel({ items: ["a"] }), runParallel({ items: ["b"] })], { concurrency: 2 })
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const compile = <W extends Any>(
  self: W
): Effect.Effect<(input: Workflow.InputEncoded<W>) => RunEffect<W>, WorkflowValidationError> =>
  Effect.map(validate(self), () => {
    const c = compiled(self) as Compiled
    return (input) =>
      Effect.flatMap(decodeInput(self, input), (decoded) => runCompiled(c, decoded)) as RunEffect<W>
  })

/**
 * Run a workflow: decode the input, route a `StartEvent` built from it, and succeed with the `result`
 * of the first `StopEvent`. Fails with a handler's own error, or a `WorkflowError`. Every fiber of the
 * run lives in the run's scope, closed as soon as the run has its result.
 *
 * @example
 * ```ts
 * const result = yield* Workflow.run(parallel, { items: ["a", "b", "c"] })
 * // or: parallel.pipe(Workflow.run({ items: ["a", "b", "c"] }))
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run: {
  <IE>(input: IE): <W extends Workflow<any, IE, any, any, any, any, any, any>>(self: W) => RunEffect<W>
  <W extends Any>(self: W, input: Workflow.InputEncoded<W>): RunEffect<W>
} = dual(
  (args) => isWorkflow(args[0]),
  (self: Any, input: unknown) =>
    Effect.flatMap(validate(self), () =>
      Effect.flatMap(decodeInput(self, input), (decoded) => runCompiled(compiled(self) as Compiled, decoded)))
)

/**
 * Run a workflow from plain Promise code. Resolves with the result; rejects with the original error
 * instance (so `err._tag` and `instanceof` work), or the defect. For workflows that need services, run
 * `Workflow.run(wf, input)` through a `ManagedRuntime` built from your Layer instead.
 *
 * @example
 * ```ts
 * try {
 *   const result = await Workflow.runPromise(parallel, { items: ["a", "b"] })
 * } catch (err) {
 *   if (err instanceof WorkflowStalledError) console.error(err.message)
 * }
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const runPromise = <W extends Workflow<any, any, any, any, any, any, any, never>>(
  self: W,
  input: Workflow.InputEncoded<W>,
  options?: { readonly signal?: AbortSignal | undefined }
): Promise<Workflow.Output<W>> =>
  Effect.runPromiseExit(run(self, input) as Effect.Effect<Workflow.Output<W>, unknown>, options).then((exit) => {
    if (Exit.isSuccess(exit)) return exit.value
    throw causeToError(exit.cause)
  })

const causeToError = (cause: Cause.Cause<unknown>): unknown => {
  const found = Cause.findError(cause)
  if (found._tag === "Success") return found.success
  return Cause.squash(cause)
}
