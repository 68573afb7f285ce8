import { defineConfig } from "vitest/config"

// One Vitest workspace: each package is a project. The "@effect-flow/source" condition makes
// `@effect-flow/core` resolve to its TypeScript sources, so tests never need a build first.
export default defineConfig({
  test: {
    projects: ["packages/core", "packages/examples", "packages/server", "packages/sql"]
  }
})
