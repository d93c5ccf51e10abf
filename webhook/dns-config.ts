/**
 * Builds the dnsConfig a pod gets: what kubelet's ClusterFirst would produce with
 * --cluster-dns set to the live DNS Service IP, plus the profile, merged with the pod's own
 * dnsConfig the way kubelet merges it, then cut to the API server's limits. Pure and
 * deterministic; feeding the result back in as the pod's own dnsConfig yields the same result.
 */
import type { DNSOption, Profile } from "../config/settings.js";
import { expandNameservers } from "../config/nameserver-tokens.js";
import {
  MAX_NAMESERVERS,
  MAX_OPTIONS,
  MAX_SEARCH_LIST_CHARS,
  MAX_SEARCHES,
  MUSL_MAX_LINE_CHARS,
  READ_LIMITS,
  SEARCH_LINE_PREFIX,
  searchListLimit,
  canonicalIP,
  describeValue,
  isValidSearch,
} from "../config/dns-limits.js";

export interface PodDNSConfig {
  nameservers?: string[];
  searches?: string[];
  options?: DNSOption[];
}

/** `ndots:5`, `edns0`: an option as resolv.conf (and every message of ours) writes it. */
export function optionText(o: DNSOption): string {
  return o.value === undefined ? o.name : `${o.name}:${o.value}`;
}

/** One line: "nameservers 10.96.0.10; searches a b c; options ndots:5". */
export function describeDNSConfig(cfg: Required<PodDNSConfig>): string {
  const opts = cfg.options.map(optionText);
  return `nameservers ${cfg.nameservers.join(" ")}; searches ${cfg.searches.join(" ")}; options ${opts.join(" ") || "(none)"}`;
}

export interface DNSConfigInputs {
  namespace: string;
  clusterDomain: string;
  /** The DNS Service's clusterIP(s), what the profile's `dnsService` stands for; empty while unknown. */
  dnsServiceIPs: readonly string[];
  /** What the profile's `nodeLocalDNS` stands for (settings.nodeLocalDNS.address). */
  nodeLocalDNS: string;
  profile: Profile;
  /** The pod's own spec.dnsConfig, as sent (untrusted shape). */
  podDNSConfig: unknown;
  /** Entries of the pod's own lists that were never read (see pod-view.ts), for the warnings. */
  unread?: UnreadEntries | undefined;
}

/** How many entries of each list of a pod's own dnsConfig lie past the read limits. */
export interface UnreadEntries {
  nameservers: number;
  searches: number;
  options: number;
}

export interface BuiltDNSConfig {
  dnsConfig: Required<PodDNSConfig>;
  /** Everything dropped or cut, one short sentence each (they become admission warnings). */
  cuts: string[];
  /**
   * What some resolvers would ignore although the API server accepts it (musl's line limit),
   * one sentence each (admission warnings too). Not a cut: feeding the result back repeats them.
   */
  resolverWarnings: string[];
  /** The valid entries of `podDNSConfig` as read (readPodDNSConfig's config): what the pod brought. */
  own: Required<PodDNSConfig>;
}

export function buildDNSConfig(inputs: DNSConfigInputs): BuiltDNSConfig {
  const cuts: string[] = [];
  const own = readOwnDNSConfig(inputs.podDNSConfig, cuts, inputs.unread);

  // Nameservers: the profile's (tokens expanded; default: the DNS Service IP), then the pod's own.
  const profileServers = expandNameservers(inputs.profile.nameservers, { dnsService: inputs.dnsServiceIPs, nodeLocalDNS: inputs.nodeLocalDNS });
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
  const limit = searchListLimit(inputs.profile.maxSearchLineBytes);
  let length = -1; // joined with spaces: n entries cost sum(len) + n - 1
  // Over the length limit the list is cut where it stops fitting, and every later entry goes
  // too, even a short one: kubelet's own rule (formDNSSearchFitsLimits drops from the end),
  // and the one the in-tree policy can express, so both paths store the same pod.
  let cutAt: string | undefined;
  for (const candidate of [...clusterSearches, ...inputs.profile.searches, ...own.searches]) {
    if (searches.includes(candidate)) continue;
    // The cluster's own can be invalid too: a 63-character namespace under a long domain
    // is over 253 characters. The API server would refuse the pod, so it is cut.
    if (!isValidSearch(candidate)) {
      cuts.push(`dropped search ${describeValue(candidate)}: not a lowercase DNS subdomain of at most 253 characters`);
      continue;
    }
    if (searches.length >= MAX_SEARCHES) {
      cuts.push(`dropped search ${candidate}: at most ${MAX_SEARCHES} search domains`);
      continue;
    }
    if (cutAt !== undefined) {
      cuts.push(`dropped search ${candidate}: it follows ${cutAt}, where the search list stopped fitting`);
      continue;
    }
    if (length + 1 + candidate.length > limit) {
      cutAt = candidate;
      cuts.push(
        limit === MAX_SEARCH_LIST_CHARS
          ? `dropped search ${candidate}: search list over ${MAX_SEARCH_LIST_CHARS} characters`
          : `dropped search ${candidate}: resolv.conf's search line over the profile's maxSearchLineBytes ${inputs.profile.maxSearchLineBytes}`,
      );
      continue;
    }
    searches.push(candidate);
    length += 1 + candidate.length;
  }
  const resolverWarnings: string[] = [];
  const line = SEARCH_LINE_PREFIX.length + length;
  if (searches.length > 0 && line > MUSL_MAX_LINE_CHARS) {
    resolverWarnings.push(
      `resolv.conf's search line is ${line} characters: musl (Alpine) ignores a line over ${MUSL_MAX_LINE_CHARS}, so its pods would resolve no short name; set the profile's maxSearchLineBytes: ${MUSL_MAX_LINE_CHARS} to cut it`,
    );
  }

  // Options: the profile's, the pod's own overriding by name (kubelet's merge rule).
  const options: DNSOption[] = inputs.profile.options.map((o) => ({ ...o }));
  const byName = new Map(options.map((o, i) => [o.name, i]));
  for (const o of own.options) {
    const i = byName.get(o.name);
    if (i !== undefined) options[i] = { ...o };
    else if (options.length >= MAX_OPTIONS) cuts.push(`dropped option ${describeValue(o.name)}: at most ${MAX_OPTIONS} options`);
    else {
      byName.set(o.name, options.length);
      options.push({ ...o });
    }
  }
  return { dnsConfig: { nameservers, searches, options }, cuts, resolverWarnings, own };
}

