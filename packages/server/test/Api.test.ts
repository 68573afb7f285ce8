/**
 * The HTTP API, route by route and status code by status code, against a real server on a free port.
 */
import { createServer, request } from "node:http"
import { NodeHttpServer } from "@effect/platform-node"
import { Effect, Exit, Layer, Redacted, Scope, Stream } from "effect"
import { FetchHttpClient, HttpRouter, HttpServer } from "effect/http"
import { afterAll, beforeAll, describe, expect, it } from "vitest"
import { RunRegistry, WorkflowClient, WorkflowServer } from "../src/index.ts"
import {
  allWorkflows,
  awaitEnd,
  echo,
  post,
  quits,
  type Running,
  readSse,
  restOf,
  selfInterrupted,
  startServer,
  stopsPromptly
} from "./fixtures.ts"

/** A request with the path sent exactly as written (fetch would normalise it), and any Host header (or none). */
const rawRequest = (port: number, method: string, path: string, headers: Record<string, string> = {}, setHost = true) =>
  new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: "127.0.0.1", port, method, path, headers, setHost }, (res) => {
      let body = ""
      res.setEncoding("utf8")
      res.on("data", (chunk) => (body += chunk))
      res.on("end", () => resolve({ status: res.statusCode!, body }))
    })
    req.on("error", reject)
    req.end()
  })

/** A GET with the path sent exactly as written. */
const rawGet = (port: number, path: string, headers: Record<string, string> = {}) =>
  rawRequest(port, "GET", path, headers)

const LIFECYCLE = ["StepStarted", "StepCompleted", "StepFailed", "StepRetrying", "EventQueued"]
const sumOfDoubled = (n: number) => n * (n - 1)

