// Finds a Redis for the CLI's Redis tests and hands its URL to them (`inject("redisUrl")`):
// REDIS_URL, else 127.0.0.1:6379 when it answers PING, else a `redis-server` of our own on a
// free loopback port (no persistence), stopped at teardown; "" when there is none (those
// tests are then skipped). The tests keep their keys under a prefix of their own.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { connect, createServer } from "node:net"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    /** The Redis the tests use, e.g. `redis://127.0.0.1:6379`. */
    readonly redisUrl: string
  }
}

/** Resolves true when `host:port` answers `PING` with `+PONG` within `timeoutMs`. */
const ping = (host: string, port: number, timeoutMs = 500): Promise<boolean> =>
  new Promise((resolve) => {
    const socket = connect({ host, port })
    let answer = ""
    const done = (ok: boolean) => {
      clearTimeout(timer)
      socket.destroy()
      resolve(ok)
    }
    const timer = setTimeout(() => done(false), timeoutMs)
    socket.on("connect", () => socket.write("PING\r\n"))
    socket.on("data", (chunk) => {
      answer += chunk.toString("latin1")
      if (answer.includes("\r\n")) done(answer.startsWith("+PONG"))
    })
    socket.on("error", () => done(false))
  })

const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

const start = async (): Promise<{ readonly url: string; readonly child: ChildProcess } | undefined> => {
  const found = spawnSync("redis-server", ["--version"], { stdio: "ignore" })
  if (found.error !== undefined || found.status !== 0) return undefined
  const port = await freePort()
  const child = spawn(
    "redis-server",
    ["--save", "", "--appendonly", "no", "--port", String(port), "--bind", "127.0.0.1", "--loglevel", "warning"],
    { stdio: ["ignore", "ignore", "inherit"] }
  )
  for (let attempt = 0; attempt < 200; attempt++) {
    if (await ping("127.0.0.1", port)) return { url: `redis://127.0.0.1:${port}`, child }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill("SIGKILL")
  return undefined
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  let url = process.env.REDIS_URL ?? ""
  let child: ChildProcess | undefined
  if (url === "") {
    if (await ping("127.0.0.1", 6379)) url = "redis://127.0.0.1:6379"
    else {
      const started = await start()
      if (started !== undefined) ({ url, child } = started)
    }
  }
  project.provide("redisUrl", url)
  return async () => {
    if (child === undefined || child.exitCode !== null) return
    await new Promise<void>((resolve) => {
      child.once("exit", () => resolve())
      child.kill("SIGTERM")
    })
  }
}
