import { defineConfig } from "vitest/config"

// One Vitest workspace: each package is a project. The "@effect-flow/source" condition makes
// `@effect-flow/core` resolve to its TypeScript sources, so tests never need a build first.
export default defineConfig({
  test: {
    // maxWorkers stays Vitest's default for `vitest run`, one less than the CPUs: on CI's 2 cores one test
    // file runs at a time, beside Vitest itself, Postgres and the browser. The CPU-heavy tests carry their
    // own timeouts for when the machine is loaded anyway.
    projects: ["packages/cluster", "packages/core", "packages/examples", "packages/server", "packages/sql"]
  }
})
