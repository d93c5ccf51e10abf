/**
 * Where the decision's facts come from. The handler only sees this interface; the cluster
 * implementation reads informer caches, the standalone one embedded defaults.
 */
import { INJECT_LABEL } from "../config/names.js";
import type { Settings } from "../config/settings.js";
import type { NamespaceFacts } from "./namespace-policy.js";

export interface AdmissionFacts {
  /** The namespace's labels and annotations; undefined when it does not exist. */
  lookupNamespace(name: string): Promise<NamespaceFacts | undefined>;
  /** The DNS Service's live clusterIP, else the configured fixed IP, else undefined. */
  dnsServiceIP(): string | undefined;
}

/**
 * No cluster: every calling namespace counts as `enabled`, because in a real deployment the
 * API server's namespaceSelector has already vouched for it before calling us.
 */
export function standaloneFacts(settings: () => Settings): AdmissionFacts {
  return {
    lookupNamespace: async (name) => ({ name, labels: { [INJECT_LABEL]: "enabled" }, annotations: {} }),
    dnsServiceIP: () => settings().dnsService.clusterIP ?? undefined,
  };
}
