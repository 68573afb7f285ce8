/**
 * A handler's effect behaves as it would in a fiber of its own, however the engine runs it: in place without a
 * fiber (internal/inPlace.ts), stepped by the generator driver (internal/generator.ts), in a worker started in
 * its sender's fiber, or in a worker fiber (a recorded run, here one whose stream has lifecycle events, forks
 * every worker and runs each handler as an effect). Each case compares the two engine paths with each other
 * and with what plain Effect does.
 */
import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, Event, HandlerBoundaryError, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Cause, type Duration, Effect, Exit, Fiber, Option, Result, Stream } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"
import { CHILDREN } from "../src/internal/invocation.ts"

class Item extends Event.TaggedData("Item")<{ readonly n: number }> {}
class Done extends Event.TaggedData("Done")<{ readonly n: number }> {}

/** Run `wf` on the lean path (`Workflow.run`) or the recorded one (a handle with lifecycle events), as an Exit. */
const runOn = (recorded: boolean, wf: any): Effect.Effect<Exit.Exit<unknown, unknown>, unknown> =>
  (recorded
    ? Effect.scoped(
        Effect.flatMap(Workflow.start(wf, {}, { lifecycle: true }), (handle) =>
          Effect.andThen(Effect.forkChild(Stream.runDrain(handle.events)), Effect.exit(handle.result))
        )
      )
    : Effect.exit(Workflow.run(wf, {}))) as Effect.Effect<Exit.Exit<unknown, unknown>, unknown>

/** The Exit of `effect` forked now, after `adjust` of virtual time (up to 3 times) and the fibers' turns, or `undefined` if it has not ended. */
const endedAfter = <A, E>(effect: Effect.Effect<A, E>, adjust: Duration.Input) =>
  Effect.gen(function* () {
    const fiber = yield* Effect.forkChild(effect)
    // A sleep registered after an adjust (behind the fibers' yields) is reached by the next one.
    for (let round = 0; round < 3 && fiber.pollUnsafe() === undefined; round++) {
      yield* TestClock.adjust(adjust)
      for (let i = 0; i < 100 && fiber.pollUnsafe() === undefined; i++) yield* Effect.yieldNow
    }
    const exit = fiber.pollUnsafe()
    if (exit === undefined) yield* Fiber.interrupt(fiber)
    return exit === undefined ? undefined : Exit.isSuccess(exit) ? exit.value : undefined
  })

const paths = [false, true] as const
const pathName = (recorded: boolean) => (recorded ? "recorded" : "lean")

/** Workflows whose handler interrupts itself (`Effect.interrupt`), in each way the engine runs a handler. */
const selfInterrupting = {
  "returned at once": defineWorkflow({ name: "i" }).step(StartEvent, () => Effect.interrupt),
  "yielded by a generator": defineWorkflow({ name: "i" }).step(StartEvent, function* () {
    yield* Effect.interrupt
    return new StopEvent({ result: 1 })
  }),
  "after a sleep, in a worker fiber": defineWorkflow({ name: "i" })
    .step(StartEvent, (_, ctx) => ctx.sendAll([new Item({ n: 1 }), new Item({ n: 2 })]), { emits: [Item] })
    .step(Item, (ev) => (ev.n === 1 ? Effect.andThen(Effect.sleep("1 second"), Effect.interrupt) : Effect.never), {
      workers: 2
    }),
  "in Effect.gen of a worker started in place": defineWorkflow({ name: "i" })
    .step(StartEvent, (_, ctx) => ctx.send(new Item({ n: 1 })), { emits: [Item] })
    .step(Item, () =>
      Effect.gen(function* () {
        yield* Effect.interrupt
      })
    )
}

