import { fileURLToPath } from "node:url"
import type { ViteUserConfig } from "vitest/config"

// vitest 5 needs Node >= 22.12; on Node 20 its failure reporter calls Map.groupBy
// (Node >= 21) and crashes, hiding the assertion. Configs run in the main process.
if (!("groupBy" in Map)) {
  Object.assign(Map, {
    groupBy: <K, V>(items: Iterable<V>, key: (v: V, i: number) => K) => {
      const map = new Map<K, Array<V>>()
      let i = 0
      for (const v of items) {
        const k = key(v, i++)
        const list = map.get(k)
        if (list === undefined) map.set(k, [v])
        else list.push(v)
      }
      return map
    }
  })
}

// `timebox-test/*` is core's test folder, so other packages run the shared suites (as
// effect's `effect-test/*`): `import * as LedgerStoreTest from "timebox-test/LedgerStoreTest"`.
// No `.ts` there: TypeScript refuses it on a non-relative import (rewriteRelativeImportExtensions);
// tsconfig.base.json maps `timebox-test/*` to `packages/core/test/*.ts`.
const coreTest = fileURLToPath(new URL("./packages/core/test", import.meta.url))

export const shared: ViteUserConfig = {
  resolve: { conditions: ["source"], alias: { "timebox-test": coreTest } },
  ssr: { resolve: { conditions: ["source"] } },
  test: {
    include: ["test/**/*.test.ts"],
    testTimeout: 30_000
  }
}
