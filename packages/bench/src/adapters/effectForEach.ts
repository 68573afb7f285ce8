/** Floor 1: the raw Effect primitive, `Effect.forEach(items, f, { concurrency: W })`. */
import { Effect } from "effect"
import { type Adapter, effectRunner } from "../adapter.ts"
import type { Result } from "../workload.ts"

export const adapter: Adapter = {
  name: "Effect.forEach",
  kind: "floor",
  how: "`Effect.forEach(items, f, { concurrency: W })`",
  packages: ["effect"],
  make: (workers, work) => {
    const one = (items: ReadonlyArray<number>): Effect.Effect<Array<Result>> =>
      Effect.forEach(items, (index) => Effect.map(work.effect(index), (value) => ({ index, value })), {
        concurrency: workers
      })
    return effectRunner(one)
  }
}
