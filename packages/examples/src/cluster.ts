/**
 * Example `cluster`: a fan-out spread over several processes with `distribute: true`. This process starts a
 * throwaway Postgres and three runner processes (effect/cluster `NodeClusterSocket` runners, their storage in
 * Postgres), then, as a client, runs a 100-item fan-out whose "summarize" step is distributed: each of its
 * invocations is a cluster message keyed by its `invocationId`, so every runner takes a share. Part way it
 * SIGKILLs a runner that only runs distributed invocations: the cluster moves that runner's shards to the
 * others (~4 s with the tuned intervals) and re-delivers the messages it had in flight. It prints how many
 * invocations each runner handled, which one died, that the run completed, and how many ran twice (only
 * those in flight on the dead runner may). Everything it starts is stopped at the end, also on failure.
 *
 * Run it: `npm run example -- cluster` (needs PostgreSQL's `initdb` and `pg_ctl`, as the tests do)
 *
 * @since 0.2.0
 */
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { fileURLToPath } from "node:url"
import { Distributed } from "@effect-flow/cluster"
import { defineWorkflow, StartEvent, StopEvent } from "@effect-flow/core"
import { Console, Effect, Fiber, Option, Schema } from "effect"
import { awaitSettled, clientLayer, type Runner, spawnRunner } from "../../cluster/test/fixtures/cluster.ts"
import { startPostgres } from "../../sql/test/postgresServer.ts"

/**
 * A document to summarize.
 *
 * @since 0.2.0
 * @category events
 */
export class Doc extends Schema.TaggedClass<Doc>()("Doc", { id: Schema.Number }) {}

/**
 * A summary, and the runner process that wrote it.
 *
 * @since 0.2.0
 * @category events
 */
export class Summary extends Schema.TaggedClass<Summary>()("Summary", { id: Schema.Number, runner: Schema.String }) {}

const DOCS = 100
// Each runner process appends what it does to this file (set by `main` for the runners it starts).
const note = (line: string) => {
  const file = process.env.CLUSTER_DEMO_LOG
  if (file !== undefined) appendFileSync(file, `${process.env.RUNNER_NAME ?? "client"} ${line}\n`)
}

/**
 * Summarize `docs` documents: the slow step is distributed over the cluster's runners, 8 in flight.
 *
 * @example
 * ```ts
 * const summaries = yield* Distributed.run(Summarize, { docs: 100 })
 * ```
 *
 * @since 0.2.0
 * @category workflows
 */
export const Summarize = defineWorkflow({
  name: "summarize",
  input: Schema.Struct({ docs: Schema.Number }),
  output: Schema.Array(Summary)
})
  .step(
    StartEvent,
    (ev, ctx) => {
      note(`owner ${ctx.runId}`)
      return ctx.sendAll(Array.from({ length: ev.docs }, (_, id) => new Doc({ id })))
    },
    { name: "dispatch", emits: [Doc] }
  )
  .step(
    Doc,
    (ev, ctx) =>
      Effect.gen(function* () {
        // A slow outside call (an LLM, say): key it with ctx.invocationId to make a re-run harmless.
        note(`start ${ctx.invocationId} ${ctx.attempt} ${ev.id}`)
        yield* Effect.sleep("200 millis")
        note(`end ${ctx.invocationId}`)
        return new Summary({ id: ev.id, runner: process.env.RUNNER_NAME ?? "local" })
      }),
    // The handler gets runId, step, attempt, invocationId and write: no send, store, collect or waitFor.
    { name: "summarize", distribute: true, workers: 8, emits: [Summary] }
  )
  .step(
    Summary,
    (ev, ctx) =>
      Effect.gen(function* () {
        note(`got ${ev.id}`)
        const all = yield* ctx.collect(ev, DOCS)
        if (Option.isNone(all)) return
        return new StopEvent({ result: [...all.value].sort((a, b) => a.id - b.id) })
      }),
    { name: "gather", emits: [StopEvent] }
  )

/**
 * The workflows every runner registers (runner processes load them from this module).
 *
 * @since 0.2.0
 * @category workflows
 */
export const workflows = [Summarize]

/** What the runners' notes say: per line, `<runner> owner|start|end|got <id>`. */
const readNotes = (file: string) => {
  const lines = readFileSync(file, "utf8")
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split(" ") as [string, string, string, string?, string?])
  const owner = lines.find(([, kind]) => kind === "owner")?.[0]
  const started = new Map<string, Array<string>>()
  const ended = new Map<string, number>()
  const got = new Set<string>()
  // The document each invocation handles (its result is noted by document id when it reaches the owner).
  const docOf = new Map<string, string>()
  for (const [runner, kind, id, , l5] of lines) {
    if (kind === "start") started.set(id, [...(started.get(id) ?? []), runner])
    if (kind === "start" && l5 !== undefined) docOf.set(id, l5)
    if (kind === "end") ended.set(runner, (ended.get(runner) ?? 0) + 1)
    if (kind === "got") got.add(id)
  }
  return { owner, started, ended, got, docOf, endedTotal: [...ended.values()].reduce((a, b) => a + b, 0) }
}