const LIMIT_REASONS: Record<keyof UnreadEntries, string> = {
  nameservers: `the API server allows at most ${MAX_NAMESERVERS}`,
  searches: `the API server allows at most ${MAX_SEARCHES}`,
  options: `at most ${MAX_OPTIONS} are kept`,
};

/**
 * The one reader of a pod's stored (or manifest's) dnsConfig: the webhook's builder and the
 * audit both read through it, so they cannot disagree about what a pod has. Entries the API
 * server would reject are cut (each cut named in `cuts`), IPs are canonical, and only the
 * first READ_LIMITS entries of each list are read, whatever the list's length.
 */
export function readPodDNSConfig(raw: unknown, unread?: UnreadEntries): { config: Required<PodDNSConfig>; cuts: string[] } {
  const cuts: string[] = [];
  const config = readOwnDNSConfig(raw, cuts, unread);
  return { config, cuts };
}

function readOwnDNSConfig(raw: unknown, cuts: string[], unread: UnreadEntries | undefined): { nameservers: string[]; searches: string[]; options: DNSOption[] } {
  const out = { nameservers: [] as string[], searches: [] as string[], options: [] as DNSOption[] };
  if (raw === undefined || raw === null) return out;
  if (typeof raw !== "object" || Array.isArray(raw)) {
    cuts.push("ignored spec.dnsConfig: not an object");
    return out;
  }
  const cfg = raw as Record<string, unknown>;
  for (const ns of listOf(cfg, "nameservers", cuts, unread)) {
    const ip = typeof ns === "string" ? canonicalIP(ns) : null;
    if (ip) out.nameservers.push(ip);
    else cuts.push(`dropped nameserver ${describeValue(ns)}: not a valid IP address`);
  }
  for (const s of listOf(cfg, "searches", cuts, unread)) {
    if (typeof s === "string" && isValidSearch(s)) out.searches.push(s);
    else cuts.push(`dropped search ${describeValue(s)}: not a lowercase DNS subdomain`);
  }
  for (const o of listOf(cfg, "options", cuts, unread)) {
    const opt = o as Record<string, unknown> | null;
    if (opt && typeof opt === "object" && !Array.isArray(opt) && typeof opt.name === "string" && opt.name !== "") {
      out.options.push(typeof opt.value === "string" ? { name: opt.name, value: opt.value } : { name: opt.name });
    } else {
      cuts.push(`dropped option ${describeValue(o)}: an option needs a name`);
    }
  }
  return out;
}

function listOf(cfg: Record<string, unknown>, field: keyof UnreadEntries, cuts: string[], unread: UnreadEntries | undefined): unknown[] {
  const value = cfg[field];
  if (value === undefined || value === null) return [];
  if (!Array.isArray(value)) {
    cuts.push(`ignored spec.dnsConfig.${field}: not a list`);
    return [];
  }
  const limit = READ_LIMITS[field];
  const skipped = Math.max(0, value.length - limit) + (unread?.[field] ?? 0);
  if (skipped > 0) cuts.push(`ignored ${skipped} more ${field} after the first ${limit}: ${LIMIT_REASONS[field]}`);
  return value.length > limit ? value.slice(0, limit) : value;
}
