import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseSettings } from "../../../config/settings.js";
import type { AdmissionRequest } from "../../../webhook/admission-review.js";
import { decideServiceReservation } from "../../../webhook/reservation-guard.js";

const guarded = (() => {
  const r = parseSettings({ guardian: { reservationGuard: true } });
  assert.ok(r.ok);
  return r.settings;
})();

const req = (namespace: string, name: string, spec: Record<string, unknown>, operation = "CREATE"): AdmissionRequest => ({
  uid: "u",
  kind: { group: "", version: "v1", kind: "Service" },
  operation,
  namespace,
  name,
  object: { metadata: { name, namespace }, spec },
});

describe("reservation guard (/validate)", () => {
  it("denies another Service asking for the reserved IP, naming the DNS Service", () => {
    const r = decideServiceReservation(req("default", "squatter", { clusterIP: "10.96.0.10" }), guarded);
    assert.equal(r.allowed, false);
    assert.equal(r.status?.code, 422);
    assert.match(r.status?.message ?? "", /10\.96\.0\.10 is reserved for the DNS Service kube-system\/kube-dns/);
    assert.equal(decideServiceReservation(req("default", "squatter", { clusterIPs: ["10.96.0.10"] }, "UPDATE"), guarded).allowed, false);
  });

  it("allows the DNS Service itself, other IPs, no IP, and everything when the guard is off", () => {
    assert.equal(decideServiceReservation(req("kube-system", "kube-dns", { clusterIP: "10.96.0.10" }), guarded).allowed, true);
    assert.equal(decideServiceReservation(req("default", "web", { clusterIP: "10.96.0.11" }), guarded).allowed, true);
    assert.equal(decideServiceReservation(req("default", "web", {}), guarded).allowed, true);
    const off = parseSettings({});
    assert.ok(off.ok);
    assert.equal(decideServiceReservation(req("default", "squatter", { clusterIP: "10.96.0.10" }), off.settings).allowed, true);
  });

  it("guardian settings validate the lease timing rule", () => {
    const bad = parseSettings({ guardian: { leaseDurationSeconds: 5, renewDeadlineSeconds: 10 } });
    assert.ok(!bad.ok);
    assert.match(bad.errors.join("\n"), /leaseDurationSeconds > renewDeadlineSeconds > retryPeriodSeconds/);
    const repair = parseSettings({ guardian: { repair: "fix" } });
    assert.ok(!repair.ok);
    assert.match(repair.errors.join("\n"), /guardian\.repair: one of report, recreate/);
  });
});
