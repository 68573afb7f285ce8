import { defineProject } from "vitest/config"

export default defineProject({
  resolve: { conditions: ["@effect-flow/source"] },
  ssr: { resolve: { conditions: ["@effect-flow/source"] } },
  test: {
    name: "cluster",
    include: ["test/**/*.test.ts"],
    typecheck: { enabled: false }
  }
})
