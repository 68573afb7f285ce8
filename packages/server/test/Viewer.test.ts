/**
 * The run viewer in a real headless Chromium (Debian's `chromium`, driven by playwright-core; nothing
 * downloads a browser): start runs from the page, watch them, answer a request, see errors, stay safe
 * with hostile event fields, and stay responsive during a 10,000-event fan-out.
 */
import { copyFileSync, mkdirSync, mkdtempSync, rmSync } from "node:fs"
import { cpus, loadavg, tmpdir } from "node:os"
import { join } from "node:path"
import { SqliteRunStore } from "@effect-flow/sql"
import type { Layer } from "effect"
import { type Browser, chromium, type Page } from "playwright-core"
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from "vitest"
import { type Running, readSse, startServer } from "./fixtures.ts"

const artifacts = new URL("../test-artifacts/", import.meta.url)
mkdirSync(artifacts, { recursive: true })
const shot = (name: string) => new URL(name, artifacts).pathname

describe("the run viewer in Chromium", () => {
  let server: Running
  let browser: Browser
  let page: Page
  const errors: Array<string> = []

  beforeAll(async () => {
    server = await startServer()
    browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })
    page = await browser.newPage({ viewport: { width: 1280, height: 860 } })
    page.on("pageerror", (e) => errors.push(String(e)))
    page.on("console", (m) => {
      if (m.type() === "error") errors.push(m.text())
    })
  }, 60_000)

  afterAll(async () => {
    await browser?.close()
    await server?.close()
  })

  const open = async (workflow: string) => {
    // A failing test leaves a screenshot of the page as it was, named after the workflow.
    onTestFailed(() => page.screenshot({ path: shot(`failed-${workflow}.png`) }).then(() => {}))
    await page.goto(`${server.url}/#/?workflow=${workflow}`)
    await page.waitForSelector(`#workflow-list button.selected[data-workflow="${workflow}"]`)
    await page.waitForSelector('#start-diagram[data-ready="true"] svg')
  }

  const awaitStatus = (status: string, timeout = 30_000) =>
    page.waitForSelector(`#run-status[data-status="${status}"]`, { timeout })

  it("starts a fan-out from the page, lights every step and shows the result", async () => {
    await open("fan-out")
    await page.fill('input[name="count"]', "40")
    await page.fill('input[name="delayMillis"]', "150")
    await page.click("#start-button")
    await page.waitForSelector('#run-diagram[data-ready="true"] svg')
    await page.waitForSelector('tr[data-step="work"][data-state="running"]')
    expect(await page.textContent('tr[data-step="work"] td:nth-child(3)')).toMatch(/^[1-4] \/ 4$/)
    await page.screenshot({ path: shot("viewer-mid-run.png") })
    if (process.env.UPDATE_SCREENSHOTS === "1")
      copyFileSync(shot("viewer-mid-run.png"), new URL("../viewer-mid-run.png", import.meta.url))
    await awaitStatus("completed")
    expect(await page.getAttribute('tr[data-step="dispatch"]', "data-done")).toBe("1")
    expect(await page.getAttribute('tr[data-step="work"]', "data-done")).toBe("40")
    expect(await page.getAttribute('tr[data-step="collect"]', "data-done")).toBe("40")
    for (const step of ["dispatch", "work", "collect"]) {
      expect(await page.getAttribute(`tr[data-step="${step}"]`, "data-state")).toBe("done")
    }
    expect(await page.locator("#run-diagram g.node.state-done").count()).toBe(3)
    expect(await page.textContent("#outcome-title")).toBe("Result")
    expect(await page.textContent("#outcome-body")).toBe(String(40 * 39))
    await page.screenshot({ path: shot("viewer-fan-out-done.png") })
    expect(errors).toEqual([])
  })

  it("answers a human-in-the-loop request from the page and sees the run finish", async () => {
    await open("approval")
    await page.fill('input[name="amount"]', "250")
    await page.click("#start-button")
    await page.waitForSelector("#answer-form:not([hidden])")
    await awaitStatus("waiting")
    expect(await page.textContent("#answer-prompt")).toBe("Approve 250? ")
    await page.screenshot({ path: shot("viewer-waiting.png") })
    await page.fill("#answer-text", "yes, go")
    // The answer's 202 may come after the run's end has come down the event stream (a loaded machine): hold it
    // until the page shows the end, then let it through. The page must still say completed after it.
    const isPost = (request: { method(): string; url(): string }) =>
      request.method() === "POST" && new URL(request.url()).pathname.endsWith("/events")
    const events = (url: URL) => url.pathname.endsWith("/events")
    await page.route(events, async (route) => {
      if (!isPost(route.request())) return route.continue()
      const response = await route.fetch()
      await page.waitForSelector("#outcome:not([hidden])")
      await route.fulfill({ response })
    })
    const answered = page.waitForResponse((response) => isPost(response.request()))
    await page.click('#answer-form button[type="submit"]')
    await awaitStatus("completed")
    expect((await answered).status()).toBe(202)
    // the page handles the 202 in a task of its own after the response: give it a few
    await page.evaluate(() => new Promise((resolve) => setTimeout(resolve, 200)))
    await page.unroute(events)
    expect(await page.getAttribute("#run-status", "data-status")).toBe("completed")
    expect(await page.textContent("#outcome-body")).toBe(JSON.stringify("answer: yes, go"))
    expect(await page.isHidden("#answer-form")).toBe(true)
  })

  it("answers a ctx.waitFor whose request is its own event class (not an InputRequiredEvent) from the page", async () => {
    await open("survey")
    await page.fill('input[name="workMillis"]', "300")
    await page.click("#start-button")
    // the run says it waits only in its status, once step "work" is done: the page reads it and asks
    await page.waitForSelector('#answer-form[data-kind="waitFor"]:not([hidden])')
    await awaitStatus("waiting")
    expect(await page.textContent("#answer-prompt")).toBe(
      'The run waits for an answer to Ask {"id":"s1","text":"Why?"}'
    )
    expect(JSON.parse(await page.inputValue("#answer-json"))).toEqual({ _tag: "Answer", id: "s1" })
    await page.fill("#answer-json", JSON.stringify({ _tag: "Answer", id: "s1", text: "because" }))
    await page.click("#answer-json-send")
    await awaitStatus("completed")
    expect(await page.textContent("#outcome-body")).toBe(JSON.stringify("because"))
    expect(await page.isHidden("#answer-form")).toBe(true)
  })

  it("shows a step's failure as the run's error", async () => {
    await open("failing")
    await page.fill('input[name="reason"]', "disk full")
    await page.click("#start-button")
    await awaitStatus("failed")
    expect(await page.textContent("#outcome-title")).toBe("Failed: StepBroke")
    expect(await page.textContent("#outcome-body")).toBe("step broke: disk full")
    expect(await page.getAttribute('tr[data-step="explode"]', "data-state")).toBe("failed")
    await page.screenshot({ path: shot("viewer-failed.png") })
  })

  it("shows an event field holding markup as text, never as markup", async () => {
    const hostile = `<img src=x onerror="window.__pwned = 1"><script>window.__pwned = 2</script>`
    await open("echo")
    await page.fill('input[name="text"]', hostile)
    await page.click("#start-button")
    await awaitStatus("completed")
    const row = page.locator('#event-log li[data-tag="NoteEvent"]')
    expect((await row.textContent())!.trim().split(/ +NoteEvent +/)[1]).toBe(JSON.stringify({ text: hostile }))
    expect(await page.textContent("#outcome-body")).toBe(JSON.stringify(hostile))
    expect(await page.locator("#event-log img, #outcome img, #event-log script").count()).toBe(0)
    expect(await page.evaluate(() => (globalThis as any).__pwned)).toBeUndefined()
  })

  it("stays responsive during a 10,000-event fan-out: no main-thread task over 200 ms, at most 1,000 log rows", async () => {
    await open("fan-out")
    await page.fill('input[name="count"]', "10000")
    await page.fill('input[name="delayMillis"]', "")
    await page.evaluate(() => {
      const w = globalThis as any
      w.__longTasks = []
      new PerformanceObserver((list) => {
        for (const entry of list.getEntries()) w.__longTasks.push({ start: entry.startTime, duration: entry.duration })
      }).observe({ type: "longtask" as any })
    })
    // Two measures of the same tasks. The PerformanceObserver gives each long task's wall time, as the issue
    // asks; Chrome's trace gives each main-thread task's wall time (`dur`) and its CPU time (`tdur`). On a
    // machine shared by many processes a task can wait for a CPU for hundreds of milliseconds, so a long
    // wall time alone does not say the page did too much: a long task that ran under 200 ms of CPU did not.
    await browser.startTracing(page, {
      categories: ["devtools.timeline", "disabled-by-default-devtools.timeline", "toplevel"]
    })
    // Calibration: one deliberate 400 ms task. Both instruments must see it (else a check below could not
    // fail), and it ties the observer's clock to the trace's.
    await page.evaluate(
      () =>
        new Promise<void>((resolve) =>
          setTimeout(() => {
            const t0 = performance.now()
            // Marks the task in Chrome's trace (a TimeStamp event on the page's main thread).
            console.timeStamp("calibration")
            while (performance.now() - t0 < 400) {}
            resolve()
          }, 0)
        )
    )
    // The observer reports a long task in a task of its own, later: wait for that report (bounded), not a fixed
    // 50 ms, which a loaded machine can outlast.
    const calibration: { start: number; duration: number } | undefined = await page.evaluate(async () => {
      const w = globalThis as any
      const until = performance.now() + 10_000
      while (!w.__longTasks.some((t: any) => t.duration >= 400) && performance.now() < until) {
        await new Promise((r) => setTimeout(r, 20))
      }
      return w.__longTasks.splice(0).find((t: any) => t.duration >= 400)
    })
    expect(calibration, "the PerformanceObserver saw the deliberate 400 ms task").toBeDefined()
    await page.click("#start-button")
    await awaitStatus("completed", 120_000)
    const trace = JSON.parse((await browser.stopTracing()).toString("utf8")).traceEvents as Array<any>
    const runTasks = trace.filter((e) => e.ph === "X" && e.name === "RunTask")
    // The calibration task is the one holding its TimeStamp, on the page's main thread (the trace has every
    // process's threads, in no global order: on a loaded machine another thread's task may also last 400 ms).
    const stamp = trace.find((e) => e.name === "TimeStamp" && e.args?.data?.message === "calibration")
    expect(stamp, "the trace has the calibration task's TimeStamp").toBeDefined()
    const calibrationTask = runTasks.find(
      (e) => e.pid === stamp.pid && e.tid === stamp.tid && e.ts <= stamp.ts && stamp.ts <= e.ts + e.dur
    )
    expect(calibrationTask, "the trace saw the deliberate 400 ms task").toBeDefined()
    expect(calibrationTask.tdur, "the trace gives CPU time").toBeGreaterThan(0)
    const tasks = runTasks.filter(
      (e) => e.pid === calibrationTask.pid && e.tid === calibrationTask.tid && e.ts > calibrationTask.ts
    )
    const offsetMillis = calibrationTask.ts / 1000 - calibration!.start
    const cpuMillis = (e: any) => (e.tdur ?? e.dur) / 1000
    const longestCpuMillis = Math.max(0, ...tasks.map(cpuMillis))
    const longTasks: Array<{ start: number; duration: number }> = await page.evaluate(
      () => (globalThis as any).__longTasks
    )
    // Each long task the observer saw over 200 ms, with the trace's task that overlaps it most.
    const over = longTasks
      .filter((t) => t.duration > 200)
      .map((t) => {
        const from = t.start + offsetMillis
        const to = from + t.duration
        const overlap = (e: any) => Math.min(to, (e.ts + e.dur) / 1000) - Math.max(from, e.ts / 1000)
        const task = tasks.reduce<any>(
          (best, e) => (overlap(e) > (best === undefined ? 0 : overlap(best)) ? e : best),
          undefined
        )
        return { wall: Math.round(t.duration), cpu: task === undefined ? undefined : Math.round(cpuMillis(task)) }
      })
    const rows = await page.locator("#event-log li.event, #event-log li.lifecycle").allTextContents()
    const folded = Number((await page.textContent("#event-log li.folded"))!.replace(/[^0-9]/g, ""))
    const total = Number((await page.textContent("#run-counter"))!.replace(/[^0-9]/g, ""))
    await page.screenshot({ path: shot("viewer-10k.png") })
    const runId = decodeURIComponent(/^#\/runs\/([^?]+)/.exec(new URL(page.url()).hash)![1]!)
    const served = await readSse(await fetch(`${server.url}/api/runs/${runId}/events?lifecycle=1`))
    const load = loadavg()[0]! / cpus().length
    console.log(
      `10,000-event fan-out: ${tasks.length} main-thread tasks, the longest ${longestCpuMillis.toFixed(0)} ms of CPU; ` +
        `long tasks by PerformanceObserver (wall ms): ${JSON.stringify(longTasks.map((t) => Math.round(t.duration)))}; ` +
        `over 200 ms (wall, CPU): ${JSON.stringify(over)}; load per CPU ${load.toFixed(1)}`
    )
    expect(tasks.length).toBeGreaterThan(100)
    // No task of the page took over 200 ms of CPU; every long task the observer saw over 200 ms is a task
    // of the trace that ran under 200 ms of CPU (it waited for one); on a machine that is not oversubscribed,
    // the observer's wall times themselves stay under 200 ms.
    expect(longestCpuMillis).toBeLessThanOrEqual(200)
    for (const task of over) expect(task.cpu, JSON.stringify(task)).toBeLessThanOrEqual(200)
    if (load < 1) expect(over).toEqual([])
    // Every event reached the page (the server's own count), at most 1,000 rows shown, the newest,
    // contiguous; the older ones folded.
    expect(served.at(-1)!.data._tag).toBe("StopEvent")
    expect(total).toBe(served.length)
    expect(total).toBeGreaterThan(40_000) // 1 + 10,000 + 10,000 invocations, 2 lifecycle events each, and more
    expect(rows.length).toBeGreaterThan(0)
    expect(rows.length).toBeLessThanOrEqual(1000)
    expect(folded + rows.length).toBe(total)
    expect(rows.map((r) => Number(r.trim().split(" ")[0]))).toEqual(rows.map((_, i) => folded + 1 + i))
    expect(rows.at(-1)).toMatch(/^ *\d+ +StopEvent /)
    expect(await page.getAttribute('tr[data-step="work"]', "data-done")).toBe("10000")
    expect(await page.textContent("#outcome-body")).toBe(String(10000 * 9999))
  }, 180_000)
})

