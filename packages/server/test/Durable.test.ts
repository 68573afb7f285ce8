/**
 * Durable runs over HTTP: a server with a `RunStore` (a real SQLite file through @effect-flow/sql) starts
 * runs with `Durable.start`, reads their status from the store and their events from the journal. A server
 * stopped mid-run and another started on the same file go on with the run, and a client reading the event
 * stream before the stop continues after it with `Last-Event-ID`.
 */
import { type ChildProcess, spawn } from "node:child_process"
import { mkdtempSync, rmSync } from "node:fs"
import { tmpdir } from "node:os"
import { join } from "node:path"
import { fileURLToPath } from "node:url"
import { RunStore } from "@effect-flow/core"
import { SqliteRunStore } from "@effect-flow/sql"
import { Effect, Layer } from "effect"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import {
  awaitEnd,
  type Frame,
  post,
  quits,
  type Running,
  readSse,
  restOf,
  selfInterrupted,
  startServer,
  stopsPromptly
} from "./fixtures.ts"

const sumOfDoubled = (n: number) => n * (n - 1)

const dir = mkdtempSync(join(tmpdir(), "flow-server-durable-"))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

const storeAt = (file: string) => SqliteRunStore.layer({ filename: join(dir, file) }) as unknown as Layer.Layer<never>

const start = async (server: Running, name: string, input: unknown): Promise<string> => {
  const response = await post(`${server.url}/api/workflows/${name}/runs`, input)
  expect(response.status).toBe(201)
  return ((await response.json()) as { runId: string }).runId
}

const statusOf = async (server: Running, runId: string): Promise<any> =>
  (await fetch(`${server.url}/api/runs/${runId}`)).json()

const awaitStatus = async (server: Running, runId: string, wanted: string): Promise<any> => {
  let status: any
  for (let i = 0; i < 500 && status?.status !== wanted; i++) {
    status = await statusOf(server, runId)
    if (status.status !== wanted) await new Promise((r) => setTimeout(r, 20))
  }
  expect(status.status).toBe(wanted)
  return status
}

/** Read an event stream until `n` frames have come, then hang up. */
const readFrames = async (response: Response, n: number): Promise<Array<Frame>> => {
  const reader = response.body!.getReader()
  const frames = await takeFrames(reader, n)
  await reader.cancel()
  return frames
}

/** Read an event stream until `n` frames have come (the first `n` frames), and leave it open. */
const takeFrames = async (reader: ReadableStreamDefaultReader<Uint8Array>, n: number): Promise<Array<Frame>> => {
  const decoder = new TextDecoder()
  let text = ""
  const frames: Array<Frame> = []
  while (frames.length < n) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value, { stream: true })
    const blocks = text.split("\n\n")
    text = blocks.pop()!
    for (const block of blocks) {
      let id: number | undefined
      let data: string | undefined
      for (const line of block.split("\n")) {
        if (line.startsWith("id: ")) id = Number(line.slice(4))
        else if (line.startsWith("data: ")) data = line.slice(6)
      }
      if (data !== undefined) frames.push({ id: id ?? 0, data: JSON.parse(data) })
    }
  }
  return frames.slice(0, n)
}

/** Start a server process (test/fixtures/durableServer.ts) on `file`; resolves with its URL once it listens. */
const serve = (file: string, children: Array<ChildProcess>) =>
  new Promise<string>((resolve, reject) => {
    const child = spawn(
      process.execPath,
      [
        "--conditions=@effect-flow/source",
        fileURLToPath(new URL("./fixtures/durableServer.ts", import.meta.url)),
        file
      ],
      { stdio: ["ignore", "pipe", "inherit"] }
    )
    children.push(child)
    let out = ""
    child.stdout!.on("data", (chunk) => {
      out += chunk
      const url = /listening (\S+)/.exec(out)?.[1]
      if (url !== undefined) resolve(url)
    })
    child.on("exit", (code) => reject(new Error(`server process exited (${code}) before listening`)))
  })

const remote = (url: string): Running => ({ url, port: 0, hostname: "", close: async () => {} })

const stopAll = (children: ReadonlyArray<ChildProcess>) => {
  for (const child of children) if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL")
}

const count = (frames: ReadonlyArray<Frame>, tag: string, step?: string) =>
  frames.filter((f) => f.data._tag === tag && (step === undefined || f.data.step === step)).length

