/**
 * From a workflow and an input to what the interpreter runs: the checked, compiled workflow (cached per
 * workflow value) and the decoded input.
 */
import { Duration, Effect, Option, Predicate, Schema } from "effect"
import type * as Step from "../Step.ts"
import { Problem, WorkflowInputError, WorkflowValidationError } from "../WorkflowError.ts"
import * as Graph from "./graph.ts"
import { type Compiled, compile, type Hooks, runCompiled } from "./runtime.ts"

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

const isDuration = (input: unknown): boolean => {
  try {
    return Option.isSome(Duration.fromInput(input as Duration.Input))
  } catch {
    return false
  }
}

/** The checks of the config and of step options that are not about the graph. */
const configProblems = (self: Definition): Array<Problem> => {
  const out: Array<Problem> = []
  const badTimeout = (where: string, value: unknown, steps: ReadonlyArray<string>) =>
    new Problem({
      check: "timeout",
      message: `${where} has timeout ${JSON.stringify(value)}, which is not a duration: use e.g. "30 seconds" or Duration.seconds(30).`,
      steps,
      events: []
    })
  if (self.config.timeout !== undefined && !isDuration(self.config.timeout)) {
    out.push(badTimeout("the workflow", self.config.timeout, []))
  }
  for (const step of self.steps) {
    if (step.timeout !== undefined && !isDuration(step.timeout))
      out.push(badTimeout(`step "${step.name}"`, step.timeout, [step.name]))
  }
  const state = self.config.state
  if (state !== undefined) {
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
      const checked = Schema.decodeUnknownResult(Schema.toType(state as Schema.Codec<unknown, unknown>))(
        self.config.initialState
      )
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
  Effect.flatMap(prepare(self, input), ([c, decoded]) => runCompiled(c, decoded, hooks))
