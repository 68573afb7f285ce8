/**
 * Outside input for a stored run (`Durable.send`): given at once to a run live in this process when something
 * takes it, otherwise stored in the run's inbox; and the encoding that makes it readable by a resume elsewhere
 * (`encodeOutside`: only the event classes the workflow declares).
 */
import { Effect } from "effect"
import type { SendError } from "../../Durable.ts"
import { WorkflowChangedError } from "../../DurableError.ts"
import { type AnyEvent, isEvent, tagOf } from "../../Event.ts"
import { isFinished, RunStore } from "../../RunStore.ts"
import type { Any } from "../../Workflow.ts"
import { UnhandledEventError, type WorkflowValidationError } from "../../WorkflowError.ts"
import { codecs } from "./codecs.ts"
import { validation } from "./definition.ts"
import { liveIn } from "./live.ts"

/** `Durable.send`. @internal */
export const send = (self: Any, runId: string, event: AnyEvent): Effect.Effect<void, SendError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const encoded = yield* encodeOutside(self, event)
    const info = yield* store.get(runId)
    if (info.workflow !== self.name) {
      return yield* new WorkflowChangedError({
        runId,
        workflow: info.workflow,
        changes: [`workflow name: stored "${info.workflow}", given "${self.name}"`]
      })
    }
    if (isFinished(info.status)) return yield* ended(self.name, event, `but run ${runId} has already ${info.status}.`)
    const here = liveIn(store).get(runId)
    if (here !== undefined && (yield* here.offer(event))) return
    yield* store.putInbox(runId, encoded)
    here?.nudge()
  })

/** Outside input that cannot go to the run, and why. */
const ended = (workflow: string, event: unknown, reason: string) =>
  new UnhandledEventError({ workflow, step: "(outside)", event: isEvent(event) ? event._tag : String(event), reason })

/** An outside event as its inbox message: encoded with the workflow's codecs, and decodable by them. */
export const encodeOutside = (
  self: Any,
  event: AnyEvent
): Effect.Effect<string, UnhandledEventError | WorkflowValidationError> =>
  Effect.suspend((): Effect.Effect<string, UnhandledEventError | WorkflowValidationError> => {
    if (!isEvent(event)) {
      return Effect.fail(ended(self.name, event, "which is not an event: send an instance of an event class."))
    }
    if (!declared(self).has(event._tag)) {
      return Effect.fail(
        ended(
          self.name,
          event,
          `which workflow "${self.name}" does not declare, so a resume could not read it: list ${event._tag} in defineWorkflow({ outsideInput: [${event._tag}] }) or in a step's accepts.`
        )
      )
    }
    try {
      return Effect.succeed(JSON.stringify(codecs(self).event(event)))
    } catch (error) {
      return Effect.fail(validation(self.name, error instanceof Error ? error.message : String(error)))
    }
  })

/** The event tags a workflow declares (steps' accepts, emits and writes, `outsideInput`, the built-in events). */
const declared = (self: Any): ReadonlySet<string> => {
  const tags = new Set(["StartEvent", "StopEvent", "InputRequiredEvent", "HumanResponseEvent", "StepFailedEvent"])
  for (const s of self.steps) {
    for (const cls of [...s.accepts, ...(s.emits ?? []), ...(s.writes ?? [])]) {
      const tag = tagOf(cls as never)
      if (tag !== undefined) tags.add(tag)
    }
  }
  for (const cls of self.config.outsideInput ?? []) {
    const tag = tagOf(cls as never)
    if (tag !== undefined) tags.add(tag)
  }
  return tags
}

/** `Durable.decodeEvent`: text that `encodeOutside` made, decoded with the workflow's classes. @internal */
export const decodeOutside = (self: Any, text: string): Effect.Effect<AnyEvent, WorkflowValidationError> =>
  Effect.try({
    try: () => codecs(self).decodeEvent(JSON.parse(text)),
    catch: (error) => validation(self.name, error instanceof Error ? error.message : String(error))
  })
