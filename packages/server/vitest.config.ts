import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["@effect-flow/source"] },
  ssr: { resolve: { conditions: ["@effect-flow/source"] } },
  test: {
    name: "server",
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: false },
    testTimeout: 60_000,
    // The load and browser tests are CPU-heavy: they run after the other projects (a later group), one file
    // at a time, so they neither slow the others' timed tests nor are slowed by them.
    fileParallelism: false,
    sequence: { groupOrder: 1 }
  }
})
