import assert from "node:assert/strict";
import { describe, it } from "node:test";
import {
  bundlesTrust,
  holdingSince,
  lifetimeStart,
  planRotation,
  renewAt,
  type CertFacts,
  type ObservedBundle,
  type RotationInput,
  type RotationPlan,
  type ServingFacts,
} from "../../../certs/rotation.js";

const SECOND = 1000;
const HOUR = 3600 * SECOND;
const DAY = 24 * HOUR;
const T0 = new Date("2026-01-01T00:00:00Z");
const at = (ms: number) => new Date(T0.getTime() + ms);

/** A certificate as we issue them: issued at `issued`, backdated an hour, valid `days`. */
function cert(fingerprint: string, issued: Date, days: number): CertFacts {
  return { fingerprint, notBefore: new Date(issued.getTime() - HOUR), notAfter: new Date(issued.getTime() + days * DAY) };
}

const NAMES = ["pod-dns-injector", "pod-dns-injector.ns", "pod-dns-injector.ns.svc", "pod-dns-injector.ns.svc.cluster.local"];
const POLICY = { renewFraction: 2 / 3, rolloverGraceMs: 120 * SECOND, dnsNames: NAMES, ipAddresses: ["127.0.0.1"] };

const CA_A = cert("AA", T0, 3650);
// Introduced when A reached 2/3 of its life.
const B_ISSUED = at(2434 * DAY);
const CA_B = cert("BB", B_ISSUED, 3650);

function serving(issuer: string | undefined, issued: Date, extra: Partial<ServingFacts> = {}): ServingFacts {
  return { ...cert(`S-${issuer ?? "none"}-${issued.getTime()}`, issued, 365), issuer, dnsNames: NAMES, ipAddresses: ["127.0.0.1"], ...extra };
}

const bundles = (...sets: string[][]): ObservedBundle[] => sets.map((fingerprints, i) => ({ name: `MutatingWebhookConfiguration/pod-dns-injector/w${i}`, fingerprints }));

/** A steady state at `now`: CA A, serving cert issued at `servingIssued` by A, every bundle {A}. */
function steady(now: Date, servingIssued = T0, overrides: Partial<RotationInput> = {}): RotationInput {
  return {
    now,
    policy: POLICY,
    ca: { active: CA_A, previous: [], rotateRequested: false },
    serving: { cert: serving("AA", servingIssued), caBundle: ["AA"], issuedAt: servingIssued, rotateRequested: false },
    webhookBundles: bundles(["AA"]),
    ...overrides,
  };
}

/** Introducing B at `now` (A still signs; serving by A, recent). */
function introducing(now: Date, overrides: Partial<RotationInput> = {}): RotationInput {
  const servingIssued = at(2400 * DAY);
  return {
    now,
    policy: POLICY,
    ca: { active: CA_A, next: CA_B, previous: [], rotateRequested: false },
    serving: { cert: serving("AA", servingIssued), caBundle: ["AA", "BB"], issuedAt: servingIssued, rotateRequested: false },
    webhookBundles: bundles(["AA", "BB"], ["BB", "AA"]),
    ...overrides,
  };
}

/** Retiring A: B signs, A is previous; serving issued at `servingIssued` by `issuer`. */
function retiring(now: Date, issuer: string, servingIssued: Date, overrides: Partial<RotationInput> = {}): RotationInput {
  return {
    now,
    policy: POLICY,
    ca: { active: CA_B, previous: [CA_A], rotateRequested: false },
    serving: { cert: serving(issuer, servingIssued), caBundle: ["BB", "AA"], issuedAt: servingIssued, rotateRequested: false },
    webhookBundles: bundles(["AA", "BB"]),
    ...overrides,
  };
}

interface Case {
  name: string;
  input: RotationInput;
  phase: RotationPlan["phase"];
  action: RotationPlan["step"]["action"];
  reason: string;
  trusted?: string[];
  until?: Date;
  check?: (plan: RotationPlan) => void;
}

const T_SERVING_DUE = renewAt(serving("AA", T0), 2 / 3);
const LATER = at(2440 * DAY);

