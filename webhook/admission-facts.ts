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
   * What `dnsService` stands for: the DNS Service's live clusterIPs (both families of a
   * dual-stack Service, primary first), else the configured fixed IP; empty while unknown.
   */
  dnsServiceIPs(): readonly string[];
}

/**
 * No cluster: every calling namespace counts as `enabled`, because in a real deployment the
 * API server's namespaceSelector has already vouched for it before calling us.
 */
export function standaloneFacts(settings: () => Settings): AdmissionFacts {
  let memo: { settings: Settings | undefined; ips: readonly string[] } = { settings: undefined, ips: [] };
  return {
    lookupNamespace: async (name) => ({ name, labels: { [INJECT_LABEL]: "enabled" }, annotations: {} }),
    dnsServiceIPs: () => {
      // Read per review: the list is kept per settings object (a reload makes a new one).
      const s = settings();
      if (s !== memo.settings) memo = { settings: s, ips: configuredDNSServiceIPs(s) };
      return memo.ips;
    },
  };
}
