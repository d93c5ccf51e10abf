/**
 * The certificate lifecycle as a pure decision: from what the two Secrets hold, what the
 * webhook configurations' caBundles trust, and a clock, the one next step to take. The
 * manager executes a step, re-reads, and asks again, so every replica converges on the same
 * state whatever it missed, and a step lost to a crash is simply decided again.
 *
 * A CA rollover never leaves a client without trust (cert-manager's and kubeadm's rule):
 *
 *   steady       CA A signs; trusted {A}
 *   introducing  new CA B stored as "next": trusted {A, B}; A still signs. Wait until every
 *                caBundle (and ca.crt) contains B, plus a grace period for the API server to
 *                load it.
 *   retiring     B promoted ("previous" = A): trusted {B, A}; the serving certificate is
 *                re-issued by B. Wait until every replica has loaded it (grace period from
 *                its issuance; replicas watch the Secret, and re-check periodically).
 *   steady       A dropped: trusted {B}.
 *
 * A serving-certificate renewal needs no such dance: the CA does not change.
 */
import { CLOCK_SKEW_ALLOWANCE_MS } from "./authority.js";
import { needsRenewal, renewalTime } from "./renewal.js";

/** What the planner needs to know about a certificate. */
export interface CertFacts {
  /** SHA-256 fingerprint: the identity of a certificate in bundles and logs. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
}

export interface ServingFacts extends CertFacts {
  /** Fingerprint of the trusted CA that signed it, when one of them did. */
  issuer?: string | undefined;
  dnsNames: string[];
  ipAddresses: string[];
}

export interface RotationPolicy {
  /** Renew at this fraction of a certificate's lifetime (certs/renewal.ts). */
  renewFraction: number;
  /** Each rollover step waits this long for the previous one to reach every client and replica. */
  rolloverGraceMs: number;
  /** Names the serving certificate must cover (it may cover more). */
  dnsNames: string[];
  ipAddresses: string[];
}

/** One observed webhook's caBundle: `<kind>/<configuration>/<webhook>` and the CAs in it. */
export interface ObservedBundle {
  name: string;
  fingerprints: string[];
}

export interface RotationInput {
  now: Date;
  policy: RotationPolicy;
  /** The CA Secret; undefined when it does not exist. Expired or unreadable parts are left out. */
  ca:
    | {
        active?: CertFacts | undefined;
        next?: CertFacts | undefined;
        previous: CertFacts[];
        /** A `rotate` annotation token not acted upon yet. */
        rotateRequested: boolean;
      }
    | undefined;
  /** The serving Secret; undefined when it does not exist. */
  serving:
    | {
        /** Undefined when unreadable or the key does not match. */
        cert?: ServingFacts | undefined;
        /** Fingerprints in its ca.crt. */
        caBundle: string[];
        issuedAt?: Date | undefined;
        rotateRequested: boolean;
      }
    | undefined;
  /** Every webhook's caBundle in the managed configurations; undefined while not observed yet. */
  webhookBundles: ObservedBundle[] | undefined;
  /** Since when every caBundle (as observed) has contained the next CA; the manager tracks it. */
  bundlesTrustNextSince?: Date | undefined;
}

export type RolloverPhase = "bootstrap" | "steady" | "introducing" | "retiring";

export type CreateCAReason = "no-ca" | "ca-unusable";
export type IntroduceCAReason = "ca-renewal" | "rotation-requested" | "ca-key-lost" | "next-ca-expired";
export type ServingReason =
  "serving-missing" | "serving-unusable" | "serving-expired" | "ca-rollover" | "wrong-issuer" | "names-changed" | "rotation-requested" | "serving-renewal";
export type WaitReason = "bundles-unknown" | "bundles-missing-next-ca" | "bundle-propagation" | "replica-reload";

