/**
 * A profile's nameservers: literal IPs and tokens that stand for addresses only known live
 * (issue 14 items 1-2). `dnsService` is the DNS Service's live clusterIP, so a profile can
 * put something before or after it (NodeLocal DNSCache first, the Service as fallback);
 * `nodeLocalDNS` is the node-local cache's link-local address (setting nodeLocalDNS.address).
 * Pure, a leaf: config/ and the cores import it.
 */
import { canonicalIP } from "./dns-limits.js";

export const DNS_SERVICE_TOKEN = "dnsService";
export const NODE_LOCAL_DNS_TOKEN = "nodeLocalDNS";
export const NAMESERVER_TOKENS = [DNS_SERVICE_TOKEN, NODE_LOCAL_DNS_TOKEN] as const;

/** NodeLocal DNSCache's default listen address (the kubernetes/dns manifests' 169.254.20.10). */
export const DEFAULT_NODE_LOCAL_DNS_ADDRESS = "169.254.20.10";
export const NODE_LOCAL_DNS_PROFILE = "node-local-dns";

/** What the tokens stand for right now. */
export interface LiveNameservers {
  /** The DNS Service's clusterIP(s); empty while unknown. */
  dnsService: readonly string[];
  nodeLocalDNS: string;
}

/** A valid entry of a profile's nameservers: an IP address or one of the tokens. */
export function isNameserverEntry(entry: string): boolean {
  return (NAMESERVER_TOKENS as readonly string[]).includes(entry) || canonicalIP(entry) !== null;
}

/** An entry as stored in Settings: IPs canonical (as the API server stores them), tokens as they are. */
export function normaliseNameserverEntry(entry: string): string {
  return (NAMESERVER_TOKENS as readonly string[]).includes(entry) ? entry : (canonicalIP(entry) ?? entry);
}

/**
 * The entries a profile means: an empty list is `[dnsService]`, what every profile meant
 * before the token existed. Every reader of a profile's nameservers goes through this.
 */
export const effectiveNameservers = (entries: readonly string[]): readonly string[] => (entries.length ? entries : [DNS_SERVICE_TOKEN]);

/** Whether the profile needs the DNS Service's IP (it cannot be injected while that is unknown). */
export function usesDNSService(entries: readonly string[]): boolean {
  return effectiveNameservers(entries).includes(DNS_SERVICE_TOKEN);
}

/** Whether any nameserver comes from the profile itself rather than from the DNS Service. */
export function hasProfileNameservers(entries: readonly string[]): boolean {
  return effectiveNameservers(entries).some((e) => e !== DNS_SERVICE_TOKEN);
}

/** The IPs of several lists in order, each once (a dual-stack Service's two, several DNS Services'). */
export function uniqueIPs(lists: Iterable<readonly string[]>): string[] {
  const ips: string[] = [];
  for (const list of lists) for (const ip of list) if (!ips.includes(ip)) ips.push(ip);
  return ips;
}

/** The profile's nameservers with the tokens replaced, in order (not yet de-duplicated or cut). */
export function expandNameservers(entries: readonly string[], live: LiveNameservers): string[] {
  return effectiveNameservers(entries).flatMap((e) => (e === DNS_SERVICE_TOKEN ? [...live.dnsService] : e === NODE_LOCAL_DNS_TOKEN ? [live.nodeLocalDNS] : [e]));
}
