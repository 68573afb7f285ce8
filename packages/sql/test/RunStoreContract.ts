/**
 * The contract every `RunStore` keeps, as one test suite run against each implementation (memory, a SQLite file,
 * Postgres). The store is shared by the tests of one suite: each test uses its own run ids and workflow names.
 */
import { spawnSync } from "node:child_process"
import * as os from "node:os"
import { assert, layer } from "@effect/vitest"
import { RunStore } from "@effect-flow/core"
import { Effect, Exit, type Layer } from "effect"
import { TestClock } from "effect/testing"
import * as fc from "fast-check"

let counter = 0
const unique = (label: string) => `${label}-${process.pid}-${++counter}-${Math.floor(Math.random() * 1e6)}`

const here = os.hostname()

/** A pid that existed a moment ago and no longer does. */
export const deadPid = (): number => {
  const child = spawnSync(process.execPath, ["-e", ""])
  return child.pid!
}

const store = RunStore.RunStore

const newRun = (workflow = unique("wf")) =>
  Effect.gen(function* () {
    const s = yield* store
    const runId = unique("run")
    const { run } = yield* s.create({ runId, workflow, definitionHash: "h1", input: '{"n":1}' })
    return run
  })

const request = (owner: string, overrides: Partial<RunStore.LeaseRequest> = {}): RunStore.LeaseRequest => ({
  owner,
  pid: process.pid,
  host: here,
  ttl: "5 seconds",
  ...overrides
})

const owned = (workflow?: string) =>
  Effect.gen(function* () {
    const run = yield* newRun(workflow)
    const lease = yield* (yield* store).acquire(run.runId, request(unique("owner")))
    return { run, lease }
  })

