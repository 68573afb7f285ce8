/**
 * A deploy across real processes: two NodeClusterSocket runner processes on the test run's PostgreSQL (tuned
 * intervals, see fixtures/cluster.ts, but effect's default `entityTerminationTimeout` of 15 s). A client in this
 * process starts a fan-out run; the runner that owns it gets SIGTERM mid-run. It exits within a few seconds,
 * not after the 15 s a live run used to hold it: its run stops there as closing `Durable.start`'s scope stops
 * it (journal intact, lease released), and the other runner resumes it from the journal. Every process the test
 * starts, it stops. `SHUTDOWN_ITEM_MS` (default 60) sets each item's work: at 1000 the run outlives the termination
 * timeout, to measure what a live run costs a deploy.
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { Effect } from "effect"
import { freshDatabase, postgresTitle, postgresUrl } from "../../sql/test/postgres.ts"
import { journalOf, linesOf, startFanout } from "./fixtures/calls.ts"
import { clientLayer, type Runner, spawnRunner } from "./fixtures/cluster.ts"

const fanoutModule = fileURLToPath(new URL("./fixtures/fanout.ts", import.meta.url))

/** effect's default, which the runners here keep: a live run must not make a deploy wait this long. */
const terminationTimeoutMs = 15_000

describe.skipIf(postgresUrl === undefined)(`Distributed runner shutdown on PostgreSQL${postgresTitle}`, () => {
  it("SIGTERM of the runner that owns a live run: it exits within a few seconds, the other runner resumes the run from the journal, the result is complete, no ended invocation runs again", {
    timeout: 120_000
  }, async () => {
    const url = await Effect.runPromise(freshDatabase("shutdown"))
    const dir = mkdtempSync(path.join(os.tmpdir(), "cluster-shutdown-"))
    const calls = path.join(dir, "calls.log")
    const runners: Array<Runner> = []
    try {
      // One after another: the first creates the cluster's tables.
      for (let i = 0; i < 2; i++) {
        const runner = await spawnRunner({
          url,
          workflowsModule: fanoutModule,
          env: { EFFECT_FLOW_CALLS: calls, EFFECT_FLOW_TERMINATION_TIMEOUT_MS: String(terminationTimeoutMs) }
        })
        runners.push(runner)
        await runner.ready
      }
      const N = 100
      const runId = "shutdown-1"
      // None of `before` (committed before the SIGTERM) may run again.
      const {
        result: client,
        owner: victim,
        ended: before
      } = await startFanout({ url, calls, runners, runId, n: N, ms: Number(process.env.SHUTDOWN_ITEM_MS ?? 60) })
      const owner = victim.pid
      const termAt = Date.now()
      // SIGKILL only long after the termination timeout: the measurement is the runner's own exit.
      await victim.stop(terminationTimeoutMs + 15_000)
      const exitedAt = Date.now()
      const exit = await victim.exited
      assert.notStrictEqual(exit.signal, "SIGKILL", `the runner exited by itself:\n${exit.out}`)
      const shutdownMs = exitedAt - termAt

      const result = await client
      const lines = linesOf(calls)
      const takeover = lines.find((l) => l.pid !== owner && l.at >= termAt)
      assert.isDefined(takeover, "the other runner ran part of the run")
      assert.deepStrictEqual(result, {
        values: Array.from({ length: N }, (_, i) => i * 10),
        sum: (N * (N - 1)) / 2
      })
      // No invocation whose end was committed before the SIGTERM ran again.
      const again = lines
        .filter((l) => l.kind === "call" && l.pid !== owner && l.at >= termAt && before.has(l.id))
        .map((l) => l.id)
      assert.deepStrictEqual(again, [], "invocations whose end was committed ran again")
      // The whole journal: each invocation ended once, and none started again after its end (this covers the
      // ends the stopping owner committed after the read above).
      const journal = await journalOf(url, runId)
      const ends = new Map<string, number>()
      for (const e of journal) {
        if (e.t === "e" && e.k !== "B") ends.set(e.i!, (ends.get(e.i!) ?? 0) + 1)
        if (e.t === "s")
          assert.isFalse(ends.has(e.i!), `invocation ${e.i} started again (attempt ${e.a}) after its end`)
      }
      assert.deepStrictEqual(
        [...ends.values()].filter((n) => n !== 1),
        [],
        "every invocation's end is journaled once"
      )
      assert.strictEqual(ends.size, 2 * N + 1, "the dispatch, every item and every gather ended")
      const status = await Effect.runPromise(Distributed.status(runId).pipe(Effect.provide(clientLayer(url))))
      assert.strictEqual(status.status, "completed")
      const rerun = lines.filter((l) => l.kind === "call" && l.pid !== owner && l.at >= termAt && l.attempt > 1).length
      console.log(
        `cluster shutdown: owner pid ${owner} got SIGTERM after ${lines.filter((l) => l.pid === owner && l.kind === "call" && l.at < termAt).length} calls and exited ${shutdownMs} ms later ` +
          `(entityTerminationTimeout ${terminationTimeoutMs} ms); the other runner ran its first call of the run ${takeover!.at - termAt} ms after the SIGTERM; ` +
          `${rerun} invocations in flight on the owner ran again`
      )
      assert.isBelow(shutdownMs, terminationTimeoutMs / 2, "the runner stopped without waiting for its live run")
    } finally {
      await Promise.all(runners.map((r) => r.stop()))
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
