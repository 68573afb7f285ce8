// Type-level smoke check of the BUILT package for a CommonJS consumer: `require` must resolve to
// dist/cjs/*.d.ts, which TypeScript reads as CommonJS declarations because of dist/cjs/package.json.
// (`import x = require()` is how TypeScript types a require; tsconfig.json allows it for this check.)
import core = require("@effect-flow/core")
import testing = require("@effect-flow/core/testing")
import effect = require("effect")

const doubler = core
  .defineWorkflow({ name: "doubler", input: effect.Schema.Struct({ n: effect.Schema.Number }) })
  .step(core.StartEvent, (ev) => effect.Effect.succeed(new core.StopEvent({ result: ev.n * 2 })), { name: "double" })

export const result: Promise<unknown> = core.Workflow.runPromise(doubler, { n: 21 })
export const virtual = testing.runVirtual(core.Workflow.run(doubler, { n: 21 }))

// @ts-expect-error the input is checked against the workflow's input schema
core.Workflow.runPromise(doubler, { n: "21" })
