/**
 * Durable runs across real processes: a child process runs a durable fan-out on a SQLite file and is SIGKILLed
 * at random points, again and again; the next process resumes the run by its runId. The result and final state
 * equal an uninterrupted run's, no invocation whose end was committed runs again, the re-runs keep their
 * invocationId, and each item's store edit is applied once.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "@effect/vitest"
import { RunStore } from "@effect-flow/core"
import { Effect } from "effect"
import { SqliteRunStore } from "../src/index.ts"

const fixture = fileURLToPath(new URL("./fixtures/durableFanout.ts", import.meta.url))

interface Child {
  readonly child: ChildProcess
  readonly started: Promise<void>
  readonly exited: Promise<{ readonly out: string; readonly err: string }>
}

const start = (file: string, log: string, runId: string, n: number): Child => {
  const child = spawn(process.execPath, ["--conditions=@effect-flow/source", fixture, file, log, runId, String(n)], {
    stdio: ["ignore", "pipe", "pipe"]
  })
  let out = ""
  let err = ""
  let onStart: () => void = () => {}
  const started = new Promise<void>((resolve) => (onStart = resolve))
  child.stderr!.on("data", (chunk) => (err += chunk))
  child.stdout!.on("data", (chunk) => {
    out += chunk
    if (out.includes("started\n")) onStart()
  })
  const exited = new Promise<{ out: string; err: string }>((resolve) => child.on("exit", () => resolve({ out, err })))
  return { child, started, exited }
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms))

/** The run's journal as stored, parsed. */
const journalOf = (file: string, runId: string) =>
  Effect.runPromise(
    Effect.gen(function* () {
      const store = yield* RunStore.RunStore
      return (yield* store.readJournal(runId)).map((e) => JSON.parse(e.data))
    }).pipe(
      // killed before the run was created
      Effect.catchTag("RunNotFoundError", () => Effect.succeed([])),
      Effect.provide(SqliteRunStore.layer({ filename: file }))
    )
  )

const calls = (log: string) =>
  existsSync(log)
    ? readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l.startsWith("call "))
        .map((l) => l.split(" ")[1]!)
    : []

const N = 600
const expected = { values: Array.from({ length: N }, (_, i) => i * 10), sum: (N * (N - 1)) / 2 }

describe("Durable.run across SIGKILLed processes (SQLite file)", () => {
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
        const runId = `crash-${r}`
        const log = path.join(dir, `calls-${r}.log`)
        let result: string | undefined
        for (let round = 0; round < 60 && result === undefined; round++) {
          const before = await (existsSync(file) ? journalOf(file, runId) : Promise.resolve([]))
          const ended = new Set(before.filter((e) => e.t === "e" && e.k !== "B").map((e) => e.i as string))
          const callsBefore = calls(log).length
          const child = start(file, log, runId, N)
          await child.started
          // Kill points spread over the whole run: during imports and the first batch, mid-dispatch, in the
          // middle of the workers' edits and backoffs, and during the gather's collect.
          const killAt = kills < 20 ? 30 + Math.floor(Math.random() * 370) : 120_000
          const outcome = await Promise.race([child.exited, sleep(killAt).then(() => undefined)])
          if (outcome === undefined) {
            child.child.kill("SIGKILL")
            const { err } = await child.exited
            if (child.child.signalCode === "SIGKILL") kills++
            else assert.fail(`the child ended by itself: ${err}`)
            // Where the kill landed, from what the journal holds open.
            const j = await journalOf(file, runId)
            const open = new Map<string, string>()
            for (const e of j.slice(1)) {
              if (e.t === "s") open.set(e.i, "started")
              else if (e.t === "b") open.set(e.i, "backoff")
              else if (e.t === "o" && e.op === "edit") open.set(e.i, "edited")
              else if (e.t === "o" && e.op === "collect") open.set(e.i, "collected")
              else if (e.t === "e" && e.k !== "B") open.delete(e.i)
              else if (e.t === "d") open.delete(e.i)
            }
            for (const [id, what] of open) {
              if (what === "backoff") where.add("mid-retry backoff")
              if (what === "edited") where.add("after a store.edit, before its invocation ended")
              if (what === "collected") where.add("after a collect offer, before its invocation ended")
              if (what === "started" && id.includes("/gather/")) where.add("in a collecting invocation")
              if (what === "started" && id.includes("/dispatch/")) where.add("mid-dispatch")
            }
          } else {
            const line = outcome.out.split("\n").find((l) => l.startsWith("result ") || l.startsWith("error "))
            assert.isDefined(line, `no result: ${outcome.out}\n${outcome.err}`)
            assert.match(line!, /^result /, outcome.err)
            result = line!.slice("result ".length)
          }
          // No invocation whose end was committed before this process started ran in it.
          const ranNow = calls(log).slice(callsBefore)
          for (const id of ranNow) assert.isFalse(ended.has(id), `${id} ended before round ${round} and ran again`)
          // The journal on disk is a consistent prefix: each invocation starts after it was routed, ends after it
          // started, and operations belong to started invocations.
          const journal = await journalOf(file, runId)
          const routed = new Set<string>()
          const startedIds = new Set<string>()
          for (const e of journal.slice(1)) {
            if (e.t === "r") routed.add(e.i)
            else if (e.t === "s") {
              assert.isTrue(routed.has(e.i), `${e.i} started before it was routed`)
              startedIds.add(e.i)
            } else if (e.t === "o" || e.t === "e") assert.isTrue(startedIds.has(e.i), `${e.i}: ${e.t} before start`)
          }
        }
        assert.deepStrictEqual(JSON.parse(result!), expected)
        // Each item's edit applied once: the sum is exact (checked above); every item's edit ran at least once.
        const edits = readFileSync(log, "utf8")
          .split("\n")
          .filter((l) => l.startsWith("edit "))
        assert.strictEqual(new Set(edits).size, N)
      }
      assert.isAtLeast(kills, 20)
      console.log(`durable crash test: ${kills} kills, landing ${[...where].join("; ")}`)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  it("two processes running one runId: one runs it, the other gets RunBusyError naming the owner; after the owner is SIGKILLed a third resumes and finishes it", {
    timeout: 120_000
  }, async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), "durable-busy-"))
    const file = path.join(dir, "runs.db")
    const log = path.join(dir, "calls.log")
    try {
      const owner = start(file, log, "busy-1", 800)
      await owner.started
      // wait until the owner has journaled something: it holds the lease
      for (let i = 0; i < 200 && (await journalOf(file, "busy-1").catch(() => [])).length < 2; i++) await sleep(50)
      const second = start(file, log, "busy-1", 800)
      const { out } = await second.exited
      assert.match(out, /^error RunBusyError /m, out)
      assert.include(out, `pid ${owner.child.pid}`)
      owner.child.kill("SIGKILL")
      await owner.exited
      const third = start(file, log, "busy-1", 800)
      const done = await third.exited
      const line = done.out.split("\n").find((l) => l.startsWith("result "))
      assert.isDefined(line, done.out + done.err)
      assert.strictEqual(JSON.parse(line!.slice(7)).sum, (800 * 799) / 2)
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
