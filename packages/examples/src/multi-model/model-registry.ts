/**
 * The models a multi-model workflow may query, by name: the Effect counterpart of the lesson's
 * `models = { "gpt-4o-mini": OpenAI(...), "gpt-4o": OpenAI(...) }` dictionary. Each entry is any `Layer`
 * providing Effect AI's `LanguageModel` (a provider's `Model`, a local fake, a test double), built once
 * when the registry's layer is built.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, Schema } from "effect"
import { LanguageModel } from "effect/ai"

/**
 * A step asked the registry for a model it does not hold.
 *
 * @since 0.1.0
 * @category errors
 */
export class UnknownModelError extends Schema.TaggedError<UnknownModelError>()("UnknownModelError", {
  model: Schema.String,
  known: Schema.Array(Schema.String)
}) {
  override get message() {
    return `Unknown model "${this.model}"; the registry holds: ${this.known.join(", ") || "no models"}`
  }
}

/**
 * The registry service: the model names, in the order given, and the `LanguageModel` for each.
 *
 * @example
 * ```ts
 * import { Effect } from "effect"
 * import { ModelRegistry } from "./model-registry.ts"
 * import * as LocalModel from "./local-model.ts"
 *
 * const answers = Effect.gen(function*() {
 *   const registry = yield* ModelRegistry
 *   return yield* Effect.forEach(registry.names, (name) =>
 *     registry.get(name).pipe(Effect.flatMap((model) => model.generateText({ prompt: "Hi" }))))
 * }).pipe(Effect.provide(ModelRegistry.layer({ small: LocalModel.model("small"), large: LocalModel.model("large") })))
 * ```
 *
 * @since 0.1.0
 * @category services
 */
export class ModelRegistry extends Context.Service<
  ModelRegistry,
  {
    readonly names: ReadonlyArray<string>
    readonly get: (name: string) => Effect.Effect<LanguageModel.LanguageModel, UnknownModelError>
  }
>()("@effect-flow/examples/multi-model/ModelRegistry") {
  /**
   * A registry of the given models, keyed by the name steps use. Builds every model layer (in the
   * registry's scope); the registry needs what the model layers need.
   *
   * @since 0.1.0
   */
  static readonly layer = <E, R>(
    models: Readonly<Record<string, Layer.Layer<LanguageModel.LanguageModel, E, R>>>
  ): Layer.Layer<ModelRegistry, E, R> =>
    Layer.effect(
      ModelRegistry,
      Effect.gen(function* () {
        const built = new Map<string, LanguageModel.LanguageModel>()
        for (const [name, layer] of Object.entries(models)) {
          const context = yield* Layer.build(layer)
          built.set(name, Context.get(context, LanguageModel.LanguageModel))
        }
        const names = [...built.keys()]
        return ModelRegistry.of({
          names,
          get: (name) => {
            const model = built.get(name)
            return model === undefined
              ? Effect.fail(new UnknownModelError({ model: name, known: names }))
              : Effect.succeed(model)
          }
        })
      })
    )
}
