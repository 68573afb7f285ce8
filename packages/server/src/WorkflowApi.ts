/**
 * The HTTP API of a workflow server, declared once with `effect/http-api`: the server implements it
 * (`WorkflowServer.layer`), `WorkflowClient` derives a typed client from it, and `GET /openapi.json`
 * is generated from it. Routes, bodies and status codes are those of REFERENCE's "Serving runs over HTTP".
 *
 * @since 0.1.0
 */
import { Schema } from "effect"
import { HttpApi, HttpApiEndpoint, HttpApiGroup, HttpApiSchema, OpenApi } from "effect/http-api"

/**
 * A step of a served workflow, as `GET /api/workflows` lists it.
 *
 * @example
 * ```ts
 * const step: typeof StepInfo.Type = { name: "process_item", accepts: ["ItemEvent"], emits: ["ProcessedEvent"], workers: 4 }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const StepInfo = Schema.Struct({
  name: Schema.String,
  accepts: Schema.Array(Schema.String),
  emits: Schema.optional(Schema.Array(Schema.String)),
  workers: Schema.Number
})

/**
 * A served workflow: its name, steps, Mermaid diagram and the JSON Schema of its input.
 *
 * @example
 * ```ts
 * const [first] = yield* client.workflows.list()
 * console.log(first.name, first.input) // "parallel" { type: "object", ... }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const WorkflowInfo = Schema.Struct({
  name: Schema.String,
  steps: Schema.Array(StepInfo),
  mermaid: Schema.String,
  /** The JSON Schema (draft 2020-12) of the start payload. */
  input: Schema.Unknown,
  /**
   * The `_tag`s of the outside input it declares: `HumanResponseEvent` and its `outsideInput` classes (what a
   * `ctx.waitFor` waits for). `POST /api/runs/:runId/events` also takes the events its steps accept.
   */
  outsideInput: Schema.Array(Schema.String)
})

/**
 * What `POST /api/workflows/:name/runs` answers (status 201).
 *
 * @example
 * ```ts
 * const { runId } = yield* client.runs.start({ params: { name: "parallel" }, payload: { items: ["a"] } })
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const RunStarted = Schema.Struct({ runId: Schema.String })

/**
 * Where a run is, with `Durable.status`'s meaning: `"waiting"` means only outside input can move it.
 *
 * @example
 * ```ts
 * const done = (s: typeof Status.Type) => s === "completed" || s === "failed" || s === "cancelled"
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const Status = Schema.Literals(["running", "waiting", "completed", "failed", "cancelled"])

/**
 * A run's status, the shape of `Durable.status`: `result` and `error` are encoded JSON (an error as
 * `{ _tag, message, ...fields }`). Times are epoch milliseconds.
 *
 * @example
 * ```ts
 * const status = yield* client.runs.get({ params: { runId } })
 * if (status.status === "completed") console.log(status.result)
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const RunStatus = Schema.Struct({
  runId: Schema.String,
  workflow: Schema.String,
  status: Status,
  createdAt: Schema.Number,
  updatedAt: Schema.Number,
  result: Schema.optional(Schema.Unknown),
  error: Schema.optional(Schema.Unknown)
})

/**
 * No served workflow has this name: 404. Also the answer to sending to or cancelling a durable run (in a store
 * shared with other servers) whose workflow this server does not serve: it cannot run it, so it cannot do either.
 *
 * @example
 * ```ts
 * client.runs.start({ params: { name: "nope" }, payload: {} }).pipe(Effect.catchTag("WorkflowNotFound", ...))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class WorkflowNotFound extends Schema.TaggedError<WorkflowNotFound>()(
  "WorkflowNotFound",
  { workflow: Schema.String, known: Schema.Array(Schema.String) },
  { httpApiStatus: 404 }
) {
  override get message() {
    return `No workflow named "${this.workflow}" is served here; served: ${this.known.join(", ") || "none"}`
  }
}

/**
 * No run with this id is known (never started here, or finished and dropped by `keepRuns`): 404.
 *
 * @example
 * ```ts
 * client.runs.get({ params: { runId: "nope" } }).pipe(Effect.catchTag("RunNotFound", () => Effect.succeed(undefined)))
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunNotFound extends Schema.TaggedError<RunNotFound>()(
  "RunNotFound",
  { runId: Schema.String },
  { httpApiStatus: 404 }
) {
  override get message() {
    return `No run "${this.runId}" is known to this server (unknown, or finished and no longer kept)`
  }
}

/**
 * A request body that does not decode (the workflow's input, an event sent to a run, or JSON itself):
 * 400, with `where` (what was decoded) and the schema issue in `issue`.
 *
 * @example
 * ```ts
 * // POST /api/workflows/parallel/runs {"items": 3}
 * // 400 {"_tag":"InvalidBody","where":"input of workflow \"parallel\"","issue":"Expected array, got 3\n  at [\"items\"]"}
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class InvalidBody extends Schema.TaggedError<InvalidBody>()(
  "InvalidBody",
  { where: Schema.String, issue: Schema.String },
  { httpApiStatus: 400 }
) {
  override get message() {
    return `Invalid ${this.where}: ${this.issue}`
  }
}

/**
 * An event sent to a run that has already ended: 409.
 *
 * @example
 * ```ts
 * // POST /api/runs/<finished run>/events {"_tag":"HumanResponseEvent","response":"yes"}  → 409
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class RunEnded extends Schema.TaggedError<RunEnded>()(
  "RunEnded",
  { runId: Schema.String, status: Status },
  { httpApiStatus: 409 }
) {
  override get message() {
    return `Run "${this.runId}" has already ended (${this.status}): it takes no more events`
  }
}

/**
 * A durable run live in another process (it holds the run's lease): it cannot be cancelled from here, 409.
 *
 * @example
 * ```ts
 * // DELETE /api/runs/order-42 while another server runs it
 * // 409 {"_tag":"RunBusy","runId":"order-42","owner":"owner-... (pid 4242 on host-a)"}
 * ```
 *
 * @since 0.2.0
 * @category errors
 */
