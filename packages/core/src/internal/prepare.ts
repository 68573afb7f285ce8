/**
 * From a workflow and an input to what the interpreter runs: the checked, compiled workflow (cached per
 * workflow value) and the decoded input.
 */
import { Effect, Predicate, Schema } from "effect"
import type * as Step from "../Step.ts"
import { WorkflowInputError, WorkflowValidationError } from "../WorkflowError.ts"
import * as Graph from "./graph.ts"
import { type Compiled, compile } from "./runtime.ts"

/** What the interpreter needs of a workflow. @internal */
export interface Definition {
  readonly name: string
  readonly steps: ReadonlyArray<Step.Any>
  readonly config: {
    readonly input?: Schema.Codec<any, any> | undefined
    readonly timeout?: import("effect").Duration.Input | undefined
    readonly initialState?: unknown
    readonly outsideInput?: ReadonlyArray<any> | undefined
    readonly ignoreChecks?: ReadonlyArray<any> | undefined
  }
}

/** @internal */
export const problems = (self: Definition) =>
  Graph.problems({
    steps: self.steps,
    outsideInput: self.config.outsideInput,
    ignoreChecks: self.config.ignoreChecks
  })

const cache = new WeakMap<object, Compiled | WorkflowValidationError>()

/** The compiled workflow, or every problem found in it; computed once per workflow value. @internal */
export const compiled = (self: Definition): Compiled | WorkflowValidationError => {
  let c = cache.get(self)
  if (c === undefined) {
    const found = problems(self)
    c =
      found.length > 0
        ? new WorkflowValidationError({ workflow: self.name, problems: found })
        : compile(self.name, self.steps, self.config.timeout, self.config.initialState ?? {})
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
