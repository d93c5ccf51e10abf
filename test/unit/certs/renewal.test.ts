import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_RENEWAL_FRACTION, isValidRenewalFraction, needsRenewal, renewalTime } from "../../../certs/renewal.js";

const d = (iso: string): Date => new Date(iso);

describe("renewalTime", () => {
  const cases: { name: string; notBefore: string; notAfter: string; fraction?: number; want: string }[] = [
    { name: "90 days at 2/3 → day 60", notBefore: "2026-01-01T00:00:00Z", notAfter: "2026-04-01T00:00:00Z", want: "2026-03-02T00:00:00.000Z" },
    // 365 × 2/3 = 243⅓ days = 243 days 8 hours; Jan..Aug 2026 have 243 days.
    { name: "one year at 2/3", notBefore: "2026-01-01T00:00:00Z", notAfter: "2027-01-01T00:00:00Z", want: "2026-09-01T08:00:00.000Z" },
    // 3652 days (2028 and 2032 are leap years) × 2/3 = 2434 days 16 hours.
    { name: "10 years at 2/3 (the CA default)", notBefore: "2026-01-01T00:00:00Z", notAfter: "2036-01-01T00:00:00Z", want: "2032-08-31T16:00:00.000Z" },
    { name: "explicit 1/2", notBefore: "2026-01-01T00:00:00Z", notAfter: "2026-01-11T00:00:00Z", fraction: 0.5, want: "2026-01-06T00:00:00.000Z" },
    { name: "explicit 0.9", notBefore: "2026-01-01T00:00:00Z", notAfter: "2026-01-01T10:00:00Z", fraction: 0.9, want: "2026-01-01T09:00:00.000Z" },
    // our issued certificates: backdated an hour, 365 days after issuance at 12:00
    { name: "backdated leaf", notBefore: "2026-03-01T11:00:00Z", notAfter: "2027-03-01T12:00:00Z", want: "2026-10-30T19:40:00.000Z" },
    { name: "rounds to the nearest millisecond (6.67 → 7)", notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2026-01-01T00:00:00.010Z", want: "2026-01-01T00:00:00.007Z" },
    { name: "rounds to the nearest millisecond (3.33 → 3)", notBefore: "2026-01-01T00:00:00.000Z", notAfter: "2026-01-01T00:00:00.005Z", want: "2026-01-01T00:00:00.003Z" },
  ];
  for (const c of cases) {
    it(c.name, () => {
      assert.equal(renewalTime(d(c.notBefore), d(c.notAfter), c.fraction).toISOString(), c.want);
    });
  }

  it("defaults to 2/3", () => {
    assert.equal(DEFAULT_RENEWAL_FRACTION, 2 / 3);
  });

  const bad: { name: string; notBefore: Date; notAfter: Date; message: RegExp }[] = [
    {
      name: "notAfter equal to notBefore",
      notBefore: d("2026-01-01T00:00:00Z"),
      notAfter: d("2026-01-01T00:00:00Z"),
      message: /notAfter \(2026-01-01T00:00:00.000Z\) must be after notBefore/,
    },
    { name: "notAfter before notBefore", notBefore: d("2026-02-01T00:00:00Z"), notAfter: d("2026-01-01T00:00:00Z"), message: /must be after notBefore/ },
    { name: "an invalid date", notBefore: new Date(Number.NaN), notAfter: d("2026-01-01T00:00:00Z"), message: /invalid date/ },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => {
      assert.throws(() => renewalTime(c.notBefore, c.notAfter), { name: "RangeError", message: c.message });
    });
  }
});

describe("needsRenewal", () => {
  const cert = { notBefore: d("2026-01-01T00:00:00Z"), notAfter: d("2026-04-01T00:00:00Z") }; // renews 2026-03-02
  const cases: { now: string; fraction?: number; want: boolean }[] = [
    { now: "2025-12-31T00:00:00Z", want: false }, // not yet valid: its renewal is still ahead
    { now: "2026-01-01T00:00:00Z", want: false },
    { now: "2026-03-01T23:59:59.999Z", want: false },
    { now: "2026-03-02T00:00:00Z", want: true }, // exactly at the renewal time
    { now: "2026-03-31T23:59:59Z", want: true },
    { now: "2026-04-01T00:00:00Z", want: true }, // expiry instant
    { now: "2027-01-01T00:00:00Z", want: true }, // long expired
    { now: "2026-02-15T00:00:00Z", fraction: 0.5, want: true }, // day 45 of 90
    { now: "2026-02-14T23:59:59.999Z", fraction: 0.5, want: false },
  ];
  for (const c of cases) {
    it(`${c.now}${c.fraction !== undefined ? ` at ${c.fraction}` : ""} → ${c.want}`, () => {
      assert.equal(needsRenewal(cert, d(c.now), c.fraction), c.want);
    });
  }

  it("rejects an invalid now", () => {
    assert.throws(() => needsRenewal(cert, new Date(Number.NaN)), { name: "RangeError", message: /invalid now/ });
  });
});

describe("renewal fraction validation", () => {
  const cert = { notBefore: d("2026-01-01T00:00:00Z"), notAfter: d("2026-04-01T00:00:00Z") };
  const invalid = [0, 1, -0.1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY];
  for (const fraction of invalid) {
    it(`rejects ${fraction}`, () => {
      const expected = { name: "RangeError", message: new RegExp(`strictly between 0 and 1.*got ${String(fraction)}$`) };
      assert.throws(() => renewalTime(cert.notBefore, cert.notAfter, fraction), expected);
      assert.throws(() => needsRenewal(cert, d("2026-02-01T00:00:00Z"), fraction), expected);
      assert.equal(isValidRenewalFraction(fraction), false);
    });
  }

  const valid = [Number.MIN_VALUE, 0.001, 0.5, 2 / 3, 0.999];
  for (const fraction of valid) {
    it(`accepts ${fraction}`, () => {
      assert.equal(isValidRenewalFraction(fraction), true);
      assert.ok(renewalTime(cert.notBefore, cert.notAfter, fraction) instanceof Date);
    });
  }

  it("isValidRenewalFraction rejects non-numbers", () => {
    for (const v of ["0.5", null, undefined, {}]) assert.equal(isValidRenewalFraction(v), false);
  });
});
