// `timebox ledger create|fund|balances|reservations`, in memory and on Redis.
import { afterAll, describe, expect, it } from "vitest"
import { fixture, type Options, timebox as run } from "./harness.ts"
import { countKeys, deleteKeys, freshPrefix, freshTenant, redisUrl } from "./redis.ts"

// Every command runs with this run's own Redis key prefix (TIMEBOX_LEDGER_PREFIX), deleted at the end.
const prefix = freshPrefix()
const timebox = (args: ReadonlyArray<string>, options: Options = {}) =>
  run(args, { ...options, env: { TIMEBOX_LEDGER_PREFIX: prefix, ...options.env } })
afterAll(() => (redisUrl === undefined ? undefined : deleteKeys(redisUrl, prefix)))

const memoryNote = "timebox: note: the memory ledger lives only for this command (use --redis <url> to keep budgets)\n"

describe("timebox ledger, in memory", () => {
  it("create prints the new budget; the memory ledger lives only for the command", async () => {
    const outcome = await timebox([
      "ledger",
      "create",
      "--scope",
      "tenant:acme/app:support",
      "--allocated",
      "100_000_000"
    ])
    expect(outcome.code).toBe(0)
    expect(outcome.stderr).toBe(memoryNote)
    expect(outcome.stdout.trimEnd().split("\n")).toEqual([
      "scope                    unit            status  allocated  spent  reserved  debt  remaining  over limit",
      "tenant:acme/app:support  USD_MICROCENTS  active  100000000      0         0     0  100000000  no"
    ])
  })

  it("--json prints the ledger's answer, amounts as decimal strings", async () => {
    const outcome = await timebox([
      "ledger",
      "create",
      "--scope",
      "tenant:acme",
      "--unit",
      "TOKENS",
      "--allocated",
      "9223372036854775807",
      "--json"
    ])
    expect(outcome.code).toBe(0)
    expect(JSON.parse(outcome.stdout)).toEqual({
      balances: [{
        scope: "tenant:acme",
        unit: "TOKENS",
        status: "active",
        allocated: "9223372036854775807",
        spent: "0",
        reserved: "0",
        debt: "0",
        overdraftLimit: "0",
        remaining: "9223372036854775807",
        isOverLimit: false
      }]
    })
  })

  it("a fund of a budget the fresh memory ledger does not hold: exit 1, the ledger's reason", async () => {
    const outcome = await timebox(["ledger", "fund", "--scope", "tenant:acme", "--amount", "5"])
    expect(outcome.code).toBe(1)
    expect(outcome.stdout).toBe("")
    expect(outcome.stderr).toBe(
      `${memoryNote}timebox: Ledger.fundBudget: no USD_MICROCENTS budget at tenant:acme (NotFound)\n`
    )
  })

  it("balances and reservations of an empty ledger", async () => {
    const balances = await timebox(["ledger", "balances", "--scope", "tenant:acme"])
    expect(balances.code).toBe(0)
    expect(balances.stdout).toBe("no budgets\n")
    const reservations = await timebox(["ledger", "reservations", "--tenant", "acme"])
    expect(reservations.code).toBe(0)
    expect(reservations.stdout).toBe("no reservations\n")
  })

  it("bad input exits 2 with one line naming the flag", { timeout: 120_000 }, async () => {
    const cases: Array<[ReadonlyArray<string>, string]> = [
      [
        ["ledger", "create", "--scope", "tenant:acme", "--allocated", "1.5"],
        "invalid --allocated \"1.5\": expected a whole number from 0 to 2^63-1"
      ],
      [
        ["ledger", "create", "--scope", "tenant:acme", "--allocated", "1__0"],
        "invalid --allocated \"1__0\": expected a whole number from 0 to 2^63-1"
      ],
      [
        ["ledger", "fund", "--scope", "tenant:acme", "--amount", "5_"],
        "invalid --amount \"5_\": expected a whole number from 0 to 2^63-1"
      ],
      [
        ["ledger", "create", "--scope", "tenant:acme", "--allocated", "99999999999999999999"],
        "invalid --allocated \"99999999999999999999\": expected a whole number from 0 to 2^63-1"
      ],
      [
        ["ledger", "create", "--scope", "tenant:acme", "--allocated", "5", "--unit", "EUR"],
        "invalid --unit \"EUR\": expected one of USD_MICROCENTS, TOKENS, CREDITS, RISK_POINTS"
      ],
      [
        ["ledger", "create", "--scope", "app:support", "--allocated", "5"],
        "missing --tenant (or a --scope that names one, e.g. tenant:acme)"
      ],
      [
        ["ledger", "create", "--scope", "tenant:a b", "--allocated", "5"],
        "invalid --scope \"tenant:a b\": \"tenant\" needs a value of 1 to 128 characters from [a-zA-Z0-9_.-]"
      ],
      [
        ["ledger", "fund", "--scope", "tenant:acme", "--amount", "5", "--operation", "steal"],
        "invalid --operation \"steal\": expected one of credit, debit, reset, repay-debt"
      ],
      [
        ["ledger", "balances", "--scope", "app:x/tenant:acme"],
        "invalid --scope \"app:x/tenant:acme\": \"tenant\" is out of order (order: tenant → workspace → app → workflow → agent → toolset)"
      ],
      [
        ["ledger", "balances", "--scope", "tenant:acme/app:x/app:y"],
        "invalid --scope \"tenant:acme/app:x/app:y\": \"app\" appears twice"
      ],
      [
        ["ledger", "reservations", "--tenant", "acme", "--status", "open"],
        "invalid --status \"open\": expected one of active, committed, released, expired"
      ],
      [
        ["ledger", "reservations", "--tenant", "acme", "--limit", "500"],
        "invalid --limit \"500\": expected a whole number from 1 to 200"
      ],
      [["ledger", "reservations"], "missing --tenant (or a --scope that names one, e.g. tenant:acme)"],
      [
        ["ledger", "balances", "--scope", "tenant:acme", "--redis", "http://:hunter2@127.0.0.1:6379"],
        "invalid --redis \"http://***@127.0.0.1:6379\": expected the redis: or rediss: scheme, not http:"
      ],
      [
        ["ledger", "balances", "--scope", "tenant:acme", "--redis", ""],
        "invalid --redis \"\": expected redis://[[user]:password@]host[:port][/db] or rediss://…"
      ],
      [
        ["ledger", "balances", "--scope", "tenant:acme", "--redis", "redis://127.0.0.1:6379", "--prefix", ""],
        "invalid --prefix \"\": must not be empty (every key starts with it)"
      ],
      [
        ["ledger", "create", "--scope", "tenant:acme", "--allocated"],
        "--allocated needs a value (write --allocated=<value> for one that starts with \"-\"); see timebox ledger create --help"
      ],
      [["ledger", "create", "--scope", "tenant:acme"], "missing --allocated; see timebox ledger create --help"]
    ]
    const outcomes = await Promise.all(cases.map(([args]) => timebox(args)))
    outcomes.forEach((outcome, index) => {
      expect(outcome.code, cases[index]![0].join(" ")).toBe(2)
      expect(outcome.stdout).toBe("")
      const lines = outcome.stderr.split("\n").filter((line) => line !== "" && `${line}\n` !== memoryNote)
      expect(lines).toEqual([`timebox: ${cases[index]![1]}`])
    })
  })
})

