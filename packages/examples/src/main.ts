/**
 * The examples runner: `npm run example -- <name> [args...]` (or
 * `node --conditions=@effect-flow/source src/main.ts <name> [args...]`) runs one example's `main`;
 * with no name it lists the examples. Each example module is loaded only when it runs.
 *
 * @since 0.1.0
 */
import { NodeRuntime } from "@effect/platform-node"
import { Cause, Console, Effect, Schema } from "effect"

/**
 * What an example module exports: `main`, either an Effect or a function from the CLI arguments (after
 * the example's name) to an Effect. It must need no services: an example provides its own Layers.
 *
 * @example
 * ```ts
 * export const main = Effect.gen(function*() { yield* Console.log("hello") }) // or (args) => Effect...
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface ExampleModule {
  readonly main:
    | Effect.Effect<unknown, unknown, never>
    | ((args: ReadonlyArray<string>) => Effect.Effect<unknown, unknown, never>)
}

/**
 * One registered example.
 *
 * @example
 * ```ts
 * const example: Example = { name: "parallel", description: "fan-out / fan-in", load: () => import("./parallel.ts") }
 * ```
 *
 * @since 0.1.0
 * @category models
 */
export interface Example {
  readonly name: string
  /** One line: what the example teaches. */
  readonly description: string
  readonly load: () => Promise<ExampleModule>
}

/**
 * Every example, in the order of the lesson.
 *
 * @example
 * ```ts
 * examples.map((e) => e.name) // ["web-scraper", "parallel", ...]
 * ```
 *
 * @since 0.1.0
 * @category registry
 */
export const examples: ReadonlyArray<Example> = [
  {
    name: "web-scraper",
    description: "the lesson's exercise: fetch URLs with 5 workers, report successes and failures (args: URLs)",
    load: () => import("./web-scraper.ts")
  },
  {
    name: "parallel",
    description: "fan-out with ctx.send, 4 workers, fan-in with ctx.collect (8 items x 0.5 s in 1 s)",
    load: () => import("./parallel.ts")
  },
  {
    name: "document-analysis",
    description: "the complete fan-out / fan-in pattern: analyse 4 documents with 5 workers, aggregate",
    load: () => import("./document-analysis.ts")
  },
  {
    name: "multi-model",
    description: "query several models in parallel and collect their responses",
    load: () => import("./multi-model.ts")
  },
  {
    name: "mixed-results",
    description: "collect SuccessEvent | ErrorEvent together; why [Success, Error] * n stalls",
    load: () => import("./mixed-results.ts")
  },
  {
    name: "robust-parallel",
    description: "typed errors caught in the worker become result events; report completed and failed",
    load: () => import("./robust-parallel.ts")
  },
  {
    name: "accumulator",
    description: "4 workers accumulate into shared state with the atomic ctx.store.edit",
    load: () => import("./accumulator.ts")
  },
  {
    name: "nested",
    description: "a step that runs another workflow: its result flows on, its errors are typed",
    load: () => import("./nested.ts")
  },
  {
    name: "service",
    description: "a step that uses an Effect service, provided by the caller's Layer",
    load: () => import("./service.ts")
  },
  {
    name: "rag",
    description: "retrieval as a fan-out with an Embedder service, run from async code with { layer } (args: question)",
    load: () => import("./rag.ts")
  },
  {
    name: "critic-loop",
    description: "a writer and a critic loop until approval; typed RoundEvents on the stream (args: topic)",
    load: () => import("./critic-loop.ts")
  },
  {
    name: "hitl",
    description: "human in the loop from async/await: for await over typed events, InputRequiredEvent and waitFor",
    load: () => import("./hitl.ts")
  },
  {
    name: "durable",
    description: "a durable run on a SQLite file, SIGKILLed part way and resumed by its runId from the journal",
    load: () => import("./durable.ts")
  },
  {
    name: "cluster",
    description:
      "distribute: true across processes: Postgres, 3 runners and a client; a 100-item fan-out, one runner SIGKILLed part way",
    load: () => import("./cluster.ts")
  }
]

/**
 * The runner was asked for an example that does not exist.
 *
 * @example
 * ```ts
 * new UnknownExampleError({ example: "paralel", known: ["parallel"] }).message
 * ```
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownExampleError extends Schema.TaggedError<UnknownExampleError>()("UnknownExampleError", {
  example: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message() {
    return `No example is named "${this.example}". Examples: ${this.known.join(", ")}.\nRun without a name to list them.`
  }
}

/**
 * Print the usage line and every example with its description.
 *
 * @example
 * ```ts
 * yield* list
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const list: Effect.Effect<void> = Effect.gen(function* () {
  const width = Math.max(...examples.map((e) => e.name.length))
  yield* Console.log("Usage: npm run example -- <name> [args...]")
  yield* Console.log("")
  yield* Console.log("Examples:")
  for (const e of examples) yield* Console.log(`  ${e.name.padEnd(width)}  ${e.description}`)
})

/**
 * Run the example named by `args[0]` with the remaining arguments; list the examples when there is no
 * name (or `--help`). Fails with {@link UnknownExampleError} for an unknown name, or with the example's
 * own error.
 *
 * @example
 * ```ts
 * yield* run(["document-analysis"])
 * // Analyzed 4 documents
 * // Total words: 21
 * ```
 *
 * @since 0.1.0
 * @category running
 */
export const run = (args: ReadonlyArray<string>): Effect.Effect<void, unknown> =>
  Effect.gen(function* () {
    const [name, ...rest] = args
    if (name === undefined || name === "--help" || name === "-h") return yield* list
    const example = examples.find((e) => e.name === name)
    if (example === undefined) {
      return yield* new UnknownExampleError({ example: name, known: examples.map((e) => e.name) })
    }
    const { main } = yield* Effect.promise(() => example.load())
    yield* Effect.isEffect(main) ? main : main(rest)
  })

// Print an unknown name as a plain message, any other failure with its full cause.
const report = (cause: Cause.Cause<unknown>): Effect.Effect<void> => {
  if (Cause.hasInterruptsOnly(cause)) return Effect.void
  const error = Cause.findError(cause)
  return Console.error(
    error._tag === "Success" && error.success instanceof UnknownExampleError
      ? error.success.message
      : Cause.pretty(cause)
  )
}

if (import.meta.main) {
  NodeRuntime.runMain(run(process.argv.slice(2)).pipe(Effect.tapCause(report)), { disableErrorReporting: true })
}