describe("the run viewer with a token", () => {
  it("asks for the token, then sends it with every request, the event stream included", async () => {
    const server = await startServer({ token: "s3cret" })
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })
    try {
      const page = await browser.newPage()
      await page.goto(`${server.url}/#/?workflow=echo`)
      await page.waitForSelector("#notice:not([hidden])")
      expect(await page.textContent("#notice")).toContain("needs a token")
      await page.fill("#token", "s3cret")
      await page.press("#token", "Tab") // `change` fires: the page reloads the workflows with the token
      await page.waitForSelector('#workflow-list button.selected[data-workflow="echo"]')
      await page.fill('input[name="text"]', "with a token")
      await page.click("#start-button")
      await page.waitForSelector('#run-status[data-status="completed"]')
      expect(await page.textContent("#outcome-body")).toBe(JSON.stringify("with a token"))
      expect(await page.isHidden("#notice")).toBe(true)
    } finally {
      await browser.close()
      await server.close()
    }
  })
})

describe("the run viewer by the name it is reached at", () => {
  it("works at http://127.0.0.1:port and http://localhost:port; a rebound name (DNS rebinding) gets 403, page and API", async () => {
    const server = await startServer()
    // rebound.test resolves to 127.0.0.1 in this browser, as an attacker's name would after rebinding
    const browser = await chromium.launch({
      executablePath: "/usr/bin/chromium",
      args: ["--no-sandbox", "--host-resolver-rules=MAP rebound.test 127.0.0.1"]
    })
    try {
      for (const base of [server.url, `http://localhost:${server.port}`]) {
        const page = await browser.newPage()
        const errors: Array<string> = []
        page.on("pageerror", (e) => errors.push(String(e)))
        await page.goto(`${base}/#/?workflow=echo`)
        await page.waitForSelector('#workflow-list button.selected[data-workflow="echo"]')
        await page.fill('input[name="text"]', `from ${base}`)
        await page.click("#start-button")
        await page.waitForSelector('#run-status[data-status="completed"]')
        expect(await page.textContent("#outcome-body"), base).toBe(JSON.stringify(`from ${base}`))
        expect(errors, base).toEqual([])
        await page.close()
      }
      const page = await browser.newPage()
      const response = await page.goto(`http://rebound.test:${server.port}/`)
      expect(response!.status()).toBe(403)
      expect(JSON.parse(await response!.text())).toMatchObject({
        _tag: "Forbidden",
        host: `rebound.test:${server.port}`
      })
      // the page an attacker serves under that name reads nothing: same origin, so fetch sees the answer, a 403
      const read = await page.evaluate(async () => {
        const answer = await fetch("/api/workflows")
        return { status: answer.status, body: await answer.json() }
      })
      expect(read).toMatchObject({ status: 403, body: { _tag: "Forbidden" } })
    } finally {
      await browser.close()
      await server.close()
    }
  }, 60_000)
})

