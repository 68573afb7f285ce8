/**
 * The context a `distribute: true` step's handler gets, wherever it runs: `runId`, `step`, `attempt`,
 * `invocationId` and `write` from `base` (a worker slot's context on the run's owner, or what a runner
 * running the invocation for it holds); `send`, `sendAll`, `store`, `collect` and `waitFor` end the run
 * with a `WorkflowValidationError` naming the step and the operation, since they need the run itself.
 */
import { Context, Effect } from "effect"
import type { Distributor } from "../Distribution.ts"
import type { AnyEvent } from "../Event.ts"
import type { DistributedContext } from "../StepContext.ts"
import { Problem, WorkflowValidationError } from "../WorkflowError.ts"

/** The run's distributor (`Distribution.Distributor`), read as a distributed invocation starts. @internal */
export const DistributorRef = Context.Reference<Distributor | undefined>("@effect-flow/core/Distributor", {
  defaultValue: () => undefined
})

/** Where a distributed invocation runs, and how it writes. @internal */
export interface Base {
  readonly runId: string
  readonly step: string
  readonly attempt: number
  readonly invocationId: string
  write(event: AnyEvent): Effect.Effect<void>
}

/** The problem a distributed handler meets when it reaches for `ctx.<operation>`. @internal */
export const absent = (workflow: string, step: string, operation: string): Effect.Effect<never> =>
  Effect.die(
    new WorkflowValidationError({
      workflow,
      problems: [
        new Problem({
          check: "distribute",
          message: `step "${step}" is declared with distribute: true, so its handler may run on another runner and has no ctx.${operation} (it needs the run's owner): return the next event instead, or drop distribute on this step.`,
          steps: [step],
          events: []
        })
      ]
    })
  )

/** A distributed handler's context over `base`; its getters read `base` at each call. @internal */
export class DistributedView implements DistributedContext<AnyEvent> {
  readonly workflow: string
  readonly base: Base
  constructor(workflow: string, base: Base) {
    this.workflow = workflow
    this.base = base
  }
  get runId(): string {
    return this.base.runId
  }
  get step(): string {
    return this.base.step
  }
  get attempt(): number {
    return this.base.attempt
  }
  get invocationId(): string {
    return this.base.invocationId
  }
  write(event: AnyEvent): Effect.Effect<void> {
    return this.base.write(event)
  }
  send(): Effect.Effect<never> {
    return absent(this.workflow, this.base.step, "send")
  }
  sendAll(): Effect.Effect<never> {
    return absent(this.workflow, this.base.step, "sendAll")
  }
  collect(): Effect.Effect<never> {
    return absent(this.workflow, this.base.step, "collect")
  }
  waitFor(): Effect.Effect<never> {
    return absent(this.workflow, this.base.step, "waitFor")
  }
  get store() {
    const op = (name: string) => absent(this.workflow, this.base.step, `store.${name}`)
    return {
      getAll: op("getAll"),
      get: () => op("get"),
      set: () => op("set"),
      update: () => op("update"),
      edit: () => op("edit")
    }
  }
}
