import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["@effect-flow/source"] },
  ssr: { resolve: { conditions: ["@effect-flow/source"] } },
  test: {
    name: "server",
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: false },
    testTimeout: 60_000,
    // The load and browser tests are CPU-heavy: one file at a time, to leave the other projects room.
    fileParallelism: false
  }
})
