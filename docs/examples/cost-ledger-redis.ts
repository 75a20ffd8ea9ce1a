// The Redis blocks of docs/concepts/cost-ledger.md and packages/redis/README.md.
// `pnpm check` type-checks this file; no test runs it, so the docs' tests need
// no Redis. In an
// application, import `RedisLedgerStore` from "@timebox/redis"; the private
// @timebox/docs package does not depend on it, so this file imports its
// source by path.
import { Ledger } from "@timebox/core"
import { Config, Effect, Layer } from "effect"
import { RedisLedgerStore } from "../../packages/redis/src/index.ts"

// region: redis
// The same Ledger service on Redis: every process that provides this layer shares its budgets.
export const LedgerOnRedis = Ledger.layer.pipe(
  Layer.provide(RedisLedgerStore.layerUrl({ url: "redis://127.0.0.1:6379" }))
)

// Or configured from the environment, with the key prefix the CLI uses.
export const LedgerFromEnv = Ledger.layer.pipe(
  Layer.provide(
    RedisLedgerStore.layerConfig({
      url: Config.String("REDIS_URL").pipe(Config.withDefault("redis://127.0.0.1:6379")),
      prefix: Config.String("TIMEBOX_LEDGER_PREFIX").pipe(Config.withDefault("timebox"))
    })
  )
)

// A Redis that cannot be reached fails closed: building the layer, or any call
// once it is up, fails with the StoreUnavailable reason (retryable).
export const acmeBalances = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  return yield* ledger.balances({ tenant: "acme", subject: { tenant: "acme" }, includeChildren: true })
}).pipe(
  Effect.provide(LedgerOnRedis),
  Effect.catchReason(
    "LedgerError",
    "StoreUnavailable",
    (reason) => Effect.as(Effect.logWarning(reason.message), undefined)
  )
)
// endregion

// region: use
const onRedis = Ledger.layer.pipe(Layer.provide(RedisLedgerStore.layerUrl({ url: "redis://127.0.0.1:6379" })))

export const program = Effect.gen(function*() {
  const ledger = yield* Ledger.Ledger
  // A reservation needs a budget on a scope of its subject (else NotFound). The budget is
  // kept in Redis, so a second run finds it: createBudget then fails with BudgetExists.
  yield* ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 100_000_000 })
    .pipe(Effect.catchReason("LedgerError", "BudgetExists", () => Effect.void))
  const held = yield* ledger.reserve({
    tenant: "acme",
    subject: { tenant: "acme", app: "support" },
    action: { kind: "llm.completion", name: "fast" },
    estimate: { unit: "USD_MICROCENTS", amount: 1_000_000 }
  })
  // … call the model …
  return yield* ledger.commit({
    tenant: "acme",
    reservationId: held.reservationId ?? "",
    actual: { unit: "USD_MICROCENTS", amount: 420_000 }
  })
}).pipe(Effect.provide(onRedis))
// endregion
