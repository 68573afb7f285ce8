/**
 * The packed tarball, as a stranger would get it (`scripts/packed.ts`): `npm pack`, installed into a scratch
 * project, imported from ESM and CommonJS, type-checked under `nodenext` and `bundler`, a workflow run; its
 * file list holds every source once and no second build, within 150 kB packed, and class names are intact.
 */
import { assert, describe, it } from "@effect/vitest"
import { checkPacked, contentProblems, maxPackedBytes, type Report } from "../scripts/packed.ts"

describe("the packed package", () => {
  let report: Report | undefined
  const packed = async () => (report ??= await checkPacked())

  it("is small and ships each source once, with LICENSE and README", { timeout: 120_000 }, async () => {
    const { packed: tarball, problems } = await packed()
    assert.deepStrictEqual(problems, [])
    assert.isAtMost(tarball.size, maxPackedBytes)
    const paths = tarball.files.map((f) => f.path)
    assert.includeMembers(paths, ["LICENSE", "README.md", "package.json", "src/Workflow.ts", "dist/Workflow.js"])
  })

  it("imports from ESM and CommonJS (one copy, class names intact), type-checks under nodenext and bundler", {
    timeout: 120_000
  }, async () => {
    const { outcomes } = await packed()
    for (const outcome of outcomes) assert.strictEqual(outcome.code, 0, `${outcome.name} failed:\n${outcome.output}`)
    assert.deepStrictEqual(
      outcomes.map((o) => o.name),
      ["import (ESM)", "require (CJS)", "types (nodenext: .mts, .cts)", "types (bundler)"]
    )
  })

  it("the content check catches what it is for", async () => {
    const bad = {
      filename: "x.tgz",
      size: maxPackedBytes + 1,
      unpackedSize: 0,
      files: [
        { path: "dist/cjs/index.js", size: 1 },
        { path: "src/Workflow.test.ts", size: 1 }
      ]
    }
    const problems = await contentProblems(bad, "/nonexistent")
    assert.include(problems.join("\n"), `packed size ${maxPackedBytes + 1} B exceeds ${maxPackedBytes} B`)
    assert.include(problems.join("\n"), "a second build ships: dist/cjs/index.js")
    assert.include(problems.join("\n"), "a test file ships: src/Workflow.test.ts")
    assert.include(problems.join("\n"), "missing from the tarball: LICENSE")
  })
})
