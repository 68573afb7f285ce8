/**
 * The cluster when its Postgres is away: at start, a runner process and a client fail with a typed error
 * naming the connection instead of hanging; mid-run, the database stopped for a few seconds and started again,
 * the run still completes with the complete result, resumed from its journal (store errors are retried by the
 * run's owner, the cluster's own storage calls by the cluster). Each test starts and stops its own processes,
 * and the mid-run test its own PostgreSQL server (it stops it), so the shared one stays up.
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { Cause, Effect, Exit } from "effect"
import { postgresTitle, postgresUrl } from "../../sql/test/postgres.ts"
import { startPostgres } from "../../sql/test/postgresServer.ts"
import { linesOf, sleep, startFanout } from "./fixtures/calls.ts"
import { clientLayer, freePort, type Runner, spawnRunner } from "./fixtures/cluster.ts"
import { fanout } from "./fixtures/fanout.ts"

const fanoutModule = fileURLToPath(new URL("./fixtures/fanout.ts", import.meta.url))

const callsOf = (file: string) => linesOf(file).filter((l) => l.kind === "call")
describe.skipIf(postgresUrl === undefined)(`Distributed when Postgres is away${postgresTitle}`, () => {
  it("down at start: a runner process exits with the connection error and never serves; a client call fails with a typed error, not a hang", {
    timeout: 60_000
  }, async () => {
    const deadUrl = `postgres://postgres@127.0.0.1:${await freePort()}/postgres`
    const runner = await spawnRunner({ url: deadUrl, workflowsModule: fanoutModule })
    try {
      const ready = await runner.ready.then(
        () => "ready",
        () => "exited"
      )
      assert.strictEqual(ready, "exited", runner.output())
      const { code, out } = await runner.exited
      assert.notStrictEqual(code, 0)
      assert.match(out, /ECONNREFUSED|connect|Connection/i)
      const exit = await Effect.runPromiseExit(
        Distributed.run(fanout, { n: 1, ms: 1 }, { runId: "down-1" }).pipe(
          Effect.provide(clientLayer(deadUrl)),
          Effect.timeout("30 seconds")
        )
      )
      assert.isTrue(Exit.isFailure(exit))
      if (Exit.isFailure(exit)) {
        const error = Cause.squash(exit.cause) as { _tag?: string; message?: string }
        assert.notStrictEqual(error._tag, "TimeoutError", "the client did not hang")
        assert.match(`${error._tag} ${error.message}`, /SqlError|ECONNREFUSED|connect/i)
      }
    } finally {
      await runner.stop()
    }
  })

  it("down mid-run for a few seconds: the run completes with the complete result, resumed from its journal", {
    timeout: 180_000
  }, async () => {
    const server = await startPostgres()
    if ("skip" in server) return
    const dir = mkdtempSync(path.join(os.tmpdir(), "cluster-pgdown-"))
    const calls = path.join(dir, "calls.log")
    const runners: Array<Runner> = []
    try {
      for (let i = 0; i < 2; i++) {
        runners.push(
          await spawnRunner({ url: server.url, workflowsModule: fanoutModule, env: { EFFECT_FLOW_CALLS: calls } })
        )
      }
      await Promise.all(runners.map((r) => r.ready))
      const N = 100
      const runId = "pgdown-1"
      // What was committed just before the database went away (`ended`): none of it may run again.
      const { result: client, ended } = await startFanout({ url: server.url, calls, runners, runId, n: N })
      server.halt()
      const haltedAt = Date.now()
      await sleep(3_000)
      server.restart()
      const result = await client
      assert.deepStrictEqual(result, { values: Array.from({ length: N }, (_, i) => i * 10), sum: (N * (N - 1)) / 2 })
      const after = callsOf(calls).filter((c) => c.at > haltedAt)
      const again = after.filter((c) => ended.has(c.id)).map((c) => c.id)
      assert.deepStrictEqual(again, [], "invocations whose end was committed ran again")
      const status = await Effect.runPromise(Distributed.status(runId).pipe(Effect.provide(clientLayer(server.url))))
      assert.strictEqual(status.status, "completed")
      console.log(
        `cluster, Postgres down 3 s mid-run: ${ended.size} ended invocations kept, ${after.length} calls after the halt (the old execution runs on in memory until its journal write fails), done ${Date.now() - haltedAt} ms after the halt`
      )
    } finally {
      await Promise.all(runners.map((r) => r.stop()))
      server.stop()
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
