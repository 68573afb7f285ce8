/**
 * The handler boundary: what the engine checks of the values user code hands it (a handler's result, a
 * `store.edit` function's result, a `waitFor` `match`, a `collect` count), and the defects that say what
 * was wrong, where, and how to fix it. Pure functions; the interpreter calls them at each crossing.
 *
 * @internal
 */
import { Cause, Effect } from "effect"
import { isEvent } from "../Event.ts"
import { HandlerBoundaryError } from "../WorkflowError.ts"

/** Where user code runs: the workflow, and the step and event (or call) when there is one. @internal */
export interface Site {
  readonly workflow: string
  readonly step?: string | undefined
  readonly event?: string | undefined
}

const isThenable = (u: unknown): boolean =>
  u !== null && (typeof u === "object" || typeof u === "function") && typeof (u as any).then === "function"

const isGenerator = (u: unknown): boolean =>
  u !== null &&
  typeof u === "object" &&
  typeof (u as any).next === "function" &&
  typeof (u as any)[Symbol.iterator] === "function"

/** Is `f` a generator function (`function*`)? Such a handler is wrapped once, as `Effect.fnUntraced` does. @internal */
export const isGeneratorFunction = (f: unknown): f is (...args: Array<any>) => Generator<any, any, any> =>
  typeof f === "function" && Object.prototype.toString.call(f) === "[object GeneratorFunction]"

/** A short description of a value, for messages. @internal */
export const describeValue = (u: unknown): string => {
  if (u === null) return "null"
  if (u === undefined) return "undefined"
  if (typeof u === "function") return `function ${u.name || "(anonymous)"}`
  if (isThenable(u)) return "a Promise"
  if (isEvent(u)) return `the event ${u._tag}`
  if (Array.isArray(u)) return `an array of ${u.length}`
  if (typeof u === "object") return `an object without _tag (${Object.keys(u).slice(0, 5).join(", ") || "no keys"})`
  return `${typeof u} ${String(u)}`
}

const promiseFix =
  "Async functions are not handlers: wrap the Promise in Effect.promise(() => ...) or Effect.tryPromise({ try: () => ..., catch: (e) => ... }) and return that Effect, or write the handler with Effect.gen"

/** What `what` returned instead of an Effect, and how to fix it. */
const notAnEffect = (site: Site, what: string, value: unknown, fix: string): HandlerBoundaryError =>
  new HandlerBoundaryError({
    ...site,
    problem: `${what} returned ${describeValue(value)}, not an Effect`,
    fix: isThenable(value)
      ? promiseFix
      : isGenerator(value)
        ? "A function that returns a generator is not a handler: make the handler itself a generator function (function* (event, ctx) { ... }), or return Effect.gen(function* () { ... })"
        : fix
  })

/**
 * A handler's result, checked: the Effect itself, or an Effect that dies saying what the handler returned
 * instead and how to fix it.
 *
 * @internal
 */
export const handlerResult = (site: Site, value: unknown): Effect.Effect<unknown, unknown> =>
  Effect.isEffect(value)
    ? (value as Effect.Effect<unknown, unknown>)
    : Effect.die(
        notAnEffect(
          site,
          "the handler",
          value,
          isEvent(value)
            ? `Return an Effect of the event: Effect.succeed(new ${value._tag}(...))`
            : value === undefined
              ? "Return Effect.void to emit nothing (a handler with a { block } body must return its Effect), or Effect.succeed(event)"
              : "Return an Effect: Effect.succeed(event), Effect.void, or Effect.gen(function* () { ... })"
        )
      )

/** A `store.edit` function's result, checked like a handler's. @internal */
export const editResult = <A, E, R>(site: Site, value: Effect.Effect<A, E, R>): Effect.Effect<A, E, R> =>
  Effect.isEffect(value)
    ? value
    : Effect.die(
        notAnEffect(
          site,
          "the function given to ctx.store.edit",
          value,
          "store.edit takes (state) => Effect of the new state: return Effect.succeed({ ...state, ... }), or use store.update(key, f) for a plain function"
        )
      )

