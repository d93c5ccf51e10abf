/** Builders shared by the audit unit tests: stored pods as the API server returns them. */
import { INJECTED_ANNOTATION, INJECT_LABEL } from "../../../config/names.js";
import { defaultSettings, type Settings } from "../../../config/settings.js";
import { auditPod, type AuditedPod, type PodAudit } from "../../../audit/findings.js";
import type { OwnerReference, Workload } from "../../../audit/owners.js";
import { applyDecision, decide, hashDNSConfig } from "../../../webhook/decision.js";
import type { PodDNSConfig } from "../../../webhook/dns-config.js";
import type { NamespaceFacts } from "../../../webhook/namespace-policy.js";

export const NS = "team-a";
export const DNS_IP = "10.96.0.10";
export const NEW_DNS_IP = "10.96.0.53";

export function ns(mode: string | undefined, annotations: Record<string, string> = {}, name = NS): NamespaceFacts {
  return { name, labels: mode === undefined ? {} : { [INJECT_LABEL]: mode }, annotations };
}

/** A stored pod that nobody injected. */
export function plainPod(name = "web-1", extra: { spec?: Record<string, unknown>; metadata?: Record<string, unknown>; status?: { phase?: string } } = {}): AuditedPod {
  return {
    metadata: { name, uid: `uid-${name}`, ...extra.metadata },
    spec: { dnsPolicy: "ClusterFirst", ...extra.spec },
    ...(extra.status ? { status: extra.status } : {}),
  };
}

/** What kubelet's ClusterFirst gives with the default profile, as the webhook injects it. */
export function defaultDNS(ip = DNS_IP, namespace = NS, ndots = "5"): Required<PodDNSConfig> {
  return { nameservers: [ip], searches: [`${namespace}.svc.cluster.local`, "svc.cluster.local", "cluster.local"], options: [{ name: "ndots", value: ndots }] };
}

/** A pod as the webhook stored it when `facts` and `ip` held (the webhook's own applyDecision). */
export function injectedPod(name = "web-1", at: { ip?: string; facts?: NamespaceFacts; settings?: Settings; pod?: AuditedPod } = {}): AuditedPod {
  const pod = at.pod ?? plainPod(name);
  const d = decide({
    request: { kind: { group: "", version: "v1", kind: "Pod" }, operation: "CREATE", namespace: NS },
    pod,
    namespace: at.facts ?? ns("enabled"),
    dnsServiceIPs: [at.ip ?? DNS_IP],
    settings: at.settings ?? defaultSettings(),
  });
  if (d.action !== "inject") throw new Error(`fixture: expected an injection, got ${d.reason}`);
  return applyDecision(pod, d);
}

/** An injected pod written by hand: dnsPolicy None, the given dnsConfig and a matching annotation. */
export function podWithDNS(name: string, cfg: Required<PodDNSConfig>, profile = "default"): AuditedPod {
  return {
    metadata: { name, uid: `uid-${name}`, annotations: { [INJECTED_ANNOTATION]: `${profile}@${hashDNSConfig(cfg)}` } },
    spec: { dnsPolicy: "None", dnsConfig: cfg },
  };
}

export const bare = (name: string): Workload => ({ kind: "Pod", name, namespace: NS, chain: [] });

/** Deployment web's pods (through ReplicaSet web-5d8), with its pod template when given. */
export const deploymentWorkload = (template?: Workload["template"]): Workload => ({
  kind: "Deployment",
  name: "web",
  namespace: NS,
  chain: [
    { kind: "ReplicaSet", name: "web-5d8" },
    { kind: "Deployment", name: "web" },
  ],
  ...(template ? { template } : {}),
});

export function owned(kind: string, name: string): OwnerReference[] {
  return [{ apiVersion: "apps/v1", kind, name, uid: `uid-${name}`, controller: true }];
}

/** auditPod with the usual inputs; any of them overridden. */
export function audit(pod: AuditedPod, over: { facts?: NamespaceFacts | undefined; ip?: string | undefined; settings?: Settings; workload?: Workload } = {}): PodAudit {
  return auditPod({
    pod,
    namespace: NS,
    namespaceFacts: "facts" in over ? over.facts : ns("enabled"),
    settings: over.settings ?? defaultSettings(),
    dnsServiceIPs: "ip" in over ? (over.ip === undefined ? [] : [over.ip]) : [DNS_IP],
    workload: over.workload ?? bare(pod.metadata.name),
  });
}
