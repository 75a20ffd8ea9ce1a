// Reservation ids name their tenant (`rsv_<tenant>_<n>`): the store's fast
// check that an id is the caller's own must never say yes where the general
// parse names another tenant.
import { assert, describe, it } from "@effect/vitest"
import * as Keys from "../src/internal/keys.ts"
describe("reservation ids", () => {
  it("isReservationOf agrees with reservationTenant", () => {
    const tenants = ["acme", "a_b", "a", "acme_1", "x.y-z"]
    const ids = [
      "rsv_acme_1",
      "rsv_acme_123",
      "rsv_acme_",
      "rsv_acme_1x",
      "rsv_acme1_2",
      "rsv_a_b_3",
      "rsv_acme_1_2",
      "rsv_x.y-z_9",
      "evt_acme_1",
      "rsv_",
      "rsv_acme",
      "RSV_acme_1",
      ""
    ]
    for (const tenant of tenants) {
      for (const id of ids) {
        const owner = Keys.reservationTenant(id)
        // the fast check may only say yes where the general one names this tenant
        if (Keys.isReservationOf(id, tenant)) assert.strictEqual(owner, tenant, `${id} of ${tenant}`)
      }
      assert.isTrue(Keys.isReservationOf(`rsv_${tenant}_42`, tenant), tenant)
    }
  })
})
