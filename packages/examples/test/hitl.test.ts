import { assert, describe, it } from "@effect/vitest"
import { Workflow } from "@effect-flow/core"
import { handleRefund, type People, refund } from "../src/hitl.ts"

/** Scripted people who remember what they were asked. */
const people = (amount: string, approve: boolean) => {
  const asked: Array<string> = []
  const answers: People = {
    clerk: async (prompt) => {
      asked.push(prompt)
      return amount
    },
    manager: async (n) => {
      asked.push(`manager: ${n}`)
      return approve
    }
  }
  return { answers, asked }
}

describe("hitl example", () => {
  it("a small refund needs the clerk only", async () => {
    const { answers, asked } = people("30", false)
    const log: Array<string> = []
    assert.strictEqual(await handleRefund("A-1", answers, (l) => log.push(l)), "refunded 30")
    assert.deepStrictEqual(asked, ["How much should order A-1 refund? "])
    assert.deepStrictEqual(log, ["status: looking up order A-1", "done: refunded 30"])
  })

  it("a large refund waits for the manager's Approval; a no declines it", async () => {
    const { answers, asked } = people("120", false)
    const log: Array<string> = []
    assert.strictEqual(await handleRefund("A-2", answers, (l) => log.push(l)), "refund declined")
    assert.deepStrictEqual(asked, ["How much should order A-2 refund? ", "manager: 120"])
    assert.deepStrictEqual(log, ["status: looking up order A-2", "status: manager declined", "done: refund declined"])
  })

  it("a yes refunds it", async () => {
    const { answers } = people("75", true)
    assert.strictEqual(await handleRefund("A-3", answers, () => {}), "refunded 75")
  })

  it("an answer that is not an amount ends the run with no refund", async () => {
    const { answers } = people("lots", true)
    assert.strictEqual(await handleRefund("A-4", answers, () => {}), 'no refund: "lots" is not an amount')
  })

  it("Workflow.run cannot answer, so the run stalls at once and says so", async () => {
    const error = await Workflow.runPromise(refund, { order: "A-5" }).then(
      () => assert.fail("nobody answers"),
      (e: unknown) => e
    )
    assert.strictEqual((error as { _tag?: string })._tag, "WorkflowStalledError")
  })
})
