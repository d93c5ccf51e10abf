/**
 * Cluster-mode facts: namespaces from a Namespace informer (with a live read on a cache
 * miss, since a namespace created a moment ago may not have reached the cache), and the DNS
 * Service's live clusterIP from an informer on that one Service.
 */
import { CoreV1Api, type KubeConfig, type V1Namespace, type V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Settings } from "../config/settings.js";
import { ResilientInformer } from "../kube/informer.js";
import { canonicalIP } from "../config/dns-limits.js";
import type { AdmissionFacts } from "./admission-facts.js";
import type { NamespaceFacts } from "./namespace-policy.js";

export interface ClusterFacts extends AdmissionFacts {
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Informer readiness for /readyz. */
  readiness(): string | null;
  /** The live Service object, for the guardian and audits. */
  dnsService(): V1Service | undefined;
  /** Called whenever the live clusterIP changes (including the Service going away). */
  onDNSServiceIPChange(cb: (ip: string | undefined, previous: string | undefined) => void): void;
  namespaceInformer: ResilientInformer<V1Namespace>;
  serviceInformer: ResilientInformer<V1Service>;
}

/**
 * The admission facts in cluster mode: namespaces from a Namespace informer, the DNS
 * Service's live clusterIP from an informer on it. Start it (and wait for it to sync) before
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
  let lastIP: string | undefined;
  const ipListeners: ((ip: string | undefined, previous: string | undefined) => void)[] = [];
  const setIP = (ip: string | undefined) => {
    if (ip === lastIP) return;
    const previous = lastIP;
    lastIP = ip;
    for (const cb of ipListeners) cb(ip, previous);
  };
  const dnsService = () => serviceInformer.cache.get(svcName, svcNamespace);
  serviceInformer.on("add", (svc) => noteIP(svc));
  serviceInformer.on("update", (svc) => noteIP(svc));
  serviceInformer.on("delete", () => {
    log.warn({ service: `${svcNamespace}/${svcName}` }, "DNS Service deleted; injecting the configured fixed IP until it is back");
    setIP(undefined);
  });
  function noteIP(svc: V1Service): void {
    const ip = svc.spec?.clusterIP ? canonicalIP(svc.spec.clusterIP) ?? undefined : undefined;
    if (ip !== lastIP) log.info({ service: `${svcNamespace}/${svcName}`, clusterIP: ip ?? null, previous: lastIP ?? null }, "DNS Service clusterIP observed");
    setIP(ip);
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
    dnsServiceIP() {
      const svc = dnsService();
      const live = svc?.spec?.clusterIP ? canonicalIP(svc.spec.clusterIP) : null;
      return live ?? settings().dnsService.clusterIP ?? undefined;
    },
  };
}
