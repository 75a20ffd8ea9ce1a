// Many processes, one budget: four `node` processes, each with its own Redis
// connection and 16 fibers, spend from one tenant's budgets at once
// (fixtures/spender.mjs). Whatever the interleaving, no answer ever shows
// more spent and held than allocated, nothing stays held at the end, and what
// the budgets spent is exactly the sum of what the processes were charged.
import { Ledger } from "@timebox/core"
import { Effect, Layer } from "effect"
import { execFile } from "node:child_process"
import { fileURLToPath } from "node:url"
import { assert, describe, it } from "vitest"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"

const url = inject("redisUrl")
const prefix = `${inject("redisPrefix")}:processes`
const spender = fileURLToPath(new URL("./fixtures/spender.mjs", import.meta.url))

interface Totals {
  readonly reserved: number
  readonly denied: number
  readonly committed: number
  readonly released: number
  readonly charged: string
  readonly replays: number
}

const spend = (tenant: string, seed: number, steps: number): Promise<Totals> =>
  new Promise((resolve, reject) =>
    execFile(
      process.execPath,
      [spender, url, prefix, tenant, String(seed), String(steps)],
      (error, stdout, stderr) =>
        error === null ? resolve(JSON.parse(stdout) as Totals) : reject(new Error(`${error.message}\n${stderr}`))
    )
  )

const ledgerLayer = Ledger.layer.pipe(Layer.provide(RedisLedgerStore.layerUrl({ url, prefix })))

const onLedger = <A>(use: (ledger: Ledger.Service) => Effect.Effect<A, Ledger.LedgerError>) =>
  Effect.runPromise(Effect.flatMap(Ledger.Ledger, use).pipe(Effect.provide(ledgerLayer)))

describe("RedisLedgerStore across processes", () => {
  it("4 processes × 16 fibers on one budget: never overspent, nothing left held, spent = the sum charged", {
    timeout: 60_000
  }, async () => {
    const tenant = `procs-${Math.random().toString(36).slice(2, 8)}`
    const top = `tenant:${tenant}`
    const app = `tenant:${tenant}/app:support`
    // about half of what 4 × 16 × 40 steps would spend: the budget binds midway
    await onLedger((ledger) =>
      Effect.andThen(
        ledger.createBudget({ tenant, scope: top, unit: "TOKENS", allocated: 120_000 }),
        ledger.createBudget({ tenant, scope: app, unit: "TOKENS", allocated: 80_000 })
      )
    )
    const runs = await Promise.all([1, 2, 3, 4].map((seed) => spend(tenant, seed, 40)))
    const { balances } = await onLedger((ledger) =>
      ledger.balances({ tenant, subject: { tenant, app: "support" }, unit: "TOKENS" })
    )
    const charged = runs.reduce((sum, run) => sum + BigInt(run.charged), 0n)
    for (const balance of balances) {
      assert.strictEqual(balance.reserved, 0n, `${balance.scope}: nothing held`)
      assert.strictEqual(balance.spent, charged, `${balance.scope}: spent is what the processes were charged`)
      assert.isAtMost(Number(balance.spent), Number(balance.allocated))
      assert.strictEqual(balance.remaining, balance.allocated - balance.spent - balance.reserved - balance.debt)
    }
    // the budget did bind: some reserves were denied, and most steps reserved
    const total = (pick: (run: Totals) => number) => runs.reduce((sum, run) => sum + pick(run), 0)
    assert.isAbove(total((run) => run.denied), 0)
    assert.isAbove(total((run) => run.reserved), 500)
    assert.isAbove(total((run) => run.replays), 0)
  })
})
