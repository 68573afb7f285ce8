/**
 * From a workflow and an input to what the interpreter runs: the checked, compiled workflow (cached per
 * workflow value) and the decoded input.
 */
import { Duration, Effect, Exit, Option, Predicate, Schedule, Schema } from "effect"
import type * as Step from "../Step.ts"
import { Problem, WorkflowInputError, WorkflowValidationError } from "../WorkflowError.ts"
import * as Graph from "./graph.ts"
import { clonePlain, cyclePath } from "./plain.ts"
import { isExit } from "./primitive.ts"
import { type Compiled, compile, type Hooks, runCompiled, runNow as runCompiledNow } from "./runtime.ts"

/**
 * The key under which `defineWorkflow` keeps a config that is not an object (`null`, a string...), so
 * that `Workflow.validate` reports it with the other problems instead of the builder throwing.
 *
 * @internal
 */
export const NotAnObject: unique symbol = Symbol.for("@effect-flow/core/NotAnObjectConfig") as any

/** What the interpreter needs of a workflow. @internal */
export interface Definition {
  readonly name: string
  readonly steps: ReadonlyArray<Step.Any>
  readonly config: {
    readonly input?: Schema.Codec<any, any> | undefined
    readonly timeout?: import("effect").Duration.Input | undefined
    readonly initialState?: unknown
    readonly state?: Schema.Codec<any, any> | undefined
    readonly output?: Schema.Codec<any, any> | undefined
    readonly outsideInput?: ReadonlyArray<any> | undefined
    readonly ignoreChecks?: ReadonlyArray<any> | undefined
  }
}

/** @internal */
export const problems = (self: Definition): ReadonlyArray<Problem> => [
  ...Graph.problems({
    steps: self.steps,
    outsideInput: self.config.outsideInput,
    ignoreChecks: self.config.ignoreChecks
  }),
  ...configProblems(self)
]

/** Why `input` is not a positive duration, or `undefined` when it is one. */
const notPositiveDuration = (input: unknown): string | undefined => {
  if (typeof input === "number" && Number.isNaN(input)) return "NaN, which is not a duration"
  let decoded: Option.Option<Duration.Duration>
  try {
    decoded = Duration.fromInput(input as Duration.Input)
  } catch {
    decoded = Option.none()
  }
  if (Option.isNone(decoded)) return "not a duration"
  const millis = Duration.toMillis(decoded.value)
  if (millis > 0) return undefined
  return millis === 0 ? "zero, so it would time out at once" : "negative"
}

const show = (u: unknown): string => {
  if (typeof u === "function") return `function ${u.name || "(anonymous)"}`
  if (typeof u === "number" || typeof u === "bigint" || typeof u === "symbol") return String(u)
  try {
    return JSON.stringify(u) ?? String(u)
  } catch {
    return Object.prototype.toString.call(u)
  }
}

/** The checks of the config and of step options that are not about the graph. */
const configProblems = (self: Definition): Array<Problem> => {
  const out: Array<Problem> = []
  if (NotAnObject in self.config) {
    out.push(
      new Problem({
        check: "config",
        message: `defineWorkflow was given ${show((self.config as any)[NotAnObject])}, which is not an object: pass a config object such as { name: "my-workflow" }, or nothing.`,
        steps: [],
        events: []
      })
    )
  }
  const checkTimeout = (where: string, value: unknown, steps: ReadonlyArray<string>) => {
    if (value === undefined) return
    const why = notPositiveDuration(value)
    if (why === undefined) return
    out.push(
      new Problem({
        check: "timeout",
        message: `${where} has timeout ${show(value)}, which is ${why}: use a positive duration, e.g. "30 seconds" or Duration.seconds(30).`,
        steps,
        events: []
      })
    )
  }
  checkTimeout("the workflow", self.config.timeout, [])
  for (const step of self.steps) {
    checkTimeout(`step "${step.name}"`, step.timeout, [step.name])
    if (typeof step.handler !== "function") {
      out.push(
        new Problem({
          check: "handler",
          message: `step "${step.name}" has handler ${show(step.handler)}, which is not a function: pass (event, ctx) => Effect, or a generator function.`,
          steps: [step.name],
          events: []
        })
      )
    }
    if (step.distribute !== undefined && typeof step.distribute !== "boolean") {
      out.push(
        new Problem({
          check: "distribute",
          message: `step "${step.name}" has distribute ${show(step.distribute)}, which is not a boolean: use distribute: true to run its invocations on any runner of a cluster, or leave it out.`,
          steps: [step.name],
          events: []
        })
      )
    }
    if (step.retry !== undefined && !Schedule.isSchedule(step.retry)) {
      out.push(
        new Problem({
          check: "retry",
          message: `step "${step.name}" has retry ${show(step.retry)}, which is not a Schedule: use e.g. Schedule.recurs(3) for three retries, or Schedule.exponential("100 millis").pipe(Schedule.upTo({ times: 3 })).`,
          steps: [step.name],
          events: []
        })
      )
    }
  }
  const state = self.config.state
  if (state === undefined) {
    const cycle = cyclePath(self.config.initialState)
    if (cycle !== undefined) {
      out.push(
        new Problem({
          check: "initial-state",
          message: `initialState is cyclic (${cycle} refers back to an object that contains it); each run copies the initial state, so it must be plain data without cycles.`,
          steps: [],
          events: []
        })
      )
    }
  } else {
    if (self.config.initialState === undefined) {
      out.push(
        new Problem({
          check: "initial-state",
          message: "the workflow has a state schema but no initialState: give defineWorkflow an initialState.",
          steps: [],
          events: []
        })
      )
    } else {
      // Encoded, as a checkpoint of the state would be: a value the schema cannot encode fails here, not later.
      let checked: { readonly _tag: "Success" } | { readonly _tag: "Failure"; readonly failure: { message: string } }
      try {
        checked = Schema.encodeUnknownResult(state as Schema.Codec<unknown, unknown>)(self.config.initialState)
      } catch (defect) {
        checked = { _tag: "Failure", failure: { message: String(defect) } }
      }
      if (checked._tag === "Failure") {
        out.push(
          new Problem({
            check: "initial-state",
            message: `initialState does not match the state schema: ${checked.failure.message}`,
            steps: [],
            events: []
          })
        )
      }
    }
  }
  return out
}

