import { Effect, Schema } from "effect"
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
const show = (name: string, p: Promise<unknown>) => p.then((r) => console.log(name, "OK", JSON.stringify(r)), (e) => console.log(name, "ERR", e?._tag, String(e?.message).slice(0, 200)))
const a = defineWorkflow({ name: "badTimeout", timeout: "forever" as any }).step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })))
await show("badTimeout", Workflow.runPromise(a, {}))
const b = defineWorkflow({ name: "badStepTimeout" }).step(StartEvent, () => Effect.succeed(new StopEvent({ result: 1 })), { timeout: "forever" as any })
await show("badStepTimeout", Workflow.runPromise(b, {}))
const c = defineWorkflow({ name: "noInitial", state: Schema.Struct({ n: Schema.Number }) }).step(StartEvent, (_, ctx) => Effect.map(ctx.store.get("n"), (n) => new StopEvent({ result: n })))
await show("noInitial", Workflow.runPromise(c, {}))
const d = defineWorkflow({ name: "badInitial", state: Schema.Struct({ n: Schema.Number }), initialState: { n: "x" } as any }).step(StartEvent, (_, ctx) => Effect.map(ctx.store.get("n"), (n) => new StopEvent({ result: n })))
await show("badInitial", Workflow.runPromise(d, {}))
const e = defineWorkflow({ name: "badAccept" }).step(StartEvent, () => Effect.void).step(class NotEvent {} as any, () => Effect.void)
await show("badAccept", Workflow.runPromise(e, {}))