describe.skipIf(redisUrl === undefined)("timebox ledger --redis", () => {
  const url = redisUrl!

  it("create, fund, balances, reservations: the budget outlives the command", { timeout: 120_000 }, async () => {
    const tenant = freshTenant("cli")
    const scope = `tenant:${tenant}/app:support`
    const created = await timebox(["ledger", "create", "--redis", url, "--scope", scope, "--allocated", "1000"])
    expect(created.stderr).toBe("")
    expect(created.code).toBe(0)
    expect(created.stdout).toContain(`${scope}  USD_MICROCENTS  active       1000`)

    const funded = await timebox(["ledger", "fund", "--redis", url, "--scope", scope, "--amount", "500"])
    expect(funded.code).toBe(0)
    expect(funded.stdout.split("\n")[0]).toBe(
      `credit 500 USD_MICROCENTS on ${scope}: allocated 1000 → 1500, debt 0 → 0`
    )

    const again = await timebox(["ledger", "create", "--redis", url, "--scope", scope, "--allocated", "1000"])
    expect(again.code).toBe(1)
    expect(again.stderr).toBe(
      `timebox: Ledger.createBudget: ${scope}: a USD_MICROCENTS budget already exists (BudgetExists)\n`
    )

    const debit = await timebox([
      "ledger",
      "fund",
      "--redis",
      url,
      "--scope",
      scope,
      "--operation",
      "debit",
      "--amount",
      "2000"
    ])
    expect(debit.code).toBe(1)
    expect(debit.stderr).toMatch(/^timebox: Ledger\.fundBudget: .*2000.*1500.*\(\w+\)\n$/)

    await timebox(["ledger", "create", "--redis", url, "--scope", `tenant:${tenant}`, "--allocated", "9000"])
    const balances = await timebox([
      "ledger",
      "balances",
      "--redis",
      url,
      "--scope",
      `tenant:${tenant}`,
      "--children",
      "--json"
    ])
    expect(balances.code).toBe(0)
    const answer = JSON.parse(balances.stdout) as { balances: Array<{ scope: string; allocated: string }> }
    expect(answer.balances.map((balance) => [balance.scope, balance.allocated])).toEqual([
      [`tenant:${tenant}`, "9000"],
      [scope, "1500"]
    ])

    const reservations = await timebox(["ledger", "reservations", "--redis", url, "--tenant", tenant])
    expect(reservations.code).toBe(0)
    expect(reservations.stdout).toBe("no reservations\n")

    // Everything went under this run's prefix (TIMEBOX_LEDGER_PREFIX); --prefix names another.
    expect(await countKeys(url, prefix)).toBeGreaterThan(0)
    const elsewhere = await timebox([
      "ledger",
      "balances",
      "--redis",
      url,
      "--prefix",
      `${prefix}-other`,
      "--scope",
      scope
    ])
    expect(elsewhere.stdout).toBe("no budgets\n")
  })

  it(
    "reservations lists what a guarded run left: committed, with scope and amounts",
    { timeout: 120_000 },
    async () => {
      const runaway = await timebox(["run", "runaway-agent", "--unguarded-for", "1s", "--backend", "redis"], {
        env: { REDIS_URL: url }
      })
      expect(runaway.code).toBe(0)
      const tenant = /tenant:(runaway-[0-9a-f]{8})/.exec(runaway.stdout)![1]!
      const listed = await timebox(["ledger", "reservations", "--redis", url, "--tenant", tenant, "--limit", "5"])
      expect(listed.code).toBe(0)
      const lines = listed.stdout.trimEnd().split("\n")
      expect(lines[0]).toMatch(/^id +status +scope +unit +reserved +committed +action$/)
      expect(lines).toHaveLength(7) // header, 5 rows, the next-page hint
      expect(lines[1]).toMatch(
        new RegExp(
          `^rsv_\\S+ +committed +tenant:${tenant}/app:runaway/agent:runaway-agent +USD_MICROCENTS +1000000 +1000000 +llm\\.completion runaway-model$`
        )
      )
      expect(lines[6]).toMatch(/^next: --cursor \S+$/)
    }
  )

  it("a fund that would take a budget above 2^63-1: exit 1, the ledger's refusal (not a bad flag)", async () => {
    const tenant = `cli-max-${Math.random().toString(36).slice(2, 8)}`
    const scope = `tenant:${tenant}`
    const created = await timebox([
      "ledger",
      "create",
      "--redis",
      url,
      "--scope",
      scope,
      "--allocated",
      "9223372036854775807"
    ])
    expect(created.code).toBe(0)
    const outcome = await timebox(["ledger", "fund", "--redis", url, "--scope", scope, "--amount", "1"])
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toBe(
      "timebox: Ledger.fundBudget: invalid amount (1): allocated would be 9223372036854775808, above 2^63-1 (InvalidRequest)\n"
    )
  })

  it("an installation without @timebox/redis: --redis exits 1 with one line, other commands still run", async () => {
    const without = { env: { NODE_OPTIONS: `--import=${fixture("no-redis-package.mjs")}` } }
    const outcome = await timebox(
      ["ledger", "balances", "--redis", "redis://127.0.0.1:1", "--scope", "tenant:acme"],
      without
    )
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toBe(
      "timebox: RedisLedgerStore.connect: ledger store redis unavailable: cannot load @timebox/redis: " +
        "Cannot find package '@timebox/redis' (StoreUnavailable)\n"
    )
    expect(outcome.stdout).toBe("")
    const memory = await timebox(["ledger", "balances", "--scope", "tenant:acme"], without)
    expect(memory.code).toBe(0)
  })

  it("an unreachable Redis: exit 1 with the store's reason", async () => {
    const outcome = await timebox(["ledger", "balances", "--redis", "redis://127.0.0.1:1", "--scope", "tenant:acme"])
    expect(outcome.code).toBe(1)
    expect(outcome.stderr).toMatch(
      /^timebox: RedisLedgerStore\.connect: ledger store redis unavailable: cannot connect to redis:\/\/127\.0\.0\.1:1.*\(StoreUnavailable\)\n$/
    )
  })
})
