/**
 * `npm run example -- cluster`: Postgres, three runner processes and a client; a 100-item distributed fan-out
 * with one runner SIGKILLed part way. Its last line states the counts: every runner's share, the dead runner,
 * a completed run, and how many invocations ran twice (no more than the dead runner had in flight).
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import { assert, describe, it } from "@effect/vitest"
import { Effect } from "effect"
import { TestConsole } from "effect/testing"
import { main as clusterExample } from "../src/cluster.ts"

const hasPostgres = (() => {
  try {
    execFileSync("pg_config", ["--bindir"], { stdio: "pipe" })
    return true
  } catch {
    return fs.existsSync("/usr/lib/postgresql")
  }
})()

describe("example cluster", () => {
  it.live.skipIf(!hasPostgres)(
    `npm run example -- cluster: the run completes over 3 runner processes though one is SIGKILLed${hasPostgres ? "" : " (skipped: no PostgreSQL installed)"}`,
    () =>
      Effect.gen(function* () {
        yield* clusterExample
        const lines = (yield* TestConsole.logLines).map(String)
        const last = lines.at(-1)!
        const counts =
          /^Handled per runner: runner-1 (\d+), runner-2 (\d+), runner-3 (\d+); died: (runner-\d); completed: yes \(100\/100\); ran twice: (\d+)$/.exec(
            last
          )
        assert.isNotNull(counts, last)
        const [, a, b, c, , twice] = counts!.map(Number)
        // Every invocation ended at least once; those that ran twice ended twice at most.
        assert.isAtLeast(a! + b! + c!, 100)
        assert.isAtMost(a! + b! + c!, 100 + twice!)
        assert.isAtLeast([a, b, c].filter((n) => n! > 0).length, 2, "the fan-out spread over at least 2 runners")
        // Each invocation that ran twice was in flight on the dead runner.
        const explained = lines.find((l) => l.includes("invocations ran twice"))!
        assert.notInclude(explained, "unexpected")
      }).pipe(Effect.provide(TestConsole.layer)),
    120_000
  )
})
