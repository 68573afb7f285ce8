/**
 * A durable run's journal entries: `entryOf` turns a transition of the run's record (`record.ts`) into an entry,
 * encoded with the workflow's codecs (`codecs.ts`), and `readEntry` / `compactOf` read entries back in one shape
 * whatever version wrote them. Pure; `rebuild.ts` folds the entries into a resume.
 *
 * An entry is one JSON array, `[t, i, ...]`, where `i` is an invocation's id within its run (`<step>/<n>`; the
 * full `invocationId` is `<runId>/<step>/<n>`), so an entry never repeats the run's id nor any key:
 *
 * - `["r", i, ev]` an event routed to step `<step>` of `i`
 * - `["s", i, a]` the invocation's attempt `a` started
 * - `["o", i, q, op, ...]` its operation `q`: `[..., "set" | "update" | "edit", st]` (the state after the write);
 *   `[..., "collect", ev, need, tk?]` (the event offered, the need, the round it completed, if it did);
 *   `[..., "write", ev]` (for readers of the run's events, such as the server); `[..., "waitFor", rq, dl]` (its
 *   request, for those readers, and its deadline, which a reopened wait keeps; `null` when absent); others
 *   `[..., op]`
 * - `["w", i, q, ev]` the answer of its `waitFor` `q`
 * - `["e", i, k]` it ended: `k` is `"R"` (returned), `"F"` (failed for good) or `"B"` (failed, backs off)
 * - `["b", i, a]` / `["d", i, a]` a retry scheduled / due, as attempt `a`
 * - `["q", ev]` an `InputRequiredEvent` went to the caller; `["x"]` outside input answered one (a resume counts the
 *   requests still unanswered, and publishes them again)
 *
 * `journal.ts` writes the journal's first entry (`{ t: "def", def }`, the definition) and its last
 * (`{ t: "end", ok }`) as objects. Journals written before this format (0.2) hold objects throughout, with the
 * run's id in every `i` and the step again in `to`; `readEntry` reads both into one shape, `Entry`.
 */
import type { AnyEvent } from "../../Event.ts"
import type { Transition } from "../record.ts"
import type { Codecs } from "./codecs.ts"

/**
 * An event the run published (a write, a `waitFor` request), as the journal keeps it for readers of the run's
 * event stream (a server replaying it after a restart): encoded with its schema, or, for an event no codec
 * holds, its JSON fields. A resume never reads it back, so an event that cannot be encoded does not fail the
 * run here. @internal
 */
const published = (c: Codecs, ev: AnyEvent): unknown => {
  try {
    return c.event(ev)
  } catch {
    try {
      return { ...JSON.parse(JSON.stringify(ev)), _tag: ev._tag }
    } catch {
      return { _tag: ev._tag }
    }
  }
}

/**
 * The journal entry of a transition, or `undefined` for transitions a resume does not need (worker slots,
 * the run's start and end, which the store keeps as the run's input and status). `prefix` is the length of
 * `<runId>/`, cut from invocation ids. Throws `NotJournalable`.
 * @internal
 */
export const entryOf = (c: Codecs, t: Transition, prefix: number): string | undefined => {
  switch (t._tag) {
    case "Routed":
      return JSON.stringify(["r", t.invocationId.slice(prefix), c.event(t.event)])
    case "InvocationStarted":
      return JSON.stringify(["s", t.invocationId.slice(prefix), t.attempt])
    case "Operation": {
      const o = t.operation
      const i = t.invocationId.slice(prefix)
      switch (o.op) {
        case "set":
        case "update":
        case "edit":
          return JSON.stringify(["o", i, t.seq, o.op, c.state.encode(o.state)])
        case "collect":
          return JSON.stringify(
            o.taken === undefined
              ? ["o", i, t.seq, o.op, c.event(o.event), o.need]
              : ["o", i, t.seq, o.op, c.event(o.event), o.need, o.taken.map(c.event)]
          )
        case "write":
          return JSON.stringify(["o", i, t.seq, o.op, published(c, o.event)])
        case "waitFor":
          return JSON.stringify([
            "o",
            i,
            t.seq,
            o.op,
            o.request === undefined ? null : published(c, o.request),
            o.deadline ?? null
          ])
        default:
          return JSON.stringify(["o", i, t.seq, o.op])
      }
    }
    case "Answered":
      return JSON.stringify(["w", t.invocationId.slice(prefix), t.seq, c.event(t.event)])
    case "InvocationEnded":
      return t.outcome._tag === "Interrupted"
        ? undefined
        : JSON.stringify([
            "e",
            t.invocationId.slice(prefix),
            t.outcome._tag === "Returned" ? "R" : t.outcome.willRetry ? "B" : "F"
          ])
    case "RetryScheduled":
      return JSON.stringify(["b", t.invocationId.slice(prefix), t.attempt])
    case "RetryDue":
      return JSON.stringify(["d", t.invocationId.slice(prefix), t.attempt])
    case "InputRequired":
      return JSON.stringify(["q", c.event(t.event)])
    case "OutsideInput":
      return t.answersRequest ? '["x"]' : undefined
    default:
      return undefined
  }
}

