/**
 * The engine side of durable runs (`Durable.ts`): the run's record (`record.ts`), encoded with the
 * workflow's schemas into journal entries, and the way back: `rebuild` folds a journal into the state,
 * collect buffers, step counters and open invocations of the run, and `resumeFrom` starts a run there
 * instead of routing its StartEvent. Nothing here runs unless a durable run asks for it.
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
 * - `["q", ev]` an `InputRequiredEvent` went to the caller; `["x"]` outside input came in (a resume counts the
 *   requests still unanswered, and publishes them again)
 *
 * `Durable.ts` writes the journal's first entry (`{ t: "def", def }`, the definition) and its last
 * (`{ t: "end", ok }`) as objects. Journals written before this format (0.2) hold objects throughout, with the
 * run's id in every `i` and the step again in `to`; `readEntry` reads both into one shape, `Entry`.
 */
import { Context, type Duration, Effect, Schema } from "effect"
import type { AnyEvent } from "../Event.ts"
import { HumanResponseEvent, InputRequiredEvent, StartEvent, StopEvent, tagOf } from "../Event.ts"
import { StepFailedEvent } from "../RunEvent.ts"
import type * as Step from "../Step.ts"
import type { Need } from "./collectBuffer.ts"
import { checkIdle } from "./lifecycle.ts"
import type { Journaled, Operation, Transition } from "./record.ts"
import { andThen, type Run } from "./run.ts"
import { enqueueRetry, Retry } from "./workers.ts"

/**
 * How long a durable run's journal writer lets entries wait before writing their batch (`JournalWriter`'s
 * `maxDelay`). Tests set 0 to have every entry committed as soon as it is appended, so each point where the run
 * yields is a point a crash can cut the journal at. @internal
 */
export const JournalDelay = Context.Reference<Duration.Input>("@effect-flow/core/internal/JournalDelay", {
  defaultValue: () => "10 millis"
})

/** Something that cannot be journaled, in words naming it. @internal */
export class NotJournalable extends Error {}

type Codec = { readonly encode: (u: unknown) => unknown; readonly decode: (u: unknown) => unknown }

/** A value JSON holds as it is (plain objects, arrays, strings, finite numbers, booleans, null), or why not. */
export const jsonProblem = (value: unknown, path = ""): string | undefined => {
  if (value === null || typeof value === "string" || typeof value === "boolean") return undefined
  if (typeof value === "number") return Number.isFinite(value) ? undefined : `${path || "the value"} is ${value}`
  if (Array.isArray(value)) {
    for (let i = 0; i < value.length; i++) {
      const p = jsonProblem(value[i], `${path}[${i}]`)
      if (p !== undefined) return p
    }
    return undefined
  }
  if (typeof value === "object") {
    const proto = Object.getPrototypeOf(value)
    if (proto !== Object.prototype && proto !== null && path !== "") {
      return `${path} is a ${(value as object).constructor?.name ?? "class instance"}, not plain data`
    }
    for (const key of Object.keys(value)) {
      const p = jsonProblem((value as Record<string, unknown>)[key], path === "" ? key : `${path}.${key}`)
      if (p !== undefined) return p
    }
    return undefined
  }
  return `${path || "the value"} is ${typeof value === "undefined" ? "undefined" : `a ${typeof value}`}`
}

/** A field whose JSON form is the value itself: a string, boolean, finite number or literal, required, unrefined. */
interface PlainField {
  readonly key: string
  readonly kind: "string" | "number" | "boolean" | "literal"
  readonly literal?: unknown
}

/**
 * The fields of a struct or class schema when every one is plain, in order; `undefined` otherwise. Such a value
 * is encoded by copying its fields: the schema walk (`encodeUnknownSync`) costs several microseconds per event and
 * was the largest part of journaling a small event.
 */