/** The one next step. `detail` is for humans (logs, Events); the reason codes are for code and tests. */
export type RotationStep =
  /** Issue a fresh CA as the signing CA: nothing valid is served, so there is no trust to keep. */
  | { action: "create-ca"; reason: CreateCAReason; detail: string }
  /** Issue a new CA as "next" (trusted, not signing). `trustAlso`: fingerprints from the serving Secret's ca.crt to keep trusting as "previous". */
  | { action: "introduce-ca"; reason: IntroduceCAReason; detail: string; trustAlso: string[] }
  /** "next" becomes the signing CA, the signing CA becomes "previous". */
  | { action: "promote-ca"; reason: "new-ca-trusted" | "nothing-to-protect"; detail: string }
  /** Drop "previous". */
  | { action: "retire-ca"; reason: "serving-switched"; detail: string }
  /** Sign a new serving certificate with the signing CA (and write ca.crt). */
  | { action: "issue-serving"; reason: ServingReason; detail: string }
  /** Rewrite the serving Secret's ca.crt to the trusted set. */
  | { action: "sync-serving-ca"; reason: "trust-changed"; detail: string }
  /** Nothing to do before `until` (or the next event, when unset). */
  | { action: "wait"; reason: WaitReason; detail: string; until?: Date | undefined }
  /** Up to date; the next renewal is due at `until`. */
  | { action: "idle"; reason: "up-to-date"; detail: string; until: Date };

export interface RotationPlan {
  phase: RolloverPhase;
  step: RotationStep;
  /** Fingerprints every caBundle and ca.crt should hold, in order. */
  trusted: string[];
}

/**
 * When a certificate's lifetime began: its issuance, which for the certificates we issue is
 * notBefore plus the clock-skew backdating (certs/authority.ts). Measuring from the backdated
 * notBefore would renew early by a third of an hour, harmless for a year, but with the
 * minute-long lifetimes tests use it would make every certificate due at once. A certificate
 * shorter than the backdating (not one of ours) is measured from notBefore.
 */
export function lifetimeStart(cert: Pick<CertFacts, "notBefore" | "notAfter">): Date {
  const issued = cert.notBefore.getTime() + CLOCK_SKEW_ALLOWANCE_MS;
  return issued < cert.notAfter.getTime() ? new Date(issued) : cert.notBefore;
}

/** When `cert` is due for renewal under `fraction` of its (issuance-based) lifetime. */
export function renewAt(cert: Pick<CertFacts, "notBefore" | "notAfter">, fraction: number): Date {
  return renewalTime(lifetimeStart(cert), cert.notAfter, fraction);
}

/** Whether `cert` is due at `now`: {@link needsRenewal} over its issuance-based lifetime, as {@link renewAt}. */
function isDue(cert: Pick<CertFacts, "notBefore" | "notAfter">, now: Date, fraction: number): boolean {
  return needsRenewal({ notBefore: lifetimeStart(cert), notAfter: cert.notAfter }, now, fraction);
}

/** Whether every observed webhook's caBundle contains `fingerprint` (vacuously true for none). */
export function bundlesTrust(bundles: readonly ObservedBundle[], fingerprint: string): boolean {
  return bundles.every((b) => b.fingerprints.includes(fingerprint));
}

/**
 * Tracks since when a condition has held: `previous` while it keeps holding, `now` when it
 * starts to, undefined when it does not hold.
 */
export function holdingSince(previous: Date | undefined, holds: boolean, now: Date): Date | undefined {
  if (!holds) return undefined;
  return previous ?? now;
}

const sameSet = (a: readonly string[], b: readonly string[]) => a.length === b.length && a.every((x) => b.includes(x));
const isValidAt = (c: CertFacts | undefined, now: Date): c is CertFacts => c !== undefined && now.getTime() < c.notAfter.getTime();
const shortFp = (fp: string) => fp.slice(0, 11);

/**
 * Decides the next step. Pure: same input, same step.
 *
 * Rules, in order: (1) no usable signing CA and none being introduced → a fresh CA, or, when
 * a valid serving certificate is still being served, a new CA introduced next to the CAs that
 * trust it (so losing the CA Secret does not break the webhook); (2) a new CA being
 * introduced → wait until every caBundle trusts it for the grace period, then promote it;
 * (3) the serving certificate is missing, unusable, expired, not signed by the signing CA,
 * missing a required name, has a rotation request, or is past its renewal time → issue one;
 * (4) ca.crt differs from the trusted set → rewrite it; (5) a retired CA still trusted →
 * drop it once the new serving certificate is a grace period old; (6) the CA is past its
 * renewal time, or a rotation was requested → introduce a new CA; (7) otherwise idle until
 * the next renewal.
 */
