/**
 * The cost ledger: reserve before an expensive call, commit what it really
 * cost, release what it did not use, atomically across every scope of the
 * subject, with the semantics of the Cycles protocol v0.1.25 (amounts and
 * units, scopes, overage policies, expiry, idempotency, tenancy).
 *
 * @since 0.1.0
 */
import { Clock, Context, Duration, Effect, Exit, Layer, Result, Schema, SchemaIssue, Tracer } from "effect"
import * as InFlight from "./internal/guardInFlight.ts"
import * as Kept from "./internal/guardKept.ts"
import * as AmountMath from "./internal/ledger/amount.ts"
import * as Commands from "./internal/ledger/commands.ts"
import * as Decode from "./internal/ledger/decode.ts"
import * as Direct from "./internal/ledger/direct.ts"
import * as Errors from "./internal/ledger/errors.ts"
import * as Model from "./internal/ledger/model.ts"
import * as Scope from "./internal/ledger/scope.ts"
import * as LedgerStore from "./LedgerStore.ts"

// =============================================================================
// Models
// =============================================================================

/**
 * The unit of an amount: `USD_MICROCENTS` (10^8 per dollar, 10^6 per cent),
 * `TOKENS`, `CREDITS` or `RISK_POINTS`. A reservation and everything that
 * settles it use one unit.
 *
 * **Example** (One dollar)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const dollar: Ledger.Amount = { unit: "USD_MICROCENTS", amount: 100_000_000n }
 * const unit: Ledger.Unit = dollar.unit
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Unit: typeof Model.Unit = Model.Unit

/**
 * The type of `Ledger.Unit`.
 *
 * **Example** (A unit)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const unit: Ledger.Unit = "TOKENS"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Unit = Model.Unit

/**
 * What a commit (or event) does with an actual above the estimate (or above
 * what is left).
 *
 * **Details**
 *
 * - `REJECT`: the commit fails with `BudgetExceeded` and the reservation
 *   stays active; an event fails when any scope cannot cover it.
 * - `ALLOW_IF_AVAILABLE` (the default): the extra is capped at the smallest
 *   remaining across the scopes; scopes that could not cover all of it become
 *   over-limit (no new reservations until funded); never debt.
 * - `ALLOW_WITH_OVERDRAFT`: on scopes with an overdraft limit, the part their
 *   remaining cannot fund becomes debt while `debt + shortfall ≤
 *   overdraftLimit`, else the whole commit fails with
 *   `OverdraftLimitExceeded` (and with `InvalidRequest` on `actual` in the
 *   one case where the debt would take a remaining below −2^63, after an
 *   allocation reset far below what was spent); scopes without an overdraft
 *   limit cap the extra as `ALLOW_IF_AVAILABLE` does.
 *
 * **Example** (Choosing a policy)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const strict: Ledger.OveragePolicy = "REJECT"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const OveragePolicy: typeof Model.OveragePolicy = Model.OveragePolicy

/**
 * The type of `Ledger.OveragePolicy`.
 *
 * **Example** (A policy)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const policy: Ledger.OveragePolicy = "ALLOW_WITH_OVERDRAFT"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type OveragePolicy = Model.OveragePolicy

/**
 * A budget's status: `active`, `frozen` (no new reservations, events or
 * funding; unfreeze to resume) or `closed` (for good).
 *
 * **Example** (Checking a balance)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const usable = (balance: Ledger.Balance) => balance.status === "active"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const BudgetStatus: typeof Model.BudgetStatus = Model.BudgetStatus

/**
 * The type of `Ledger.BudgetStatus`.
 *
 * **Example** (A status)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const status: Ledger.BudgetStatus = "frozen"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BudgetStatus = Model.BudgetStatus

/**
 * A reservation's status: `active` until it is `committed`, `released` or
 * `expired` (by the sweeper, past `expiresAt + grace`).
 *
 * **Example** (Listing stuck reservations)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const stuck = Ledger.Ledger.use((ledger) => ledger.listReservations({ tenant: "acme", status: "active" }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ReservationStatus: typeof Model.ReservationStatus = Model.ReservationStatus

/**
 * The type of `Ledger.ReservationStatus`.
 *
 * **Example** (Settled or not)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const settled = (status: Ledger.ReservationStatus) => status !== "active"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ReservationStatus = Model.ReservationStatus

/**
 * The answer of `decide` and of a dry run: `allow` or `deny`.
 *
 * **Example** (Acting on a decision)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const go = (answer: Ledger.DecideAnswer) => answer.decision === "allow"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Decision: typeof Model.Decision = Model.Decision

/**
 * The type of `Ledger.Decision`.
 *
 * **Example** (A decision)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const decision: Ledger.Decision = "deny"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Decision = Model.Decision

/**
 * Why `decide` or a dry run denied: `budget-exceeded`, `budget-frozen`,
 * `budget-closed`, `overdraft-limit-exceeded`, `debt-outstanding` or
 * `budget-not-found`.
 *
 * **Example** (Explaining a deny)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const explain = (answer: Ledger.DecideAnswer) => answer.reasonCode ?? "allowed"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const DenyReason: typeof Model.DenyReason = Model.DenyReason

/**
 * The type of `Ledger.DenyReason`.
 *
 * **Example** (A deny reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const reason: Ledger.DenyReason = "debt-outstanding"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DenyReason = Model.DenyReason

/**
 * How `fundBudget` changes a budget: `credit` (allocated += amount), `debit`
 * (allocated −= amount, never leaving a negative remaining), `reset`
 * (allocated = amount) or `repay-debt` (debt is cleared first, the rest is
 * credited).
 *
 * **Example** (A top-up)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const operation: Ledger.FundOperation = "credit"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const FundOperation: typeof Model.FundOperation = Model.FundOperation

/**
 * The type of `Ledger.FundOperation`.
 *
 * **Example** (An operation)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const operation: Ledger.FundOperation = "repay-debt"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type FundOperation = Model.FundOperation

/**
 * An amount: a non-negative integer up to 2^63 − 1, a `bigint` in memory.
 * Decodes from a `bigint`, a JSON number that is a safe integer, or a decimal
 * string; encodes as a decimal string, so amounts above 2^53 survive JSON.
 *
 * **Example** (Decoding from JSON)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * Schema.decodeUnknownSync(Ledger.AmountValue)("9223372036854775807") // 9223372036854775807n
 * Schema.encodeSync(Ledger.AmountValue)(1200n) // "1200"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const AmountValue: typeof AmountMath.AmountValue = AmountMath.AmountValue

/**
 * A signed amount in [−2^63, 2^63 − 1], as a balance's `remaining` (negative
 * under debt).
 *
 * **Example** (A remaining in overdraft)
 *
 * ```ts
 * import { Schema } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * Schema.decodeUnknownSync(Ledger.SignedAmountValue)("-200") // -200n
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const SignedAmountValue: typeof AmountMath.SignedAmountValue = AmountMath.SignedAmountValue

/**
 * The largest amount, 2^63 − 1.
 *
 * **Example** (The ceiling)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const fits = (amount: bigint) => amount <= Ledger.maxAmount
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const maxAmount: bigint = AmountMath.MAX

/**
 * An amount in a unit.
 *
 * **Example** (Ten cents)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const tenCents: Ledger.Amount = { unit: "USD_MICROCENTS", amount: 10_000_000n }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Amount: typeof Model.Amount = Model.Amount

/**
 * The type of `Ledger.Amount`.
 *
 * **Example** (A thousand tokens)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const amount: Ledger.Amount = { unit: "TOKENS", amount: 1_000n }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Amount = Model.Amount

/**
 * Who spends: some of `tenant → workspace → app → workflow → agent →
 * toolset` (at least one; values of 1 to 128 characters from
 * `[a-zA-Z0-9_.-]`), plus free `dimensions` that do not affect budgets.
 *
 * **Details**
 *
 * Its derived scopes are the cumulative paths of the levels it names, in that
 * order; absent levels are skipped, not filled: `{ tenant: "acme", agent:
 * "bot" }` derives `tenant:acme` and `tenant:acme/agent:bot`. An operation
 * touches every derived scope that has a budget in its unit.
 *
 * **Example** (One agent of one app)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const subject: Ledger.Subject = { tenant: "acme", app: "support", agent: "triage" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Subject: typeof Model.Subject = Model.Subject

/**
 * The type of `Ledger.Subject`.
 *
 * **Example** (A tenant-wide subject)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const subject: Ledger.Subject = { tenant: "acme" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Subject = Model.Subject

/**
 * What is being paid for: a `kind` (`llm.completion`, `tool.search`), a
 * `name` (the model or tool) and optional tags.
 *
 * **Example** (A model call)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const action: Ledger.Action = { kind: "llm.completion", name: "openai:gpt-4o-mini" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Action: typeof Model.Action = Model.Action

/**
 * The type of `Ledger.Action`.
 *
 * **Example** (A tool call)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const action: Ledger.Action = { kind: "tool.search", name: "web", tags: ["prod"] }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Action = Model.Action

/**
 * Free string metadata kept with a reservation (at most 32 entries).
 *
 * **Example** (Tagging a run)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const metadata: Ledger.Metadata = { run: "run-42" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Metadata: typeof Model.Metadata = Model.Metadata

/**
 * The type of `Ledger.Metadata`.
 *
 * **Example** (Metadata)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const metadata: Ledger.Metadata = { step: "3" }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Metadata = Model.Metadata

/**
 * The state of one budget (a scope and a unit): `remaining = allocated −
 * spent − reserved − debt`, negative under debt.
 *
 * **Details**
 *
 * `spent` is what committed reservations and events paid from the budget;
 * `debt` is what they used beyond it under `ALLOW_WITH_OVERDRAFT`; so a
 * charge adds to `spent + debt`. `isOverLimit` blocks new reservations until
 * the budget is funded.
 *
 * **Example** (What is left)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const left = (balance: Ledger.Balance) => `${balance.scope}: ${balance.remaining} ${balance.unit} left`
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Balance: typeof Model.Balance = Model.Balance

/**
 * The type of `Ledger.Balance`.
 *
 * **Example** (Spent and in debt)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const used = (balance: Ledger.Balance) => balance.spent + balance.debt
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Balance = Model.Balance

/**
 * A reservation as `getReservation` and `listReservations` show it.
 *
 * **Example** (Time left on a reservation)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const leftMs = (reservation: Ledger.Reservation, now: number) => reservation.expiresAtMs - now
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const Reservation: typeof Model.Reservation = Model.Reservation

/**
 * The type of `Ledger.Reservation`.
 *
 * **Example** (Its unit)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const unit = (reservation: Ledger.Reservation) => reservation.reserved.unit
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type Reservation = Model.Reservation

// =============================================================================
// Requests
// =============================================================================

/**
 * A reservation request. `tenant` is the caller's tenant (the subject's
 * tenant, when it names one, must be the same).
 *
 * **Details**
 *
 * - `ttlMs`: 1,000 to 86,400,000 ms, default 60,000; `graceMs`: 0 to 60,000,
 *   default 5,000 (commit and release are accepted until `expiresAt +
 *   grace`).
 * - `overagePolicy`: default `ALLOW_IF_AVAILABLE`.
 * - `dryRun`: evaluate and answer allow or deny, changing nothing.
 * - `idempotencyKey`: retrying with the same key and request returns the
 *   first answer (the same reservation); without a key a retry reserves
 *   again.
 *
 * **Example** (Reserving the worst case of a model call)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const reserve = Ledger.Ledger.use((ledger) =>
 *   ledger.reserve({
 *     tenant: "acme",
 *     subject: { tenant: "acme", app: "support" },
 *     action: { kind: "llm.completion", name: "fast" },
 *     estimate: { unit: "USD_MICROCENTS", amount: 1_000_000 },
 *     ttlMs: 30_000,
 *     idempotencyKey: "run-42-step-1"
 *   })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ReserveRequest: typeof Model.ReserveRequest = Model.ReserveRequest

/**
 * The type of `Ledger.ReserveRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const ttl = (request: Ledger.ReserveRequest) => request.ttlMs // defaults applied
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ReserveRequest = Model.ReserveRequest

/**
 * A commit request: the actual cost, in the reservation's unit.
 *
 * **Example** (Committing real usage)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const commit = Ledger.Ledger.use((ledger) =>
 *   ledger.commit({ tenant: "acme", reservationId: "rsv_1", actual: { unit: "USD_MICROCENTS", amount: 420_000 } })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const CommitRequest: typeof Model.CommitRequest = Model.CommitRequest

/**
 * The type of `Ledger.CommitRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const actual = (request: Ledger.CommitRequest) => request.actual.amount
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CommitRequest = Model.CommitRequest

/**
 * A release request: give the whole reservation back.
 *
 * **Example** (The call failed)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const release = Ledger.Ledger.use((ledger) =>
 *   ledger.release({ tenant: "acme", reservationId: "rsv_1", reason: "model error" })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ReleaseRequest: typeof Model.ReleaseRequest = Model.ReleaseRequest

/**
 * The type of `Ledger.ReleaseRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const why = (request: Ledger.ReleaseRequest) => request.reason ?? "unused"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ReleaseRequest = Model.ReleaseRequest

/**
 * An extend request: move `expiresAt` forward by `extendByMs` (1 to
 * 86,400,000), from the current `expiresAt`, not from now.
 *
 * **Example** (A heartbeat)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const beat = Ledger.Ledger.use((ledger) =>
 *   ledger.extend({ tenant: "acme", reservationId: "rsv_1", extendByMs: 30_000 })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ExtendRequest: typeof Model.ExtendRequest = Model.ExtendRequest

/**
 * The type of `Ledger.ExtendRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const by = (request: Ledger.ExtendRequest) => request.extendByMs
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ExtendRequest = Model.ExtendRequest

/**
 * A decide request: would a reservation of `estimate` be allowed now?
 *
 * **Example** (Checking before planning)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const decide = Ledger.Ledger.use((ledger) =>
 *   ledger.decide({
 *     tenant: "acme",
 *     subject: { tenant: "acme" },
 *     action: { kind: "llm.completion", name: "accurate" },
 *     estimate: { unit: "TOKENS", amount: 8_000 }
 *   })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const DecideRequest: typeof Model.DecideRequest = Model.DecideRequest

/**
 * The type of `Ledger.DecideRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const estimate = (request: Ledger.DecideRequest) => request.estimate.amount
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DecideRequest = Model.DecideRequest

/**
 * An event request: debit `actual` directly, without a reservation, under an
 * overage policy (default `ALLOW_IF_AVAILABLE`).
 *
 * **Example** (A tool priced after the fact)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const event = Ledger.Ledger.use((ledger) =>
 *   ledger.event({
 *     tenant: "acme",
 *     subject: { tenant: "acme", toolset: "search" },
 *     action: { kind: "tool.search", name: "web" },
 *     actual: { unit: "CREDITS", amount: 3 },
 *     overagePolicy: "REJECT"
 *   })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const EventRequest: typeof Model.EventRequest = Model.EventRequest

/**
 * The type of `Ledger.EventRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const policy = (request: Ledger.EventRequest) => request.overagePolicy
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type EventRequest = Model.EventRequest

/**
 * A balances request: the budgets of the subject's derived scopes (of one
 * unit, when given) and, with `includeChildren`, of every scope below it; a
 * page of at most `limit` (1 to 200, default 50) from `cursor`.
 *
 * **Example** (Everything under a tenant)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const all = Ledger.Ledger.use((ledger) =>
 *   ledger.balances({ tenant: "acme", subject: { tenant: "acme" }, includeChildren: true })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const BalancesRequest: typeof Model.BalancesRequest = Model.BalancesRequest

/**
 * The type of `Ledger.BalancesRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const page = (request: Ledger.BalancesRequest) => request.limit // 50 by default
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BalancesRequest = Model.BalancesRequest

/**
 * A getReservation request.
 *
 * **Example** (Looking one up)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const one = Ledger.Ledger.use((ledger) => ledger.getReservation({ tenant: "acme", reservationId: "rsv_1" }))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const GetReservationRequest: typeof Model.GetReservationRequest = Model.GetReservationRequest

/**
 * The type of `Ledger.GetReservationRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const id = (request: Ledger.GetReservationRequest) => request.reservationId
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type GetReservationRequest = Model.GetReservationRequest

/**
 * A listReservations request: filter by status, subject levels (exact
 * matches) and idempotency key; oldest first, at most `limit` (1 to 200,
 * default 50) a page.
 *
 * **Example** (Recovering a lost reservation id)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const found = Ledger.Ledger.use((ledger) =>
 *   ledger.listReservations({ tenant: "acme", idempotencyKey: "run-42-step-1" })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ListReservationsRequest: typeof Model.ListReservationsRequest = Model.ListReservationsRequest

/**
 * The type of `Ledger.ListReservationsRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const page = (request: Ledger.ListReservationsRequest) => request.limit
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ListReservationsRequest = Model.ListReservationsRequest

/**
 * A sweep request: expire up to `limit` (default 1,000) reservations past
 * `expiresAt + grace`, of one tenant (earliest due first, ties in creation
 * order) or of all (tenant by tenant, in no set order).
 *
 * **Example** (Sweeping now)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const sweep = Ledger.Ledger.use((ledger) => ledger.sweep({}))
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const SweepRequest: typeof Model.SweepRequest = Model.SweepRequest

/**
 * The type of `Ledger.SweepRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const limit = (request: Ledger.SweepRequest) => request.limit // 1000 by default
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type SweepRequest = Model.SweepRequest

/**
 * A createBudget request: a scope (a subject, or its canonical path such as
 * `"tenant:acme/app:support"`), a unit, the allocation and an optional
 * overdraft limit (default 0: no debt).
 *
 * **Example** (A $1.00 budget)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const create = Ledger.Ledger.use((ledger) =>
 *   ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 100_000_000 })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const CreateBudgetRequest: typeof Model.CreateBudgetRequest = Model.CreateBudgetRequest

/**
 * The type of `Ledger.CreateBudgetRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const limit = (request: Ledger.CreateBudgetRequest) => request.overdraftLimit // 0n by default
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CreateBudgetRequest = Model.CreateBudgetRequest

/**
 * A fundBudget request: one `FundOperation` with an amount.
 *
 * **Example** (Repaying debt)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const repay = Ledger.Ledger.use((ledger) =>
 *   ledger.fundBudget({ tenant: "acme", scope: "tenant:acme", unit: "TOKENS", operation: "repay-debt", amount: 500 })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const FundBudgetRequest: typeof Model.FundBudgetRequest = Model.FundBudgetRequest

/**
 * The type of `Ledger.FundBudgetRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const operation = (request: Ledger.FundBudgetRequest) => request.operation
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type FundBudgetRequest = Model.FundBudgetRequest

/**
 * The budget that freezeBudget, unfreezeBudget and closeBudget act on.
 *
 * **Example** (Freezing a runaway app)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const freeze = Ledger.Ledger.use((ledger) =>
 *   ledger.freezeBudget({ tenant: "acme", scope: "tenant:acme/app:support", unit: "USD_MICROCENTS" })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const BudgetStatusRequest: typeof Model.BudgetStatusRequest = Model.BudgetStatusRequest

/**
 * The type of `Ledger.BudgetStatusRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const unit = (request: Ledger.BudgetStatusRequest) => request.unit
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BudgetStatusRequest = Model.BudgetStatusRequest

/**
 * A setOverdraftLimit request: how much debt a budget may take under
 * `ALLOW_WITH_OVERDRAFT` (0: none).
 *
 * **Example** (Allowing $0.50 of debt)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const allow = Ledger.Ledger.use((ledger) =>
 *   ledger.setOverdraftLimit({ tenant: "acme", scope: "tenant:acme", unit: "USD_MICROCENTS", overdraftLimit: 50_000_000 })
 * )
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const OverdraftLimitRequest: typeof Model.OverdraftLimitRequest = Model.OverdraftLimitRequest

/**
 * The type of `Ledger.OverdraftLimitRequest`.
 *
 * **Example** (A decoded request)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const limit = (request: Ledger.OverdraftLimitRequest) => request.overdraftLimit
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type OverdraftLimitRequest = Model.OverdraftLimitRequest

// =============================================================================
// Answers
// =============================================================================

/**
 * The answer of reserve: `allow` with the reservation (id, amount held,
 * `expiresAtMs`) and the balances of every budget it touched; a dry run
 * answers `allow` or `deny` (with `reasonCode`) and holds nothing.
 *
 * **Example** (The reservation id)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const id = (answer: Ledger.ReserveAnswer) => answer.reservationId
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ReserveAnswer: typeof Model.ReserveAnswer = Model.ReserveAnswer

/**
 * The type of `Ledger.ReserveAnswer`.
 *
 * **Example** (Allowed?)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const allowed = (answer: Ledger.ReserveAnswer) => answer.decision === "allow"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ReserveAnswer = Model.ReserveAnswer

/**
 * The answer of commit: what was charged (less than `actual` when
 * `ALLOW_IF_AVAILABLE` capped the overage), what went back, and the balances.
 *
 * **Example** (The cost)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const cost = (answer: Ledger.CommitAnswer) => answer.charged.amount
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const CommitAnswer: typeof Model.CommitAnswer = Model.CommitAnswer

/**
 * The type of `Ledger.CommitAnswer`.
 *
 * **Example** (Capped?)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const capped = (answer: Ledger.CommitAnswer, actual: bigint) => answer.charged.amount < actual
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type CommitAnswer = Model.CommitAnswer

/**
 * The answer of release: the amount given back and the balances.
 *
 * **Example** (What came back)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const back = (answer: Ledger.ReleaseAnswer) => answer.released.amount
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ReleaseAnswer: typeof Model.ReleaseAnswer = Model.ReleaseAnswer

/**
 * The type of `Ledger.ReleaseAnswer`.
 *
 * **Example** (The balances after)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const after = (answer: Ledger.ReleaseAnswer) => answer.balances
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ReleaseAnswer = Model.ReleaseAnswer

/**
 * The answer of extend: the new `expiresAtMs`, how many times the
 * reservation was extended, and the balances.
 *
 * **Example** (The new expiry)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const until = (answer: Ledger.ExtendAnswer) => answer.expiresAtMs
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ExtendAnswer: typeof Model.ExtendAnswer = Model.ExtendAnswer

/**
 * The type of `Ledger.ExtendAnswer`.
 *
 * **Example** (Extensions left)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const left = (answer: Ledger.ExtendAnswer) => 10 - answer.extensions
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ExtendAnswer = Model.ExtendAnswer

/**
 * The answer of decide: `allow`, or `deny` with a `reasonCode`.
 *
 * **Example** (Deny is an answer, not an error)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const denied = (answer: Ledger.DecideAnswer) => answer.decision === "deny"
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const DecideAnswer: typeof Model.DecideAnswer = Model.DecideAnswer

/**
 * The type of `Ledger.DecideAnswer`.
 *
 * **Example** (The scopes checked)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const scopes = (answer: Ledger.DecideAnswer) => answer.affectedScopes
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type DecideAnswer = Model.DecideAnswer

/**
 * The answer of event: its id, what was charged, and the balances.
 *
 * **Example** (The charge)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const charged = (answer: Ledger.EventAnswer) => answer.charged.amount
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const EventAnswer: typeof Model.EventAnswer = Model.EventAnswer

/**
 * The type of `Ledger.EventAnswer`.
 *
 * **Example** (The event id)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const id = (answer: Ledger.EventAnswer) => answer.eventId
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type EventAnswer = Model.EventAnswer

/**
 * A page of balances; pass `nextCursor` back for the next page.
 *
 * **Example** (More to read?)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const next = (answer: Ledger.BalancesAnswer) => (answer.hasMore ? answer.nextCursor : undefined)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const BalancesAnswer: typeof Model.BalancesAnswer = Model.BalancesAnswer

/**
 * The type of `Ledger.BalancesAnswer`.
 *
 * **Example** (The scopes on a page)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const scopes = (answer: Ledger.BalancesAnswer) => answer.balances.map((b) => b.scope)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BalancesAnswer = Model.BalancesAnswer

/**
 * A page of reservations; pass `nextCursor` back for the next page.
 *
 * **Example** (The ids on a page)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const ids = (answer: Ledger.ReservationsAnswer) => answer.reservations.map((r) => r.reservationId)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const ReservationsAnswer: typeof Model.ReservationsAnswer = Model.ReservationsAnswer

/**
 * The type of `Ledger.ReservationsAnswer`.
 *
 * **Example** (More pages?)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const more = (answer: Ledger.ReservationsAnswer) => answer.hasMore
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type ReservationsAnswer = Model.ReservationsAnswer

/**
 * The reservations one sweep expired.
 *
 * **Example** (How many)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const count = (answer: Ledger.SweepAnswer) => answer.expired.length
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const SweepAnswer: typeof Model.SweepAnswer = Model.SweepAnswer

/**
 * The type of `Ledger.SweepAnswer`.
 *
 * **Example** (The expired ids)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const ids = (answer: Ledger.SweepAnswer) => answer.expired
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type SweepAnswer = Model.SweepAnswer

/**
 * The answer of createBudget, freezeBudget, unfreezeBudget and closeBudget:
 * the budget's balance.
 *
 * **Example** (The new status)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const status = (answer: Ledger.BudgetAnswer) => answer.balances[0]?.status
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const BudgetAnswer: typeof Model.BudgetAnswer = Model.BudgetAnswer

/**
 * The type of `Ledger.BudgetAnswer`.
 *
 * **Example** (The balance)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const balance = (answer: Ledger.BudgetAnswer) => answer.balances[0]
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type BudgetAnswer = Model.BudgetAnswer

/**
 * The answer of fundBudget: the balance before and after.
 *
 * **Example** (Debt repaid)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const repaid = (answer: Ledger.FundAnswer) => answer.previous.debt - (answer.balances[0]?.debt ?? 0n)
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export const FundAnswer: typeof Model.FundAnswer = Model.FundAnswer

/**
 * The type of `Ledger.FundAnswer`.
 *
 * **Example** (The new allocation)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const allocated = (answer: Ledger.FundAnswer) => answer.balances[0]?.allocated
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export type FundAnswer = Model.FundAnswer

// =============================================================================
// Errors
// =============================================================================

/**
 * A scope cannot cover the request: `requested` against its `remaining`; or a
 * commit above its estimate under `REJECT` (then `reservationId` is set and
 * `remaining` is the estimate).
 *
 * **Example** (Stopping before the expensive call)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const guarded = (call: Effect.Effect<string, Ledger.LedgerError>) =>
 *   call.pipe(Effect.catchReason("LedgerError", "BudgetExceeded", (reason) => Effect.succeed(reason.message)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const BudgetExceeded: typeof Errors.BudgetExceeded = Errors.BudgetExceeded

/**
 * The type of a `BudgetExceeded` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.BudgetExceeded) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type BudgetExceeded = Errors.BudgetExceeded

/**
 * A scope is over-limit (no new reservations until funded; `shortfall` 0), or
 * a commit or event under `ALLOW_WITH_OVERDRAFT` would push `debt +
 * shortfall` above `overdraftLimit`. Retryable: funding clears it.
 *
 * **Example** (Backing off)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const wait = (reason: Ledger.OverdraftLimitExceeded) => reason.isRetryable
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const OverdraftLimitExceeded: typeof Errors.OverdraftLimitExceeded = Errors.OverdraftLimitExceeded

/**
 * The type of a `OverdraftLimitExceeded` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.OverdraftLimitExceeded) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type OverdraftLimitExceeded = Errors.OverdraftLimitExceeded

/**
 * A scope has debt and no overdraft limit: new reservations wait until the
 * debt is repaid.
 *
 * **Example** (How much to repay)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const owed = (reason: Ledger.DebtOutstanding) => reason.debt
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const DebtOutstanding: typeof Errors.DebtOutstanding = Errors.DebtOutstanding

/**
 * The type of a `DebtOutstanding` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.DebtOutstanding) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type DebtOutstanding = Errors.DebtOutstanding

/**
 * A budget is frozen (reserve, event and funding fail; freezing it again
 * too).
 *
 * **Example** (Which scope)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const where = (reason: Ledger.BudgetFrozen) => reason.scope
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const BudgetFrozen: typeof Errors.BudgetFrozen = Errors.BudgetFrozen

/**
 * The type of a `BudgetFrozen` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.BudgetFrozen) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type BudgetFrozen = Errors.BudgetFrozen

/**
 * A budget is closed, for good.
 *
 * **Example** (Which scope)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const where = (reason: Ledger.BudgetClosed) => reason.scope
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const BudgetClosed: typeof Errors.BudgetClosed = Errors.BudgetClosed

/**
 * The type of a `BudgetClosed` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.BudgetClosed) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type BudgetClosed = Errors.BudgetClosed

/**
 * createBudget for a scope and unit that already have a budget.
 *
 * **Example** (Create or keep)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const ensure = Ledger.Ledger.use((ledger) =>
 *   ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "TOKENS", allocated: 1_000 })
 * ).pipe(Effect.catchReason("LedgerError", "BudgetExists", () => Effect.void))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const BudgetExists: typeof Errors.BudgetExists = Errors.BudgetExists

/**
 * The type of a `BudgetExists` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.BudgetExists) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type BudgetExists = Errors.BudgetExists

/**
 * No such reservation, or no budget in the unit on any derived scope (and none
 * in another unit either: that is `UnitMismatch`).
 *
 * **Example** (What was missing)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const missing = (reason: Ledger.NotFound) => `${reason.resource} ${reason.id}`
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const NotFound: typeof Errors.NotFound = Errors.NotFound

/**
 * The type of a `NotFound` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.NotFound) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type NotFound = Errors.NotFound

/**
 * The request's unit is not the budget's (reserve, decide, event: a scope has
 * budgets only in other units) or not the reservation's (commit).
 *
 * **Example** (The units it expected)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const expected = (reason: Ledger.UnitMismatch) => reason.expected
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const UnitMismatch: typeof Errors.UnitMismatch = Errors.UnitMismatch

/**
 * The type of a `UnitMismatch` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.UnitMismatch) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type UnitMismatch = Errors.UnitMismatch

/**
 * The reservation expired: commit or release after `expiresAt + grace`,
 * extend after `expiresAt`, or any call once the sweeper marked it expired.
 *
 * **Example** (When it expired)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const at = (reason: Ledger.ReservationExpired) => reason.expiresAtMs + reason.graceMs
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const ReservationExpired: typeof Errors.ReservationExpired = Errors.ReservationExpired

/**
 * The type of a `ReservationExpired` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.ReservationExpired) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type ReservationExpired = Errors.ReservationExpired

/**
 * The reservation was already committed or released (by a request with
 * another idempotency key; the same key and request replays the answer).
 *
 * **Example** (Already settled)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const how = (reason: Ledger.ReservationFinalized) => reason.status
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const ReservationFinalized: typeof Errors.ReservationFinalized = Errors.ReservationFinalized

/**
 * The type of a `ReservationFinalized` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.ReservationFinalized) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type ReservationFinalized = Errors.ReservationFinalized

/**
 * A reservation can be extended at most 10 times.
 *
 * **Example** (Stopping a heartbeat)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const times = (reason: Ledger.MaxExtensionsExceeded) => reason.extensions
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const MaxExtensionsExceeded: typeof Errors.MaxExtensionsExceeded = Errors.MaxExtensionsExceeded

/**
 * The type of a `MaxExtensionsExceeded` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.MaxExtensionsExceeded) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type MaxExtensionsExceeded = Errors.MaxExtensionsExceeded

/**
 * An idempotency key reused with a different request (per tenant and
 * operation).
 *
 * **Example** (Which key)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const key = (reason: Ledger.IdempotencyMismatch) => reason.idempotencyKey
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const IdempotencyMismatch: typeof Errors.IdempotencyMismatch = Errors.IdempotencyMismatch

/**
 * The type of a `IdempotencyMismatch` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.IdempotencyMismatch) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type IdempotencyMismatch = Errors.IdempotencyMismatch

/**
 * The caller's tenant touched another tenant's reservation or scope.
 *
 * **Example** (Who and what)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const who = (reason: Ledger.Forbidden) => `${reason.tenant} → ${reason.resource}`
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const Forbidden: typeof Errors.Forbidden = Errors.Forbidden

/**
 * The type of a `Forbidden` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.Forbidden) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type Forbidden = Errors.Forbidden

/**
 * A request that does not decode (a negative amount, an unknown unit, an
 * empty tenant, a ttl out of range, a page above 200, a foreign cursor, …),
 * naming the field and the value.
 *
 * **Example** (Reporting bad input)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const report = (reason: Ledger.InvalidRequest) => `${reason.field} = ${reason.value}: ${reason.problem}`
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const InvalidRequest: typeof Errors.InvalidRequest = Errors.InvalidRequest

/**
 * The type of a `InvalidRequest` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.InvalidRequest) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type InvalidRequest = Errors.InvalidRequest

/**
 * The store could not be reached. Retryable; a guard fails closed on it.
 *
 * **Example** (A store that is down)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const down = new Ledger.StoreUnavailable({ store: "redis", detail: "connection refused" })
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const StoreUnavailable: typeof Errors.StoreUnavailable = Errors.StoreUnavailable

/**
 * The type of a `StoreUnavailable` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.StoreUnavailable) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type StoreUnavailable = Errors.StoreUnavailable

/**
 * The reasons a `LedgerError` can carry.
 *
 * **Example** (Exhaustive handling)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const fatal = (reason: Ledger.LedgerErrorReason) => !reason.isRetryable
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type LedgerErrorReason = Errors.LedgerErrorReason

/**
 * The one error of the ledger: `method` (`Ledger.reserve`, …) and a typed
 * `reason` whose message states the numbers
 * (`Ledger.reserve: tenant:acme/app:support: requested 1200, 300 remaining`).
 * It is a Schema, so it serialises.
 *
 * **When to use**
 *
 * Catch one reason with `Effect.catchReason("LedgerError", "BudgetExceeded",
 * f)`, or lift the reasons with `Effect.unwrapReason("LedgerError")`.
 *
 * **Example** (Budget states as values)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const reserve = Ledger.Ledger.use((ledger) =>
 *   ledger.reserve({
 *     tenant: "acme",
 *     subject: { tenant: "acme" },
 *     action: { kind: "llm.completion", name: "fast" },
 *     estimate: { unit: "TOKENS", amount: 1_200 }
 *   })
 * ).pipe(Effect.catchReason("LedgerError", "BudgetExceeded", () => Effect.succeed(undefined)))
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export const LedgerError: typeof Errors.LedgerError = Errors.LedgerError

/**
 * The type of a `LedgerError` reason.
 *
 * **Example** (Reading the reason)
 *
 * ```ts
 * import type { Ledger } from "@timebox/core"
 *
 * const describe = (reason: Ledger.LedgerError) => reason.message
 * ```
 *
 * @category errors
 * @since 0.1.0
 */
