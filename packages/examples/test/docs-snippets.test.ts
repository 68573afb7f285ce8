/**
 * Every ```ts block of README.md, docs/*.md and packages/*\/README.md is type-checked (strict, as the repo is)
 * and, unless marked otherwise, run. The markers (`<!-- snippet: continue | no-run | partial -->`) are
 * explained in `snippets/extract.ts` and in docs/README.md. A snippet that fails names its file and line.
 */
import { spawn } from "node:child_process"
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { afterAll, assert, beforeAll, describe, it } from "@effect/vitest"
import { allSnippets, extract, type Snippet } from "./snippets/extract.ts"

const here = dirname(fileURLToPath(import.meta.url))
const root = join(here, "..", "..", "..")
const require = createRequire(import.meta.url)

const snippets = allSnippets(root)
const checked = snippets.filter((s) => !s.partial)
const fileOf = (s: Snippet) => `${s.file.replace(/[^A-Za-z0-9]+/g, "_")}_L${s.line}.ts`

let dir = ""
const diagnostics = new Map<string, Array<string>>()
const runs = new Map<string, { readonly ok: boolean; readonly error?: string; readonly output: string }>()

const exec = (args: ReadonlyArray<string>, cwd: string) =>
  new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn(process.execPath, args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
    let stdout = ""
    let stderr = ""
    child.stdout.on("data", (chunk) => (stdout += chunk))
    child.stderr.on("data", (chunk) => (stderr += chunk))
    child.on("error", reject)
    child.on("close", (code) => resolve({ code, stdout, stderr }))
  })

beforeAll(async () => {
  // A scratch project outside the repo that sees the repo's node_modules, so `@effect-flow/core` resolves to
  // the workspace package (its sources, through the source condition) just as in the repo's own tests.
  dir = mkdtempSync(join(tmpdir(), "effect-flow-snippets-"))
  symlinkSync(join(root, "node_modules"), join(dir, "node_modules"), "dir")
  writeFileSync(join(dir, "package.json"), JSON.stringify({ type: "module", private: true }))
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: join(root, "tsconfig.base.json"),
      compilerOptions: { noEmit: true, declaration: false, sourceMap: false, noUnusedLocals: false },
      include: ["snippets/*.ts"]
    })
  )
  mkdirSync(join(dir, "snippets"))
  for (const s of checked) writeFileSync(join(dir, "snippets", fileOf(s)), s.code)

  const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc")
  const typecheck = await exec([tsc, "-p", "tsconfig.json", "--pretty", "false"], dir)
  let current: Array<string> | undefined
  for (const line of typecheck.stdout.split("\n")) {
    const found = /^snippets\/([^(]+)\((\d+),(\d+)\): (error .*)$/.exec(line)
    if (found !== null) {
      const [, file, row, column, message] = found
      const s = checked.find((c) => fileOf(c) === file)!
      const mdLine = s.line + Number(row) - 1 - s.offset
      current = diagnostics.get(file!) ?? []
      current.push(`${s.file}:${mdLine}:${column} ${message}`)
      diagnostics.set(file!, current)
    } else if (current !== undefined && line.startsWith(" ")) {
      current.push(line)
    } else if (line.trim() !== "") {
      // A diagnostic outside any snippet (a broken tsconfig): charge it to every snippet.
      for (const s of checked) diagnostics.set(fileOf(s), [...(diagnostics.get(fileOf(s)) ?? []), line])
    }
  }

  const runnable = checked.filter((s) => s.run).map((s) => join(dir, "snippets", fileOf(s)))
  const ran = await exec(
    ["--conditions=@effect-flow/source", join(here, "snippets", "run.ts"), "20000", ...runnable],
    dir
  )
  for (const line of ran.stdout.split("\n").filter((l) => l.startsWith("{"))) {
    const outcome = JSON.parse(line) as { file: string; ok: boolean; error?: string; output: string }
    runs.set(outcome.file.split("/").pop()!, outcome)
  }
  if (ran.code !== 0) throw new Error(`the snippet runner exited with ${ran.code}:\n${ran.stderr}`)
}, 120_000)

afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true })
})

describe("snippet markers", () => {
  it("a block continues the previous one, no-run and partial opt out, unknown markers are refused", () => {
    const md = [
      "```ts",
      "const a = 1",
      "```",
      "<!-- snippet: continue no-run -->",
      "",
      "```ts",
      "const b = a + 1",
      "```",
      "<!-- snippet: partial -->",
      "```ts",
      "step<A>(accepts: A): Workflow",
      "```",
      "```sh",
      "npm test",
      "```"
    ].join("\n")
    const [first, second, third, ...rest] = extract("x.md", md)
    assert.deepStrictEqual(rest, [])
    assert.deepStrictEqual(first, {
      file: "x.md",
      line: 2,
      code: "const a = 1\n",
      offset: 0,
      run: true,
      partial: false
    })
    assert.deepStrictEqual(second, {
      file: "x.md",
      line: 7,
      code: "const a = 1\n\nconst b = a + 1\n",
      offset: 2,
      run: false,
      partial: false
    })
    assert.strictEqual(third!.partial, true)
    assert.throws(
      () => extract("y.md", "<!-- snippet: skip -->\n```ts\nx\n```"),
      /y\.md:1: unknown snippet marker skip/
    )
    assert.throws(() => extract("z.md", "```ts\nx\n"), /z\.md:1: this code block is never closed/)
  })

  it("finds the README's blocks and the docs' blocks", () => {
    const files = new Set(snippets.map((s) => s.file))
    assert.isTrue(files.has("README.md"))
    assert.isTrue(files.has("packages/core/README.md"))
    assert.isAtLeast(checked.length, 2)
  })
})

describe("documented snippets", () => {
  for (const s of checked) {
    it(`${s.file}:${s.line} type-checks${s.run ? " and runs" : ""}`, () => {
      assert.deepStrictEqual(
        diagnostics.get(fileOf(s)) ?? [],
        [],
        `the snippet at ${s.file}:${s.line} does not compile`
      )
      if (!s.run) return
      const outcome = runs.get(fileOf(s))
      assert.isDefined(outcome, `the snippet at ${s.file}:${s.line} was not run`)
      assert.isTrue(outcome!.ok, `the snippet at ${s.file}:${s.line} failed: ${outcome!.error}\n${outcome!.output}`)
    })
  }
})
