import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { Effect, Stream } from "effect"
import { TestConsole } from "effect/testing"
import { checklist, criticLoop, main } from "../src/critic-loop.ts"

describe("critic-loop example", () => {
  it.effect("loops until the critic approves: one round per checklist item, plus the approving one", () =>
    Effect.gen(function* () {
      const result = yield* Workflow.run(criticLoop, { topic: "queues", maxRounds: 10 })
      assert.isTrue(result.approved)
      assert.strictEqual(result.rounds, checklist.length + 1)
      for (const item of checklist) assert.include(result.text, item)
    })
  )

  it.effect("stops when the rounds run out, unapproved", () =>
    Effect.gen(function* () {
      const result = yield* Workflow.run(criticLoop, { topic: "queues", maxRounds: 2 })
      assert.deepStrictEqual(result, {
        text: "A note on queues. Now with an example.",
        rounds: 2,
        approved: false
      })
    })
  )

  it.effect("publishes one typed RoundEvent per round, then the StopEvent", () =>
    Effect.gen(function* () {
      const events = yield* Stream.runCollect(Workflow.stream(criticLoop, { topic: "x", maxRounds: 10 }))
      assert.deepStrictEqual(
        events.map((ev) => (ev._tag === "RoundEvent" ? ev.verdict : ev._tag)),
        ["needs an example", "needs a caveat", "needs a summary", "approved", "StopEvent"]
      )
    })
  )

  it.effect("main prints each round", () =>
    Effect.gen(function* () {
      yield* main(["tests"])
      const lines = (yield* TestConsole.logLines).map(String)
      assert.strictEqual(lines[0], "round 1: needs an example")
      assert.match(lines.at(-1)!, /^approved after 4: A note on tests\./)
    })
  )
})