/** A `ctx.waitFor` `match` that threw. @internal */
export const matchThrew = (site: Site, error: unknown): HandlerBoundaryError =>
  new HandlerBoundaryError({
    ...site,
    problem: `the match function of ctx.waitFor threw ${String(error)}`,
    fix: "match must be a predicate that returns true or false for every event of the class; check fields before reading them"
  })

/** A workflow `output` schema check that threw. @internal */
export const outputCheckThrew = (site: Site, error: unknown): HandlerBoundaryError =>
  new HandlerBoundaryError({
    ...site,
    problem: `checking the StopEvent's result with the output schema threw ${String(error)}`,
    fix: "A schema's checks and transformations must not throw: report a failure through the schema (e.g. Schema.makeFilter) instead"
  })

/**
 * The handler threw instead of returning an Effect: a defect naming the step, with what was thrown as its
 * `cause` (a throw inside the handler's Effect, e.g. in `Effect.sync`, is a defect of that Effect instead).
 *
 * @internal
 */
export const handlerThrew = (site: Site, thrown: unknown): HandlerBoundaryError =>
  new HandlerBoundaryError({
    ...site,
    problem: `the handler threw ${thrown instanceof Error ? `${thrown.name}: ${thrown.message}` : describeValue(thrown)}`,
    fix: "A handler returns an Effect: report an expected failure with Effect.fail, and wrap code that may throw in Effect.try or Effect.sync so it fails inside the Effect",
    cause: thrown
  })

/**
 * A fiber of the run ended with a failure nothing in it handled. Handlers' own failures and defects are
 * handled inside their worker, so this is a fiber that died outside them: most often an Effect that
 * continued with something that is not an Effect (the function given to `Effect.flatMap` or `Effect.andThen`
 * returned a Promise), which ends a fiber at once, skipping its error handling and finalizers.
 *
 * @internal
 */
export const fiberDied = (site: Site, cause: Cause.Cause<unknown>): HandlerBoundaryError => {
  const defect = Cause.squash(cause)
  const text = defect instanceof Error ? defect.message : String(defect)
  const invalid = /Not a valid effect: (.*)$/.exec(text)
  // effect names an Option or a Result by its `toString`: `some(1)`, `none()`, `success(1)`, `failure("e")`.
  const shown = invalid?.[1] ?? ""
  const kind = /^(some|none|success|failure)\(/.exec(shown)?.[1]
  if (kind !== undefined) return notYieldable(site, shown, kind === "some" || kind === "none")
  return new HandlerBoundaryError({
    ...site,
    problem:
      invalid === null
        ? `died outside its error handling: ${text}`
        : `went on with ${invalid[1] === "[object Promise]" ? "a Promise" : invalid[1]}, which is not an Effect (a function given to Effect.flatMap, Effect.andThen or yield* returned it)`,
    fix:
      invalid === null
        ? "This is a bug in the code that ran there; the run was stopped so that it does not hang"
        : `${promiseFix}; every function given to Effect.flatMap or Effect.andThen must return an Effect`
  })
}

/**
 * An Option or a Result where an Effect was expected: effect v4 runs neither (`yield*` of one in `Effect.gen` or a
 * generator handler, or one returned to `Effect.flatMap`), as `Effect.gen`'s own fiber would die with it.
 */
const notYieldable = (site: Site, shown: string, option: boolean): HandlerBoundaryError => {
  const what = option ? "an Option" : "a Result"
  return new HandlerBoundaryError({
    ...site,
    problem: `went on with ${what} (${shown}), which is not an Effect: in effect v4, ${what} cannot be yield*-ed in a generator or Effect.gen, nor returned to Effect.flatMap or Effect.andThen`,
    fix: option
      ? "Make it an Effect with yield* Effect.fromOption(option) (a None fails with NoSuchElementError), or read it with Option.getOrElse / Option.match"
      : "Make it an Effect with yield* Effect.fromResult(result) (a Failure fails with its error), or read it with Result.getOrElse / Result.match"
  })
}
