/**
 * What a durable run checks of its workflow. Before it starts: that the workflow can be journaled
 * (`checkJournal`: each event class is a `Schema.TaggedClass` or an `Event.TaggedData` class, the initial state
 * encodes). On a create, a resume and a runner's start: that the workflow is the one the run started with. Its
 * definition (`definition`) is the journal's first entry and its hash (`hashOf`) the stored run's
 * `definitionHash`; when they differ, `explainChange` says part by part what changed (`WorkflowChangedError`).
 */
import { Data, Effect, Schema } from "effect"
import { type RunNotFoundError, type RunStoreError, WorkflowChangedError } from "../../DurableError.ts"
import { tagOf } from "../../Event.ts"
import { RunStore } from "../../RunStore.ts"
import type { Any } from "../../Workflow.ts"
import { Problem, WorkflowValidationError } from "../../WorkflowError.ts"
import { codecs, type DefinitionLike } from "./codecs.ts"

/** The kind of the journal's first entry, `{ t: "def", def }`: the run's definition, part by part. @internal */
export const DEFINITION = "def"

/** A durable run's validation problem (check `"journal"`): something it cannot journal, in words. @internal */
export const validation = (workflow: string, message: string, events: ReadonlyArray<string> = []) =>
  new WorkflowValidationError({
    workflow,
    problems: [new Problem({ check: "journal", message, steps: [], events })]
  })

/**
 * What keeps a workflow from being journaled, checked before a durable run starts: each event class it declares
 * must be a `Schema.TaggedClass` or an `Event.TaggedData` class (a resume rebuilds events from their fields), and
 * the initial state must encode with the state schema (or be plain JSON without one).
 */
const journalProblems = (self: Any): ReadonlyArray<Problem> => {
  const problems: Array<Problem> = []
  const builtIn = new Set(["StartEvent", "StopEvent", "InputRequiredEvent", "HumanResponseEvent", "StepFailedEvent"])
  const seen = new Set<unknown>()
  const classes: Array<readonly [unknown, ReadonlyArray<string>]> = []
  for (const s of self.steps) {
    for (const cls of [...s.accepts, ...(s.emits ?? []), ...(s.writes ?? [])]) classes.push([cls, [s.name]])
  }
  for (const cls of self.config.outsideInput ?? []) classes.push([cls, []])
  for (const [cls, steps] of classes) {
    const tag = tagOf(cls as never)
    if (seen.has(cls) || tag === undefined || builtIn.has(tag)) continue
    seen.add(cls)
    const data = typeof cls === "function" && (cls as { prototype?: unknown }).prototype instanceof Data.Class
    if (!Schema.isSchema(cls) && !data) {
      problems.push(
        new Problem({
          check: "journal",
          message: `event ${tag} is neither a Schema.TaggedClass nor an Event.TaggedData class, so a durable run cannot journal it and a resume could not rebuild it: declare it with Schema.TaggedClass (or Event.TaggedData, with fields JSON can hold).`,
          steps: steps.length > 0 ? [...steps] : [],
          events: [tag]
        })
      )
    }
  }
  try {
    codecs(self).state.encode(self.config.initialState ?? {})
  } catch (error) {
    problems.push(
      new Problem({
        check: "journal",
        message: `the initialState cannot be journaled: ${error instanceof Error ? error.message : String(error)}`,
        steps: [],
        events: []
      })
    )
  }
  return problems
}

/** `journalProblems` as an effect: fails with them, before anything is stored. @internal */
export const checkJournal = (self: Any): Effect.Effect<void, WorkflowValidationError> =>
  Effect.suspend(() => {
    const problems = journalProblems(self)
    return problems.length === 0
      ? Effect.void
      : Effect.fail(new WorkflowValidationError({ workflow: self.name, problems }))
  })

/**
 * What a workflow's definition is, for the journal: steps (name, accepts, emits, writes, workers) and the
 * schemas of input, state and result. Its hash is the run's `definitionHash`; a resume compares them part by
 * part to say what changed. @internal
 */
