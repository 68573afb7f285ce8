/**
 * How a durable run's values become JSON and back: `jsonProblem` says why a value is not plain JSON, and
 * `codecs` gives each workflow (once per workflow value) the encoders and decoders of its events, its state and
 * its result, from their schemas (or as plain JSON without one). Pure: the journal's entries (`entries.ts`),
 * a resume (`rebuild.ts`) and outside input (`outside.ts`) all encode and decode through here.
 */
import { Schema } from "effect"
import type { AnyEvent } from "../../Event.ts"
import { HumanResponseEvent, InputRequiredEvent, StartEvent, StopEvent, tagOf } from "../../Event.ts"
import { StepFailedEvent } from "../../RunEvent.ts"
import type * as Step from "../../Step.ts"

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

/** What of a workflow the journal looks at: its name, steps and schemas. @internal */
export interface DefinitionLike {
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
