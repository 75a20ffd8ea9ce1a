// The Redis store answers exactly as the memory store does: seeded random
// sequences of every ledger operation (with time moving, idempotent replays,
// other tenants' reservations, budget administration and paging) run in
// lockstep on a memory ledger and a Redis ledger, and every answer and every
// failure must be the same, up to the stores' own identifiers and cursors.
import * as NodeRedis from "@effect/platform-node/NodeRedis"
import { assert, describe, it } from "@effect/vitest"
import { Ledger, LedgerStore } from "@timebox/core"
import { Effect, Exit, Layer, Schema } from "effect"
import { TestClock } from "effect/testing"
import { prng } from "timebox-test/random"
import { inject } from "vitest"
import { RedisLedgerStore } from "../src/index.ts"

/** How often each operation answered each way (`reserve:ok`, `commit:ReservationExpired`, …), over all seeds. */
const tally: Record<string, number> = {}
const run = Math.random().toString(36).slice(2, 8)
const action: Ledger.Action = { kind: "llm.completion", name: "differential" }
const units = ["TOKENS", "CREDITS"] as const
const policies = ["REJECT", "ALLOW_IF_AVAILABLE", "ALLOW_WITH_OVERDRAFT"] as const

/** JSON with bigints as strings and keys sorted, so equal values print equal. */
const canonical = (value: unknown): string =>
  JSON.stringify(value, (_, v: unknown) => {
    if (typeof v === "bigint") return `${v}n`
    if (v !== null && typeof v === "object" && !Array.isArray(v)) {
      return Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => a.localeCompare(b)))
    }
    return v
  })

const encodeError = Schema.encodeSync(Ledger.LedgerError)

/** What a call answered: the value, or the failure's method and reason fields. */
const outcome = (exit: Exit.Exit<unknown, Ledger.LedgerError>): unknown => {
  if (Exit.isSuccess(exit)) return { ok: exit.value }
  const error = exit.cause.reasons.find((reason) => reason._tag === "Fail")
  if (error === undefined || error._tag !== "Fail") return { defect: String(exit.cause) }
  return encodeError(error.error)
}

/** One request on one ledger; called once per store, so it draws nothing from the PRNG itself. */
type Call = (ledger: Ledger.Service, id: (memoryId: string) => string) => Effect.Effect<unknown, Ledger.LedgerError>