export type LedgerError = Errors.LedgerError

/**
 * Whether a value is a `LedgerError`.
 *
 * **Example** (Telling errors apart)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * const isLedger = (error: unknown) => Ledger.isLedgerError(error)
 * ```
 *
 * @category guards
 * @since 0.1.0
 */
export const isLedgerError = (u: unknown): u is LedgerError => u instanceof Errors.LedgerError

// =============================================================================
// Service Definition
// =============================================================================

/**
 * The ledger's operations. Every request is decoded with its Schema first
 * (bad input is an `InvalidRequest` reason naming the field and the value),
 * `now` is read from `Clock`, and the operation is one atomic store call.
 *
 * **Details**
 *
 * Amounts may be given as `bigint`, safe-integer numbers or decimal strings;
 * answers carry `bigint`s. Every mutating answer carries the balances of the
 * budgets it touched.
 *
 * The hot operations (reserve, commit, release, extend, decide, event, and
 * the reads balances and getReservation) first try a hand-written check
 * that accepts only requests already in the Schema's decoded form (what
 * typed callers build) and returns exactly what the Schema would; anything else goes through the Schema, so answers and
 * errors are the same either way. Each call is a span named
 * `Ledger.<operation>` when a tracer is installed; under Effect's default
 * native tracer, which exports nothing, no span is made (it would cost more
 * than the memory store's whole operation).
 *
 * **Example** (A fake ledger that allows everything)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const allowAll: Pick<Ledger.Service, "decide"> = {
 *   decide: () => Effect.succeed({ decision: "allow", affectedScopes: [] })
 * }
 * ```
 *
 * @category models
 * @since 0.1.0
 */