export function planRotation(input: RotationInput): RotationPlan {
  const { now, ca } = input;
  const active = isValidAt(ca?.active, now) ? ca?.active : undefined;
  const next = ca?.next;
  const previous = ca?.previous ?? [];
  const trusted = dedupe([active, next, ...previous].filter((c): c is CertFacts => c !== undefined).map((c) => c.fingerprint));
  const plan = (phase: RolloverPhase, step: RotationStep): RotationPlan => ({ phase, step, trusted });

  if (!active && !next) return plan("bootstrap", bootstrapStep(input));
  if (next) return plan("introducing", introducingStep(input, active, next, trusted));

  // From here on a valid signing CA exists and no new CA is pending.
  const signing = active as CertFacts;
  const servingNeed = servingReason(input, signing, previous.length > 0);
  if (servingNeed) return plan(previous.length > 0 ? "retiring" : "steady", { action: "issue-serving", ...servingNeed });
  const serving = input.serving!;
  if (!sameSet(serving.caBundle, trusted)) {
    return plan(previous.length > 0 ? "retiring" : "steady", {
      action: "sync-serving-ca",
      reason: "trust-changed",
      detail: `ca.crt should hold ${trusted.length} CA(s): ${trusted.map(shortFp).join(", ")}`,
    });
  }
  if (previous.length > 0) return plan("retiring", retiringStep(input));

  if (ca?.rotateRequested) {
    return plan("steady", { action: "introduce-ca", reason: "rotation-requested", detail: "a CA rollover was requested with the rotate annotation", trustAlso: [] });
  }
  const caDue = renewAt(signing, input.policy.renewFraction);
  if (isDue(signing, now, input.policy.renewFraction)) {
    return plan("steady", {
      action: "introduce-ca",
      reason: "ca-renewal",
      detail: `the CA is past its renewal time ${caDue.toISOString()} (expires ${signing.notAfter.toISOString()})`,
      trustAlso: [],
    });
  }
  const servingDue = renewAt(serving.cert!, input.policy.renewFraction);
  const until = new Date(Math.min(caDue.getTime(), servingDue.getTime()));
  return plan("steady", { action: "idle", reason: "up-to-date", detail: `next renewal at ${until.toISOString()}`, until });
}

function bootstrapStep(input: RotationInput): RotationStep {
  const { now, ca, serving } = input;
  const cert = serving?.cert;
  // A serving certificate still valid and signed by a CA in its own ca.crt: the webhook works
  // today, so the replacement CA must be trusted before anything is re-issued.
  if (isValidAt(cert, now) && cert.issuer !== undefined && serving!.caBundle.includes(cert.issuer)) {
    return {
      action: "introduce-ca",
      reason: "ca-key-lost",
      detail: `no usable CA key (${ca ? "CA Secret unreadable or expired" : "CA Secret missing"}) while serving certificate ${shortFp(cert.fingerprint)} is valid: introducing a new CA next to the ones that trust it`,
      trustAlso: serving!.caBundle,
    };
  }
  return { action: "create-ca", reason: ca ? "ca-unusable" : "no-ca", detail: ca ? "the CA Secret holds no usable CA and nothing valid is served" : "no CA Secret yet" };
}

