// The effect-flow run viewer: plain DOM, no framework, no build step. Every value from the server is put in
// the page with textContent (never innerHTML), so an event field holding markup shows as text. The event
// stream is read with fetch (so the token can be sent), and rendered at most once per animation frame,
// keeping the last MAX_ROWS rows: a fan-out of 10,000 events never blocks the page.

const MAX_ROWS = 1000
// Rows added per render at most, and renders per second: when events come faster than this, the log shows
// the newest and folds the rest, and the page stays responsive.
const ROWS_PER_FLUSH = 50
const FLUSH_EVERY_MS = 150
const LIFECYCLE = new Set(["StepStarted", "StepCompleted", "StepFailed", "StepRetrying", "EventQueued"])
const $ = (id) => document.getElementById(id)

// ---------------------------------------------------------------------------------------------------------
// talking to the server

const tokenInput = $("token")
tokenInput.value = sessionStorage.getItem("effect-flow-token") ?? ""
tokenInput.addEventListener("change", () => {
  sessionStorage.setItem("effect-flow-token", tokenInput.value)
  route()
})
$("token-form").addEventListener("submit", (e) => e.preventDefault())

const headers = (json) => {
  const h = {}
  if (tokenInput.value !== "") h.authorization = `Bearer ${tokenInput.value}`
  if (json) h["content-type"] = "application/json"
  return h
}

class ApiError extends Error {
  constructor(status, body) {
    super(body?.issue ? `${body.where ?? "request"}: ${body.issue}` : (body?.message ?? `HTTP ${status}`))
    this.status = status
  }
}

const api = async (method, path, body) => {
  const response = await fetch(path, {
    method,
    headers: headers(body !== undefined),
    ...(body === undefined ? {} : { body: JSON.stringify(body) })
  })
  const text = await response.text()
  let parsed
  try {
    parsed = text === "" ? undefined : JSON.parse(text)
  } catch {
    parsed = { message: text }
  }
  if (!response.ok) throw new ApiError(response.status, parsed)
  return parsed
}

const notice = (message) => {
  const el = $("notice")
  el.textContent = message ?? ""
  el.hidden = message === undefined
}

const explain = (error) =>
  error instanceof ApiError && error.status === 401
    ? "This server needs a token: enter it at the top right."
    : String(error?.message ?? error)

let workflowsPromise
const workflows = () => {
  workflowsPromise ??= api("GET", "/api/workflows").catch((e) => {
    workflowsPromise = undefined
    throw e
  })
  return workflowsPromise
}

// ---------------------------------------------------------------------------------------------------------
// diagrams

let mermaidReady = false
let diagramCount = 0
const svgCache = new Map()
const renderDiagram = async (container, workflow) => {
  container.textContent = ""
  container.dataset.ready = "false"
  if (typeof mermaid === "undefined") {
    container.textContent = "(the diagram library did not load)"
    return
  }
  if (!mermaidReady) {
    mermaid.initialize({
      startOnLoad: false,
      securityLevel: "strict",
      theme: "neutral",
      flowchart: { useMaxWidth: true, htmlLabels: false },
      htmlLabels: false
    })
    mermaidReady = true
  }
  // Laying a diagram out is the page's most expensive task: once per workflow, then reused.
  let svg = svgCache.get(workflow.mermaid)
  if (svg === undefined) {
    svg = (await mermaid.render(`diagram-${++diagramCount}`, workflow.mermaid)).svg
    svgCache.set(workflow.mermaid, svg)
  }
  // The SVG comes from mermaid's renderer in strict mode, from the server's own Mermaid text (labels escaped
  // by Diagram.toMermaid); it is parsed as SVG, not as HTML.
  const doc = new DOMParser().parseFromString(svg, "image/svg+xml")
  container.appendChild(document.importNode(doc.documentElement, true))
  container.dataset.ready = "true"
}

/** The SVG node of a step, by the id Diagram.toMermaid gives it (`step_<name>`). */
const stepNodes = (container, workflow) => {
  const nodes = new Map()
  const all = [...container.querySelectorAll("g.node")]
  for (const step of workflow.steps) {
    const id = `step_${step.name.replace(/[^A-Za-z0-9_]/g, "_")}`
    const pattern = new RegExp(`(^|-)${id}(-\\d+)?$`)
    const node = all.find((n) => pattern.test(n.id))
    if (node) nodes.set(step.name, node)
  }
  return nodes
}

