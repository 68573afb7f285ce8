/**
 * LangGraph's tiny run: a `StateGraph` START -> start -> step -> stop -> END, `invoke` per run.
 *
 * @since 0.1.0
 */
import { Annotation, END, START, StateGraph } from "@langchain/langgraph"
import type { TinyAdapter } from "../tiny.ts"

/**
 * The LangGraph tiny-run adapter.
 *
 * @example
 * ```ts
 * await adapter.make().run(3) // 7
 * ```
 *
 * @since 0.1.0
 */
export const adapter: TinyAdapter = {
  name: "LangGraph",
  kind: "peer",
  how: "`StateGraph` with one `value` channel, nodes start → step → stop chained with `addEdge`, `invoke({ value })` per run",
  packages: ["@langchain/langgraph", "@langchain/core"],
  make: () => {
    const State = Annotation.Root({ value: Annotation<number> })
    const graph = new StateGraph(State)
      .addNode("start", (s: typeof State.State) => ({ value: s.value * 2 }))
      .addNode("step", (s: typeof State.State) => ({ value: s.value + 1 }))
      .addNode("stop", (s: typeof State.State) => ({ value: s.value }))
      .addEdge(START, "start")
      .addEdge("start", "step")
      .addEdge("step", "stop")
      .addEdge("stop", END)
      .compile()
    return { run: async (value) => (await graph.invoke({ value })).value }
  }
}
