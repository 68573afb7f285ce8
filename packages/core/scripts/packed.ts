/**
 * The packed-tarball check of `@effect-flow/core`: what `npm publish` would ship, used as a stranger would use it.
 *
 * 1. Stage the package (package.json, README.md, LICENSE, src/) in a temporary directory and build it there
 *    (`scripts/build.ts`), so the repo's own `dist/` is never touched; `npm pack` it.
 * 2. Check the tarball: at most 150 kB packed; only dist/, src/ and the three files; every source once (no
 *    source map embeds `sourcesContent`, no second build such as dist/cjs); no test file.
 * 3. Install it into a scratch project (the tarball unpacked into node_modules, as npm would, with `effect`,
 *    `fast-check`, `typescript` and `@types/node` linked from the repo so nothing is downloaded) and use it:
 *    `smoke.mjs` (import) and `smoke.cjs` (require) run workflows and check class names and that one copy of
 *    the library loads; `tsc` type-checks consumers under `nodenext` (.mts and .cts, with declaration emit)
 *    and `bundler` resolution, with library checking on.
 *
 * Run by `packages/core/test/Package.test.ts` (so CI counts it) and by hand with `npm run smoke`.
 */
import { spawn } from "node:child_process"
import { cp, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { tmpdir } from "node:os"
import { dirname, join } from "node:path"
import { fileURLToPath } from "node:url"
import { build } from "./build.ts"

const scripts = dirname(fileURLToPath(import.meta.url))
const packageDir = join(scripts, "..")
const repoModules = join(packageDir, "..", "..", "node_modules")
const require = createRequire(import.meta.url)

/**
 * The most the tarball may weigh, packed. The public modules' sources ship in `src/` (their declaration maps
 * point there, for go-to-definition); the interpreter's (`src/internal/`) do not: nothing maps to them, and
 * its compiled JavaScript and declarations are in `dist/internal/`.
 */
export const maxPackedBytes = 150_000

/** What `npm pack --json` says of one tarball. */
export interface Packed {
  readonly filename: string
  readonly size: number
  readonly unpackedSize: number
  readonly files: ReadonlyArray<{ readonly path: string; readonly size: number }>
}

/** The outcome of one consumer: its name, exit code and output. */
export interface Outcome {
  readonly name: string
  readonly code: number | null
  readonly output: string
}

/** Everything the check found: the tarball, the problems with its contents, and each consumer's outcome. */
export interface Report {
  readonly packed: Packed
  readonly problems: ReadonlyArray<string>
  readonly outcomes: ReadonlyArray<Outcome>
}

const exec = (name: string, command: string, args: ReadonlyArray<string>, cwd: string) =>
  new Promise<Outcome>((resolve) => {
    const child = spawn(command, args, { cwd, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("error", (error) => resolve({ name, code: null, output: String(error) }))
    child.on("close", (code) => resolve({ name, code, output }))
  })

const mustSucceed = async (outcome: Promise<Outcome>) => {
  const done = await outcome
  if (done.code !== 0) throw new Error(`${done.name} exited with ${done.code}:\n${done.output}`)
  return done.output
}

/** The problems with a tarball's contents (empty when it is clean). */
export const contentProblems = async (packed: Packed, unpacked: string): Promise<ReadonlyArray<string>> => {
  const problems: Array<string> = []
  if (packed.size > maxPackedBytes) problems.push(`packed size ${packed.size} B exceeds ${maxPackedBytes} B`)
  const allowed = /^(dist\/.+\.(js|d\.ts)(\.map)?|src\/.+\.ts|package\.json|README\.md|LICENSE)$/
  for (const { path } of packed.files) {
    if (!allowed.test(path)) problems.push(`unexpected file in the tarball: ${path}`)
    if (/\.test\.ts$/.test(path)) problems.push(`a test file ships: ${path}`)
    if (/^dist\/(cjs|esm)\//.test(path)) problems.push(`a second build ships: ${path}`)
  }
  for (const required of ["LICENSE", "README.md", "dist/index.js", "dist/index.d.ts", "dist/testing.js"]) {
    if (!packed.files.some((f) => f.path === required)) problems.push(`missing from the tarball: ${required}`)
  }
  for (const { path } of packed.files.filter((f) => f.path.endsWith(".map"))) {
    const map = JSON.parse(await readFile(join(unpacked, path), "utf8")) as { sourcesContent?: unknown }
    if (map.sourcesContent !== undefined) problems.push(`${path} embeds its sources, which ship in src/ too`)
  }
  return problems
}

/** Build, pack, install into a scratch project and use it. Cleans up after itself. */
export const checkPacked = async (): Promise<Report> => {
  const work = await mkdtemp(join(tmpdir(), "effect-flow-packed-"))
  try {
    const stage = join(work, "stage")
    await mkdir(stage)
    for (const entry of ["package.json", "README.md", "LICENSE", "src"]) {
      await cp(join(packageDir, entry), join(stage, entry), { recursive: true })
    }
    await build(join(stage, "dist"))
    const packOutput = await mustSucceed(
      exec("npm pack", "npm", ["pack", stage, "--json", "--pack-destination", work, "--ignore-scripts"], work)
    )
    const [packed] = JSON.parse(packOutput.slice(packOutput.indexOf("["))) as Array<Packed>

    const project = join(work, "project")
    const installed = join(project, "node_modules", "@effect-flow", "core")
    await mkdir(installed, { recursive: true })
    await mustSucceed(
      exec("tar", "tar", ["-xzf", join(work, packed!.filename), "-C", installed, "--strip-components=1"], work)
    )
    for (const dependency of ["effect", "fast-check", "typescript", "@types"]) {
      await symlink(join(repoModules, dependency), join(project, "node_modules", dependency), "dir")
    }
    await writeFile(join(project, "package.json"), JSON.stringify({ name: "scratch", private: true, type: "module" }))
    for (const file of ["smoke.mjs", "smoke.cjs"]) await cp(join(scripts, file), join(project, file))
    await cp(join(scripts, "smoke-types"), join(project, "types"), { recursive: true })

    const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc")
    const outcomes = await Promise.all([
      exec("import (ESM)", process.execPath, ["smoke.mjs"], project),
      exec("require (CJS)", process.execPath, ["smoke.cjs"], project),
      exec("types (nodenext: .mts, .cts)", process.execPath, [tsc, "-p", "types/tsconfig.json"], project),
      exec("types (bundler)", process.execPath, [tsc, "-p", "types/tsconfig.bundler.json"], project)
    ])
    return { packed: packed!, problems: await contentProblems(packed!, installed), outcomes }
  } finally {
    await rm(work, { recursive: true, force: true })
  }
}

if (import.meta.main) {
  const { outcomes, packed, problems } = await checkPacked()
  console.log(
    `packed: ${packed.filename}, ${(packed.size / 1000).toFixed(1)} kB packed, ` +
      `${(packed.unpackedSize / 1000).toFixed(1)} kB unpacked, ${packed.files.length} files`
  )
  for (const problem of problems) console.error(`packed: ${problem}`)
  for (const { code, name, output } of outcomes) {
    console.log(code === 0 ? `packed (${name}): ok` : `packed (${name}) FAILED (exit ${code}):\n${output}`)
  }
  if (problems.length > 0 || outcomes.some((o) => o.code !== 0)) process.exit(1)
}
