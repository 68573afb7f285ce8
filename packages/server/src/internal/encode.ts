/**
 * Turning what a run publishes and ends with into JSON for the wire: events with their schema when they
 * have one, results with the workflow's `output` schema, errors as `{ _tag, message, ...fields }`.
 * Anything JSON cannot hold (a bigint, a cycle, a function) is written as text, never thrown.
 *
 * @internal
 */
import { Cause, Schema } from "effect"

/** `JSON.stringify` that never throws: bigints and symbols as text, cycles as "[Circular]", errors by fields. */
export const safeStringify = (value: unknown): string => {
  const seen = new WeakSet<object>()
  return (
    JSON.stringify(value, (_key, v) => {
      if (typeof v === "bigint") return v.toString()
      if (typeof v === "symbol" || typeof v === "function") return String(v)
      if (v !== null && typeof v === "object") {
        if (seen.has(v)) return "[Circular]"
        seen.add(v)
        if (v instanceof Error) return errorFields(v)
      }
      return v
    }) ?? "null"
  )
}

/** A JSON-safe copy of a value (through {@link safeStringify}). */
export const toJson = (value: unknown): unknown => JSON.parse(safeStringify(value))

const errorFields = (error: Error): Record<string, unknown> => {
  const fields: Record<string, unknown> = {}
  for (const key of Object.keys(error)) if (key !== "stack") fields[key] = (error as any)[key]
  return { _tag: (error as any)._tag ?? error.name, ...fields, message: error.message }
}

const encoders = new WeakMap<object, (u: unknown) => unknown>()

/** Encode a value with the schema it is an instance of (a `Schema.TaggedClass` event), if any. */
const encodeWithOwnSchema = (value: object): unknown => {
  const ctor = value.constructor
  if (!Schema.isSchema(ctor)) return undefined
  let encode = encoders.get(ctor)
  if (encode === undefined) {
    encode = Schema.encodeUnknownSync(Schema.toCodecJson(ctor as Schema.Top) as any)
    encoders.set(ctor, encode)
  }
  try {
    return encode(value)
  } catch {
    return undefined
  }
}

/** An event as the JSON text of the SSE `data:` field: its encoded fields with its `_tag`. */
export const encodeEvent = (event: { readonly _tag: string }, encodeResult: (u: unknown) => unknown): string => {
  if (event._tag === "StopEvent") {
    return safeStringify({ _tag: "StopEvent", result: encodeResult((event as any).result) })
  }
  const encoded = encodeWithOwnSchema(event)
  return safeStringify(encoded === undefined ? event : { ...(encoded as object), _tag: event._tag })
}

/** A result as stored in the status: encoded with the workflow's `output` schema when it has one. */
export const resultEncoder = (output: Schema.Top | undefined): ((u: unknown) => unknown) => {
  if (output === undefined) return toJson
  const encode = Schema.encodeUnknownSync(Schema.toCodecJson(output) as any)
  return (u) => {
    try {
      return toJson(encode(u))
    } catch {
      return toJson(u)
    }
  }
}

/** A run's failure as JSON: `{ _tag, message, ...fields }` for a typed error, `{ _tag: "Defect", message }` else. */
export const encodeFailure = (cause: Cause.Cause<unknown>): { readonly _tag: string; readonly message: string } => {
  const error = Cause.squash(cause)
  if (error !== null && typeof error === "object") {
    const own = encodeWithOwnSchema(error)
    const message = error instanceof Error ? error.message : safeStringify(error)
    const tag = (error as any)._tag ?? (error instanceof Error ? error.name : "Error")
    if (own !== undefined) return { ...(toJson(own) as object), _tag: tag, message }
    return { ...(toJson(error) as object), _tag: tag, message }
  }
  return { _tag: "Defect", message: String(error) }
}
