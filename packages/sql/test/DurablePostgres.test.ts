/**
 * Durable runs on Postgres (`SqlRunStore` over `@effect/sql-pg`, the test run's throwaway server): a child
 * process running a durable fan-out is SIGKILLed at random points and resumed by runId in the next one, as on
 * SQLite; and a finished runId returns its stored outcome.
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { calls, crashUntilDone, editedItems, start, stopChildren, within } from "./fixtures/crashKit.ts"
import { freshDatabase, postgresTitle, postgresUrl } from "./postgres.ts"

const N = 300
const expected = { values: Array.from({ length: N }, (_, i) => i * 10), sum: (N * (N - 1)) / 2 }

describe.skipIf(postgresUrl === undefined)(`Durable.run on Postgres across SIGKILLed processes${postgresTitle}`, () => {
  afterEach(stopChildren)

  it("killed at 6 random points and resumed by runId each time: the uninterrupted result; committed invocations never run again; each edit applies once; the journal is always a consistent prefix; a re-run returns the stored outcome", {
    timeout: 120_000
  }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "durable-pg-"))
    const url = await Effect.runPromise(freshDatabase("durable"))
    let kills = 0
    try {
      const run = await crashUntilDone({
        target: url,
        dir,
        runId: "pg-crash",
        n: N,
        kill: () => kills < 6,
        onKill: () => kills++
      })
      assert.isAtLeast(kills, 1)
      assert.deepStrictEqual(run.result, expected)
      assert.strictEqual(editedItems(run.log), N)
      // The finished runId again: its stored outcome, and no handler runs.
      const log = path.join(dir, "again.log")
      const again = await within(start(url, log, "pg-crash", N), 30_000, "a re-run of the finished runId answering")
      const line = again.out.split("\n").find((l) => l.startsWith("result "))
      assert.isDefined(line, again.out + again.err)
      assert.deepStrictEqual(JSON.parse(line!.slice("result ".length)), expected)
      assert.deepStrictEqual(calls(log), [], "a finished run invokes no handler")
      console.log(`durable Postgres test: ${kills} kills, landing ${[...run.where].join("; ")}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
