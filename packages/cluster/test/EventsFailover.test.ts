/**
 * `Distributed.start`'s events stream when the run's owner goes, across real processes: three NodeClusterSocket
 * runner processes on the test run's PostgreSQL (tuned intervals, see fixtures/cluster.ts), this process a
 * client following a run's events. The stream is served by the owner from what it published, so it cannot go on
 * across owners without possible gaps or repeats: when the owner stops the run (SIGTERM) or dies (SIGKILL, after
 * which the cluster sends the request again to the next owner), the stream fails with `RunMovedError` instead
 * of ending as if the run had, or going on with another owner's events; the run completes elsewhere and the
 * handle's `result` has its outcome. Every process the test starts, it stops.
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Distributed, RunMovedError } from "@effect-flow/cluster"
import { Effect, Exit, Fiber, Option, Stream } from "effect"
import { freshDatabase, postgresTitle, postgresUrl } from "../../sql/test/postgres.ts"
import { linesOf, waitFor } from "./fixtures/calls.ts"
import { awaitSettled, clientLayer, type Runner, spawnRunner } from "./fixtures/cluster.ts"
import { Tick, ticks } from "./fixtures/ticks.ts"

const ticksModule = fileURLToPath(new URL("./fixtures/ticks.ts", import.meta.url))

describe.skipIf(postgresUrl === undefined)(`Distributed.start events across runner processes${postgresTitle}`, () => {
  it("the owner stops the run (SIGTERM), then another owner dies (SIGKILL): each time the client's events stream fails with RunMovedError after the events it had, none twice, and the run completes elsewhere", {
    timeout: 120_000
  }, async () => {
    const url = await Effect.runPromise(freshDatabase("events_failover"))
    const dir = mkdtempSync(path.join(os.tmpdir(), "cluster-events-"))
    const calls = path.join(dir, "calls.log")
    const runners: Array<Runner> = []
    try {
      // One after another: the first creates the cluster's tables.
      for (let i = 0; i < 3; i++) {
        const runner = await spawnRunner({ url, workflowsModule: ticksModule, env: { EFFECT_FLOW_CALLS: calls } })
        runners.push(runner)
        await runner.ready
      }
      const N = 40
      for (const how of ["SIGTERM", "SIGKILL"] as const) {
        // Start the run once the shards have settled on the live runners (after a join, or the SIGTERM before):
        // while they move, the events request can reach a runner other than the one the run executes on, whose
        // stream then fails with RunMovedError before the owner is touched, as documented.
        await awaitSettled(url, runners.filter((r) => r.child.exitCode === null && r.child.signalCode === null).length)
        const runId = `events-${how}`
        const got: Array<number> = []
        const outcome = await Effect.runPromise(
          Effect.gen(function* () {
            const handle = yield* Distributed.start(ticks, { n: N, ms: 100 }, { runId })
            const following = yield* Effect.forkChild(
              Effect.exit(
                handle.events.pipe(
                  Stream.runForEach((event) => Effect.sync(() => event instanceof Tick && got.push(event.i)))
                )
              )
            )
            yield* Effect.promise(() =>
              waitFor("the run's first events", 60_000, () => got.length >= 6 || following.pollUnsafe() !== undefined)
            )
            const early = following.pollUnsafe()
            assert.isUndefined(
              early,
              `the events stream settled after ${got.length} events, before the ${how}: ${early}`
            )
            // The owner now: the runner of the run's last call.
            const owner = linesOf(calls)
              .filter((l) => l.runId === runId)
              .at(-1)!.pid
            const victim = runners.find((r) => r.pid === owner)!
            assert.isDefined(victim, `the owner ${owner} is a live runner`)
            yield* Effect.promise(() => (how === "SIGTERM" ? victim.stop(30_000) : victim.kill()))
            const result = yield* handle.result
            // Bounded: a stream that neither ends nor fails is what this guards against.
            const events = yield* Effect.timeoutOption(Fiber.join(following), "30 seconds")
            return { result, events }
          }).pipe(Effect.provide(clientLayer(url)))
        )
        assert.strictEqual(outcome.result, N, `the run completed elsewhere after the ${how}`)
        assert.isTrue(Option.isSome(outcome.events), `the events stream settled after the ${how}`)
        const exit = Option.getOrThrow(outcome.events)
        assert.isTrue(Exit.isFailure(exit), `the events stream failed after the ${how}, not ended as if the run had`)
        if (Exit.isFailure(exit)) {
          const error = exit.cause.reasons.find((r) => r._tag === "Fail")
          assert.instanceOf(error?._tag === "Fail" ? error.error : undefined, RunMovedError)
        }
        assert.isBelow(got.length, N, "the stream stopped before the run's end")
        assert.strictEqual(new Set(got).size, got.length, `no event came twice: ${got}`)
        console.log(`cluster events, ${how} of the owner: ${got.length} of ${N} ticks, then RunMovedError`)
      }
    } finally {
      await Promise.all(runners.map((r) => r.stop()))
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
