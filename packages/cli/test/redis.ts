// The Redis the CLI tests use (see redisSetup.ts), undefined when there is none (the Redis
// tests are then skipped), and helpers to keep a test run's keys apart and drop them.
import { type AddressInfo, connect, createServer, type Socket } from "node:net"
import { inject } from "vitest"

/** The URL of the tests' Redis (set by redisSetup.ts in the test workers only). */
export const redisUrl: string | undefined = inject("redisUrl") === "" ? undefined : inject("redisUrl")

/** A tenant no other test run uses. */
export const freshTenant = (label: string): string => `${label}-${globalThis.crypto.randomUUID().slice(0, 8)}`

/** A Redis key prefix no other test run uses: pass it as TIMEBOX_LEDGER_PREFIX, drop it with `deleteKeys`. */
export const freshPrefix = (): string => `timebox-cli-test:${globalThis.crypto.randomUUID()}`

type Reply = string | number | null | ReadonlyArray<Reply>

/** Parses one RESP reply from `text` at `at`; undefined while it is incomplete. */
const parse = (text: string, at: number): { readonly reply: Reply; readonly next: number } | undefined => {
  const end = text.indexOf("\r\n", at)
  if (end < 0) return undefined
  const kind = text[at]
  const line = text.slice(at + 1, end)
  if (kind === "+") return { reply: line, next: end + 2 }
  if (kind === "-") throw new Error(line)
  if (kind === ":") return { reply: Number(line), next: end + 2 }
  if (kind === "$") {
    const length = Number(line)
    if (length < 0) return { reply: null, next: end + 2 }
    if (text.length < end + 2 + length + 2) return undefined
    return { reply: text.slice(end + 2, end + 2 + length), next: end + 2 + length + 2 }
  }
  const count = Number(line)
  const items: Array<Reply> = []
  let next = end + 2
  for (let i = 0; i < count; i++) {
    const item = parse(text, next)
    if (item === undefined) return undefined
    items.push(item.reply)
    next = item.next
  }
  return { reply: items, next }
}

const command = (url: string, args: ReadonlyArray<string>): Promise<Reply> =>
  new Promise((resolve, reject) => {
    const { hostname, port } = new URL(url)
    const socket = connect({ host: hostname, port: Number(port || 6379) })
    let text = ""
    socket.setEncoding("latin1")
    socket.on("connect", () =>
      socket.write(`*${args.length}\r\n${args.map((arg) => `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`).join("")}`))
    socket.on("data", (chunk: string) => {
      text += chunk
      try {
        const parsed = parse(text, 0)
        if (parsed !== undefined) {
          socket.destroy()
          resolve(parsed.reply)
        }
      } catch (error) {
        socket.destroy()
        reject(error)
      }
    })
    socket.on("error", reject)
  })

/** Deletes every key under `prefix` (SCAN + UNLINK). */
export const deleteKeys = async (url: string, prefix: string): Promise<void> => {
  let cursor = "0"
  do {
    const [next, keys] = (await command(url, ["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"])) as [
      string,
      ReadonlyArray<string>
    ]
    cursor = next
    if (keys.length > 0) await command(url, ["UNLINK", ...keys])
  } while (cursor !== "0")
}

/** How many keys live under `prefix`. */
export const countKeys = async (url: string, prefix: string): Promise<number> => {
  let cursor = "0"
  let count = 0
  do {
    const [next, keys] = (await command(url, ["SCAN", cursor, "MATCH", `${prefix}*`, "COUNT", "1000"])) as [
      string,
      ReadonlyArray<string>
    ]
    cursor = next
    count += keys.length
  } while (cursor !== "0")
  return count
}

/** A TCP proxy in front of a Redis, which can turn into a Redis that hangs. */
export interface Proxy {
  /** The Redis URL through the proxy (the original's credentials and database kept). */
  readonly url: string
  /** From now on nothing passes either way and no connection closes: a Redis that stopped answering. */
  readonly blackHole: () => void
  readonly close: () => Promise<void>
}

/** Starts a `Proxy` to the Redis at `url`, on a free local port. */
export const proxy = async (url: string): Promise<Proxy> => {
  const target = new URL(url)
  let hole = false
  const sockets = new Set<Socket>()
  const server = createServer((client) => {
    const upstream = connect({ host: target.hostname, port: Number(target.port || 6379) })
    sockets.add(client).add(upstream)
    client.on("data", (chunk) => hole || upstream.write(chunk))
    upstream.on("data", (chunk) => hole || client.write(chunk))
    const end = () => {
      client.destroy()
      upstream.destroy()
    }
    for (const socket of [client, upstream]) socket.on("error", end).on("close", end)
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const proxied = new URL(url)
  proxied.hostname = "127.0.0.1"
  proxied.port = String((server.address() as AddressInfo).port)
  return {
    url: proxied.toString(),
    blackHole: () => {
      hole = true
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      })
  }
}
