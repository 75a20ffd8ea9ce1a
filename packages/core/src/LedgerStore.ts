/**
 * The ledger's backend spec: the atomic operations a store implements so that
 * every `Ledger` operation is one store call, and the in-memory store, the
 * embedded default. Each call receives the whole decoded request, what the
 * ledger derived from it (scopes, idempotency fingerprint) and `now`, read
 * from `Clock` by the ledger, and applies the operation atomically: it either
 * fails without changing anything or applies all of it.
 *
 * @since 0.1.0
 */
import { Context, Effect, Layer, type Result } from "effect"
import * as Admin from "./internal/ledger/admin.ts"
import type * as Commands from "./internal/ledger/commands.ts"
import * as Direct from "./internal/ledger/direct.ts"
import type { LedgerErrorReason } from "./internal/ledger/errors.ts"
import * as LedgerEvent from "./internal/ledger/event.ts"
import type * as Model from "./internal/ledger/model.ts"
import * as Query from "./internal/ledger/query.ts"
import * as Reserve from "./internal/ledger/reserve.ts"
import * as Settle from "./internal/ledger/settle.ts"
import * as State from "./internal/ledger/state.ts"

// =============================================================================
// Commands
// =============================================================================

/**
 * A decoded `reserve` request plus `scopes` (the subject's derived scopes,
 * shortest first), `fingerprint` and `now`.
 *
 * **Details**
 *
 * The store finds the budgets of `scopes` in `estimate.unit`; none → the
 * `NotFound` reason (a dry run answers deny with `budget-not-found`), or
 * `UnitMismatch` when one of the scopes has a budget in another unit. It then
 * checks each budget in order (frozen, closed, over-limit, debt with no
 * overdraft, remaining below the estimate) and, unless `dryRun`, holds the
 * estimate on every one until `now + ttlMs`.
 *
 * **Example** (What the Ledger passes for one reserve)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.ReserveCommand = {
 *   tenant: "acme",
 *   subject: { tenant: "acme", app: "support" },
 *   action: { kind: "llm.completion", name: "fast" },
 *   estimate: { unit: "USD_MICROCENTS", amount: 1_200n },
 *   ttlMs: 60_000,
 *   graceMs: 5_000,
 *   overagePolicy: "ALLOW_IF_AVAILABLE",
 *   dryRun: false,
 *   scopes: ["tenant:acme", "tenant:acme/app:support"],
 *   fingerprint: "",
 *   now: 0
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ReserveCommand = Commands.ReserveCommand

/**
 * A decoded `decide` request plus scopes, fingerprint and `now`: the reserve
 * checks without holding anything; budget states answer deny.
 *
 * **Example** (A decide command)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.DecideCommand = {
 *   tenant: "acme",
 *   subject: { tenant: "acme" },
 *   action: { kind: "llm.completion", name: "fast" },
 *   estimate: { unit: "TOKENS", amount: 500n },
 *   scopes: ["tenant:acme"],
 *   fingerprint: "",
 *   now: 0
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DecideCommand = Commands.DecideCommand

/**
 * A decoded `event` request plus scopes, fingerprint and `now`: a direct
 * debit under an overage policy.
 *
 * **Example** (An event command)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.EventCommand = {
 *   tenant: "acme",
 *   subject: { tenant: "acme" },
 *   action: { kind: "tool.search", name: "web" },
 *   actual: { unit: "CREDITS", amount: 3n },
 *   overagePolicy: "REJECT",
 *   scopes: ["tenant:acme"],
 *   fingerprint: "",
 *   now: 0
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type EventCommand = Commands.EventCommand

/**
 * A decoded `commit` request plus fingerprint and `now`.
 *
 * **Example** (A commit command)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.CommitCommand = {
 *   tenant: "acme",
 *   reservationId: "rsv_1",
 *   actual: { unit: "TOKENS", amount: 420n },
 *   fingerprint: "",
 *   now: 1_000
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CommitCommand = Commands.CommitCommand

/**
 * A decoded `release` request plus fingerprint and `now`.
 *
 * **Example** (A release command)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.ReleaseCommand = { tenant: "acme", reservationId: "rsv_1", fingerprint: "", now: 1_000 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ReleaseCommand = Commands.ReleaseCommand

/**
 * A decoded `extend` request plus fingerprint and `now`.
 *
 * **Example** (An extend command)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.ExtendCommand = {
 *   tenant: "acme",
 *   reservationId: "rsv_1",
 *   extendByMs: 30_000,
 *   fingerprint: "",
 *   now: 1_000
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ExtendCommand = Commands.ExtendCommand

/**
 * A decoded `balances` request plus the subject's derived scopes.
 *
 * **Example** (A balances query)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const query: LedgerStore.BalancesQuery = {
 *   tenant: "acme",
 *   subject: { tenant: "acme" },
 *   includeChildren: true,
 *   limit: 50,
 *   scopes: ["tenant:acme"]
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BalancesQuery = Commands.BalancesQuery

/**
 * A decoded `getReservation` request plus `now` (for the expired answer).
 *
 * **Example** (A getReservation query)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const query: LedgerStore.GetReservationQuery = { tenant: "acme", reservationId: "rsv_1", now: 0 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type GetReservationQuery = Commands.GetReservationQuery

/**
 * A decoded `listReservations` request.
 *
 * **Example** (Active reservations of one app)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const query: LedgerStore.ListReservationsQuery = {
 *   tenant: "acme",
 *   status: "active",
 *   subject: { app: "support" },
 *   limit: 50
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ListReservationsQuery = Commands.ListReservationsQuery

/**
 * One pass of the sweeper: expire up to `limit` active reservations past
 * `expiresAt + grace` (of `tenant` only, when given), then (at most once a
 * minute) forget the idempotency keys first used, and the reservations
 * finished, more than `retentionMs` before `now` (never when it is
 * `Infinity`); a reserve key stays while its reservation is active.
 *
 * **Example** (Sweeping one tenant, keeping keys for an hour)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.SweepCommand = { tenant: "acme", limit: 1_000, now: 90_000, retentionMs: 3_600_000 }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type SweepCommand = Commands.SweepCommand

/**
 * Create a budget for a canonical scope path and a unit.
 *
 * **Example** (A $10 budget for one app)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.CreateBudgetCommand = {
 *   tenant: "acme",
 *   scope: "tenant:acme/app:support",
 *   unit: "USD_MICROCENTS",
 *   allocated: 1_000_000_000n,
 *   overdraftLimit: 0n,
 *   now: 0
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CreateBudgetCommand = Commands.CreateBudgetCommand

/**
 * Fund a budget: `credit`, `debit`, `reset` or `repay-debt`.
 *
 * **Example** (Repaying debt)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.FundBudgetCommand = {
 *   tenant: "acme",
 *   scope: "tenant:acme",
 *   unit: "TOKENS",
 *   operation: "repay-debt",
 *   amount: 5_000n,
 *   fingerprint: "",
 *   now: 0
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type FundBudgetCommand = Commands.FundBudgetCommand

/**
 * Move a budget to `frozen`, `active` (unfreeze) or `closed`.
 *
 * **Example** (Freezing a budget)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.BudgetStatusCommand = {
 *   tenant: "acme",
 *   scope: "tenant:acme",
 *   unit: "TOKENS",
 *   status: "frozen",
 *   now: 0
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BudgetStatusCommand = Commands.BudgetStatusCommand

/**
 * Set a budget's overdraft limit.
 *
 * **Example** (Allowing up to 1,000 tokens of debt)
 *
 * ```ts
 * import type { LedgerStore } from "@timebox/core"
 *
 * const command: LedgerStore.OverdraftLimitCommand = {
 *   tenant: "acme",
 *   scope: "tenant:acme",
 *   unit: "TOKENS",
 *   overdraftLimit: 1_000n,
 *   now: 0
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type OverdraftLimitCommand = Commands.OverdraftLimitCommand

// =============================================================================
// Service Definition
// =============================================================================

/**
 * The operations a ledger backend implements. Every method is one atomic step
 * (the memory store runs it synchronously; the Redis store runs one Lua
 * script) and fails with a ledger reason (`BudgetExceeded`, `NotFound`, …,
 * `StoreUnavailable` when the backend cannot be reached); the `Ledger` wraps
 * it in a `LedgerError` naming the method.
 *
 * **Details**
 *
 * - Time: stores never read a clock; `now` comes in every command.
 * - Tenancy: all state lives under the caller's `tenant`; a reservation of
 *   another tenant answers `Forbidden`.
 * - Idempotency: per `(tenant, operation, idempotencyKey)`; the same key with
 *   the same `fingerprint` returns the first answer unchanged, another
 *   fingerprint fails with `IdempotencyMismatch`. The fingerprint is the
 *   canonical JSON of the decoded request without its idempotency key (the
 *   key is what finds the first request), so an agent's requests that
 *   differ only in their keys share one. Failures are not
 *   remembered. On the commands the `Ledger` builds, `fingerprint` is
 *   computed when read, so a store that compares requests another way (the
 *   memory store compares the decoded requests field by field, which agrees
 *   with comparing fingerprints) never pays for it.
 * - Identifiers (`reservationId`, `eventId`) and cursors are the store's own
 *   opaque strings.
 *
 * **Example** (A store that is always down)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger, type LedgerStore } from "@timebox/core"
 *
 * const down = Effect.fail(new Ledger.StoreUnavailable({ store: "down", detail: "no connection" }))
 * const store: LedgerStore.Service = {
 *   reserve: () => down,
 *   commit: () => down,
 *   release: () => down,
 *   extend: () => down,
 *   decide: () => down,
 *   event: () => down,
 *   balances: () => down,
 *   getReservation: () => down,
 *   listReservations: () => down,
 *   sweep: () => down,
 *   createBudget: () => down,
 *   fundBudget: () => down,
 *   setBudgetStatus: () => down,
 *   setOverdraftLimit: () => down
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  readonly reserve: (command: ReserveCommand) => Effect.Effect<Model.ReserveAnswer, LedgerErrorReason>
  readonly commit: (command: CommitCommand) => Effect.Effect<Model.CommitAnswer, LedgerErrorReason>
  readonly release: (command: ReleaseCommand) => Effect.Effect<Model.ReleaseAnswer, LedgerErrorReason>
  readonly extend: (command: ExtendCommand) => Effect.Effect<Model.ExtendAnswer, LedgerErrorReason>
  readonly decide: (command: DecideCommand) => Effect.Effect<Model.DecideAnswer, LedgerErrorReason>
  readonly event: (command: EventCommand) => Effect.Effect<Model.EventAnswer, LedgerErrorReason>
  readonly balances: (query: BalancesQuery) => Effect.Effect<Model.BalancesAnswer, LedgerErrorReason>
  readonly getReservation: (query: GetReservationQuery) => Effect.Effect<Model.Reservation, LedgerErrorReason>
  readonly listReservations: (
    query: ListReservationsQuery
  ) => Effect.Effect<Model.ReservationsAnswer, LedgerErrorReason>
  readonly sweep: (command: SweepCommand) => Effect.Effect<Model.SweepAnswer, LedgerErrorReason>
  readonly createBudget: (command: CreateBudgetCommand) => Effect.Effect<Model.BudgetAnswer, LedgerErrorReason>
  readonly fundBudget: (command: FundBudgetCommand) => Effect.Effect<Model.FundAnswer, LedgerErrorReason>
  readonly setBudgetStatus: (command: BudgetStatusCommand) => Effect.Effect<Model.BudgetAnswer, LedgerErrorReason>
  readonly setOverdraftLimit: (
    command: OverdraftLimitCommand
  ) => Effect.Effect<Model.BudgetAnswer, LedgerErrorReason>
}

/**
 * The ledger backend the `Ledger` runs on.
 *
 * **When to use**
 *
 * Provide `LedgerStore.layerMemory` (one process) or the Redis store from
 * `@timebox/redis` (many processes), then `Ledger.layer` on top. Call it
 * directly only to write a backend or its tests.
 *
 * **Example** (The ledger on the memory store)
 *
 * ```ts
 * import { Layer } from "effect"
 * import { Ledger, LedgerStore } from "@timebox/core"
 *
 * const ledger = Ledger.layer.pipe(Layer.provide(LedgerStore.layerMemory))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class LedgerStore extends Context.Service<LedgerStore, Service>()("@timebox/core/LedgerStore") {}

// =============================================================================
// Memory store
// =============================================================================

const run =
  <C, A>(operation: (command: C) => Result.Result<A, LedgerErrorReason>) =>
  (command: C): Effect.Effect<A, LedgerErrorReason> => Effect.suspend(() => Effect.fromResult(operation(command)))

/**
 * A fresh in-memory store. Each operation is a synchronous, deterministic
 * function of the state and the command, so it is atomic under any number of
 * fibers.
 *
 * **Gotchas**
 *
 * State lives in this process only. Idempotency keys are remembered for 24
 * hours after first use and finished reservations are dropped 24 hours after
 * they end (the sweeper prunes them; `Ledger.Retention` sets the 24 hours).
 *
 * **Details**
 *
 * Everything it keeps for the retention is kept compactly, since it outlives
 * every young-generation collection: a reserve, commit or release key points
 * at its reservation, which holds the request (to tell a replay from a
 * mismatch) and, in typed-array chunks off the JavaScript heap, the balances
 * its answers carried, rebuilt on replay; an event's or extension's key keeps
 * a record of the same kind; reservations and events share their subject and
 * action objects, and reservations are indexed by number. About 660 bytes
 * per guarded model call (keyed reserve and commit, keys included) and 320
 * per keyed event with one budgeted scope, ~830 and ~410 with three,
 * measured on Node 20.
 *
 * **Example** (Two independent stores)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { LedgerStore } from "@timebox/core"
 *
 * const program = Effect.gen(function*() {
 *   const first = yield* LedgerStore.makeMemory
 *   const second = yield* LedgerStore.makeMemory
 *   return [first, second]
 * })
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const makeMemory: Effect.Effect<Service> = Effect.sync(() => {
  const state = State.make()
  const direct: Direct.Direct = {
    reserve: (command) => Reserve.reserve(state, command),
    commit: (command) => Settle.commit(state, command),
    release: (command) => Settle.release(state, command),
    extend: (command) => Settle.extend(state, command),
    decide: (command) => Reserve.decide(state, command),
    event: (command) => LedgerEvent.event(state, command),
    balances: (query) => Query.balances(state, query),
    getReservation: (query) => Query.getReservation(state, query)
  }
  const service: Service = {
    reserve: run(direct.reserve),
    commit: run(direct.commit),
    release: run(direct.release),
    extend: run(direct.extend),
    decide: run(direct.decide),
    event: run(direct.event),
    balances: run(direct.balances),
    getReservation: run(direct.getReservation),
    listReservations: run((command) => Query.listReservations(state, command)),
    sweep: (command) => Effect.sync(() => Settle.sweep(state, command)),
    createBudget: run((command) => Admin.createBudget(state, command)),
    fundBudget: run((command) => Admin.fundBudget(state, command)),
    setBudgetStatus: run((command) => Admin.setBudgetStatus(state, command)),
    setOverdraftLimit: run((command) => Admin.setOverdraftLimit(state, command))
  }
  Direct.register(service, direct)
  return service
})

/**
 * The in-memory store as a layer: the embedded default, one fresh ledger per
 * layer build.
 *
 * **Example** (A ledger for one process)
 *
 * ```ts
 * import { Layer } from "effect"
 * import { Ledger, LedgerStore } from "@timebox/core"
 *
 * const ledger = Ledger.layer.pipe(Layer.provide(LedgerStore.layerMemory))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<LedgerStore> = Layer.effect(LedgerStore, makeMemory)
