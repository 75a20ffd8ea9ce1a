/**
 * The ledger on Redis for the commands that ask for it (`--redis`,
 * `--backend redis`), with `@timebox/redis` loaded on first use: it brings
 * node-redis, a quarter of a second of start-up that every other command
 * would pay for nothing.
 *
 * @internal
 */
import { Ledger } from "@timebox/core"
import { Effect, Layer } from "effect"

/** `Ledger.layer` over `RedisLedgerStore.layerUrl({ url, prefix })`, the package imported when the layer is built. */
export const layer = (url: string, prefix: string): Layer.Layer<Ledger.Ledger, Ledger.LedgerError> =>
  Layer.unwrap(
    Effect.map(
      Effect.tryPromise({
        try: () => import("@timebox/redis"),
        // an installation without the package: the store is not there, said on one line
        catch: (cause) =>
          new Ledger.LedgerError({
            method: "RedisLedgerStore.connect",
            reason: new Ledger.StoreUnavailable({
              store: "redis",
              detail: `cannot load @timebox/redis: ${cause instanceof Error ? cause.message : String(cause)}`
            })
          })
      }),
      ({ RedisLedgerStore }) => Ledger.layer.pipe(Layer.provide(RedisLedgerStore.layerUrl({ url, prefix })))
    )
  )