export interface Service {
  /** Holds `estimate` on every budgeted derived scope until `now + ttlMs` (or, with `dryRun`, only answers). */
  readonly reserve: (request: typeof ReserveRequest.Encoded) => Effect.Effect<ReserveAnswer, LedgerError>
  /** Charges `actual` (≤ estimate: the rest goes back; above it: the overage policy decides). */
  readonly commit: (request: typeof CommitRequest.Encoded) => Effect.Effect<CommitAnswer, LedgerError>
  /** Gives the whole reservation back. */
  readonly release: (request: typeof ReleaseRequest.Encoded) => Effect.Effect<ReleaseAnswer, LedgerError>
  /** Moves `expiresAt` forward while `now ≤ expiresAt`, at most 10 times. */
  readonly extend: (request: typeof ExtendRequest.Encoded) => Effect.Effect<ExtendAnswer, LedgerError>
  /** Allow or deny without reserving; budget states are a deny answer, not an error. */
  readonly decide: (request: typeof DecideRequest.Encoded) => Effect.Effect<DecideAnswer, LedgerError>
  /** Debits `actual` directly, without a reservation, under an overage policy. */
  readonly event: (request: typeof EventRequest.Encoded) => Effect.Effect<EventAnswer, LedgerError>
  /** The balances of the subject's scopes (and, optionally, of the scopes below). */
  readonly balances: (request: typeof BalancesRequest.Encoded) => Effect.Effect<BalancesAnswer, LedgerError>
  /**
   * One reservation; a swept expired one fails with `ReservationExpired`. Past `expiresAt + grace` but not yet
   * swept, it shows `active` and still holds its amount, though commit and release already answer
   * `ReservationExpired`.
   */
  readonly getReservation: (
    request: typeof GetReservationRequest.Encoded
  ) => Effect.Effect<Reservation, LedgerError>
  /** The caller's reservations, filtered, oldest first, a page at a time. */
  readonly listReservations: (
    request: typeof ListReservationsRequest.Encoded
  ) => Effect.Effect<ReservationsAnswer, LedgerError>
  /**
   * Expires reservations past `expiresAt + grace`, returning what they held, and forgets keys and finished
   * reservations older than `Retention` (the layer runs it every `SweepInterval`).
   */
  readonly sweep: (request: typeof SweepRequest.Encoded) => Effect.Effect<SweepAnswer, LedgerError>
  /** Creates a budget for a scope and unit. */
  readonly createBudget: (request: typeof CreateBudgetRequest.Encoded) => Effect.Effect<BudgetAnswer, LedgerError>
  /** Credits, debits, resets a budget or repays its debt. */
  readonly fundBudget: (request: typeof FundBudgetRequest.Encoded) => Effect.Effect<FundAnswer, LedgerError>
  /** active → frozen. */
  readonly freezeBudget: (request: typeof BudgetStatusRequest.Encoded) => Effect.Effect<BudgetAnswer, LedgerError>
  /** frozen → active. */
  readonly unfreezeBudget: (request: typeof BudgetStatusRequest.Encoded) => Effect.Effect<BudgetAnswer, LedgerError>
  /** active or frozen → closed, for good. */
  readonly closeBudget: (request: typeof BudgetStatusRequest.Encoded) => Effect.Effect<BudgetAnswer, LedgerError>
  /** Sets how much debt a budget may take (it keeps its over-limit flag until funded). */
  readonly setOverdraftLimit: (
    request: typeof OverdraftLimitRequest.Encoded
  ) => Effect.Effect<BudgetAnswer, LedgerError>
  /**
   * The `Retention` this ledger applies: how long its keys and finished
   * reservations are kept (`Duration.infinity` when the one it was built
   * with is invalid: then nothing is pruned).
   */
  readonly retention: Duration.Duration
}

