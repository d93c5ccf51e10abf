/**
 * The API server's rules for a pod's dnsConfig, mirrored so that no pod we produce is ever
 * rejected. Source: validatePodDNSConfig in k8s.io/kubernetes pkg/apis/core/validation
 * (https://kubernetes.io/docs/concepts/services-networking/dns-pod-service/#pod-dns-config).
 */
import { isIPv4, isIPv6 } from "node:net";

/** glibc's resolver reads at most 3 nameservers (MAXNS). */
export const MAX_NAMESERVERS = 3;
/** Kubernetes' MaxDNSSearchPaths. */
export const MAX_SEARCHES = 32;
/** Kubernetes' MaxDNSSearchListChars: the searches joined with single spaces. */
export const MAX_SEARCH_LIST_CHARS = 2048;
/**
 * musl's resolver (Alpine) reads resolv.conf into a 256-byte buffer and skips a line that
 * does not fit with its newline: a `search` line of more than 254 characters is ignored
 * whole, and the pod resolves no short name. glibc has no such limit; the API server allows
 * 2048 characters of searches.
 */
export const MUSL_MAX_LINE_CHARS = 254;
/** How resolv.conf spells the line: `search a b c`. */
export const SEARCH_LINE_PREFIX = "search ";
/**
 * The longest searches joined with spaces a profile allows: the API server's 2048, or less
 * when the profile's `maxSearchLineBytes` bounds resolv.conf's `search ...` line.
 */
export function searchListLimit(maxSearchLineBytes: number | undefined): number {
  return maxSearchLineBytes === undefined ? MAX_SEARCH_LIST_CHARS : Math.min(MAX_SEARCH_LIST_CHARS, maxSearchLineBytes - SEARCH_LINE_PREFIX.length);
}
/** RFC 1123 subdomain length limit, as DNS1123SubdomainMaxLength. */
export const MAX_SUBDOMAIN_LENGTH = 253;

const LABEL = "[a-z0-9]([-a-z0-9]*[a-z0-9])?";
const LABEL_RE = new RegExp(`^${LABEL}$`);
const SUBDOMAIN_RE = new RegExp(`^${LABEL}(\\.${LABEL})*$`);

/** A DNS-1123 label (63 characters at most), e.g. a Service or profile name. */
export function isDNSLabel(value: string): boolean {
  return value.length <= 63 && LABEL_RE.test(value);
}

/** A namespace name is a DNS-1123 label. */
export const isNamespaceName = isDNSLabel;

/**
 * A lowercase DNS-1123 subdomain of at most 253 characters whose labels have at most 63.
 * The API server does not check label length, but a resolver cannot look such a name up
 * (RFC 1035 2.3.4), so a longer label is never useful in a search list.
 */
export function isDNSSubdomain(value: string): boolean {
  return value.length <= MAX_SUBDOMAIN_LENGTH && SUBDOMAIN_RE.test(value) && value.split(".").every((l) => l.length <= 63);
}

/** A DNS name for a certificate SAN: a DNS subdomain, optionally a `*.` wildcard one. */
export function isCertificateDNSName(value: string): boolean {
  return isDNSSubdomain(value.startsWith("*.") ? value.slice(2) : value);
}

/**
 * A valid search path as every supported API server accepts it: a lowercase DNS-1123
 * subdomain, optionally with one trailing dot (the API server trims it before checking).
 * Newer API servers also accept underscores; older ones do not, so we stay strict.
 */
export function isValidSearch(value: string): boolean {
  return isDNSSubdomain(value.endsWith(".") ? value.slice(0, -1) : value);
}

/** An IP address's family as a Service's ipFamilies names it (the address is assumed valid). */
export const ipFamily = (ip: string): "IPv4" | "IPv6" => (ip.includes(":") ? "IPv6" : "IPv4");

/**
 * The canonical text form of an IP address, or null if it is not one the API server's
 * strict IP validation accepts: IPv4 dotted quad without leading zeros, IPv6 in RFC 5952
 * form; IPv4-mapped IPv6 addresses are refused (StrictIPCIDRValidation).
 */
