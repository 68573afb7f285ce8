/**
 * Example `critic-loop`: a writer and a critic pass a draft back and forth until the critic approves it or
 * the rounds run out. A workflow can loop: `review` emits a `CritiqueEvent` that `revise` turns into a new
 * `DraftEvent`, which `review` accepts again. The round count lives in the typed store, and each round is
 * published to the caller's stream with `ctx.write` (declared in `writes`, so the stream is typed).
 *
 * Run it: `npm run example -- critic-loop [topic]`
 */
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Effect, Schema, Stream } from "effect"

export class DraftEvent extends Schema.TaggedClass<DraftEvent>()("DraftEvent", { text: Schema.String }) {}
export class CritiqueEvent extends Schema.TaggedClass<CritiqueEvent>()("CritiqueEvent", {
  text: Schema.String,
  missing: Schema.String
}) {}
export class RoundEvent extends Schema.TaggedClass<RoundEvent>()("RoundEvent", {
  round: Schema.Number,
  verdict: Schema.String
}) {}

// What the critic wants to see, in order. A real critic is a model call; this one is a checklist.
export const checklist = ["an example", "a caveat", "a summary"]

export const criticLoop = defineWorkflow({
  name: "critic-loop",
  input: Schema.Struct({ topic: Schema.String, maxRounds: Schema.Number }),
  output: Schema.Struct({ text: Schema.String, rounds: Schema.Number, approved: Schema.Boolean }),
  state: Schema.Struct({ round: Schema.Number, maxRounds: Schema.Number }),
  initialState: { round: 0, maxRounds: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("maxRounds", ev.maxRounds)
        return new DraftEvent({ text: `A note on ${ev.topic}.` })
      }),
    { name: "draft", emits: [DraftEvent] }
  )
  .step(
    DraftEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const round = yield* ctx.store.get("round").pipe(Effect.map((n) => n + 1))
        yield* ctx.store.set("round", round)
        const missing = checklist.find((item) => !ev.text.includes(item))
        yield* ctx.write(new RoundEvent({ round, verdict: missing === undefined ? "approved" : `needs ${missing}` }))
        if (missing === undefined) return new StopEvent({ result: { text: ev.text, rounds: round, approved: true } })
        if (round >= (yield* ctx.store.get("maxRounds")))
          return new StopEvent({ result: { text: ev.text, rounds: round, approved: false } })
        return new CritiqueEvent({ text: ev.text, missing })
      }),
    { name: "review", emits: [StopEvent, CritiqueEvent], writes: [RoundEvent] }
  )
  .step(CritiqueEvent, (ev) => Effect.succeed(new DraftEvent({ text: `${ev.text} Now with ${ev.missing}.` })), {
    name: "revise",
    emits: [DraftEvent]
  })

export const main = (args: ReadonlyArray<string>) =>
  Workflow.stream(criticLoop, { topic: args.join(" ") || "workflows", maxRounds: 5 }).pipe(
    Stream.runForEach((ev) => {
      // The stream's type is RoundEvent | StopEvent<...>: `_tag` narrows each case.
      switch (ev._tag) {
        case "RoundEvent":
          return Console.log(`round ${ev.round}: ${ev.verdict}`)
        case "StopEvent":
          return Console.log(
            `${ev.result.approved ? "approved" : "gave up"} after ${ev.result.rounds}: ${ev.result.text}`
          )
      }
    })
  )