describe("a server with a RunStore (SQLite file)", () => {
  let server: Running
  beforeAll(async () => {
    server = await startServer({}, storeAt("routes.db"))
  })
  afterAll(() => server.close())

  it("runs are durable: status from the store, events from the journal with journal ids, ending with the result", async () => {
    const runId = await start(server, "fan-out", { count: 12 })
    const status = await awaitEnd(server.url, runId)
    expect(status).toMatchObject({ runId, workflow: "fan-out", status: "completed", result: sumOfDoubled(12) })
    const frames = await readSse(await fetch(`${server.url}/api/runs/${runId}/events?lifecycle=1`))
    expect(frames.at(-1)!.data).toEqual({ _tag: "StopEvent", result: sumOfDoubled(12) })
    const ids = frames.map((f) => f.id)
    expect(ids.every((id, i) => i === 0 || id > ids[i - 1]!)).toBe(true)
    expect(ids[0]).toBeGreaterThan(0)
    expect(count(frames, "StepStarted", "work")).toBe(12)
    expect(count(frames, "StepCompleted", "work")).toBe(12)
    expect(count(frames, "StepCompleted", "collect")).toBe(12)
    expect(frames.find((f) => f.data._tag === "StepStarted")!.data).toEqual({
      _tag: "StepStarted",
      step: "dispatch",
      event: "StartEvent",
      attempt: 1
    })
    // without ?lifecycle=1, only the run's own events; Last-Event-ID skips what came before it
    const plain = await readSse(await fetch(`${server.url}/api/runs/${runId}/events`))
    expect(plain.map((f) => f.data._tag)).toEqual(["StopEvent"])
    const after = await readSse(
      await fetch(`${server.url}/api/runs/${runId}/events?lifecycle=1`, {
        headers: { "last-event-id": String(ids[9]) }
      })
    )
    expect(after).toEqual(frames.slice(10))
  })

  it("a step's writes and a waitFor's request reach the stream; outside input answers; a finished run takes no more (409)", async () => {
    const echo = await start(server, "echo", { text: "<b>hi</b>" })
    await awaitEnd(server.url, echo)
    const echoed = await readSse(await fetch(`${server.url}/api/runs/${echo}/events`))
    expect(echoed.map((f) => f.data)).toEqual([
      { _tag: "NoteEvent", text: "<b>hi</b>" },
      { _tag: "StopEvent", result: "<b>hi</b>" }
    ])
    const survey = await start(server, "survey", { workMillis: 0 })
    await awaitStatus(server, survey, "waiting")
    const answered = await post(`${server.url}/api/runs/${survey}/events`, { _tag: "Answer", id: "s1", text: "so" })
    expect(answered.status).toBe(202)
    expect(await awaitEnd(server.url, survey)).toMatchObject({ status: "completed", result: "so" })
    const frames = await readSse(await fetch(`${server.url}/api/runs/${survey}/events`))
    expect(frames.map((f) => f.data)).toEqual([
      { _tag: "Ask", id: "s1", text: "Why?" },
      { _tag: "StopEvent", result: "so" }
    ])
    const late = await post(`${server.url}/api/runs/${survey}/events`, { _tag: "Answer", id: "s1", text: "again" })
    expect(late.status).toBe(409)
    const bad = await start(server, "question", { text: "Colour?" })
    const missingField = await post(`${server.url}/api/runs/${bad}/events`, { _tag: "Answer", id: "q1" })
    expect(missingField.status).toBe(400)
    expect(((await missingField.json()) as any).issue).toContain('["text"]')
    expect((await fetch(`${server.url}/api/runs/${bad}`, { method: "DELETE" })).status).toBe(200)
  })

  it("a failure and a cancel end the stream with RunFailed / RunCancelled and are stored as such", async () => {
    const failing = await start(server, "failing", { reason: "disk full" })
    const failed = await readSse(await fetch(`${server.url}/api/runs/${failing}/events`))
    expect(failed.at(-1)!.data).toMatchObject({ _tag: "RunFailed", error: { _tag: "StepBroke", reason: "disk full" } })
    expect(await statusOf(server, failing)).toMatchObject({ status: "failed", error: { _tag: "StepBroke" } })
    const slow = await start(server, "slow", { millis: 60_000 })
    const stream = fetch(`${server.url}/api/runs/${slow}/events`)
    const cancelled = await fetch(`${server.url}/api/runs/${slow}`, { method: "DELETE" })
    expect(cancelled.status).toBe(200)
    expect(await cancelled.json()).toMatchObject({ runId: slow, status: "cancelled" })
    const frames = await readSse(await stream)
    expect(frames.map((f) => f.data._tag)).toEqual(["NoteEvent", "RunCancelled"])
  })

  it("a run whose handler interrupts itself ends as failed with an Interrupt, as in memory, its stream with RunFailed", async () => {
    const own = await startServer({ workflows: [quits] }, storeAt("quits.db"))
    try {
      const runId = await start(own, "quits", {})
      const stream = fetch(`${own.url}/api/runs/${runId}/events`)
      expect(await awaitEnd(own.url, runId)).toMatchObject({ status: "failed", error: selfInterrupted })
      expect((await readSse(await stream)).map((f) => f.data)).toEqual([{ _tag: "RunFailed", error: selfInterrupted }])
    } finally {
      await own.close()
    }
  })

  it("unknown runs and workflows are 404, an input that does not decode 400", async () => {
    expect((await fetch(`${server.url}/api/runs/no-such-run`)).status).toBe(404)
    expect((await fetch(`${server.url}/api/runs/no-such-run/events`)).status).toBe(404)
    expect((await fetch(`${server.url}/api/runs/no-such-run`, { method: "DELETE" })).status).toBe(404)
    expect((await post(`${server.url}/api/runs/no-such-run/events`, { _tag: "Answer" })).status).toBe(404)
    expect((await post(`${server.url}/api/workflows/nope/runs`, {})).status).toBe(404)
    const bad = await post(`${server.url}/api/workflows/fan-out/runs`, { count: "three" })
    expect(bad.status).toBe(400)
    expect(((await bad.json()) as any).issue).toContain('["count"]')
  })
})