describe("WorkflowServer API", () => {
  let server: Running
  beforeAll(async () => {
    server = await startServer()
  })
  afterAll(() => server.close())

  const start = async (name: string, input: unknown) => {
    const response = await post(`${server.url}/api/workflows/${name}/runs`, input)
    expect(response.status).toBe(201)
    return ((await response.json()) as { runId: string }).runId
  }

  it("binds 127.0.0.1 by default", () => {
    expect(server.hostname).toBe("127.0.0.1")
  })

  it("GET /api/workflows lists name, steps, mermaid and the input's JSON Schema", async () => {
    const response = await fetch(`${server.url}/api/workflows`)
    expect(response.status).toBe(200)
    const list: Array<any> = (await response.json()) as any
    expect(list.map((w) => w.name)).toEqual(["fan-out", "approval", "question", "failing", "echo", "slow", "survey"])
    const fanOut = list[0]
    expect(fanOut.steps).toEqual([
      { name: "dispatch", accepts: ["StartEvent"], emits: ["ItemEvent"], workers: 1 },
      { name: "work", accepts: ["ItemEvent"], emits: ["DoneEvent"], workers: 4 },
      { name: "collect", accepts: ["DoneEvent"], emits: ["StopEvent"], workers: 1 }
    ])
    expect(fanOut.mermaid).toMatch(/^flowchart TD/)
    expect(fanOut.mermaid).toContain("step_work")
    expect(fanOut.input.type).toBe("object")
    expect(fanOut.input.required).toEqual(["count"])
    expect(Object.keys(fanOut.input.properties)).toEqual(["count", "delayMillis"])
    expect(fanOut.outsideInput).toEqual(["HumanResponseEvent"])
    expect(list.find((w) => w.name === "question").outsideInput).toEqual(["HumanResponseEvent", "Answer"])
  })

  it("POST /api/workflows/:name/runs answers 201 { runId } and runs it", async () => {
    const runId = await start("fan-out", { count: 20 })
    expect(typeof runId).toBe("string")
    const status = await awaitEnd(server.url, runId)
    expect(status).toMatchObject({ runId, workflow: "fan-out", status: "completed", result: sumOfDoubled(20) })
    expect(status.createdAt).toBeLessThanOrEqual(status.updatedAt)
  })

  it("an unknown workflow is 404, naming it and the served ones", async () => {
    const response = await post(`${server.url}/api/workflows/nope/runs`, {})
    expect(response.status).toBe(404)
    expect(await response.json()).toMatchObject({
      _tag: "WorkflowNotFound",
      workflow: "nope",
      known: expect.arrayContaining(["fan-out"])
    })
  })

  it("an input that does not decode is 400 with the schema issue in the body", async () => {
    const response = await post(`${server.url}/api/workflows/fan-out/runs`, { count: "three" })
    expect(response.status).toBe(400)
    const body: any = await response.json()
    expect(body._tag).toBe("InvalidBody")
    expect(body.where).toBe('input of workflow "fan-out"')
    expect(body.issue).toContain("Expected number")
    expect(body.issue).toContain('["count"]')
  })

  it("a body that is not JSON is 400 with the reason in the body (HttpApi's own 400 is empty)", async () => {
    const response = await post(`${server.url}/api/workflows/fan-out/runs`, "{not json")
    expect(response.status).toBe(400)
    const body: any = await response.json()
    expect(body).toMatchObject({ _tag: "InvalidBody", where: "request payload" })
    expect(body.issue.length).toBeGreaterThan(0)
  })

  it("a body sent as another media type than JSON is a 415 saying so, in JSON like every error", async () => {
    const cases: Array<readonly [string, string, string]> = [
      ["/api/workflows/echo/runs", "application/x-www-form-urlencoded", "text=hi"], // curl -d without -H
      ["/api/runs/no-such-run/events", "text/plain", '{"_tag":"HumanResponseEvent","response":"y"}']
    ]
    for (const [path, contentType, body] of cases) {
      const response = await fetch(`${server.url}${path}`, {
        method: "POST",
        body,
        headers: { "content-type": contentType }
      })
      expect(response.status, path).toBe(415)
      expect(response.headers.get("content-type"), path).toContain("application/json")
      const error: any = await response.json()
      expect(error, path).toMatchObject({ _tag: "UnsupportedMediaType", where: "request payload" })
      expect(error.message, path).toContain(`sent as ${contentType}`)
    }
  })

  it("GET /api/runs/:runId is the Durable.status shape; an unknown run is 404", async () => {
    const runId = await start("failing", { reason: "disk full" })
    const status = await awaitEnd(server.url, runId)
    expect(status).toMatchObject({
      runId,
      workflow: "failing",
      status: "failed",
      error: { _tag: "StepBroke", reason: "disk full", message: "step broke: disk full" }
    })
    const missing = await fetch(`${server.url}/api/runs/no-such-run`)
    expect(missing.status).toBe(404)
    expect(await missing.json()).toMatchObject({ _tag: "RunNotFound", runId: "no-such-run" })
  })

  it("GET /api/runs/:runId/events streams every event with an id, from the start, and ends after the StopEvent", async () => {
    const runId = await start("fan-out", { count: 30 })
    await awaitEnd(server.url, runId) // a late subscriber still sees everything
    const response = await fetch(`${server.url}/api/runs/${runId}/events`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/event-stream")
    const frames = await readSse(response)
    expect(frames.at(-1)!.data).toEqual({ _tag: "StopEvent", result: sumOfDoubled(30) })
    expect(frames.every((f) => !LIFECYCLE.includes(f.data._tag))).toBe(true)
    const ids = frames.map((f) => f.id)
    expect([...ids].sort((a, b) => a - b)).toEqual(ids)
    expect(new Set(ids).size).toBe(ids.length)
  })

  it("?lifecycle=1 adds the lifecycle events; Last-Event-ID replays only what came after it", async () => {
    const runId = await start("fan-out", { count: 10 })
    const all = await readSse(await fetch(`${server.url}/api/runs/${runId}/events?lifecycle=1`))
    expect(all.map((f) => f.id)).toEqual(all.map((_, i) => i + 1))
    const tags = all.map((f) => f.data._tag)
    expect(tags.filter((t) => t === "StepStarted").length).toBe(1 + 10 + 10)
    expect(tags.filter((t) => t === "StepCompleted").length).toBe(1 + 10 + 10)
    expect(tags.at(-1)).toBe("StopEvent")
    const after = await readSse(
      await fetch(`${server.url}/api/runs/${runId}/events?lifecycle=1`, { headers: { "last-event-id": "7" } })
    )
    expect(after).toEqual(all.slice(7))
    const missing = await fetch(`${server.url}/api/runs/no-such-run/events`)
    expect(missing.status).toBe(404)
  })

  it("the event stream ends after a failure with a RunFailed event naming the error", async () => {
    const runId = await start("failing", { reason: "boom" })
    const frames = await readSse(await fetch(`${server.url}/api/runs/${runId}/events`))
    expect(frames.at(-1)!.data).toMatchObject({ _tag: "RunFailed", error: { _tag: "StepBroke", reason: "boom" } })
  })

  it("a run whose handler interrupts itself ends: failed with an Interrupt, as a durable one is stored, its stream with RunFailed", async () => {
    const own = await startServer({ workflows: [quits] })
    try {
      const response = await post(`${own.url}/api/workflows/quits/runs`, {})
      const { runId } = (await response.json()) as { runId: string }
      const stream = fetch(`${own.url}/api/runs/${runId}/events`)
      expect(await awaitEnd(own.url, runId)).toMatchObject({ status: "failed", error: selfInterrupted })
      expect((await readSse(await stream)).map((f) => f.data)).toEqual([{ _tag: "RunFailed", error: selfInterrupted }])
    } finally {
      await own.close()
    }
  })

  it("POST /api/runs/:runId/events answers an InputRequiredEvent: 202, waiting → completed", async () => {
    const runId = await start("approval", { amount: 42 })
    let status: any
    for (let i = 0; i < 100 && status?.status !== "waiting"; i++) {
      status = await (await fetch(`${server.url}/api/runs/${runId}`)).json()
      if (status.status !== "waiting") await new Promise((r) => setTimeout(r, 10))
    }
    expect(status.status).toBe("waiting")
    const response = await post(`${server.url}/api/runs/${runId}/events`, {
      _tag: "HumanResponseEvent",
      response: "yes"
    })
    expect(response.status).toBe(202)
    expect(await awaitEnd(server.url, runId)).toMatchObject({ status: "completed", result: "answer: yes" })
    const frames = await readSse(await fetch(`${server.url}/api/runs/${runId}/events`))
    expect(frames.map((f) => f.data._tag)).toEqual(["InputRequiredEvent", "StopEvent"])
    expect(frames[0]!.data.prefix).toBe("Approve 42? ")
    // the run has ended: it takes no more events
    const late = await post(`${server.url}/api/runs/${runId}/events`, { _tag: "HumanResponseEvent", response: "no" })
    expect(late.status).toBe(409)
    expect(await late.json()).toMatchObject({ _tag: "RunEnded", status: "completed" })
  })

  it("POST /api/runs/:runId/events answers a ctx.waitFor request with its outside-input class", async () => {
    const runId = await start("question", { text: "Colour?" })
    const response = await post(`${server.url}/api/runs/${runId}/events`, { _tag: "Answer", id: "q1", text: "blue" })
    expect(response.status).toBe(202)
    expect(await awaitEnd(server.url, runId)).toMatchObject({ status: "completed", result: "blue" })
  })

  it("a run blocked in ctx.waitFor with a request of its own class reads waiting, not while other work goes on", async () => {
    const runId = await start("survey", { workMillis: 3000 })
    const statusOf = async () => ((await (await fetch(`${server.url}/api/runs/${runId}`)).json()) as any).status
    // the wait opens at once, but step "work" sleeps 3 s (room for a loaded machine): only then does nothing but the answer move it
    const early = await statusOf()
    let status = early
    for (let i = 0; i < 600 && status !== "waiting"; i++) {
      await new Promise((r) => setTimeout(r, 10))
      status = await statusOf()
    }
    expect(early).toBe("running")
    expect(status).toBe("waiting")
    const stream = await fetch(`${server.url}/api/runs/${runId}/events`)
    const answered = await post(`${server.url}/api/runs/${runId}/events`, { _tag: "Answer", id: "s1", text: "because" })
    expect(answered.status).toBe(202)
    const frames = await readSse(stream)
    expect(frames.map((f) => f.data)).toEqual([
      { _tag: "Ask", id: "s1", text: "Why?" },
      { _tag: "StopEvent", result: "because" }
    ])
    expect(await awaitEnd(server.url, runId)).toMatchObject({ status: "completed", result: "because" })
  })

  it("an event that does not decode, or that the workflow does not take, is 400 with the issue; an unknown run 404", async () => {
    const runId = await start("question", { text: "Colour?" })
    const missingField = await post(`${server.url}/api/runs/${runId}/events`, { _tag: "Answer", id: "q1" })
    expect(missingField.status).toBe(400)
    const body: any = await missingField.json()
    expect(body.where).toContain(`run "${runId}"`)
    expect(body.issue).toContain('["text"]')
    const unknownTag = await post(`${server.url}/api/runs/${runId}/events`, { _tag: "Nope" })
    expect(unknownTag.status).toBe(400)
    expect(((await unknownTag.json()) as any).issue).toContain('no event with _tag "Nope"')
    const noTag = await post(`${server.url}/api/runs/${runId}/events`, [1, 2])
    expect(noTag.status).toBe(400)
    const unknownRun = await post(`${server.url}/api/runs/no-such-run/events`, { _tag: "Answer", id: "q1", text: "x" })
    expect(unknownRun.status).toBe(404)
    await fetch(`${server.url}/api/runs/${runId}`, { method: "DELETE" })
  })

  it("DELETE /api/runs/:runId cancels: 200 with status cancelled, the stream ends with RunCancelled; unknown 404", async () => {
    const runId = await start("slow", { millis: 60_000 })
    const stream = fetch(`${server.url}/api/runs/${runId}/events`)
    const response = await fetch(`${server.url}/api/runs/${runId}`, { method: "DELETE" })
    expect(response.status).toBe(200)
    expect(await response.json()).toMatchObject({
      runId,
      status: "cancelled",
      error: { _tag: "WorkflowCancelledError" }
    })
    const frames = await readSse(await stream)
    expect(frames.at(-1)!.data).toMatchObject({ _tag: "RunCancelled", error: { _tag: "WorkflowCancelledError" } })
    const missing = await fetch(`${server.url}/api/runs/no-such-run`, { method: "DELETE" })
    expect(missing.status).toBe(404)
  })

  it("a path no route serves is a 404 in JSON naming it, a known path with another method a 405 naming the allowed ones", async () => {
    const cases: Array<readonly [string, string, number, ReadonlyArray<string>?]> = [
      ["GET", "/api/nope", 404],
      ["GET", "/api/runs", 404],
      ["GET", "/api/runs/x/nope", 404],
      ["GET", "/nope", 404],
      ["PUT", "/api/workflows", 405, ["GET"]],
      ["DELETE", "/api/workflows", 405, ["GET"]],
      ["PATCH", "/api/runs/x", 405, ["DELETE", "GET"]],
      ["PUT", "/api/runs/x/events", 405, ["GET", "POST"]],
      ["GET", "/api/workflows/echo/runs", 405, ["POST"]],
      ["POST", "/", 405, ["GET"]]
    ]
    for (const [method, path, status, allowed] of cases) {
      const response = await fetch(`${server.url}${path}`, { method })
      const what = `${method} ${path}`
      expect(response.status, what).toBe(status)
      expect(response.headers.get("content-type"), what).toContain("application/json")
      const body: any = await response.json()
      if (status === 404) {
        expect(body, what).toMatchObject({ _tag: "NotFound", method, path })
        expect(body.message, what).toContain(`${method} ${path}`)
      } else {
        expect(body, what).toMatchObject({ _tag: "MethodNotAllowed", method, path, allowed })
        expect(response.headers.get("allow"), what).toBe(allowed!.join(", "))
      }
    }
  })

  it("GET /openapi.json documents every route", async () => {
    const response = await fetch(`${server.url}/openapi.json`)
    expect(response.status).toBe(200)
    const spec: any = await response.json()
    expect(Object.keys(spec.paths).sort()).toEqual([
      "/api/runs/{runId}",
      "/api/runs/{runId}/events",
      "/api/workflows",
      "/api/workflows/{name}/runs"
    ])
    expect(Object.keys(spec.paths["/api/runs/{runId}"]).sort()).toEqual(["delete", "get"])
    expect(Object.keys(spec.paths["/api/runs/{runId}/events"]).sort()).toEqual(["get", "post"])
    expect(spec.paths["/api/workflows/{name}/runs"].post.responses["201"]).toBeDefined()
    expect(spec.paths["/api/runs/{runId}/events"].post.responses["202"]).toBeDefined()
    // no token on this server: the document asks for none
    expect(spec.security ?? []).toEqual([])
    expect(spec.components?.securitySchemes ?? {}).toEqual({})
  })

  it("GET / is the run viewer page, with its scripts served locally", async () => {
    const response = await fetch(`${server.url}/`)
    expect(response.status).toBe(200)
    expect(response.headers.get("content-type")).toContain("text/html")
    expect(response.headers.get("content-security-policy")).toContain("default-src 'self'")
    const mermaid = await fetch(`${server.url}/viewer/mermaid.min.js`)
    expect(mermaid.status).toBe(200)
    expect((await mermaid.arrayBuffer()).byteLength).toBeGreaterThan(1_000_000)
  })

  it("a POST or DELETE from another Origin is 403; from its own origin it goes through", async () => {
    const foreign = await post(
      `${server.url}/api/workflows/echo/runs`,
      { text: "x" },
      { origin: "http://evil.example" }
    )
    expect(foreign.status).toBe(403)
    expect(await foreign.json()).toMatchObject({ _tag: "Forbidden" })
    const runId = await start("slow", { millis: 60_000 })
    const foreignDelete = await fetch(`${server.url}/api/runs/${runId}`, {
      method: "DELETE",
      headers: { origin: "http://evil.example" }
    })
    expect(foreignDelete.status).toBe(403)
    const crossSite = await fetch(`${server.url}/api/runs/${runId}`, {
      method: "DELETE",
      headers: { "sec-fetch-site": "cross-site" }
    })
    expect(crossSite.status).toBe(403)
    // refused, not done: the run still goes on
    expect(((await (await fetch(`${server.url}/api/runs/${runId}`)).json()) as any).status).toBe("running")
    const own = await fetch(`${server.url}/api/runs/${runId}`, { method: "DELETE", headers: { origin: server.url } })
    expect(own.status).toBe(200)
  })

  it("a request addressed to a host name other than a loopback one is 403 (DNS rebinding), GETs included", async () => {
    const port = server.port
    // a page of another site whose name now points at 127.0.0.1: its requests carry its own name as Host
    for (const host of [`rebound.example:${port}`, "rebound.example", `127.0.0.1.rebound.example:${port}`]) {
      for (const path of ["/api/workflows", "/", "/openapi.json", "/api/runs/x/events", "/api/nope"]) {
        const response = await rawGet(port, path, { host })
        expect(response.status, `${host} ${path}`).toBe(403)
        expect(JSON.parse(response.body), `${host} ${path}`).toMatchObject({ _tag: "Forbidden", host })
        expect(JSON.parse(response.body).message, `${host} ${path}`).toContain("allowedHosts")
      }
    }
    // its POST with the matching Origin (the Origin check alone let it through) is refused as well
    const rebound = await rawRequest(port, "POST", "/api/workflows/echo/runs", {
      host: `rebound.example:${port}`,
      origin: `http://rebound.example:${port}`,
      "content-type": "application/json"
    })
    expect(rebound.status).toBe(403)
    expect(JSON.parse(rebound.body)).toMatchObject({ _tag: "Forbidden", host: `rebound.example:${port}` })
    // no Host header at all: refused too (Node answers an HTTP/1.1 request without one with 400 itself)
    expect((await rawRequest(port, "GET", "/api/workflows", {}, false)).status, "no Host header").toBe(400)
    // the loopback names, with this port, another or none, in any case
    for (const host of [
      `127.0.0.1:${port}`,
      `localhost:${port}`,
      `[::1]:${port}`,
      "localhost",
      "LocalHost:1",
      "[::1]"
    ]) {
      expect((await rawGet(port, "/api/workflows", { host })).status, host).toBe(200)
    }
  })

  it("allowedHosts adds host names a loopback server answers (behind a proxy that keeps the Host), and no others", async () => {
    const proxied = await startServer({ allowedHosts: ["flows.example.com", "[fd00::1]"] })
    try {
      for (const host of [
        "flows.example.com",
        "FLOWS.example.com:443",
        "[fd00::1]:8080",
        `localhost:${proxied.port}`
      ]) {
        expect((await rawGet(proxied.port, "/api/workflows", { host })).status, host).toBe(200)
      }
      for (const host of ["other.example.com", "example.com", "sub.flows.example.com"]) {
        expect((await rawGet(proxied.port, "/api/workflows", { host })).status, host).toBe(403)
      }
    } finally {
      await proxied.close()
    }
  })

  it("bound to all interfaces, the Host is not checked unless allowedHosts is set (the token is the defence there)", async () => {
    const open = await startServer({ host: "0.0.0.0" })
    const listed = await startServer({ host: "0.0.0.0", allowedHosts: ["flows.lan"] })
    try {
      expect((await rawGet(open.port, "/api/workflows", { host: "anything.example" })).status).toBe(200)
      expect((await rawGet(listed.port, "/api/workflows", { host: "anything.example" })).status).toBe(403)
      expect((await rawGet(listed.port, "/api/workflows", { host: "flows.lan:80" })).status).toBe(200)
      expect((await rawGet(listed.port, "/api/workflows", { host: `127.0.0.1:${listed.port}` })).status).toBe(200)
    } finally {
      await open.close()
      await listed.close()
    }
  })

  it("allowedOrigins lets the origins it lists POST and DELETE, and no others", async () => {
    const proxied = await startServer({ allowedOrigins: ["https://flows.example.com"] })
    try {
      const allowed = await post(
        `${proxied.url}/api/workflows/slow/runs`,
        { millis: 60_000 },
        { origin: "https://flows.example.com" }
      )
      expect(allowed.status).toBe(201)
      const { runId } = (await allowed.json()) as { runId: string }
      const other = await fetch(`${proxied.url}/api/runs/${runId}`, {
        method: "DELETE",
        headers: { origin: "https://other.example.com" }
      })
      expect(other.status).toBe(403)
      const cancelled = await fetch(`${proxied.url}/api/runs/${runId}`, {
        method: "DELETE",
        headers: { origin: "https://flows.example.com" }
      })
      expect(cancelled.status).toBe(200)
    } finally {
      await proxied.close()
    }
  })

  it("the typed client (HttpApiClient) drives every route", async () => {
    const result = await Effect.gen(function* () {
      const client = yield* WorkflowClient.make({ baseUrl: server.url })
      const workflows = yield* client.workflows.list()
      const { runId } = yield* client.workflows.start({ params: { name: "approval" }, payload: { amount: 7 } })
      const first = yield* WorkflowClient.events(client, runId).pipe(Stream.take(1), Stream.runCollect)
      yield* client.runs.send({ params: { runId }, payload: { _tag: "HumanResponseEvent", response: "ok" } })
      const events = yield* WorkflowClient.events(client, runId, { lifecycle: true }).pipe(Stream.runCollect)
      const status = yield* client.runs.get({ params: { runId } })
      const notFound = yield* client.runs.get({ params: { runId: "nope" } }).pipe(Effect.flip)
      const slow = yield* client.workflows.start({ params: { name: "slow" }, payload: { millis: 60_000 } })
      const cancelled = yield* client.runs.cancel({ params: { runId: slow.runId } })
      return { workflows, first, events, status, notFound, cancelled }
    }).pipe(Effect.provide(FetchHttpClient.layer), Effect.runPromise)
    expect(result.workflows.length).toBe(7)
    expect(result.first.map((e) => (e.event as any)._tag)).toEqual(["InputRequiredEvent"])
    expect((result.events.at(-1)!.event as any)._tag).toBe("StopEvent")
    expect(result.events.map((e) => e.id)).toEqual(result.events.map((_, i) => i + 1))
    expect(result.status).toMatchObject({ status: "completed", result: "answer: ok" })
    expect(result.notFound._tag).toBe("RunNotFound")
    expect(result.cancelled.status).toBe("cancelled")
  })
})

describe("WorkflowServer options", () => {
  it("with a token, every /api route without Authorization: Bearer is 401; with it, 2xx", async () => {
    const server = await startServer({ token: "s3cret" })
    try {
      const auth = { authorization: "Bearer s3cret" }
      const routes: Array<[string, string, unknown?]> = [
        ["GET", "/api/workflows"],
        ["POST", "/api/workflows/echo/runs", { text: "hi" }],
        ["GET", "/api/runs/x"],
        ["GET", "/api/runs/x/events"],
        ["POST", "/api/runs/x/events", { _tag: "HumanResponseEvent", response: "y" }],
        ["DELETE", "/api/runs/x"]
      ]
      for (const [method, path, body] of routes) {
        for (const headers of [{}, { authorization: "Bearer wrong" }, { authorization: "s3cret" }]) {
          const response = await fetch(`${server.url}${path}`, {
            method,
            headers: { "content-type": "application/json", ...headers },
            ...(body === undefined ? {} : { body: JSON.stringify(body) })
          })
          expect(response.status, `${method} ${path} ${JSON.stringify(headers)}`).toBe(401)
          expect(response.headers.get("www-authenticate")).toContain("Bearer")
        }
      }
      // the router matches paths in any case, %-escaped and with doubled slashes: none of those spellings
      // of an /api route gets past the token (sent as written, not as fetch would normalise them)
      for (const path of ["/API/workflows", "//api/workflows", "/%61pi/workflows", "/Api/runs/x", "/api/workflows/"]) {
        const response = await rawGet(server.port, path)
        expect(response.status, path).toBe(401)
        expect(response.body, path).toContain("Unauthorized")
      }
      // a path no route serves is 401 without the token too (the token guard comes first), and a JSON 404 with it
      for (const path of ["/api/nope", "/api/runs", "/nope"]) {
        expect((await rawGet(server.port, path)).status, path).toBe(401)
        const missing = await rawGet(server.port, path, auth)
        expect(missing.status, path).toBe(404)
        expect(JSON.parse(missing.body), path).toMatchObject({ _tag: "NotFound", path })
      }
      expect((await rawGet(server.port, "/API/workflows", auth)).status).toBe(200)
      expect((await fetch(`${server.url}/api/workflows`, { headers: auth })).status).toBe(200)
      const started = await post(`${server.url}/api/workflows/echo/runs`, { text: "hi" }, auth)
      expect(started.status).toBe(201)
      const { runId } = (await started.json()) as any
      expect((await awaitEnd(server.url, runId, auth)).result).toBe("hi")
      expect((await fetch(`${server.url}/`)).status).toBe(200) // the page itself asks for the token
      // the OpenAPI document (itself public, like the page) says every API route needs the bearer token
      const spec: any = await (await fetch(`${server.url}/openapi.json`)).json()
      expect(spec.components.securitySchemes.bearer).toMatchObject({ type: "http", scheme: "bearer" })
      expect(spec.security).toEqual([{ bearer: [] }])
      const operations = Object.values(spec.paths).flatMap((item: any) => Object.values(item)) as Array<any>
      expect(operations.length).toBe(routes.length)
      for (const operation of operations) {
        expect(operation.security, operation.operationId).toEqual([{ bearer: [] }])
        expect(operation.responses["401"], operation.operationId).toBeDefined()
      }
    } finally {
      await server.close()
    }
  })

  it("an idle event stream sends a keep-alive comment every keepAliveEvery, and still ends with the run", async () => {
    const server = await startServer({ keepAliveEvery: "50 millis" })
    try {
      const { runId } = (await (await post(`${server.url}/api/workflows/approval/runs`, { amount: 1 })).json()) as any
      const response = await fetch(`${server.url}/api/runs/${runId}/events`)
      const frames = fetch(`${server.url}/api/runs/${runId}/events`).then(readSse)
      // read the idle stream until two keep-alive comments came (no fixed sleep: a loaded machine may be slow)
      const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader()
      let text = ""
      const keepAlives = () => text.split(": keep-alive\n\n").length - 1
      while (keepAlives() < 2) {
        const chunk = await reader.read()
        if (chunk.done) break
        text += chunk.value
      }
      expect(keepAlives()).toBeGreaterThanOrEqual(2)
      // the run has not moved: nothing but comments came before the answer
      expect(text.replaceAll(": keep-alive\n\n", "").includes("StopEvent")).toBe(false)
      await post(`${server.url}/api/runs/${runId}/events`, { _tag: "HumanResponseEvent", response: "ok" })
      for (;;) {
        const chunk = await reader.read()
        if (chunk.done) break
        text += chunk.value
      }
      expect(text).toContain("StopEvent")
      expect((await frames).map((f) => f.data)).toEqual([
        { _tag: "InputRequiredEvent", prefix: "Approve 1? " },
        { _tag: "StopEvent", result: "answer: ok" }
      ])
    } finally {
      await server.close()
    }
  })

  it("stopping the server cuts its open event streams at once, rather than waiting for runs that go on", async () => {
    const server = await startServer()
    let stopped = false
    try {
      const { runId } = (await (await post(`${server.url}/api/workflows/approval/runs`, { amount: 3 })).json()) as any
      const reader = (await fetch(`${server.url}/api/runs/${runId}/events`)).body!.getReader()
      let text = ""
      while (!text.includes("InputRequiredEvent")) text += new TextDecoder().decode((await reader.read()).value)
      // the run waits for an answer that will not come: its stream is open when the server stops
      stopped = await stopsPromptly(server)
      expect(stopped, "the server stopped without waiting for the open event stream").toBe(true)
      // cut, not ended: a stream that ended would read as the run's end (it ends only after StopEvent / RunFailed / RunCancelled)
      expect(await restOf(reader)).toBe("cut")
    } finally {
      if (!stopped) await server.close()
    }
  })

  it("an option that cannot work fails the layer with InvalidOptionError, naming the option and the value", async () => {
    for (const [options, option, value] of unusableOptions) {
      const error = await Layer.build(WorkflowServer.layer({ port: 0, ...options, workflows: [echo] })).pipe(
        Effect.scoped,
        Effect.flip,
        Effect.runPromise
      )
      expect(error, option).toBeInstanceOf(WorkflowServer.InvalidOptionError)
      expect(error, option).toMatchObject({ option, value })
      expect(error.message, option).toContain(`WorkflowServer.layer's option ${option} is ${value}: expected`)
    }
  })

  it("routes(), to mount in an app of one's own, fails on the same options with InvalidOptionError", async () => {
    for (const [options, option, value] of unusableOptions) {
      const routes = WorkflowServer.routes({ port: 0, ...options, workflows: [echo] }).pipe(
        Layer.provide([RunRegistry.layerMemory({ workflows: [echo] }), HttpRouter.layer])
      )
      const error = await Layer.build(routes).pipe(Effect.scoped, Effect.flip, Effect.runPromise)
      expect(error, option).toBeInstanceOf(WorkflowServer.InvalidOptionError)
      expect(error, option).toMatchObject({ option, value })
      expect(error.message, option).toContain(`WorkflowServer.routes's option ${option} is ${value}: expected`)
    }
  })

  it("routes() mounted on a server of one's own: closing the routes' scope cuts their open event streams", async () => {
    const registry = RunRegistry.layerMemory({ workflows: allWorkflows }) as Layer.Layer<
      RunRegistry.RunRegistry,
      unknown
    >
    const outer = Effect.runSync(Scope.make())
    const services = await Effect.runPromise(
      Layer.buildWithScope(
        Layer.merge(registry, NodeHttpServer.layer(createServer, { port: 0, host: "127.0.0.1" })),
        outer
      )
    )
    const { port, routesScope } = await Effect.gen(function* () {
      const routesScope = yield* Scope.make()
      const app = yield* HttpRouter.toHttpEffect(WorkflowServer.routes({ workflows: allWorkflows, port: 0 })).pipe(
        Scope.provide(routesScope)
      )
      yield* HttpServer.serveEffect(app)
      const { address } = yield* HttpServer.HttpServer
      return { port: (address as { port: number }).port, routesScope }
    }).pipe(Effect.provideContext(services), Scope.provide(outer), Effect.runPromise)
    const url = `http://127.0.0.1:${port}`
    try {
      const { runId } = (await (await post(`${url}/api/workflows/approval/runs`, { amount: 3 })).json()) as any
      const reader = (await fetch(`${url}/api/runs/${runId}/events`)).body!.getReader()
      let text = ""
      while (!text.includes("InputRequiredEvent")) text += new TextDecoder().decode((await reader.read()).value)
      // the run waits for an answer: its stream stays open until the routes go away
      await Effect.runPromise(Scope.close(routesScope, Exit.void))
      let timer: ReturnType<typeof setTimeout> | undefined
      const open = new Promise<"open">((resolve) => (timer = setTimeout(() => resolve("open"), 10_000)))
      expect(await Promise.race([restOf(reader), open])).toBe("cut")
      clearTimeout(timer)
    } finally {
      await Effect.runPromise(Scope.close(outer, Exit.void))
    }
  })
})

const unusableOptions: Array<[Partial<WorkflowServer.Options>, string, string]> = [
  [{ port: Number("80a") }, "port", "NaN"],
  [{ port: 65536 }, "port", "65536"],
  [{ host: "" }, "host", '""'],
  [{ keepRuns: Number.NaN }, "keepRuns", "NaN"],
  [{ keepRuns: -1 }, "keepRuns", "-1"],
  [{ keepRuns: 2.5 }, "keepRuns", "2.5"],
  [{ maxBodyBytes: -1 }, "maxBodyBytes", "-1"],
  [{ keepAliveEvery: "banana" as never }, "keepAliveEvery", '"banana"'],
  [{ keepAliveEvery: 0 }, "keepAliveEvery", "0"],
  [{ keepAliveEvery: Number.NaN }, "keepAliveEvery", "NaN"],
  [{ token: "" }, "token", '""'],
  [{ token: Redacted.make(" ") }, "token", "a Redacted of blank text"],
  [{ allowedHosts: "flows.example.com" as never }, "allowedHosts", '"flows.example.com"'],
  [{ allowedHosts: ["https://flows.example.com"] }, "allowedHosts", '"https://flows.example.com"'],
  [{ allowedHosts: ["flows.example.com:8443"] }, "allowedHosts", '"flows.example.com:8443"'],
  [{ allowedHosts: ["ok.example", " "] }, "allowedHosts", '" "']
]

describe("WorkflowServer options, continued", () => {
  it("bodies are limited in size: 413 beyond maxBodyBytes", async () => {
    const server = await startServer({ maxBodyBytes: 1000 })
    try {
      const big = await post(`${server.url}/api/workflows/echo/runs`, { text: "x".repeat(5000) })
      expect(big.status).toBe(413)
      const small = await post(`${server.url}/api/workflows/echo/runs`, { text: "x".repeat(100) })
      expect(small.status).toBe(201)
    } finally {
      await server.close()
    }
  })

  it("keepRuns: the oldest finished runs are dropped (404), the newest kept; a run still going is never dropped", async () => {
    const server = await startServer({ keepRuns: 2 })
    try {
      const startRun = async (name: string, input: unknown): Promise<string> =>
        ((await (await post(`${server.url}/api/workflows/${name}/runs`, input)).json()) as any).runId
      const statuses = (ids: ReadonlyArray<string>) =>
        Promise.all(ids.map((id) => fetch(`${server.url}/api/runs/${id}`).then((r) => r.status)))
      // the oldest run waits for an answer while three newer ones finish
      const waiting = await startRun("approval", { amount: 1 })
      const ids: Array<string> = []
      for (const text of ["a", "b", "c"]) {
        ids.push(await startRun("echo", { text }))
        // each run finished before the next starts, so "oldest" is unambiguous (not a fixed sleep: a loaded
        // machine may take longer than one to finish an echo)
        await awaitEnd(server.url, ids.at(-1)!)
      }
      expect(await statuses([waiting, ...ids])).toEqual([200, 404, 200, 200])
      // once it is answered and finished, it is the newest finished run: the oldest kept one goes
      const answered = await post(`${server.url}/api/runs/${waiting}/events`, {
        _tag: "HumanResponseEvent",
        response: "y"
      })
      expect(answered.status).toBe(202)
      expect(await awaitEnd(server.url, waiting)).toMatchObject({ status: "completed" })
      expect(await statuses([waiting, ...ids])).toEqual([200, 404, 404, 200])
    } finally {
      await server.close()
    }
  })

  it("keepRuns defaults to 1000 finished runs", async () => {
    // through the served layer's own registry (what the routes call), to finish 1,001 runs without 3,000 requests
    const program = Effect.gen(function* () {
      const registry = yield* RunRegistry.RunRegistry
      const ended = (runId: string) =>
        Effect.flatMap(registry.events(runId, { after: 0, lifecycle: false }), Stream.runDrain)
      const first = yield* registry.start("echo", { text: "first" })
      yield* ended(first)
      const rest = yield* Effect.forEach(
        Array.from({ length: 1000 }),
        (_, i) => registry.start("echo", { text: `x${i}` }),
        {
          concurrency: 50
        }
      )
      yield* Effect.forEach(rest, ended, { concurrency: 50, discard: true })
      // 1,000 runs finished after the first: it is dropped, they are all kept
      const dropped = yield* Effect.flip(registry.status(first))
      const kept = yield* Effect.forEach(rest, (runId) => Effect.map(registry.status(runId), (s) => s.status))
      return { dropped, kept }
    })
    const { dropped, kept } = await program.pipe(
      Effect.provide(WorkflowServer.layer({ workflows: [echo], port: 0 })),
      Effect.runPromise
    )
    expect(dropped._tag).toBe("RunNotFound")
    expect(kept).toEqual(kept.map(() => "completed"))
    expect(kept.length).toBe(1000)
  })
})
