/**
 * Convergence: read both Secrets, ask the pure planner (certs/rotation.ts) for the next step,
 * take it with a resourceVersion precondition, and repeat until the planner says wait or
 * idle. Any number of replicas may run this at once against the same Secrets: a write that
 * loses a race comes back as a conflict and the loop simply reads again, so they all end on
 * the one certificate that won, and none overwrites a certificate another one just wrote.
 *
 * Only I/O through the SecretStore interface; issuance and the clock are injectable.
 */
import { X509Certificate } from "node:crypto";
import { ISSUED_AT_ANNOTATION, ROTATED_ANNOTATION } from "../config/names.js";
import { issueCertificateAuthority, issueServingCertificate, type PemKeyPair } from "./authority.js";
import type { SecretContent, SecretStore, WriteOutcome } from "./secret-store.js";
import {
  CA_KEYS,
  SERVING_KEYS,
  bundlePem,
  issuerFingerprint,
  readCASecret,
  readServingSecret,
  type CAState,
  type ParsedCertificate,
  type SecretRecord,
  type ServingState,
} from "./secret-layout.js";
import { bundlesTrust, holdingSince, planRotation, type ObservedBundle, type RotationInput, type RotationPlan, type RotationPolicy, type RotationStep } from "./rotation.js";

/** A write the loop made, for logs, Events and metrics. */
export interface PerformedStep {
  step: Exclude<RotationStep, { action: "wait" } | { action: "idle" }>;
  /** Which certificate the step concerns. */
  cert: "ca" | "serving";
  /** The Secret as written. */
  secret: SecretRecord;
  /** Fingerprints of the certificate replaced and of the new one (signing CA or serving certificate), where they apply. */
  before?: string | undefined;
  after?: string | undefined;
}

export interface ConvergeOptions {
  store: SecretStore;
  secretName: string;
  caSecretName: string;
  policy: RotationPolicy;
  caValidityDays: number;
  validityDays: number;
  /** Common name of serving certificates (clients match SANs; the CN is for humans). */
  servingCommonName: string;
  now: () => Date;
  /** Every managed webhook's caBundle as currently observed; undefined while not observed yet. */
  webhookBundles: () => ObservedBundle[] | undefined;
  /** Remembers since when every caBundle has trusted a CA; one per manager, see {@link trustTracker}. */
  trustSince: (fingerprint: string, holds: boolean, now: Date) => Date | undefined;
  issueCA?: ((now: Date) => PemKeyPair) | undefined;
  issueServing?: ((ca: PemKeyPair, now: Date) => PemKeyPair) | undefined;
  /** Bound on writes and conflicts in one call. Default 12: a full bootstrap takes 2, a rollover step 1-2. */
  maxSteps?: number | undefined;
}

/** Both Secrets as last read, decoded. */
export interface CertificateSnapshot {
  caSecret: SecretRecord | undefined;
  servingSecret: SecretRecord | undefined;
  ca: CAState | undefined;
  serving: ServingState | undefined;
  /** The CAs clients must trust, in the planner's order. */
  trusted: ParsedCertificate[];
  plan: RotationPlan;
}

export type ConvergeResult =
  | ({ ok: true; performed: PerformedStep[]; conflicts: number } & CertificateSnapshot)
  | { ok: false; reason: "namespace-missing" | "no-progress"; message: string; performed: PerformedStep[]; conflicts: number; snapshot?: CertificateSnapshot | undefined };

/**
 * A memory of "since when has every caBundle trusted CA X" across calls: reset when the CA
 * changes or the condition stops holding.
 */
export function trustTracker(): (fingerprint: string, holds: boolean, now: Date) => Date | undefined {
  let tracked: string | undefined;
  let since: Date | undefined;
  return (fingerprint, holds, now) => {
    if (fingerprint !== tracked) {
      tracked = fingerprint;
      since = undefined;
    }
    since = holdingSince(since, holds, now);
    return since;
  };
}