export function canonicalIP(value: string): string | null {
  if (isIPv4(value)) {
    const parts = value.split(".");
    if (parts.some((p) => p.length > 1 && p.startsWith("0"))) return null;
    return parts.map(Number).join(".");
  }
  if (isIPv6(value) && !value.includes("%")) {
    // The WHATWG URL parser serialises IPv6 hosts in RFC 5952 canonical form.
    const canonical = new URL(`http://[${value}]/`).hostname.slice(1, -1);
    if (/^::ffff:/i.test(canonical) || /^::ffff:\d/.test(value.toLowerCase())) return null;
    return canonical;
  }
  return null;
}

/** The length the API server measures for a search list. */
export function searchListLength(searches: readonly string[]): number {
  return searches.join(" ").length;
}

/**
 * How many options of a pod's own dnsConfig are read. Kubernetes sets no limit, but glibc
 * knows about twenty option names and musl fewer, so a longer list is hostile or a mistake;
 * without a bound, a 3 MiB list would make every review of it cost milliseconds.
 */
export const MAX_OPTIONS = 32;

/** Kubernetes' TotalAnnotationSizeLimitB: keys plus values of all annotations, in bytes. */
export const MAX_ANNOTATIONS_BYTES = 256 * 1024;

/** Bytes the API server counts for one annotation (Go's len() of the UTF-8 key and value). */
export function annotationBytes(key: string, value: string): number {
  return Buffer.byteLength(key, "utf8") + Buffer.byteLength(value, "utf8");
}

/**
 * Why a dnsConfig for `dnsPolicy: None` would be refused by the API server, or null.
 * Mirrors validatePodDNSConfig: at least one and at most 3 nameservers, each an IP; at most
 * 32 searches of at most 2048 characters joined, each a DNS subdomain; every option named.
 */
export function dnsConfigProblem(cfg: { nameservers: readonly string[]; searches: readonly string[]; options: readonly { name: string }[] }): string | null {
  if (cfg.nameservers.length === 0) return "dnsPolicy None needs at least one nameserver";
  if (cfg.nameservers.length > MAX_NAMESERVERS) return `more than ${MAX_NAMESERVERS} nameservers`;
  const badIP = cfg.nameservers.find((ns) => canonicalIP(ns) !== ns);
  if (badIP !== undefined) return `nameserver ${describeValue(badIP)} is not a canonical IP address`;
  if (cfg.searches.length > MAX_SEARCHES) return `more than ${MAX_SEARCHES} searches`;
  if (searchListLength(cfg.searches) > MAX_SEARCH_LIST_CHARS) return `search list over ${MAX_SEARCH_LIST_CHARS} characters`;
  const badSearch = cfg.searches.find((s) => !isValidSearch(s));
  if (badSearch !== undefined) return `search ${describeValue(badSearch)} is not a lowercase DNS subdomain`;
  if (cfg.options.some((o) => typeof o.name !== "string" || o.name === "")) return "an option without a name";
  return null;
}

/**
 * A short, safe description of an untrusted value for a message: strings quoted and clipped,
 * other values named by their type. Never walks the value, so a deeply nested one cannot
 * overflow the stack (JSON.stringify would).
 */
export function describeValue(value: unknown, maxLength = 80): string {
  if (typeof value === "string") {
    const quoted = JSON.stringify(value.length > maxLength ? value.slice(0, maxLength) : value);
    return value.length > maxLength ? `${quoted.slice(0, -1)}..." (${value.length} characters)` : quoted;
  }
  if (value === null) return "null";
  if (Array.isArray(value)) return "a list";
  if (typeof value === "object") return "an object";
  if (typeof value === "number" || typeof value === "boolean") return `${typeof value} ${String(value)}`;
  return typeof value;
}

/**
 * How many entries of each list of a pod's own dnsConfig are read at most: about twice what
 * a valid result can hold, so a pod a little over a limit gets every cut entry named; past
 * that, entries are only counted. This bounds the work per review by Kubernetes' limits
 * instead of by the input (a 6.5 MB review can carry 1.3 million searches).
 */
export const READ_LIMITS = { nameservers: 8, searches: 2 * MAX_SEARCHES, options: 2 * MAX_OPTIONS } as const;

/**
 * Entries of a namespace's pod-dns-injector.io/allowed-profiles that are read; the rest are
 * ignored with a warning. Profiles are few; the in-tree policy reads as many (CEL iterates a
 * fixed-size index list, so its estimated cost stays bounded whatever the annotation's size).
 */
export const MAX_ALLOWED_PROFILES = 32;
