/**
 * Draw an example's workflow: `npm run draw -- <example> [export] [--markdown]` prints the Mermaid
 * flowchart of the workflow an example module exports (`Diagram.toMermaid`), and lists each problem
 * `Workflow.validate` finds on stderr (exit code 1 when there is one). With no name it lists the examples.
 *
 * An example is any `src/<name>.ts` besides `main.ts` and `draw.ts`; its workflow is found among its
 * exports with `Workflow.isWorkflow`. A module that exports a partial workflow (a base) and the workflows
 * built on it draws only the complete ones. When a module has several, each is printed in its own
 * Markdown ```` ```mermaid ```` block; pass an export name to draw just one.
 *
 * @since 0.1.0
 */
import { readdir } from "node:fs/promises"
import { join } from "node:path"
import { fileURLToPath, pathToFileURL } from "node:url"
import { NodeRuntime } from "@effect/platform-node"
import { Diagram, Workflow } from "@effect-flow/core"
import { Cause, Console, Effect, Schema } from "effect"

const srcDir = fileURLToPath(new URL(".", import.meta.url))

/** Modules in `src/` that are not examples. */
const notExamples: ReadonlySet<string> = new Set(["main", "draw"])

/**
 * Drawing failed: the example does not exist, or exports no workflow (or not the one asked for).
 *
 * @example
 * ```ts
 * new DrawError({ reason: `No example is named "paralel".` }).message
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class DrawError extends Schema.TaggedError<DrawError>()("DrawError", {
  reason: Schema.String
}) {
  override get message() {
    return this.reason
  }
}

/**
 * The names of the example modules in `dir` (default: this package's `src/`): every `<name>.ts` but
 * `main.ts` and `draw.ts`, sorted.
 *
 * @example
 * ```ts
 * const names = yield* exampleNames() // ["accumulator", "document-analysis", "parallel", ...]
 * ```
 *
 * @since 0.1.0
 * @category discovery
 */
export const exampleNames = (dir: string = srcDir): Effect.Effect<ReadonlyArray<string>> =>
  Effect.map(
    Effect.promise(() => readdir(dir, { withFileTypes: true })),
    (entries) =>
      entries
        .filter((e) => e.isFile() && e.name.endsWith(".ts") && !e.name.endsWith(".d.ts"))
        .map((e) => e.name.slice(0, -".ts".length))
        .filter((name) => !notExamples.has(name) && !name.endsWith(".test"))
        .sort()
  )

/**
 * The workflows a module exports, by export name, leaving out partial ones: a workflow whose steps
 * are all steps of another exported workflow (a base it was built on with `.step(...)`). An export
 * that is the same workflow as an earlier one is listed once.
 *
 * @example
 * ```ts
 * workflowsOf(await import("./mixed-results.ts")).map(([name]) => name)
 * // ["MixedResultsWorkflow", "MixedResultsLiteralWorkflow"]
 * ```
 *
 * @since 0.1.0
 * @category discovery
 */
export const workflowsOf = (module: Record<string, unknown>): ReadonlyArray<readonly [string, Workflow.Any]> => {
  const found: Array<readonly [string, Workflow.Any]> = []
  for (const [name, value] of Object.entries(module)) {
    if (Workflow.isWorkflow(value) && !found.some(([, wf]) => wf === value)) found.push([name, value])
  }
  const isBaseOf = (base: Workflow.Any, wf: Workflow.Any) =>
    base !== wf && base.steps.length < wf.steps.length && base.steps.every((s) => wf.steps.includes(s))
  return found.filter(([, wf]) => !found.some(([, other]) => isBaseOf(wf, other)))
}

const importExample = (name: string): Effect.Effect<Record<string, unknown>> =>
  Effect.promise(() => import(/* @vite-ignore */ pathToFileURL(join(srcDir, `${name}.ts`)).href))

/**
 * Import the example module `name` from `src/`.
 *
 * @since 0.1.0
 * @category discovery
 */
export const loadExample = (name: string): Effect.Effect<Record<string, unknown>, DrawError> =>
  Effect.gen(function* () {
    const names = yield* exampleNames()
    if (!names.includes(name)) {
      return yield* new DrawError({
        reason: `No example is named "${name}". Examples: ${names.join(", ")}.\nRun without a name to list them.`
      })
    }
    return yield* importExample(name)
  })

