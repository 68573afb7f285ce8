/**
 * Example `robust-parallel`: error handling in parallel steps. The work fails with a typed error
 * (`TaskFailedError`); the worker catches it with `Effect.catchTag` and returns a
 * `TaskResultEvent` with `success: false`, so one failure never stops the other tasks, and the
 * aggregate reports completed and failed tasks side by side.
 *
 * Run it: `npm run example -- robust-parallel`
 *
 * @since 0.1.0
 */

import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Effect, Option, Schema } from "effect"

/**
 * One task to run.
 *
 * @example
 * ```ts
 * new TaskEvent({ task_id: "task-1" })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class TaskEvent extends Schema.TaggedClass<TaskEvent>()("TaskEvent", {
  task_id: Schema.String
}) {}

/**
 * The outcome of one task: `result` when it succeeded, `error` when it failed.
 *
 * @example
 * ```ts
 * new TaskResultEvent({ task_id: "task-3", success: false, error: "task-3 failed: disk quota exceeded" })
 * ```
 *
 * @since 0.1.0
 * @category events
 */
export class TaskResultEvent extends Schema.TaggedClass<TaskResultEvent>()("TaskResultEvent", {
  task_id: Schema.String,
  success: Schema.Boolean,
  result: Schema.optional(Schema.String),
  error: Schema.optional(Schema.String)
}) {}

/**
 * The typed failure of {@link doWork}.
 *
 * @example
 * ```ts
 * new TaskFailedError({ task_id: "task-3", reason: "disk quota exceeded" }).message
 * // "task-3 failed: disk quota exceeded"
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class TaskFailedError extends Schema.TaggedError<TaskFailedError>()("TaskFailedError", {
  task_id: Schema.String,
  reason: Schema.String
}) {
  override get message() {
    return `${this.task_id} failed: ${this.reason}`
  }
}

/**
 * The lesson's `do_work`, made deterministic: 0.2 s of simulated work; every task whose number is a
 * multiple of 3 fails with {@link TaskFailedError}.
 *
 * @example
 * ```ts
 * yield* doWork("task-1") // "task-1 done"
 * yield* doWork("task-3") // fails with TaskFailedError
 * ```
 *
 * @since 0.1.0
 * @category operations
 */
export const doWork = (taskId: string): Effect.Effect<string, TaskFailedError> =>
  Effect.gen(function* () {
    yield* Effect.sleep("200 millis")
    const n = Number(taskId.replace(/\D+/g, ""))
    if (n % 3 === 0) return yield* new TaskFailedError({ task_id: taskId, reason: "disk quota exceeded" })
    return `${taskId} done`
  })

/**
 * What {@link RobustParallelWorkflow} returns.
 *
 * @example
 * ```ts
 * const r: RobustResult = { completed: 1, failed: 1, results: ["task-1 done"], errors: [{ task: "task-3", error: "task-3 failed: disk quota exceeded" }] }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface RobustResult {
  readonly completed: number
  readonly failed: number
  readonly results: ReadonlyArray<string>
  readonly errors: ReadonlyArray<{ readonly task: string; readonly error: string }>
}

/**
 * The lesson's `RobustParallelWorkflow` (with the `dispatch` step the lesson leaves out): 4 workers run
 * the tasks; failures become data; `aggregate` collects one `TaskResultEvent` per task.
 *
 * @example
 * ```ts
 * yield* Workflow.run(RobustParallelWorkflow, { tasks: ["task-1", "task-2", "task-3"] })
 * // { completed: 2, failed: 1, results: [...], errors: [{ task: "task-3", error: "task-3 failed: disk quota exceeded" }] }
 * ```
 *
 * @since 0.1.0
 * @category workflows
 */
export const RobustParallelWorkflow = defineWorkflow({
  name: "robust-parallel",
  input: Schema.Struct({ tasks: Schema.Array(Schema.String) }),
  state: Schema.Struct({ total_tasks: Schema.Number }),
  initialState: { total_tasks: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("total_tasks", ev.tasks.length)
        for (const task_id of ev.tasks) yield* ctx.send(new TaskEvent({ task_id }))
      }),
    { name: "dispatch", emits: [TaskEvent] }
  )
  .step(
    TaskEvent,
    (ev) =>
      doWork(ev.task_id).pipe(
        Effect.map((result) => new TaskResultEvent({ task_id: ev.task_id, success: true, result })),
        // The typed failure becomes data: the run goes on and the error is reported, not thrown.
        Effect.catchTag("TaskFailedError", (e) =>
          Effect.succeed(new TaskResultEvent({ task_id: ev.task_id, success: false, error: e.message }))
        )
      ),
    { name: "process_task", workers: 4, emits: [TaskResultEvent] }
  )
  .step(
    TaskResultEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const total = yield* ctx.store.get("total_tasks")
        const results = yield* ctx.collect(ev, total)
        if (Option.isNone(results)) return
        const succeeded = results.value.filter((r) => r.success)
        const failed = results.value.filter((r) => !r.success)
        const result: RobustResult = {
          completed: succeeded.length,
          failed: failed.length,
          results: succeeded.map((r) => r.result ?? ""),
          errors: failed.map((r) => ({ task: r.task_id, error: r.error ?? "unknown error" }))
        }
        return new StopEvent({ result })
      }),
    { name: "aggregate", emits: [StopEvent] }
  )

/**
 * The tasks `main` runs: task-1 to task-8 (task-3 and task-6 fail).
 *
 * @example
 * ```ts
 * yield* Workflow.run(RobustParallelWorkflow, { tasks }) // { completed: 6, failed: 2, ... }
 * ```
 *
 * @since 0.1.0
 * @category constants
 */
export const tasks: ReadonlyArray<string> = Array.from({ length: 8 }, (_, i) => `task-${i + 1}`)

/**
 * Run {@link tasks} and print the report.
 *
 * @example
 * ```ts
 * NodeRuntime.runMain(main)
 * // Completed: 6
 * // Failed: 2
 * //   ✓ task-1 done
 * //   ...
 * //   ✗ task-3 failed: disk quota exceeded
 * ```
 *
 * @since 0.1.0
 * @category main
 */
export const main = Effect.gen(function* () {
  const result = yield* Workflow.run(RobustParallelWorkflow, { tasks })
  yield* Console.log(`Completed: ${result.completed}`)
  yield* Console.log(`Failed: ${result.failed}`)
  for (const r of result.results) yield* Console.log(`  ✓ ${r}`)
  for (const e of result.errors) yield* Console.log(`  ✗ ${e.error}`)
})