/** A store in a SQLite file that counts, per run, the reads of its record and its journal (what a stream polls). */
const recordingStoreAt = (file: string) => {
  const reads = new Map<string, number>()
  const count = (runId: string) => reads.set(runId, (reads.get(runId) ?? 0) + 1)
  const layer = Layer.effect(
    RunStore.RunStore,
    Effect.map(RunStore.RunStore, (store) => ({
      ...store,
      get: (runId: string) =>
        Effect.andThen(
          Effect.sync(() => count(runId)),
          store.get(runId)
        ),
      readJournal: (runId: string, options?: { readonly from?: number | undefined }) =>
        Effect.andThen(
          Effect.sync(() => count(runId)),
          store.readJournal(runId, options)
        )
    }))
  ).pipe(Layer.provide(SqliteRunStore.layer({ filename: join(dir, file) })))
  return { layer: layer as unknown as Layer.Layer<never>, reads: (runId: string) => reads.get(runId) ?? 0 }
}

const sleep = (millis: number) => new Promise((resolve) => setTimeout(resolve, millis))

describe("a durable run's event stream and its reader", () => {
  it("a client that hangs up stops the store reads that fed its stream; the run goes on", async () => {
    const store = recordingStoreAt("hangup.db")
    const server = await startServer({}, store.layer)
    try {
      const runId = await start(server, "slow", { millis: 60_000 })
      const reader = (await fetch(`${server.url}/api/runs/${runId}/events`)).body!.getReader()
      expect((await takeFrames(reader, 1)).map((f) => f.data._tag)).toEqual(["NoteEvent"])
      // while the client reads, the run's journal is polled (every 50 ms): wait for a few polls (bounded)
      const connected = store.reads(runId)
      for (let i = 0; i < 500 && store.reads(runId) < connected + 3; i++) await sleep(10)
      expect(store.reads(runId)).toBeGreaterThanOrEqual(connected + 3)
      await reader.cancel()
      // real time, as the polling is: a second after the hang-up (20 polls' worth), then another, no read more
      await sleep(1000)
      const after = store.reads(runId)
      await sleep(1000)
      expect(store.reads(runId), "store reads for the run after its only subscriber hung up").toBe(after)
      expect(await statusOf(server, runId)).toMatchObject({ status: "running" })
    } finally {
      await server.close()
    }
  })
})

