/**
 * Durable runs across real processes: a child process runs a durable fan-out on a SQLite file and is SIGKILLed
 * at random points, again and again; the next process resumes the run by its runId. The result and final state
 * equal an uninterrupted run's, no invocation whose end was committed runs again, the re-runs keep their
 * invocationId, and each item's store edit is applied once.
 */
import { mkdtempSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { afterEach, assert, describe, it } from "@effect/vitest"
import { crashUntilDone, editedItems, journalOf, sleep, start, stopChildren, within } from "./fixtures/crashKit.ts"

const N = 600
const expected = { values: Array.from({ length: N }, (_, i) => i * 10), sum: (N * (N - 1)) / 2 }

describe("Durable.run across SIGKILLed processes (SQLite file)", () => {
  afterEach(stopChildren)

  it("killed at >= 20 random points and resumed by runId each time: the uninterrupted result; committed invocations never run again; each edit applies once; the journal is always a consistent prefix", {
    timeout: 170_000
  }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "durable-crash-"))
    const file = path.join(dir, "runs.db")
    let kills = 0
    const where = new Set<string>()
    try {
      // Runs one after another until 20 kills have landed (a fast machine may finish a run in fewer).
      for (let r = 0; r < 6 && (r === 0 || kills < 20); r++) {
        const run = await crashUntilDone({
          target: file,
          dir,
          runId: `crash-${r}`,
          n: N,
          kill: () => kills < 20,
          onKill: () => kills++
        })
        for (const w of run.where) where.add(w)
        assert.deepStrictEqual(run.result, expected)
        // Each item's edit applied once: the sum is exact (checked above); every item's edit ran at least once.
        assert.strictEqual(editedItems(run.log), N)
      }
      assert.isAtLeast(kills, 20)
      console.log(`durable crash test: ${kills} kills, landing ${[...where].join("; ")}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("two processes running one runId: one runs it, the other gets RunBusyError naming the owner; after the owner is SIGKILLed a third resumes and finishes it", {
    timeout: 150_000
  }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "durable-busy-"))
    const file = path.join(dir, "runs.db")
    const log = path.join(dir, "calls.log")
    // Each step has its own deadline (together under the test's), so a hang names the step that hung.
    const journal = async () => {
      const j = await journalOf(file, "busy-1")
      return `journal: ${j.length} entries, last ${JSON.stringify(j.at(-1))}`
    }
    try {
      const owner = start(file, log, "busy-1", 800)
      await within(owner, 30_000, "the owner printing started", { until: owner.started })
      // wait until the owner has journaled something: it holds the lease
      for (let i = 0; i < 200 && (await journalOf(file, "busy-1").catch(() => [])).length < 2; i++) await sleep(50)
      const second = start(file, log, "busy-1", 800)
      const { out } = await within(second, 30_000, "the second process failing with RunBusyError", { detail: journal })
      assert.match(out, /^error RunBusyError /m, out)
      assert.include(out, `pid ${owner.child.pid}`)
      owner.child.kill("SIGKILL")
      await within(owner, 10_000, "the owner exiting on SIGKILL")
      const third = start(file, log, "busy-1", 800)
      const done = await within(third, 60_000, "the third process resuming the run to its end", { detail: journal })
      const line = done.out.split("\n").find((l) => l.startsWith("result "))
      assert.isDefined(line, done.out + done.err)
      assert.strictEqual(JSON.parse(line!.slice(7)).sum, (800 * 799) / 2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