const cases: Case[] = [
  // bootstrap
  {
    name: "fresh: no Secrets → create a CA",
    input: { now: T0, policy: POLICY, ca: undefined, serving: undefined, webhookBundles: [] },
    phase: "bootstrap",
    action: "create-ca",
    reason: "no-ca",
    trusted: [],
  },
  {
    name: "CA Secret without a usable CA and nothing valid served → create a CA over it",
    input: { now: T0, policy: POLICY, ca: { previous: [], rotateRequested: false }, serving: undefined, webhookBundles: [] },
    phase: "bootstrap",
    action: "create-ca",
    reason: "ca-unusable",
  },
  {
    name: "CA expired and serving expired → create a CA",
    input: steady(at(3651 * DAY)),
    phase: "bootstrap",
    action: "create-ca",
    reason: "ca-unusable",
  },
  {
    name: "CA Secret lost while a valid serving certificate is served → introduce a CA next to the ones that trust it",
    input: { now: at(DAY), policy: POLICY, ca: undefined, serving: { cert: serving("OLD", T0), caBundle: ["OLD"], rotateRequested: false }, webhookBundles: bundles(["OLD"]) },
    phase: "bootstrap",
    action: "introduce-ca",
    reason: "ca-key-lost",
    check: (p) => assert.deepEqual(p.step.action === "introduce-ca" && p.step.trustAlso, ["OLD"]),
  },
  // steady
  {
    name: "CA only → issue the serving certificate",
    input: steady(T0, T0, { serving: undefined }),
    phase: "steady",
    action: "issue-serving",
    reason: "serving-missing",
    trusted: ["AA"],
  },
  {
    name: "valid → nothing until the serving certificate's renewal time",
    input: steady(at(DAY)),
    phase: "steady",
    action: "idle",
    reason: "up-to-date",
    trusted: ["AA"],
    until: T_SERVING_DUE,
  },
  { name: "1 ms before 2/3 → still nothing", input: steady(new Date(T_SERVING_DUE.getTime() - 1)), phase: "steady", action: "idle", reason: "up-to-date" },
  { name: "past 2/3 → renew the serving certificate", input: steady(T_SERVING_DUE), phase: "steady", action: "issue-serving", reason: "serving-renewal" },
  { name: "serving expired → re-issue", input: steady(at(366 * DAY)), phase: "steady", action: "issue-serving", reason: "serving-expired" },
  {
    name: "serving Secret unreadable (or key mismatch) → re-issue",
    input: steady(at(DAY), T0, { serving: { caBundle: ["AA"], rotateRequested: false } }),
    phase: "steady",
    action: "issue-serving",
    reason: "serving-unusable",
  },
  {
    name: "serving certificate signed by another CA → re-issue",
    input: steady(at(DAY), T0, { serving: { cert: serving("ZZ", T0), caBundle: ["AA"], rotateRequested: false } }),
    phase: "steady",
    action: "issue-serving",
    reason: "wrong-issuer",
  },
  {
    name: "a required name is missing → re-issue (extra names are fine)",
    input: steady(at(DAY), T0, { serving: { cert: serving("AA", T0, { dnsNames: [...NAMES.slice(1), "extra"] }), caBundle: ["AA"], rotateRequested: false } }),
    phase: "steady",
    action: "issue-serving",
    reason: "names-changed",
    check: (p) => assert.match(p.step.detail, /lacks pod-dns-injector$/),
  },
  {
    name: "rotate annotation on the serving Secret → re-issue",
    input: steady(at(DAY), T0, { serving: { cert: serving("AA", T0), caBundle: ["AA"], rotateRequested: true } }),
    phase: "steady",
    action: "issue-serving",
    reason: "rotation-requested",
  },
  {
    name: "ca.crt out of date → rewrite it",
    input: steady(at(DAY), T0, { serving: { cert: serving("AA", T0), caBundle: [], rotateRequested: false } }),
    phase: "steady",
    action: "sync-serving-ca",
    reason: "trust-changed",
  },
  {
    name: "CA past 2/3 → start a rollover",
    input: steady(B_ISSUED, at(2400 * DAY)),
    phase: "steady",
    action: "introduce-ca",
    reason: "ca-renewal",
  },
  {
    name: "rotate annotation on the CA Secret → start a rollover",
    input: steady(at(DAY), T0, { ca: { active: CA_A, previous: [], rotateRequested: true } }),
    phase: "steady",
    action: "introduce-ca",
    reason: "rotation-requested",
  },
  // introducing
  {
    name: "introducing: ca.crt lacks the new CA → add it first",
    input: introducing(B_ISSUED, { serving: { cert: serving("AA", at(2400 * DAY)), caBundle: ["AA"], rotateRequested: false } }),
    phase: "introducing",
    action: "sync-serving-ca",
    reason: "trust-changed",
    trusted: ["AA", "BB"],
  },
  {
    name: "introducing: caBundles not observed yet → wait",
    input: introducing(B_ISSUED, { webhookBundles: undefined }),
    phase: "introducing",
    action: "wait",
    reason: "bundles-unknown",
  },
  {
    name: "introducing: one caBundle lacks the new CA → wait, naming it",
    input: introducing(B_ISSUED, { webhookBundles: bundles(["AA", "BB"], ["AA"]) }),
    phase: "introducing",
    action: "wait",
    reason: "bundles-missing-next-ca",
    check: (p) => assert.match(p.step.detail, /MutatingWebhookConfiguration\/pod-dns-injector\/w1/),
  },
  {
    name: "introducing: every caBundle trusts it since now → wait the grace period",
    input: introducing(B_ISSUED, { bundlesTrustNextSince: B_ISSUED }),
    phase: "introducing",
    action: "wait",
    reason: "bundle-propagation",
    until: new Date(B_ISSUED.getTime() + 120 * SECOND),
  },
  {
    name: "introducing: trusted for the grace period → promote",
    input: introducing(new Date(B_ISSUED.getTime() + 120 * SECOND), { bundlesTrustNextSince: B_ISSUED }),
    phase: "introducing",
    action: "promote-ca",
    reason: "new-ca-trusted",
    trusted: ["AA", "BB"],
  },
  {
    name: "introducing: no webhook configurations at all → promote after the grace period",
    input: introducing(new Date(B_ISSUED.getTime() + 121 * SECOND), { webhookBundles: [], bundlesTrustNextSince: B_ISSUED }),
    phase: "introducing",
    action: "promote-ca",
    reason: "new-ca-trusted",
  },
  {
    name: "introducing: serving certificate due → renewed by the current CA meanwhile",
    input: introducing(B_ISSUED, { serving: { cert: serving("AA", at(2150 * DAY)), caBundle: ["AA", "BB"], rotateRequested: false } }),
    phase: "introducing",
    action: "issue-serving",
    reason: "serving-renewal",
  },
  {
    name: "introducing: a CA rotation request waits for the rollover in progress",
    input: introducing(B_ISSUED, { ca: { active: CA_A, next: CA_B, previous: [], rotateRequested: true } }),
    phase: "introducing",
    action: "wait",
    reason: "bundle-propagation",
  },
  {
    name: "introducing without a signing CA and nothing valid served → promote at once",
    input: { now: at(DAY), policy: POLICY, ca: { next: CA_B, previous: [], rotateRequested: false }, serving: undefined, webhookBundles: undefined },
    phase: "introducing",
    action: "promote-ca",
    reason: "nothing-to-protect",
  },
  {
    name: "introducing: the pending CA expired → introduce another",
    input: introducing(at(B_ISSUED.getTime() - T0.getTime() + 3651 * DAY)),
    phase: "introducing",
    action: "introduce-ca",
    reason: "next-ca-expired",
  },
  // retiring
  {
    name: "retiring: serving still by the old CA → re-issue with the new one",
    input: retiring(LATER, "AA", at(2400 * DAY)),
    phase: "retiring",
    action: "issue-serving",
    reason: "ca-rollover",
    trusted: ["BB", "AA"],
  },
  {
    name: "retiring: new serving certificate just out → wait for every replica",
    input: retiring(LATER, "BB", LATER),
    phase: "retiring",
    action: "wait",
    reason: "replica-reload",
    until: new Date(LATER.getTime() + 120 * SECOND),
    trusted: ["BB", "AA"],
  },
  {
    name: "retiring: without the issued-at annotation, from the certificate's issuance",
    input: retiring(new Date(LATER.getTime() + 60 * SECOND), "BB", LATER, { serving: { cert: serving("BB", LATER), caBundle: ["BB", "AA"], rotateRequested: false } }),
    phase: "retiring",
    action: "wait",
    reason: "replica-reload",
    until: new Date(LATER.getTime() + 120 * SECOND),
  },
  {
    name: "retiring: grace period over → drop the old CA",
    input: retiring(new Date(LATER.getTime() + 120 * SECOND), "BB", LATER),
    phase: "retiring",
    action: "retire-ca",
    reason: "serving-switched",
    trusted: ["BB", "AA"],
  },
  {
    name: "after the rollover: trusted {B} only",
    input: {
      ...retiring(new Date(LATER.getTime() + 200 * SECOND), "BB", LATER),
      ca: { active: CA_B, previous: [], rotateRequested: false },
      serving: { cert: serving("BB", LATER), caBundle: ["BB"], rotateRequested: false },
    },
    phase: "steady",
    action: "idle",
    reason: "up-to-date",
    trusted: ["BB"],
  },
];