export class RunBusy extends Schema.TaggedError<RunBusy>()(
  "RunBusy",
  { runId: Schema.String, owner: Schema.String },
  { httpApiStatus: 409 }
) {
  override get message() {
    return `Run "${this.runId}" is live in another process, ${this.owner}: cancel it there, or once that process has stopped`
  }
}

/**
 * The group of workflow routes: `GET /api/workflows`, `POST /api/workflows/:name/runs`.
 *
 * @example
 * ```ts
 * const workflows = yield* client.workflows.list()
 * ```
 *
 * @since 0.1.0
 * @category api
 */
export class WorkflowsGroup extends HttpApiGroup.make("workflows")
  .add(
    HttpApiEndpoint.get("list", "/api/workflows", { success: Schema.Array(WorkflowInfo) }),
    HttpApiEndpoint.post("start", "/api/workflows/:name/runs", {
      params: { name: Schema.String },
      payload: Schema.Unknown,
      success: RunStarted.pipe(HttpApiSchema.status(201)),
      error: [WorkflowNotFound, InvalidBody]
    })
  )
  .annotateMerge(OpenApi.annotations({ title: "Workflows", description: "The served workflows; start a run" })) {}

/**
 * One frame of a run's event stream. `id` is the event's position in the run (for `Last-Event-ID`),
 * `data` the event as JSON with its `_tag`.
 *
 * @example
 * ```ts
 * // id: 3
 * // data: {"_tag":"ProgressEvent","done":2}
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export const EventFrame = Schema.Struct({
  id: Schema.optional(Schema.String),
  event: Schema.String,
  data: Schema.String
})

/**
 * The group of run routes: status, event stream, outside input, cancel.
 *
 * @example
 * ```ts
 * yield* client.runs.send({ params: { runId }, payload: { _tag: "HumanResponseEvent", response: "yes" } })
 * ```
 *
 * @since 0.1.0
 * @category api
 */
export class RunsGroup extends HttpApiGroup.make("runs")
  .add(
    HttpApiEndpoint.get("get", "/api/runs/:runId", {
      params: { runId: Schema.String },
      success: RunStatus,
      error: RunNotFound
    }),
    HttpApiEndpoint.get("events", "/api/runs/:runId/events", {
      params: { runId: Schema.String },
      query: { lifecycle: Schema.optional(Schema.String) },
      headers: { "last-event-id": Schema.optional(Schema.String) },
      success: HttpApiSchema.StreamSse({ events: EventFrame }),
      error: RunNotFound
    }),
    HttpApiEndpoint.post("send", "/api/runs/:runId/events", {
      params: { runId: Schema.String },
      payload: Schema.Unknown,
      success: HttpApiSchema.Empty(202),
      error: [RunNotFound, WorkflowNotFound, InvalidBody, RunEnded]
    }),
    HttpApiEndpoint.delete("cancel", "/api/runs/:runId", {
      params: { runId: Schema.String },
      success: RunStatus,
      error: [RunNotFound, WorkflowNotFound, RunBusy]
    })
  )
  .annotateMerge(
    OpenApi.annotations({ title: "Runs", description: "A run's status and events; outside input; cancel" })
  ) {}

/**
 * The whole API, as served and as the client sees it.
 *
 * @example
 * ```ts
 * import { OpenApi } from "effect/http-api"
 * const spec = OpenApi.fromApi(WorkflowApi.Api)
 * ```
 *
 * @since 0.1.0
 * @category api
 */
export class Api extends HttpApi.make("effect-flow")
  .add(WorkflowsGroup)
  .add(RunsGroup)
  .annotateMerge(OpenApi.annotations({ title: "effect-flow workflow server" })) {}