// ---------------------------------------------------------------------------------------------------------
// the start page

let selected

const showStart = async () => {
  $("run-view").hidden = true
  $("start-view").hidden = false
  stopFollowing()
  let list
  try {
    list = await workflows()
  } catch (e) {
    notice(explain(e))
    return
  }
  notice()
  const ul = $("workflow-list")
  ul.textContent = ""
  for (const wf of list) {
    const li = document.createElement("li")
    const button = document.createElement("button")
    button.type = "button"
    button.textContent = wf.name
    button.dataset.workflow = wf.name
    const steps = document.createElement("small")
    steps.textContent = `${wf.steps.length} step${wf.steps.length === 1 ? "" : "s"}`
    button.appendChild(steps)
    button.addEventListener("click", () => select(wf))
    li.appendChild(button)
    ul.appendChild(li)
  }
  const wanted = new URLSearchParams(location.hash.split("?")[1] ?? "").get("workflow")
  await select(list.find((w) => w.name === wanted) ?? selected ?? list[0])
}

/** A form field per top-level input property the form can hold; the JSON box holds the rest. */
const fieldKind = (full) => {
  // Schema.Number is `anyOf: [number, "NaN" | "Infinity" strings]`, optional ones add null: the form uses the main member.
  const schema = Array.isArray(full?.anyOf)
    ? full.anyOf.find((s) => s.type !== undefined && s.type !== "null" && s.enum === undefined)
    : full
  if (schema?.type === "string" && !schema.enum) return "string"
  if (schema?.type === "number" || schema?.type === "integer") return "number"
  if (schema?.type === "boolean") return "boolean"
  if (schema?.type === "array" && schema.items?.type === "string") return "lines"
  return undefined
}

const exampleValue = (schema) => {
  if (schema?.default !== undefined) return schema.default
  switch (schema?.type) {
    case "string":
      return ""
    case "number":
    case "integer":
      return 0
    case "boolean":
      return false
    case "array":
      return []
    case "object":
      return Object.fromEntries(Object.entries(schema.properties ?? {}).map(([k, v]) => [k, exampleValue(v)]))
    default:
      return null
  }
}

const select = async (wf) => {
  if (wf === undefined) return
  selected = wf
  for (const b of document.querySelectorAll("#workflow-list button")) {
    b.classList.toggle("selected", b.dataset.workflow === wf.name)
  }
  $("start-title").textContent = `Start a run of ${wf.name}`
  $("start-error").hidden = true
  const fields = $("input-fields")
  fields.textContent = ""
  const properties = wf.input?.properties ?? {}
  const required = new Set(wf.input?.required ?? [])
  const formable = Object.entries(properties).filter(([, s]) => fieldKind(s) !== undefined)
  for (const [name, schema] of formable) {
    const kind = fieldKind(schema)
    const label = document.createElement("label")
    label.className = "field"
    const caption = document.createElement("span")
    caption.textContent = required.has(name) ? name : `${name} (optional)`
    label.appendChild(caption)
    const input = document.createElement(kind === "lines" ? "textarea" : "input")
    input.name = name
    input.dataset.kind = kind
    if (kind === "number") input.type = "number"
    if (kind === "boolean") input.type = "checkbox"
    if (kind === "string") input.type = "text"
    if (kind === "lines") {
      input.rows = 3
      input.placeholder = "one item per line"
    }
    if (schema.description) input.title = schema.description
    input.addEventListener("input", syncJsonFromForm)
    label.appendChild(input)
    fields.appendChild(label)
  }
  const json = $("input-json")
  json.value = JSON.stringify(exampleValue({ type: "object", properties }), null, 2)
  $("json-details").open = formable.length < Object.keys(properties).length
  try {
    await renderDiagram($("start-diagram"), wf)
  } catch (e) {
    $("start-diagram").textContent = `(could not draw the diagram: ${e?.message ?? e})`
  }
}

