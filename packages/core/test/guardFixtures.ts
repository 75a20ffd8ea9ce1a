// What the guard tests share: a model with round prices, the question and its
// worst case, the guarded subject and its budget, and the memory ledger.
import { Duration, Effect, Layer } from "effect"
import {
  Agent,
  Inference,
  Ledger,
  LedgerStore,
  type ModelProfile,
  Pipeline,
  SimulatedModel,
  Stage
} from "../src/index.ts"

// A model with round numbers: 1,000 nano-USD an input token, 2,000 an output
// token, 20 output tokens expected, at most 50; 100 ms to the first token,
// then 100 tokens/s, no jitter.
export const metered: ModelProfile.ModelProfile = {
  name: "metered",
  provider: "simulated",
  ttftMs: 100,
  ttftP95Ms: 100,
  tokensPerSecond: 100,
  jitter: 0,
  reasoningMs: 0,
  reasoningTokens: 0,
  expectedOutputTokens: 20,
  maxOutputTokens: 50,
  price: { inputNanoUsdPerToken: 1_000, outputNanoUsdPerToken: 2_000 },
  accuracy: 4
}

// "Where is my order A-1?" is 22 characters: 6 input tokens. Worst case:
// 6 × 1,000 + 50 × 2,000 = 106,000 nano-USD = 10,600 µ¢. Real use:
// 6 × 1,000 + 20 × 2,000 = 46,000 nano-USD = 4,600 µ¢.
export const question = "Where is my order A-1?"
export const worst = 10_600
export const actual = 4_600

export const tenant = "acme"
export const subject = { tenant, app: "support", agent: "guarded" }
export const scope = "tenant:acme/app:support/agent:guarded"

export const agent = (allocation: "5 seconds" | "150 millis" = "5 seconds") =>
  Agent.make({
    name: "guarded",
    budget: "10 seconds",
    pipeline: Pipeline.make<string>().add(
      Stage.required(
        "inference",
        ({ input }) => Effect.map(Inference.run({ prompt: input, models: metered }), (result) => result.text),
        { allocation }
      )
    )
  })

// The memory ledger without its background sweeper (nothing expires in these tests).
export const LedgerTest = Ledger.layer.pipe(
  Layer.provide(LedgerStore.layerMemory),
  Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.infinity))
)

export const fund = (allocated: number) =>
  Effect.flatMap(Ledger.Ledger, (ledger) => ledger.createBudget({ tenant, scope, unit: "USD_MICROCENTS", allocated }))

export const balance = Effect.flatMap(Ledger.Ledger, (ledger) =>
  Effect.map(
    ledger.balances({ tenant, subject, unit: "USD_MICROCENTS" }),
    (answer) => answer.balances.find((entry) => entry.scope === scope)!
  ))

export const model = SimulatedModel.layer({ profile: metered })
