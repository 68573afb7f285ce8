/**
 * The names of the checks `Workflow.validate` runs, apart from the checks themselves so that
 * `WorkflowError.Problem` can type its `check` field with them without importing the graph logic.
 *
 * @internal
 */

/**
 * The checks that report a definition that cannot run at all; they cannot be ignored.
 *
 * @internal
 */
export const structuralChecks = [
  "event-class",
  "workers",
  "stop-event-accepted",
  "start-step",
  "unique-step-names",
  "ignore-checks",
  "timeout",
  "initial-state",
  "retry",
  "handler",
  "config",
  "journal",
  "distribute"
] as const

/**
 * The graph checks a workflow (`defineWorkflow({ ignoreChecks })`) or one step
 * (`.step(A, h, { ignoreChecks })`) may opt out of.
 *
 * @internal
 */
export const ignorableChecks = ["unhandled-event", "never-emitted", "unreachable", "dead-end"] as const
