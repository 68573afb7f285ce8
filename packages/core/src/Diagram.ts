/**
 * Draw a workflow: `Diagram.toMermaid(wf)` gives a Mermaid `flowchart` of its steps and events, to paste
 * in a README, a pull request or any Markdown viewer that renders Mermaid.
 *
 * How to read it:
 *
 * - A step is a box with its name and, when set, its workers (`process_item<br/>×4 workers`), retry and
 *   timeout.
 * - An event is a rounded node. `StartEvent` and `StopEvent` are stadiums, styled apart (`start`, `stop`).
 * - `event --> step`: the step accepts the event (every step that accepts it gets it: broadcast).
 * - `step --> event`: the step declares the event in `emits` (it may return it or send it, once or many
 *   times: the diagram cannot tell a fan-out from a single return, so it does not pretend to).
 * - A step without `emits` may emit any event: it gets a dashed edge to a `?` node of its own.
 * - Outside input (`HumanResponseEvent` when a step accepts it, and the config's `outsideInput`) is a
 *   parallelogram fed by a `caller` node; an emitted `InputRequiredEvent` is drawn going to the caller.
 *
 * The output is deterministic: steps in definition order, events in the order they are first seen.
 *
 * @since 0.1.0
 */
import { Duration, Option } from "effect"
import type { EventClass } from "./Event.ts"
import { nameOf, tagOf } from "./Event.ts"
import { HUMAN_RESPONSE, INPUT_REQUIRED, outsideInputTags, START, STOP } from "./internal/graph.ts"
import type { Any } from "./Workflow.ts"

/**
 * Options of {@link toMermaid}. Left-right (`"LR"`) often reads better for long, narrow pipelines.
 *
 * @example
 * ```ts
 * import { Diagram } from "@effect-flow/core"
 *
 * const chart = Diagram.toMermaid(parallel, { direction: "LR" }) // "flowchart LR\n..."
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface MermaidOptions {
  /** The flowchart's direction: top-down (default), left-right, bottom-up or right-left. */
  readonly direction?: "TD" | "LR" | "BT" | "RL" | undefined
}

/**
 * Escape text for a quoted Mermaid label: `#`, `"`, `<`, `>` and `&` become Mermaid entity codes, so a
 * name can never break out of its label.
 */
const escapeLabel = (text: string): string =>
  text
    .replaceAll("#", "#35;")
    .replaceAll('"', "#quot;")
    .replaceAll("<", "#lt;")
    .replaceAll(">", "#gt;")
    .replaceAll("&", "#amp;")

const formatDuration = (input: Duration.Input): string =>
  Option.match(Duration.fromInput(input), { onNone: () => String(input), onSome: Duration.format })

/** Hands out valid, unique Mermaid node ids (letters, digits and `_`); callers give a letter prefix. */
const idAllocator = () => {
  const used = new Set<string>()
  return (name: string): string => {
    const base = name.replace(/[^A-Za-z0-9_]/g, "_")
    let id = base
    for (let n = 2; used.has(id); n++) id = `${base}_${n}`
    used.add(id)
    return id
  }
}

const eventKey = (c: unknown): string => tagOf(c as EventClass) ?? nameOf(c as EventClass)

/**
 * A Mermaid `flowchart` of a workflow: steps as boxes (name, workers, retry, timeout), events as rounded
 * nodes, an edge from each event to the steps that accept it and from each step to the events it declares
 * in `emits`. `StartEvent`, `StopEvent`, outside input and undeclared emits are styled apart (see the
 * module docs). Invalid workflows are drawn too, as far as they go, which helps to see what is wrong.
 *
 * @example
 * ```ts
 * import { Diagram } from "@effect-flow/core"
 *
 * console.log(Diagram.toMermaid(parallel))
 * // flowchart TD
 * //   ev_StartEvent(["StartEvent"]):::start
 * //   step_dispatch["dispatch"]
 * //   ...
 * ```
 *
 * @since 0.1.0
 * @category rendering
 */
export const toMermaid = (workflow: Any, options?: MermaidOptions): string => {
  const allocate = idAllocator()
  const nodes: Array<string> = []
  const edges: Array<string> = []
  const callerEdges: Array<string> = []
  const eventIds = new Map<string, string>()
  const outside = new Set(outsideInputTags(workflow.config.outsideInput))
  const accepted = new Set(workflow.steps.flatMap((s) => s.accepts.map(eventKey)))
  const drawnOutside = new Set(
    [...outside].filter((t) => t !== HUMAN_RESPONSE || accepted.has(t)).filter((t) => t !== START)
  )
  let callerId: string | undefined
  const caller = (): string => {
    if (callerId === undefined) {
      callerId = allocate("caller")
      nodes.push(`  ${callerId}(("caller")):::caller`)
    }
    return callerId
  }

  const event = (key: string): string => {
    const known = eventIds.get(key)
    if (known !== undefined) return known
    const id = allocate(`ev_${key}`)
    eventIds.set(key, id)
    const text = `"${escapeLabel(key)}"`
    if (key === START) nodes.push(`  ${id}([${text}]):::start`)
    else if (key === STOP) nodes.push(`  ${id}([${text}]):::stop`)
    else if (drawnOutside.has(key)) {
      nodes.push(`  ${id}[/${text}/]:::outside`)
      callerEdges.push(`  ${caller()} -.-> ${id}`)
    } else if (key === INPUT_REQUIRED) {
      nodes.push(`  ${id}[/${text}/]:::outside`)
      callerEdges.push(`  ${id} -.-> ${caller()}`)
    } else nodes.push(`  ${id}(${text})`)
    return id
  }

  // Declared outside input comes first: the caller can send it at any time.
  for (const c of workflow.config.outsideInput ?? []) event(eventKey(c))

  for (const step of workflow.steps) {
    const accepts = step.accepts.map(eventKey)
    const acceptIds = accepts.map(event)
    const id = allocate(`step_${step.name}`)
    const lines = [escapeLabel(step.name)]
    if (step.workers !== 1) lines.push(`×${escapeLabel(String(step.workers))} workers`)
    if (step.retry !== undefined) lines.push("retry")
    if (step.timeout !== undefined) lines.push(`timeout ${escapeLabel(formatDuration(step.timeout))}`)
    nodes.push(`  ${id}["${lines.join("<br/>")}"]`)
    for (const from of new Set(acceptIds)) edges.push(`  ${from} --> ${id}`)
    if (step.emits === undefined) {
      const any = allocate(`${id}_emits`)
      nodes.push(`  ${any}(("?")):::undeclared`)
      edges.push(`  ${id} -.->|"emits not declared"| ${any}`)
    } else {
      for (const to of new Set(step.emits.map(eventKey).map(event))) edges.push(`  ${id} --> ${to}`)
    }
  }

  return [
    `flowchart ${options?.direction ?? "TD"}`,
    `  %% workflow: ${workflow.name.replace(/[\r\n]+/g, " ")}`,
    ...nodes,
    ...edges,
    ...callerEdges,
    "  classDef start fill:#d4f7d4,stroke:#2e7d32,color:#1b5e20",
    "  classDef stop fill:#fbd5d5,stroke:#c62828,color:#b71c1c",
    "  classDef outside fill:#fff6d5,stroke:#b58900,stroke-dasharray:4 3",
    "  classDef caller fill:#eeeeee,stroke:#616161",
    "  classDef undeclared fill:#ffffff,stroke:#9e9e9e,stroke-dasharray:3 3"
  ].join("\n")
}
