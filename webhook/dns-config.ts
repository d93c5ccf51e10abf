/**
 * Builds the dnsConfig a pod gets: what kubelet's ClusterFirst would produce with
 * --cluster-dns set to the live DNS Service IP, plus the profile, merged with the pod's own
 * dnsConfig the way kubelet merges it, then cut to the API server's limits. Pure and
 * deterministic; feeding the result back in as the pod's own dnsConfig yields the same result.
 */
import type { DNSOption, Profile } from "../config/settings.js";
import {
  MAX_NAMESERVERS,
  MAX_SEARCH_LIST_CHARS,
  MAX_SEARCHES,
  canonicalIP,
  isValidSearch,
} from "./dns-limits.js";

export interface PodDNSConfig {
  nameservers?: string[];
  searches?: string[];
  options?: DNSOption[];
}

/** `ndots:5`, `edns0`: an option as resolv.conf (and every message of ours) writes it. */
export function optionText(o: DNSOption): string {
  return o.value === undefined ? o.name : `${o.name}:${o.value}`;
}

export interface DNSConfigInputs {
  namespace: string;
  clusterDomain: string;
  dnsServiceIP: string;
  profile: Profile;
  /** The pod's own spec.dnsConfig, as sent (untrusted shape). */
  podDNSConfig: unknown;
}

export interface BuiltDNSConfig {
  dnsConfig: Required<PodDNSConfig>;
  /** Everything dropped or cut, one short sentence each (they become admission warnings). */
  cuts: string[];
}

export function buildDNSConfig(inputs: DNSConfigInputs): BuiltDNSConfig {
  const cuts: string[] = [];
  const own = readOwnDNSConfig(inputs.podDNSConfig, cuts);

  // Nameservers: the profile's (default: the DNS Service IP), then the pod's own.
  const profileServers = inputs.profile.nameservers.length ? inputs.profile.nameservers : [inputs.dnsServiceIP];
  const nameservers: string[] = [];
  for (const candidate of [...profileServers, ...own.nameservers]) {
    if (nameservers.includes(candidate)) continue;
    if (nameservers.length >= MAX_NAMESERVERS) {
      cuts.push(`dropped nameserver ${candidate}: at most ${MAX_NAMESERVERS} nameservers`);
      continue;
    }
    nameservers.push(candidate);
  }

  // Searches: the cluster's three, profile extras, then the pod's own.
  const d = inputs.clusterDomain;
  const clusterSearches = [`${inputs.namespace}.svc.${d}`, `svc.${d}`, d];
  const searches: string[] = [];
  let length = -1; // joined with spaces: n entries cost sum(len) + n - 1
  for (const candidate of [...clusterSearches, ...inputs.profile.searches, ...own.searches]) {
    if (searches.includes(candidate)) continue;
    if (searches.length >= MAX_SEARCHES) {
      cuts.push(`dropped search ${candidate}: at most ${MAX_SEARCHES} search domains`);
      continue;
    }
    if (length + 1 + candidate.length > MAX_SEARCH_LIST_CHARS) {
      cuts.push(`dropped search ${candidate}: search list over ${MAX_SEARCH_LIST_CHARS} characters`);
      continue;
    }
    searches.push(candidate);
    length += 1 + candidate.length;
  }

  // Options: the profile's, the pod's own overriding by name (kubelet's merge rule).
  const options: DNSOption[] = inputs.profile.options.map((o) => ({ ...o }));
  for (const o of own.options) {
    const i = options.findIndex((p) => p.name === o.name);
    if (i >= 0) options[i] = { ...o };
    else options.push({ ...o });
  }
  return { dnsConfig: { nameservers, searches, options }, cuts };
}

/** Reads the pod's own dnsConfig defensively: entries the API server would reject are cut. */
function readOwnDNSConfig(raw: unknown, cuts: string[]): { nameservers: string[]; searches: string[]; options: DNSOption[] } {
  const out = { nameservers: [] as string[], searches: [] as string[], options: [] as DNSOption[] };
  if (raw === undefined || raw === null) return out;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    cuts.push("ignored spec.dnsConfig: not an object");
    return out;
  }
  const cfg = raw as Record<string, unknown>;
  for (const ns of listOf(cfg.nameservers, "nameservers", cuts)) {
    const ip = typeof ns === "string" ? canonicalIP(ns) : null;
    if (ip) out.nameservers.push(ip);
    else cuts.push(`dropped nameserver ${JSON.stringify(ns)}: not a valid IP address`);
  }
  for (const s of listOf(cfg.searches, "searches", cuts)) {
    if (typeof s === "string" && isValidSearch(s)) out.searches.push(s);
    else cuts.push(`dropped search ${JSON.stringify(s)}: not a lowercase DNS subdomain`);
  }
  for (const o of listOf(cfg.options, "options", cuts)) {
    const opt = o as Record<string, unknown> | null;
    if (opt && typeof opt === "object" && typeof opt.name === "string" && opt.name !== "") {
      out.options.push(typeof opt.value === "string" ? { name: opt.name, value: opt.value } : { name: opt.name });
    } else {
      cuts.push(`dropped option ${JSON.stringify(o)}: an option needs a name`);
    }
  }
  return out;
}

function listOf(value: unknown, field: string, cuts: string[]): unknown[] {
  if (value === undefined || value === null) return [];
  if (Array.isArray(value)) return value;
  cuts.push(`ignored spec.dnsConfig.${field}: not a list`);
  return [];
}
