// `timebox run runaway-agent`: both halves side by side, on the memory ledger and on Redis.
import { afterAll, describe, expect, it } from "vitest"
import { interruptedAgainMessage } from "../src/Cli.ts"
import { type Options, type Outcome, shared, timebox } from "./harness.ts"
import { deleteKeys, freshPrefix, proxy, redisUrl } from "./redis.ts"

// The Redis runs keep their keys under a prefix of their own, deleted at the end.
const prefix = freshPrefix()
const onRedis = { env: { REDIS_URL: redisUrl, TIMEBOX_LEDGER_PREFIX: prefix } }
afterAll(() => (redisUrl === undefined ? undefined : deleteKeys(redisUrl, prefix)))

const once = shared()

interface Comparison {
  readonly unguarded: { readonly calls: number; readonly spentUsdMicrocents: number; readonly durationMs: number }
  readonly guarded: {
    readonly calls: number
    readonly spentUsdMicrocents: number
    readonly durationMs: number
    readonly stopReason: string
  }
}

/**
 * `timebox run runaway-agent --backend redis` through a proxy whose Redis stops answering a second
 * after the header, just before the Ctrl-C (`Options` adds to that).
 */
const hungRun = async (options: Options = {}): Promise<Outcome> => {
  const hung = await proxy(redisUrl!)
  try {
    return await timebox(["run", "runaway-agent", "--backend", "redis"], {
      env: { ...onRedis.env, REDIS_URL: hung.url },
      interruptOnStdout: "guarded by",
      interruptDelayMs: 1_000,
      beforeInterrupt: hung.blackHole,
      ...options
    })
  } finally {
    await hung.close()
  }
}

/** The runaway scope a Redis run names at the end of its header line. */
const scopeIn = (header: string | undefined): string | undefined =>
  /\((tenant:runaway-[0-9a-f]{8}\/app:runaway\/agent:runaway-agent)\)$/.exec(header ?? "")?.[1]

/** The balance of `scope` on the test's Redis, as `timebox ledger balances --json` prints it. */
const balanceOf = async (scope: string): Promise<Record<string, unknown> | undefined> => {
  const balances = await timebox([
    "ledger",
    "balances",
    "--redis",
    redisUrl!,
    "--prefix",
    prefix,
    "--scope",
    scope,
    "--json"
  ])
  expect(balances.code).toBe(0)
  const answer = JSON.parse(balances.stdout) as { balances: Array<Record<string, unknown>> }
  return answer.balances.find((balance) => balance.scope === scope)
}

