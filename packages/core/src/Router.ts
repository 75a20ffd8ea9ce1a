/**
 * Routing by remaining budget: at the moment a stage starts, choose the most
 * capable model whose p95 latency fits the stage's window, keep the others
 * that fit as fallbacks for provider errors (never for a ledger's refusal:
 * a guarded call denied its reservation stops there), and say in the report which model
 * was chosen, why, and among which candidates.
 *
 * @since 0.1.0
 */
import { Config, Effect, Layer, Option } from "effect"
import type { LanguageModel } from "effect/ai"
import { FetchHttpClient } from "effect/http"
import * as ModelProfile from "./ModelProfile.ts"
import * as OpenAiCompatible from "./OpenAiCompatible.ts"
import type { ModelChoice, StageRecord } from "./Report.ts"
import * as SimulatedModel from "./SimulatedModel.ts"

/**
 * A model the router may pick: its profile and the layer that provides it.
 *
 * **Example** (A simulated candidate)
 *
 * ```ts
 * import { ModelProfile, SimulatedModel, type Router } from "@timebox/core"
 *
 * const fast: Router.Candidate = {
 *   profile: ModelProfile.presets.fast,
 *   layer: SimulatedModel.layer({ profile: ModelProfile.presets.fast })
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Candidate {
  readonly profile: ModelProfile.ModelProfile
  readonly layer: Layer.Layer<LanguageModel.LanguageModel>
}

/**
 * A set of candidates.
 *
 * **Example** (Three simulated presets)
 *
 * ```ts
 * import { ModelProfile, Router } from "@timebox/core"
 *
 * const router = Router.simulated([ModelProfile.presets.large, ModelProfile.presets.balanced, ModelProfile.presets.fast])
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Router {
  readonly candidates: ReadonlyArray<Candidate>
}

/**
 * A router over `candidates`. Give it at least one: `Inference.run` refuses
 * a router with none (`InvalidConfig` on `models.candidates`), and
 * `choose` has nothing to choose from.
 *
 * **Example** (A router with one real and one simulated model)
 *
 * ```ts
 * import { ModelProfile, Router, SimulatedModel } from "@timebox/core"
 *
 * const router = Router.make([
 *   { profile: ModelProfile.presets.fast, layer: SimulatedModel.layer({ profile: ModelProfile.presets.fast }) }
 * ])
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make = (candidates: ReadonlyArray<Candidate>): Router => ({ candidates })

/**
 * The result of a choice: the chosen candidate, the fallbacks in order, and
 * the report entry.
 *
 * **Example** (Reading a choice)
 *
 * ```ts
 * import { ModelProfile, Router } from "@timebox/core"
 *
 * const choice = Router.choose(Router.simulated([ModelProfile.presets.fast]), 2_000)
 * choice.report.reason // "most-capable-that-fits"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Choice {
  readonly chosen: Candidate
  readonly fallbacks: ReadonlyArray<Candidate>
  readonly report: ModelChoice
}

const byCapability = (a: Candidate, b: Candidate): number =>
  b.profile.accuracy - a.profile.accuracy || ModelProfile.p95Ms(a.profile) - ModelProfile.p95Ms(b.profile)

/**
 * Chooses for a window of `windowMs`: the most accurate candidate whose p95
 * latency fits (ties go to the faster), reason `most-capable-that-fits`; when
 * none fits, the fastest, reason `none-fits-fastest` (it may still finish in
 * time, and a stage's timeout stays the backstop). Fallbacks are the other
 * candidates that fit, most capable first (then the faster ones that do not).
 *
 * **Example** (1.5 s only fits the fast model)
 *
 * ```ts
 * import { ModelProfile, Router } from "@timebox/core"
 *
 * const router = Router.simulated([ModelProfile.presets.large, ModelProfile.presets.balanced, ModelProfile.presets.fast])
 * Router.choose(router, 1_500).chosen.profile.name // "fast"
 * Router.choose(router, 3_000).chosen.profile.name // "large"
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const choose = (router: Router, windowMs: number): Choice => {
  const candidates = router.candidates.map((candidate) => ({
    candidate,
    p95Ms: ModelProfile.p95Ms(candidate.profile),
    fits: ModelProfile.p95Ms(candidate.profile) <= windowMs
  }))
  const fitting = candidates.filter((entry) => entry.fits).map((entry) => entry.candidate).sort(byCapability)
  const bySpeed = [...candidates].sort((a, b) => a.p95Ms - b.p95Ms).map((entry) => entry.candidate)
  const chosen = fitting[0] ?? bySpeed[0]!
  const fallbacks = [
    ...fitting.filter((candidate) => candidate !== chosen),
    ...bySpeed.filter((candidate) => candidate !== chosen && !fitting.includes(candidate))
  ]
  return {
    chosen,
    fallbacks,
    report: {
      chosen: chosen.profile.name,
      reason: fitting.length > 0 ? "most-capable-that-fits" : "none-fits-fastest",
      candidates: candidates.map((entry) => ({
        name: entry.candidate.profile.name,
        p95Ms: Math.round(entry.p95Ms),
        accuracy: entry.candidate.profile.accuracy,
        fits: entry.fits
      }))
    }
  }
}

/**
 * Replaces the profile of the candidate named `name`, e.g. with
 * `ModelProfile.observe` after real runs.
 *
 * **Example** (Learning from observed latencies)
 *
 * ```ts
 * import { ModelProfile, Router } from "@timebox/core"
 *
 * const router = Router.simulated([ModelProfile.presets.fast])
 * const updated = Router.updateProfile(router, "fast", (profile) => ModelProfile.observe(profile, [{ ttftMs: 900 }]))
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const updateProfile = (
  router: Router,
  name: string,
  update: (profile: ModelProfile.ModelProfile) => ModelProfile.ModelProfile
): Router => ({
  candidates: router.candidates.map((candidate) =>
    candidate.profile.name === name ? { ...candidate, profile: update(candidate.profile) } : candidate
  )
})

/**
 * A router over simulated models, one per profile (the embedded default).
 *
 * **Example** (The three presets)
 *
 * ```ts
 * import { ModelProfile, Router } from "@timebox/core"
 *
 * const router = Router.simulated([ModelProfile.presets.large, ModelProfile.presets.balanced, ModelProfile.presets.fast])
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const simulated = (
  profiles: ReadonlyArray<ModelProfile.ModelProfile>,
  options: Omit<SimulatedModel.Options, "profile"> = {}
): Router => make(profiles.map((profile) => ({ profile, layer: SimulatedModel.layer({ ...options, profile }) })))

/**
 * The router a deployment asks for: when `TIMEBOX_MODEL=openai:<model>` is set
 * (with `OPENAI_API_KEY`, `OPENAI_BASE_URL`), a router over that one
 * OpenAI-compatible model (on `FetchHttpClient`), with `profile`'s latency and
 * price figures under the model's name; otherwise `fallback`, the embedded
 * simulated default.
 *
 * **Example** (Simulated unless configured)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { ModelProfile, Router } from "@timebox/core"
 *
 * const router = Router.fromEnvironment(Router.simulated([ModelProfile.presets.fast]))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const fromEnvironment = (
  fallback: Router,
  profile: ModelProfile.ModelProfile = ModelProfile.presets.balanced
): Effect.Effect<Router, Config.ConfigError> =>
  Effect.gen(function*() {
    const selected = yield* OpenAiCompatible.fromEnv
    if (Option.isNone(selected)) return fallback
    const name = Option.flatMap(yield* Config.option(Config.String("TIMEBOX_MODEL")), OpenAiCompatible.parseSelection)
    return make([{
      profile: { ...profile, name: Option.getOrElse(name, () => "openai"), provider: OpenAiCompatible.providerName },
      layer: Layer.provide(selected.value, FetchHttpClient.layer)
    }])
  })

/**
 * Updates every candidate's profile from the first-token times a finished run
 * observed (`ModelProfile.observationsFrom` then `ModelProfile.observe`), so
 * that routing follows what the models really do.
 *
 * **Example** (After each run)
 *
 * ```ts
 * import { ModelProfile, Router, type Report } from "@timebox/core"
 *
 * let router = Router.simulated([ModelProfile.presets.balanced, ModelProfile.presets.fast])
 * const afterRun = (report: Report.RunReport) => {
 *   router = Router.learn(router, report)
 * }
 * ```
 *
 * @category combinators
 * @since 0.1.0
 */
export const learn = (router: Router, report: { readonly stages: ReadonlyArray<StageRecord> }): Router => {
  const observations = ModelProfile.observationsFrom(report)
  return {
    candidates: router.candidates.map((candidate) => {
      const seen = observations.get(candidate.profile.name)
      return seen === undefined ? candidate : { ...candidate, profile: ModelProfile.observe(candidate.profile, seen) }
    })
  }
}
