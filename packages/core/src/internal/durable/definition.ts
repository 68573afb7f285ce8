/**
 * A workflow's definition as the journal keeps it (its first entry), its hash (the stored run's
 * `definitionHash`), and what changed between two of them, in words for `WorkflowChangedError`. Pure.
 */
import { Schema } from "effect"
import { tagOf } from "../../Event.ts"
import type { DefinitionLike } from "./codecs.ts"

/**
 * What a workflow's definition is, for the journal: steps (name, accepts, emits, writes, workers) and the
 * schemas of input, state and result. Its hash is the run's `definitionHash`; a resume compares them part by
 * part to say what changed. @internal
 */
export const definition = (wf: DefinitionLike): Record<string, string> => {
  const names = (list: ReadonlyArray<unknown> | undefined) =>
    list === undefined ? "any" : list.map((cls) => tagOf(cls as never) ?? "?").join(",")
  const schema = (s: Schema.Top | undefined) => {
    if (s === undefined) return "none"
    try {
      return JSON.stringify(Schema.toJsonSchemaDocument(s))
    } catch {
      return String(s.ast)
    }
  }
  const out: Record<string, string> = {}
  for (const s of wf.steps) {
    out[`step ${s.name}`] =
      `accepts ${names(s.accepts)}; emits ${names(s.emits)}; writes ${names(s.writes)}; workers ${s.workers}`
  }
  const events = new Map<string, unknown>()
  for (const s of wf.steps)
    for (const cls of [...s.accepts, ...(s.emits ?? []), ...(s.writes ?? [])]) {
      const tag = tagOf(cls as never)
      if (tag !== undefined && Schema.isSchema(cls)) events.set(tag, cls)
    }
  for (const [tag, cls] of events) out[`event ${tag} schema`] = schema(cls as Schema.Top)
  out["input schema"] = schema(wf.config.input)
  out["state schema"] = schema(wf.config.state)
  out["output schema"] = schema(wf.config.output)
  return out
}

/** A short, stable hash of a definition (FNV-1a over its JSON, 2 x 32 bits). @internal */
export const hashOf = (def: Record<string, string>): string => {
  const text = JSON.stringify(Object.entries(def).sort(([a], [b]) => (a < b ? -1 : 1)))
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0")
}

/** What differs between a stored definition and the given one, in words. @internal */
export const definitionChanges = (stored: Record<string, string>, given: Record<string, string>): Array<string> => {
  const out: Array<string> = []
  for (const key of new Set([...Object.keys(stored), ...Object.keys(given)])) {
    const a = stored[key]
    const b = given[key]
    if (a === b) continue
    const short = (s: string) => (s.length > 120 ? `${s.slice(0, 117)}...` : s)
    if (a === undefined) out.push(`${key}: added (${short(b!)})`)
    else if (b === undefined) out.push(`${key}: removed (was ${short(a)})`)
    else out.push(`${key}: stored ${short(a)}, given ${short(b)}`)
  }
  return out
}
