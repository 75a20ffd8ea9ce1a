import { defineConfig, mergeConfig } from "vitest/config"
import { shared } from "../vitest.shared.ts"

// The docs' code examples (docs/examples/*.test.ts) run as tests, so a guide
// cannot show code that does not behave as it says.
export default mergeConfig(shared, defineConfig({ test: { include: ["examples/**/*.test.ts"] } }))