describe("the run viewer on a durable server (SQLite file)", () => {
  it("starts a fan-out and answers a request from the page; the events come from the journal", async () => {
    const dir = mkdtempSync(join(tmpdir(), "flow-viewer-durable-"))
    const server = await startServer(
      {},
      SqliteRunStore.layer({ filename: join(dir, "runs.db") }) as unknown as Layer.Layer<never>
    )
    const browser = await chromium.launch({ executablePath: "/usr/bin/chromium", args: ["--no-sandbox"] })
    try {
      const page = await browser.newPage()
      const errors: Array<string> = []
      page.on("pageerror", (e) => errors.push(String(e)))
      await page.goto(`${server.url}/#/?workflow=fan-out`)
      await page.waitForSelector('#start-diagram[data-ready="true"] svg')
      await page.fill('input[name="count"]', "12")
      await page.fill('input[name="delayMillis"]', "20")
      await page.click("#start-button")
      await page.waitForSelector('#run-status[data-status="completed"]', { timeout: 30_000 })
      expect(await page.getAttribute('tr[data-step="work"]', "data-done")).toBe("12")
      expect(await page.getAttribute('tr[data-step="work"]', "data-state")).toBe("done")
      expect(await page.textContent("#outcome-body")).toBe(String(12 * 11))
      await page.goto(`${server.url}/#/?workflow=approval`)
      await page.waitForSelector('#workflow-list button.selected[data-workflow="approval"]')
      await page.fill('input[name="amount"]', "7")
      await page.click("#start-button")
      await page.waitForSelector("#answer-form:not([hidden])")
      expect(await page.textContent("#answer-prompt")).toBe("Approve 7? ")
      await page.fill("#answer-text", "ok")
      await page.click('#answer-form button[type="submit"]')
      await page.waitForSelector('#run-status[data-status="completed"]')
      expect(await page.textContent("#outcome-body")).toBe(JSON.stringify("answer: ok"))
      expect(errors).toEqual([])
    } finally {
      await browser.close()
      await server.close()
      rmSync(dir, { recursive: true, force: true })
    }
  }, 60_000)
})
