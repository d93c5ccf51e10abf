/**
 * Read-only description of X.509 certificates for logs, `certs inspect` and tests.
 *
 * node:crypto's `X509Certificate` (OpenSSL) supplies what it exposes: names, serial,
 * validity, CA flag, fingerprint, public key. The extensions it does not expose (keyUsage,
 * key identifiers, path length) and the SANs (whose string form Node quotes and escapes) are
 * read from the DER with node-forge's generic ASN.1 parser. We never use forge's certificate
 * parser here: it rejects non-RSA keys, and in external mode the certificate may come from
 * cert-manager with an ECDSA key.
 */
import { X509Certificate } from "node:crypto";
import forge from "node-forge";

/** RFC 5280 §4.2.1.3 keyUsage bits, in bit order (bit 0 = digitalSignature). */
export const KEY_USAGE_NAMES = [
  "digitalSignature",
  "nonRepudiation",
  "keyEncipherment",
  "dataEncipherment",
  "keyAgreement",
  "keyCertSign",
  "cRLSign",
  "encipherOnly",
  "decipherOnly",
] as const;
export type KeyUsageName = (typeof KEY_USAGE_NAMES)[number];

/** RFC 5280 §4.2.1.12 extended key usages by OID; unknown ones are reported as the OID. */
const EXT_KEY_USAGE_NAMES: Readonly<Record<string, string>> = {
  "1.3.6.1.5.5.7.3.1": "serverAuth",
  "1.3.6.1.5.5.7.3.2": "clientAuth",
  "1.3.6.1.5.5.7.3.3": "codeSigning",
  "1.3.6.1.5.5.7.3.4": "emailProtection",
  "1.3.6.1.5.5.7.3.8": "timeStamping",
  "1.3.6.1.5.5.7.3.9": "OCSPSigning",
  "2.5.29.37.0": "anyExtendedKeyUsage",
};

const OID = {
  subjectKeyIdentifier: "2.5.29.14",
  keyUsage: "2.5.29.15",
  subjectAltName: "2.5.29.17",
  basicConstraints: "2.5.29.19",
  extKeyUsage: "2.5.29.37",
  authorityKeyIdentifier: "2.5.29.35",
} as const;

/** What a certificate says, as plain data. */
export interface CertificateDescription {
  /** One line, most significant RDN last as OpenSSL lists it, e.g. `CN=pod-dns-injector`. */
  subject: string;
  issuer: string;
  /** Uppercase hex without separators, as `openssl x509 -serial` prints it. */
  serialNumber: string;
  notBefore: Date;
  notAfter: Date;
  isCA: boolean;
  /** basicConstraints pathLenConstraint, when the certificate sets one. */
  pathLength?: number;
  dnsNames: string[];
  ipAddresses: string[];
  /** Empty when the certificate has no keyUsage extension. */
  keyUsage: KeyUsageName[];
  /** Names (`serverAuth`) where known, else the OID; empty without the extension. */
  extendedKeyUsage: string[];
  /** Colon-separated uppercase hex, as OpenSSL prints key identifiers. */
  subjectKeyIdentifier?: string;
  authorityKeyIdentifier?: string;
  /** SHA-256 over the DER, colon-separated uppercase hex, as `openssl x509 -fingerprint -sha256`. */
  fingerprintSha256: string;
  /** e.g. `rsa 2048` or `ec prime256v1`. */
  publicKey: string;
  /** Subject equals issuer: a root (or a self-issued certificate). */
  selfIssued: boolean;
}

const PEM_CERT_RE = /-----BEGIN CERTIFICATE-----[\s\S]*?-----END CERTIFICATE-----/g;

/**
 * The PEM blocks of every certificate in `pem`, in order; other blocks (keys) and text
 * between them are ignored. Empty when there is none.
 */
export function splitCertificateBundle(pem: string): string[] {
  return pem.match(PEM_CERT_RE) ?? [];
}

/**
 * Describes every certificate in a PEM bundle (e.g. a `caBundle` during a CA rollover, or a
 * `tls.crt` with a chain), in order. Returns `[]` when `pem` holds no certificate block.
 *
 * @throws Error naming the position of a block that is not a parseable certificate.
 */
export function describeCertificates(pem: string): CertificateDescription[] {
  return splitCertificateBundle(pem).map((block, i, all) => {
    try {
      return describeOne(block);
    } catch (cause) {
      throw new Error(`certificate ${i + 1} of ${all.length} cannot be parsed`, { cause });
    }
  });
}

/**
 * Describes the single certificate in `pem`.
 *
 * @throws Error when `pem` holds no certificate, more than one (use `describeCertificates`),
 *   or one that cannot be parsed.
 */
export function describeCertificate(pem: string): CertificateDescription {
  const blocks = splitCertificateBundle(pem);
  if (blocks.length !== 1) {
    throw new Error(`describeCertificate: expected exactly one PEM certificate, found ${blocks.length}` + (blocks.length > 1 ? " (use describeCertificates for a bundle)" : ""));
  }
  return describeCertificates(pem)[0]!;
}

