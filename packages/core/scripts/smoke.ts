/**
 * Smoke check of the BUILT `@effect-flow/core` (run `npm run build` first; root script: `npm run smoke`).
 *
 * Runs three consumers of `dist/` at once, none with the "@effect-flow/source" condition:
 * - `smoke.mjs`: `import` from plain Node ESM, runs a fan-out/fan-in workflow to its result, checks the
 *   testing entry and that `@effect-flow/core/internal/*` is blocked (ERR_PACKAGE_PATH_NOT_EXPORTED);
 * - `smoke.cjs`: the same through `require` (dist/cjs);
 * - `smoke-types/`: `tsc` type-checks an `.mts` and a `.cts` consumer against the emitted declarations
 *   (library check on, so the `.d.ts` files themselves must be valid), and this script checks that tsc
 *   loaded dist/esm for the one and dist/cjs for the other, never the sources.
 */
import { spawn } from "node:child_process"
import { existsSync } from "node:fs"
import { createRequire } from "node:module"
import { dirname, join, sep } from "node:path"
import { fileURLToPath } from "node:url"

const scripts = dirname(fileURLToPath(import.meta.url))
const packageDir = join(scripts, "..")
const require = createRequire(import.meta.url)

interface Outcome {
  readonly name: string
  readonly code: number | null
  readonly output: string
}

const run = (name: string, args: ReadonlyArray<string>) =>
  new Promise<Outcome>((resolve) => {
    const child = spawn(process.execPath, args, { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("error", (error) => resolve({ name, code: null, output: String(error) }))
    child.on("close", (code) => resolve({ name, code, output }))
  })

/** tsc's `--listFiles` must show the consumers reading dist/esm and dist/cjs declarations, and no source file. */
const checkTypesResolution = (outcome: Outcome): Outcome => {
  const lines = outcome.output.split("\n").map((line) => line.trim())
  // On failure show tsc's diagnostics, not the hundreds of absolute paths --listFiles printed.
  if (outcome.code !== 0) return { ...outcome, output: `${lines.filter((line) => !line.startsWith("/")).join("\n")}\n` }
  const files = lines
  const dist = join(packageDir, "dist")
  const problems = [
    ...[join(dist, "esm", "index.d.ts"), join(dist, "cjs", "index.d.ts"), join(dist, "esm", "testing.d.ts")]
      .filter((file) => !files.includes(file))
      .map((file) => `tsc did not load ${file}`),
    ...files.filter((file) => file.startsWith(join(packageDir, "src") + sep)).map((file) => `tsc loaded ${file}`)
  ]
  return problems.length === 0
    ? { ...outcome, output: "smoke (types): .mts and .cts consumers type-check against dist/esm and dist/cjs\n" }
    : { ...outcome, code: 1, output: `${problems.join("\n")}\n` }
}

if (!existsSync(join(packageDir, "dist", "esm", "index.js")) || !existsSync(join(packageDir, "dist", "cjs"))) {
  console.error("smoke: packages/core/dist is missing or incomplete; run `npm run build` first")
  process.exit(1)
}

const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc")
const outcomes = await Promise.all([
  run("esm", [join(scripts, "smoke.mjs")]),
  run("cjs", [join(scripts, "smoke.cjs")]),
  run("types", [tsc, "-p", join(scripts, "smoke-types", "tsconfig.json"), "--listFiles"]).then(checkTypesResolution)
])

for (const { code, name, output } of outcomes) {
  process.stdout.write(code === 0 ? output : `smoke (${name}) FAILED (exit ${code}):\n${output}`)
}
const failed = outcomes.filter((outcome) => outcome.code !== 0).length
if (failed > 0) {
  console.error(`smoke: ${failed} of ${outcomes.length} checks failed`)
  process.exit(1)
}
