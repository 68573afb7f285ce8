/**
 * Distributed steps across real runner processes: three `NodeClusterSocket` runners sharing a throwaway
 * Postgres (tuned intervals: see `fixtures/cluster.ts`), this process a client. A 100-item fan-out
 * with `distribute: true` spreads over the runners; a runner that only runs distributed invocations (not
 * the run's owner) is SIGKILLed mid-run: the result is complete, nothing is lost, and only invocations that
 * were in flight on the dead runner (started there, their result not yet back at the owner) ran twice, or,
 * when the cluster moved or restarted the run's own entity meanwhile (shard locks on a loaded machine), ones
 * in flight in the run as its owner resumed it from the journal (the next attempt, same invocationId).
 */
import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { describe, expect, it } from "@effect/vitest"
import { Distributed } from "@effect-flow/cluster"
import { Effect } from "effect"
import { freshDatabase, postgresTitle, postgresUrl } from "../../sql/test/postgres.ts"
import { clientLayer, type Runner, spawnRunner } from "./fixtures/cluster.ts"
import { readSpreadLog, Spread } from "./fixtures/spread.ts"

const spreadModule = path.join(path.dirname(fileURLToPath(import.meta.url)), "fixtures", "spread.ts")

const waitFor = async (what: string, check: () => boolean, timeoutMs: number) => {
  const until = Date.now() + timeoutMs
  while (!check()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`)
    await new Promise((r) => setTimeout(r, 25))
  }
}

describe.skipIf(postgresUrl === undefined)(`distribute: true across runner processes${postgresTitle}`, () => {
  it("3 runners: a 100-item fan-out spreads over them; SIGKILL of a runner running only distributed invocations loses nothing, and only its in-flight invocations ran twice", async () => {
    const url = await Effect.runPromise(freshDatabase("cdist_spread"))
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-flow-spread-"))
    const log = path.join(dir, "spread.log")
    fs.writeFileSync(log, "")
    const runners: Array<Runner & { readonly name: string }> = []
    try {
      // One after another: the first creates the cluster's tables.
      for (const name of ["runner-1", "runner-2", "runner-3"]) {
        const runner = await spawnRunner({
          url,
          workflowsModule: spreadModule,
          env: { SPREAD_LOG: log, RUNNER_NAME: name }
        })
        runners.push(Object.assign(runner, { name }))
        await runner.ready
      }
      const running = Effect.runPromise(
        Distributed.run(Spread, { n: 100, millis: 150 }, { runId: "spread-1" }).pipe(Effect.provide(clientLayer(url)))
      )
      running.catch(() => {})
      const read = () => readSpreadLog(fs.readFileSync(log, "utf8"))
      await waitFor("25 invocations to end", () => [...read().ends.keys()].length >= 25, 60_000)
      // The victim: a runner that is not the run's owner and has invocations in flight.
      const owner = read().owners[0]!
      let victim: (typeof runners)[number] | undefined
      await waitFor(
        "a runner other than the owner with an invocation in flight",
        () => {
          const now = read()
          victim = runners.find(
            (r) =>
              r.name !== owner &&
              [...now.starts].some(([i, by]) => by.includes(r.name) && !(now.ends.get(i) ?? []).includes(r.name))
          )
          return victim !== undefined
        },
        30_000
      )
      await victim!.kill()
      const atKill = read()
      expect(atKill.endedBy.size, "the fan-out spread over at least 2 runners before the kill").toBeGreaterThanOrEqual(
        2
      )

      const result = await running
      const after = read()
      // Nothing lost: every item's result, once each, in order.
      expect(result.map((r) => r.index)).toEqual(Array.from({ length: 100 }, (_, i) => i))
      expect(after.owners).toEqual([owner])
      const ranTwice = [...after.starts].filter(([, by]) => by.length > 1).map(([i]) => i)
      const inFlightOnVictim = new Set(
        [...atKill.starts].filter(([i, by]) => by.includes(victim!.name) && !atKill.got.has(i)).map(([i]) => i)
      )
      // Every item that ran twice was in flight on the dead runner, or in flight in the run when its owner
      // resumed it from the journal (the cluster moved or restarted the run's entity, as a loaded machine's
      // shard locks can make it do): then it ran again under the same invocationId with the next attempt, and
      // its result had not reached the owner before it ran again.
      const lines = fs
        .readFileSync(log, "utf8")
        .split("\n")
        .filter((l) => l !== "")
      let resumed = 0
      for (const i of ranTwice) {
        const mine = lines.map((l, at) => [l.split(" "), at] as const).filter(([f]) => f[2] === String(i))
        const starts = mine.filter(([f]) => f[1] === "start")
        const attempts = starts.map(([f]) => Number(f[4]))
        const gotAt = mine.find(([f]) => f[1] === "got")?.[1] ?? Infinity
        const rerunAfterResume =
          attempts.every((n, k) => k === 0 || n === attempts[k - 1]! + 1) && gotAt > starts.at(-1)![1]
        if (!inFlightOnVictim.has(i)) resumed++
        expect(
          inFlightOnVictim.has(i) || rerunAfterResume,
          `item ${i} ran twice, neither in flight on ${victim!.name} nor re-run after a resume:\n${mine.map(([f]) => f.join(" ")).join("\n")}`
        ).toBe(true)
        expect(after.starts.get(i)!.filter((r) => r === victim!.name).length).toBeLessThanOrEqual(1)
      }
      // The items the victim had in flight were finished by the others.
      for (const i of inFlightOnVictim) {
        expect(result[i]!.runner === victim!.name ? atKill.ends.get(i) : after.ends.get(i)).toBeDefined()
      }
      expect(after.endedBy.size).toBeGreaterThanOrEqual(2)
      console.log(
        `[spread] owner ${owner}, killed ${victim!.name}; ended per runner: ${JSON.stringify(Object.fromEntries(after.endedBy))}; ran twice: ${ranTwice.length} (${ranTwice.length - resumed} of the ${inFlightOnVictim.size} in flight on the dead runner, ${resumed} after a resume of the run)`
      )
    } finally {
      await Promise.all(runners.map((r) => r.stop()))
      fs.rmSync(dir, { recursive: true, force: true })
    }
  }, 180_000)
})