describe("a durable run of a workflow the server does not serve", () => {
  it("DELETE and POST events are 404 naming the workflow, and the run is left as it was (no cancel claimed)", async () => {
    // a run of "slow" left running in the store by a server that served it
    const first = await startServer({}, storeAt("unserved.db"))
    let runId: string
    try {
      runId = await start(first, "slow", { millis: 60_000 })
      await readFrames(await fetch(`${first.url}/api/runs/${runId}/events`), 1)
    } finally {
      await first.close()
    }
    const other = await startServer({ workflows: [quits] }, storeAt("unserved.db"))
    try {
      expect(await statusOf(other, runId)).toMatchObject({ workflow: "slow", status: "running" })
      const cancel = await fetch(`${other.url}/api/runs/${runId}`, { method: "DELETE" })
      expect(cancel.status).toBe(404)
      expect(await cancel.json()).toMatchObject({ _tag: "WorkflowNotFound", workflow: "slow", known: ["quits"] })
      const send = await post(`${other.url}/api/runs/${runId}/events`, { _tag: "HumanResponseEvent", response: "y" })
      expect(send.status).toBe(404)
      expect(await send.json()).toMatchObject({ _tag: "WorkflowNotFound", workflow: "slow" })
      expect(await statusOf(other, runId)).toMatchObject({ workflow: "slow", status: "running" })
    } finally {
      await other.close()
    }
  })
})

