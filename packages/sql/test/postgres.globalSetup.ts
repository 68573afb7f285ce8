/**
 * Vitest global setup: one throwaway PostgreSQL server for the test run, on a free port, in a fresh data folder;
 * stopped and deleted when the run ends. Tests read its URL with `inject("postgresUrl")` (see `./postgres.ts`).
 *
 * Reuse it from another package's `vitest.config.ts`: `globalSetup: ["../sql/test/postgres.globalSetup.ts"]`.
 *
 * As root (CI), `initdb` refuses to run, so the server runs as the `postgres` user through `runuser`. Where no
 * `initdb` exists, `postgresUrl` is `undefined` and `postgresSkip` says why; tests that need the server skip
 * with that message.
 */
import type { TestProject } from "vitest/node"
import { startPostgres } from "./postgresServer.ts"

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string | undefined
    postgresSkip: string | undefined
  }
}

export default async function setup(project: TestProject) {
  const started = await startPostgres()
  if ("skip" in started) {
    console.warn(`[postgres] Postgres tests skip: ${started.skip}`)
    project.provide("postgresUrl", undefined)
    project.provide("postgresSkip", started.skip)
    return
  }
  project.provide("postgresUrl", started.url)
  project.provide("postgresSkip", undefined)
  return started.stop
}
