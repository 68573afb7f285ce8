/**
 * Load and robustness over real HTTP: many runs at once, many subscribers to one run, subscribers that
 * go away. Timings here are not asserted (2 shared cores); only outcomes are.
 */
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { SqliteRunStore } from "@effect-flow/sql"
import type { Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { awaitEnd, post, type Running, readSse, startServer } from "./fixtures.ts"

const dir = mkdtempSync(join(tmpdir(), "flow-server-load-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe.each([
  ["in memory", () => undefined],
  [
    "durable (SQLite file)",
    () => SqliteRunStore.layer({ filename: join(dir, "load.db") }) as unknown as Layer.Layer<never>
  ]
])("WorkflowServer under load, runs %s", (name, store) => {
  const durable = name !== "in memory"
  let server: Running
  beforeAll(async () => {
    server = await startServer({}, store())
  })
  afterAll(() => server.close())

  it("200 runs started over HTTP at once all complete with their own correct result", async () => {
    const counts = Array.from({ length: 200 }, (_, i) => (i % 25) + 1)
    const started = await Promise.all(
      counts.map((count) => post(`${server.url}/api/workflows/fan-out/runs`, { count }).then((r) => r.json() as any))
    )
    const runIds = started.map((s) => s.runId as string)
    expect(new Set(runIds).size).toBe(200)
    const ends = await Promise.all(runIds.map((runId) => awaitEnd(server.url, runId)))
    expect(ends.map((s) => s.status)).toEqual(counts.map(() => "completed"))
    expect(ends.map((s) => s.result)).toEqual(counts.map((n) => n * (n - 1)))
  })

  it("an SSE client that disconnects does not cancel its run", async () => {
    const { runId } = (await (await post(`${server.url}/api/workflows/slow/runs`, { millis: 300 })).json()) as any
    const controller = new AbortController()
    const response = await fetch(`${server.url}/api/runs/${runId}/events`, { signal: controller.signal })
    const reader = response.body!.getReader()
    const first = new TextDecoder().decode((await reader.read()).value)
    expect(first).toContain(`: run ${runId}`)
    controller.abort()
    await reader.closed.catch(() => {})
    expect(((await (await fetch(`${server.url}/api/runs/${runId}`)).json()) as any).status).toBe("running")
    expect(await awaitEnd(server.url, runId)).toMatchObject({ status: "completed", result: "woke" })
  })

  it("50 SSE subscribers to one run all receive every event, in order", async () => {
    const { runId } = (await (
      await post(`${server.url}/api/workflows/fan-out/runs`, { count: 300, delayMillis: 1 })
    ).json()) as any
    const subscribers = await Promise.all(
      Array.from({ length: 50 }, () => fetch(`${server.url}/api/runs/${runId}/events?lifecycle=1`).then(readSse))
    )
    const full = await readSse(await fetch(`${server.url}/api/runs/${runId}/events?lifecycle=1`))
    expect(full.at(-1)!.data).toEqual({ _tag: "StopEvent", result: 300 * 299 })
    // in memory the ids count the events; a durable run's are journal sequence numbers, increasing
    if (durable) expect(full.every((f, i) => i === 0 || f.id > full[i - 1]!.id)).toBe(true)
    else expect(full.map((f) => f.id)).toEqual(full.map((_, i) => i + 1))
    for (const frames of subscribers) expect(frames).toEqual(full)
  })
})