const formValue = () => {
  let value
  try {
    value = JSON.parse($("input-json").value || "{}")
  } catch {
    value = {}
  }
  for (const input of $("input-fields").querySelectorAll("[name]")) {
    const kind = input.dataset.kind
    if (kind === "boolean") value[input.name] = input.checked
    else if (input.value === "") delete value[input.name]
    else if (kind === "number") value[input.name] = Number(input.value)
    else if (kind === "lines") value[input.name] = input.value.split("\n").filter((l) => l.trim() !== "")
    else value[input.name] = input.value
  }
  return value
}

function syncJsonFromForm() {
  $("input-json").value = JSON.stringify(formValue(), null, 2)
}

$("input-json").addEventListener("change", () => {
  let value
  try {
    value = JSON.parse($("input-json").value)
  } catch {
    return
  }
  for (const input of $("input-fields").querySelectorAll("[name]")) {
    const v = value?.[input.name]
    if (input.dataset.kind === "boolean") input.checked = v === true
    else if (input.dataset.kind === "lines") input.value = Array.isArray(v) ? v.join("\n") : ""
    else input.value = v === undefined || v === null ? "" : String(v)
  }
})

$("start-form").addEventListener("submit", async (e) => {
  e.preventDefault()
  const error = $("start-error")
  error.hidden = true
  try {
    JSON.parse($("input-json").value || "{}")
  } catch (parseError) {
    error.textContent = `The input is not JSON: ${parseError.message}`
    error.hidden = false
    return
  }
  const input = formValue()
  try {
    const { runId } = await api("POST", `/api/workflows/${encodeURIComponent(selected.name)}/runs`, input)
    location.hash = `#/runs/${encodeURIComponent(runId)}`
  } catch (startError) {
    error.textContent = explain(startError)
    error.hidden = false
  }
})

// ---------------------------------------------------------------------------------------------------------
// the run page

let following // { runId, controller }
let view // the run page's state

const stopFollowing = () => {
  following?.controller.abort()
  following = undefined
  if (view?.poll !== undefined) clearInterval(view.poll)
}

/**
 * A run waiting in a `ctx.waitFor` whose request is not an InputRequiredEvent says so only in its status: read it
 * now and then while the run goes on, and offer to answer the last event it published.
 */
const checkWaiting = async () => {
  const current = view
  if (current === undefined || current.ended) return
  let status
  try {
    status = await api("GET", `/api/runs/${encodeURIComponent(current.runId)}`)
  } catch {
    return
  }
  if (current !== view || current.ended) return
  if (status.status === "waiting" && current.request === undefined) {
    current.request = { waitFor: true, event: current.lastEvent }
    showRequest(current.request)
    setStatus("waiting")
  } else if (status.status === "running" && current.request?.waitFor) {
    current.request = undefined
    $("answer-form").hidden = true
    setStatus("running")
  }
}

const showRun = async (runId) => {
  $("start-view").hidden = true
  $("run-view").hidden = false
  stopFollowing()
  let status
  let list
  try {
    ;[status, list] = await Promise.all([api("GET", `/api/runs/${encodeURIComponent(runId)}`), workflows()])
  } catch (e) {
    notice(explain(e))
    return
  }
  notice()
  const workflow = list.find((w) => w.name === status.workflow)
  view = {
    runId,
    workflow,
    steps: new Map(
      workflow.steps.map((s) => [s.name, { workers: s.workers, running: 0, queued: 0, done: 0, failed: 0 }])
    ),
    pending: [],
    total: 0,
    folded: 0,
    scheduled: false,
    lastFlush: 0,
    ended: false,
    nodes: new Map(),
    badges: new Map()
  }
  $("run-workflow").textContent = workflow.name
  $("run-id").textContent = runId
  // A run that has ended already shows its end once the replayed stream reaches it, with its result.
  setStatus(status.status === "waiting" ? "waiting" : "running")
  $("outcome").hidden = true
  $("answer-form").hidden = true
  $("event-log").textContent = ""
  $("event-log").dataset.folded = "0"
  $("run-counter").textContent = ""
  renderStepRows()
  const container = $("run-diagram")
  try {
    await renderDiagram(container, workflow)
    view.nodes = stepNodes(container, workflow)
  } catch (e) {
    container.textContent = `(could not draw the diagram: ${e?.message ?? e})`
  }
  paintSteps()
  view.poll = setInterval(checkWaiting, 1000)
  follow(runId)
}

