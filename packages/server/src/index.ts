/**
 * @effect-flow/server: serve workflows over HTTP (JSON + Server-Sent Events), with a typed client and a
 * run viewer in the browser.
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as RunRegistry from "./RunRegistry.ts"
/** @since 0.1.0 */
export * as Tracing from "./Tracing.ts"
/** @since 0.1.0 */
export * as WorkflowApi from "./WorkflowApi.ts"
/** @since 0.1.0 */
export * as WorkflowClient from "./WorkflowClient.ts"
/** @since 0.1.0 */
export * as WorkflowServer from "./WorkflowServer.ts"