describe("planRotation", () => {
  for (const c of cases) {
    it(c.name, () => {
      const plan = planRotation(c.input);
      assert.equal(plan.phase, c.phase, `phase (step: ${JSON.stringify(plan.step)})`);
      assert.equal(plan.step.action, c.action, plan.step.detail);
      assert.equal(plan.step.reason, c.reason, plan.step.detail);
      if (c.trusted) assert.deepEqual(plan.trusted, c.trusted);
      if (c.until) assert.equal((plan.step as { until?: Date }).until?.toISOString(), c.until.toISOString());
      c.check?.(plan);
      assert.ok(plan.step.detail.length > 0, "a step always explains itself");
    });
  }

  it("is pure: the same input gives the same plan", () => {
    const input = introducing(B_ISSUED, { bundlesTrustNextSince: B_ISSUED });
    assert.deepEqual(planRotation(input), planRotation(structuredClone(input)));
  });

  it("walks a whole CA rollover, the trusted set never losing the CA that signs what is served", () => {
    // Each phase: (input, what is served) → the trusted set must include the served cert's issuer.
    const walk: [RotationInput, string][] = [
      [steady(B_ISSUED, at(2400 * DAY)), "AA"],
      [introducing(B_ISSUED, { bundlesTrustNextSince: B_ISSUED }), "AA"],
      [retiring(LATER, "AA", at(2400 * DAY)), "AA"],
      [retiring(LATER, "BB", LATER), "BB"],
    ];
    const actions = walk.map(([input, issuer]) => {
      const plan = planRotation(input);
      assert.ok(plan.trusted.includes(issuer), `${plan.phase}: trusted ${plan.trusted.join(",")} lacks the issuer ${issuer} of the served certificate`);
      return plan.step.action;
    });
    assert.deepEqual(actions, ["introduce-ca", "wait", "issue-serving", "wait"]);
  });
});

