// Finds a Redis for the tests and hands its URL to them (`inject("redisUrl")`):
// 1. `REDIS_URL`, if set;
// 2. else 127.0.0.1:6379, if it answers PING;
// 3. else a `redis-server` of our own on a free loopback port (no persistence),
//    stopped at teardown;
// 4. else fail with a message that says how to get one.
// Every run also gets a key prefix of its own (`inject("redisPrefix")`): CI and
// other sessions share the machine's Redis, so the tests touch only keys under
// it, and teardown deletes whatever is left there.
import type { ChildProcess } from "node:child_process"
import { randomUUID } from "node:crypto"
import type { TestProject } from "vitest/node"
import { hasRedisServer, noRedis, ping, startRedisServer, stopRedisServer } from "./redisServer.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** The Redis the tests use, e.g. `redis://127.0.0.1:6379`. */
    readonly redisUrl: string
    /** The key prefix of this test run; every test key starts with it. */
    readonly redisPrefix: string
  }
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
      await stopRedisServer(child)
      return
    }
    await deleteKeys(redisUrl, prefix)
  }
}
