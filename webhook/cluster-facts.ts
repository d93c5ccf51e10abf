/**
 * Cluster-mode facts: namespaces from a Namespace informer (with a live read on a cache
 * miss, since a namespace created a moment ago may not have reached the cache), and the DNS
 * Services' live clusterIPs from one informer per Service (several during a Service-CIDR
 * migration, settings `dnsServices`).
 */
import { CoreV1Api, type KubeConfig, type V1Namespace, type V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { dnsServiceRefs, serviceRefText, type DNSServiceRef, type Settings } from "../config/settings.js";
import { ResilientInformer } from "../kube/informer.js";
import { serviceClusterIPs, serviceIPsSource } from "../kube/service-ips.js";
import { uniqueIPs } from "../config/nameserver-tokens.js";
import type { AdmissionFacts } from "./admission-facts.js";
import type { NamespaceFacts } from "./namespace-policy.js";

const NO_IPS: readonly string[] = Object.freeze([]);

/** One DNS Service as watched: its informer, its fixed IP, and the IPs it stands for right now. */
export interface DNSServiceWatch {
  /** namespace/name as configured at start (which Services is restart-only). */
  readonly ref: Pick<DNSServiceRef, "namespace" | "name">;
  readonly informer: ResilientInformer<V1Service>;
  /** Its configured fixed IP, from the live settings (null: learn it); the guardian keeps it there. */
  fixedIP(): string | null;
  /**
   * Its live clusterIPs, else (gone) the last live ones if on the fixed IP, else the fixed IP
   * (kube/service-ips.ts serviceIPsSource). The same array while nothing changes: read per review.
   */
  ips(): readonly string[];
}

export interface ClusterFacts extends AdmissionFacts {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Informer readiness for /readyz. */
  readiness(): string | null;
  /** The DNS Services in `dnsService`'s order (one unless settings `dnsServices` lists several). */
  dnsServices: readonly DNSServiceWatch[];
  /**
   * Called whenever {@link AdmissionFacts.dnsServiceIPs} changes (a Service moved, lost a
   * family, or went away). No arguments: every listener re-reads what it needs (the audit
   * re-runs, the policy keeper re-renders).
   */
  onDNSServiceIPChange(cb: () => void): void;
  namespaceInformer: ResilientInformer<V1Namespace>;
}

/**
 * The admission facts in cluster mode: namespaces from a Namespace informer, the DNS
 * Services' live clusterIPs from informers on them. Start it (and wait for it to sync)
 * before serving; a namespace missing from the cache (just created) is read from the API.
 */
export function clusterFacts(kubeConfig: KubeConfig, settings: () => Settings, log: Logger): ClusterFacts {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const namespaceInformer = new ResilientInformer<V1Namespace>({
    kubeConfig,
    path: "/api/v1/namespaces",
    list: () => core.listNamespace(),
    log,
    name: "namespaces",
  });
  // One facts object per cached Namespace object (the informer replaces it on every change):
  // the decision keeps what it derived from the facts by their identity.
  const factsOf = new WeakMap<V1Namespace, NamespaceFacts>();
  const toFacts = (ns: V1Namespace): NamespaceFacts => {
    let facts = factsOf.get(ns);
    if (!facts) factsOf.set(ns, (facts = { name: ns.metadata?.name ?? "", labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} }));
    return facts;
  };
  const cachedNamespace = (name: string): NamespaceFacts | undefined => {
    const cached = namespaceInformer.cache.get(name);
    return cached ? toFacts(cached) : undefined;
  };
  const ipListeners: (() => void)[] = [];
  const watches: DNSServiceWatch[] = [];
  // Read per review: the combined list is rebuilt only when a Service's own list changed.
  let parts: readonly (readonly string[])[] = [];
  let combined: readonly string[] = [];
  const dnsServiceIPs = (): readonly string[] => {
    if (watches.length === 1) return watches[0]!.ips();
    let same = parts.length === watches.length;
    for (let i = 0; same && i < watches.length; i++) same = watches[i]!.ips() === parts[i];
    if (!same) combined = uniqueIPs((parts = watches.map((w) => w.ips())));
    return combined;
  };
  let lastIPs: readonly string[] = [];
  const notify = () => {
    const next = dnsServiceIPs();
    if (next.join(",") === lastIPs.join(",")) return;
    lastIPs = next;
    for (const cb of ipListeners) cb();
  };
  // The refs are read once: which Services are watched is a restart-only setting.
  for (const [index, ref] of dnsServiceRefs(settings()).entries()) {
    watches.push(watchDNSService({ kubeConfig, core, log, ref, fixedIP: () => dnsServiceRefs(settings())[index]?.clusterIP ?? null, onChange: notify }));
  }
  const informers = () => [namespaceInformer, ...watches.map((w) => w.informer)];

  return {
    namespaceInformer,
    dnsServices: watches,
    async start() {
      await Promise.all(informers().map((i) => i.start()));
    },
    async stop() {
      await Promise.all(informers().map((i) => i.stop()));
    },
    readiness() {
      for (const i of informers()) {
        const r = i.readiness();
        if (r !== null) return r;
      }
      return null;
    },
    onDNSServiceIPChange: (cb) => void ipListeners.push(cb),
    cachedNamespace,
    async lookupNamespace(name) {
      const cached = cachedNamespace(name);
      if (cached) return cached;
      try {
        return toFacts(await core.readNamespace({ name }));
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw new Error(`get Namespace ${name}`, { cause: err });
      }
    },
    dnsServiceIPs,
  };
}

