/**
 * effect-flow: event-driven workflows on Effect v4. Declare a workflow as data with
 * `defineWorkflow().step(...)`, run it as an Effect (`Workflow.run`) or a Promise (`Workflow.runPromise`).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Diagram from "./Diagram.ts"
/** @since 0.1.0 */
export * as Distribution from "./Distribution.ts"
export * as Durable from "./Durable.ts"
/** @since 0.1.0 */
export * as DurableError from "./DurableError.ts"
export { RunBusyError, RunNotFoundError, RunStoreError, WorkflowChangedError } from "./DurableError.ts"
/** @since 0.1.0 */
export * as Event from "./Event.ts"
export { HumanResponseEvent, InputRequiredEvent, StartEvent, StopEvent } from "./Event.ts"
/** @since 0.1.0 */
export * as JournalWriter from "./JournalWriter.ts"
/** @since 0.1.0 */
export * as RunEvent from "./RunEvent.ts"
/** @since 0.1.0 */
export * as RunStore from "./RunStore.ts"
/** @since 0.1.0 */
export * as Step from "./Step.ts"
export type { StepContext as Context } from "./StepContext.ts"
/** @since 0.1.0 */
export * as StepContext from "./StepContext.ts"
/** @since 0.1.0 */
export * as Workflow from "./Workflow.ts"
export { defineWorkflow } from "./Workflow.ts"
/** @since 0.1.0 */
export * as WorkflowError from "./WorkflowError.ts"
export {
  HandlerBoundaryError,
  NestedStoreEditError,
  StepTimeoutError,
  UnhandledEventError,
  WorkflowCancelledError,
  WorkflowInputError,
  WorkflowStalledError,
  WorkflowTimeoutError,
  WorkflowValidationError
} from "./WorkflowError.ts"
