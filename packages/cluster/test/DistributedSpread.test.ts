/**
 * Distributed steps across real runner processes: three `NodeClusterSocket` runners sharing a throwaway
 * Postgres (tuned intervals: see `fixtures/cluster.ts`), this process a client. A 100-item fan-out
 * with `distribute: true` spreads over the runners; a runner that only runs distributed invocations (not
 * the run's owner) is SIGKILLed mid-run: the result is complete, nothing is lost, and only invocations that
 * were in flight on the dead runner (started there, their result not yet back at the owner) ran twice. And a
 * runner killed at a chosen point (as a handler ends, before its reply is stored, through the fixture's
 * `SPREAD_DIE_AFTER_END`): that invocation runs again elsewhere, once.
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { Durable, RunStore } from "@effect-flow/core"
import { SqlRunStore } from "@effect-flow/sql"
import { Effect, Layer } from "effect"
import { freshDatabase, postgresTitle, postgresUrl } from "../../sql/test/postgres.ts"
import { waitFor } from "./fixtures/calls.ts"
import { awaitSettled, clientLayer, pgLayer, type Runner, spawnRunner } from "./fixtures/cluster.ts"
import { readSpreadLog, Spread, type SpreadLog } from "./fixtures/spread.ts"

const spreadModule = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "spread.ts")

type Named = Runner & { readonly name: string }

/**
 * `promise`, or after `ms` a failure saying what did not happen, with the spread log and the end of each runner's
 * output: a test that waits on real processes says why it failed rather than time out without a word. So too when
 * `promise` fails (a client's call that came back interrupted, say): its error, then the log and the outputs.
 */
const within = <A>(
  promise: Promise<A>,
  ms: number,
  what: string,
  log: string,
  runners: ReadonlyArray<Named>
): Promise<A> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(
      () =>
        reject(
          new Error(
            `${what}: not within ${ms / 1000} s; log:\n${fs.readFileSync(log, "utf8")}\n${runners.map((r) => `${r.name}:\n${r.output().slice(-3000)}`).join("\n")}`
          )
        ),
      ms
    )
  })
  const explained = promise.catch((error: unknown) =>
    Promise.reject(
      new Error(
        `${what}: failed with ${error instanceof Error ? `${error.name}: ${error.message}` : String(error)}; log:\n${fs.readFileSync(log, "utf8")}\n${runners.map((r) => `${r.name}:\n${r.output().slice(-3000)}`).join("\n")}`,
        { cause: error }
      )
    )
  )
  return Promise.race([explained, late]).finally(() => clearTimeout(timer))
}

/**
 * Three runners of the spread workflow on a fresh database (`env` adds to a runner's environment), the log they
 * share, read with `read`; every runner stopped and the log removed at the end.
 */
const withRunners = async (
  database: string,
  env: (name: string) => Record<string, string>,
  body: (cluster: {
    readonly url: string
    readonly log: string
    readonly runners: ReadonlyArray<Named>
    readonly read: () => SpreadLog
  }) => Promise<void>
) => {
  const url = await Effect.runPromise(freshDatabase(database))
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `effect-flow-${database}-`))
  const log = path.join(dir, "spread.log")
  fs.writeFileSync(log, "")
  const runners: Array<Named> = []
  try {
    // One after another: the first creates the cluster's tables.
    for (const name of ["runner-1", "runner-2", "runner-3"]) {
      const runner = await spawnRunner({
        url,
        workflowsModule: spreadModule,
        env: { SPREAD_LOG: log, RUNNER_NAME: name, ...env(name) }
      })
      runners.push(Object.assign(runner, { name }))
      await runner.ready
    }
    await awaitSettled(url, runners.length)
    await body({ url, log, runners, read: () => readSpreadLog(fs.readFileSync(log, "utf8")) })
  } finally {
    await Promise.all(runners.map((r) => r.stop()))
    fs.rmSync(dir, { recursive: true, force: true })
  }
}

