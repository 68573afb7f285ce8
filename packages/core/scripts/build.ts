/**
 * Builds `@effect-flow/core` into `dist/` (run from packages/core: `node scripts/build.ts`, or `npm run build`
 * at the root).
 *
 * One ES module build, by TypeScript itself (`tsc -p tsconfig.build.json`): a `.js` file per source module
 * and a `.d.ts` with its declaration map (so "go to definition" opens the shipped `src/`). Why this shape:
 *
 * - ESM only. `effect` 4 is ESM only, so every CommonJS consumer of effect-flow already loads ESM through
 *   Node's `require(esm)` (Node >= 22.12; our engines say >= 22.19): `require("@effect-flow/core")` does the
 *   same, and there is one copy of the library in a process, whichever way it is imported (no dual-package
 *   hazard: one `StopEvent` class, one `instanceof`).
 * - No bundler: module for module, nothing is renamed, so class names (`StopEvent`, `WorkflowStalledError`)
 *   are what the sources say, in logs and errors.
 * - Sources once, and small: the declaration maps point at `../src/*.ts` (shipped) instead of embedding
 *   them; the JavaScript has no comments (the sources and declarations hold the docs) and no source maps
 *   (it is the sources minus their types, not minified, so stack traces read as they are; maps would add
 *   a seventh of the tarball).
 *
 * tsc's `rewriteRelativeImportExtensions` rewrites `./Event.ts` to `./Event.js` in JavaScript only; the
 * declarations get the same rewrite here (same length, so declaration maps stay valid).
 */
import { spawn } from "node:child_process"
import { readdir, readFile, rm, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join, relative, sep } from "node:path"
import { fileURLToPath } from "node:url"

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const dist = join(packageDir, "dist")
const require = createRequire(import.meta.url)

/** Run a command in the package directory; reject with its output if it fails. */
const run = (command: string, args: ReadonlyArray<string>) =>
  new Promise<void>((resolve, reject) => {
    const child = spawn(command, args, { cwd: packageDir, stdio: ["ignore", "pipe", "pipe"] })
    let output = ""
    child.stdout.on("data", (chunk) => (output += chunk))
    child.stderr.on("data", (chunk) => (output += chunk))
    child.on("error", reject)
    child.on("close", (code) =>
      code === 0 ? resolve() : reject(new Error(`${command} ${args.join(" ")} exited with ${code}\n${output}`))
    )
  })

/** Every file below `dir`, as paths relative to it. */
const listFiles = async (dir: string): Promise<Array<string>> =>
  (await readdir(dir, { recursive: true, withFileTypes: true }))
    .filter((entry) => entry.isFile())
    .map((entry) => relative(dir, join(entry.parentPath, entry.name)))

/** `from "./Event.ts"` and `import("./Event.ts")` become `.js`: same length, so declaration maps stay valid. */
const rewriteSpecifiers = (source: string) =>
  source.replace(/((?:from|import)\s*\(?\s*)(["'])(\.\.?\/[^"']*?)\.ts\2/g, "$1$2$3.js$2")

/** Build into `outDir` (default `dist/`); returns what it wrote, relative to it. */
export const build = async (outDir: string = dist): Promise<ReadonlyArray<string>> => {
  await rm(outDir, { recursive: true, force: true })
  const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc")
  // Two passes at once: declarations keep their JSDoc (editors show it); JavaScript drops comments, which the
  // shipped sources and declarations already hold, and source maps (see above).
  await Promise.all([
    run(process.execPath, [tsc, "-p", "tsconfig.build.json", "--outDir", outDir, "--emitDeclarationOnly"]),
    run(process.execPath, [
      tsc,
      ...["-p", "tsconfig.build.json", "--outDir", outDir, "--declaration", "false", "--declarationMap", "false"],
      ...["--removeComments", "--sourceMap", "false"]
    ])
  ])
  // Declaration maps serve go-to-definition from a consumer's code, which lands in public modules only: the
  // internal modules' maps would be dead weight (the interpreter is split into many small modules).
  const internalMap = (f: string) => f.startsWith(`internal${sep}`) && f.endsWith(".d.ts.map")
  await Promise.all((await listFiles(outDir)).filter(internalMap).map((f) => rm(join(outDir, f))))
  const files = await listFiles(outDir)
  for (const file of files.filter((f) => f.endsWith(".d.ts"))) {
    const path = join(outDir, file)
    let source = rewriteSpecifiers(await readFile(path, "utf8"))
    // The interpreter's declarations are there for the types public ones name; their JSDoc (half their bytes)
    // is read in the sources, not shown to a consumer, so it does not ship.
    if (file.startsWith(`internal${sep}`)) {
      source = source.replace(/\n\/\/# sourceMappingURL=\S+\s*$/, "\n").replace(/[ \t]*\/\*\*[\s\S]*?\*\/[ \t]*\n/g, "")
    }
    await writeFile(path, source)
  }
  return files
}

if (import.meta.main) {
  const started = performance.now()
  const files = await build()
  console.log(
    `@effect-flow/core built in ${Math.round(performance.now() - started)} ms: ` +
      `${files.filter((f) => f.endsWith(".js")).length} modules and ${files.filter((f) => f.endsWith(".d.ts")).length} ` +
      `declaration files in ${relative(process.cwd(), dist) || "."}`
  )
}
