/**
 * Runs snippet modules one after another in this one process (so `effect` and `@effect-flow/core` load once)
 * and prints one JSON line per module: `{ "file", "ok", "error"?, "output" }`. Each module gets `timeout` ms
 * (top-level await included); what it logs is captured, not printed. Used by `docs-snippets.test.ts`:
 * `node --conditions=@effect-flow/source run.ts <timeoutMs> <file.ts>...`.
 */
import { pathToFileURL } from "node:url"
import { format } from "node:util"

const [timeoutArg, ...files] = process.argv.slice(2)
const timeout = Number(timeoutArg)

let output: Array<string> = []
for (const method of ["log", "info", "warn", "error", "debug"] as const) {
  console[method] = (...args: Array<unknown>) => {
    output.push(format(...args))
  }
}

// A rejection nobody handles belongs to the snippet running now.
let stray: unknown
process.on("unhandledRejection", (reason) => {
  stray ??= reason
})

const describe = (error: unknown) => (error instanceof Error ? (error.stack ?? error.message) : format(error))

for (const file of files) {
  output = []
  stray = undefined
  let timer: ReturnType<typeof setTimeout> | undefined
  const result = await Promise.race([
    import(pathToFileURL(file).href).then(
      () => ({ ok: true as const }),
      (error: unknown) => ({ ok: false as const, error: describe(error) })
    ),
    new Promise<{ ok: false; error: string }>((resolve) => {
      timer = setTimeout(() => resolve({ ok: false, error: `did not finish within ${timeout} ms` }), timeout)
    })
  ])
  clearTimeout(timer)
  // Let a rejection from the module's last lines surface before judging it.
  await new Promise((resolve) => setImmediate(resolve))
  const outcome = result.ok && stray !== undefined ? { ok: false, error: `unhandled: ${describe(stray)}` } : result
  process.stdout.write(`${JSON.stringify({ file, ...outcome, output: output.join("\n") })}\n`)
}
process.exit(0)
