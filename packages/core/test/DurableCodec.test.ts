import { assert, describe, it } from "@effect/vitest"
import { Effect, Schema } from "effect"
import * as fc from "fast-check"
import { defineWorkflow, StartEvent, StopEvent } from "../src/index.ts"
import { codecs } from "../src/internal/durable/codecs.ts"

// Plain fields (string, number, boolean, literal): journaled by copying the fields instead of the schema walk.
class Plain extends Schema.TaggedClass<Plain>()("Plain", {
  n: Schema.Number,
  s: Schema.String,
  b: Schema.Boolean,
  kind: Schema.Literal("a")
}) {}
// Not plain: an optional field, a refined field, a transformed field.
class Mixed extends Schema.TaggedClass<Mixed>()("Mixed", {
  n: Schema.Number.check(Schema.isGreaterThan(0)),
  o: Schema.optional(Schema.String),
  d: Schema.Date
}) {}

const wf = defineWorkflow({
  name: "codec",
  state: Schema.Struct({ n: Schema.Number, s: Schema.String }),
  initialState: { n: 0, s: "" }
})
  .step(StartEvent, () => Effect.succeed(new Plain({ n: 1, s: "", b: true, kind: "a" })), { emits: [Plain] })
  .step(Plain, () => Effect.succeed(new Mixed({ n: 1, d: new Date(0) })), { emits: [Mixed] })
  .step(Mixed, () => Effect.succeed(new StopEvent({ result: 1 })), { emits: [StopEvent] })

const schemaJson = (schema: Schema.Top, value: unknown) =>
  JSON.stringify(Schema.encodeUnknownSync(Schema.toCodecJson(schema as Schema.Codec<unknown, unknown>))(value))

describe("journal codecs", () => {
  it("an event or state with plain fields encodes as its schema encodes it, non-finite numbers included, and decodes back", () => {
    const c = codecs(wf)
    const number = fc.oneof(fc.double(), fc.constantFrom(Number.NaN, Infinity, -Infinity, -0))
    fc.assert(
      fc.property(number, fc.string(), fc.boolean(), (n, s, b) => {
        const ev = new Plain({ n, s, b, kind: "a" })
        const encoded = c.event(ev)
        assert.deepStrictEqual(JSON.stringify(encoded), schemaJson(Plain, ev))
        // and back as the schema decodes it (JSON has no -0)
        const back = Schema.decodeUnknownSync(Schema.toCodecJson(Plain as never))(JSON.parse(schemaJson(Plain, ev)))
        assert.deepStrictEqual(c.decodeEvent(JSON.parse(JSON.stringify(encoded))), back)
        const state = { n, s }
        assert.deepStrictEqual(JSON.stringify(c.state.encode(state)), schemaJson(wf.config.state!, state))
      })
    )
  })

  it("an event whose fields are not all plain goes through its schema", () => {
    const c = codecs(wf)
    const ev = new Mixed({ n: 2, d: new Date(5) })
    assert.deepStrictEqual(JSON.stringify(c.event(ev)), schemaJson(Mixed, ev))
    assert.deepStrictEqual(c.decodeEvent(JSON.parse(JSON.stringify(c.event(ev)))), ev)
  })
})
