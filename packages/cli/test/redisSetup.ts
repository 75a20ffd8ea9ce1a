// Finds a Redis for the CLI's Redis tests and hands its URL to them (`inject("redisUrl")`):
// REDIS_URL, else 127.0.0.1:6379 when it answers PING, else a `redis-server` of our own on a
// free loopback port (no persistence), stopped at teardown; "" when there is none (those
// tests are then skipped). The tests keep their keys under a prefix of their own.
import type { ChildProcess } from "node:child_process"
import type { TestProject } from "vitest/node"
import { hasRedisServer, ping, startRedisServer, stopRedisServer } from "../../redis/test/redisServer.ts"

declare module "vitest" {
  export interface ProvidedContext {
    /** The Redis the tests use, e.g. `redis://127.0.0.1:6379`. */
    readonly redisUrl: string
  }
}

/** A `redis-server` of our own, or `undefined` when there is none or it does not start. */
const start = (): Promise<{ readonly url: string; readonly child: ChildProcess } | undefined> =>
  hasRedisServer() ? startRedisServer().catch(() => undefined) : Promise.resolve(undefined)

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
    if (child !== undefined) await stopRedisServer(child)
  }
}