const setStatus = (status) => {
  const el = $("run-status")
  el.textContent = status
  el.className = `status ${status}`
  el.dataset.status = status
  $("cancel-button").hidden = status !== "running" && status !== "waiting"
}

const stepState = (s) => {
  if (s.failed > 0 && s.running === 0) return "failed"
  if (s.running > 0) return "running"
  if (s.queued > 0) return "queued"
  if (s.done > 0) return "done"
  return "idle"
}

const describeStep = (s) => {
  const parts = []
  if (s.running > 0) parts.push(`running ${s.running} of ${s.workers}`)
  if (s.queued > 0) parts.push(`queued ${s.queued}`)
  if (s.done > 0) parts.push(`done ${s.done}`)
  if (s.failed > 0) parts.push(`failed ${s.failed}`)
  return parts.length === 0 ? "idle" : parts.join(" · ")
}

const renderStepRows = () => {
  const body = $("step-rows")
  body.textContent = ""
  for (const [name, s] of view.steps) {
    const tr = document.createElement("tr")
    tr.dataset.step = name
    for (const text of [name, "", "", "", "", ""]) {
      const td = document.createElement("td")
      td.textContent = text
      tr.appendChild(td)
    }
    body.appendChild(tr)
    s.row = tr
  }
}

const SVG = "http://www.w3.org/2000/svg"

const paintSteps = () => {
  for (const [name, s] of view.steps) {
    const state = stepState(s)
    const text = describeStep(s)
    // Touch the DOM (and the SVG, whose restyle is costly) only for steps whose state changed.
    if (s.painted === text && s.paintedState === state) continue
    s.painted = text
    s.paintedState = state
    const cells = s.row.children
    cells[1].textContent = state
    cells[2].textContent = `${s.running} / ${s.workers}`
    cells[3].textContent = String(s.queued)
    cells[4].textContent = String(s.done)
    cells[5].textContent = String(s.failed)
    s.row.className = `state-${state}`
    s.row.dataset.state = state
    s.row.dataset.done = String(s.done)
    const node = view.nodes.get(name)
    if (node === undefined) continue
    node.classList.remove("state-idle", "state-running", "state-queued", "state-done", "state-failed")
    node.classList.add(`state-${state}`)
    let badge = view.badges.get(name)
    if (badge === undefined) {
      const box = node.getBBox()
      badge = document.createElementNS(SVG, "text")
      badge.setAttribute("class", "step-badge")
      badge.setAttribute("x", String(box.x + box.width / 2))
      badge.setAttribute("y", String(box.y + box.height + 13))
      badge.setAttribute("text-anchor", "middle")
      node.appendChild(badge)
      view.badges.set(name, badge)
    }
    badge.textContent = text
  }
}

/** Read the run's event stream with fetch, resuming after the last id if the connection drops. */
const follow = async (runId) => {
  const controller = new AbortController()
  following = { runId, controller }
  let lastId = 0
  for (let attempt = 0; attempt < 20 && !controller.signal.aborted; attempt++) {
    try {
      const response = await fetch(`/api/runs/${encodeURIComponent(runId)}/events?lifecycle=1`, {
        headers: { ...headers(false), ...(lastId > 0 ? { "last-event-id": String(lastId) } : {}) },
        signal: controller.signal
      })
      if (!response.ok) throw new ApiError(response.status, await response.json().catch(() => undefined))
      const reader = response.body.pipeThrough(new TextDecoderStream()).getReader()
      let buffer = ""
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        buffer += value
        // Parse the complete frames in the buffer, yielding to the page every few milliseconds.
        let start = 0
        let sliceStart = performance.now()
        let end = buffer.indexOf("\n\n", start)
        while (end >= 0) {
          let id
          let data
          for (const line of buffer.slice(start, end).split("\n")) {
            if (line.startsWith("id: ")) id = Number(line.slice(4))
            else if (line.startsWith("data: ")) data = line.slice(6)
          }
          if (data !== undefined) {
            if (id !== undefined) lastId = id
            receive(id, JSON.parse(data))
          }
          start = end + 2
          end = buffer.indexOf("\n\n", start)
          if (performance.now() - sliceStart > 6) {
            await yieldToPage()
            sliceStart = performance.now()
          }
        }
        buffer = buffer.slice(start)
      }
      if (view?.ended) return
    } catch (e) {
      if (controller.signal.aborted) return
      if (e instanceof ApiError) {
        notice(explain(e))
        return
      }
    }
    await new Promise((resolve) => setTimeout(resolve, 500))
  }
}

