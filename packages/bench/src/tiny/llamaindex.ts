/**
 * LlamaIndex workflow-core's tiny run: three handlers (start -> step -> stop) on `workflowEvent`s, a fresh
 * context per run, awaiting the stop event with `stream.untilEvent`.
 *
 * @since 0.1.0
 */
import { createWorkflow, workflowEvent } from "@llamaindex/workflow-core"
import type { TinyAdapter } from "../tiny.ts"

/**
 * The LlamaIndex tiny-run adapter.
 *
 * @example
 * ```ts
 * await adapter.make().run(3) // 7
 * ```
 *
 * @since 0.1.0
 */
export const adapter: TinyAdapter = {
  name: "LlamaIndex workflow-core",
  kind: "peer",
  how: "`createWorkflow()` with handlers start → step → stop on `workflowEvent`s, `createContext()` + `sendEvent(start)` + `stream.untilEvent(stop)` per run",
  packages: ["@llamaindex/workflow-core"],
  make: () => {
    const startEvent = workflowEvent<number>({ debugLabel: "start" })
    const doubledEvent = workflowEvent<number>({ debugLabel: "doubled" })
    const incrementedEvent = workflowEvent<number>({ debugLabel: "incremented" })
    const stopEvent = workflowEvent<number>({ debugLabel: "stop" })
    const workflow = createWorkflow()
    workflow.handle([startEvent], (_context, ev) => doubledEvent.with(ev.data * 2))
    workflow.handle([doubledEvent], (_context, ev) => incrementedEvent.with(ev.data + 1))
    workflow.handle([incrementedEvent], (_context, ev) => stopEvent.with(ev.data))
    return {
      run: async (value) => {
        const { stream, sendEvent } = workflow.createContext()
        const stopped = stream.untilEvent(stopEvent)
        sendEvent(startEvent.with(value))
        return (await stopped).data
      }
    }
  }
}
