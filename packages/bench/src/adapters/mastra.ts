/**
 * Peer: Mastra workflows. A `createStep` work step run over the input array with
 * `.foreach(step, { concurrency: W })`, then a collect step that receives the whole output array.
 */
import { createStep, createWorkflow } from "@mastra/core/workflows"
import { z } from "zod"
import type { Adapter } from "../adapter.ts"

const result = z.object({ index: z.number(), value: z.number() })

export const adapter: Adapter = {
  name: "Mastra workflows",
  kind: "peer",
  how: "`createWorkflow(...).foreach(workStep, { concurrency: W }).then(collectStep).commit()`, `createRun()` + `start({ inputData })`",
  packages: ["@mastra/core", "zod"],
  make: (workers, work) => {
    const workStep = createStep({
      id: "work",
      inputSchema: z.number(),
      outputSchema: result,
      execute: async ({ inputData }) => ({ index: inputData, value: await work.promise(inputData) })
    })
    const collectStep = createStep({
      id: "collect",
      inputSchema: z.array(result),
      outputSchema: z.array(result),
      execute: async ({ inputData }) => inputData
    })
    const workflow = createWorkflow({
      id: "bench",
      inputSchema: z.array(z.number()),
      outputSchema: z.array(result)
    })
      .foreach(workStep, { concurrency: workers })
      .then(collectStep)
      .commit()
    return {
      run: async (items) => {
        const run = await workflow.createRun()
        const out = await run.start({ inputData: [...items] })
        if (out.status !== "success") throw new Error(`Mastra run ended with status ${out.status}`)
        return out.result
      }
    }
  }
}