const yieldToPage = () => new Promise((resolve) => setTimeout(resolve, 0))

const receive = (id, event) => {
  if (view === undefined) return
  view.total++
  if (!LIFECYCLE.has(event._tag)) view.lastEvent = event
  const s = view.steps.get(event.step)
  switch (event._tag) {
    case "StepStarted":
      // A durable run's invocation started again after a restart (`resumed`) is already counted as running.
      if (s && !event.resumed) {
        s.running++
        if (s.queued > 0) s.queued--
      }
      break
    case "StepCompleted":
      if (s) {
        s.running = Math.max(0, s.running - 1)
        s.done++
      }
      break
    case "StepFailed":
      if (s) {
        s.running = Math.max(0, s.running - 1)
        if (!event.willRetry) s.failed++
      }
      break
    case "EventQueued":
      if (s) s.queued = event.queued
      break
    case "InputRequiredEvent":
      view.request = event
      break
    case "StopEvent":
      view.ended = true
      view.outcome = { ok: true, value: event.result }
      break
    case "RunFailed":
    case "RunCancelled":
      view.ended = true
      view.outcome = { ok: false, cancelled: event._tag === "RunCancelled", value: event.error }
      break
  }
  view.pending.push({ id, event })
  // Between two frames only the last MAX_ROWS can be shown: fold the older ones in bulk.
  if (view.pending.length >= 2 * MAX_ROWS) view.folded += view.pending.splice(0, view.pending.length - MAX_ROWS).length
  if (!view.scheduled) {
    view.scheduled = true
    setTimeout(() => requestAnimationFrame(flush), Math.max(0, view.lastFlush + FLUSH_EVERY_MS - performance.now()))
  }
}

const formatEvent = (event) => {
  const { _tag, ...fields } = event
  const text = JSON.stringify(fields)
  return text.length > 400 ? `${text.slice(0, 400)}…` : text
}

/** Render what arrived since the last frame: counts, the diagram, at most MAX_ROWS log rows. */
const flush = () => {
  view.scheduled = false
  view.lastFlush = performance.now()
  const log = $("event-log")
  const fragment = document.createDocumentFragment()
  if (view.pending.length > ROWS_PER_FLUSH) {
    // Too many at once: keep the newest, fold everything older (the rows shown included), so the log stays contiguous.
    view.folded += view.pending.splice(0, view.pending.length - ROWS_PER_FLUSH).length
    const hasFold = log.firstElementChild?.classList.contains("folded") ? 1 : 0
    view.folded += log.childElementCount - hasFold
    while (log.lastElementChild !== null && !log.lastElementChild.classList.contains("folded"))
      log.lastElementChild.remove()
  }
  for (const { id, event } of view.pending) {
    // One element and one text node per row: cheap to make, lay out and drop.
    const li = document.createElement("li")
    li.className = LIFECYCLE.has(event._tag) ? "lifecycle" : "event"
    li.dataset.tag = event._tag
    li.textContent = `${String(id ?? "").padStart(6)}  ${event._tag.padEnd(19)} ${formatEvent(event)}`
    fragment.appendChild(li)
  }
  view.pending = []
  // Follow the newest rows unless the reader scrolled up.
  const atBottom = log.scrollTop + log.clientHeight >= log.scrollHeight - 40
  log.appendChild(fragment)
  let folded = view.folded
  view.folded = 0
  const hasFold = log.firstElementChild?.classList.contains("folded") ? 1 : 0
  const excess = log.childElementCount - hasFold - MAX_ROWS
  if (excess > 0) {
    // Remove the oldest rows in one range operation.
    const range = document.createRange()
    range.setStartBefore(log.children[hasFold])
    range.setEndAfter(log.children[hasFold + excess - 1])
    range.deleteContents()
    folded += excess
  }
  if (folded > 0) {
    let fold = log.querySelector("li.folded")
    if (fold === null) {
      fold = document.createElement("li")
      fold.className = "folded"
      log.prepend(fold)
    }
    const total = Number(log.dataset.folded) + folded
    log.dataset.folded = String(total)
    fold.textContent = `${total.toLocaleString("en")} older events folded`
  }
  if (atBottom) log.scrollTop = log.scrollHeight
  $("run-counter").textContent = `${view.total.toLocaleString("en")} events`
  paintSteps()
  if (view.request !== undefined && !view.ended) showRequest(view.request)
  if (view.ended) showOutcome()
  else setStatus(view.request !== undefined ? "waiting" : "running")
}