/**
 * One drawn workflow: its export name, the Mermaid flowchart, and the problems `Workflow.validate` found.
 *
 * @since 0.1.0
 * @category models
 */
export interface Drawing {
  readonly exportName: string
  readonly mermaid: string
  readonly problems: ReadonlyArray<string>
}

/**
 * Draw the workflows of the example `name` (or only its export `exportName`).
 *
 * @example
 * ```ts
 * const [drawing] = yield* drawExample("parallel")
 * console.log(drawing.mermaid) // flowchart TD ...
 * ```
 *
 * @since 0.1.0
 * @category drawing
 */
export const drawExample = (name: string, exportName?: string): Effect.Effect<ReadonlyArray<Drawing>, DrawError> =>
  Effect.gen(function* () {
    const module = yield* loadExample(name)
    const all = workflowsOf(module)
    const chosen =
      exportName === undefined
        ? all
        : Object.entries(module).filter(
            (entry): entry is [string, Workflow.Any] => entry[0] === exportName && Workflow.isWorkflow(entry[1])
          )
    if (chosen.length === 0) {
      return yield* new DrawError({
        reason:
          exportName === undefined
            ? `Example "${name}" exports no workflow: export the value built with defineWorkflow(...).`
            : `Example "${name}" exports no workflow named "${exportName}". Its workflows: ${
                all.map(([n]) => n).join(", ") || "none"
              }.`
      })
    }
    return chosen.map(([n, wf]) => ({
      exportName: n,
      mermaid: Diagram.toMermaid(wf),
      problems: Workflow.problems(wf).map((p) => `[${p.check}] ${p.message}`)
    }))
  })

const usage = "Usage: npm run draw -- <example> [export] [--markdown]"

/**
 * Print the usage line and every example with the workflows it exports.
 *
 * @since 0.1.0
 * @category running
 */
export const list: Effect.Effect<void> = Effect.gen(function* () {
  const names = yield* exampleNames()
  const width = Math.max(0, ...names.map((n) => n.length))
  yield* Console.log(usage)
  yield* Console.log("")
  yield* Console.log("Examples:")
  for (const name of names) {
    const module = yield* importExample(name)
    const workflows = workflowsOf(module).map(([n]) => n)
    yield* Console.log(`  ${name.padEnd(width)}  ${workflows.join(", ") || "(no workflow export)"}`)
  }
})

/**
 * The command line: `[example] [export] [--markdown]`. Prints the diagram(s) on stdout and the problems
 * found on stderr, and succeeds with how many problems were found (the script then exits with code 1).
 *
 * @example
 * ```ts
 * yield* run(["parallel"])
 * // flowchart TD
 * //   ev_StartEvent(["StartEvent"]):::start
 * //   ...
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = (args: ReadonlyArray<string>): Effect.Effect<{ readonly problems: number }, DrawError> =>
  Effect.gen(function* () {
    const markdownFlag = args.includes("--markdown")
    const [name, exportName] = args.filter((a) => a !== "--markdown")
    if (name === undefined || name === "--help" || name === "-h") {
      yield* list
      return { problems: 0 }
    }
    const drawings = yield* drawExample(name, exportName)
    const markdown = markdownFlag || drawings.length > 1
    for (const [i, d] of drawings.entries()) {
      if (i > 0) yield* Console.log("")
      if (markdown) yield* Console.log(`${drawings.length > 1 ? `${d.exportName}:\n\n` : ""}\`\`\`mermaid`)
      yield* Console.log(d.mermaid)
      if (markdown) yield* Console.log("```")
      if (d.problems.length > 0) {
        yield* Console.error(`\n${name} / ${d.exportName} has ${d.problems.length} problem(s):`)
        for (const p of d.problems) yield* Console.error(`  - ${p}`)
      }
    }
    return { problems: drawings.reduce((n, d) => n + d.problems.length, 0) }
  })

// Print a DrawError as a plain message, any other failure with its full cause.
const report = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.void
  const error = Cause.findError(cause)
  return Console.error(
    error._tag === "Success" && error.success instanceof DrawError ? error.success.message : Cause.pretty(cause)
  )
}

if (import.meta.main) {
  NodeRuntime.runMain(
    run(process.argv.slice(2)).pipe(
      Effect.tap(({ problems }) =>
        Effect.sync(() => {
          if (problems > 0) process.exitCode = 1
        })
      ),
      Effect.tapCause(report)
    ),
    { disableErrorReporting: true }
  )
}
