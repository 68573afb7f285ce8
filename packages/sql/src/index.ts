/**
 * effect-flow's SQL storage: a `node:sqlite` `SqlClient` and the durable-run store (`RunStore`) over SQLite or
 * any `SqlClient` (Postgres through `@effect/sql-pg`).
 *
 * @since 0.1.0
 */

/** @since 0.1.0 */
export * as SqliteClient from "./SqliteClient.ts"
/** @since 0.1.0 */
export * as SqliteRunStore from "./SqliteRunStore.ts"
/** @since 0.1.0 */
export * as SqlRunStore from "./SqlRunStore.ts"