describe("handlers behave as their effect would in a fiber", () => {
  it.effect("a long synchronous loop yields as a fiber does: the run's timeout ends it", () =>
    Effect.gen(function* () {
      // A fiber yields to others every 2,048 operations; a loop run in place must too, or nothing (the run's
      // timeout, a cancel, other steps) could stop it. LIMIT only bounds the loop should that be broken.
      const LIMIT = 1_000_000
      for (const shape of ["generator", "Effect.gen", "suspend loop"] as const) {
        for (const recorded of paths) {
          const state = { n: 0 }
          const loop: Effect.Effect<StopEvent<number>> = Effect.suspend(() =>
            state.n >= LIMIT
              ? Effect.succeed(new StopEvent({ result: state.n }))
              : Effect.flatMap(
                  Effect.sync(() => state.n++),
                  () => loop
                )
          )
          const body = function* () {
            while (state.n < LIMIT) yield* Effect.sync(() => state.n++)
            return new StopEvent({ result: state.n })
          }
          const wf = defineWorkflow({ name: "busy", timeout: "1 second" }).step(
            StartEvent,
            shape === "generator" ? body : shape === "Effect.gen" ? () => Effect.gen(body) : () => loop,
            { name: "spin" }
          )
          const exit = yield* endedAfter(runOn(recorded, wf), "2 seconds")
          const where = `${shape}, ${pathName(recorded)}`
          assert.isDefined(exit, where)
          assert.isTrue(Exit.isFailure(exit!), where)
          assert.strictEqual(
            (Cause.squash((exit as Exit.Failure<unknown, unknown>).cause) as any)._tag,
            "WorkflowTimeoutError"
          )
          assert.isBelow(state.n, LIMIT, where)
        }
      }
    })
  )

  it.effect("a handler that interrupts itself ends the run with that interruption, as Effect.all does", () =>
    Effect.gen(function* () {
      // Effect: one of concurrent fibers interrupting itself interrupts them all.
      const all = yield* Effect.exit(Effect.all([Effect.interrupt, Effect.never], { concurrency: 2 }))
      assert.isTrue(Exit.isFailure(all) && Cause.hasInterruptsOnly(all.cause))
      for (const [name, wf] of Object.entries(selfInterrupting)) {
        for (const recorded of paths) {
          // Before, the interrupted invocation's event stayed active, and the run waited for it forever.
          const exit = yield* endedAfter(runOn(recorded, wf), "2 seconds")
          const where = `${name}, ${pathName(recorded)}`
          assert.isDefined(exit, `${where}: the run hangs`)
          assert.isTrue(Exit.isFailure(exit!) && Cause.hasInterruptsOnly(exit.cause), where)
        }
      }
    })
  )

  it.effect(
    "a run a handler interrupts ends its event stream with that interruption, as its result; cancel ends it quietly",
    () =>
      Effect.gen(function* () {
        /** A handle's events (all of them, then how the stream ended) and its result, each as an Exit. */
        const watch = (
          wf: any,
          lifecycle: boolean,
          cancel: boolean
        ): Effect.Effect<
          { read: Array<string>; events: Exit.Exit<void, unknown>; result: Exit.Exit<unknown, unknown> },
          unknown
        > =>
          Effect.scoped(
            Effect.gen(function* () {
              const handle = yield* Workflow.start(wf, {}, { lifecycle })
              const read: Array<string> = []
              const reader = yield* Effect.forkChild(
                Effect.exit(Stream.runForEach(handle.events, (ev: any) => Effect.sync(() => read.push(ev._tag))))
              )
              if (cancel) yield* handle.cancel
              const result = yield* Effect.exit(handle.result)
              const events = yield* Fiber.join(reader)
              return { read: read.filter((tag) => tag === "Done"), events, result }
            })
          ) as any
        const interrupted = (exit: Exit.Exit<unknown, unknown> | undefined) =>
          exit !== undefined && Exit.isFailure(exit) && Cause.hasInterruptsOnly(exit.cause)
        const writing = defineWorkflow({ name: "i" }).step(StartEvent, (_, ctx) =>
          Effect.andThen(ctx.write(new Done({ n: 1 })), Effect.interrupt)
        )
        for (const [name, wf] of Object.entries({ ...selfInterrupting, "after a write": writing })) {
          for (const lifecycle of [false, true]) {
            const where = `${name}, ${lifecycle ? "with" : "without"} lifecycle events`
            // Before, the stream ended as a run that succeeded would (with no StopEvent), while the result failed.
            const streamed = yield* endedAfter(
              Effect.exit(Stream.runDrain(Workflow.stream(wf, {}, { lifecycle }))),
              "2 seconds"
            )
            assert.isDefined(streamed, `${where}: Workflow.stream hangs`)
            assert.isTrue(interrupted(streamed), `${where}: Workflow.stream ended with ${streamed?._tag}`)
            const watched = yield* endedAfter(watch(wf, lifecycle, false), "2 seconds")
            assert.isDefined(watched, `${where}: the handle hangs`)
            assert.isTrue(interrupted(watched!.result), `${where}: result`)
            assert.isTrue(interrupted(watched!.events), `${where}: events ended with ${watched!.events._tag}`)
            // The events written before the interruption are read first.
            assert.deepStrictEqual(watched!.read, wf === writing ? ["Done"] : [], where)
          }
        }
        // A cancel is not the run's own end: the result fails with WorkflowCancelledError, the events end quietly.
        for (const lifecycle of [false, true]) {
          const never = defineWorkflow({ name: "i" }).step(StartEvent, () => Effect.never)
          const cancelled = yield* endedAfter(watch(never, lifecycle, true), "2 seconds")
          assert.isDefined(cancelled, "cancel hangs")
          assert.isTrue(Exit.isSuccess(cancelled!.events), `cancel, lifecycle ${lifecycle}: events`)
          assert.isTrue(
            Exit.isFailure(cancelled!.result) &&
              (Cause.squash(cancelled!.result.cause) as any)._tag === "WorkflowCancelledError",
            `cancel, lifecycle ${lifecycle}: result`
          )
        }
      })
  )

  it.effect("yield* of an Option or a Result dies as in Effect.gen, with a message that says what to do instead", () =>
    Effect.gen(function* () {
      // On effect 4.1, Option and Result are not Effects: `yield*` of one in Effect.gen is a type error, and at
      // run time the fiber dies ("Not a valid effect"), for a Some or a Success too. A handler must not make
      // more of it (unwrap a Some, fail with NoSuchElementError), and its message must not send the user to
      // Promises. A Promise yielded by mistake keeps its own message.
      const values = {
        "Option.some": [() => Option.some(1), "an Option", "Effect.fromOption"],
        "Option.none": [() => Option.none(), "an Option", "Effect.fromOption"],
        "Result.succeed": [() => Result.succeed(1), "a Result", "Effect.fromResult"],
        "Result.fail": [() => Result.fail("boom"), "a Result", "Effect.fromResult"],
        "a Promise (yield without *)": [() => Promise.resolve(1), "a Promise", "Effect.tryPromise"]
      } as const
      for (const [name, [value, what, fix]] of Object.entries(values)) {
        const body = function* (): Generator<any, StopEvent<unknown>, any> {
          const x = name.startsWith("a Promise") ? yield value() : yield* value() as any
          return new StopEvent({ result: x })
        }
        // The oracle: Effect.gen in a fiber of its own.
        const alone = yield* Fiber.await(yield* Effect.forkChild(Effect.gen(body) as Effect.Effect<unknown, unknown>))
        assert.isTrue(Exit.isFailure(alone) && Cause.hasDies(alone.cause) && !Cause.hasFails(alone.cause), name)
        for (const shape of ["generator", "Effect.gen"] as const) {
          for (const recorded of paths) {
            const where = `${name}, ${shape}, ${pathName(recorded)}`
            const wf = defineWorkflow({ name: "y" }).step(
              StartEvent,
              (shape === "generator" ? body : () => Effect.gen(body)) as any,
              { name: "read" }
            )
            const exit = yield* runOn(recorded, wf)
            assert.isTrue(Exit.isFailure(exit) && Cause.hasDies(exit.cause) && !Cause.hasFails(exit.cause), where)
            const died = Cause.squash((exit as Exit.Failure<unknown, unknown>).cause)
            assert.instanceOf(died, HandlerBoundaryError, where)
            const message = (died as HandlerBoundaryError).message
            assert.include(message, `step "read" handling StartEvent: went on with ${what}`, where)
            assert.include(message, fix, where)
            if (what !== "a Promise") assert.notInclude(message, "Async functions", where)
          }
        }
      }
    })
  )

  it.effect("on this effect version, the engine finds where a fiber keeps its forkChild children", () =>
    Effect.gen(function* () {
      // Without it, the children of a handler that went on in a worker's fiber live until that fiber ends (the
      // next test): an effect upgrade that moves them fails here, naming the cause, not only as extra ticks there.
      assert.isDefined(CHILDREN)
      const fiber = Fiber.getCurrent() as unknown as Record<string, unknown>
      const child = yield* Effect.forkChild(Effect.never)
      const children = fiber[CHILDREN!]
      assert.isTrue(children instanceof Set && children.has(child))
      yield* Fiber.interrupt(child)
      assert.isFalse((children as Set<unknown>).has(child))
    })
  )

  it.effect(
    "a fiber a handler forks with Effect.forkChild ends with the handler's effect, as in a fiber of its own",
    () =>
      Effect.gen(function* () {
        // The child ticks every 300 ms; the handler returns after 1 s. Alone in a fiber, the handler's effect ends
        // and its child is interrupted: 3 ticks, then its end. In a run the child must not live on while its
        // worker's fiber goes on, handed over to the next step or draining its mailbox.
        const forking = (log: Array<string>) =>
          Effect.gen(function* () {
            yield* Effect.forkChild(
              Effect.onExit(
                Effect.forever(
                  Effect.andThen(
                    Effect.sleep("300 millis"),
                    Effect.sync(() => log.push("tick"))
                  )
                ),
                (exit) => Effect.sync(() => log.push(`child ${exit._tag}`))
              ),
              { startImmediately: true }
            )
            yield* Effect.sleep("1 second")
            log.push("returns")
          })
        const alone: Array<string> = []
        yield* endedAfter(forking(alone), "10 seconds")
        assert.deepStrictEqual(alone, ["tick", "tick", "tick", "returns", "child Failure"])
        const cases = {
          "handed over to the next step": (log: Array<string>) =>
            defineWorkflow({ name: "forks" })
              .step(StartEvent, () => Effect.as(forking(log), new Item({ n: 0 })), { emits: [Item] })
              .step(Item, () => Effect.as(Effect.sleep("5 seconds"), new StopEvent({ result: 1 })), {
                emits: [StopEvent]
              }),
          "a generator handler, its worker draining its mailbox": (log: Array<string>) =>
            defineWorkflow({ name: "forks" })
              .step(StartEvent, (_, ctx) => ctx.sendAll([new Item({ n: 1 }), new Item({ n: 2 })]), { emits: [Item] })
              .step(
                Item,
                function* (ev) {
                  if (ev.n === 2) {
                    yield* Effect.sleep("5 seconds")
                    return new StopEvent({ result: 1 })
                  }
                  yield* forking(log)
                },
                { emits: [StopEvent] }
              )
        }
        for (const [name, make] of Object.entries(cases)) {
          for (const recorded of paths) {
            const log: Array<string> = []
            const exit = yield* endedAfter(runOn(recorded, make(log)), "10 seconds")
            assert.isTrue(exit !== undefined && Exit.isSuccess(exit))
            assert.deepStrictEqual(log, alone, `${name}, ${pathName(recorded)}`)
          }
        }
      })
  )

  it.effect(
    "try/finally in a generator handler runs as in Effect.gen: on return and on a throw, not on a yielded failure, a defect, a cancel or a timeout",
    () =>
      Effect.gen(function* () {
        type Mode = "return" | "throw" | "fail" | "die" | "cancel" | "step timeout" | "run timeout"
        const body = (mode: Mode, log: Array<string>) =>
          function* () {
            try {
              log.push("start")
              if (mode === "fail") yield* Effect.fail("typed")
              if (mode === "die") yield* Effect.die("defect")
              if (mode === "throw") throw new Error("thrown")
              if (mode === "cancel" || mode === "step timeout" || mode === "run timeout") yield* Effect.sleep("1 hour")
              yield* Effect.yieldNow
              return new StopEvent({ result: "done" })
            } catch (e) {
              log.push("catch")
              throw e
            } finally {
              log.push("finally")
            }
          }
        for (const mode of ["return", "throw", "fail", "die", "cancel", "step timeout", "run timeout"] as const) {
          // Effect.gen alone, in a fiber: interrupted (cancel), or under Effect.timeout.
          const alone: Array<string> = []
          const reference = Effect.gen(body(mode, alone))
          yield* endedAfter(
            mode === "cancel"
              ? Effect.asVoid(Effect.flatMap(Effect.forkChild(reference, { startImmediately: true }), Fiber.interrupt))
              : mode === "step timeout" || mode === "run timeout"
                ? Effect.asVoid(Effect.timeout(reference, "2 seconds"))
                : Effect.asVoid(reference),
            "10 seconds"
          )
          for (const style of ["generator", "Effect.gen", "Effect.fnUntraced"] as const) {
            for (const recorded of paths) {
              const log: Array<string> = []
              const handler =
                style === "generator"
                  ? body(mode, log)
                  : style === "Effect.gen"
                    ? () => Effect.gen(body(mode, log))
                    : Effect.fnUntraced(body(mode, log))
              const wf = defineWorkflow({
                name: "finally",
                ...(mode === "run timeout" ? { timeout: "2 seconds" } : {})
              }).step(StartEvent, handler, { name: "s", ...(mode === "step timeout" ? { timeout: "2 seconds" } : {}) })
              if (mode === "cancel") {
                yield* Effect.scoped(
                  Effect.gen(function* () {
                    const handle = yield* Workflow.start(wf, {}, recorded ? { lifecycle: true } : {})
                    yield* TestClock.adjust("1 second")
                    yield* handle.cancel
                  })
                )
              } else yield* endedAfter(runOn(recorded, wf), "10 seconds")
              assert.deepStrictEqual(log, alone, `${mode}, ${style}, ${pathName(recorded)}`)
            }
          }
        }
      })
  )

  it.effect(
    "property: a handler built of random Effect operations ends, and logs, as its effect alone in a fiber does",
    () =>
      Effect.gen(function* () {
        type Op =
          | "map"
          | "sync"
          | "yield"
          | "sleep"
          | "fail"
          | "throw"
          | "catch"
          | "gen"
          | "ensuring"
          | "fork"
          | "suspend"
        const ops: ReadonlyArray<Op> = [
          "map",
          "sync",
          "yield",
          "sleep",
          "fail",
          "throw",
          "catch",
          "gen",
          "ensuring",
          "fork",
          "suspend"
        ]
        /** The effect the handler runs: ops applied in turn to Effect.succeed(1), logging what they do. */
        const build = (list: ReadonlyArray<Op>, log: Array<string>): Effect.Effect<number, string> => {
          let effect: Effect.Effect<number, string> = Effect.succeed(1)
          list.forEach((op, i) => {
            const inner = effect
            switch (op) {
              case "map":
                effect = Effect.map(inner, (n) => n + 1)
                break
              case "sync":
                effect = Effect.flatMap(inner, (n) =>
                  Effect.sync(() => {
                    log.push(`sync ${i} ${n}`)
                    return n * 2
                  })
                )
                break
              case "yield":
                effect = Effect.andThen(Effect.yieldNow, inner)
                break
              case "sleep":
                effect = Effect.flatMap(inner, (n) => Effect.as(Effect.sleep("10 millis"), n + 3))
                break
              case "fail":
                effect = Effect.flatMap(inner, (n) =>
                  n % 3 === 0 ? Effect.fail(`failed ${i} ${n}`) : Effect.succeed(n)
                )
                break
              case "throw":
                effect = Effect.map(inner, (n) => {
                  if (n % 7 === 0) throw new Error(`threw ${i} ${n}`)
                  return n
                })
                break
              case "catch":
                effect = Effect.catch(inner, (e) =>
                  Effect.sync(() => {
                    log.push(`caught ${i} ${e}`)
                    return 5
                  })
                )
                break
              case "gen":
                effect = Effect.gen(function* () {
                  const n = yield* inner
                  log.push(`gen ${i} ${n}`)
                  return n + 1
                })
                break
              case "ensuring":
                effect = Effect.ensuring(
                  inner,
                  Effect.sync(() => log.push(`ensuring ${i}`))
                )
                break
              case "fork":
                effect = Effect.flatMap(
                  Effect.forkChild(
                    Effect.onExit(
                      Effect.andThen(
                        Effect.sleep("5 millis"),
                        Effect.sync(() => log.push(`child ${i}`))
                      ),
                      (exit) => Effect.sync(() => log.push(`child ${i} ${exit._tag}`))
                    ),
                    { startImmediately: true }
                  ),
                  () => inner
                )
                break
              case "suspend":
                effect = Effect.suspend(() => inner)
                break
            }
          })
          return effect
        }
        const show = (exit: Exit.Exit<unknown, unknown> | undefined) => {
          if (exit === undefined) return "hangs"
          if (Exit.isSuccess(exit)) return `ok ${exit.value}`
          const error = Cause.squash(exit.cause)
          return `failed ${error instanceof Error ? error.message : String(error)}`
        }
        const context = yield* Effect.context<never>()
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(fc.constantFrom(...ops), { maxLength: 10 }),
              fc.boolean(),
              async (list, generator) => {
                const alone: Array<string> = []
                const expected = show(
                  await Effect.runPromiseWith(context)(endedAfter(Effect.exit(build(list, alone)), "1 minute"))
                )
                for (const recorded of paths) {
                  const log: Array<string> = []
                  // The handler is a worker started by the start step's send: in place, in the sender's fiber, on
                  // the lean path. What it returns goes to a step that takes a second (on the lean path, in the
                  // fiber the handler ended in, handed over).
                  const wf = defineWorkflow({ name: "random" })
                    .step(StartEvent, (_, ctx) => ctx.send(new Item({ n: 0 })), { emits: [Item] })
                    .step(
                      Item,
                      generator
                        ? function* () {
                            return new Done({ n: yield* build(list, log) })
                          }
                        : () => Effect.map(build(list, log), (n) => new Done({ n })),
                      { emits: [Done] }
                    )
                    .step(Done, (ev) => Effect.as(Effect.sleep("1 second"), new StopEvent({ result: ev.n })), {
                      emits: [StopEvent]
                    })
                  const exit = await Effect.runPromiseWith(context)(endedAfter(runOn(recorded, wf), "1 minute"))
                  const where = `${list.join(", ")} (${generator ? "generator" : "effect"}, ${pathName(recorded)})`
                  assert.strictEqual(show(exit), expected, where)
                  assert.deepStrictEqual(log, alone, where)
                }
              }
            ),
            { numRuns: 150 }
          )
        )
      })
  )
})