const plainFields = (schema: Schema.Top): ReadonlyArray<PlainField> | undefined => {
  const fields = (schema as { readonly fields?: unknown }).fields
  const top = schema.ast as { readonly _tag: string; readonly checks?: unknown; readonly encoding?: unknown }
  if (fields === undefined || fields === null || typeof fields !== "object") return undefined
  // A class (Declaration) encodes to its fields' struct; a struct (Objects) is that struct. Checks on the whole
  // value or an encoding of its own: the schema path.
  if (top.checks !== undefined) return undefined
  if (top._tag !== "Declaration" && (top._tag !== "Objects" || top.encoding !== undefined)) return undefined
  const out: Array<PlainField> = []
  for (const [key, field] of Object.entries(fields)) {
    const ast = (field as { readonly ast?: any } | undefined)?.ast
    if (
      ast === undefined ||
      ast.encoding !== undefined ||
      ast.checks !== undefined ||
      ast.context?.isOptional === true
    ) {
      return undefined
    }
    switch (ast._tag) {
      case "String":
        out.push({ key, kind: "string" })
        break
      case "Number":
        out.push({ key, kind: "number" })
        break
      case "Boolean":
        out.push({ key, kind: "boolean" })
        break
      case "Literal":
        if (typeof ast.literal === "bigint" || (typeof ast.literal === "number" && !Number.isFinite(ast.literal))) {
          return undefined
        }
        out.push({ key, kind: "literal", literal: ast.literal })
        break
      default:
        return undefined
    }
  }
  return out
}

/** A value with plain fields, encoded: a plain object of its fields; `undefined` when a field is not what its schema says. */
const plainEncode = (fields: ReadonlyArray<PlainField>, u: unknown): Record<string, unknown> | undefined => {
  if (u === null || typeof u !== "object") return undefined
  const value = u as Record<string, unknown>
  const out: Record<string, unknown> = {}
  for (let i = 0; i < fields.length; i++) {
    const f = fields[i]!
    const v = value[f.key]
    switch (f.kind) {
      case "number":
        if (typeof v !== "number" || !Number.isFinite(v)) return undefined
        break
      case "string":
        if (typeof v !== "string") return undefined
        break
      case "boolean":
        if (typeof v !== "boolean") return undefined
        break
      default:
        if (v !== f.literal) return undefined
    }
    out[f.key] = v
  }
  return out
}

const schemaCodec = (schema: Schema.Top): Codec => {
  const json = Schema.toCodecJson(schema as Schema.Codec<unknown, unknown>)
  const encode = Schema.encodeUnknownSync(json)
  const plain = plainFields(schema)
  return {
    encode: plain === undefined ? encode : (u) => plainEncode(plain, u) ?? encode(u),
    decode: Schema.decodeUnknownSync(json)
  }
}

const plainCodec = (what: string): Codec => ({
  encode: (u) => {
    const problem = jsonProblem(u)
    if (problem !== undefined) throw new NotJournalable(`${what} cannot be journaled as JSON: ${problem}`)
    return u
  },
  decode: (u) => u
})

/** How one workflow's events, state and result are encoded in its journal. @internal */
export interface Codecs {
  readonly event: (ev: AnyEvent) => unknown
  readonly decodeEvent: (u: unknown) => AnyEvent
  readonly state: Codec
  readonly result: Codec
}

interface DefinitionLike {
  readonly name: string
  readonly steps: ReadonlyArray<Step.Any>
  readonly config: {
    readonly input?: Schema.Top | undefined
    readonly state?: Schema.Top | undefined
    readonly output?: Schema.Top | undefined
    readonly outsideInput?: ReadonlyArray<unknown> | undefined
  }
}

const codecCache = new WeakMap<object, Codecs>()

