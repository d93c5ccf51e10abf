/**
 * Issuance of the webhook's certificate authority and serving certificate with node-forge.
 *
 * Pure apart from randomness: the clock is a parameter, nothing here touches the disk, the
 * network or the environment. Key pairs come from Node's native `crypto.generateKeyPairSync`
 * (OpenSSL, a few tens of milliseconds for RSA-2048); node-forge only builds and signs the
 * certificate. We do not call `forge.pki.rsa.generateKeyPair`: it silently falls back to its
 * pure-JavaScript prime search (seconds per key, blocking the event loop) whenever its
 * native-crypto feature detection fails, and start-up must never take that path.
 *
 * Profile follows what the API server requires of a webhook's TLS and what cert-manager's
 * dynamic authority produces: https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#contacting-the-webhook
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import { isIP } from "node:net";
import forge from "node-forge";
import { DEFAULT_CA_VALIDITY_DAYS, DEFAULT_SERVING_VALIDITY_DAYS } from "../config/certificate-defaults.js";
import { isCertificateDNSName } from "../config/dns-limits.js";

/** A certificate and its private key, both PEM (the key unencrypted PKCS#8). */
export interface PemKeyPair {
  certPem: string;
  keyPem: string;
}

export { DEFAULT_CA_VALIDITY_DAYS, DEFAULT_SERVING_VALIDITY_DAYS };
/** RSA modulus size; 2048 is the floor every current TLS stack and the CA/B Forum accept. */
export const DEFAULT_KEY_BITS = 2048;
export const MIN_KEY_BITS = 2048;

/**
 * How far notBefore is set before `now`. A certificate issued by one replica is used at once
 * by the API server and by other nodes whose clocks may run behind ours; without backdating
 * they would reject it as "not yet valid" for the length of the skew. One hour covers any
 * sane NTP drift (cert-manager and kubeadm backdate similarly).
 */
export const CLOCK_SKEW_ALLOWANCE_MS = 60 * 60 * 1000;

const DAY_MS = 24 * 60 * 60 * 1000;
const SERIAL_BYTES = 16;

/**
 * The CN as a UTF8String. forge defaults to PrintableString, which cannot hold characters
 * such as "@" or "_"; Go's x509 parser (the API server reading caBundle) then rejects the
 * whole certificate with "invalid PrintableString". RFC 5280 prefers UTF8String anyway.
 */
function commonNameAttribute(value: string): { shortName: string; value: string; valueTagClass: number } {
  return { shortName: "CN", value, valueTagClass: forge.asn1.Type.UTF8 };
}

/**
 * Issues a self-signed certificate authority for the webhook.
 *
 * Contract: RSA key of `keyBits` (default 2048, at least 2048), SHA-256 signature,
 * `basicConstraints` CA:TRUE pathLen:0 (critical: it may sign serving certificates only),
 * `keyUsage` keyCertSign + cRLSign (critical), a subject key identifier, a random positive
 * 128-bit serial. Validity: `now` − 1 hour (clock skew) until `now` + `validityDays`
 * (default 3650, fractional days allowed), both truncated to whole seconds as X.509 stores
 * them. The default common name is `pod-dns-injector-ca-<unix seconds>` (the kubeadm /
 * client-go convention), so an old and a new CA are told apart during a rollover.
 *
 * @throws RangeError for invalid arguments (non-positive validity, `keyBits` < 2048,
 *   an invalid `now`): these are caller bugs, the CLI validates user input first.
 */
