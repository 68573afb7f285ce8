/**
 * A run entity's event log, as `Events` serves it: a subscriber gets what was published before it came, then
 * what follows, each event exactly once and in order, also when an event is published between its
 * subscription and its copy of the past; after them, how the execution ended (quietly, `Stopped`, or failing with
 * the run's failure).
 */
import { assert, describe, it } from "@effect/vitest"
import { Cause, Data, Effect, Exit, Fiber, Stream } from "effect"
import * as fc from "fast-check"
import * as EventLog from "../src/internal/eventLog.ts"

describe("EventLog", () => {
  it.effect("an event published after the subscription opened and before the past was copied is seen once", () =>
    Effect.gen(function* () {
      // The subscription saw events 1 and 2 (published after it opened); the copy of the past already had them.
      const live = Stream.fromIterable<EventLog.Item>([
        { seq: 1, text: "b" },
        { seq: 2, text: "c" },
        { seq: 3, text: "d" },
        { end: undefined },
        { seq: 4, text: "next execution" }
      ])
      const seen = yield* Stream.runCollect(EventLog.follow(["a", "b", "c"], false, live))
      assert.deepStrictEqual(seen, ["a", "b", "c", "d"])
      // A finished execution: the past only.
      assert.deepStrictEqual(yield* Stream.runCollect(EventLog.follow(["a", "b"], true, live)), ["a", "b"])
    })
  )

  it.effect("subscribers joining at any point while events are published each get every event once, in order", () =>
    Effect.gen(function* () {
      const context = yield* Effect.context<never>()
      yield* Effect.promise(() =>
        fc.assert(
          fc.asyncProperty(
            fc.array(fc.constantFrom("publish", "subscribe", "yield"), { minLength: 1, maxLength: 40 }),
            (ops) =>
              Effect.runPromiseWith(context)(
                Effect.gen(function* () {
                  const log = yield* EventLog.make()
                  log.begin()
                  const subscribers: Array<Fiber.Fiber<ReadonlyArray<string>, EventLog.Stopped>> = []
                  let n = 0
                  for (const op of ops) {
                    if (op === "publish") log.publish(`e${n++}`)
                    else if (op === "subscribe")
                      subscribers.push(yield* Effect.forkChild(Stream.runCollect(log.stream)))
                    else yield* Effect.yieldNow
                  }
                  // Publishing goes on while the subscribers start reading.
                  log.publish(`e${n++}`)
                  yield* Effect.yieldNow
                  log.publish(`e${n++}`)
                  log.end()
                  const all = Array.from({ length: n }, (_, i) => `e${i}`)
                  for (const fiber of subscribers) assert.deepStrictEqual(yield* Fiber.join(fiber), all)
                  // After the end: the past, and the stream ends.
                  assert.deepStrictEqual(yield* Stream.runCollect(log.stream), all)
                })
              )
          )
        )
      )
    })
  )
  it.effect(
    "an execution that stopped here without the run ending: live and late subscribers get the past, then fail with Stopped; the next execution starts afresh",
    () =>
      Effect.gen(function* () {
        const log = yield* EventLog.make()
        log.begin()
        log.publish("a")
        const live = yield* Effect.forkChild(Effect.exit(Stream.runCollect(log.stream)))
        yield* Effect.yieldNow
        log.publish("b")
        log.end("stopped")
        const exit = yield* Fiber.join(live)
        assert.isTrue(Exit.isFailure(exit))
        const late: Array<string> = []
        const lateExit = yield* Effect.exit(Stream.runForEach(log.stream, (e) => Effect.sync(() => late.push(e))))
        assert.deepStrictEqual(late, ["a", "b"])
        assert.isTrue(
          Exit.isFailure(lateExit) &&
            lateExit.cause.reasons.some((r) => r._tag === "Fail" && r.error instanceof EventLog.Stopped)
        )
        log.begin()
        log.publish("c")
        log.end()
        assert.deepStrictEqual(yield* Stream.runCollect(log.stream), ["a", "b", "c"])
      })
  )

  it.effect(
    "an execution that failed (the run's error, or its own interruption): live and late subscribers get the past, then fail with that cause",
    () =>
      Effect.gen(function* () {
        class Boom extends Data.TaggedError("Boom")<{ readonly why: string }> {}
        const causes: ReadonlyArray<Cause.Cause<Boom>> = [Cause.fail(new Boom({ why: "no" })), Cause.interrupt()]
        for (const cause of causes) {
          const log = yield* EventLog.make<Boom>()
          log.begin()
          log.publish("a")
          const live = yield* Effect.forkChild(Effect.exit(Stream.runCollect(log.stream)))
          yield* Effect.yieldNow
          log.publish("b")
          log.end(cause)
          const ends: Array<Exit.Exit<unknown, unknown>> = [yield* Fiber.join(live)]
          const late: Array<string> = []
          ends.push(yield* Effect.exit(Stream.runForEach(log.stream, (e) => Effect.sync(() => late.push(e)))))
          assert.deepStrictEqual(late, ["a", "b"])
          for (const exit of ends) {
            assert.isTrue(Exit.isFailure(exit))
            if (Exit.isFailure(exit)) {
              if (Cause.hasInterruptsOnly(cause)) assert.isTrue(Cause.hasInterruptsOnly(exit.cause))
              else assert.deepStrictEqual(Cause.squash(exit.cause), new Boom({ why: "no" }))
            }
          }
        }
      })
  )
})
