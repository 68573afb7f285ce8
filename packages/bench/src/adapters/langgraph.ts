/**
 * Peer: LangGraph's documented map-reduce. A conditional edge from START returns one `Send("work", ...)`
 * per item; the work node writes its result into a `results` channel whose reducer appends; the graph is
 * invoked with `maxConcurrency: W`. The reducer appends in place (the docs' `a.concat(b)` copies the
 * whole list per item, which is quadratic and would measure the reducer rather than the engine).
 */
import { Annotation, END, Send, START, StateGraph } from "@langchain/langgraph"
import type { Adapter } from "../adapter.ts"
import type { Result } from "../workload.ts"

export const adapter: Adapter = {
  name: "LangGraph",
  kind: "peer",
  how: '`StateGraph` map-reduce: conditional edge from START returns `Send("work", { index })` per item, appending reducer, `invoke(..., { maxConcurrency: W })`',
  packages: ["@langchain/langgraph", "@langchain/core"],
  make: (workers, work) => {
    const State = Annotation.Root({
      items: Annotation<ReadonlyArray<number>>,
      index: Annotation<number>,
      results: Annotation<Array<Result>>({
        reducer: (acc, next) => {
          for (const r of next) acc.push(r)
          return acc
        },
        default: () => []
      })
    })
    const graph = new StateGraph(State)
      .addNode("work", async (state: typeof State.State) => ({
        results: [{ index: state.index, value: await work.promise(state.index) }]
      }))
      .addConditionalEdges(START, (state: typeof State.State) =>
        state.items.map((index) => new Send("work", { index }))
      )
      .addEdge("work", END)
      .compile()
    return {
      run: async (items) => {
        const out = await graph.invoke({ items }, { maxConcurrency: workers, recursionLimit: 100 })
        return out.results
      }
    }
  }
}
