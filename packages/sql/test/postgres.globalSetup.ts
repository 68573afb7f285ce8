/**
 * Vitest global setup: one throwaway PostgreSQL server for the test run, on a free port, in a fresh data folder;
 * stopped and deleted when the run ends. Tests read its URL with `inject("postgresUrl")` (see `./postgres.ts`).
 *
 * Reuse it from another package's `vitest.config.ts`: `globalSetup: ["../sql/test/postgres.globalSetup.ts"]`.
 *
 * As root (CI), `initdb` refuses to run, so the server runs as the `postgres` user through `runuser`. Where no
 * `initdb` exists, `postgresUrl` is `undefined` and `postgresSkip` says why; tests that need the server skip
 * with that message.
 */
import { execFileSync } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    postgresUrl: string | undefined
    postgresSkip: string | undefined
  }
}

const findBinDir = (): string | undefined => {
  const candidates: Array<string> = []
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8" }).trim())
  } catch {}
  try {
    for (const version of fs.readdirSync("/usr/lib/postgresql").sort().reverse()) {
      candidates.push(path.join("/usr/lib/postgresql", version, "bin"))
    }
  } catch {}
  return candidates.find((dir) => fs.existsSync(path.join(dir, "initdb")) && fs.existsSync(path.join(dir, "pg_ctl")))
}

const freePort = () =>
  new Promise<number>((resolve, reject) => {
    const server = net.createServer()
    server.once("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as net.AddressInfo
      server.close(() => resolve(port))
    })
  })

export default async function setup(project: TestProject) {
  const binDir = findBinDir()
  if (binDir === undefined) {
    const reason = "no PostgreSQL found (neither `pg_config --bindir` nor /usr/lib/postgresql/*/bin has initdb)"
    console.warn(`[postgres] Postgres tests skip: ${reason}`)
    project.provide("postgresUrl", undefined)
    project.provide("postgresSkip", reason)
    return
  }
  const asRoot = process.getuid?.() === 0
  const run = (bin: string, args: Array<string>) =>
    asRoot
      ? execFileSync("runuser", ["-u", "postgres", "--", path.join(binDir, bin), ...args], { stdio: "pipe" })
      : execFileSync(path.join(binDir, bin), args, { stdio: "pipe" })

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "effect-flow-pg-"))
  const data = path.join(dir, "data")
  fs.mkdirSync(data)
  if (asRoot) {
    const uid = Number(execFileSync("id", ["-u", "postgres"], { encoding: "utf8" }).trim())
    const gid = Number(execFileSync("id", ["-g", "postgres"], { encoding: "utf8" }).trim())
    fs.chownSync(dir, uid, gid)
    fs.chownSync(data, uid, gid)
  }
  const port = await freePort()
  const stop = () => {
    try {
      run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"])
    } catch {}
    fs.rmSync(dir, { recursive: true, force: true })
  }
  try {
    run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
    run("pg_ctl", [
      "-D",
      data,
      "-l",
      path.join(dir, "server.log"),
      "-w",
      "-o",
      `-h 127.0.0.1 -p ${port} -k ${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`,
      "start"
    ])
  } catch (error) {
    const log = fs.existsSync(path.join(dir, "server.log")) ? fs.readFileSync(path.join(dir, "server.log"), "utf8") : ""
    stop()
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error)
    throw new Error(`[postgres] could not start a throwaway PostgreSQL from ${binDir}:\n${stderr}\n${log}`)
  }
  project.provide("postgresUrl", `postgres://postgres@127.0.0.1:${port}/postgres`)
  project.provide("postgresSkip", undefined)
  return stop
}