/**
 * The cost ledger.
 *
 * **When to use**
 *
 * Reserve the worst case before an expensive call, commit the real cost
 * after it, release on failure. Provide `Ledger.layerMemory` for one process
 * or `Ledger.layer` over the Redis store for many.
 *
 * **Gotchas**
 *
 * A reservation not settled by `expiresAt + grace` is expired by the sweeper
 * and its amount returns to the budget; a late commit then fails with
 * `ReservationExpired`. Use an idempotency key on every mutating call that
 * may be retried.
 *
 * **Example** (Reserve, call, commit)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const program = Effect.gen(function*() {
 *   const ledger = yield* Ledger.Ledger
 *   yield* ledger.createBudget({ tenant: "acme", scope: "tenant:acme", unit: "USD_MICROCENTS", allocated: 100_000_000 })
 *   const held = yield* ledger.reserve({
 *     tenant: "acme",
 *     subject: { tenant: "acme" },
 *     action: { kind: "llm.completion", name: "fast" },
 *     estimate: { unit: "USD_MICROCENTS", amount: 1_000_000 }
 *   })
 *   return yield* ledger.commit({
 *     tenant: "acme",
 *     reservationId: held.reservationId ?? "",
 *     actual: { unit: "USD_MICROCENTS", amount: 420_000 }
 *   })
 * }).pipe(Effect.provide(Ledger.layerMemory))
 * ```
 *
 * @category services
 * @since 0.1.0
 */
