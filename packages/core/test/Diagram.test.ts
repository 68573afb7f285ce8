import { describe, expect, it } from "@effect/vitest"
import {
  Diagram,
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  StartEvent,
  StopEvent
} from "@effect-flow/core"
import { Effect, Schedule, Schema } from "effect"
import { parallel } from "./fixtures/parallel.ts"

class Draft extends Schema.TaggedClass<Draft>()("Draft", { text: Schema.String }) {}
class Review extends Schema.TaggedClass<Review>()("Review", { ok: Schema.Boolean }) {}
class Cancel extends Schema.TaggedClass<Cancel>()("Cancel", {}) {}
class Odd extends Schema.TaggedClass<Odd>()("odd-tag <x>", {}) {}

const noop = () => Effect.void

/** Every node declaration and edge endpoint must be a plain Mermaid id. */
const ids = (mermaid: string): Array<string> =>
  mermaid
    .split("\n")
    .slice(2)
    .filter((l) => !l.trim().startsWith("classDef"))
    .flatMap((l) => {
      const edge = l.match(/^ {2}(\S+) (?:-->|-\.->)(?:\|"[^"]*"\|)? (\S+)$/)
      if (edge) return [edge[1]!, edge[2]!]
      const node = l.match(/^ {2}([^[("/>\s]+)/)
      return node ? [node[1]!] : [l]
    })

describe("Diagram.toMermaid", () => {
  it("draws the parallel fixture: fan-out to 4 workers, then the collector", () => {
    expect(Diagram.toMermaid(parallel)).toMatchSnapshot()
  })

  it("draws human in the loop: InputRequiredEvent goes to the caller, outside input comes from it", () => {
    const wf = defineWorkflow({ name: "review", outsideInput: [Cancel] })
      .step(StartEvent, noop, { name: "write", emits: [Draft] })
      .step(Draft, noop, { name: "ask", emits: [InputRequiredEvent] })
      .step(HumanResponseEvent, noop, { name: "decide", emits: [Draft, StopEvent] })
      .step(Cancel, noop, { name: "cancel", emits: [StopEvent] })
    expect(Diagram.toMermaid(wf)).toMatchSnapshot()
  })

  it("draws undeclared emits as a dashed edge to '?', broadcast, multi-accept, retry and timeout", () => {
    const wf = defineWorkflow({ name: "misc" })
      .step(StartEvent, noop, { name: "start" })
      .step(Draft, noop, { name: "review", emits: [Review], retry: Schedule.recurs(2), timeout: "30 seconds" })
      .step(Draft, noop, { name: "audit", emits: [] })
      .step([Review, Draft], noop, { name: "finish", workers: 2, emits: [StopEvent] })
    const out = Diagram.toMermaid(wf, { direction: "LR" })
    expect(out).toMatchSnapshot()
    expect(out).toContain(`step_start -.->|"emits not declared"| step_start_emits`)
    expect(out).toContain(`step_review["review<br/>retry<br/>timeout 30s"]`)
    expect(out).toContain(`step_finish["finish<br/>×2 workers"]`)
    // Draft is drawn once and feeds all three steps that accept it
    expect(out.match(/ev_Draft\(/g)).toHaveLength(1)
    expect(out.match(/ev_Draft --> /g)).toHaveLength(3)
  })

  it("gives every node a valid, unique id and escapes labels, whatever the names", () => {
    const wf = defineWorkflow({ name: "odd" })
      .step(StartEvent, noop, { name: "a-b", emits: [Odd] })
      .step(Odd, noop, { name: "a_b", emits: [StopEvent] })
      .step(Odd, noop, { name: `say "hi" <b>#1</b> & end`, emits: [StopEvent] })
    const out = Diagram.toMermaid(wf)
    expect(out).toMatchSnapshot()
    const all = ids(out)
    for (const id of all) expect(id).toMatch(/^[A-Za-z][A-Za-z0-9_]*$/)
    const declared = out
      .split("\n")
      .filter((l) => /^ {2}[A-Za-z0-9_]+[[(]/.test(l))
      .map((l) => l.trim().split(/[[(]/)[0])
    expect(new Set(declared).size).toBe(declared.length)
    expect(out).toContain(`"say #quot;hi#quot; #lt;b#gt;#35;1#lt;/b#gt; #amp; end"`)
    expect(out).toContain(`ev_odd_tag__x_("odd-tag #lt;x#gt;")`)
  })

  it("is deterministic: steps in definition order, events in first-seen order", () => {
    const first = Diagram.toMermaid(parallel)
    expect(Diagram.toMermaid(parallel)).toBe(first)
    const order = first
      .split("\n")
      .map((l) => l.trim().match(/^(ev_\w+|step_\w+)[[(]/)?.[1])
      .filter((id) => id !== undefined)
    expect(order).toEqual([
      "ev_StartEvent",
      "step_dispatch",
      "ev_ItemEvent",
      "step_process_item",
      "ev_ProcessedEvent",
      "step_collect_results",
      "ev_StopEvent"
    ])
  })

  it("starts with the flowchart header and names the workflow in a comment", () => {
    const out = Diagram.toMermaid(parallel)
    expect(out.split("\n").slice(0, 2)).toEqual(["flowchart TD", "  %% workflow: parallel"])
  })
})
