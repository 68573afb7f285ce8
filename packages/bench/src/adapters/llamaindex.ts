/**
 * Peer: @llamaindex/workflow-core, the TypeScript LlamaIndex Workflows. The start handler `sendEvent`s one
 * event per item and collects the results from its own context stream (`stream.filter(doneEvent).take(N)`,
 * the package's collect pattern), then returns the stop event. workflow-core has no `num_workers`: each
 * item handler is invoked at once, so W is enforced with a per-run p-limit limiter carried in the events
 * (the state middleware would do it too, but it records every event for snapshots, which costs more).
 */
import { createWorkflow, workflowEvent } from "@llamaindex/workflow-core"
import pLimit from "p-limit"
import type { Adapter } from "../adapter.ts"
import type { Result } from "../workload.ts"

export const adapter: Adapter = {
  name: "LlamaIndex workflow-core",
  kind: "peer",
  how: "start handler `sendEvent`s N events, item handler (bounded by p-limit, no built-in workers), collect via `context.stream.filter(done).take(N).toArray()`",
  packages: ["@llamaindex/workflow-core", "p-limit"],
  make: (workers, work) => {
    type Limit = ReturnType<typeof pLimit>
    const startEvent = workflowEvent<{ readonly items: ReadonlyArray<number>; readonly limit: Limit }>({
      debugLabel: "start"
    })
    const itemEvent = workflowEvent<{ readonly index: number; readonly limit: Limit }>({ debugLabel: "item" })
    const doneEvent = workflowEvent<Result>({ debugLabel: "done" })
    const stopEvent = workflowEvent<ReadonlyArray<Result>>({ debugLabel: "stop" })
    const workflow = createWorkflow()
    workflow.handle([startEvent], async (context, start) => {
      const { sendEvent, stream } = context
      // Subscribe before sending: handlers run synchronously inside sendEvent.
      const { items, limit } = start.data
      const collected = stream.filter(doneEvent).take(items.length).toArray()
      for (const index of items) sendEvent(itemEvent.with({ index, limit }))
      const done = await collected
      return stopEvent.with(done.map((ev) => ev.data))
    })
    workflow.handle([itemEvent], async (_context, item) => {
      const { index, limit } = item.data
      const value = await limit(() => work.promise(index))
      return doneEvent.with({ index, value })
    })
    return {
      run: async (items) => {
        const { stream, sendEvent } = workflow.createContext()
        const stopped = stream.untilEvent(stopEvent)
        sendEvent(startEvent.with({ items, limit: pLimit(workers) }))
        return (await stopped).data
      }
    }
  }
}