export class Ledger extends Context.Service<Ledger, Service>()("@timebox/core/Ledger") {}

/**
 * How long closing the ledger's layer waits, on the wall clock, for the
 * model calls the guard has under way on it to settle (`layer`).
 * `Duration.zero` does not wait.
 *
 * **Gotchas**
 *
 * The wait is real time whatever `Clock` the program runs under: under
 * `TestClock`, a guarded call that ignores interruption (an uninterruptible
 * model call left behind by a stage cut at its deadline) never settles, and
 * closing waits the whole duration; such a test should set it to zero.
 *
 * **Example** (Not waiting, in a test)
 *
 * ```ts
 * import { Duration, Layer } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const ledger = Ledger.layerMemory.pipe(Layer.provide(Layer.succeed(Ledger.DrainTimeout, Duration.zero)))
 * ```
 *
 * @default 10 seconds
 * @category services
 * @since 0.1.0
 */
export const DrainTimeout = Context.Reference<Duration.Duration>("@timebox/core/Ledger/DrainTimeout", {
  defaultValue: () => Duration.seconds(10)
})

/**
 * How often the ledger's layer sweeps expired reservations; `Duration.infinity`
 * turns the background sweeper off (call `sweep` yourself).
 *
 * **Gotchas**
 *
 * An expired reservation keeps its amount held until the next sweep: at most
 * `grace + SweepInterval` after `expiresAt`.
 *
 * **Example** (Sweeping every 5 seconds)
 *
 * ```ts
 * import { Duration, Layer } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const ledger = Ledger.layerMemory.pipe(Layer.provide(Layer.succeed(Ledger.SweepInterval, Duration.seconds(5))))
 * ```
 *
 * @default 1 second
 * @category services
 * @since 0.1.0
 */
