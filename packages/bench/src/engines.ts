/**
 * effect-flow's engine as it was at an earlier commit, for a before/after in the same run on the same machine:
 * `packages/core/src` at that commit, extracted once into `packages/bench/.engines/<sha>` (ignored by git) and
 * imported from there. The profile's `--engine` uses it for tiny runs, and the fan-out rows use it for the engine
 * as issue 15 was filed.
 *
 * @since 0.1.0
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as path from "node:path"
import type * as Core from "@effect-flow/core"

/**
 * The last commit before issue 15's work began (`fe7966d`, the parent of `95e73f7`, which put the issue's targets
 * into the benchmark): the engine whose rows the issue's "today" column describes.
 *
 * @since 0.1.0
 */
export const FILED_ENGINE = "fe7966d23aec9c880a51d1759db1c079ecad6353"

const repoRoot = path.resolve(import.meta.dirname, "../../..")

/**
 * The engine's public module at `rev` (any git revision of this repository). Fails if the repository's history is
 * not at hand (a shallow clone, a tarball).
 *
 * @example
 * ```ts
 * const core = await engineAt(FILED_ENGINE)
 * const wf = core.defineWorkflow({ name: "w" })
 * ```
 *
 * @since 0.1.0
 */
export const engineAt = async (rev: string): Promise<typeof Core> => {
  const sha = execFileSync("git", ["-C", repoRoot, "rev-parse", "--verify", `${rev}^{commit}`], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"]
  }).trim()
  const dir = path.resolve(import.meta.dirname, "../.engines", sha)
  if (!fs.existsSync(path.join(dir, "src/index.ts"))) {
    fs.rmSync(dir, { recursive: true, force: true })
    // Extracted into a fresh folder and renamed into place, so a process that dies half-way leaves no partial copy.
    const partial = `${dir}.${process.pid}.partial`
    fs.mkdirSync(partial, { recursive: true })
    const archive = execFileSync("git", ["-C", repoRoot, "archive", sha, "packages/core/src"], {
      maxBuffer: 1 << 28
    })
    execFileSync("tar", ["-x", "-C", partial, "--strip-components=2"], { input: archive })
    try {
      fs.renameSync(partial, dir)
    } catch (e) {
      // Another process extracted it first.
      fs.rmSync(partial, { recursive: true, force: true })
      if (!fs.existsSync(path.join(dir, "src/index.ts"))) throw e
    }
  }
  return (await import(path.join(dir, "src/index.ts"))) as typeof Core
}
