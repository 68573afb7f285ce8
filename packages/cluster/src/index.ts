/**
 * effect-flow across machines, on `effect/cluster`: each run is an entity keyed by its `runId`, placed on
 * one runner and reached from any client through the cluster's routing.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as Distributed from "./Distributed.ts"
export { DistributedStepError, RunFailedError, RunMovedError, UnknownWorkflowError } from "./Distributed.ts"
