import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { runVirtual } from "@effect-flow/core/testing"
import { Duration, Effect, Exit } from "effect"
import { TestConsole } from "effect/testing"
import { doWork, main, RobustParallelWorkflow, TaskFailedError, tasks } from "../src/robust-parallel.ts"

describe("robust-parallel example", () => {
  it.effect("doWork fails with a typed TaskFailedError for every third task", () =>
    Effect.gen(function* () {
      assert.deepStrictEqual((yield* runVirtual(doWork("task-1"))).exit, Exit.succeed("task-1 done"))
      const error = yield* Effect.flip((yield* runVirtual(doWork("task-3"))).exit)
      assert.instanceOf(error, TaskFailedError)
      assert.strictEqual(error.message, "task-3 failed: disk quota exceeded")
    })
  )

  it.effect("failures become TaskResultEvents: the run reports completed and failed tasks side by side", () =>
    Effect.gen(function* () {
      const { exit, elapsed } = yield* runVirtual(Workflow.run(RobustParallelWorkflow, { tasks }))
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      const result = exit.value
      assert.strictEqual(result.completed, 6)
      assert.strictEqual(result.failed, 2)
      assert.deepStrictEqual(
        [...result.results].sort(),
        ["task-1", "task-2", "task-4", "task-5", "task-7", "task-8"].map((t) => `${t} done`)
      )
      assert.deepStrictEqual(
        [...result.errors].sort((a, b) => a.task.localeCompare(b.task)),
        [
          { task: "task-3", error: "task-3 failed: disk quota exceeded" },
          { task: "task-6", error: "task-6 failed: disk quota exceeded" }
        ]
      )
      // 8 tasks x 0.2 s with 4 workers: two rounds, failures included.
      assert.strictEqual(Duration.toMillis(elapsed), 400)
    })
  )

  it.effect("when every task fails, the run still succeeds with the report", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(Workflow.run(RobustParallelWorkflow, { tasks: ["task-3", "task-9"] }))
      assert.isTrue(Exit.isSuccess(exit))
      if (!Exit.isSuccess(exit)) return
      assert.strictEqual(exit.value.completed, 0)
      assert.strictEqual(exit.value.failed, 2)
      assert.deepStrictEqual(exit.value.results, [])
    })
  )

  it.effect("main prints the counts, then one line per success and per failure", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(main)
      assert.deepStrictEqual(exit, Exit.void)
      const lines = (yield* TestConsole.logLines).map(String)
      assert.deepStrictEqual(lines.slice(0, 2), ["Completed: 6", "Failed: 2"])
      assert.deepStrictEqual(
        lines.slice(2).sort(),
        [
          "  ✓ task-1 done",
          "  ✓ task-2 done",
          "  ✓ task-4 done",
          "  ✓ task-5 done",
          "  ✓ task-7 done",
          "  ✓ task-8 done",
          "  ✗ task-3 failed: disk quota exceeded",
          "  ✗ task-6 failed: disk quota exceeded"
        ].sort()
      )
    })
  )
})
