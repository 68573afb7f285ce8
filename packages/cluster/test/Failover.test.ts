/**
 * Runs across real processes: three NodeClusterSocket runner processes on 127.0.0.1 sharing the test run's
 * PostgreSQL (cluster storage and the run store), ShardingConfig tuned for tests (health check, assignment
 * refresh and storage poll at 1 s, lock refresh at 2 s, lock expiry at 6 s: see fixtures/cluster.ts). A client in this
 * process starts a fan-out run; the runner that owns it is SIGKILLed mid-run; another runner resumes it from
 * the journal. Every process a test starts, it stops.
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { Effect } from "effect"
import { freshDatabase, postgresTitle, postgresUrl } from "../../sql/test/postgres.ts"
import { linesOf, startFanout } from "./fixtures/calls.ts"
import { clientLayer, type Runner, spawnRunner } from "./fixtures/cluster.ts"

const fanoutModule = fileURLToPath(new URL("./fixtures/fanout.ts", import.meta.url))

describe.skipIf(postgresUrl === undefined)(`Distributed across runner processes on PostgreSQL${postgresTitle}`, () => {
  it("SIGKILL of the runner that owns a run mid-run: another runner resumes it from the journal; the result is complete; no invocation whose end was committed runs again", {
    timeout: 150_000
  }, async () => {
    const url = await Effect.runPromise(freshDatabase("failover"))
    const dir = mkdtempSync(path.join(os.tmpdir(), "cluster-failover-"))
    const calls = path.join(dir, "calls.log")
    const runners: Array<Runner> = []
    try {
      for (let i = 0; i < 3; i++) {
        runners.push(await spawnRunner({ url, workflowsModule: fanoutModule, env: { EFFECT_FLOW_CALLS: calls } }))
      }
      await Promise.all(runners.map((r) => r.ready))
      const N = 100
      const runId = "failover-1"
      const { result: client, owner: victim, ended } = await startFanout({ url, calls, runners, runId, n: N })
      const owner = victim.pid
      const killedAt = Date.now()
      await victim.kill()

      const result = await client
      // What ran after the kill (elsewhere, then).
      const lines = linesOf(calls).filter((l) => l.at >= killedAt)
      const takeover = lines.find((l) => l.pid !== owner)
      assert.isDefined(takeover, "another runner ran part of the run")
      const newOwners = new Set(lines.filter((l) => l.pid !== owner).map((l) => l.pid))
      assert.strictEqual(newOwners.size, 1, "one runner took the run over")

      // The result is complete: every item's value, and the sum of every item's one edit.
      assert.deepStrictEqual(result, {
        values: Array.from({ length: N }, (_, i) => i * 10),
        sum: (N * (N - 1)) / 2
      })
      // No invocation whose end was committed before the kill ran again.
      const again = lines.filter((l) => l.kind === "call" && l.pid !== owner && ended.has(l.id)).map((l) => l.id)
      assert.deepStrictEqual(again, [], "invocations whose end was committed ran again")
      // Re-runs (of invocations the owner had not ended) keep their invocationId with a higher attempt.
      const all = linesOf(calls)
      for (const l of lines.filter((l) => l.kind === "call" && l.pid !== owner && l.attempt > 1)) {
        assert.isTrue(
          all.some((m) => m.kind === "call" && m.at < killedAt && m.id === l.id && m.attempt < l.attempt),
          `${l.id} attempt ${l.attempt} re-runs an invocation started before the kill`
        )
      }
      // every item was edited (at least once; the sum above says once in the state)
      const edited = new Set(all.filter((l) => l.kind === "edit").map((l) => l.id))
      assert.strictEqual(edited.size, N)
      const status = await Effect.runPromise(Distributed.status(runId).pipe(Effect.provide(clientLayer(url))))
      assert.strictEqual(status.status, "completed")
      const rerun = lines.filter((l) => l.kind === "call" && l.pid !== owner && l.attempt > 1).length
      console.log(
        `cluster failover: owner pid ${owner} SIGKILLed after ${all.filter((l) => l.pid === owner && l.kind === "call").length} calls; ` +
          `pid ${[...newOwners][0]} ran its first call ${takeover!.at - killedAt} ms after the kill; ` +
          `${rerun} in-flight invocations ran again; ${ended.size} ended ones did not`
      )
    } finally {
      await Promise.all(runners.map((r) => r.stop()))
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