describe.skipIf(postgresUrl === undefined)(`distribute: true across runner processes${postgresTitle}`, () => {
  it("3 runners: a 100-item fan-out spreads over them; SIGKILL of a runner running only distributed invocations loses nothing, and only its in-flight invocations ran twice", async () => {
    await withRunners(
      "cdist_spread",
      () => ({}),
      async ({ url, log, runners, read }) => {
        const running = Effect.runPromise(
          Distributed.run(Spread, { n: 100, millis: 150 }, { runId: "spread-1" }).pipe(Effect.provide(clientLayer(url)))
        )
        running.catch(() => {})
        await waitFor("25 invocations to end", 60_000, () => [...read().ends.keys()].length >= 25)
        // The victim: a runner that is not the run's owner and has invocations in flight.
        const owner = read().owners[0]!
        let victim: (typeof runners)[number] | undefined
        await waitFor("a runner other than the owner with an invocation in flight", 30_000, () => {
          const now = read()
          victim = runners.find(
            (r) =>
              r.name !== owner &&
              [...now.starts].some(([i, by]) => by.includes(r.name) && !(now.ends.get(i) ?? []).includes(r.name))
          )
          return victim !== undefined
        })
        await victim!.kill()
        const atKill = read()
        expect(
          atKill.endedBy.size,
          "the fan-out spread over at least 2 runners before the kill"
        ).toBeGreaterThanOrEqual(2)

        const result = await within(running, 60_000, "the result after the SIGKILL", log, runners)
        const after = read()
        // Nothing lost: every item's result, once each, in order.
        expect(result.map((r) => r.index)).toEqual(Array.from({ length: 100 }, (_, i) => i))
        expect(after.owners).toEqual([owner])
        const ranTwice = [...after.starts].filter(([, by]) => by.length > 1).map(([i]) => i)
        const inFlightOnVictim = new Set(
          [...atKill.starts].filter(([i, by]) => by.includes(victim!.name) && !atKill.got.has(i)).map(([i]) => i)
        )
        // Every item that ran twice was in flight on the dead runner: started there, its result not at the owner
        // when it died. None ran again elsewhere: not when the cluster moved a surviving runner's shards (a
        // moved step message is finished where it runs before its shard goes), not when it moved the run itself
        // (its new owner asks for the reply of the attempt in flight instead of running it again).
        const lines = fs
          .readFileSync(log, "utf8")
          .split("\n")
          .filter((l) => l !== "")
        for (const i of ranTwice) {
          const mine = lines.filter((l) => l.split(" ")[2] === String(i))
          expect(
            inFlightOnVictim.has(i),
            `item ${i} ran twice and was not in flight on ${victim!.name}:\n${mine.join("\n")}`
          ).toBe(true)
          expect(after.starts.get(i)!.length, `item ${i} ran more than twice:\n${mine.join("\n")}`).toBe(2)
        }
        // The items the victim had in flight were finished by the others.
        for (const i of inFlightOnVictim) {
          expect(result[i]!.runner === victim!.name ? atKill.ends.get(i) : after.ends.get(i)).toBeDefined()
        }
        expect(after.endedBy.size).toBeGreaterThanOrEqual(2)
        // Whether the cluster moved (or restarted) the run meanwhile: its owner then resumed it from the journal,
        // starting the invocations in flight as their next attempt (distributed ones got their first attempt's
        // reply instead of running again, as checked above).
        const journal = await Effect.runPromise(
          Effect.gen(function* () {
            const store = yield* RunStore.RunStore
            return yield* store.readJournal("spread-1")
          }).pipe(Effect.provide(SqlRunStore.layer().pipe(Layer.provide(pgLayer(url)))))
        )
        const reattached = journal
          .map((e) => Durable.readEntry("spread-1", e.data))
          .filter((e) => e.t === "s" && e.a! > 1 && e.i!.includes("/work/")).length
        console.log(
          `[spread] owner ${owner}, killed ${victim!.name}; ended per runner: ${JSON.stringify(Object.fromEntries(after.endedBy))}; ran twice: ${ranTwice.length} of the ${inFlightOnVictim.size} in flight on the dead runner; the run was ${reattached === 0 ? "not resumed" : `resumed, with ${reattached} distributed invocations in flight, none of which ran again unless in flight on the dead runner`}`
        )
      }
    )
  }, 180_000)

  it("a runner SIGKILLed as a handler ends, before its reply is stored: that invocation runs again elsewhere, once; nothing else runs twice but what was in flight on it", async () => {
    // runner-3 kills itself as its 5th invocation ends (owning the run or not).
    await withRunners(
      "cdist_die",
      (name) => (name === "runner-3" ? { SPREAD_DIE_AFTER_END: "5" } : {}),
      async ({ url, log, runners, read }) => {
        const running = Effect.runPromise(
          Distributed.run(Spread, { n: 60, millis: 100 }, { runId: "die-1" }).pipe(Effect.provide(clientLayer(url)))
        )
        running.catch(() => {})
        const exited = await within(runners[2]!.exited, 60_000, "runner-3's death", log, runners)
        expect(exited.signal).toBe("SIGKILL")
        const atDeath = read()
        const dying = atDeath.died.get("runner-3")
        expect(dying, "runner-3 noted the invocation it died in").toBeDefined()

        const result = await within(running, 60_000, "the result after runner-3's death", log, runners)
        const after = read()
        expect(result.map((r) => r.index)).toEqual(Array.from({ length: 60 }, (_, i) => i))
        expect(after.owners).toHaveLength(1)
        // The invocation it died in had ended in its handler, but its reply was never stored: it ran again, once,
        // elsewhere, and its result came from there.
        expect(after.starts.get(dying!)).toHaveLength(2)
        expect(after.starts.get(dying!)![0]).toBe("runner-3")
        expect(result[dying!]!.runner).not.toBe("runner-3")
        // Whatever else ran twice was in flight on runner-3 when it died.
        const inFlight = new Set(
          [...atDeath.starts].filter(([i, by]) => by.includes("runner-3") && !atDeath.got.has(i)).map(([i]) => i)
        )
        const lines = fs.readFileSync(log, "utf8").split("\n")
        for (const [i, by] of after.starts) {
          if (by.length === 1) continue
          expect(
            inFlight.has(i) && by.length === 2,
            `item ${i} ran ${by.length} times, not in flight on runner-3:\n${lines.filter((l) => l.split(" ")[2] === String(i)).join("\n")}`
          ).toBe(true)
        }
        console.log(
          `[die] owner ${after.owners[0]}; runner-3 died in item ${dying}, which ran again on ${result[dying!]!.runner}; ran twice: ${[...after.starts].filter(([, by]) => by.length > 1).length} of the ${inFlight.size} in flight on runner-3`
        )
      }
    )
  }, 120_000)

  it("SIGTERM of a runner running distributed invocations (a deploy): it exits at once instead of after entityTerminationTimeout (15 s); each invocation it had in flight runs again on the shard's next owner, once; the result is complete", async () => {
    await withRunners(
      "cdist_term",
      () => ({ EFFECT_FLOW_TERMINATION_TIMEOUT_MS: "15000" }),
      async ({ url, log, runners, read }) => {
        // 8 s items, all in flight at once (8 workers): a runner that waited for them would take about 7 to 8 s to
        // exit (its item started just before the SIGTERM), one that does not well under that (4.9 s seen on a loaded
        // machine). Longer items are no cure: while they run, the SIGTERM's shard rebalance may move another
        // runner's shard, and an item there runs twice, which this test rightly counts.
        const millis = 8_000
        const running = Effect.runPromise(
          Distributed.run(Spread, { n: 8, millis }, { runId: "term-1" }).pipe(Effect.provide(clientLayer(url)))
        )
        running.catch(() => {})
        let victim: (typeof runners)[number] | undefined
        await waitFor("a runner other than the owner with an invocation in flight", 60_000, () => {
          const now = read()
          const owner = now.owners[0]
          victim = runners.find(
            (r) => owner !== undefined && r.name !== owner && [...now.starts.values()].some((by) => by.includes(r.name))
          )
          return victim !== undefined
        })
        const termAt = Date.now()
        // SIGKILL only long after the termination timeout: the measurement is the runner's own exit.
        await victim!.stop(30_000)
        const shutdownMs = Date.now() - termAt
        const exit = await victim!.exited
        expect(exit.signal, `the runner exited by itself:\n${exit.out}`).not.toBe("SIGKILL")
        const atTerm = read()
        const inFlight = [...atTerm.starts]
          .filter(([i, by]) => by.includes(victim!.name) && !(atTerm.ends.get(i) ?? []).includes(victim!.name))
          .map(([i]) => i)
        expect(
          inFlight.length,
          `the victim had invocations in flight (exited after ${shutdownMs} ms):\n${fs.readFileSync(log, "utf8")}`
        ).toBeGreaterThan(0)

        const result = await within(running, 60_000, "the result after the SIGTERM", log, runners)
        const after = read()
        expect(result.map((r) => r.index)).toEqual(Array.from({ length: 8 }, (_, i) => i))
        expect(after.owners, "the run stayed with its owner").toHaveLength(1)
        for (const [i, by] of after.starts) {
          if (inFlight.includes(i)) {
            // interrupted on the victim (never ended there), run again once elsewhere, its result from there
            expect(by, `item ${i}`).toHaveLength(2)
            expect(by[0]).toBe(victim!.name)
            expect(after.ends.get(i)).not.toContain(victim!.name)
            expect(result[i]!.runner).not.toBe(victim!.name)
          } else {
            expect(by, `item ${i} ran once`).toHaveLength(1)
          }
        }
        console.log(
          `[term] owner ${after.owners[0]}; ${victim!.name} got SIGTERM with ${inFlight.length} invocations of ${millis} ms in flight and exited ${shutdownMs} ms later (entityTerminationTimeout 15 s); each ran again on ${inFlight.map((i) => result[i]!.runner).join(", ")}`
        )
        expect(shutdownMs, "the runner stopped without waiting for its invocations").toBeLessThan((millis * 3) / 4)
      }
    )
  }, 120_000)
})
