import * as fs from "node:fs"
import * as os from "node:os"
import * as path from "node:path"
import { describe } from "@effect/vitest"
import { RunStore } from "@effect-flow/core"
import { Effect, Layer } from "effect"
import { SqliteRunStore, SqlRunStore } from "../src/index.ts"
import { freshDatabase, pgLayer, postgresTitle, postgresUrl } from "./postgres.ts"
import { runStoreContract } from "./RunStoreContract.ts"

runStoreContract("memory", RunStore.layerMemory)

runStoreContract(
  "SQLite file",
  SqliteRunStore.layer({ filename: path.join(fs.mkdtempSync(path.join(os.tmpdir(), "ef-store-")), "runs.db") })
)

describe.skipIf(postgresUrl === undefined)(`Postgres${postgresTitle}`, () => {
  runStoreContract(
    "Postgres",
    Layer.unwrap(
      Effect.map(freshDatabase("contract"), (url) => SqlRunStore.layer({ name: url }).pipe(Layer.provide(pgLayer(url))))
    )
  )
})
