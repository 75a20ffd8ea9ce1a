// Finds a Redis for the tests and hands its URL to them (`inject("redisUrl")`):
// 1. `REDIS_URL`, if set;
// 2. else 127.0.0.1:6379, if it answers PING;
// 3. else a `redis-server` of our own on a free loopback port (no persistence),
//    stopped at teardown;
// 4. else fail with a message that says how to get one.
// Every run also gets a key prefix of its own (`inject("redisPrefix")`): CI and
// other sessions share the machine's Redis, so the tests touch only keys under
// it, and teardown deletes whatever is left there.
import { type ChildProcess, spawn, spawnSync } from "node:child_process"
import { randomUUID } from "node:crypto"
import { connect, createServer } from "node:net"
import type { TestProject } from "vitest/node"

declare module "vitest" {
  export interface ProvidedContext {
    /** The Redis the tests use, e.g. `redis://127.0.0.1:6379`. */
    readonly redisUrl: string
    /** The key prefix of this test run; every test key starts with it. */
    readonly redisPrefix: string
  }
}

const noRedis = "no Redis: set REDIS_URL, start redis-server on 127.0.0.1:6379, or install redis-server"

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

/** A loopback port nothing listens on right now. */
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

const hasRedisServer = (): boolean => {
  const result = spawnSync("redis-server", ["--version"], { stdio: "ignore" })
  return result.error === undefined && result.status === 0
}

const startRedisServer = async (): Promise<{ readonly url: string; readonly child: ChildProcess }> => {
  const port = await freePort()
  const child = spawn(
    "redis-server",
    ["--save", "", "--appendonly", "no", "--port", String(port), "--bind", "127.0.0.1", "--loglevel", "warning"],
    { stdio: ["ignore", "ignore", "inherit"] }
  )
  const state = { exited: false }
  child.on("exit", () => {
    state.exited = true
  })
  const startedAt = Date.now()
  while (Date.now() - startedAt < 10_000 && !state.exited) {
    if (await ping("127.0.0.1", port)) return { url: `redis://127.0.0.1:${port}`, child }
    await new Promise((resolve) => setTimeout(resolve, 50))
  }
  child.kill("SIGKILL")
  throw new Error(`redis-server on port ${port} did not answer PING within 10 s (${noRedis})`)
}

/** Deletes every key under `prefix` (SCAN + UNLINK), so the shared Redis keeps nothing of ours. */
const deleteKeys = async (url: string, prefix: string): Promise<void> => {
  const { createClient } = await import("redis")
  const client = createClient({ url, socket: { reconnectStrategy: false } })
  client.on("error", () => {})
  await client.connect()
  let cursor = "0"
  do {
    const reply = await client.scan(cursor, { MATCH: `${prefix}*`, COUNT: 1000 })
    cursor = String(reply.cursor)
    if (reply.keys.length > 0) await client.unlink(reply.keys)
  } while (cursor !== "0")
  await client.close()
}

export default async function setup(project: TestProject): Promise<() => Promise<void>> {
  const prefix = `timebox-test:${randomUUID()}`
  let url = process.env.REDIS_URL
  let child: ChildProcess | undefined
  if (url === undefined || url === "") {
    if (await ping("127.0.0.1", 6379)) url = "redis://127.0.0.1:6379"
    else if (hasRedisServer()) ({ url, child } = await startRedisServer())
    else throw new Error(noRedis)
  }
  project.provide("redisUrl", url)
  project.provide("redisPrefix", prefix)
  const redisUrl = url
  return async () => {
    if (child !== undefined) {
      child.kill("SIGTERM")
      return
    }
    await deleteKeys(redisUrl, prefix)
  }
}