/** The codecs of a workflow, made once per workflow value. @internal */
export const codecs = (wf: DefinitionLike): Codecs => {
  let c = codecCache.get(wf)
  if (c !== undefined) return c
  const classes = new Map<string, unknown>()
  const add = (cls: unknown) => {
    const tag = tagOf(cls as never)
    if (tag !== undefined && !classes.has(tag)) classes.set(tag, cls)
  }
  for (const cls of [StartEvent, StopEvent, StepFailedEvent, InputRequiredEvent, HumanResponseEvent]) add(cls)
  for (const s of wf.steps) for (const cls of [...s.accepts, ...(s.emits ?? []), ...(s.writes ?? [])]) add(cls)
  for (const cls of wf.config.outsideInput ?? []) add(cls)
  const eventCodecs = new Map<string, Codec>()
  const eventCodec = (tag: string, cls: unknown): Codec => {
    let codec = eventCodecs.get(tag)
    if (codec !== undefined) return codec
    if (Schema.isSchema(cls)) codec = schemaCodec(cls)
    else if (tag === "StartEvent") {
      codec = { encode: plainCodec("a StartEvent").encode, decode: (u) => new StartEvent(u as object) }
    } else if (typeof cls === "function") {
      const Ctor = cls as new (fields: unknown) => AnyEvent
      const plain = plainCodec(`event ${tag}`)
      codec = {
        encode: (u) => {
          const { _tag, ...fields } = u as AnyEvent & Record<string, unknown>
          return { _tag, ...(plain.encode(fields) as object) }
        },
        decode: (u) => {
          const { _tag, ...fields } = u as Record<string, unknown>
          return new Ctor(fields)
        }
      }
    } else {
      throw new NotJournalable(
        `event ${tag} cannot be journaled: workflow "${wf.name}" declares no class for it (add it to a step's accepts, emits or writes)`
      )
    }
    eventCodecs.set(tag, codec)
    return codec
  }
  const decodeFailure = (what: string, cause: unknown) =>
    new NotJournalable(`${what} in the journal does not decode: ${cause instanceof Error ? cause.message : cause}`)
  c = {
    event: (ev) => {
      const known = classes.get(ev._tag)
      const cls = known ?? (ev as object).constructor
      if (known === undefined && Schema.isSchema(cls)) classes.set(ev._tag, cls)
      try {
        return eventCodec(ev._tag, known ?? cls).encode(ev)
      } catch (error) {
        if (error instanceof NotJournalable) throw error
        throw new NotJournalable(
          `event ${ev._tag} cannot be journaled with its schema: ${error instanceof Error ? error.message : error}`
        )
      }
    },
    decodeEvent: (u) => {
      const tag = (u as { _tag?: unknown })._tag
      if (typeof tag !== "string" || !classes.has(tag)) {
        throw new NotJournalable(
          `the journal holds an event ${String(tag)} that workflow "${wf.name}" does not declare`
        )
      }
      try {
        return eventCodec(tag, classes.get(tag)).decode(u) as AnyEvent
      } catch (error) {
        throw decodeFailure(`event ${tag}`, error)
      }
    },
    state: wf.config.state === undefined ? plainCodec("the state") : schemaCodec(wf.config.state),
    result: wf.config.output === undefined ? plainCodec("the result") : schemaCodec(wf.config.output)
  }
  codecCache.set(wf, c)
  return c
}

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
      return '["x"]'
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

/** An invocation as the journal leaves it. */
interface Invocation {
  readonly step: string
  readonly n: number
  readonly event: unknown
  attempt: number
  /** The attempt its current try began as: 1, or the attempt of its last retry after a failure. */
  since: number
  /** `queued`: routed or due again, not started; `running`: started, not ended; `done`: ended. */
  phase: "queued" | "running" | "done"
  ops: Journaled
}

/** What a journal says of a run: enough to go on from where it stopped. @internal */
export interface Rebuilt {
  readonly entries: number
  /** The state after the last journaled store write (`undefined`: none; the initial state stands). */
  readonly state: { readonly value: unknown } | undefined
  readonly steps: ReadonlyMap<string, { delivered: number; readonly offers: Array<readonly [AnyEvent, Need]> }>
  /** Invocations that did not end, in routing order per step. */
  readonly open: ReadonlyArray<Invocation>
  /** Invocations whose end is journaled. */
  readonly ended: number
  /** `InputRequiredEvent`s published and not answered yet (encoded), oldest first. */
  readonly awaiting: ReadonlyArray<unknown>
}

/**
 * Fold the journal entries of run `runId` into what a resume needs. Throws `NotJournalable` on an entry it cannot
 * read. It reads the compact arrays as they are (invocations keyed by their id within the run), and entries of
 * the object format through `compactOf`. @internal
 */
