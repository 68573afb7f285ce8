/**
 * The `Effect.gen`-arrow row (`effectFlow.ts`) on the engine as issue 15 was filed (`engines.ts`), measured in the
 * same run as today's rows: issue 15's documented-style target is "≥ 2× that row's throughput", where "that row" is
 * the arrow row of the issue's "today" column.
 *
 * @since 0.1.0
 */
import type { Adapter } from "../adapter.ts"
import { engineAt, FILED_ENGINE } from "../engines.ts"
import { arrowOn } from "./effectFlow.ts"

/**
 * The arrow row on the filed engine; loading it extracts that engine from git once.
 *
 * @example
 * ```ts
 * const runner = (await load()).make(4, noop)
 * await runner.run([0, 1, 2])
 * ```
 *
 * @since 0.1.0
 */
export const load = async (): Promise<Adapter> => {
  const core = await engineAt(FILED_ENGINE)
  return {
    name: "effect-flow as issue 15 was filed",
    kind: "engine",
    how: `the \`Effect.gen\`-arrow row (as \`effect-flow\`) on the engine at \`${FILED_ENGINE.slice(0, 7)}\`, before issue 15's work: the row the issue's "today" column describes`,
    packages: ["effect"],
    make: arrowOn(core)
  }
}
