/**
 * Workflows the server tests serve, and a helper that starts a real server on a free port.
 */
import {
  defineWorkflow,
  HumanResponseEvent,
  InputRequiredEvent,
  StartEvent,
  StopEvent,
  type Workflow
} from "@effect-flow/core"
import { Context, Effect, Exit, Layer, Option, Schema, Scope } from "effect"
import { HttpServer } from "effect/http"
import { WorkflowServer } from "../src/index.ts"

export class ItemEvent extends Schema.TaggedClass<ItemEvent>()("ItemEvent", { index: Schema.Number }) {}
export class DoneEvent extends Schema.TaggedClass<DoneEvent>()("DoneEvent", { index: Schema.Number }) {}

/** Fan-out of `count` items over 4 workers, each taking `delayMillis`, fan-in of their doubled indexes' sum. */
export const fanOut = defineWorkflow({
  name: "fan-out",
  input: Schema.Struct({
    count: Schema.Int.check(Schema.isBetween({ minimum: 0, maximum: 100_000 })),
    delayMillis: Schema.optional(Schema.Number)
  }),
  state: Schema.Struct({ count: Schema.Number, delay: Schema.Number }),
  initialState: { count: 0, delay: 0 }
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.store.set("count", ev.count)
        yield* ctx.store.set("delay", ev.delayMillis ?? 0)
        for (let index = 0; index < ev.count; index++) yield* ctx.send(new ItemEvent({ index }))
      }),
    { name: "dispatch", emits: [ItemEvent] }
  )
  .step(
    ItemEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const delay = yield* ctx.store.get("delay")
        if (delay > 0) yield* Effect.sleep(delay)
        return new DoneEvent({ index: ev.index * 2 })
      }),
    { name: "work", workers: 4, emits: [DoneEvent] }
  )
  .step(
    DoneEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        const count = yield* ctx.store.get("count")
        const all = yield* ctx.collect(ev, count)
        if (Option.isNone(all)) return
        return new StopEvent({ result: all.value.reduce((sum, d) => sum + d.index, 0) })
      }),
    { name: "collect", emits: [StopEvent] }
  )

/** Asks a human (an InputRequiredEvent), then finishes with the answer. */
export const approval = defineWorkflow({ name: "approval", input: Schema.Struct({ amount: Schema.Number }) })
  .step(StartEvent, (ev) => Effect.succeed(new InputRequiredEvent({ prefix: `Approve ${ev.amount}? ` })), {
    name: "ask",
    emits: [InputRequiredEvent]
  })
  .step(HumanResponseEvent, (ev) => Effect.succeed(new StopEvent({ result: `answer: ${ev.response}` })), {
    name: "decide",
    emits: [StopEvent]
  })

export class Answer extends Schema.TaggedClass<Answer>()("Answer", { id: Schema.String, text: Schema.String }) {}

/** Waits (ctx.waitFor) for an `Answer` with id "q1", sent from outside. */
export const question = defineWorkflow({
  name: "question",
  input: Schema.Struct({ text: Schema.String }),
  outsideInput: [Answer]
}).step(
  StartEvent,
  (ev, ctx) =>
    Effect.gen(function* () {
      const answer = yield* ctx.waitFor(Answer, {
        request: new InputRequiredEvent({ prefix: ev.text, id: "q1" }),
        id: "q1"
      })
      return new StopEvent({ result: answer.text })
    }),
  { name: "ask", emits: [StopEvent] }
)

export class Ask extends Schema.TaggedClass<Ask>()("Ask", { id: Schema.String, text: Schema.String }) {}

/**
 * Waits (ctx.waitFor) with a request of its own class, not an InputRequiredEvent, while another step works
 * for `workMillis`: it is "running" until that work is done, then "waiting" until the answer comes.
 */
export const survey = defineWorkflow({
  name: "survey",
  input: Schema.Struct({ workMillis: Schema.Number }),
  outsideInput: [Answer]
})
  .step(
    StartEvent,
    (ev, ctx) =>
      Effect.gen(function* () {
        yield* ctx.send(new ItemEvent({ index: ev.workMillis }))
        const answer = yield* ctx.waitFor(Answer, { request: new Ask({ id: "s1", text: "Why?" }), id: "s1" })
        return new StopEvent({ result: answer.text })
      }),
    { name: "ask", emits: [StopEvent, ItemEvent], writes: [Ask] }
  )
  .step(ItemEvent, (ev) => Effect.asVoid(Effect.sleep(ev.index)), { name: "work" })

export class StepBroke extends Schema.TaggedError<StepBroke>()("StepBroke", { reason: Schema.String }) {
  override get message() {
    return `step broke: ${this.reason}`
  }
}

/** Fails in its only step with a typed error. */
export const failing = defineWorkflow({ name: "failing", input: Schema.Struct({ reason: Schema.String }) }).step(
  StartEvent,
  (ev) => Effect.fail(new StepBroke({ reason: ev.reason })),
  { name: "explode", emits: [StopEvent] }
)

export class NoteEvent extends Schema.TaggedClass<NoteEvent>()("NoteEvent", { text: Schema.String }) {}

