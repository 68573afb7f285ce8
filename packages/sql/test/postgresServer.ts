/**
 * A throwaway PostgreSQL server: a fresh data folder, a free port on 127.0.0.1, fsync off; `stop` ends it and
 * deletes the folder. Used by the Vitest global setup (`postgres.globalSetup.ts`) and the journal benchmark.
 *
 * As root (CI), `initdb` refuses to run, so the server runs as the `postgres` user through `runuser`.
 */
import { execFileSync, spawn } from "node:child_process"
import * as fs from "node:fs"
import * as net from "node:net"
import * as os from "node:os"
import * as path from "node:path"

const findBinDir = (): string | undefined => {
  const candidates: Array<string> = []
  try {
    candidates.push(execFileSync("pg_config", ["--bindir"], { encoding: "utf8", stdio: "pipe" }).trim())
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

/**
 * A running server, or why there is none. `halt` stops the server (fast: it disconnects every client; with synchronous_commit off an immediate stop could lose the last commits) and keeps its data, `restart` starts it again
 * on the same port (for tests of a database that goes away); `stop` ends it and deletes its folder.
 */
export type Started =
  | { readonly url: string; readonly stop: () => void; readonly halt: () => void; readonly restart: () => void }
  | { readonly skip: string }

/** Start one server. Throws when PostgreSQL is installed but does not start (with its log). */
export const startPostgres = async (): Promise<Started> => {
  const binDir = findBinDir()
  if (binDir === undefined) {
    return { skip: "no PostgreSQL found (neither `pg_config --bindir` nor /usr/lib/postgresql/*/bin has initdb)" }
  }
  const asRoot = process.getuid?.() === 0
  // runuser lives in sbin, which a root shell's PATH may lack
  const runuser = ["/usr/sbin/runuser", "/sbin/runuser", "/usr/bin/runuser"].find((p) => fs.existsSync(p)) ?? "runuser"
  const run = (bin: string, args: Array<string>) =>
    asRoot
      ? execFileSync(runuser, ["-u", "postgres", "--", path.join(binDir, bin), ...args], { stdio: "pipe" })
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
  const startServer = () =>
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
  try {
    run("initdb", ["-D", data, "-A", "trust", "-U", "postgres", "--no-sync", "-E", "UTF8"])
    startServer()
  } catch (error) {
    const logFile = path.join(dir, "server.log")
    const log = fs.existsSync(logFile) ? fs.readFileSync(logFile, "utf8") : ""
    stop()
    const stderr = (error as { stderr?: Buffer }).stderr?.toString() ?? String(error)
    throw new Error(`could not start a throwaway PostgreSQL from ${binDir}:\n${stderr}\n${log}`)
  }
  watchOwner(dir, asRoot ? [runuser, "-u", "postgres", "--"] : [], path.join(binDir, "pg_ctl"), data)
  const halt = () => {
    run("pg_ctl", ["-D", data, "-m", "fast", "-w", "stop"])
  }
  return { url: `postgres://postgres@127.0.0.1:${port}/postgres`, stop, halt, restart: startServer }
}

/**
 * A detached watchdog that stops the server and deletes its folder once this process is gone without having
 * called `stop` (a test runner killed with SIGKILL runs no teardown). After a normal `stop` the folder is gone
 * and the watchdog ends by itself within a second.
 */
const watchOwner = (dir: string, asUser: ReadonlyArray<string>, pgCtl: string, data: string): void => {
  const quote = (s: string) => `'${s.replaceAll("'", "'\\''")}'`
  const stopCommand = [...asUser, pgCtl, "-D", data, "-m", "fast", "-w", "stop"].map(quote).join(" ")
  const script = [
    `while kill -0 ${process.pid} 2>/dev/null && [ -d ${quote(data)} ]; do sleep 1; done`,
    `if [ -d ${quote(data)} ]; then ${stopCommand} >/dev/null 2>&1; rm -rf ${quote(dir)}; fi`
  ].join("\n")
  spawn("sh", ["-c", script], { detached: true, stdio: "ignore" }).unref()
}
