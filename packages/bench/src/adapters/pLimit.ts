/** Floor 3: plain promises, bounded by p-limit. */
import pLimit from "p-limit"
import type { Adapter } from "../adapter.ts"
import type { Result } from "../workload.ts"

export const adapter: Adapter = {
  name: "p-limit promises",
  kind: "floor",
  how: "`Promise.all(items.map((i) => limit(() => f(i))))` with `pLimit(W)` per run",
  packages: ["p-limit"],
  make: (workers, work) => ({
    run: (items) => {
      const limit = pLimit(workers)
      return Promise.all(
        items.map((index) => limit(async (): Promise<Result> => ({ index, value: await work.promise(index) })))
      )
    }
  })
}
