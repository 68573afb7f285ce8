/**
 * Floor 2: the pipeline one would write by hand in Effect: a bounded Queue fed by a producer fiber,
 * W worker fibers taking from it until it ends, results pushed into a Ref.
 */

import type { Cause } from "effect"
import { Effect, Fiber, Queue, Result as R, Ref } from "effect"
import { type Adapter, effectRunner } from "../adapter.ts"
import type { Result } from "../workload.ts"

export const adapter: Adapter = {
  name: "Effect queue pipeline",
  kind: "floor",
  how: "bounded `Queue` (capacity W) fed by a producer fiber, W worker fibers, results in a `Ref`",
  packages: ["effect"],
  make: (workers, work) => {
    const one = (items: ReadonlyArray<number>): Effect.Effect<Array<Result>> =>
      Effect.gen(function* () {
        const queue = yield* Queue.bounded<number, Cause.Done>(workers)
        const results = yield* Ref.make<Array<Result>>([])
        const producer = yield* Effect.forkChild(
          Effect.andThen(
            Effect.forEach(items, (i) => Queue.offer(queue, i), { discard: true }),
            Queue.end(queue)
          )
        )
        const worker = Effect.gen(function* () {
          while (true) {
            const next = yield* Effect.result(Queue.take(queue))
            if (R.isFailure(next)) return
            const index = next.success
            const value = yield* work.effect(index)
            yield* Ref.update(results, (rs) => {
              rs.push({ index, value })
              return rs
            })
          }
        })
        yield* Effect.all(
          Array.from({ length: workers }, () => worker),
          { concurrency: "unbounded", discard: true }
        )
        yield* Fiber.join(producer)
        return yield* Ref.get(results)
      })
    return effectRunner(one)
  }
}