/**
 * One journal entry, read: whatever version wrote it, in the shape of the format's first version (an object,
 * `i` the full invocation id, `to` the step of a routed event). @internal
 */
export interface Entry {
  readonly t: string
  readonly i?: string
  readonly to?: string
  readonly a?: number
  readonly q?: number
  readonly op?: string
  readonly st?: unknown
  readonly ev?: unknown
  readonly need?: unknown
  readonly tk?: ReadonlyArray<unknown> | null
  readonly rq?: unknown
  readonly dl?: number
  readonly k?: "R" | "F" | "B"
  readonly def?: Record<string, string>
  readonly ok?: boolean
}

/**
 * Where a field of an `Entry` sits in a compact entry, after its kind: a key, the field as it is (`i` without
 * the run's id); `null` there when the entry has no such field (which `readEntry` then leaves out: a `waitFor`'s
 * request and deadline); or, last, left off when the entry's is `null` (which `readEntry` gives as `null`: the
 * round a collect completed).
 */
type Slot = keyof Entry | { readonly key: keyof Entry; readonly absent: "null" | "left off" }

/**
 * The layout of each compact kind (see the module's comment), what `readEntry` and `compactOf` both follow, so
 * they stay inverse; an operation's (`"o"`) goes on with the layout of its `op` in `opLayouts`.
 */
const layouts: ReadonlyMap<string, ReadonlyArray<Slot>> = new Map<string, ReadonlyArray<Slot>>([
  ["r", ["i", "ev"]],
  ["s", ["i", "a"]],
  ["b", ["i", "a"]],
  ["d", ["i", "a"]],
  ["w", ["i", "q", "ev"]],
  ["e", ["i", "k"]],
  ["q", ["ev"]],
  ["x", []],
  ["o", ["i", "q", "op"]]
])

const opLayouts: ReadonlyMap<string, ReadonlyArray<Slot>> = new Map<string, ReadonlyArray<Slot>>([
  ["set", ["st"]],
  ["update", ["st"]],
  ["edit", ["st"]],
  ["collect", ["ev", "need", { key: "tk", absent: "left off" }]],
  ["write", ["ev"]],
  [
    "waitFor",
    [
      { key: "rq", absent: "null" },
      { key: "dl", absent: "null" }
    ]
  ]
])

const noSlots: ReadonlyArray<Slot> = []

/** The fields of `layout` from position `at` of compact entry `e` into `out`; returns the position after them. */
const readSlots = (
  out: Record<string, unknown>,
  e: ReadonlyArray<unknown>,
  at: number,
  layout: ReadonlyArray<Slot>,
  runId: string
): number => {
  for (const slot of layout) {
    const v = e[at++]
    if (slot === "i") {
      out.i = `${runId}/${v}`
      // A routed event's step, which the object format held again in `to`.
      if (out.t === "r") out.to = (v as string).slice(0, (v as string).lastIndexOf("/"))
    } else if (typeof slot === "string") out[slot] = v
    else if (slot.absent === "left off") out[slot.key] = v ?? null
    else if (v !== null && v !== undefined) out[slot.key] = v
  }
  return at
}

/** Read one journal entry of run `runId` (see `Entry`). Throws on text that is not JSON. @internal */
export const readEntry = (runId: string, data: string): Entry => {
  const e = JSON.parse(data)
  if (!Array.isArray(e)) return e as Entry
  const t = e[0] as string
  const layout = layouts.get(t)
  if (layout === undefined) return { t, i: `${runId}/${e[1]}` }
  const out: Record<string, unknown> = { t }
  const at = readSlots(out, e, 1, layout, runId)
  if (t === "o") readSlots(out, e, at, opLayouts.get(e[3]) ?? noSlots, runId)
  return out as unknown as Entry
}

/** The fields of `layout` of entry `e` onto compact entry `out` (see `Slot`). */
const writeSlots = (out: Array<unknown>, e: Entry, layout: ReadonlyArray<Slot>, prefix: string): void => {
  for (const slot of layout) {
    if (slot === "i") out.push(e.i === undefined ? "" : e.i.startsWith(prefix) ? e.i.slice(prefix.length) : e.i)
    else if (typeof slot === "string") out.push(e[slot])
    else if (slot.absent === "null") out.push(e[slot.key] ?? null)
    else if (e[slot.key] !== null && e[slot.key] !== undefined) out.push(e[slot.key])
  }
}

/**
 * An entry of the object format (see `readEntry`) as the compact array it stands for, `readEntry`'s inverse:
 * what `rebuild` reads, so a journal begun by an earlier version resumes. `prefix` is `<runId>/`. @internal
 */
export const compactOf = (e: Entry, prefix: string): Array<any> => {
  const out: Array<unknown> = [e.t]
  const layout = layouts.get(e.t)
  if (layout === undefined) return out
  writeSlots(out, e, layout, prefix)
  if (e.t === "o") writeSlots(out, e, opLayouts.get(e.op!) ?? noSlots, prefix)
  return out
}
