/**
 * Example `hitl`: human in the loop from plain async/await. A refund workflow asks a person twice, in the
 * two ways LlamaIndex has: a step returns an `InputRequiredEvent` (published to the caller) and another step
 * accepts the `HumanResponseEvent` the caller sends back; later, `ctx.waitFor` suspends just that invocation
 * until the manager's `Approval` arrives. The caller reads the run's events with `for await` and narrows on
 * `ev._tag`: the stream is typed as what this workflow publishes (its `writes`, the `InputRequiredEvent`,
 * the `StopEvent`), so `ev.prefix` and `ev.amount` type-check.
 *
 * Run it: `npm run example -- hitl` (answers from the terminal when it is interactive, else scripted ones)
 */
import { createInterface } from "node:readline/promises"
import {
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  StartEvent,
  StopEvent,
  Workflow
} from "@effect-flow/core"
import { Effect, Schema } from "effect"

export class ApprovalRequest extends Schema.TaggedClass<ApprovalRequest>()("ApprovalRequest", {
  id: Schema.String,
  amount: Schema.Number
}) {}
export class Approval extends Schema.TaggedClass<Approval>()("Approval", {
  id: Schema.String,
  approved: Schema.Boolean
}) {}
export class Status extends Schema.TaggedClass<Status>()("Status", { message: Schema.String }) {}

export const refund = defineWorkflow({
  name: "refund",
  input: Schema.Struct({ order: Schema.String }),
  outsideInput: [Approval]
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.write(new Status({ message: `looking up order ${ev.order}` }))
        return new InputRequiredEvent({ prefix: `How much should order ${ev.order} refund? `, id: ev.order })
      }),
    { name: "ask_amount", emits: [InputRequiredEvent], writes: [Status] }
  )
  .step(
    HumanResponseEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const amount = Number(ev.response)
        if (!Number.isFinite(amount) || amount <= 0) {
          return new StopEvent({ result: `no refund: "${ev.response}" is not an amount` })
        }
        if (amount <= 50) return new StopEvent({ result: `refunded ${amount}` })
        // Above 50 a manager decides. Only this invocation waits; its request goes out once the wait is open.
        const approval = yield* ctx.waitFor(Approval, {
          request: new ApprovalRequest({ id: ctx.runId, amount }),
          id: ctx.runId
        })
        yield* ctx.write(new Status({ message: approval.approved ? "manager approved" : "manager declined" }))
        return new StopEvent({ result: approval.approved ? `refunded ${amount}` : "refund declined" })
      }),
    { name: "decide", writes: [ApprovalRequest, Status], emits: [StopEvent] }
  )

/** Who answers: a clerk for amounts, a manager for approvals. */
export interface People {
  readonly clerk: (prompt: string) => Promise<string>
  readonly manager: (amount: number) => Promise<boolean>
}

// Plain async code, start to finish.
export const handleRefund = async (order: string, people: People, log: (line: string) => void = console.log) => {
  const handle = await Workflow.startPromise(refund, { order })
  for await (const ev of handle.events) {
    switch (ev._tag) {
      case "Status":
        log(`status: ${ev.message}`)
        break
      case "InputRequiredEvent":
        await handle.send(new HumanResponseEvent({ response: await people.clerk(ev.prefix) }))
        break
      case "ApprovalRequest":
        await handle.send(new Approval({ id: ev.id, approved: await people.manager(ev.amount) }))
        break
      case "StopEvent":
        log(`done: ${ev.result}`)
    }
  }
  return handle.result
}

const scripted: People = { clerk: async () => "80", manager: async (amount) => amount < 100 }

const terminal = (): People => ({
  clerk: async (prompt) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout })
    try {
      return await rl.question(prompt)
    } finally {
      rl.close()
    }
  },
  manager: async (amount) => {
    const rl = createInterface({ input: process.stdin, output: process.stdout })
    try {
      return /^y/i.test(await rl.question(`Manager: approve a refund of ${amount}? [y/n] `))
    } finally {
      rl.close()
    }
  }
})

export const main = Effect.promise(() => handleRefund("A-1042", process.stdin.isTTY ? terminal() : scripted))