export const rebuild = (c: Codecs, runId: string, entries: ReadonlyArray<string>): Rebuilt => {
  const prefix = `${runId}/`
  const invocations = new Map<string, Invocation>()
  const steps = new Map<string, { delivered: number; offers: Array<readonly [AnyEvent, Need]> }>()
  let state: unknown
  let stateSet = false
  let ended = 0
  const awaiting: Array<unknown> = []
  const stepOf = (name: string) => {
    let s = steps.get(name)
    if (s === undefined) steps.set(name, (s = { delivered: 0, offers: [] }))
    return s
  }
  for (const raw of entries) {
    const parsed = JSON.parse(raw)
    const e: Array<any> = Array.isArray(parsed) ? parsed : compactOf(parsed, prefix)
    const t = e[0]
    if (t === "q") {
      awaiting.push(e[1])
      continue
    }
    if (t === "x") {
      awaiting.shift()
      continue
    }
    const i = e[1] as string
    const inv = invocations.get(i)
    switch (t) {
      case "r": {
        const slash = i.lastIndexOf("/")
        const step = i.slice(0, slash)
        const n = Number(i.slice(slash + 1))
        const s = stepOf(step)
        s.delivered = Math.max(s.delivered, n)
        invocations.set(i, { step, n, event: e[2], attempt: 1, since: 1, phase: "queued", ops: new Map() })
        break
      }
      case "s":
        if (inv !== undefined) {
          inv.attempt = e[2]
          inv.phase = "running"
        }
        break
      case "o": {
        if (inv === undefined) break
        const q = e[2] as number
        const op = e[3] as Operation["op"]
        if (op === "set" || op === "update" || op === "edit") {
          state = e[4]
          stateSet = true
        }
        if (op === "collect") {
          stepOf(inv.step).offers.push([c.decodeEvent(e[4]), e[5]])
          const tk = e[6] as ReadonlyArray<unknown> | null | undefined
          inv.ops.set(q, { op, taken: tk === undefined || tk === null ? undefined : tk.map(c.decodeEvent) })
        } else if (op === "waitFor" && e[5] !== null && e[5] !== undefined) {
          inv.ops.set(q, { op, deadline: e[5] })
        } else {
          inv.ops.set(q, { op })
        }
        break
      }
      case "w":
        if (inv !== undefined) inv.ops.set(e[2], { op: "waitFor", answer: c.decodeEvent(e[3]) })
        break
      case "e":
        if (inv === undefined) break
        if (e[2] === "B") {
          // A real failure: the next attempt starts afresh, its operations act again.
          inv.ops = new Map()
          inv.phase = "queued"
        } else {
          inv.phase = "done"
          ended++
        }
        break
      case "b":
      case "d":
        if (inv !== undefined) {
          inv.attempt = e[2]
          inv.since = e[2]
          inv.phase = "queued"
        }
        break
    }
  }
  const open = [...invocations.values()].filter((inv) => inv.phase !== "done")
  return {
    entries: entries.length,
    state: stateSet ? { value: c.state.decode(state) } : undefined,
    steps,
    open,
    ended,
    awaiting
  }
}

/**
 * Start `run` where `rebuilt` left it: its state and collect buffers restored, its step counters where they
 * were, and every invocation that did not end delivered again under its own `invocationId`: one that had
 * started runs with its attempt one higher and replays its journaled operations (`Context_.replayed`); the
 * step's retry schedule starts afresh (a crash spends none of it). @internal
 */
export const resumeFrom =
  (c: Codecs, rebuilt: Rebuilt) =>
  (run: Run): Effect.Effect<void> =>
    Effect.suspend(() => {
      if (rebuilt.state !== undefined) run.state = rebuilt.state.value
      // Input requests still unanswered: the caller sees them again, and the run waits for their answers.
      run.awaitingInput = rebuilt.awaiting.length
      for (const ev of rebuilt.awaiting) run.emit(c.decodeEvent(ev))
      for (const [name, s] of rebuilt.steps) {
        const step = run.compiled.byName.get(name)
        if (step === undefined) continue
        const sr = run.stepRun(step.index)
        for (const [event, need] of s.offers) sr.buffer.offer(event, need)
        sr.delivered = s.delivered
        sr.taken = s.delivered
      }
      let effect: Effect.Effect<void> = Effect.void
      // In journal order, which per step is routing order.
      for (const inv of rebuilt.open) {
        const step = run.compiled.byName.get(inv.step)
        if (step === undefined) continue
        const running = inv.phase === "running"
        const item = new Retry(
          c.decodeEvent(inv.event),
          running ? inv.attempt + 1 : inv.attempt,
          undefined,
          inv.n,
          running && inv.ops.size > 0 ? inv.ops : undefined,
          // A distributed invocation's attempt may still run, or have ended, on another runner: its message.
          running ? inv.since : undefined
        )
        run.active++
        effect = andThen(effect, enqueueRetry(run, run.stepRun(step.index), item))
      }
      if (rebuilt.open.length === 0) checkIdle(run)
      return effect
    })
