/**
 * Cluster-mode facts: namespaces from a Namespace informer (with a live read on a cache
 * miss, since a namespace created a moment ago may not have reached the cache), and the DNS
 * Service's live clusterIPs from an informer on that one Service.
 */
import { CoreV1Api, type KubeConfig, type V1Namespace, type V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { configuredDNSServiceIPs, type Settings } from "../config/settings.js";
import { ResilientInformer } from "../kube/informer.js";
import { serviceClusterIPs } from "../kube/service-ips.js";
import type { AdmissionFacts } from "./admission-facts.js";
import type { NamespaceFacts } from "./namespace-policy.js";

export interface ClusterFacts extends AdmissionFacts {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Informer readiness for /readyz. */
  readiness(): string | null;
  /** The live Service object, for the guardian and audits. */
  dnsService(): V1Service | undefined;
  /** Called whenever {@link AdmissionFacts.dnsServiceIPs} changes (the Service moved, lost a family, or went away). */
  onDNSServiceIPChange(cb: (ips: readonly string[], previous: readonly string[]) => void): void;
  namespaceInformer: ResilientInformer<V1Namespace>;
  serviceInformer: ResilientInformer<V1Service>;
}

/**
 * The admission facts in cluster mode: namespaces from a Namespace informer, the DNS
 * Service's live clusterIPs from an informer on it. Start it (and wait for it to sync) before
 * serving; a namespace missing from the cache (just created) is read from the API.
 */
export function clusterFacts(kubeConfig: KubeConfig, settings: () => Settings, log: Logger): ClusterFacts {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const { namespace: svcNamespace, name: svcName } = settings().dnsService;
  const namespaceInformer = new ResilientInformer<V1Namespace>({
    kubeConfig,
    path: "/api/v1/namespaces",
    list: () => core.listNamespace(),
    log,
    name: "namespaces",
  });
  const fieldSelector = `metadata.name=${svcName}`;
  const serviceInformer = new ResilientInformer<V1Service>({
    kubeConfig,
    path: `/api/v1/namespaces/${svcNamespace}/services`,
    list: () => core.listNamespacedService({ namespace: svcNamespace, fieldSelector }),
    fieldSelector,
    log,
    name: `service ${svcNamespace}/${svcName}`,
  });
  const toFacts = (ns: V1Namespace): NamespaceFacts => ({
    name: ns.metadata?.name ?? "",
    labels: ns.metadata?.labels ?? {},
    annotations: ns.metadata?.annotations ?? {},
  });
  // The live clusterIPs as last observed, kept after a deletion: while the guardian restores
  // the Service on its fixed IP, a dual-stack cluster's pods still get both families.
  let liveIPs: readonly string[] = [];
  let present = false;
  const ipListeners: ((ips: readonly string[], previous: readonly string[]) => void)[] = [];
  const effectiveIPs = (): readonly string[] => {
    const fixed = configuredDNSServiceIPs(settings());
    if (present && liveIPs.length) return liveIPs;
    // Gone: the last live list if it is the one on the fixed IP (what the guardian puts back).
    return liveIPs.length && (fixed.length === 0 || liveIPs[0] === fixed[0]) ? liveIPs : fixed;
  };
  let lastEffective: readonly string[] = [];
  const notify = () => {
    const next = effectiveIPs();
    if (next.join(",") === lastEffective.join(",")) return;
    const previous = lastEffective;
    lastEffective = next;
    for (const cb of ipListeners) cb(next, previous);
  };
  const dnsService = () => serviceInformer.cache.get(svcName, svcNamespace);
  serviceInformer.on("add", (svc) => noteIPs(svc));
  serviceInformer.on("update", (svc) => noteIPs(svc));
  serviceInformer.on("delete", () => {
    present = false;
    notify();
    log.warn({ service: `${svcNamespace}/${svcName}`, injecting: effectiveIPs() }, "DNS Service deleted; injecting its last known IPs on the fixed IP until it is back");
  });
  function noteIPs(svc: V1Service): void {
    const ips = serviceClusterIPs(svc);
    if (ips.join(",") !== liveIPs.join(",")) log.info({ service: `${svcNamespace}/${svcName}`, clusterIPs: ips, previous: liveIPs }, "DNS Service clusterIPs observed");
    // A headless or IP-less Service gives no nameserver: fall back as if it were gone.
    present = ips.length > 0;
    if (ips.length) liveIPs = ips;
    notify();
  }

  return {
    namespaceInformer,
    serviceInformer,
    async start() {
      await Promise.all([namespaceInformer.start(), serviceInformer.start()]);
    },
    async stop() {
      await Promise.all([namespaceInformer.stop(), serviceInformer.stop()]);
    },
    readiness() {
      return namespaceInformer.readiness() ?? serviceInformer.readiness();
    },
    dnsService,
    onDNSServiceIPChange: (cb) => void ipListeners.push(cb),
    async lookupNamespace(name) {
      const cached = namespaceInformer.cache.get(name);
      if (cached) return toFacts(cached);
      try {
        return toFacts(await core.readNamespace({ name }));
      } catch (err) {
        if ((err as { code?: number }).code === 404) return undefined;
        throw new Error(`get Namespace ${name}`, { cause: err });
      }
    },
    dnsServiceIPs: effectiveIPs,
  };
}
