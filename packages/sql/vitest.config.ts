import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["@effect-flow/source"] },
  ssr: { resolve: { conditions: ["@effect-flow/source"] } },
  test: {
    name: "sql",
    include: ["test/**/*.test.ts"],
    globalSetup: ["./test/postgres.globalSetup.ts"],
    typecheck: { enabled: false }
  }
})