interface WatchOptions {
  kubeConfig: KubeConfig;
  core: CoreV1Api;
  log: Logger;
  ref: Pick<DNSServiceRef, "namespace" | "name">;
  fixedIP: () => string | null;
  onChange: () => void;
}

function watchDNSService(o: WatchOptions): DNSServiceWatch {
  const { namespace, name } = o.ref;
  const text = serviceRefText(o.ref);
  const fieldSelector = `metadata.name=${name}`;
  const informer = new ResilientInformer<V1Service>({
    kubeConfig: o.kubeConfig,
    path: `/api/v1/namespaces/${namespace}/services`,
    list: () => o.core.listNamespacedService({ namespace, fieldSelector }),
    fieldSelector,
    log: o.log,
    name: `service ${text}`,
  });
  // The live clusterIPs as last observed, kept after a deletion: while the guardian restores
  // the Service on its fixed IP, a dual-stack cluster's pods still get both families.
  let liveIPs: readonly string[] = [];
  let present = false;
  let fixedList: readonly string[] = [];
  const ips = (): readonly string[] => {
    // While the Service is present its live IPs win: the settings are not read per review.
    const fixed = present ? null : o.fixedIP();
    const source = serviceIPsSource(liveIPs, present, fixed);
    if (source === "live") return liveIPs;
    if (source === "none") return NO_IPS;
    if (fixedList[0] !== fixed) fixedList = [fixed!];
    return fixedList;
  };
  const noteIPs = (svc: V1Service) => {
    const seen = serviceClusterIPs(svc);
    const changed = seen.join(",") !== liveIPs.join(",");
    if (changed) o.log.info({ service: text, clusterIPs: seen, previous: liveIPs }, "DNS Service clusterIPs observed");
    // A headless or IP-less Service gives no nameserver: fall back as if it were gone.
    present = seen.length > 0;
    // Kept as the same array while the IPs stay: readers per review (and the combined list of
    // several Services) see an unchanged list as unchanged.
    if (present && changed) liveIPs = seen;
    o.onChange();
  };
  informer.on("add", noteIPs);
  informer.on("update", noteIPs);
  informer.on("delete", () => {
    present = false;
    o.onChange();
    o.log.warn({ service: text, injecting: ips() }, "DNS Service deleted; injecting its last known IPs on the fixed IP until it is back");
  });
  return { ref: { namespace, name }, informer, fixedIP: o.fixedIP, ips };
}
