/**
 * What the two certificate Secrets hold, and reading them into facts the pure rotation
 * planner decides on. Pure: Secret contents in, parsed values out (parsing uses
 * node:crypto's X509Certificate, deterministic and local).
 *
 * Layout (both Secrets in the injector's namespace):
 *
 * - serving Secret (`certificates.secretName`, type `kubernetes.io/tls`, what the webhook
 *   mounts or reads): `tls.crt`, `tls.key` = the serving certificate and its key; `ca.crt` =
 *   every CA the webhook's clients must trust (the same set as every caBundle).
 * - CA Secret (`certificates.caSecretName`, type Opaque, readable by the injector only):
 *   `tls.crt`, `tls.key` = the CA that signs serving certificates; during a rollover also
 *   `next.crt`, `next.key` = the new CA, already trusted, not signing yet; and
 *   `previous.crt` = retired CA(s), still trusted until every replica serves a certificate
 *   of the new CA. Opaque rather than `kubernetes.io/tls`: while a lost CA key is being
 *   replaced the Secret briefly has no `tls.crt`/`tls.key`, which the tls type forbids.
 *
 * Annotations (on either Secret):
 * - `pod-dns-injector.io/rotate: <token>`: a request to rotate now: on the serving Secret,
 *   a new serving certificate; on the CA Secret, a CA rollover. Any new token (a timestamp
 *   does) triggers one rotation, e.g.
 *   `kubectl -n pod-dns-injector annotate secret pod-dns-injector-ca pod-dns-injector.io/rotate="$(date +%s)" --overwrite`.
 * - `pod-dns-injector.io/rotated: <token>`: written by the injector once it acted on that token.
 * - `pod-dns-injector.io/issued-at` (serving Secret): when the injector wrote the current
 *   serving certificate (RFC 3339), from which the rollover's grace period is measured.
 */
import { X509Certificate, createPrivateKey } from "node:crypto";
import { APP_COMPONENT_LABEL, APP_NAME_LABEL, ISSUED_AT_ANNOTATION, MANAGED_BY_LABEL, PRODUCT, ROTATED_ANNOTATION, ROTATE_ANNOTATION } from "../config/names.js";
import { describeCertificate, splitCertificateBundle, type CertificateDescription } from "./inspect.js";

/** Data keys of the serving Secret (the `kubernetes.io/tls` convention, plus `ca.crt`). */
export const SERVING_KEYS = { cert: "tls.crt", key: "tls.key", ca: "ca.crt" } as const;
/** Data keys of the CA Secret. */
export const CA_KEYS = { cert: "tls.crt", key: "tls.key", nextCert: "next.crt", nextKey: "next.key", previous: "previous.crt" } as const;

/** Labels on the Secrets we create, so `kubectl get secret -l` finds them. */
export const SECRET_LABELS: Readonly<Record<string, string>> = {
  [APP_NAME_LABEL]: PRODUCT,
  [APP_COMPONENT_LABEL]: "webhook-certificates",
  [MANAGED_BY_LABEL]: PRODUCT,
};

/** A Secret as the store returns it: data decoded to text (all our values are PEM). */
export interface SecretRecord {
  name: string;
  namespace: string;
  resourceVersion: string;
  uid?: string | undefined;
  data: Record<string, string>;
  annotations: Record<string, string>;
}

/** One parsed certificate. */
export interface ParsedCertificate {
  pem: string;
  /** SHA-256 fingerprint, colon-separated uppercase hex. */
  fingerprint: string;
  notBefore: Date;
  notAfter: Date;
  description: CertificateDescription;
  x509: X509Certificate;
}

/** A certificate whose private key was checked to belong to it. */
export interface ParsedKeyPair extends ParsedCertificate {
  keyPem: string;
}

/** The CA Secret, read. `problems` lists what could not be used, for logs. */
export interface CAState {
  active?: ParsedKeyPair | undefined;
  next?: ParsedKeyPair | undefined;
  previous: ParsedCertificate[];
  rotateToken?: string | undefined;
  rotatedToken?: string | undefined;
  problems: string[];
}

/** The serving Secret, read. */
export interface ServingState {
  cert?: ParsedKeyPair | undefined;
  caBundle: ParsedCertificate[];
  issuedAt?: Date | undefined;
  rotateToken?: string | undefined;
  rotatedToken?: string | undefined;
  problems: string[];
}

/** Parses one PEM certificate; a value describing the problem instead of throwing. */
export function parseCertificate(pem: string): { ok: true; value: ParsedCertificate } | { ok: false; problem: string } {
  try {
    const description = describeCertificate(pem);
    const x509 = new X509Certificate(pem);
    return {
      ok: true,
      value: { pem: x509.toString(), fingerprint: description.fingerprintSha256, notBefore: description.notBefore, notAfter: description.notAfter, description, x509 },
    };
  } catch (err) {
    return { ok: false, problem: messageOf(err) };
  }
}

/** Every certificate of a PEM bundle; unparseable blocks are reported, not fatal. */
export function parseBundle(pem: string | undefined): { certs: ParsedCertificate[]; problems: string[] } {
  const certs: ParsedCertificate[] = [];
  const problems: string[] = [];
  for (const [i, block] of splitCertificateBundle(pem ?? "").entries()) {
    const r = parseCertificate(block);
    if (r.ok) certs.push(r.value);
    else problems.push(`certificate ${i + 1}: ${r.problem}`);
  }
  return { certs, problems };
}

