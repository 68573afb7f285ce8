/**
 * Mastra's tiny run: three `createStep` steps chained with `.then`, `createRun()` + `start({ inputData })` per run.
 *
 * @since 0.1.0
 */
import { createStep, createWorkflow } from "@mastra/core/workflows"
import { z } from "zod"
import type { TinyAdapter } from "../tiny.ts"

const value = z.object({ value: z.number() })

/**
 * The Mastra tiny-run adapter.
 *
 * @example
 * ```ts
 * await adapter.make().run(3) // 7
 * ```
 *
 * @since 0.1.0
 */
export const adapter: TinyAdapter = {
  name: "Mastra workflows",
  kind: "peer",
  how: "`createWorkflow(...).then(start).then(step).then(stop).commit()` with zod schemas, `createRun()` + `start({ inputData })` per run",
  packages: ["@mastra/core", "zod"],
  make: () => {
    const start = createStep({
      id: "start",
      inputSchema: value,
      outputSchema: value,
      execute: async ({ inputData }) => ({ value: inputData.value * 2 })
    })
    const step = createStep({
      id: "step",
      inputSchema: value,
      outputSchema: value,
      execute: async ({ inputData }) => ({ value: inputData.value + 1 })
    })
    const stop = createStep({
      id: "stop",
      inputSchema: value,
      outputSchema: z.number(),
      execute: async ({ inputData }) => inputData.value
    })
    const workflow = createWorkflow({ id: "tiny", inputSchema: value, outputSchema: z.number() })
      .then(start)
      .then(step)
      .then(stop)
      .commit()
    return {
      run: async (v) => {
        const run = await workflow.createRun()
        const out = await run.start({ inputData: { value: v } })
        if (out.status !== "success") throw new Error(`Mastra run ended with status ${out.status}`)
        return out.result
      }
    }
  }
}
