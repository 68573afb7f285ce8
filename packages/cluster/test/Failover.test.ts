/**
 * Runs across real processes: three NodeClusterSocket runner processes on 127.0.0.1 sharing the test run's
 * PostgreSQL (cluster storage and the run store), ShardingConfig tuned for tests (health check, lock refresh,
 * assignment refresh and storage poll at 1 s, lock expiry at 4 s: see fixtures/cluster.ts). A client in this
 * process starts a fan-out run; the runner that owns it is SIGKILLed mid-run; another runner resumes it from
 * the journal. Every process a test starts, it stops.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { Durable, RunStore } from "@effect-flow/core"
import { SqlRunStore } from "@effect-flow/sql"
import { Effect, Layer } from "effect"
import { freshDatabase, postgresTitle, postgresUrl } from "../../sql/test/postgres.ts"
import { clientLayer, pgLayer, type Runner, spawnRunner } from "./fixtures/cluster.ts"
import { fanout } from "./fixtures/fanout.ts"

const fanoutModule = fileURLToPath(new URL("./fixtures/fanout.ts", import.meta.url))

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

interface Line {
  readonly kind: string
  readonly runId: string
  readonly id: string
  readonly attempt: number
  readonly pid: number
  readonly at: number
}

/** The calls and edits the runners noted, in order. */
const linesOf = (file: string): Array<Line> =>
  existsSync(file)
    ? readFileSync(file, "utf8")
        .split("\n")
        .filter((l) => l.length > 0)
        .map((l) => {
          const parts = l.split(" ")
          return parts[0] === "call"
            ? {
                kind: "call",
                runId: parts[1]!,
                id: parts[2]!,
                attempt: Number(parts[3]),
                pid: Number(parts[4]),
                at: Number(parts[5])
              }
            : { kind: "edit", runId: parts[1]!, id: parts[2]!, attempt: 0, pid: Number(parts[3]), at: Number(parts[4]) }
        })
    : []

/** The run's journal as stored, parsed. */
const journalOf = (url: string, runId: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      return (yield* store.readJournal(runId)).map((e) => Durable.readEntry(runId, e.data))
    }).pipe(
      Effect.catchTag("RunNotFoundError", () => Effect.succeed([])),
      Effect.provide(SqlRunStore.layer().pipe(Layer.provide(pgLayer(url))))
    )
  )

const waitFor = async (what: string, ms: number, check: () => boolean) => {
  const until = Date.now() + ms
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out after ${ms} ms waiting for ${what}`)
    await sleep(20)
  }
}

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
      const client = Effect.runPromise(
        Distributed.run(fanout, { n: N, ms: 60 }, { runId }).pipe(Effect.provide(clientLayer(url)))
      )
      client.catch(() => {})
      // Kill the owner once a third of the items have run.
      await waitFor(
        "the run to get under way",
        60_000,
        () => linesOf(calls).filter((l) => l.kind === "call").length > 35
      )
      const owner = linesOf(calls)[0]!.pid
      const victim = runners.find((r) => r.pid === owner)
      assert.isDefined(victim, `the owner ${owner} is one of the runners`)
      // What the owner has committed: read just before the kill (the new owner may take over within tens of
      // milliseconds of it, as an advisory lock is released when its connection closes), so it is all
      // committed before the kill.
      const journal = await journalOf(url, runId)
      await victim!.kill()
      const killedAt = Date.now()
      const ended = new Set(journal.filter((e) => e.t === "e" && e.k !== "B").map((e) => e.i!))
      assert.isAbove(ended.size, 10, "the owner had committed ends before it was killed")

      const result = await client
      const lines = linesOf(calls)
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
      for (const l of lines.filter((l) => l.kind === "call" && l.pid !== owner && l.attempt > 1)) {
        assert.isTrue(
          lines.some((m) => m.kind === "call" && m.pid === owner && m.id === l.id),
          `${l.id} attempt ${l.attempt} re-runs an invocation the owner started`
        )
      }
      // every item was edited (at least once; the sum above says once in the state)
      const edited = new Set(lines.filter((l) => l.kind === "edit").map((l) => l.id))
      assert.strictEqual(edited.size, N)
      const status = await Effect.runPromise(Distributed.status(runId).pipe(Effect.provide(clientLayer(url))))
      assert.strictEqual(status.status, "completed")
      const rerun = lines.filter((l) => l.kind === "call" && l.pid !== owner && l.attempt > 1).length
      console.log(
        `cluster failover: owner pid ${owner} SIGKILLed after ${lines.filter((l) => l.pid === owner && l.kind === "call").length} calls; ` +
          `pid ${[...newOwners][0]} ran its first call ${takeover!.at - killedAt} ms after the kill; ` +
          `${rerun} in-flight invocations ran again; ${ended.size} ended ones did not`
      )
    } finally {
      await Promise.all(runners.map((r) => r.stop()))
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
