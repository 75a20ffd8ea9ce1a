import { Ledger } from "@timebox/core"
import { Layer } from "effect"
import * as LedgerProperty from "timebox-test/LedgerProperty"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"
import { advancePaced, counted } from "./clock.ts"

// The property tests, unchanged, on the Redis store: 64 concurrent workers,
// each operation one script on the shared Redis. The test clock moves with
// the store's progress, about one answered call per worker per tick, and
// waits for the sweeps each tick wakes (see clock.ts).
const store = counted.pipe(
  Layer.provide(RedisLedgerStore.layerUrl({ url: inject("redisUrl"), prefix: inject("redisPrefix") }))
)

LedgerProperty.suite("LedgerStore (redis) properties", Ledger.layer.pipe(Layer.provide(store)), {
  advance: advancePaced(64)
})
