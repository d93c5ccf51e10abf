/**
 * Where the decision's facts come from. The handler only sees this interface; the cluster
 * implementation reads informer caches, the standalone one embedded defaults.
 */
import { INJECT_LABEL } from "../config/names.js";
import { configuredDNSServiceIPs, type Settings } from "../config/settings.js";
import type { NamespaceFacts } from "./namespace-policy.js";

export interface AdmissionFacts {
  /** The namespace's labels and annotations; undefined when it does not exist. */
  lookupNamespace(name: string): Promise<NamespaceFacts | undefined>;
  /**
   * The namespace's facts when they are at hand without I/O (an informer's cache), else
   * undefined, and the handler asks lookupNamespace. Nearly every review finds them here
   * and is answered without a promise of its own (BENCHMARKS.md, issue 12).
   */
  cachedNamespace?(name: string): NamespaceFacts | undefined;
  /**
   * What `dnsService` stands for: the DNS Service's live clusterIPs (both families of a
   * dual-stack Service, primary first), else the configured fixed IP; empty while unknown.
   */
  dnsServiceIPs(): readonly string[];
}

/** Namespaces whose standalone facts are kept. */
const MAX_STANDALONE_NAMESPACES = 1024;

/**
 * No cluster: every calling namespace counts as `enabled`, because in a real deployment the
 * API server's namespaceSelector has already vouched for it before calling us.
 */
export function standaloneFacts(settings: () => Settings): AdmissionFacts {
  let memo: { settings: Settings | undefined; ips: readonly string[] } = { settings: undefined, ips: [] };
  const namespaces = new Map<string, NamespaceFacts>();
  // The same object per name while it is kept (the decision keys what it derived from the
  // facts by their identity); bounded, since any caller may send any namespace.
  const enabledNamespace = (name: string): NamespaceFacts => {
    let facts = namespaces.get(name);
    if (!facts) {
      if (namespaces.size >= MAX_STANDALONE_NAMESPACES) namespaces.clear();
      namespaces.set(name, (facts = Object.freeze({ name, labels: Object.freeze({ [INJECT_LABEL]: "enabled" }), annotations: Object.freeze({}) })));
    }
    return facts;
  };
  return {
    cachedNamespace: (name) => enabledNamespace(name),
    lookupNamespace: async (name) => enabledNamespace(name),
    dnsServiceIPs: () => {
      // Read per review: the list is kept per settings object (a reload makes a new one).
      const s = settings();
      if (s !== memo.settings) memo = { settings: s, ips: configuredDNSServiceIPs(s) };
      return memo.ips;
    },
  };
}