/** Reads both Secrets and plans; no writes. */
export async function readSnapshot(opts: ConvergeOptions): Promise<CertificateSnapshot> {
  const [caSecret, servingSecret] = await Promise.all([opts.store.get(opts.caSecretName), opts.store.get(opts.secretName)]);
  const ca = caSecret ? readCASecret(caSecret) : undefined;
  const serving = servingSecret ? readServingSecret(servingSecret) : undefined;
  const now = opts.now();
  const knownCAs = dedupeCerts([ca?.active, ca?.next, ...(ca?.previous ?? []), ...(serving?.caBundle ?? [])]);
  const bundles = opts.webhookBundles();
  const next = ca?.next;
  const input: RotationInput = {
    now,
    policy: opts.policy,
    ca: ca && {
      active: ca.active,
      next: ca.next,
      previous: ca.previous,
      rotateRequested: ca.rotateToken !== undefined && ca.rotateToken !== ca.rotatedToken,
    },
    serving: serving && {
      cert: serving.cert && {
        fingerprint: serving.cert.fingerprint,
        notBefore: serving.cert.notBefore,
        notAfter: serving.cert.notAfter,
        issuer: issuerFingerprint(serving.cert, knownCAs),
        dnsNames: serving.cert.description.dnsNames,
        ipAddresses: serving.cert.description.ipAddresses,
      },
      caBundle: serving.caBundle.map((c) => c.fingerprint),
      issuedAt: serving.issuedAt,
      rotateRequested: serving.rotateToken !== undefined && serving.rotateToken !== serving.rotatedToken,
    },
    webhookBundles: bundles,
    bundlesTrustNextSince: next ? opts.trustSince(next.fingerprint, bundles !== undefined && bundlesTrust(bundles, next.fingerprint), now) : undefined,
  };
  const plan = planRotation(input);
  const byFingerprint = new Map(knownCAs.map((c) => [c.fingerprint, c]));
  const trusted = plan.trusted.map((fp) => byFingerprint.get(fp)).filter((c): c is ParsedCertificate => c !== undefined);
  return { caSecret, servingSecret, ca, serving, trusted, plan };
}

/**
 * Runs read → plan → write until the plan is to wait or idle (ok), the namespace is missing,
 * or `maxSteps` writes and conflicts passed without getting there (no-progress: something
 * else keeps changing the Secrets). Throws only for I/O errors other than those outcomes.
 */
export async function convergeCertificates(opts: ConvergeOptions): Promise<ConvergeResult> {
  const maxSteps = opts.maxSteps ?? 12;
  const performed: PerformedStep[] = [];
  let conflicts = 0;
  let snapshot: CertificateSnapshot | undefined;
  for (let i = 0; i < maxSteps; i++) {
    snapshot = await readSnapshot(opts);
    const step = snapshot.plan.step;
    if (step.action === "wait" || step.action === "idle") return { ok: true, performed, conflicts, ...snapshot };
    const { outcome, cert, before, after } = await execute(opts, snapshot, step);
    if (outcome.outcome === "namespace-missing") return { ok: false, reason: "namespace-missing", message: outcome.message, performed, conflicts, snapshot };
    if (outcome.outcome === "conflict") {
      conflicts++;
      continue;
    }
    performed.push({ step, cert, secret: outcome.secret, before, after });
  }
  return {
    ok: false,
    reason: "no-progress",
    message: `certificates did not settle within ${maxSteps} steps (${performed.length} writes, ${conflicts} conflicts); last planned step: ${snapshot?.plan.step.action} (${snapshot?.plan.step.detail})`,
    performed,
    conflicts,
    snapshot,
  };
}

interface Executed {
  outcome: WriteOutcome;
  cert: "ca" | "serving";
  before?: string | undefined;
  after?: string | undefined;
}

/** What each step needs: the snapshot it was planned on, and the writers and issuers. */
interface StepContext {
  snap: CertificateSnapshot;
  now: Date;
  issueCA: (now: Date) => PemKeyPair;
  issueServing: (ca: PemKeyPair, now: Date) => PemKeyPair;
  /** Writes the CA Secret: an update of the one read, or a create if there was none. */
  writeCA: (data: Record<string, string>, annotations?: Record<string, string>) => Promise<WriteOutcome>;
  writeServing: (content: SecretContent) => Promise<WriteOutcome>;
}

type StepOf<A extends PerformedStep["step"]["action"]> = Extract<PerformedStep["step"], { action: A }>;

async function execute(opts: ConvergeOptions, snap: CertificateSnapshot, step: PerformedStep["step"]): Promise<Executed> {
  const ctx: StepContext = {
    snap,
    now: opts.now(),
    issueCA: opts.issueCA ?? ((at) => issueCertificateAuthority({ now: at, validityDays: opts.caValidityDays, commonName: caCommonName(at) })),
    issueServing:
      opts.issueServing ??
      ((ca, at) =>
        issueServingCertificate({
          ca,
          now: at,
          dnsNames: opts.policy.dnsNames,
          ipAddresses: opts.policy.ipAddresses,
          commonName: opts.servingCommonName,
          validityDays: opts.validityDays,
        })),
    writeCA: (data, annotations = {}) =>
      snap.caSecret ? opts.store.update(snap.caSecret, { data, annotations }) : opts.store.create(opts.caSecretName, "Opaque", { data, annotations }),
    writeServing: (content) => (snap.servingSecret ? opts.store.update(snap.servingSecret, content) : opts.store.create(opts.secretName, "kubernetes.io/tls", content)),
  };
  switch (step.action) {
    case "create-ca":
      return createCA(ctx);
    case "introduce-ca":
      return introduceCA(ctx, step);
    case "promote-ca":
      return promoteCA(ctx);
    case "retire-ca":
      return retireCA(ctx);
    case "issue-serving":
      return issueServing(ctx);
    case "sync-serving-ca":
      return syncServingCA(ctx);
  }
}

