/**
 * Type tests for the durable-run storage API (`RunStore`, `JournalWriter`, `DurableError`). Checked by
 * `npx tsc -p tsconfig.json`; the runtime assertions run in Vitest.
 */
import { assert, describe, expectTypeOf, it } from "@effect/vitest"
import {
  type DurableError,
  type JournalWriter,
  RunBusyError,
  type RunNotFoundError,
  RunStore,
  type RunStoreError,
  type WorkflowChangedError
} from "@effect-flow/core"
import type { Effect, Layer, Scope } from "effect"

describe("RunStore (types)", () => {
  it("DurableError is the union of the four store errors, each with its _tag", () => {
    expectTypeOf<DurableError.DurableError>().toEqualTypeOf<
      RunStoreError | RunNotFoundError | WorkflowChangedError | RunBusyError
    >()
    expectTypeOf<DurableError.DurableError["_tag"]>().toEqualTypeOf<
      "RunStoreError" | "RunNotFoundError" | "WorkflowChangedError" | "RunBusyError"
    >()
    const e = new RunBusyError({ runId: "r", owner: "o", pid: 1, host: "h", expiresAt: 0 })
    assert.strictEqual(e._tag, "RunBusyError")
  })

  it("each operation says which errors it can fail with", () => {
    type S = RunStore.Shape
    expectTypeOf<Effect.Error<ReturnType<S["create"]>>>().toEqualTypeOf<RunStoreError | WorkflowChangedError>()
    expectTypeOf<Effect.Error<ReturnType<S["append"]>>>().toEqualTypeOf<
      RunBusyError | RunNotFoundError | RunStoreError
    >()
    expectTypeOf<Effect.Error<ReturnType<S["acquire"]>>>().toEqualTypeOf<
      RunBusyError | RunNotFoundError | RunStoreError
    >()
    expectTypeOf<Effect.Error<ReturnType<S["list"]>>>().toEqualTypeOf<RunStoreError>()
    expectTypeOf<Effect.Success<ReturnType<S["readJournal"]>>>().toEqualTypeOf<ReadonlyArray<RunStore.JournalEntry>>()
    expectTypeOf<Effect.Success<ReturnType<S["compact"]>>>().toEqualTypeOf<boolean>()
  })

  it("statuses are the five literals; a batch's status must be one of them", () => {
    expectTypeOf<RunStore.RunStatus>().toEqualTypeOf<"running" | "waiting" | "completed" | "failed" | "cancelled">()
    // @ts-expect-error: "done" is not a status
    const bad: RunStore.StatusUpdate = { status: "done" }
    assert.isDefined(bad)
  })

  it("layerMemory provides RunStore; a JournalWriter needs the store and a scope", () => {
    expectTypeOf(RunStore.layerMemory).toEqualTypeOf<Layer.Layer<RunStore.RunStore>>()
    expectTypeOf<Effect.Services<ReturnType<typeof JournalWriter.make>>>().toEqualTypeOf<
      RunStore.RunStore | Scope.Scope
    >()
    expectTypeOf<Effect.Error<JournalWriter.JournalWriter["flush"]>>().toEqualTypeOf<JournalWriter.WriteError>()
    // the back-pressure wait cannot fail: a failed write is reported by the next call
    expectTypeOf<JournalWriter.JournalWriter["room"]>().toEqualTypeOf<() => Effect.Effect<void> | undefined>()
    expectTypeOf<JournalWriter.Options["maxPending"]>().toEqualTypeOf<number | undefined>()
  })
})