export const SweepInterval = Context.Reference<Duration.Duration>("@timebox/core/Ledger/SweepInterval", {
  defaultValue: () => Duration.seconds(1)
})

/**
 * How long the ledger remembers idempotency keys (from their first use) and
 * finished reservations (from when they ended): a retry with the same key
 * within it replays the first answer; after it, the key is new again. The
 * sweeper forgets what is older, at most once a minute. `Duration.infinity`
 * keeps everything for good. Read when the ledger is built.
 *
 * **Gotchas**
 *
 * - A reserve key is kept as long as its reservation is active, whatever the
 *   retention, so a late retry never holds the estimate twice.
 * - An event's key is what stops a retried event from debiting twice: keep
 *   the retention longer than any client retries.
 * - On a shared store (Redis), whichever process sweeps applies its own
 *   retention: give every process the same one.
 * - A negative retention makes `sweep` (and so the background sweeper, which
 *   logs it) fail with `InvalidRequest` naming `Ledger.Retention`, after it
 *   expired what was due: holds still come back, nothing is pruned.
 *
 * **Details**
 *
 * The memory store keeps ~660 bytes per guarded model call and ~320 per
 * keyed event with one budgeted scope (~830 and ~410 with three) for as
 * long as the retention: at 100 guarded calls a second, ~5.7–7.2 GB for 24
 * hours, ~240–300 MB for one hour.
 *
 * **Example** (Keeping keys for one hour)
 *
 * ```ts
 * import { Duration, Layer } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const ledger = Ledger.layerMemory.pipe(Layer.provide(Layer.succeed(Ledger.Retention, Duration.hours(1))))
 * ```
 *
 * @default 24 hours
 * @category services
 * @since 0.1.0
 */
export const Retention = Context.Reference<Duration.Duration>("@timebox/core/Ledger/Retention", {
  defaultValue: () => Duration.hours(24)
})

// =============================================================================
// Constructors
// =============================================================================