export function issueCertificateAuthority(opts: { commonName?: string | undefined; validityDays?: number; now: Date; keyBits?: number }): PemKeyPair {
  const now = checkDate(opts.now, "now");
  const validityDays = checkValidityDays(opts.validityDays ?? DEFAULT_CA_VALIDITY_DAYS);
  const keys = generateRsaKeyPair(opts.keyBits ?? DEFAULT_KEY_BITS);
  const commonName = opts.commonName ?? `pod-dns-injector-ca-${Math.floor(now.getTime() / 1000)}`;

  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = truncateToSeconds(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS);
  cert.validity.notAfter = truncateToSeconds(now.getTime() + validityDays * DAY_MS);
  const name = [commonNameAttribute(commonName)];
  cert.setSubject(name);
  cert.setIssuer(name);
  cert.setExtensions([
    { name: "basicConstraints", cA: true, pathLenConstraint: 0, critical: true },
    { name: "keyUsage", keyCertSign: true, cRLSign: true, critical: true },
    { name: "subjectKeyIdentifier" },
  ]);
  cert.sign(keys.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
}

/**
 * Issues a TLS serving certificate for the webhook, signed by `ca`.
 *
 * Contract: subjectAltName with every `dnsNames` entry (in order) and every `ipAddresses`
 * entry (IPv4 or IPv6); `extKeyUsage` serverAuth; `keyUsage` digitalSignature +
 * keyEncipherment (critical); `basicConstraints` CA:FALSE; authority key identifier equal to
 * the CA's subject key identifier (computed from the CA key if the CA lacks the extension);
 * a subject key identifier; a random positive 128-bit serial; SHA-256. Common name defaults
 * to the first DNS name (else the first IP); clients match SANs, the CN is for humans.
 * Validity: `now` − 1 hour until `now` + `validityDays` (default 365, fractional allowed),
 * clamped into the CA's own validity, since a leaf outliving its CA would only fail later
 * with a less obvious error.
 *
 * The CA must be an RSA CA (node-forge signs with RSA only), e.g. one from
 * `issueCertificateAuthority`.
 *
 * @throws RangeError for invalid arguments (no names, an invalid DNS name or IP, bad
 *   validity or key size) and Error when `ca` is unusable (key does not match the
 *   certificate, not a CA, already expired at `now`): all caller bugs, never expected.
 */
export function issueServingCertificate(opts: {
  ca: PemKeyPair;
  dnsNames: string[];
  ipAddresses?: string[];
  commonName?: string | undefined;
  validityDays?: number;
  now: Date;
  keyBits?: number;
}): PemKeyPair {
  const now = checkDate(opts.now, "now");
  const validityDays = checkValidityDays(opts.validityDays ?? DEFAULT_SERVING_VALIDITY_DAYS);
  const dnsNames = opts.dnsNames.map(checkDNSName);
  const ipAddresses = (opts.ipAddresses ?? []).map(checkIP);
  const commonName = opts.commonName ?? dnsNames[0] ?? ipAddresses[0];
  if (commonName === undefined) {
    throw new RangeError("issueServingCertificate: at least one DNS name or IP address is required");
  }
  const ca = loadCertificateAuthority(opts.ca);
  const caNotBefore = ca.cert.validity.notBefore.getTime();
  const caNotAfter = ca.cert.validity.notAfter.getTime();
  if (now.getTime() >= caNotAfter) {
    throw new Error(
      `issueServingCertificate: CA "${commonNameOf(ca.cert)}" expired at ` + `${ca.cert.validity.notAfter.toISOString()} (now ${now.toISOString()}); roll the CA over first`,
    );
  }

  const keys = generateRsaKeyPair(opts.keyBits ?? DEFAULT_KEY_BITS);
  const cert = forge.pki.createCertificate();
  cert.publicKey = keys.publicKey;
  cert.serialNumber = randomSerialHex();
  cert.validity.notBefore = truncateToSeconds(Math.max(now.getTime() - CLOCK_SKEW_ALLOWANCE_MS, caNotBefore));
  cert.validity.notAfter = truncateToSeconds(Math.min(now.getTime() + validityDays * DAY_MS, caNotAfter));
  cert.setSubject([commonNameAttribute(commonName)]);
  cert.setIssuer(ca.cert.subject.attributes);
  cert.setExtensions([
    { name: "basicConstraints", cA: false },
    { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
    { name: "extKeyUsage", serverAuth: true },
    {
      name: "subjectAltName",
      altNames: [
        // GeneralName tags from RFC 5280 §4.2.1.6: 2 = dNSName, 7 = iPAddress.
        ...dnsNames.map((value) => ({ type: 2, value })),
        ...ipAddresses.map((ip) => ({ type: 7, ip })),
      ],
    },
    { name: "subjectKeyIdentifier" },
    { name: "authorityKeyIdentifier", keyIdentifier: ca.subjectKeyIdentifier },
  ]);
  cert.sign(ca.privateKey, forge.md.sha256.create());
  return { certPem: forge.pki.certificateToPem(cert), keyPem: keys.privateKeyPem };
}

/**
 * The DNS names under which the API server can reach `service` in `namespace`, shortest
 * first: `svc`, `svc.ns`, `svc.ns.svc`, `svc.ns.svc.<clusterDomain>`. The API server dials
 * `<svc>.<ns>.svc`; the others cover in-cluster clients and tools. A trailing dot on the
 * cluster domain is dropped (SANs never carry one).
 */
export function serviceDNSNames(service: string, namespace: string, clusterDomain: string): string[] {
  const domain = clusterDomain.endsWith(".") ? clusterDomain.slice(0, -1) : clusterDomain;
  return [service, `${service}.${namespace}`, `${service}.${namespace}.svc`, `${service}.${namespace}.svc.${domain}`];
}

interface LoadedAuthority {
  cert: forge.pki.Certificate;
  privateKey: forge.pki.rsa.PrivateKey;
  /** Raw bytes (forge binary string) of the CA's subject key identifier. */
  subjectKeyIdentifier: string;
}

function loadCertificateAuthority(ca: PemKeyPair): LoadedAuthority {
  let cert: forge.pki.Certificate;
  let privateKey: forge.pki.rsa.PrivateKey;
  try {
    cert = forge.pki.certificateFromPem(ca.certPem);
    privateKey = forge.pki.privateKeyFromPem(ca.keyPem);
  } catch (cause) {
    throw new Error("issueServingCertificate: cannot parse the CA certificate or key (RSA PEM expected)", { cause });
  }
  const publicKey = cert.publicKey as forge.pki.rsa.PublicKey;
  if (!publicKey.n.equals(privateKey.n) || !publicKey.e.equals(privateKey.e)) {
    throw new Error(`issueServingCertificate: the CA key does not belong to CA "${commonNameOf(cert)}"`);
  }
  const basicConstraints: { cA?: boolean } | undefined = cert.getExtension("basicConstraints");
  if (basicConstraints?.cA !== true) {
    throw new Error(`issueServingCertificate: "${commonNameOf(cert)}" is not a CA certificate`);
  }
  // forge exposes a parsed SKI as hex; chain building matches AKI against exactly these bytes.
  const ski: { subjectKeyIdentifier?: string } | undefined = cert.getExtension("subjectKeyIdentifier");
  const subjectKeyIdentifier = ski?.subjectKeyIdentifier !== undefined ? forge.util.hexToBytes(ski.subjectKeyIdentifier) : cert.generateSubjectKeyIdentifier().getBytes();
  return { cert, privateKey, subjectKeyIdentifier };
}

function commonNameOf(cert: forge.pki.Certificate): string {
  const cn = cert.subject.getField("CN") as { value?: unknown } | null;
  return typeof cn?.value === "string" ? cn.value : "(no CN)";
}

interface GeneratedKeyPair {
  privateKey: forge.pki.rsa.PrivateKey;
  publicKey: forge.pki.rsa.PublicKey;
  privateKeyPem: string;
}

/** Native (OpenSSL) key generation, converted for forge; see the module comment for why. */
function generateRsaKeyPair(bits: number): GeneratedKeyPair {
  if (!Number.isSafeInteger(bits) || bits < MIN_KEY_BITS) {
    throw new RangeError(`keyBits must be an integer of at least ${MIN_KEY_BITS}, got ${bits}`);
  }
  const { privateKey: privateKeyPem } = generateKeyPairSync("rsa", {
    modulusLength: bits,
    publicExponent: 0x10001,
    privateKeyEncoding: { type: "pkcs8", format: "pem" },
    publicKeyEncoding: { type: "spki", format: "pem" },
  });
  const privateKey = forge.pki.privateKeyFromPem(privateKeyPem);
  const publicKey = forge.pki.setRsaPublicKey(privateKey.n, privateKey.e);
  return { privateKey, publicKey, privateKeyPem };
}

/**
 * 16 random bytes as a positive DER INTEGER: the high bit of the first byte is cleared (a set
 * bit would make it negative, which RFC 5280 §4.1.2.2 forbids) and the first byte is non-zero
 * (a leading zero byte would be a non-minimal encoding, and the serial would no longer be 16
 * bytes). 127 bits of randomness, as cert-manager's 128-bit serials minus the sign bit.
 */
function randomSerialHex(): string {
  for (;;) {
    const bytes = randomBytes(SERIAL_BYTES);
    bytes[0] = (bytes[0] ?? 0) & 0x7f;
    if (bytes[0] !== 0) return bytes.toString("hex");
  }
}

function truncateToSeconds(ms: number): Date {
  return new Date(Math.floor(ms / 1000) * 1000);
}

function checkDate(d: Date, what: string): Date {
  if (!(d instanceof Date) || Number.isNaN(d.getTime())) {
    throw new RangeError(`${what} must be a valid Date, got ${String(d)}`);
  }
  return d;
}

function checkValidityDays(days: number): number {
  if (!Number.isFinite(days) || days <= 0) {
    throw new RangeError(`validityDays must be a positive number of days, got ${days}`);
  }
  return days;
}

// Lowercase DNS-1123 labels, optionally a leading "*." wildcard; what a SAN for a Service holds.
function checkDNSName(name: string): string {
  if (!isCertificateDNSName(name)) {
    throw new RangeError(`invalid DNS name for a certificate: ${JSON.stringify(name)}`);
  }
  return name;
}

function checkIP(ip: string): string {
  if (isIP(ip) === 0) throw new RangeError(`invalid IP address for a certificate: ${JSON.stringify(ip)}`);
  return ip;
}
