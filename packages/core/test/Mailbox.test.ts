import { assert, describe, it } from "@effect/vitest"
import * as fc from "fast-check"
import { Mailbox } from "../src/internal/mailbox.ts"

describe("Mailbox (a step's FIFO queue on a ring buffer)", () => {
  it("property: any mix of push and shift behaves like an array's push and shift", () => {
    fc.assert(
      fc.property(
        fc.integer({ min: 1, max: 8 }),
        fc.array(fc.oneof(fc.nat({ max: 1_000 }), fc.constant("shift" as const)), { maxLength: 400, size: "max" }),
        (capacity, ops) => {
          const mailbox = new Mailbox<number>(capacity)
          const model: Array<number> = []
          for (const op of ops) {
            if (op === "shift") assert.strictEqual(mailbox.shift(), model.shift())
            else {
              mailbox.push(op)
              model.push(op)
            }
            assert.strictEqual(mailbox.size, model.length)
          }
          assert.deepStrictEqual(mailbox.toArray(), model)
        }
      ),
      { numRuns: 300 }
    )
  })

  it("grows while wrapped around, keeping the order", () => {
    const mailbox = new Mailbox<number>(4)
    for (const n of [1, 2, 3]) mailbox.push(n)
    assert.strictEqual(mailbox.shift(), 1)
    assert.strictEqual(mailbox.shift(), 2)
    // head is now 2: these wrap around the end of the 4-slot ring, then force it to grow.
    for (const n of [4, 5, 6, 7, 8]) mailbox.push(n)
    assert.deepStrictEqual(mailbox.toArray(), [3, 4, 5, 6, 7, 8])
    assert.deepStrictEqual(
      [1, 2, 3, 4, 5, 6].map(() => mailbox.shift()),
      [3, 4, 5, 6, 7, 8]
    )
    assert.strictEqual(mailbox.shift(), undefined)
  })
})
