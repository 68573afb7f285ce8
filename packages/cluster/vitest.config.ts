import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["@effect-flow/source"] },
  ssr: { resolve: { conditions: ["@effect-flow/source"] } },
  test: {
    name: "cluster",
    include: ["test/**/*.test.ts"],
    // the durable issue's throwaway PostgreSQL, shared by the multi-process tests
    globalSetup: ["../sql/test/postgres.globalSetup.ts"],
    typecheck: { enabled: false }
  }
})