/**
 * The derived scopes of a subject, shortest first: the cumulative paths of the
 * levels it names, absent levels skipped.
 *
 * **Example** (Skipping absent levels)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * Ledger.scopes({ tenant: "acme", agent: "bot" }) // ["tenant:acme", "tenant:acme/agent:bot"]
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const scopes = (subject: Subject): Array<string> => Scope.derive(subject)

/**
 * The subject a canonical scope path names (`tenant:acme/app:support` →
 * `{ tenant: "acme", app: "support" }`), or what is wrong with the path: an
 * unknown level, a level out of order or named twice, a value that is not 1
 * to 128 characters from `[a-zA-Z0-9_.-]`. The inverse of the last of
 * `scopes`; requests that take a `scope` accept such a path and read it so.
 *
 * **Example** (A path from a flag)
 *
 * ```ts
 * import { Ledger } from "@timebox/core"
 *
 * Ledger.parseScope("tenant:acme/app:support") // Result.succeed({ tenant: "acme", app: "support" })
 * Ledger.parseScope("app:support/tenant:acme") // Result.fail('"tenant" is out of order (order: tenant → …)')
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const parseScope = (path: string): Result.Result<Subject, string> => {
  const parsed = Scope.parse(path)
  return "problem" in parsed ? Result.fail(parsed.problem) : Result.succeed(parsed.subject as Subject)
}

const formatter = SchemaIssue.makeFormatterStandardSchemaV1()

const valueAt = (input: unknown, path: ReadonlyArray<PropertyKey>): unknown => {
  let current = input
  for (const key of path) {
    if (current === null || typeof current !== "object") return undefined
    current = (current as Record<PropertyKey, unknown>)[key]
  }
  return current
}

const decoder = <S extends Schema.Codec<unknown, unknown, never, never>>(schema: S, method: string) => {
  const decode = Schema.decodeUnknownExit(schema)
  return (input: unknown): Effect.Effect<S["Type"], LedgerError> => {
    const decoded = decode(input)
    return Exit.isSuccess(decoded) ? Effect.succeed(decoded.value) : Effect.mapError(decoded, (error) => {
      const issue = formatter(error.issue).issues[0]
      const path = (issue?.path ?? []).map((segment: unknown) =>
        typeof segment === "object" && segment !== null && "key" in segment ? segment.key : segment
      ) as Array<PropertyKey>
      const field = path.length === 0 ? "request" : path.map(String).join(".")
      return new Errors.LedgerError({
        method,
        reason: Errors.invalid(field, valueAt(input, path), issue?.message ?? error.message)
      })
    })
  }
}

const fail = (method: string) => (reason: LedgerErrorReason): LedgerError => new Errors.LedgerError({ method, reason })

/** The derived scopes of a subject the caller's tenant may touch, or the `Forbidden` failure. */
const owned = (
  method: string,
  tenant: string,
  subject: Scope.Levels
): ReadonlyArray<string> | Effect.Effect<never, LedgerError> => {
  const derived = Scope.deriveShared(subject)
  return subject.tenant === undefined || subject.tenant === tenant
    ? derived
    : Effect.fail(fail(method)(new Errors.Forbidden({ tenant, resource: derived.at(-1) ?? "" })))
}

const ownedEffect = (
  method: string,
  tenant: string,
  subject: Scope.Levels
): Effect.Effect<ReadonlyArray<string>, LedgerError> => {
  const derived = owned(method, tenant, subject)
  return isScopes(derived) ? Effect.succeed(derived) : derived
}

const isScopes = (value: ReadonlyArray<string> | Effect.Effect<never, LedgerError>): value is ReadonlyArray<string> =>
  Array.isArray(value)

const untracedSpan = { captureStackTrace: false } as const

/**
 * One hot operation (reserve, commit, release, extend, decide, event, and the
 * reads balances and getReservation): the
 * request decoded by the fast check, or by its Schema when the check is not
 * sure (same answer, same errors); `now` from `Clock`. A span named `method`
 * when a tracer is installed; none under Effect's default native tracer,
 * which exports nothing (a span costs microseconds, more than the memory
 * store's whole operation).
 */
const hot = <S extends Schema.Codec<unknown, unknown, never, never>, A>(
  method: string,
  schema: S,
  fast: (input: unknown) => S["Type"] | undefined,
  apply: (request: S["Type"], now: number) => Effect.Effect<A, LedgerError>
): (input: S["Encoded"]) => Effect.Effect<A, LedgerError> => {
  const slow = decoder(schema, method)
  const run = (input: unknown, now: number): Effect.Effect<A, LedgerError> => {
    const request = fast(input)
    return request === undefined ? Effect.flatMap(slow(input), (decoded) => apply(decoded, now)) : apply(request, now)
  }
  return (input) =>
    Effect.withFiber((fiber) => {
      const effect = run(input, fiber.getRef(Clock.Clock).currentTimeMillisUnsafe())
      return fiber.getRef(Tracer.Tracer) === Tracer.nativeTracer
        ? effect
        : Effect.withSpan(effect, method, untracedSpan)
    })
}

/**
 * A store operation as `method` calls it, its failure a `LedgerError` of
 * `method`: the function the store registered (`Direct`), answered with its
 * `Exit`, or else the store's Effect.
 */
const via = <C, A>(
  method: string,
  operation: (command: C) => Effect.Effect<A, LedgerErrorReason>,
  direct: Direct.Operation<C, A> | undefined
): (command: C) => Effect.Effect<A, LedgerError> => {
  if (direct === undefined) {
    const toLedgerError = (error: LedgerErrorReason | LedgerError): LedgerError =>
      error._tag === "LedgerError" ? error : new Errors.LedgerError({ method, reason: error })
    return (command) => Effect.mapError(operation(command), toLedgerError)
  }
  return (command) => {
    const result = direct(command)
    return Result.isSuccess(result)
      ? Exit.succeed(result.success)
      : Exit.fail(new Errors.LedgerError({ method, reason: result.failure }))
  }
}

/**
 * Builds the ledger over the `LedgerStore` in context, without the
 * background sweeper (see `layer`).
 *
 * **Example** (A ledger over a custom store)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger, LedgerStore } from "@timebox/core"
 *
 * const ledger = Ledger.make.pipe(Effect.provide(LedgerStore.layerMemory))
 * ```
 *
 * @category constructors
 * @since 0.1.0
 */
