import { defineConfig } from "vitest/config"
import "./vitest.shared.ts"

export default defineConfig({
  test: {
    projects: ["packages/*/vitest.config.ts", "examples/*/vitest.config.ts", "docs/vitest.config.ts"]
  }
})