describe("lifetime arithmetic", () => {
  it("measures from issuance (notBefore + the 1 h backdating) for our certificates", () => {
    const c = cert("X", T0, 365);
    assert.equal(lifetimeStart(c).toISOString(), T0.toISOString());
  });

  it("a minute-long test certificate renews at 2/3 of its minute, not at once", () => {
    // validityDays 0.0005 = 43.2 s, as the end-to-end tests use.
    const c = cert("X", T0, 0.0005);
    assert.equal(renewAt(c, 2 / 3).toISOString(), at(28.8 * SECOND).toISOString());
  });

  it("a certificate shorter than the backdating (not ours) is measured from notBefore", () => {
    const c = { notBefore: T0, notAfter: at(30 * 60 * SECOND) };
    assert.equal(lifetimeStart(c).toISOString(), T0.toISOString());
    assert.equal(renewAt(c, 0.5).toISOString(), at(15 * 60 * SECOND).toISOString());
  });

  it("holdingSince keeps the first instant while the condition holds, forgets it when it stops", () => {
    const t1 = at(1);
    const t2 = at(2);
    assert.equal(holdingSince(undefined, false, t1), undefined);
    assert.equal(holdingSince(undefined, true, t1), t1);
    assert.equal(holdingSince(t1, true, t2), t1);
    assert.equal(holdingSince(t1, false, t2), undefined);
  });

  it("bundlesTrust: every bundle must hold the CA (vacuously true for none)", () => {
    assert.equal(bundlesTrust(bundles(["A", "B"], ["B"]), "B"), true);
    assert.equal(bundlesTrust(bundles(["A", "B"], ["A"]), "B"), false);
    assert.equal(bundlesTrust([], "B"), true);
  });
});