async function createCA({ snap, now, issueCA, writeCA }: StepContext): Promise<Executed> {
  const created = issueCA(now);
  const outcome = await writeCA({ [CA_KEYS.cert]: created.certPem, [CA_KEYS.key]: created.keyPem }, rotatedAnnotation(snap.ca));
  return { outcome, cert: "ca", before: snap.ca?.active?.fingerprint, after: fingerprintOf(created.certPem) };
}

async function introduceCA({ snap, now, issueCA, writeCA }: StepContext, step: StepOf<"introduce-ca">): Promise<Executed> {
  const ca = snap.ca;
  const created = issueCA(now);
  const data = { ...snap.caSecret?.data };
  // A signing CA that cannot be used (unreadable, expired, key lost) is not carried over.
  if (!ca?.active) {
    delete data[CA_KEYS.cert];
    delete data[CA_KEYS.key];
  }
  data[CA_KEYS.nextCert] = created.certPem;
  data[CA_KEYS.nextKey] = created.keyPem;
  const keep = dedupeCerts([...(ca?.previous ?? []), ...(snap.serving?.caBundle ?? []).filter((c) => step.trustAlso.includes(c.fingerprint))]);
  if (keep.length > 0) data[CA_KEYS.previous] = bundlePem(keep);
  const outcome = await writeCA(data, step.reason === "rotation-requested" ? rotatedAnnotation(ca) : {});
  return { outcome, cert: "ca", before: ca?.active?.fingerprint, after: fingerprintOf(created.certPem) };
}

async function promoteCA({ snap, writeCA }: StepContext): Promise<Executed> {
  const ca = snap.ca;
  const next = ca?.next;
  if (!next) throw new Error("promote-ca planned without a next CA (planner bug)");
  const data: Record<string, string> = { ...snap.caSecret?.data, [CA_KEYS.cert]: next.pem, [CA_KEYS.key]: next.keyPem };
  delete data[CA_KEYS.nextCert];
  delete data[CA_KEYS.nextKey];
  const previous = dedupeCerts([ca.active, ...ca.previous]);
  if (previous.length > 0) data[CA_KEYS.previous] = bundlePem(previous);
  return { outcome: await writeCA(data), cert: "ca", before: ca.active?.fingerprint, after: next.fingerprint };
}

async function retireCA({ snap, writeCA }: StepContext): Promise<Executed> {
  const data = { ...snap.caSecret?.data };
  delete data[CA_KEYS.previous];
  const fp = snap.ca?.active?.fingerprint;
  return { outcome: await writeCA(data), cert: "ca", before: fp, after: fp };
}

async function issueServing({ snap, now, issueServing: issue, writeServing }: StepContext): Promise<Executed> {
  const signing = snap.ca?.active;
  if (!signing) throw new Error("issue-serving planned without a signing CA (planner bug)");
  const issued = issue({ certPem: signing.pem, keyPem: signing.keyPem }, now);
  const annotations: Record<string, string> = { [ISSUED_AT_ANNOTATION]: now.toISOString(), ...rotatedAnnotation(snap.serving) };
  const data = { ...snap.servingSecret?.data, [SERVING_KEYS.cert]: issued.certPem, [SERVING_KEYS.key]: issued.keyPem, [SERVING_KEYS.ca]: bundlePem(snap.trusted) };
  const outcome = await writeServing({ data, annotations });
  return { outcome, cert: "serving", before: snap.serving?.cert?.fingerprint, after: fingerprintOf(issued.certPem) };
}

async function syncServingCA({ snap, writeServing }: StepContext): Promise<Executed> {
  const data = { ...snap.servingSecret?.data, [SERVING_KEYS.ca]: bundlePem(snap.trusted) };
  const fp = snap.serving?.cert?.fingerprint;
  return { outcome: await writeServing({ data }), cert: "serving", before: fp, after: fp };
}

/**
 * The common name of each CA convergence issues, `pod-dns-injector-ca-<unix seconds>`
 * (issueCertificateAuthority's default as well): tells an old and a new CA apart during a
 * rollover. Letters, digits and dashes only, so it stays valid even where a tool encodes it
 * as a PrintableString (Go's x509, reading a caBundle, rejects an "@" in one).
 */
export function caCommonName(at: Date): string {
  return `pod-dns-injector-ca-${Math.floor(at.getTime() / 1000)}`;
}

/** Marks a pending `rotate` token as handled. */
function rotatedAnnotation(state: { rotateToken?: string | undefined } | undefined): Record<string, string> {
  return state?.rotateToken !== undefined ? { [ROTATED_ANNOTATION]: state.rotateToken } : {};
}

function fingerprintOf(pem: string): string {
  return new X509Certificate(pem).fingerprint256;
}

function dedupeCerts(certs: readonly (ParsedCertificate | undefined)[]): ParsedCertificate[] {
  const out: ParsedCertificate[] = [];
  for (const c of certs) if (c && !out.some((o) => o.fingerprint === c.fingerprint)) out.push(c);
  return out;
}