/**
 * Human-readable, multi-line text for one description (`certs inspect`). With `now`, the
 * validity line also says how long is left, or that it has expired / is not yet valid.
 */
export function formatCertificateDescription(d: CertificateDescription, opts: { now?: Date } = {}): string {
  const rows: [string, string][] = [
    ["Subject", d.subject || "(empty)"],
    ["Issuer", d.selfIssued ? `${d.issuer || "(empty)"} (self-issued)` : d.issuer || "(empty)"],
    ["Serial", d.serialNumber],
    ["Not before", d.notBefore.toISOString()],
    ["Not after", d.notAfter.toISOString() + (opts.now ? ` (${describeRemaining(d, opts.now)})` : "")],
    ["CA", d.isCA ? `yes${d.pathLength !== undefined ? `, path length ${d.pathLength}` : ""}` : "no"],
  ];
  if (d.dnsNames.length > 0) rows.push(["DNS names", d.dnsNames.join(", ")]);
  if (d.ipAddresses.length > 0) rows.push(["IP addresses", d.ipAddresses.join(", ")]);
  rows.push(["Key usage", d.keyUsage.join(", ") || "(none)"]);
  rows.push(["Ext key usage", d.extendedKeyUsage.join(", ") || "(none)"]);
  rows.push(["Public key", d.publicKey]);
  if (d.subjectKeyIdentifier) rows.push(["Subject key ID", d.subjectKeyIdentifier]);
  if (d.authorityKeyIdentifier) rows.push(["Authority key ID", d.authorityKeyIdentifier]);
  rows.push(["SHA-256", d.fingerprintSha256]);
  const width = Math.max(...rows.map(([label]) => label.length)) + 1;
  return rows.map(([label, value]) => `${`${label}:`.padEnd(width)} ${value}`).join("\n");
}

function describeRemaining(d: CertificateDescription, now: Date): string {
  const t = now.getTime();
  if (t < d.notBefore.getTime()) return `not yet valid, starts in ${formatDuration(d.notBefore.getTime() - t)}`;
  if (t >= d.notAfter.getTime()) return `EXPIRED ${formatDuration(t - d.notAfter.getTime())} ago`;
  return `expires in ${formatDuration(d.notAfter.getTime() - t)}`;
}

function formatDuration(ms: number): string {
  const minutes = Math.floor(ms / 60_000);
  const days = Math.floor(minutes / 1440);
  if (days >= 2) return `${days} days`;
  const hours = Math.floor(minutes / 60);
  if (hours >= 1) return `${hours}h${String(minutes % 60).padStart(2, "0")}m`;
  return `${minutes}m`;
}

function describeOne(pem: string): CertificateDescription {
  const x509 = new X509Certificate(pem);
  const ext = readExtensions(x509.raw);
  const keyDetails = x509.publicKey.asymmetricKeyDetails;
  const keySize = keyDetails?.modulusLength ?? keyDetails?.namedCurve;
  const description: CertificateDescription = {
    subject: oneLineName(x509.subject),
    issuer: oneLineName(x509.issuer),
    serialNumber: x509.serialNumber.toUpperCase(),
    notBefore: x509.validFromDate,
    notAfter: x509.validToDate,
    isCA: x509.ca,
    dnsNames: ext.dnsNames,
    ipAddresses: ext.ipAddresses,
    keyUsage: ext.keyUsage,
    extendedKeyUsage: ext.extendedKeyUsage,
    fingerprintSha256: x509.fingerprint256,
    publicKey: [x509.publicKey.asymmetricKeyType ?? "unknown", keySize].filter((p) => p !== undefined).join(" "),
    selfIssued: x509.subject === x509.issuer,
  };
  if (ext.pathLength !== undefined) description.pathLength = ext.pathLength;
  if (ext.subjectKeyIdentifier !== undefined) description.subjectKeyIdentifier = ext.subjectKeyIdentifier;
  if (ext.authorityKeyIdentifier !== undefined) description.authorityKeyIdentifier = ext.authorityKeyIdentifier;
  return description;
}

/** Node prints one RDN per line; a log line or table cell wants them on one. */
function oneLineName(name: string): string {
  return name.split("\n").filter(Boolean).join(", ");
}

interface ParsedExtensions {
  dnsNames: string[];
  ipAddresses: string[];
  keyUsage: KeyUsageName[];
  extendedKeyUsage: string[];
  pathLength?: number;
  subjectKeyIdentifier?: string;
  authorityKeyIdentifier?: string;
}