describe("timebox run runaway-agent", () => {
  it("--unguarded-for 1s --json: guarded exactly 100 calls and $1.00, stopped by budget-exceeded", async () => {
    const outcome = await once(["run", "runaway-agent", "--unguarded-for", "1s", "--json"])
    expect(outcome.stderr).toBe("")
    expect(outcome.code).toBe(0)
    const comparison = JSON.parse(outcome.stdout) as Comparison
    expect(Object.keys(comparison.unguarded).sort()).toEqual(["calls", "durationMs", "spentUsdMicrocents"])
    expect(Object.keys(comparison.guarded).sort()).toEqual(["calls", "durationMs", "spentUsdMicrocents", "stopReason"])
    expect(comparison.guarded.calls).toBe(100)
    expect(comparison.guarded.spentUsdMicrocents).toBe(100_000_000)
    expect(comparison.guarded.stopReason).toBe("budget-exceeded")
    // The unguarded half ran for about its second and paid $0.01 a call.
    expect(comparison.unguarded.durationMs).toBeGreaterThan(900)
    expect(comparison.unguarded.durationMs).toBeLessThanOrEqual(1_010)
    expect(comparison.unguarded.calls).toBeGreaterThan(0)
    expect(comparison.unguarded.spentUsdMicrocents).toBe(comparison.unguarded.calls * 1_000_000)
  })

  it("prints both halves side by side: calls, spend, duration, stop reason", async () => {
    const outcome = await once(["run", "runaway-agent", "--unguarded-for", "1s"])
    expect(outcome.code).toBe(0)
    const lines = outcome.stdout.trimEnd().split("\n")
    expect(lines[0]).toMatch(
      /^runaway-agent {2}\$0\.01 a call {2}unguarded for 1\.0 s {2}guarded by \$1\.00 on the memory ledger$/
    )
    expect(lines[2]).toMatch(/^ +calls +spend +duration +stop reason$/)
    expect(lines[3]).toMatch(/^unguarded +\d+ +\$\d+\.\d\d +1\.0 s +deadline$/)
    expect(lines[4]).toMatch(/^guarded +100 +\$1\.00 +\d+\.\d s +budget-exceeded$/)
  })

  it("bad flags exit 2 with one line", { timeout: 120_000 }, async () => {
    const bad = await timebox(["run", "runaway-agent", "--unguarded-for", "soon"])
    expect(bad.code).toBe(2)
    expect(bad.stdout).toBe("")
    expect(bad.stderr).toBe(
      "timebox: invalid --unguarded-for \"soon\": not a duration (try 150ms, 2s, 1.5s or \"2 seconds\")\n"
    )
    const backend = await timebox(["run", "runaway-agent", "--backend", "postgres"])
    expect(backend.code).toBe(2)
    expect(backend.stderr).toBe("timebox: invalid --backend \"postgres\": expected one of memory, redis\n")
    const stream = await timebox(["run", "runaway-agent", "--stream"])
    expect(stream.code).toBe(2)
    expect(stream.stderr).toBe(
      "timebox: --stream does not apply to runaway-agent (it takes --unguarded-for, --backend and --json)\n"
    )
    const other = await timebox(["run", "support-agent", "--backend", "redis"])
    expect(other.code).toBe(2)
    expect(other.stderr).toBe("timebox: --backend applies to runaway-agent only\n")
    const dash = await timebox(["run", "runaway-agent", "--unguarded-for", "-1s"])
    expect(dash.code).toBe(2)
    expect(dash.stderr).toBe(
      "timebox: --unguarded-for needs a value (write --unguarded-for=<value> for one that starts with \"-\"); see timebox run --help\n"
    )
    const negative = await timebox(["run", "runaway-agent", "--unguarded-for=-1s"])
    expect(negative.code).toBe(2)
    expect(negative.stderr).toBe("timebox: invalid --unguarded-for \"-1s\": must be a positive, finite duration\n")
    const twice = await timebox(["run", "runaway-agent", "--unguarded-for", "1s", "--unguarded-for", "2s"])
    expect(twice.code).toBe(2)
    expect(twice.stderr).toBe("timebox: --unguarded-for given 2 times: at most 1 value; see timebox run --help\n")
    const url = await timebox(["run", "runaway-agent", "--backend", "redis"], {
      env: { REDIS_URL: "http://:hunter2@127.0.0.1:6379" }
    })
    expect(url.code).toBe(2)
    expect(url.stdout).toBe("")
    expect(url.stderr).toBe(
      "timebox: REDIS_URL \"http://***@127.0.0.1:6379\": expected the redis: or rediss: scheme, not http:\n"
    )
  })

  it("--backend redis with no Redis to reach: exit 1, the store's reason on one line", async () => {
    const outcome = await timebox(["run", "runaway-agent", "--unguarded-for", "1s", "--backend", "redis"], {
      env: { REDIS_URL: "redis://127.0.0.1:1" }
    })
    expect(outcome.code).toBe(1)
    expect(outcome.stdout).toBe("")
    expect(outcome.stderr).toMatch(
      /^timebox: RedisLedgerStore\.connect: ledger store redis unavailable: cannot connect to redis:\/\/127\.0\.0\.1:1/
    )
    expect(outcome.stderr.trimEnd().split("\n")).toHaveLength(1)
  })

  it.skipIf(redisUrl === undefined)(
    "--backend redis: the guarded half on Redis, exactly 100 calls and $1.00",
    { timeout: 120_000 },
    async () => {
      const outcome = await timebox(["run", "runaway-agent", "--unguarded-for", "1s", "--backend", "redis"], onRedis)
      expect(outcome.stderr).toBe("")
      expect(outcome.code).toBe(0)
      const lines = outcome.stdout.trimEnd().split("\n")
      const scope = scopeIn(lines[0])
      expect(scope).toBeDefined()
      expect(lines[4]).toMatch(/^guarded +100 +\$1\.00 +\d+\.\d s +budget-exceeded$/)
      // The budget it made is on Redis: spent all of it, nothing held.
      const budget = await balanceOf(scope!)
      expect(budget).toMatchObject({ allocated: "100000000", spent: "100000000", reserved: "0", remaining: "0" })
    }
  )

  it.skipIf(redisUrl === undefined)(
    "--backend redis, Ctrl-C during the run: exit 130, the tenant named, nothing left reserved on Redis",
    { timeout: 120_000 },
    async () => {
      // SIGINT a second after the header: the guarded half is under way (it takes ~3 s on Redis)
      const outcome = await timebox(["run", "runaway-agent", "--backend", "redis"], {
        ...onRedis,
        interruptOnStdout: "guarded by",
        interruptDelayMs: 1_000
      })
      expect(outcome.code).toBe(130)
      expect(outcome.stderr).toBe("timebox: runaway-agent interrupted\n")
      const lines = outcome.stdout.trimEnd().split("\n")
      expect(lines).toHaveLength(1)
      const scope = scopeIn(lines[0])
      expect(scope).toBeDefined()
      const budget = (await balanceOf(scope!))!
      // some calls were charged, none of the call under way is still held
      expect(budget.reserved).toBe("0")
      expect(Number(budget.spent)).toBeGreaterThan(0)
      expect(Number(budget.spent)).toBeLessThan(100_000_000)
    }
  )

  it.skipIf(redisUrl === undefined)(
    "--backend redis, Redis stops answering, Ctrl-C: the lost settlement said on stderr, stdout keeps the header only",
    { timeout: 60_000 },
    async () => {
      // closing the ledger waits for the release of the call under way, which fails after the store's
      // 5 s timeout: the guard keeps it, and closing says it is lost (a log line, on stderr)
      const outcome = await hungRun()
      expect(outcome.code).toBe(130)
      expect(outcome.stdout.trimEnd().split("\n")).toHaveLength(1)
      const lines = outcome.stderr.trimEnd().split("\n")
      expect(lines[0]).toBe("timebox: runaway-agent interrupted")
      expect(lines[1]).toMatch(/ERROR .*ledger closing with 1 guarded settlement the store did not take/)
      expect(lines).toHaveLength(2)
    }
  )

  it.skipIf(redisUrl === undefined)(
    "--backend redis, Redis stops answering, Ctrl-C twice: the second exits at once (130) instead of waiting",
    { timeout: 60_000 },
    async () => {
      // Redis hangs mid-run, then Ctrl-C: closing the ledger waits for the release of the call under way,
      // which waits for the store's 5 s timeout; the second Ctrl-C, half a second later, cuts that short
      const outcome = await hungRun({ interruptAgainAfterMs: 500 })
      expect(outcome.code).toBe(130)
      expect(outcome.stderr).toBe(`timebox: runaway-agent interrupted\n${interruptedAgainMessage}\n`)
      expect(outcome.interruptsAtMs).toHaveLength(2)
      expect(outcome.exitedAtMs - outcome.interruptsAtMs[1]!).toBeLessThan(2_000)
    }
  )

  it.skipIf(redisUrl === undefined)(
    "--backend redis --json: the ledger named on stderr, the JSON alone on stdout",
    async () => {
      const outcome = await timebox(
        ["run", "runaway-agent", "--unguarded-for", "1s", "--backend", "redis", "--json"],
        onRedis
      )
      expect(outcome.code).toBe(0)
      expect(outcome.stderr).toMatch(
        /^runaway-agent: guarded by \$1\.00 on redis:\/\/\S+ \(tenant:runaway-[0-9a-f]{8}\/app:runaway\/agent:runaway-agent\)\n$/
      )
      const comparison = JSON.parse(outcome.stdout) as Comparison
      expect(comparison.guarded).toMatchObject({
        calls: 100,
        spentUsdMicrocents: 100_000_000,
        stopReason: "budget-exceeded"
      })
    }
  )
})