const sequence = (seed: number, steps: number) =>
  Effect.gen(function*() {
    const random = prng(seed)
    const prefix = `${inject("redisPrefix")}:differential:${run}:${seed}`
    const redisStore = yield* Layer.build(
      RedisLedgerStore.layer({ prefix }).pipe(Layer.provide(NodeRedis.layer({ url: inject("redisUrl") })))
    )
    const memory = yield* Ledger.make.pipe(Effect.provide(LedgerStore.layerMemory))
    const redis = yield* Ledger.make.pipe(Effect.provide(redisStore))

    const tenants = [`a-${seed}`, `b-${seed}`]
    const subjects = (tenant: string): ReadonlyArray<Ledger.Subject> => [
      { tenant },
      { tenant, app: "a" },
      { tenant, app: "a", agent: "x" },
      { tenant, app: "b" },
      { tenant, workspace: "w", app: "a" },
      { app: "a" },
      { app: "a", agent: "x" }
    ]
    const scopes = (tenant: string) => [
      `tenant:${tenant}`,
      `tenant:${tenant}/app:a`,
      `tenant:${tenant}/app:a/agent:x`,
      `tenant:${tenant}/app:b`,
      "app:a"
    ]

    // memory id → redis id, for reservations and events both stores made in the same step
    const toRedis = new Map<string, string>()
    const toMemory = new Map<string, string>()
    const reservations = new Map<string, Array<string>>(tenants.map((t) => [t, []]))
    const keys: Array<{ readonly name: string; readonly call: Call }> = []
    const cursors = { memory: new Map<string, string>(), redis: new Map<string, string>() }

    const normalize = (text: string) =>
      text.replace(/\b(rsv|evt)_[A-Za-z0-9.-]+_\d+\b/g, (token) => toMemory.get(token) ?? token)

    const compare = Effect.fnUntraced(function*(step: number, name: string, call: Call, paged?: string) {
      const memoryExit = yield* Effect.exit(call(memory, (id) => id))
      const redisExit = yield* Effect.exit(call(redis, (id) => toRedis.get(id) ?? id))
      const [left, right] = [outcome(memoryExit), outcome(redisExit)] as Array<any>
      // learn the identifiers each store gave to the same new reservation or event
      for (const field of ["reservationId", "eventId"]) {
        const a = left?.ok?.[field]
        const b = right?.ok?.[field]
        if (typeof a === "string" && typeof b === "string" && !toRedis.has(a)) {
          toRedis.set(a, b)
          toMemory.set(b, a)
        }
      }
      // page cursors are each store's own: keep them apart, compare only whether there is more
      if (paged !== undefined) {
        for (const [side, value] of [["memory", left], ["redis", right]] as const) {
          const page = value?.ok
          if (page?.hasMore === true) cursors[side].set(paged, page.nextCursor)
          else cursors[side].delete(paged)
          if (page !== undefined) delete page.nextCursor
        }
      }
      // expired ids of a sweep of every tenant come tenant by tenant on Redis
      if (name === "sweep-all") {
        for (const value of [left, right]) {
          if (value?.ok?.expired !== undefined) {
            value.ok.expired = value.ok.expired.map((id: string) => toMemory.get(id) ?? id).sort()
          }
        }
      }
      assert.strictEqual(normalize(canonical(right)), canonical(left), `seed ${seed}, step ${step}: ${name}`)
      const tag = left?.ok !== undefined ? "ok" : left?.reason?._tag
      tally[`${name.split(" ")[0]}:${tag}`] = (tally[`${name.split(" ")[0]}:${tag}`] ?? 0) + 1
      return left
    })

    for (const tenant of tenants) {
      const [top, appA, agent, appB, bare] = scopes(tenant)
      const budgets: Array<[string, Ledger.Unit, number, number]> = [
        [top!, "TOKENS", 5_000, 0],
        [appA!, "TOKENS", 2_000, 500],
        [agent!, "TOKENS", 800, 0],
        [appB!, "TOKENS", 600, 200],
        [bare!, "TOKENS", 1_000, 0],
        [top!, "CREDITS", 100, 0]
      ]
      for (const [scope, unit, allocated, overdraftLimit] of budgets) {
        yield* compare(0, "createBudget", (ledger) =>
          ledger.createBudget({ tenant, scope, unit, allocated, overdraftLimit }))
      }
    }

    for (let step = 1; step <= steps; step++) {
      if (step === Math.floor(steps * 0.75)) {
        // a day later: the sweeper forgets idempotency keys and finished reservations
        yield* TestClock.adjust("25 hours")
        yield* compare(step, "sweep-all", (ledger) =>
          ledger.sweep({}))
        continue
      }
      const tenant = random.pick(tenants)
      const other = tenants.find((t) =>
        t !== tenant
      )!
      const subject = random.pick(subjects(tenant))
      const held = reservations.get(tenant)!
      const roll = random.next()
      const withKey = <A extends object>(request: A, name: string): A => {
        if (!random.chance(0.2)) return request
        return { ...request, idempotencyKey: `${name}-${random.int(0, 12)}` }
      }
      const remember = (name: string, call: Call) => {
        keys.push({ name, call })
        return call
      }

      if (roll < 0.2) {
        const request = withKey(
          {
            tenant,
            subject,
            action,
            estimate: { unit: random.chance(0.9) ? "TOKENS" : "CREDITS", amount: random.int(0, 400) },
            ttlMs: random.int(1_000, 6_000),
            graceMs: random.int(0, 2_000),
            overagePolicy: random.pick(policies),
            dryRun: random.chance(0.1),
            ...(random.chance(0.2) ? { metadata: { step: String(step) } } : {})
          } as const,
          "reserve"
        )
        const answer = yield* compare(step, "reserve", remember("reserve", (ledger) => ledger.reserve(request)))
        const id = answer?.ok?.reservationId
        if (typeof id === "string" && !held.includes(id)) held.push(id)
      } else if (roll < 0.34 && held.length > 0) {
        const id = random.pick(held)
        const request = withKey(
          {
            tenant,
            actual: { unit: random.chance(0.95) ? "TOKENS" : "CREDITS", amount: random.int(0, 500) }
          } as const,
          "commit"
        )
        yield* compare(
          step,
          "commit",
          remember("commit", (ledger, ids) => ledger.commit({ ...request, reservationId: ids(id) }))
        )
      } else if (roll < 0.41 && held.length > 0) {
        const id = random.pick(held)
        const request = withKey({ tenant }, "release")
        yield* compare(
          step,
          "release",
          remember("release", (ledger, ids) => ledger.release({ ...request, reservationId: ids(id) }))
        )
      } else if (roll < 0.47 && held.length > 0) {
        const id = random.pick(held)
        const request = withKey({ tenant, extendByMs: random.int(100, 3_000) }, "extend")
        yield* compare(
          step,
          "extend",
          remember("extend", (ledger, ids) => ledger.extend({ ...request, reservationId: ids(id) }))
        )
      } else if (roll < 0.53) {
        const request = withKey(
          {
            tenant,
            subject,
            action,
            estimate: { unit: random.chance(0.9) ? "TOKENS" : "CREDITS", amount: random.int(0, 600) }
          } as const,
          "decide"
        )
        yield* compare(step, "decide", remember("decide", (ledger) => ledger.decide(request)))
      } else if (roll < 0.62) {
        const request = withKey(
          {
            tenant,
            subject,
            action,
            actual: { unit: random.chance(0.9) ? "TOKENS" : "CREDITS", amount: random.int(0, 300) },
            overagePolicy: random.pick(policies)
          } as const,
          "event"
        )
        yield* compare(step, "event", remember("event", (ledger) => ledger.event(request)))
      } else if (roll < 0.67) {
        const request = withKey(
          {
            tenant,
            scope: random.pick(scopes(tenant)),
            unit: random.chance(0.85) ? "TOKENS" : "CREDITS",
            operation: random.pick(["credit", "debit", "reset", "repay-debt"] as const),
            amount: random.chance(0.02) ? "9223372036854775000" : random.int(0, 700)
          } as const,
          "fund"
        )
        yield* compare(step, "fundBudget", remember("fundBudget", (ledger) => ledger.fundBudget(request)))
      } else if (roll < 0.7) {
        const request = { tenant, scope: random.pick(scopes(tenant)), unit: "TOKENS" } as const
        const which = random.pick(["freezeBudget", "unfreezeBudget", "unfreezeBudget", "closeBudget"] as const)
        yield* compare(step, which, (ledger) => ledger[which](request))
      } else if (roll < 0.72) {
        const request = {
          tenant,
          scope: random.pick(scopes(tenant)),
          unit: "TOKENS",
          overdraftLimit: random.int(0, 400)
        } as const
        yield* compare(step, "setOverdraftLimit", (ledger) => ledger.setOverdraftLimit(request))
      } else if (roll < 0.76) {
        const page = `balances ${tenant} ${canonical(subject)}`
        const request = {
          tenant,
          subject,
          includeChildren: random.chance(0.5),
          limit: random.int(1, 4),
          ...(random.chance(0.3) ? { unit: random.pick(units) } : {})
        }
        const continued = random.chance(0.6)
        yield* compare(step, "balances", (ledger) => {
          const cursor = cursors[ledger === memory ? "memory" : "redis"].get(page)
          return ledger.balances({ ...request, ...(continued && cursor !== undefined ? { cursor } : {}) })
        }, page)
      } else if (roll < 0.8) {
        const filters = random.pick([
          {},
          { status: random.pick(["active", "committed", "released", "expired"] as const) },
          { subject: { app: "a" } },
          { subject: { agent: "x" }, status: "active" as const },
          { idempotencyKey: `reserve-${random.int(0, 12)}` }
        ])
        const page = `list ${tenant} ${canonical(filters)}`
        const request = { tenant, limit: random.int(1, 5), ...filters }
        const continued = random.chance(0.6)
        yield* compare(step, "listReservations", (ledger) => {
          const cursor = cursors[ledger === memory ? "memory" : "redis"].get(page)
          return ledger.listReservations({ ...request, ...(continued && cursor !== undefined ? { cursor } : {}) })
        }, page)
      } else if (roll < 0.84 && held.length > 0) {
        const id = random.pick(held)
        yield* compare(
          step,
          "getReservation",
          (ledger, ids) => ledger.getReservation({ tenant, reservationId: ids(id) })
        )
      } else if (roll < 0.86 && reservations.get(other)!.length > 0) {
        const id = random.pick(reservations.get(other)!)
        const name = random.pick(["commit", "release", "getReservation"] as const)
        yield* compare(step, `${name} (other tenant)`, (ledger, ids) =>
          name === "commit"
            ? ledger.commit({ tenant, reservationId: ids(id), actual: { unit: "TOKENS", amount: 1 } })
            : name === "release"
            ? ledger.release({ tenant, reservationId: ids(id) })
            : ledger.getReservation({ tenant, reservationId: ids(id) }))
      } else if (roll < 0.89) {
        const limit = random.int(1, 3)
        yield* compare(step, "sweep", (ledger) => ledger.sweep({ tenant, limit }))
      } else if (roll < 0.9) {
        yield* compare(step, "sweep-all", (ledger) => ledger.sweep({}))
      } else if (roll < 0.95 && keys.length > 0) {
        // an idempotent request again: the first answer, or a mismatch
        const { call, name } = random.pick(keys)
        yield* compare(step, `${name} (again)`, call)
      } else {
        yield* TestClock.adjust(random.int(0, 3_000))
      }
    }
  })

