/**
 * Builds a step's data from `.step(...)`'s arguments. Nothing is checked here: `Workflow.validate` reports
 * every problem at once.
 */
import type { EventClass, StartEventClass } from "../Event.ts"
import { nameOf } from "../Event.ts"
import type * as Step from "../Step.ts"

const asArray = (accepts: Step.Accepts): ReadonlyArray<EventClass<any> | StartEventClass> =>
  Array.isArray(accepts) ? accepts : [accepts as EventClass<any>]

const defaultName = (accepts: ReadonlyArray<EventClass<any> | StartEventClass>, handler: unknown): string => {
  const fn = typeof handler === "function" ? handler.name : undefined
  if (typeof fn === "string" && fn !== "" && fn !== "anonymous" && fn !== "handler") return fn
  return `handle${accepts.map((c) => nameOf(c as EventClass)).join("Or")}`
}

/** The step's data: its name (given, or from the handler or the accepted tags), options, and handler. */
export const fromArgs = (
  accepts: Step.Accepts,
  handler: Function,
  options: Step.Options<any> | undefined
): Step.Any => {
  const list = asArray(accepts)
  return {
    name: options?.name ?? defaultName(list, handler),
    accepts: list,
    emits: options?.emits,
    writes: options?.writes,
    workers: options?.workers ?? 1,
    retry: options?.retry,
    timeout: options?.timeout,
    ignoreChecks: options?.ignoreChecks,
    ...(options?.distribute === undefined ? {} : { distribute: options.distribute }),
    handler: handler as Step.Any["handler"]
  }
}