/** Writes one event with the given text to the stream, then stops with it: for escaping tests. */
export const echo = defineWorkflow({ name: "echo", input: Schema.Struct({ text: Schema.String }) }).step(
  StartEvent,
  (ev, ctx) =>
    Effect.gen(function* () {
      yield* ctx.write(new NoteEvent({ text: ev.text }))
      return new StopEvent({ result: ev.text })
    }),
  { name: "echo", emits: [StopEvent] }
)

/** Sleeps for a long time: for cancel and disconnect tests. */
export const slow = defineWorkflow({ name: "slow", input: Schema.Struct({ millis: Schema.Number }) }).step(
  StartEvent,
  (ev, ctx) =>
    Effect.gen(function* () {
      yield* ctx.write(new NoteEvent({ text: "sleeping" }))
      yield* Effect.sleep(ev.millis)
      return new StopEvent({ result: "woke" })
    }),
  { name: "sleep", emits: [StopEvent] }
)

/** Its only step interrupts itself (not in `allWorkflows`: served on its own). */
export const quits = defineWorkflow({ name: "quits", input: Schema.Struct({}) }).step(
  StartEvent,
  () => Effect.interrupt,
  {
    name: "quit",
    emits: [StopEvent]
  }
)

/** The error of a run that a handler's `Effect.interrupt` ended, as the status gives it (in memory or durable). */
export const selfInterrupted = {
  _tag: "Interrupt",
  message: "A handler interrupted the run (Effect.interrupt): it ended with that interruption"
}

export const allWorkflows: ReadonlyArray<Workflow.Any> = [fanOut, approval, question, failing, echo, slow, survey]

export interface Running {
  readonly url: string
  readonly port: number
  readonly hostname: string
  readonly close: () => Promise<void>
}

/** Start a real server on a free port of 127.0.0.1 with these options. */
export const startServer = async (
  options: Partial<WorkflowServer.Options> = {},
  extra: Layer.Layer<never> = Layer.empty
): Promise<Running> => {
  const scope = Effect.runSync(Scope.make())
  const layer = WorkflowServer.layer({ workflows: allWorkflows, port: 0, ...options }).pipe(Layer.provide(extra))
  const context = await Effect.runPromise(Layer.buildWithScope(layer as Layer.Layer<HttpServer.HttpServer>, scope))
  const address = Context.get(context, HttpServer.HttpServer).address
  if (!("port" in address)) throw new Error("expected a TCP address")
  return {
    url: `http://127.0.0.1:${address.port}`,
    port: address.port,
    hostname: new URL(HttpServer.formatAddress(address)).hostname,
    close: () => Effect.runPromise(Scope.close(scope, Exit.void))
  }
}

/** One SSE frame as read from the wire. */
export interface Frame {
  readonly id: number
  readonly data: any
}

/** Read a whole SSE response (until the server ends it) into frames. */
export const readSse = async (response: Response): Promise<Array<Frame>> => {
  const text = await response.text()
  const frames: Array<Frame> = []
  for (const block of text.split("\n\n")) {
    let id: number | undefined
    let data: string | undefined
    for (const line of block.split("\n")) {
      if (line.startsWith("id: ")) id = Number(line.slice(4))
      else if (line.startsWith("data: ")) data = (data === undefined ? "" : `${data}\n`) + line.slice(6)
    }
    if (data !== undefined) frames.push({ id: id ?? 0, data: JSON.parse(data) })
  }
  return frames
}

/** JSON request helpers. */
export const post = (url: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(url, {
    method: "POST",
    body: typeof body === "string" ? body : JSON.stringify(body),
    headers: { "content-type": "application/json", ...headers }
  })

/** Poll a run's status until it has ended (the server's own status route). */
export const awaitEnd = async (url: string, runId: string, headers: Record<string, string> = {}): Promise<any> => {
  for (let i = 0; i < 500; i++) {
    const response = await fetch(`${url}/api/runs/${runId}`, { headers })
    const status: any = await response.json()
    if (status.status === "completed" || status.status === "failed" || status.status === "cancelled") return status
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  throw new Error(`run ${runId} did not end`)
}

/**
 * Stop a server with event streams still open, and say whether it stopped within 10 s (Node waits for open
 * requests for 20 s before it gives up on them: an event stream the server does not end itself holds it that long).
 */
export const stopsPromptly = async (server: Running): Promise<boolean> => {
  let timer: ReturnType<typeof setTimeout> | undefined
  const late = new Promise<false>((resolve) => (timer = setTimeout(() => resolve(false), 10_000)))
  try {
    return await Promise.race([server.close().then(() => true as const), late])
  } finally {
    clearTimeout(timer)
  }
}

/** Read what an open stream still sends: "ended" if it ends cleanly, "cut" if the connection breaks. */
export const restOf = async (reader: ReadableStreamDefaultReader<Uint8Array>): Promise<"ended" | "cut"> => {
  try {
    for (;;) if ((await reader.read()).done) return "ended"
  } catch {
    return "cut"
  }
}