describe("RedisLedgerStore answers as the memory store does", () => {
  for (const seed of [1, 2, 3, 4, 5, 6]) {
    it.effect(`seed ${seed}: 400 random operations in lockstep`, () => sequence(seed, 400))
  }
  it.effect("the sequences reached every operation, both ways", () =>
    Effect.sync(() => {
      const outcomes = [
        "reserve:ok",
        "reserve:BudgetExceeded",
        "reserve:BudgetFrozen",
        "reserve:BudgetClosed",
        "reserve:OverdraftLimitExceeded",
        "reserve:UnitMismatch",
        "reserve:IdempotencyMismatch",
        "commit:ok",
        "commit:BudgetExceeded",
        "commit:ReservationExpired",
        "commit:ReservationFinalized",
        "commit:Forbidden",
        "commit:NotFound",
        "release:ok",
        "extend:ok",
        "extend:ReservationExpired",
        "decide:ok",
        "event:ok",
        "event:BudgetExceeded",
        "fundBudget:ok",
        "fundBudget:InvalidRequest",
        "getReservation:ok",
        "getReservation:ReservationExpired",
        "listReservations:ok",
        "balances:ok",
        "sweep:ok",
        "sweep-all:ok",
        "setOverdraftLimit:ok",
        "freezeBudget:ok",
        "unfreezeBudget:InvalidRequest",
        "closeBudget:ok"
      ]
      for (const expected of outcomes) assert.isAbove(tally[expected] ?? 0, 0, expected)
    }))
})