export const make: Effect.Effect<Service, never, LedgerStore.LedgerStore> = Effect.gen(function*() {
  const store = yield* LedgerStore.LedgerStore
  const now = Clock.currentTimeMillis

  const direct = Direct.of(store)
  const reserveIn = via("Ledger.reserve", (command) => store.reserve(command), direct?.reserve)
  const commitIn = via("Ledger.commit", (command) => store.commit(command), direct?.commit)
  const releaseIn = via("Ledger.release", (command) => store.release(command), direct?.release)
  const extendIn = via("Ledger.extend", (command) => store.extend(command), direct?.extend)
  const decideIn = via("Ledger.decide", (command) => store.decide(command), direct?.decide)
  const eventIn = via("Ledger.event", (command) => store.event(command), direct?.event)
  const balancesIn = via("Ledger.balances", (query) => store.balances(query), direct?.balances)
  const getReservationIn = via("Ledger.getReservation", (query) => store.getReservation(query), direct?.getReservation)

  const reserve = hot("Ledger.reserve", ReserveRequest, Decode.reserveRequest, (request, at) => {
    const derived = owned("Ledger.reserve", request.tenant, request.subject)
    return isScopes(derived) ? reserveIn(Commands.reserve(request, derived, at)) : derived
  })

  const commit = hot(
    "Ledger.commit",
    CommitRequest,
    Decode.commitRequest,
    (request, at) => commitIn(Commands.commit(request, at))
  )

  const release = hot(
    "Ledger.release",
    ReleaseRequest,
    Decode.releaseRequest,
    (request, at) => releaseIn(Commands.release(request, at))
  )

  const extend = hot(
    "Ledger.extend",
    ExtendRequest,
    Decode.extendRequest,
    (request, at) => extendIn(Commands.extend(request, at))
  )

  const decide = hot("Ledger.decide", DecideRequest, Decode.decideRequest, (request, at) => {
    const derived = owned("Ledger.decide", request.tenant, request.subject)
    return isScopes(derived) ? decideIn(Commands.decide(request, derived, at)) : derived
  })

  const event = hot("Ledger.event", EventRequest, Decode.eventRequest, (request, at) => {
    const derived = owned("Ledger.event", request.tenant, request.subject)
    return isScopes(derived) ? eventIn(Commands.event(request, derived, at)) : derived
  })

  const balances = hot("Ledger.balances", BalancesRequest, Decode.balancesRequest, (request) => {
    const derived = owned("Ledger.balances", request.tenant, request.subject)
    if (!isScopes(derived)) return derived
    const query = request as { scopes?: ReadonlyArray<string> }
    query.scopes = derived
    return balancesIn(query as LedgerStore.BalancesQuery)
  })

  const getReservation = hot("Ledger.getReservation", GetReservationRequest, Decode.getReservationRequest, (
    request,
    at
  ) => {
    const query = request as { now?: number }
    query.now = at
    return getReservationIn(query as LedgerStore.GetReservationQuery)
  })

  const decodeList = decoder(ListReservationsRequest, "Ledger.listReservations")
  const listReservations = Effect.fn("Ledger.listReservations")(
    function*(input: typeof ListReservationsRequest.Encoded) {
      const request = yield* decodeList(input)
      if (request.subject !== undefined) yield* ownedEffect("Ledger.listReservations", request.tenant, request.subject)
      return yield* store.listReservations(request).pipe(Effect.mapError(fail("Ledger.listReservations")))
    }
  )

  const decodeSweep = decoder(SweepRequest, "Ledger.sweep")
  const retention = yield* Retention
  const retentionMs = Duration.toMillis(retention)
  const validRetention = retentionMs >= 0
  const sweep = Effect.fn("Ledger.sweep")(function*(input: typeof SweepRequest.Encoded) {
    const request = yield* decodeSweep(input)
    // a bad retention stops the pruning, not the expiry: holds still come back
    const answer = yield* store.sweep({
      ...request,
      now: yield* now,
      retentionMs: validRetention ? retentionMs : Number.POSITIVE_INFINITY
    }).pipe(Effect.mapError(fail("Ledger.sweep")))
    if (!validRetention) {
      return yield* Effect.fail(
        fail("Ledger.sweep")(Errors.invalid("Ledger.Retention", retentionMs, "must be a duration of 0 ms or more"))
      )
    }
    return answer
  })

  const decodeCreate = decoder(CreateBudgetRequest, "Ledger.createBudget")
  const createBudget = Effect.fn("Ledger.createBudget")(function*(input: typeof CreateBudgetRequest.Encoded) {
    const request = yield* decodeCreate(input)
    const derived = yield* ownedEffect("Ledger.createBudget", request.tenant, request.scope)
    return yield* store.createBudget({
      tenant: request.tenant,
      scope: derived.at(-1) ?? "",
      unit: request.unit,
      allocated: request.allocated,
      overdraftLimit: request.overdraftLimit,
      now: yield* now
    }).pipe(Effect.mapError(fail("Ledger.createBudget")))
  })

  const decodeFund = decoder(FundBudgetRequest, "Ledger.fundBudget")
  const fundBudget = Effect.fn("Ledger.fundBudget")(function*(input: typeof FundBudgetRequest.Encoded) {
    const request = yield* decodeFund(input)
    const derived = yield* ownedEffect("Ledger.fundBudget", request.tenant, request.scope)
    const scope = derived.at(-1) ?? ""
    return yield* store.fundBudget(Commands.fund({
      tenant: request.tenant,
      scope,
      unit: request.unit,
      operation: request.operation,
      amount: request.amount,
      ...(request.idempotencyKey === undefined ? {} : { idempotencyKey: request.idempotencyKey })
    }, yield* now)).pipe(Effect.mapError(fail("Ledger.fundBudget")))
  })

  const statusChange = (method: string, status: BudgetStatus) => {
    const decode = decoder(BudgetStatusRequest, method)
    return Effect.fn(method)(function*(input: typeof BudgetStatusRequest.Encoded) {
      const request = yield* decode(input)
      const derived = yield* ownedEffect(method, request.tenant, request.scope)
      return yield* store.setBudgetStatus({
        tenant: request.tenant,
        scope: derived.at(-1) ?? "",
        unit: request.unit,
        status,
        now: yield* now
      }).pipe(Effect.mapError(fail(method)))
    })
  }

  const decodeLimit = decoder(OverdraftLimitRequest, "Ledger.setOverdraftLimit")
  const setOverdraftLimit = Effect.fn("Ledger.setOverdraftLimit")(
    function*(input: typeof OverdraftLimitRequest.Encoded) {
      const request = yield* decodeLimit(input)
      const derived = yield* ownedEffect("Ledger.setOverdraftLimit", request.tenant, request.scope)
      return yield* store.setOverdraftLimit({
        tenant: request.tenant,
        scope: derived.at(-1) ?? "",
        unit: request.unit,
        overdraftLimit: request.overdraftLimit,
        now: yield* now
      }).pipe(Effect.mapError(fail("Ledger.setOverdraftLimit")))
    }
  )

  // the guarded calls under way on it, carried by the service so that a wrapper made by
  // spreading it (`{ ...ledger, reserve }`) counts them in the same place
  return InFlight.attach(Kept.attach(Ledger.of({
    reserve,
    commit,
    release,
    extend,
    decide,
    event,
    balances,
    getReservation,
    listReservations,
    sweep,
    createBudget,
    fundBudget,
    freezeBudget: statusChange("Ledger.freezeBudget", "frozen"),
    unfreezeBudget: statusChange("Ledger.unfreezeBudget", "active"),
    closeBudget: statusChange("Ledger.closeBudget", "closed"),
    setOverdraftLimit,
    retention: validRetention ? retention : Duration.infinity
  })))
})

// =============================================================================
// Layers
// =============================================================================

const sweepAll = (ledger: Service): Effect.Effect<void, LedgerError> =>
  Effect.gen(function*() {
    const limit = 1_000
    while ((yield* ledger.sweep({ limit })).expired.length === limit) {
      // another full page: keep sweeping
    }
  })

/** What closing the ledger says about the guarded settlements the store never took. */
const unsettledMessage = (count: number): string =>
  `ledger closing with ${count} guarded settlement${count === 1 ? "" : "s"} the store did not take ` +
  "(it did not answer): a release not made holds its reservation until it expires, " +
  "a commit or charge not made is not recorded"

/**
 * The ledger over the `LedgerStore` in context, with a background sweeper
 * that runs every `SweepInterval` (read from `Clock`, so `TestClock` drives
 * it) for as long as the layer lives.
 *
 * **Details**
 *
 * Closing the layer first waits, up to `DrainTimeout` (10 seconds of
 * wall-clock time by default), for the model calls the guard
 * (`Guard.withGuard`) has under way on this ledger to settle: a stage
 * interrupted by Ctrl-C or a shutdown ends at once, while its call's
 * release (or commit) is still on its way to the store, and would otherwise
 * find the store closed and leave the estimate reserved until the
 * reservation expires. A settlement the store cannot take (it does not
 * answer) is kept in the process for a later guarded call, so it is lost
 * when the process exits: that reservation holds until it expires, and a
 * commit is not recorded. Closing then logs, at the error level, how many
 * such settlements it drops.
 *
 * **Example** (The ledger on a store of your choice)
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
export const layer: Layer.Layer<Ledger, never, LedgerStore.LedgerStore> = Layer.effect(
  Ledger,
  Effect.gen(function*() {
    const ledger = yield* make
    // runs after the sweeper stopped and before the store closes (it was built first)
    const drainTimeout = yield* DrainTimeout
    yield* Effect.addFinalizer(() =>
      Effect.andThen(InFlight.drain(ledger, drainTimeout), () => {
        const left = Kept.count(ledger)
        return left === 0 ? Effect.void : Effect.logError(unsettledMessage(left))
      })
    )
    const interval = yield* SweepInterval
    if (Duration.isFinite(interval)) {
      yield* Effect.forkScoped(
        Effect.forever(
          Effect.sleep(interval).pipe(
            Effect.andThen(sweepAll(ledger)),
            Effect.catchCause((cause) => Effect.logWarning("ledger sweep failed", cause))
          )
        )
      )
    }
    return ledger
  })
)

/**
 * The ledger on the in-memory store, with the background sweeper: the
 * embedded default for one process.
 *
 * **Example** (Providing it)
 *
 * ```ts
 * import { Effect } from "effect"
 * import { Ledger } from "@timebox/core"
 *
 * const program = Ledger.Ledger.use((ledger) => ledger.sweep({})).pipe(Effect.provide(Ledger.layerMemory))
 * ```
 *
 * @category layers
 * @since 0.1.0
 */
export const layerMemory: Layer.Layer<Ledger> = layer.pipe(Layer.provide(LedgerStore.layerMemory))