function introducingStep(input: RotationInput, active: CertFacts | undefined, next: CertFacts, trusted: string[]): RotationStep {
  const { now, serving, policy } = input;
  if (now.getTime() >= next.notAfter.getTime()) {
    return { action: "introduce-ca", reason: "next-ca-expired", detail: `the pending CA ${shortFp(next.fingerprint)} expired before it was promoted`, trustAlso: [] };
  }
  if (active) {
    // The current CA still signs until the new one is trusted everywhere: a serving
    // certificate that is due (or missing) is renewed with it rather than held back.
    const need = servingReason(input, active, false);
    if (need) return { action: "issue-serving", ...need };
  } else if (!isValidAt(serving?.cert, now)) {
    // Nothing valid is served and nothing can sign: no trust to protect, go to the new CA.
    return { action: "promote-ca", reason: "nothing-to-protect", detail: "no valid serving certificate and no signing CA: promoting the new CA at once" };
  }
  if (!sameSet(serving!.caBundle, trusted)) {
    return { action: "sync-serving-ca", reason: "trust-changed", detail: `ca.crt should hold ${trusted.length} CA(s) including the new CA ${shortFp(next.fingerprint)}` };
  }
  if (input.webhookBundles === undefined) {
    return { action: "wait", reason: "bundles-unknown", detail: "the webhook configurations have not been observed yet" };
  }
  const missing = input.webhookBundles.filter((b) => !b.fingerprints.includes(next.fingerprint)).map((b) => b.name);
  if (missing.length > 0) {
    return { action: "wait", reason: "bundles-missing-next-ca", detail: `waiting for the caBundle of ${missing.join(", ")} to trust the new CA ${shortFp(next.fingerprint)}` };
  }
  const since = input.bundlesTrustNextSince ?? now;
  const until = new Date(since.getTime() + policy.rolloverGraceMs);
  if (now.getTime() < until.getTime()) {
    return {
      action: "wait",
      reason: "bundle-propagation",
      detail: `every caBundle trusts the new CA ${shortFp(next.fingerprint)}; giving the API server until ${until.toISOString()} to load it`,
      until,
    };
  }
  return { action: "promote-ca", reason: "new-ca-trusted", detail: `every caBundle has trusted the new CA ${shortFp(next.fingerprint)} since ${since.toISOString()}` };
}

function servingReason(input: RotationInput, signing: CertFacts, rolling: boolean): { reason: ServingReason; detail: string } | undefined {
  const { now, serving, policy } = input;
  if (!serving) return { reason: "serving-missing", detail: "no serving Secret yet" };
  const cert = serving.cert;
  if (!cert) return { reason: "serving-unusable", detail: "the serving Secret holds no usable certificate and key" };
  if (now.getTime() >= cert.notAfter.getTime()) return { reason: "serving-expired", detail: `the serving certificate expired at ${cert.notAfter.toISOString()}` };
  if (cert.issuer !== signing.fingerprint) {
    return rolling
      ? { reason: "ca-rollover", detail: `switching the serving certificate to the new CA ${shortFp(signing.fingerprint)}` }
      : { reason: "wrong-issuer", detail: `the serving certificate is not signed by the CA ${shortFp(signing.fingerprint)}` };
  }
  const missingNames = [...policy.dnsNames.filter((n) => !cert.dnsNames.includes(n)), ...policy.ipAddresses.filter((ip) => !cert.ipAddresses.includes(ip))];
  if (missingNames.length > 0) return { reason: "names-changed", detail: `the serving certificate lacks ${missingNames.join(", ")}` };
  if (serving.rotateRequested) return { reason: "rotation-requested", detail: "a serving-certificate rotation was requested with the rotate annotation" };
  if (isDue(cert, now, policy.renewFraction)) {
    return { reason: "serving-renewal", detail: `past its renewal time ${renewAt(cert, policy.renewFraction).toISOString()} (expires ${cert.notAfter.toISOString()})` };
  }
  return undefined;
}

function retiringStep(input: RotationInput): RotationStep {
  const { now, serving, policy } = input;
  const cert = serving!.cert!;
  // The issuance time written by whoever issued it; else the certificate's own.
  const issued = serving!.issuedAt ?? lifetimeStart(cert);
  const until = new Date(issued.getTime() + policy.rolloverGraceMs);
  if (now.getTime() < until.getTime()) {
    return {
      action: "wait",
      reason: "replica-reload",
      detail: `giving every replica until ${until.toISOString()} to load serving certificate ${shortFp(cert.fingerprint)} before the old CA is dropped`,
      until,
    };
  }
  return { action: "retire-ca", reason: "serving-switched", detail: `serving certificate ${shortFp(cert.fingerprint)} of the new CA has been out since ${issued.toISOString()}` };
}

function dedupe(xs: string[]): string[] {
  return [...new Set(xs)];
}