const self = fileURLToPath(import.meta.url)

/**
 * Start Postgres and three runners, run the fan-out from here, kill a runner part way, report, stop all.
 *
 * @since 0.2.0
 * @category main
 */
export const main = Effect.gen(function* () {
  const dir = mkdtempSync(path.join(os.tmpdir(), "effect-flow-cluster-"))
  yield* Effect.addFinalizer(() => Effect.sync(() => rmSync(dir, { recursive: true, force: true })))
  const log = path.join(dir, "notes.log")
  writeFileSync(log, "")

  const pg = yield* Effect.acquireRelease(
    Effect.promise(() => startPostgres()),
    (started) => Effect.sync(() => ("stop" in started ? started.stop() : undefined))
  )
  if ("skip" in pg) return yield* Effect.fail(new Error(`cannot start Postgres: ${pg.skip}`))
  yield* Console.log(`Postgres at ${pg.url}; starting 3 runner processes...`)

  const runners: Array<Runner & { readonly name: string }> = []
  yield* Effect.addFinalizer(() => Effect.promise(() => Promise.all(runners.map((r) => r.stop()))))
  for (const name of ["runner-1", "runner-2", "runner-3"]) {
    // One after another: the first creates the cluster's tables.
    const runner = yield* Effect.promise(async () => {
      const spawned = await spawnRunner({
        url: pg.url,
        workflowsModule: self,
        env: { CLUSTER_DEMO_LOG: log, RUNNER_NAME: name }
      })
      runners.push(Object.assign(spawned, { name }))
      await spawned.ready
      return spawned
    })
    yield* Console.log(`  ${name} (pid ${runner.pid}) listens on 127.0.0.1:${runner.port}`)
  }

  // A runner that joins takes its shards from the others for a few seconds: start once they have settled.
  yield* Effect.promise(() => awaitSettled(pg.url, runners.length))
  yield* Console.log(`Running "${Summarize.name}" over ${DOCS} documents, the summarize step distributed...`)
  const run = yield* Effect.forkChild(
    Distributed.run(Summarize, { docs: DOCS }, { runId: `summarize-${Date.now()}` }).pipe(
      Effect.provide(clientLayer(pg.url))
    )
  )

  // Part way: kill a runner that is not the run's owner and has invocations in flight.
  const victim = yield* Effect.promise(async () => {
    while (true) {
      const notes = readNotes(log)
      if (notes.endedTotal >= 30) {
        const busy = runners.find(
          (r) => r.name !== notes.owner && [...notes.started.values()].some((by) => by.at(-1) === r.name)
        )
        if (busy !== undefined) return busy
      }
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  })
  yield* Effect.promise(() => victim.kill())
  const atKill = readNotes(log)
  const inFlight = [...atKill.started].filter(
    ([id, by]) => by.includes(victim.name) && !atKill.got.has(atKill.docOf.get(id)!)
  )
  yield* Console.log(
    `Killed ${victim.name} (SIGKILL) after ${atKill.endedTotal} invocations had ended; it had ${inFlight.length} in flight. Waiting for the others to take its shards...`
  )

  const summaries = yield* Fiber.join(run)
  const notes = readNotes(log)
  const ranTwice = [...notes.started].filter(([, by]) => by.length > 1)
  yield* Console.log("Invocations handled (ended) per runner:")
  for (const r of runners) {
    yield* Console.log(
      `  ${r.name}: ${notes.ended.get(r.name) ?? 0}${r === victim ? " (killed)" : ""}${r.name === notes.owner ? " (owns the run)" : ""}`
    )
  }
  const complete = summaries.length === DOCS && summaries.every((s, i) => s.id === i)
  yield* Console.log(
    `The run ${complete ? "completed" : "did NOT complete"}: ${summaries.length} of ${DOCS} summaries.`
  )
  // Only invocations in flight on the dead runner (started there, their result not at the run's owner when it
  // died) may run twice; any other is unexpected.
  const inFlightIds = new Set(inFlight.map(([id]) => id))
  const onVictim = ranTwice.filter(([id]) => inFlightIds.has(id)).length
  const unexplained = ranTwice.length - onVictim
  yield* Console.log(
    `${ranTwice.length} invocations ran twice (${ranTwice.map(([id]) => id.split("/").slice(1).join("/")).join(", ") || "none"}): ` +
      `${onVictim} were in flight on ${victim.name} when it died` +
      (unexplained > 0 ? `, ${unexplained} were not (unexpected)` : "") +
      "."
  )
  const counts = runners.map((r) => `${r.name} ${notes.ended.get(r.name) ?? 0}`).join(", ")
  yield* Console.log(
    `Handled per runner: ${counts}; died: ${victim.name}; completed: ${complete ? "yes" : "no"} (${summaries.length}/${DOCS}); ran twice: ${ranTwice.length}`
  )
}).pipe(Effect.scoped)
