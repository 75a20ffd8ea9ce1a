/**
 * Ledger amounts: exact integers in `bigint`, within the signed 64-bit range
 * the Cycles protocol uses, and their Schemas (a JSON number that is a safe
 * integer, a decimal string or a bigint in; a decimal string out).
 *
 * @internal
 */
import { Schema, SchemaTransformation } from "effect"

/** 2^63 − 1, the largest amount. */
export const MAX = 9_223_372_036_854_775_807n

/** −2^63, the smallest signed amount (a `remaining` can be negative). */
export const MIN = -9_223_372_036_854_775_808n

const decimal = /^-?\d+$/
const unsignedDecimal = /^\d+$/

const toBigInt = SchemaTransformation.transform<bigint, bigint | number | string>({
  decode: (input) => (typeof input === "bigint" ? input : BigInt(input)),
  encode: (value) => value.toString()
})

const SafeInteger = Schema.Number.check(
  Schema.makeFilter((n: number) => Number.isSafeInteger(n), { expected: "a safe integer" })
)

/** A non-negative amount up to 2^63 − 1. */
export const AmountValue = Schema.Union([
  Schema.BigInt,
  SafeInteger,
  Schema.String.check(Schema.isPattern(unsignedDecimal, { expected: "a decimal integer string" }))
]).pipe(
  Schema.decodeTo(
    Schema.BigInt.check(
      Schema.isBetweenBigInt({ minimum: 0n, maximum: MAX }, { expected: "an integer between 0 and 2^63-1" })
    ),
    toBigInt
  )
)

/** A signed amount in [−2^63, 2^63 − 1]. */
export const SignedAmountValue = Schema.Union([
  Schema.BigInt,
  SafeInteger,
  Schema.String.check(Schema.isPattern(decimal, { expected: "a decimal integer string" }))
]).pipe(
  Schema.decodeTo(
    Schema.BigInt.check(
      Schema.isBetweenBigInt({ minimum: MIN, maximum: MAX }, { expected: "an integer between -2^63 and 2^63-1" })
    ),
    toBigInt
  )
)

/** The smaller of two amounts. */
export const min = (a: bigint, b: bigint): bigint => (a < b ? a : b)

/** The larger of two amounts. */
export const max = (a: bigint, b: bigint): bigint => (a > b ? a : b)

/** Whether a value fits the signed 64-bit range. */
export const fits = (value: bigint): boolean => value >= MIN && value <= MAX
