import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit } from "effect"
import { TestConsole } from "effect/testing"
import {
  items,
  MixedResultsLiteralWorkflow,
  MixedResultsWorkflow,
  main,
  OperationError,
  someOperation
} from "../src/mixed-results.ts"

describe("mixed-results example", () => {
  it.effect("someOperation fails with a typed OperationError for a non-number", () =>
    Effect.gen(function* () {
      const ok = yield* runVirtual(someOperation("21"))
      assert.deepStrictEqual(ok.exit, Exit.succeed("21 * 2 = 42"))
      const failed = yield* runVirtual(someOperation("three"))
      const error = yield* Effect.flip(failed.exit)
      assert.instanceOf(error, OperationError)
      assert.strictEqual(error.message, `"three" is not a number`)
    })
  )

  it.effect("ctx.collect(ev, total) on [SuccessEvent, ErrorEvent] collects one event per item, of either type", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(MixedResultsWorkflow, { items }))
      assert.deepStrictEqual(
        exit,
        Exit.succeed({ successes: 3, errors: 2, results: ["21 * 2 = 42", "7 * 2 = 14", "100 * 2 = 200"] })
      )
    })
  )

  it.effect("with no failure at all, the count-based collect still completes", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(MixedResultsWorkflow, { items: ["1", "2"] }))
      assert.deepStrictEqual(exit, Exit.succeed({ successes: 2, errors: 0, results: ["1 * 2 = 2", "2 * 2 = 4"] }))
    })
  )

  it.effect("the lesson's literal [SuccessEvent, ErrorEvent] * total fails fast with WorkflowStalledError", () =>
    Effect.gen(function* () {
      const { exit, elapsed } = yield* runVirtual(Workflow.run(MixedResultsLiteralWorkflow, { items }))
      // It fails as soon as the last item is processed (5 x 0.1 s, one worker), instead of hanging.
      assert.strictEqual(Duration.toMillis(elapsed), 500)
      assert.isTrue(Exit.isFailure(exit))
      const error = yield* Effect.flip(exit)
      assert.strictEqual(error._tag, "WorkflowStalledError")
      if (error._tag !== "WorkflowStalledError") return
      assert.strictEqual(error.workflow, "mixed-results")
      assert.strictEqual(error.collects.length, 1)
      const collect = error.collects[0]!
      assert.strictEqual(collect.step, "collect")
      assert.deepStrictEqual({ ...collect.holds }, { SuccessEvent: 3, ErrorEvent: 2 })
      assert.include(collect.needs, "5 SuccessEvent")
      assert.include(collect.needs, "5 ErrorEvent")
      assert.include(error.message, `step "collect"`)
      assert.include(error.message, "3 SuccessEvent")
      assert.include(error.message, "2 ErrorEvent")
      assert.include(error.message, "5 SuccessEvent")
      assert.include(error.message, "5 ErrorEvent")
    })
  )

  it.effect("main prints the counts, the results, and the literal form's stall", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(main)
      assert.deepStrictEqual(exit, Exit.void)
      const lines = (yield* TestConsole.logLines).map(String)
      assert.deepStrictEqual(lines.slice(0, 5), [
        "Successes: 3",
        "Errors: 2",
        "  ✓ 21 * 2 = 42",
        "  ✓ 7 * 2 = 14",
        "  ✓ 100 * 2 = 200"
      ])
      assert.include(lines.at(-1), `Workflow "mixed-results" stalled`)
      assert.include(lines.at(-1), "it holds 3 SuccessEvent, 2 ErrorEvent")
    })
  )
})
