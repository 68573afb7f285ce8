/**
 * A handler's effect, run as far as it goes without a fiber. Most handlers build their outcome from values
 * at hand: `Effect.map(Effect.succeed(x), f)`, `Effect.flatMap(ctx.store.get(k), ...)`, `ctx.collect(...)`.
 * A fiber would push a frame per `map`/`flatMap`, count operations and look for interruption between them;
 * here the engine does what the fiber would for the few primitives that need no fiber (an `Exit`, a
 * step-context operation that is done at once, `Effect.sync`, `Effect.suspend`, and `map` / `flatMap` /
 * `andThen` / `as`) and stops at the first other one. It returns the outcome as an `Exit`, or the effect
 * that is left (what it stopped at, wrapped in the continuations not yet applied) for the worker's fiber
 * to run. A throw is a defect, as in a fiber.
 *
 * It leans on how effect 4.1 builds these primitives; the shapes are found once and checked by running
 * sample effects both ways. If they do not match, `runInPlace` returns every effect as it is.
 *
 * @internal
 */
import { Cause, Effect, Exit } from "effect"
import { failureProto, SyncOp, successProto } from "./primitive.ts"

interface Shapes {
  /** The prototype of `map`/`flatMap`/`andThen`/`as`, and the keys of the effect it runs first and of its continuation. */
  readonly cont: object
  readonly argsKey: string
  readonly contKey: string
  /** The continuations: `map` (payload maps the value), `flatMap` (payload makes the next effect), and one returning its payload. */
  readonly mapCont: unknown
  readonly flatMapCont: unknown
  readonly returnCont: unknown
  readonly sync: object
  readonly suspend: object
  /** What `Effect.gen` and `Effect.fnUntraced` run: a generator, as an effect. */
  readonly iterator: object
}

const find = (): Shapes | undefined => {
  const inner = Effect.succeed(1)
  const f = (n: number) => n
  const mapped = Effect.map(inner, f) as unknown as Record<string, unknown>
  const argsKey = Object.keys(mapped).find((k) => mapped[k] === inner)
  const contKey = Object.keys(mapped).find((k) => k !== argsKey && typeof mapped[k] === "function" && mapped[k] !== f)
  if (argsKey === undefined || contKey === undefined || mapped.payload !== f) return undefined
  const cont = Object.getPrototypeOf(mapped)
  const flatMapped = Effect.flatMap(inner, Effect.succeed) as unknown as Record<string, unknown>
  const andThen = Effect.andThen(inner, Effect.void) as unknown as Record<string, unknown>
  if (Object.getPrototypeOf(flatMapped) !== cont || Object.getPrototypeOf(andThen) !== cont) return undefined
  if (andThen.payload !== Effect.void) return undefined
  const sync = Effect.sync(() => 1) as unknown as Record<string, unknown>
  const suspend = Effect.suspend(() => inner) as unknown as Record<string, unknown>
  if (typeof sync[argsKey] !== "function" || typeof suspend[argsKey] !== "function") return undefined
  const gen = Effect.fnUntraced(function* () {
    return 1
  })() as unknown as Record<string, () => Record<string, unknown>>
  if (Object.getPrototypeOf(gen) !== Object.getPrototypeOf(suspend)) return undefined
  const iterator = gen[argsKey]!()
  if (typeof (iterator.iterator as Iterator<unknown>)?.next !== "function" || !("initial" in iterator)) return undefined
  return {
    iterator: Object.getPrototypeOf(iterator),
    cont,
    argsKey,
    contKey,
    mapCont: mapped[contKey],
    flatMapCont: flatMapped[contKey],
    returnCont: andThen[contKey],
    sync: Object.getPrototypeOf(sync),
    suspend: Object.getPrototypeOf(suspend)
  }
}

let shapes: Shapes | undefined
try {
  shapes = find()
} catch {
  shapes = undefined
}

/**
 * How many primitives one call runs in place at most: as many operations as effect's fiber runs before it
 * yields to other fibers (`References.MaxOpsBeforeYield`'s default). What is left past them goes to the fiber.
 *
 * @internal
 */
export const MAX_STEPS = 2048

/** Continuations met and not yet applied, innermost last; shared, each call working above where it found it. */
const frames: Array<Record<string, any>> = []

/** The effect that is left: `effect`, then the continuations above `base`, innermost first. */
const rebuild = (s: Shapes, effect: unknown, base: number): Effect.Effect<unknown, unknown> => {
  let rest = effect
  while (frames.length > base) {
    const frame = frames.pop()!
    const copy = Object.assign(Object.create(s.cont), frame)
    copy[s.argsKey] = rest
    rest = copy
  }
  return rest as Effect.Effect<unknown, unknown>
}

/**
 * What `runInPlaceOrValue` returns when the effect succeeded: its value is then in `succeededWith`, to be read
 * at once (before anything else runs in place), so the engine's own callers get it with no `Exit` made for it.
 *
 * @internal
 */
export const SUCCEEDED: Effect.Effect<unknown, unknown> = Object.freeze(Object.create(null))
let succeededWith: unknown

/** The value of the effect `runInPlaceOrValue` just ran, when it returned `SUCCEEDED`. @internal */
export const takeSucceeded = (): unknown => {
  const value = succeededWith
  succeededWith = undefined
  return value
}