const cache = new WeakMap<object, Compiled | WorkflowValidationError>()

/** The compiled workflow, or every problem found in it; computed once per workflow value. @internal */
export const compiled = (self: Definition): Compiled | WorkflowValidationError => {
  let c = cache.get(self)
  if (c === undefined) {
    const found = problems(self)
    c =
      found.length > 0
        ? new WorkflowValidationError({ workflow: self.name, problems: found })
        : compile(self.name, self.steps, self.config.timeout, self.config.initialState ?? {}, self.config.output)
    cache.set(self, c)
  }
  return c
}

/** @internal */
export const decodeInput = (self: Definition, input: unknown): Effect.Effect<object, WorkflowInputError> => {
  const schema = self.config.input
  if (schema === undefined) {
    if (input === undefined) return Effect.succeed({})
    // A fresh copy: a `__proto__` key of JSON input stays a plain field and never replaces a prototype.
    if (Predicate.isObject(input) && !Array.isArray(input)) return Effect.succeed(clonePlain(input) as object)
    return Effect.fail(
      new WorkflowInputError({
        workflow: self.name,
        issue: `Expected an object of start fields, got ${Array.isArray(input) ? "an array" : input === null ? "null" : typeof input}`
      })
    )
  }
  let decode = decoders.get(schema)
  if (decode === undefined) {
    decode = Schema.decodeUnknownEffect(schema as Schema.Codec<object, unknown>)
    decoders.set(schema, decode)
  }
  const decoded = decode(input)
  // Input that decoded at once (no asynchronous transformation) needs no effect around it.
  if (isExit(decoded) && decoded._tag === "Success") return decoded as Exit.Exit<object>
  return Effect.mapError(
    decoded as Effect.Effect<object, Schema.SchemaError>,
    (error) => new WorkflowInputError({ workflow: self.name, issue: error.message })
  )
}

/** Each input schema's decoder, made once (a decoder compiles its schema on first use). */
const decoders = new WeakMap<object, (input: unknown) => Effect.Effect<object, Schema.SchemaError, unknown>>()

/** Check the workflow and decode the input. @internal */
export const prepare = (
  self: Definition,
  input: unknown
): Effect.Effect<readonly [Compiled, object], WorkflowValidationError | WorkflowInputError> =>
  Effect.suspend((): Effect.Effect<readonly [Compiled, object], WorkflowValidationError | WorkflowInputError> => {
    const c = compiled(self)
    if (c instanceof WorkflowValidationError) return Effect.fail(c)
    return Effect.map(decodeInput(self, input), (decoded) => [c, decoded] as const)
  })

/** Check the workflow, decode the input and run it with `hooks`. @internal */
export const run = (self: Definition, input: unknown, hooks?: Hooks): Effect.Effect<unknown, unknown> =>
  Effect.suspend(() => {
    const c = compiled(self)
    if (c instanceof WorkflowValidationError) return Effect.fail(c)
    const decoded = decodeInput(self, input)
    if (isExit(decoded) && decoded._tag === "Success") return runCompiled(c, decoded.value as object, hooks)
    return Effect.flatMap(decoded, (value) => runCompiled(c, value, hooks))
  })

/**
 * `run` with no hooks, started at once in the empty context and outside any fiber (`Workflow.runPromise`'s): the
 * run's `Exit` when it ended at once, else the effect that runs the rest of it in a fiber whose context is the
 * empty one (see `runNow` in lifecycle.ts). A run whose handlers all return at once then costs no fiber. @internal
 */
export const runNow = (self: Definition, input: unknown): Effect.Effect<unknown, unknown> => {
  const c = compiled(self)
  if (c instanceof WorkflowValidationError) return Exit.fail(c)
  const decoded = decodeInput(self, input)
  if (isExit(decoded) && decoded._tag === "Success") return runCompiledNow(c, decoded.value as object)
  return Effect.flatMap(decoded, (value) => runCompiled(c, value))
}
