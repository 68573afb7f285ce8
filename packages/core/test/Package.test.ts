/**
 * The check of the packed tarball (`scripts/packed.ts`: `npm pack`, a scratch project, ESM and CommonJS,
 * `nodenext` and `bundler` types, class names, one copy) runs as its own CI step (`npm run smoke`), since it
 * builds and type-checks several projects: in the suite it would compete with every test file for CPU. Here,
 * the content rules it applies to the file list, so a change to them is tested.
 */
import { assert, describe, it } from "@effect/vitest"
import { contentProblems, maxPackedBytes } from "../scripts/packed.ts"

describe("the packed package", () => {
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

  it("a clean file list passes", async () => {
    const files = ["LICENSE", "README.md", "package.json", "dist/index.js", "dist/index.d.ts", "dist/testing.js"]
    const clean = { filename: "x.tgz", size: 1000, unpackedSize: 0, files: files.map((path) => ({ path, size: 1 })) }
    assert.deepStrictEqual(await contentProblems(clean, "/nonexistent"), [])
  })
})