describe("a durable run across a server restart (same SQLite file)", () => {
  it("a server stopped mid-run: the next one takes the run over, and the stream goes on after Last-Event-ID", async () => {
    const first = await startServer({}, storeAt("restart.db"))
    let second: Running | undefined
    try {
      const fanOut = await start(first, "fan-out", { count: 24, delayMillis: 150 })
      const approval = await start(first, "approval", { amount: 42 })
      await awaitStatus(first, approval, "waiting")
      // a client reads the first part of the fan-out's stream, then the server stops under it: at once, cutting
      // the stream (not ending it, which would read as the run's end), so the client goes on elsewhere
      const reader = (await fetch(`${first.url}/api/runs/${fanOut}/events?lifecycle=1`)).body!.getReader()
      const before = await takeFrames(reader, 12)
      expect(before.length).toBe(12)
      expect(await stopsPromptly(first), "the server stopped without waiting for the open event stream").toBe(true)
      expect(await restOf(reader)).toBe("cut")

      second = await startServer({}, storeAt("restart.db"))
      const status = await statusOf(second, fanOut)
      expect(status).toMatchObject({ runId: fanOut, workflow: "fan-out" })
      expect(["running", "completed"]).toContain(status.status)
      const rest = await readSse(
        await fetch(`${second.url}/api/runs/${fanOut}/events?lifecycle=1`, {
          headers: { "last-event-id": String(before.at(-1)!.id) }
        })
      )
      const all = await readSse(await fetch(`${second.url}/api/runs/${fanOut}/events?lifecycle=1`))
      expect([...before, ...rest]).toEqual(all)
      expect(all.at(-1)!.data).toEqual({ _tag: "StopEvent", result: sumOfDoubled(24) })
      expect(await statusOf(second, fanOut)).toMatchObject({ status: "completed", result: sumOfDoubled(24) })
      // every item was handled and ended once; an invocation cut by the stop started again (attempt 2)
      expect(count(all, "StepCompleted", "work")).toBe(24)
      expect(count(all, "StepCompleted", "collect")).toBe(24)
      const again = all.filter((f) => f.data._tag === "StepStarted" && f.data.step === "work" && f.data.resumed)
      expect(again.length, "an invocation in flight at the stop ran again on the second server").toBeGreaterThan(0)
      expect(again.every((f) => f.data.attempt === 2)).toBe(true)
      // counted once: starts not marked resumed match the ends, one per item
      expect(count(all, "StepStarted", "work") - again.length).toBe(24)

      // the waiting run waits on the new server, and its answer finishes it there
      await awaitStatus(second, approval, "waiting")
      const answered = await post(`${second.url}/api/runs/${approval}/events`, {
        _tag: "HumanResponseEvent",
        response: "yes"
      })
      expect(answered.status).toBe(202)
      expect(await awaitEnd(second.url, approval)).toMatchObject({ status: "completed", result: "answer: yes" })
      const asked = await readSse(await fetch(`${second.url}/api/runs/${approval}/events`))
      expect(asked.map((f) => f.data)).toEqual([
        { _tag: "InputRequiredEvent", prefix: "Approve 42? " },
        { _tag: "StopEvent", result: "answer: yes" }
      ])
    } finally {
      await second?.close()
      await first.close().catch(() => {})
    }
  }, 60_000)

  it("a server process SIGKILLed mid-run: a new process on the same file takes the run over and finishes it", async () => {
    const file = join(dir, "killed.db")
    const children: Array<ChildProcess> = []
    try {
      const first = remote(await serve(file, children))
      const runId = await start(first, "fan-out", { count: 16, delayMillis: 200 })
      const before = await readFrames(await fetch(`${first.url}/api/runs/${runId}/events?lifecycle=1`), 8)
      children[0]!.kill("SIGKILL")
      await new Promise((resolve) => children[0]!.once("exit", resolve))
      const second = remote(await serve(file, children))
      const rest = await readSse(
        await fetch(`${second.url}/api/runs/${runId}/events?lifecycle=1`, {
          headers: { "last-event-id": String(before.at(-1)!.id) }
        })
      )
      const all = await readSse(await fetch(`${second.url}/api/runs/${runId}/events?lifecycle=1`))
      expect([...before, ...rest]).toEqual(all)
      expect(all.at(-1)!.data).toEqual({ _tag: "StopEvent", result: sumOfDoubled(16) })
      expect(count(all, "StepCompleted", "work")).toBe(16)
      expect(all.some((f) => f.data._tag === "StepStarted" && f.data.attempt === 2)).toBe(true)
    } finally {
      stopAll(children)
    }
  }, 60_000)

  it("two servers on one file: a run live in the other process is readable here, answered through its inbox, and cancelled here only once that process is gone (409 before)", async () => {
    const file = join(dir, "shared.db")
    const children: Array<ChildProcess> = []
    let here: Running | undefined
    try {
      const there = remote(await serve(file, children))
      const slow = await start(there, "slow", { millis: 60_000 })
      const approval = await start(there, "approval", { amount: 5 })
      await awaitStatus(there, approval, "waiting")
      here = await startServer({}, storeAt("shared.db"))
      // visible here, from the store and the journal
      expect(await statusOf(here, slow)).toMatchObject({ workflow: "slow", status: "running" })
      expect((await readFrames(await fetch(`${here.url}/api/runs/${slow}/events`), 1)).map((f) => f.data)).toEqual([
        { _tag: "NoteEvent", text: "sleeping" }
      ])
      // an answer sent here reaches the run there (its inbox), which finishes it
      const answered = await post(`${here.url}/api/runs/${approval}/events`, {
        _tag: "HumanResponseEvent",
        response: "ok"
      })
      expect(answered.status).toBe(202)
      expect(await awaitEnd(here.url, approval)).toMatchObject({ status: "completed", result: "answer: ok" })
      const frames = await readSse(await fetch(`${here.url}/api/runs/${approval}/events`))
      expect(frames.map((f) => f.data._tag)).toEqual(["InputRequiredEvent", "StopEvent"])
      // the other process owns the slow run: it cannot be cancelled from here
      const busy = await fetch(`${here.url}/api/runs/${slow}`, { method: "DELETE" })
      expect(busy.status).toBe(409)
      expect(await busy.json()).toMatchObject({
        _tag: "RunBusy",
        runId: slow,
        owner: expect.stringContaining(`pid ${children[0]!.pid}`)
      })
      // once it is gone, this server takes the run over and cancels it
      children[0]!.kill("SIGKILL")
      await new Promise((resolve) => children[0]!.once("exit", resolve))
      const cancelled = await fetch(`${here.url}/api/runs/${slow}`, { method: "DELETE" })
      expect(cancelled.status).toBe(200)
      expect(await cancelled.json()).toMatchObject({ runId: slow, status: "cancelled" })
      const ended = await readSse(await fetch(`${here.url}/api/runs/${slow}/events`))
      // the step ran again here, but its write was journaled: published once
      expect(ended.map((f) => f.data._tag)).toEqual(["NoteEvent", "RunCancelled"])
    } finally {
      stopAll(children)
      await here?.close()
    }
  }, 60_000)
})
