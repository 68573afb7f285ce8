/**
 * Builds `@effect-flow/core` into `dist/` (run from packages/core: `node scripts/build.ts`, or `npm run build`
 * at the root).
 *
 * - JavaScript: tsup (esbuild) bundles the two public entries, `src/index.ts` and `src/testing.ts`, twice:
 *   ESM into `dist/esm` and CommonJS into `dist/cjs` (both with `.js` files and source maps; `dist/cjs` gets a
 *   `package.json` saying `{"type":"commonjs"}`). `effect` is a peer dependency and stays external.
 * - Declarations: TypeScript 7 is a native binary with no compiler API, so `tsup --dts` cannot run with it.
 *   `tsc -p tsconfig.build.json` emits `.d.ts` files (and declaration maps) into `dist/esm`; their relative
 *   `.ts` import specifiers are rewritten to `.js` (tsc's rewriteRelativeImportExtensions only rewrites
 *   JavaScript output), and they are copied to `dist/cjs`, where the nested package.json makes TypeScript
 *   read them as CommonJS declarations.
 */
import { spawn } from "node:child_process"
import { cp, mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises"
import { createRequire } from "node:module"
import { dirname, join, relative } from "node:path"
import { fileURLToPath } from "node:url"
import { build, type Format } from "tsup"

const packageDir = join(dirname(fileURLToPath(import.meta.url)), "..")
const dist = join(packageDir, "dist")
const require = createRequire(import.meta.url)

/** Bundle the public entries in one module format into `dist/<dir>`. */
const bundle = (format: Format, dir: string) =>
  build({
    entry: { index: "src/index.ts", testing: "src/testing.ts" },
    format,
    outDir: join(dist, dir),
    outExtension: () => ({ js: ".js" }),
    sourcemap: true,
    // Shared code goes to chunks in both formats, so a module imported by both entries exists once at run time.
    splitting: true,
    target: "es2022",
    platform: "neutral",
    external: [/^effect($|\/)/],
    tsconfig: join(packageDir, "tsconfig.build.json"),
    config: false,
    dts: false,
    clean: false,
    silent: true
  })

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

const declarations = async () => {
  const tsc = join(dirname(require.resolve("typescript/package.json")), "bin", "tsc")
  await run(process.execPath, [tsc, "-p", "tsconfig.build.json"])
  const esm = join(dist, "esm")
  const cjs = join(dist, "cjs")
  const files = (await listFiles(esm)).filter((file) => file.endsWith(".d.ts") || file.endsWith(".d.ts.map"))
  for (const file of files) {
    if (file.endsWith(".d.ts")) {
      const path = join(esm, file)
      await writeFile(path, rewriteSpecifiers(await readFile(path, "utf8")))
    }
    await mkdir(dirname(join(cjs, file)), { recursive: true })
    await cp(join(esm, file), join(cjs, file))
  }
  return files.filter((file) => file.endsWith(".d.ts")).length
}

const started = performance.now()
await rm(dist, { recursive: true, force: true })
await Promise.all([bundle("esm", "esm"), bundle("cjs", "cjs")])
await writeFile(join(dist, "cjs", "package.json"), `${JSON.stringify({ type: "commonjs" }, null, 2)}\n`)
const declarationCount = await declarations()
const jsCount = (await listFiles(dist)).filter((file) => file.endsWith(".js")).length
console.log(
  `@effect-flow/core built in ${Math.round(performance.now() - started)} ms: ` +
    `${jsCount} JS files (esm + cjs) and ${declarationCount} declaration files per format in ${relative(process.cwd(), dist) || "."}`
)
