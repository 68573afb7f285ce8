/**
 * `Distributed.start`'s events when the run's owner changes, with two runners in this process (real sockets
 * between them, shared in-memory storages: `fixtures/inProcess.ts`), no database: the owner stops (a deploy),
 * the client's events stream fails with `RunMovedError` after the events it had, each once, and the handle's
 * `result` still arrives from the other runner, which resumed the run. The multi-process version (SIGTERM and
 * SIGKILL of real processes on Postgres) is `EventsFailover.test.ts`.
 */
import { assert, describe, it } from "@effect/vitest"
import { Distributed, RunMovedError } from "@effect-flow/cluster"
import { Cause, Effect, Exit, Fiber, Option, Stream } from "effect"
import { awaitShares, startRunners } from "./fixtures/inProcess.ts"
import { Tick, ticks } from "./fixtures/ticks.ts"

describe("Distributed.start events when the owner changes, two runners in this process", () => {
  it.live(
    "the run's owner stops: handle.events fails with RunMovedError after the events it had, none twice; result still arrives, from the runner that resumed the run",
    () =>
      Effect.gen(function* () {
        const runners = yield* startRunners([ticks], 2)
        yield* awaitShares(runners)
        const runId = "moved-1"
        const owner = runners.find((r) => r.owns(runId))!
        const other = runners.find((r) => r !== owner)!
        assert.isDefined(owner, "one runner holds the run's shard")
        const N = 30
        const got: Array<number> = []
        const handle = yield* Distributed.start(ticks, { n: N, ms: 50 }, { runId }).pipe(
          Effect.provideContext(other.context)
        )
        const following = yield* Effect.forkChild(
          Effect.exit(
            handle.events.pipe(
              Stream.runForEach((event) => Effect.sync(() => event instanceof Tick && got.push(event.i)))
            )
          )
        )
        for (let i = 0; got.length < 5; i++) {
          assert.isBelow(i, 1_000, "the run's first events arrived")
          yield* Effect.sleep("10 millis")
        }
        yield* owner.stop
        // Bounded: a result or a stream that never settles is what this guards against.
        const result = yield* Effect.timeoutOption(handle.result, "30 seconds")
        assert.deepStrictEqual(result, Option.some(N), "the run completed on the other runner")
        const exit = yield* Effect.timeoutOption(Fiber.join(following), "10 seconds")
        assert.isTrue(Option.isSome(exit), "the events stream settled")
        const settled = Option.getOrThrow(exit)
        assert.isTrue(Exit.isFailure(settled), "the events stream failed, not ended as if the run had")
        if (Exit.isFailure(settled)) assert.instanceOf(Cause.squash(settled.cause), RunMovedError)
        assert.isBelow(got.length, N, "the stream stopped before the run's end")
        assert.strictEqual(new Set(got).size, got.length, `no event came twice: ${got}`)
      }).pipe(Effect.scoped),
    60_000
  )
})