const evaluate = (
  s: Shapes,
  effect: Effect.Effect<unknown, unknown>,
  raw: boolean
): Effect.Effect<unknown, unknown> => {
  const { argsKey, contKey } = s
  const base = frames.length
  let current: any = effect
  let value: unknown
  let budget = MAX_STEPS
  try {
    outer: while (true) {
      if (typeof current !== "object" || current === null) return rebuild(s, current, base)
      // Past a fiber's worth of work, what is left goes to the fiber, which yields to others now and then: a
      // long or endless chain must not hold the thread where a fiber would let a timeout or a cancel in.
      if (--budget === 0) return rebuild(s, current, base)
      const proto = Object.getPrototypeOf(current)
      if (proto === s.cont) {
        frames.push(current)
        current = current[argsKey]
        continue
      }
      if (proto === successProto) {
        // An Exit with nothing left to apply is the outcome itself.
        if (frames.length === base) return current
        value = current.value
      } else if (proto === failureProto) {
        // `map`/`flatMap` have no failure continuation: the failure is the outcome.
        frames.length = base
        return current
      } else if (proto === s.sync) value = current[argsKey]()
      else if (proto === s.suspend) {
        current = current[argsKey]()
        continue
      } else if (current instanceof SyncOp && current.ctx.run.pause === undefined) value = current.perform()
      else return rebuild(s, current, base)
      // A value: apply the continuations met so far, innermost first.
      while (frames.length > base) {
        const frame = frames[frames.length - 1]!
        const cont = frame[contKey]
        if (cont === s.mapCont) value = frame.payload(value)
        else if (cont === s.flatMapCont) current = frame.payload(value)
        else if (cont === s.returnCont) current = frame.payload
        else return rebuild(s, Exit.succeed(value), base)
        frames.pop()
        if (cont !== s.mapCont) continue outer
      }
      if (!raw) return Exit.succeed(value)
      succeededWith = value
      return SUCCEEDED
    }
  } catch (thrown) {
    frames.length = base
    return Exit.die(thrown)
  }
}

/** Whether running in place gives what a fiber gives, on sample effects (checked once). */
const agrees = (s: Shapes): boolean => {
  const samples: Array<Effect.Effect<unknown, unknown>> = [
    Effect.map(Effect.succeed(1), (n) => n + 1),
    Effect.flatMap(
      Effect.sync(() => 2),
      (n) => Effect.map(Effect.succeed(n), (m) => m * 3)
    ),
    Effect.andThen(
      Effect.suspend(() => Effect.succeed(1)),
      Effect.as(Effect.void, 4)
    ),
    Effect.flatMap(Effect.fail("no"), () => Effect.succeed(1)),
    Effect.map(Effect.succeed(1), () => {
      throw "thrown"
    }),
    Effect.map(
      Effect.flatMap(Effect.succeed(1), (n) => Effect.map(Effect.yieldNow, () => n + 1)),
      (n) => n * 10
    )
  ]
  const same = (a: Exit.Exit<unknown, unknown>, b: Exit.Exit<unknown, unknown>) =>
    a._tag === b._tag &&
    (a._tag === "Success"
      ? a.value === (b as Exit.Success<unknown>).value
      : Cause.squash(a.cause) === Cause.squash((b as Exit.Failure<unknown, unknown>).cause))
  return samples.every((sample) => {
    const left = evaluate(s, sample, false)
    return same(Effect.runSyncExit(sample), Effect.runSyncExit(left))
  })
}

const shapesChecked: Shapes | undefined = (() => {
  try {
    return shapes !== undefined && agrees(shapes) ? shapes : undefined
  } catch {
    return undefined
  }
})()

/**
 * `effect`, run as far as it goes without a fiber (see the module's description): an `Exit` when it went all
 * the way, otherwise the effect left to run.
 *
 * @internal
 */
export const runInPlace = (effect: Effect.Effect<unknown, unknown>): Effect.Effect<unknown, unknown> =>
  shapesChecked === undefined ? effect : evaluate(shapesChecked, effect, false)

/**
 * {@link runInPlace}, for the engine's own callers: `SUCCEEDED` when the effect succeeded (its value is then
 * `takeSucceeded()`), otherwise what `runInPlace` returns.
 *
 * @internal
 */
export const runInPlaceOrValue = (effect: Effect.Effect<unknown, unknown>): Effect.Effect<unknown, unknown> =>
  shapesChecked === undefined ? effect : evaluate(shapesChecked, effect, true)

/**
 * The generator of `effect`, when it is an `Effect.gen` or `Effect.fnUntraced` body not yet started (as
 * `runInPlace` leaves one), for the engine to step (`drive` in generator.ts) as it steps a generator handler.
 *
 * @internal
 */
export const generatorOf = (
  effect: Effect.Effect<unknown, unknown>
): Iterator<unknown, unknown, unknown> | undefined => {
  if (shapesChecked === undefined || Object.getPrototypeOf(effect) !== shapesChecked.iterator) return undefined
  const primitive = effect as unknown as {
    readonly iterator: Iterator<unknown, unknown, unknown>
    readonly initial: unknown
  }
  return primitive.initial === undefined ? primitive.iterator : undefined
}

/** Whether `runInPlace` runs effects at all here (effect's primitives have the shapes it knows). @internal */
export const inPlaceWorks: boolean = shapesChecked !== undefined