const showRequest = (request) => {
  const form = $("answer-form")
  if (!form.hidden && form.dataset.shown === JSON.stringify(request)) return
  form.dataset.shown = JSON.stringify(request)
  // A ctx.waitFor whose request is another event: answer with one of the workflow's outsideInput events, as JSON.
  const waitFor = request.waitFor === true
  const asked = waitFor ? request.event : request
  form.dataset.kind = waitFor ? "waitFor" : "input"
  $("answer-text").hidden = waitFor
  form.querySelector('button[type="submit"]').hidden = waitFor
  form.querySelector("details").open = waitFor
  $("answer-prompt").textContent = waitFor
    ? asked === undefined
      ? "The run waits for an event from outside."
      : `The run waits for an answer to ${asked._tag} ${formatEvent(asked)}`
    : (asked.prefix ?? "")
  $("answer-text").value = ""
  const tag = waitFor
    ? (view.workflow.outsideInput?.find((t) => t !== "HumanResponseEvent") ?? "HumanResponseEvent")
    : "HumanResponseEvent"
  const template = tag === "HumanResponseEvent" ? { _tag: tag, response: "" } : { _tag: tag }
  $("answer-json").value = JSON.stringify(asked?.id === undefined ? template : { ...template, id: asked.id }, null, 2)
  $("answer-error").hidden = true
  form.hidden = false
}

const sendAnswer = async (event) => {
  const error = $("answer-error")
  error.hidden = true
  try {
    const current = view
    await api("POST", `/api/runs/${encodeURIComponent(current.runId)}/events`, event)
    // The answer may finish the run, and its end come down the event stream, before this 202 does.
    if (current !== view || current.ended) return
    view.request = undefined
    $("answer-form").hidden = true
    setStatus("running")
  } catch (e) {
    error.textContent = explain(e)
    error.hidden = false
  }
}

$("answer-form").addEventListener("submit", (e) => {
  e.preventDefault()
  sendAnswer({ _tag: "HumanResponseEvent", response: $("answer-text").value })
})

$("answer-json-send").addEventListener("click", () => {
  let event
  try {
    event = JSON.parse($("answer-json").value)
  } catch (parseError) {
    $("answer-error").textContent = `Not JSON: ${parseError.message}`
    $("answer-error").hidden = false
    return
  }
  sendAnswer(event)
})

const showOutcome = () => {
  if (view.poll !== undefined) clearInterval(view.poll)
  const { ok, cancelled, value } = view.outcome
  $("answer-form").hidden = true
  for (const s of view.steps.values()) s.queued = 0
  paintSteps()
  setStatus(ok ? "completed" : cancelled ? "cancelled" : "failed")
  const box = $("outcome")
  box.className = `outcome ${ok ? "ok" : "failed"}`
  $("outcome-title").textContent = ok ? "Result" : cancelled ? "Cancelled" : `Failed: ${value?._tag ?? "error"}`
  $("outcome-body").textContent = ok
    ? JSON.stringify(value, null, 2)
    : (value?.message ?? JSON.stringify(value, null, 2))
  box.hidden = false
}

$("cancel-button").addEventListener("click", async () => {
  try {
    await api("DELETE", `/api/runs/${encodeURIComponent(view.runId)}`)
  } catch (e) {
    notice(explain(e))
  }
})

$("show-lifecycle").addEventListener("change", (e) => {
  $("event-log").classList.toggle("hide-lifecycle", !e.target.checked)
})

// ---------------------------------------------------------------------------------------------------------
// routing: #/ is the start page, #/runs/<id> a run

const route = () => {
  const match = /^#\/runs\/([^?]+)/.exec(location.hash)
  if (match) showRun(decodeURIComponent(match[1]))
  else showStart()
}

window.addEventListener("hashchange", route)
route()