export const definition = (wf: DefinitionLike): Record<string, string> => {
  const names = (list: ReadonlyArray<unknown> | undefined) =>
    list === undefined ? "any" : list.map((cls) => tagOf(cls as never) ?? "?").join(",")
  const schema = (s: Schema.Top | undefined) => {
    if (s === undefined) return "none"
    try {
      return JSON.stringify(Schema.toJsonSchemaDocument(s))
    } catch {
      return String(s.ast)
    }
  }
  const out: Record<string, string> = {}
  for (const s of wf.steps) {
    out[`step ${s.name}`] =
      `accepts ${names(s.accepts)}; emits ${names(s.emits)}; writes ${names(s.writes)}; workers ${s.workers}`
  }
  const events = new Map<string, unknown>()
  for (const s of wf.steps)
    for (const cls of [...s.accepts, ...(s.emits ?? []), ...(s.writes ?? [])]) {
      const tag = tagOf(cls as never)
      if (tag !== undefined && Schema.isSchema(cls)) events.set(tag, cls)
    }
  for (const [tag, cls] of events) out[`event ${tag} schema`] = schema(cls as Schema.Top)
  out["input schema"] = schema(wf.config.input)
  out["state schema"] = schema(wf.config.state)
  out["output schema"] = schema(wf.config.output)
  return out
}

/** A short, stable hash of a definition (FNV-1a over its JSON, 2 x 32 bits). @internal */
export const hashOf = (def: Record<string, string>): string => {
  const text = JSON.stringify(Object.entries(def).sort(([a], [b]) => (a < b ? -1 : 1)))
  let h1 = 0x811c9dc5
  let h2 = 0x01000193
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i)
    h1 = Math.imul(h1 ^ c, 0x01000193) >>> 0
    h2 = Math.imul(h2 ^ c, 0x811c9dc5) >>> 0
  }
  return h1.toString(16).padStart(8, "0") + h2.toString(16).padStart(8, "0")
}

/** What differs between a stored definition and the given one, in words. @internal */
const definitionChanges = (stored: Record<string, string>, given: Record<string, string>): Array<string> => {
  const out: Array<string> = []
  for (const key of new Set([...Object.keys(stored), ...Object.keys(given)])) {
    const a = stored[key]
    const b = given[key]
    if (a === b) continue
    const short = (s: string) => (s.length > 120 ? `${s.slice(0, 117)}...` : s)
    if (a === undefined) out.push(`${key}: added (${short(b!)})`)
    else if (b === undefined) out.push(`${key}: removed (was ${short(a)})`)
    else out.push(`${key}: stored ${short(a)}, given ${short(b)}`)
  }
  return out
}

/** Say part by part what changed, from the definition stored as the journal's first entry. */
export const explainChange = (
  self: Any,
  runId: string,
  def: Record<string, string>,
  error: WorkflowChangedError
): Effect.Effect<never, WorkflowChangedError | RunStoreError | RunNotFoundError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const first = yield* store.readJournal(runId, { from: 0 }).pipe(Effect.map((entries) => entries[0]))
    const stored = first === undefined ? undefined : JSON.parse(first.data)
    const detailed = stored?.t === DEFINITION ? definitionChanges(stored.def, def) : []
    const changes = [...error.changes.filter((c) => !c.startsWith("definition:") || detailed.length === 0), ...detailed]
    return yield* new WorkflowChangedError({ runId, workflow: self.name, changes })
  })

/** `Durable.checkDefinition`: the live runs of the workflow's name started with its definition. @internal */
export const checkDefinition = (
  self: Any
): Effect.Effect<void, WorkflowChangedError | RunStoreError | RunNotFoundError, RunStore> =>
  Effect.gen(function* () {
    const store = yield* RunStore
    const def = definition(self)
    const hash = hashOf(def)
    for (const status of ["running", "waiting"] as const) {
      const live = yield* store.list({ workflow: self.name, status })
      const other = live.find((info) => info.definitionHash !== hash)
      if (other !== undefined) {
        return yield* explainChange(
          self,
          other.runId,
          def,
          new WorkflowChangedError({
            runId: other.runId,
            workflow: self.name,
            changes: [`definition: stored ${other.definitionHash}, given ${hash}`]
          })
        )
      }
    }
  })
