import { assert, describe, it } from "@effect/vitest"
import { runVirtual } from "@effect-flow/core/testing"
import { Effect, Exit } from "effect"
import { TestConsole } from "effect/testing"
import { examples, run, UnknownExampleError } from "../src/main.ts"

// The modules of this helper's area; web-scraper and multi-model have their own tests.
const local = ["parallel", "document-analysis", "mixed-results", "robust-parallel", "accumulator", "nested", "service"]

describe("examples runner", () => {
  it("registers every example of the lesson once, each with a one-line description", () => {
    assert.deepStrictEqual(
      examples.map((e) => e.name),
      [
        "web-scraper",
        "parallel",
        "document-analysis",
        "multi-model",
        "mixed-results",
        "robust-parallel",
        "accumulator",
        "nested",
        "service",
        "rag",
        "critic-loop",
        "hitl",
        "durable",
        "cluster"
      ]
    )
    for (const e of examples) {
      assert.isAbove(e.description.length, 10)
      assert.notInclude(e.description, "\n")
    }
  })

  it.effect("with no name (or --help), lists every example with its description", () =>
    Effect.gen(function* () {
      yield* run([])
      const lines = (yield* TestConsole.logLines).map(String)
      assert.strictEqual(lines[0], "Usage: npm run example -- <name> [args...]")
      for (const e of examples) {
        assert.isTrue(
          lines.some((l) => l.trimStart().startsWith(`${e.name} `) && l.endsWith(e.description)),
          `no line for ${e.name}`
        )
      }
      yield* run(["--help"])
      assert.strictEqual((yield* TestConsole.logLines).length, lines.length * 2)
    })
  )

  it.effect("runs an example by name: document-analysis prints the lesson's two lines", () =>
    Effect.gen(function* () {
      const { exit } = yield* runVirtual(run(["document-analysis"]))
      assert.deepStrictEqual(exit, Exit.void)
      assert.deepStrictEqual(yield* TestConsole.logLines, ["Analyzed 4 documents", "Total words: 21"])
    })
  )

  it.effect("an unknown name fails with UnknownExampleError listing the known names", () =>
    Effect.gen(function* () {
      const error = yield* Effect.flip(run(["paralel"]))
      assert.instanceOf(error, UnknownExampleError)
      if (!(error instanceof UnknownExampleError)) return
      assert.strictEqual(error.example, "paralel")
      assert.deepStrictEqual(
        error.known,
        examples.map((e) => e.name)
      )
      assert.include(error.message, `No example is named "paralel"`)
    })
  )

  it.effect("every local example loads lazily and its main runs to completion", () =>
    Effect.gen(function* () {
      for (const name of local) {
        const { exit } = yield* runVirtual(run([name]))
        assert.deepStrictEqual(exit, Exit.void, name)
      }
      assert.isAbove((yield* TestConsole.logLines).length, local.length)
    })
  )
})
