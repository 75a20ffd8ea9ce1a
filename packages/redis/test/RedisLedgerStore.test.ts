import { Ledger } from "@timebox/core"
import { Layer } from "effect"
import * as LedgerStoreTest from "timebox-test/LedgerStoreTest"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"
import { advanceSettled, counted } from "./clock.ts"

// The conformance suite, unchanged, on the Redis store: every test names
// fresh tenants, and every key lives under this run's prefix. The clock moves
// only when no store call is in flight (see clock.ts).
const store = counted.pipe(
  Layer.provide(RedisLedgerStore.layerUrl({ url: inject("redisUrl"), prefix: inject("redisPrefix") }))
)

LedgerStoreTest.suite("LedgerStore (redis)", Ledger.layer.pipe(Layer.provide(store)), { advance: advanceSettled })