/** Walks Certificate → TBSCertificate → [3] Extensions (RFC 5280 §4.1). */
function readExtensions(der: Buffer): ParsedExtensions {
  const out: ParsedExtensions = { dnsNames: [], ipAddresses: [], keyUsage: [], extendedKeyUsage: [] };
  const tbs = children(fromDer(der.toString("binary")))[0];
  const extensionsField = tbs ? children(tbs).find((n) => isContextTag(n, 3)) : undefined;
  const extensionList = extensionsField ? children(extensionsField)[0] : undefined;
  for (const extension of extensionList ? children(extensionList) : []) {
    const parts = children(extension);
    const oidNode = parts[0];
    const valueNode = parts[parts.length - 1]; // critical BOOLEAN is optional, extnValue comes last
    if (!oidNode || !valueNode || typeof oidNode.value !== "string" || typeof valueNode.value !== "string") continue;
    readExtension(forge.asn1.derToOid(oidNode.value), fromDer(valueNode.value), out);
  }
  return out;
}

function readExtension(oid: string, value: forge.asn1.Asn1, out: ParsedExtensions): void {
  switch (oid) {
    case OID.subjectAltName:
      readSubjectAltNames(value, out);
      break;
    case OID.keyUsage:
      out.keyUsage = readKeyUsage(value);
      break;
    case OID.extKeyUsage:
      out.extendedKeyUsage = children(value).map((n) => {
        const o = forge.asn1.derToOid(bytesOf(n));
        return EXT_KEY_USAGE_NAMES[o] ?? o;
      });
      break;
    case OID.basicConstraints: {
      const pathLen = children(value).find((n) => n.type === forge.asn1.Type.INTEGER);
      if (pathLen) out.pathLength = forge.util.createBuffer(bytesOf(pathLen)).getInt(bytesOf(pathLen).length * 8);
      break;
    }
    case OID.subjectKeyIdentifier:
      out.subjectKeyIdentifier = colonHex(bytesOf(value));
      break;
    case OID.authorityKeyIdentifier: {
      // [0] keyIdentifier (RFC 5280 §4.2.1.1); [1] issuer and [2] serial are not used for chaining.
      const keyId = children(value).find((n) => isContextTag(n, 0));
      if (keyId) out.authorityKeyIdentifier = colonHex(bytesOf(keyId));
      break;
    }
  }
}

function readSubjectAltNames(generalNames: forge.asn1.Asn1, out: ParsedExtensions): void {
  for (const name of children(generalNames)) {
    // GeneralName tags (RFC 5280 §4.2.1.6): [2] dNSName IA5String, [7] iPAddress OCTET STRING.
    if (isContextTag(name, 2)) out.dnsNames.push(bytesOf(name));
    if (isContextTag(name, 7)) out.ipAddresses.push(formatIP(bytesOf(name)));
  }
}

/** 4 bytes → dotted quad, 16 bytes → RFC 5952 text (as `openssl x509 -text` and Go print them). */
function formatIP(bytes: string): string {
  const octets = Array.from(bytes, (c) => c.charCodeAt(0));
  if (octets.length === 4) return octets.join(".");
  if (octets.length === 16) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push((((octets[i] ?? 0) << 8) | (octets[i + 1] ?? 0)).toString(16));
    // WHATWG URL parsing canonicalises an IPv6 literal (zero compression, lowercase).
    return new URL(`http://[${groups.join(":")}]/`).hostname.slice(1, -1);
  }
  return `(invalid ${colonHex(bytes)})`;
}

function readKeyUsage(bitString: forge.asn1.Asn1): KeyUsageName[] {
  // BIT STRING contents: one byte of unused-bit count, then the bits, bit 0 = MSB of byte 1.
  const bytes = bytesOf(bitString);
  const usages: KeyUsageName[] = [];
  KEY_USAGE_NAMES.forEach((usage, bit) => {
    const byte = bytes.charCodeAt(1 + Math.floor(bit / 8));
    if (!Number.isNaN(byte) && (byte & (0x80 >> (bit % 8))) !== 0) usages.push(usage);
  });
  return usages;
}

function fromDer(bytes: string): forge.asn1.Asn1 {
  // decodeBitStrings off: keyUsage's BIT STRING holds flags, not nested ASN.1, and forge's
  // heuristic would otherwise sometimes "decode" them into garbage.
  const options = { strict: true, parseAllBytes: true, decodeBitStrings: false };
  return (forge.asn1.fromDer as unknown as (b: string, o: typeof options) => forge.asn1.Asn1)(bytes, options);
}

/** A context-specific tag such as `[3]`; forge types its number as a universal type. */
function isContextTag(node: forge.asn1.Asn1, tag: number): boolean {
  return node.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && (node.type as number) === tag;
}

function children(node: forge.asn1.Asn1): forge.asn1.Asn1[] {
  return Array.isArray(node.value) ? node.value : [];
}

function bytesOf(node: forge.asn1.Asn1): string {
  return typeof node.value === "string" ? node.value : "";
}

function colonHex(bytes: string): string {
  return Array.from(bytes, (c) => c.charCodeAt(0).toString(16).padStart(2, "0").toUpperCase()).join(":");
}
