/**
 * A subscriber to the events of a run the store does not know, across a real process: one NodeClusterSocket
 * runner process on the test run's PostgreSQL (tuned intervals, see fixtures/cluster.ts), this process a client.
 * A wrong `runId` fails the stream at once with `RunNotFoundError` naming it, rather than wait for ever for a
 * `Run` message that will not come; `Distributed.start`'s own handle, which subscribes before its run is stored,
 * still follows its run; and a subscriber without the handle's flag to a run the store knows gets its events.
 * Every process the test starts, it stops.
 */
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { RunNotFoundError, StopEvent } from "@effect-flow/core"
import { Cause, Effect, Exit, Option, Stream } from "effect"
import { freshDatabase, postgresTitle, postgresUrl } from "../../sql/test/postgres.ts"
import { awaitSettled, clientLayer, type Runner, spawnRunner } from "./fixtures/cluster.ts"
import { ticks } from "./fixtures/ticks.ts"

const ticksModule = fileURLToPath(new URL("./fixtures/ticks.ts", import.meta.url))

describe.skipIf(postgresUrl === undefined)(`Distributed events of an unknown run on PostgreSQL${postgresTitle}`, () => {
  it("a subscriber to a runId the store does not know fails with RunNotFoundError naming it; start's handle and a subscriber to a stored run still get the run's events", {
    timeout: 90_000
  }, async () => {
    const url = await Effect.runPromise(freshDatabase("events_unknown"))
    const runners: Array<Runner> = []
    try {
      const runner = await spawnRunner({ url, workflowsModule: ticksModule })
      runners.push(runner)
      await runner.ready
      await awaitSettled(url, 1)
      const outcome = await Effect.runPromise(
        Effect.gen(function* () {
          const client = yield* Distributed.RunEntity.client
          // Bounded: a stream that neither ends nor fails is the bug (it waited for ever before).
          const unknown = yield* Effect.timeoutOption(
            Effect.exit(Stream.runCollect(client("no-such-run").Events({ workflow: ticks.name }))),
            "20 seconds"
          )
          // Distributed.start subscribes right after sending its Run message, before the run may be stored.
          const handle = yield* Distributed.start(ticks, { n: 3, ms: 10 }, { runId: "known-1" })
          const started = yield* Effect.timeoutOption(Stream.runCollect(handle.events), "30 seconds")
          const result = yield* handle.result
          // A subscriber without the flag, to a run the store knows (finished, on the same entity): its events.
          const stored = yield* Effect.timeoutOption(
            Stream.runCollect(client("known-1").Events({ workflow: ticks.name })),
            "20 seconds"
          )
          return { unknown, started, result, stored }
        }).pipe(Effect.provide(clientLayer(url)))
      )
      assert.isTrue(Option.isSome(outcome.unknown), "the subscriber to an unknown run did not wait for ever")
      const exit = Option.getOrThrow(outcome.unknown)
      assert.isTrue(Exit.isFailure(exit), "the stream of an unknown run failed")
      if (Exit.isFailure(exit)) {
        const error = Cause.squash(exit.cause)
        assert.instanceOf(error, RunNotFoundError)
        assert.strictEqual((error as RunNotFoundError).runId, "no-such-run")
        assert.include((error as RunNotFoundError).message, `"no-such-run"`)
      }
      assert.strictEqual(outcome.result, 3)
      assert.isTrue(Option.isSome(outcome.started), "start's handle followed its run to the end")
      assert.instanceOf(Option.getOrThrow(outcome.started).at(-1), StopEvent)
      assert.isTrue(Option.isSome(outcome.stored), "a subscriber to a stored run got its events")
      const tags = Option.getOrThrow(outcome.stored).map((item) => JSON.parse(item.t)._tag)
      assert.strictEqual(tags.at(-1), "StopEvent")
    } finally {
      await Promise.all(runners.map((r) => r.stop()))
    }
  })
})