/**
 * Parses a certificate and its private key and checks that they belong together, the check
 * that matters while a file or Secret is half-updated (a new key beside an old certificate).
 */
export function parseKeyPair(certPem: string | undefined, keyPem: string | undefined): { ok: true; value: ParsedKeyPair } | { ok: false; problem: string } {
  if (!certPem) return { ok: false, problem: "no certificate" };
  if (!keyPem) return { ok: false, problem: "no private key" };
  const cert = parseCertificate(certPem);
  if (!cert.ok) return cert;
  try {
    if (!cert.value.x509.checkPrivateKey(createPrivateKey(keyPem))) {
      return { ok: false, problem: `the private key does not belong to certificate ${cert.value.fingerprint}` };
    }
  } catch (err) {
    return { ok: false, problem: `unreadable private key: ${messageOf(err)}` };
  }
  return { ok: true, value: { ...cert.value, keyPem } };
}

/** Reads the CA Secret's data and annotations. */
export function readCASecret(secret: Pick<SecretRecord, "data" | "annotations">): CAState {
  const problems: string[] = [];
  const pair = (label: string, certKey: string, keyKey: string): ParsedKeyPair | undefined => {
    if (secret.data[certKey] === undefined && secret.data[keyKey] === undefined) return undefined;
    const r = parseKeyPair(secret.data[certKey], secret.data[keyKey]);
    if (r.ok) return r.value;
    problems.push(`${label} (${certKey}, ${keyKey}): ${r.problem}`);
    return undefined;
  };
  const active = pair("CA", CA_KEYS.cert, CA_KEYS.key);
  const next = pair("next CA", CA_KEYS.nextCert, CA_KEYS.nextKey);
  const previous = parseBundle(secret.data[CA_KEYS.previous]);
  problems.push(...previous.problems.map((p) => `previous CA (${CA_KEYS.previous}): ${p}`));
  return { active, next, previous: previous.certs, rotateToken: secret.annotations[ROTATE_ANNOTATION], rotatedToken: secret.annotations[ROTATED_ANNOTATION], problems };
}

/** Reads the serving Secret's data and annotations. */
export function readServingSecret(secret: Pick<SecretRecord, "data" | "annotations">): ServingState {
  const problems: string[] = [];
  let cert: ParsedKeyPair | undefined;
  const r = parseKeyPair(secret.data[SERVING_KEYS.cert], secret.data[SERVING_KEYS.key]);
  if (r.ok) cert = r.value;
  else problems.push(`serving certificate (${SERVING_KEYS.cert}, ${SERVING_KEYS.key}): ${r.problem}`);
  const bundle = parseBundle(secret.data[SERVING_KEYS.ca]);
  problems.push(...bundle.problems.map((p) => `${SERVING_KEYS.ca}: ${p}`));
  const issuedAtText = secret.annotations[ISSUED_AT_ANNOTATION];
  const issuedAt = issuedAtText === undefined ? undefined : new Date(issuedAtText);
  return {
    cert,
    caBundle: bundle.certs,
    issuedAt: issuedAt && !Number.isNaN(issuedAt.getTime()) ? issuedAt : undefined,
    rotateToken: secret.annotations[ROTATE_ANNOTATION],
    rotatedToken: secret.annotations[ROTATED_ANNOTATION],
    problems,
  };
}

/**
 * The CAs clients must trust, in a stable order (signing CA, next, previous), without
 * duplicates: the content of `ca.crt` and of every caBundle.
 */
export function trustedCertificates(ca: Pick<CAState, "active" | "next" | "previous">): ParsedCertificate[] {
  const out: ParsedCertificate[] = [];
  for (const c of [ca.active, ca.next, ...ca.previous]) if (c && !out.some((o) => o.fingerprint === c.fingerprint)) out.push(c);
  return out;
}

/** PEM bundle text of `certs` (one block per certificate, newline-terminated). */
export function bundlePem(certs: readonly { pem: string }[]): string {
  return certs.map((c) => (c.pem.endsWith("\n") ? c.pem : `${c.pem}\n`)).join("");
}

/**
 * The fingerprint of the CA among `cas` that signed `cert` (issuer name matches and the
 * signature verifies with its key), else undefined.
 */
export function issuerFingerprint(cert: ParsedCertificate, cas: readonly ParsedCertificate[]): string | undefined {
  for (const ca of cas) {
    try {
      if (cert.x509.checkIssued(ca.x509) && cert.x509.verify(ca.x509.publicKey)) return ca.fingerprint;
    } catch {
      // An unusable candidate key: not the issuer.
    }
  }
  return undefined;
}

/** A short, log-friendly name for a certificate: its CN (or subject) and fingerprint prefix. */
export function certificateLabel(cert: ParsedCertificate): string {
  return `${cert.description.subject} (SHA-256 ${cert.fingerprint.slice(0, 23)}…)`;
}

function messageOf(err: unknown): string {
  if (err instanceof Error) {
    const cause = err.cause instanceof Error ? `: ${err.cause.message}` : "";
    return `${err.message}${cause}`;
  }
  return String(err);
}
