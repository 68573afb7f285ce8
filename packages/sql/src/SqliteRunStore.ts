/**
 * The embedded default store for durable runs: one SQLite file (WAL, `synchronous = NORMAL`) through
 * `SqliteClient` and `SqlRunStore`.
 *
 * @since 0.1.0
 */
import { RunStore, RunStoreError } from "@effect-flow/core"
import { Effect, Layer } from "effect"
import * as Reactivity from "effect/reactivity/Reactivity"
import * as SqlClient from "effect/sql/SqlClient"
import * as SqliteClient from "./SqliteClient.ts"
import * as SqlRunStore from "./SqlRunStore.ts"

/**
 * Options of `SqliteRunStore.layer`.
 *
 * @since 0.1.0
 * @category models
 */
export interface Options {
  /** The database file; created with its tables when missing (unless `readOnly`). */
  readonly filename: string
  /** Open read-only: reads work, every write fails with `RunStoreError`; a missing file fails at open. */
  readonly readOnly?: boolean | undefined
  /** The tables' prefix. Default `"effect_flow"`. */
  readonly tablePrefix?: string | undefined
}

/**
 * A `RunStore` in one SQLite file. Opening a missing directory, a file of another program or a corrupt file
 * fails the layer with a `RunStoreError` naming the file and the cause.
 *
 * @example
 * ```ts
 * import { Durable } from "@effect-flow/core"
 * import { SqliteRunStore } from "@effect-flow/sql"
 *
 * Durable.run(wf, input, { runId: "order-42" }).pipe(
 *   Effect.provide(SqliteRunStore.layer({ filename: "runs.db" }))
 * )
 * ```
 *
 * @since 0.1.0
 * @category layers
 */
export const layer = (options: Options): Layer.Layer<RunStore.RunStore, RunStoreError> =>
  Layer.effect(
    RunStore.RunStore,
    Effect.gen(function* () {
      const client = yield* SqliteClient.make({ filename: options.filename, readOnly: options.readOnly }).pipe(
        Effect.mapError(
          (error) =>
            new RunStoreError({ store: options.filename, operation: "open", reason: error.message, cause: error })
        )
      )
      return yield* SqlRunStore.make({
        name: options.filename,
        tablePrefix: options.tablePrefix,
        skipMigrations: options.readOnly === true
      }).pipe(Effect.provideService(SqlClient.SqlClient, client))
    })
  ).pipe(Layer.provide(Reactivity.layer))
