// Helpers to find, start and stop a local redis-server (test setup and tests).
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { connect, createServer } from "node:net"

export const noRedis = "no Redis: set REDIS_URL, start redis-server on 127.0.0.1:6379, or install redis-server"

/** Resolves true when `host:port` answers `PING` with `+PONG` within `timeoutMs`. */
export const ping = (host: string, port: number, timeoutMs = 500): Promise<boolean> =>
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

/** A loopback port nothing listens on right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const server = createServer()
    server.on("error", reject)
    server.listen(0, "127.0.0.1", () => {
      const address = server.address()
      const port = typeof address === "object" && address !== null ? address.port : 0
      server.close(() => resolve(port))
    })
  })

export const hasRedisServer = (): boolean => {
  const result = spawnSync("redis-server", ["--version"], { stdio: "ignore" })
  return result.error === undefined && result.status === 0
}

export const startRedisServer = async (
  port?: number
): Promise<{ readonly url: string; readonly port: number; readonly child: ChildProcess }> => {
  const listen = port ?? (await freePort())
  const child = spawn(
    "redis-server",
    ["--save", "", "--appendonly", "no", "--port", String(listen), "--bind", "127.0.0.1", "--loglevel", "warning"],
    { stdio: ["ignore", "ignore", "inherit"] }
  )
  const state = { exited: false }
  child.on("exit", () => {
    state.exited = true
  })
  const startedAt = Date.now()
  while (Date.now() - startedAt < 10_000 && !state.exited) {
    if (await ping("127.0.0.1", listen)) return { url: `redis://127.0.0.1:${listen}`, port: listen, child }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill("SIGKILL")
  throw new Error(`redis-server on port ${listen} did not answer PING within 10 s (${noRedis})`)
}

/** Stops a redis-server started by `startRedisServer` and waits for it to exit. */
export const stopRedisServer = (child: ChildProcess, signal: NodeJS.Signals = "SIGTERM"): Promise<void> =>
  new Promise((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) return resolve()
    child.once("exit", () => resolve())
    child.kill(signal)
  })
