import { assert, describe, it } from "@effect/vitest"
import { defineWorkflow, StartEvent, StopEvent, Workflow } from "@effect-flow/core"
import { Console, Effect, Schema } from "effect"
import { DrawError, drawExample, exampleNames, run, workflowsOf } from "../src/draw.ts"

// Discovered when the file loads, so an example added to src/ later is covered without editing this test.
const names = await Effect.runPromise(exampleNames())

/** Run `effect` with Console.log / Console.error captured. */
const captured = <A, E>(effect: Effect.Effect<A, E>) =>
  Effect.gen(function* () {
    const out: Array<string> = []
    const err: Array<string> = []
    const console = {
      ...globalThis.console,
      log: (...args: ReadonlyArray<unknown>) => out.push(args.join(" ")),
      error: (...args: ReadonlyArray<unknown>) => err.push(args.join(" "))
    }
    const result = yield* Effect.result(Effect.provideService(effect, Console.Console, console))
    return { result, out: out.join("\n"), err: err.join("\n") }
  })

describe("draw: every example in src/", () => {
  it("finds the example modules, but not main.ts or draw.ts", () => {
    assert.isAbove(names.length, 0)
    assert.notInclude(names, "main")
    assert.notInclude(names, "draw")
  })

  for (const name of names) {
    it.effect(`${name}: exports a workflow that validates and draws as a flowchart`, () =>
      Effect.gen(function* () {
        const module = yield* Effect.promise(() => import(`../src/${name}.ts`) as Promise<Record<string, unknown>>)
        const workflows = workflowsOf(module)
        assert.isAbove(workflows.length, 0, `${name}.ts exports no workflow`)
        for (const [exportName, wf] of workflows) {
          const validated = yield* Effect.result(Workflow.validate(wf))
          assert.strictEqual(
            validated._tag,
            "Success",
            validated._tag === "Failure" ? `${name} / ${exportName}: ${validated.failure.message}` : ""
          )
          const mermaid = (yield* drawExample(name, exportName))[0]!.mermaid
          assert.isTrue(mermaid.startsWith("flowchart"), mermaid)
          for (const step of wf.steps) assert.include(mermaid, step.name)
        }
      })
    )
  }
})

class A extends Schema.TaggedClass<A>()("A", {}) {}

describe("draw: finding the workflow in a module", () => {
  const base = defineWorkflow({ name: "base" }).step(StartEvent, () => Effect.succeed(new A()), { name: "start" })
  const one = base.step(A, () => Effect.succeed(new StopEvent({ result: 1 })), { name: "one" })
  const two = base.step(A, () => Effect.succeed(new StopEvent({ result: 2 })), { name: "two" })

  it("keeps the workflows built on a base, drops the base, and lists an alias once", () => {
    const found = workflowsOf({ base, one, two, alias: one, items: [1, 2], main: Effect.void })
    assert.deepStrictEqual(
      found.map(([name]) => name),
      ["one", "two"]
    )
  })

  it("a lone partial workflow is still drawn: nothing else builds on it", () => {
    assert.deepStrictEqual(
      workflowsOf({ base }).map(([name]) => name),
      ["base"]
    )
    assert.deepStrictEqual(workflowsOf({ items: [], main: Effect.void }), [])
  })
})

describe("draw: the command line", () => {
  it.effect("prints the diagram of the example named, and no problem", () =>
    Effect.gen(function* () {
      const { err, out, result } = yield* captured(run(["parallel"]))
      assert.deepStrictEqual(result._tag === "Success" ? result.success : result, { problems: 0 })
      assert.isTrue(out.startsWith("flowchart TD"), out)
      assert.strictEqual(err, "")
    })
  )

  it.effect("--markdown wraps the diagram in a mermaid code block", () =>
    Effect.gen(function* () {
      const { out } = yield* captured(run(["parallel", "--markdown"]))
      assert.isTrue(out.startsWith("```mermaid\nflowchart TD"), out)
      assert.isTrue(out.endsWith("\n```"), out)
    })
  )

  it.effect("with no name, lists every example with its workflow exports", () =>
    Effect.gen(function* () {
      const { out } = yield* captured(run([]))
      assert.include(out, "Usage: npm run draw -- <example>")
      for (const name of names) assert.match(out, new RegExp(`^ {2}${name} +\\S`, "m"))
    })
  )

  it.effect("an unknown example or export fails with a DrawError that lists what exists", () =>
    Effect.gen(function* () {
      const unknown = yield* Effect.flip(run(["no-such-example"]))
      assert.instanceOf(unknown, DrawError)
      assert.include(unknown.message, `No example is named "no-such-example"`)
      for (const name of names) assert.include(unknown.message, name)
      const noExport = yield* Effect.flip(drawExample(names[0]!, "NoSuchExport"))
      assert.include(noExport.message, `exports no workflow named "NoSuchExport"`)
    })
  )
})