export const runStoreContract = (name: string, storeLayer: Layer.Layer<RunStore.RunStore, unknown>) =>
  layer(storeLayer, { timeout: 60_000 })(`RunStore contract: ${name}`, (it) => {
    it.effect("create makes a running run; create again gets it; a different definition or input is refused", () =>
      Effect.gen(function* () {
        const s = yield* store
        yield* TestClock.setTime(1_000)
        const runId = unique("run")
        const made = yield* s.create({ runId, workflow: "orders", definitionHash: "h1", input: '{"id":42}' })
        assert.isTrue(made.created)
        assert.deepStrictEqual(made.run, {
          runId,
          workflow: "orders",
          definitionHash: "h1",
          input: '{"id":42}',
          status: "running",
          createdAt: 1_000,
          updatedAt: 1_000,
          journalLength: 0,
          compacted: false
        })
        const again = yield* s.create({ runId, workflow: "orders", definitionHash: "h1", input: '{"id":42}' })
        assert.isFalse(again.created)
        assert.deepStrictEqual(again.run, made.run)
        assert.deepStrictEqual(yield* s.get(runId), made.run)

        const changed = yield* Effect.flip(
          s.create({ runId, workflow: "orders2", definitionHash: "h2", input: '{"id":43}' })
        )
        assert.strictEqual(changed._tag, "WorkflowChangedError")
        if (changed._tag !== "WorkflowChangedError") return
        assert.strictEqual(changed.changes.length, 3)
        assert.match(changed.message, /workflow name: stored "orders", given "orders2"/)
        assert.match(changed.message, /definition: stored hash h1, given h2/)
        assert.match(changed.message, /input: stored \{"id":42\}, given \{"id":43\}/)
      })
    )

    it.effect("an unknown run id is RunNotFoundError for every read and write", () =>
      Effect.gen(function* () {
        const s = yield* store
        const runId = unique("missing")
        const lease: RunStore.Lease = {
          runId,
          owner: "o",
          pid: 1,
          host: here,
          token: 1,
          expiresAt: 0,
          ttlMillis: 1000
        }
        for (const attempt of [
          s.get(runId),
          s.readJournal(runId),
          s.readInbox(runId),
          s.putInbox(runId, "{}"),
          s.compact(runId),
          s.acquire(runId, request("o")),
          s.append(lease, { seq: 0, entries: ["{}"] })
        ]) {
          const error = yield* Effect.flip(attempt as Effect.Effect<unknown, { _tag: string; message: string }>)
          assert.strictEqual(error._tag, "RunNotFoundError")
          assert.include(error.message, runId)
        }
      })
    )

    it.effect("property: the journal reads back every appended batch, in order, byte for byte", () =>
      Effect.gen(function* () {
        const ctx = yield* Effect.context<RunStore.RunStore>()
        const entry = fc.jsonValue({ maxDepth: 2 }).map((value) => JSON.stringify(value))
        yield* Effect.promise(() =>
          fc.assert(
            fc.asyncProperty(
              fc.array(fc.array(entry, { maxLength: 12 }), { maxLength: 6 }),
              fc.nat({ max: 40 }),
              (batches, fromRaw) =>
                Effect.runPromiseWith(ctx)(
                  Effect.gen(function* () {
                    const s = yield* store
                    const { run, lease } = yield* owned()
                    let seq = 0
                    for (const entries of batches) {
                      yield* s.append(lease, { seq, entries })
                      seq += entries.length
                    }
                    const all = batches.flat()
                    const journal = yield* s.readJournal(run.runId)
                    assert.deepStrictEqual(
                      journal,
                      all.map((data, i) => ({ seq: i, data }))
                    )
                    const from = Math.min(fromRaw, all.length)
                    assert.deepStrictEqual(yield* s.readJournal(run.runId, { from }), journal.slice(from))
                    assert.strictEqual((yield* s.get(run.runId)).journalLength, all.length)
                  })
                )
            ),
            { numRuns: 25 }
          )
        )
      })
    )

    it.effect("entries are kept exactly: unicode, escapes, large entries", () =>
      Effect.gen(function* () {
        const s = yield* store
        const { run, lease } = yield* owned()
        const entries = [
          JSON.stringify({ text: "héllo wörld ✓ 🎉 日本語", quote: '"\\', nl: "a\nb\tc" }),
          JSON.stringify("x".repeat(200_000)),
          JSON.stringify({ lone: "\ud800", zero: "\u0000" }),
          "0"
        ]
        yield* s.append(lease, { seq: 0, entries })
        assert.deepStrictEqual(
          (yield* s.readJournal(run.runId)).map((e) => e.data),
          entries
        )
      })
    )

    it.effect("a batch that does not start at the journal's length is refused and writes nothing", () =>
      Effect.gen(function* () {
        const s = yield* store
        const { run, lease } = yield* owned()
        const inboxId = yield* s.putInbox(run.runId, '{"answer":1}')
        yield* s.append(lease, { seq: 0, entries: ["1", "2"] })
        for (const seq of [0, 1, 3]) {
          const error = yield* Effect.flip(
            s.append(lease, { seq, entries: ["x"], status: { status: "completed", result: "1" }, consumed: [inboxId] })
          )
          assert.strictEqual(error._tag, "RunStoreError")
          assert.match(error.message, /journal holds 2 entries/)
          assert.include(error.message, s.name)
        }
        assert.deepStrictEqual(
          (yield* s.readJournal(run.runId)).map((e) => e.data),
          ["1", "2"]
        )
        const after = yield* s.get(run.runId)
        assert.strictEqual(after.status, "running")
        assert.isUndefined(after.result)
        assert.strictEqual((yield* s.readInbox(run.runId)).length, 1)
      })
    )

    it.effect("a batch writes its entries, status and consumed messages together", () =>
      Effect.gen(function* () {
        const s = yield* store
        yield* TestClock.setTime(5_000)
        const { run, lease } = yield* owned()
        const a = yield* s.putInbox(run.runId, '{"a":1}')
        const b = yield* s.putInbox(run.runId, '{"b":2}')
        const c = yield* s.putInbox(run.runId, '{"c":3}')
        assert.deepStrictEqual(
          (yield* s.readInbox(run.runId)).map((m) => [m.id, m.data, m.createdAt]),
          [
            [a, '{"a":1}', 5_000],
            [b, '{"b":2}', 5_000],
            [c, '{"c":3}', 5_000]
          ]
        )
        yield* TestClock.adjust("2 seconds")
        yield* s.append(lease, { seq: 0, entries: ['{"got":"a"}'], status: { status: "waiting" }, consumed: [a, c] })
        assert.deepStrictEqual(
          (yield* s.readInbox(run.runId)).map((m) => m.id),
          [b]
        )
        const waiting = yield* s.get(run.runId)
        assert.strictEqual(waiting.status, "waiting")
        assert.strictEqual(waiting.updatedAt, 7_000)
        assert.strictEqual(waiting.createdAt, 5_000)
        yield* s.append(lease, {
          seq: 1,
          entries: ['{"end":true}'],
          status: { status: "completed", result: '{"total":3}' },
          consumed: [b]
        })
        const done = yield* s.get(run.runId)
        assert.strictEqual(done.status, "completed")
        assert.strictEqual(done.result, '{"total":3}')
        assert.isUndefined(done.error)
        assert.strictEqual(done.journalLength, 2)
        assert.deepStrictEqual(yield* s.readInbox(run.runId), [])
      })
    )

    it.effect("a lease held by a live process is busy; its owner may take it again", () =>
      Effect.gen(function* () {
        const s = yield* store
        yield* TestClock.setTime(10_000)
        const run = yield* newRun()
        const first = yield* s.acquire(run.runId, request("owner-a"))
        assert.strictEqual(first.expiresAt, 15_000)
        const busy = yield* Effect.flip(s.acquire(run.runId, request("owner-b")))
        assert.strictEqual(busy._tag, "RunBusyError")
        if (busy._tag !== "RunBusyError") return
        assert.deepStrictEqual(
          [busy.owner, busy.pid, busy.host, busy.expiresAt],
          ["owner-a", process.pid, here, 15_000]
        )
        assert.include(busy.message, "owner-a")
        const again = yield* s.acquire(run.runId, request("owner-a"))
        assert.isAbove(again.token, first.token)
      })
    )

    it.effect("a lease is free at once when its holder was a process on this host that is gone", () =>
      Effect.gen(function* () {
        const s = yield* store
        const run = yield* newRun()
        const gone = deadPid()
        yield* s.acquire(run.runId, request("dead-owner", { pid: gone, ttl: "1 hour" }))
        const taken = yield* s.acquire(run.runId, request("heir"))
        assert.strictEqual(taken.owner, "heir")
      })
    )

    it.effect("a lease held on another host is busy until it expires, then free", () =>
      Effect.gen(function* () {
        const s = yield* store
        yield* TestClock.setTime(100_000)
        const run = yield* newRun()
        yield* s.acquire(run.runId, request("far-owner", { pid: deadPid(), host: "another-host", ttl: "4 seconds" }))
        const busy = yield* Effect.flip(s.acquire(run.runId, request("heir")))
        assert.strictEqual(busy._tag, "RunBusyError")
        yield* TestClock.adjust("3999 millis")
        assert.strictEqual((yield* Effect.flip(s.acquire(run.runId, request("heir"))))._tag, "RunBusyError")
        yield* TestClock.adjust("1 millis")
        assert.strictEqual((yield* s.acquire(run.runId, request("heir"))).owner, "heir")
      })
    )

    it.effect("renew extends a lease; a released lease is free at once", () =>
      Effect.gen(function* () {
        const s = yield* store
        yield* TestClock.setTime(0)
        const run = yield* newRun()
        const lease = yield* s.acquire(run.runId, request("a", { host: "h1", ttl: "2 seconds" }))
        yield* TestClock.adjust("1500 millis")
        const renewed = yield* s.renew(lease)
        assert.strictEqual(renewed.expiresAt, 3_500)
        assert.strictEqual(renewed.token, lease.token)
        yield* TestClock.adjust("1 second")
        // other host, not expired thanks to the renewal
        assert.strictEqual(
          (yield* Effect.flip(s.acquire(run.runId, request("b", { host: "h2" }))))._tag,
          "RunBusyError"
        )
        yield* s.release(renewed)
        assert.strictEqual((yield* s.acquire(run.runId, request("b", { host: "h2" }))).owner, "b")
      })
    )

    it.effect("fencing: once another owner took the lease, the old owner can neither append nor renew", () =>
      Effect.gen(function* () {
        const s = yield* store
        yield* TestClock.setTime(0)
        const run = yield* newRun()
        const old = yield* s.acquire(run.runId, request("old", { host: "h1", ttl: "1 second" }))
        yield* s.append(old, { seq: 0, entries: ['"by old"'] })
        yield* TestClock.adjust("2 seconds")
        const heir = yield* s.acquire(run.runId, request("heir", { host: "h2" }))
        const refused = yield* Effect.flip(s.append(old, { seq: 1, entries: ['"late write"'] }))
        assert.strictEqual(refused._tag, "RunBusyError")
        if (refused._tag === "RunBusyError") assert.strictEqual(refused.owner, "heir")
        assert.strictEqual((yield* Effect.flip(s.renew(old)))._tag, "RunBusyError")
        yield* s.release(old) // a no-op: it is not held by old
        yield* s.append(heir, { seq: 1, entries: ['"by heir"'] })
        assert.deepStrictEqual(
          (yield* s.readJournal(run.runId)).map((e) => e.data),
          ['"by old"', '"by heir"']
        )
        // the same owner re-acquiring fences its own older lease too
        const heir2 = yield* s.acquire(run.runId, request("heir", { host: "h2" }))
        assert.strictEqual((yield* Effect.flip(s.append(heir, { seq: 2, entries: ["1"] })))._tag, "RunBusyError")
        yield* s.append(heir2, { seq: 2, entries: ["1"] })
      })
    )

    it.effect("list: newest created first, filtered by workflow and status, limited", () =>
      Effect.gen(function* () {
        const s = yield* store
        const workflow = unique("listed")
        const other = unique("other")
        yield* TestClock.setTime(1_000)
        const first = yield* newRun(workflow)
        yield* TestClock.adjust("1 second")
        const second = yield* owned(workflow)
        yield* newRun(other)
        yield* TestClock.adjust("1 second")
        const third = yield* newRun(workflow)
        const fourth = yield* newRun(workflow) // same millisecond as the third: creation order decides
        yield* s.append(second.lease, { seq: 0, entries: [], status: { status: "failed", error: '{"_tag":"Boom"}' } })

        const ids = (runs: ReadonlyArray<RunStore.RunInfo>) => runs.map((r) => r.runId)
        assert.deepStrictEqual(ids(yield* s.list({ workflow })), [
          fourth.runId,
          third.runId,
          second.run.runId,
          first.runId
        ])
        assert.deepStrictEqual(ids(yield* s.list({ workflow, status: "failed" })), [second.run.runId])
        assert.deepStrictEqual(ids(yield* s.list({ workflow, status: "running", limit: 2 })), [
          fourth.runId,
          third.runId
        ])
        const failed = (yield* s.list({ workflow, status: "failed" }))[0]!
        assert.strictEqual(failed.error, '{"_tag":"Boom"}')
        const everything = yield* s.list()
        assert.isAtLeast(everything.length, 5)
        assert.isTrue(ids(everything).includes(first.runId))
      })
    )

    it.effect("compact drops a finished run's journal and inbox and keeps its outcome; not an unfinished one", () =>
      Effect.gen(function* () {
        const s = yield* store
        const { run, lease } = yield* owned()
        yield* s.append(lease, { seq: 0, entries: ["1", "2", "3"] })
        yield* s.putInbox(run.runId, '"late"')
        assert.isFalse(yield* s.compact(run.runId))
        assert.strictEqual((yield* s.readJournal(run.runId)).length, 3)
        yield* s.append(lease, { seq: 3, entries: ['"end"'], status: { status: "completed", result: '"ok"' } })
        assert.isTrue(yield* s.compact(run.runId))
        assert.deepStrictEqual(yield* s.readJournal(run.runId), [])
        assert.deepStrictEqual(yield* s.readInbox(run.runId), [])
        const kept = yield* s.get(run.runId)
        assert.deepStrictEqual(
          [kept.status, kept.result, kept.compacted, kept.journalLength],
          ["completed", '"ok"', true, 4]
        )
        const refused = yield* Effect.flip(s.append(lease, { seq: 4, entries: ["5"] }))
        assert.strictEqual(refused._tag, "RunStoreError")
        assert.match(refused.message, /compacted/)
      })
    )

    it.effect("concurrent appends from one owner: exactly one batch per sequence number wins", () =>
      Effect.gen(function* () {
        const s = yield* store
        const { run, lease } = yield* owned()
        const exits = yield* Effect.forEach(
          Array.from({ length: 8 }, (_, i) => i),
          (i) => Effect.exit(s.append(lease, { seq: 0, entries: [`${i}`] })),
          { concurrency: "unbounded" }
        )
        assert.strictEqual(exits.filter(Exit.isSuccess).length, 1)
        assert.strictEqual((yield* s.readJournal(run.runId)).length, 1)
      })
    )
  })
