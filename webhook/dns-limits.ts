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
