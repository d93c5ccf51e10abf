/**
 * The last good copy of the DNS Service: everything needed to recreate it on its fixed IP
 * (ports, selector, labels, annotations, IP families) and nothing the API server owns
 * (uid, resourceVersion, status, allocated node ports). Pure.
 */
import type { V1Service, V1ServicePort } from "@kubernetes/client-node";
import { ALLOW_DELETE_ANNOTATION } from "../config/names.js";
import { ipFamily } from "../config/dns-limits.js";

export interface ServiceSnapshot {
  namespace: string;
  name: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
  clusterIP: string;
  /** Every family's IP, primary first (absent in copies stored before dual-stack support). */
  clusterIPs?: string[] | undefined;
  ports: V1ServicePort[];
  selector: Record<string, string>;
  ipFamilies?: string[] | undefined;
  ipFamilyPolicy?: string | undefined;
  sessionAffinity?: string | undefined;
  publishNotReadyAddresses?: boolean | undefined;
  internalTrafficPolicy?: string | undefined;
}

/**
 * Annotations the API server or kubectl manage; copying them into a new object misleads.
 * The deletion guard's override is one act, not a state: a restored Service is guarded again.
 */
const VOLATILE_ANNOTATIONS = ["kubectl.kubernetes.io/last-applied-configuration", ALLOW_DELETE_ANNOTATION];

/**
 * The parts of the DNS Service the guardian restores it from: name, labels, annotations
 * (without volatile ones, such as the deletion override), clusterIP, selector and ports.
 */
export function snapshotFromService(svc: V1Service): ServiceSnapshot {
  const annotations = { ...(svc.metadata?.annotations ?? {}) };
  for (const a of VOLATILE_ANNOTATIONS) delete annotations[a];
  const spec = svc.spec ?? {};
  return {
    namespace: svc.metadata?.namespace ?? "",
    name: svc.metadata?.name ?? "",
    labels: { ...(svc.metadata?.labels ?? {}) },
    annotations,
    clusterIP: spec.clusterIP ?? "",
    clusterIPs: spec.clusterIPs ? [...spec.clusterIPs] : undefined,
    // nodePort is allocated by the API server; a ClusterIP Service has none, keep it out.
    ports: (spec.ports ?? []).map(({ nodePort: _n, ...p }) => ({ ...p })),
    selector: { ...(spec.selector ?? {}) },
    ipFamilies: spec.ipFamilies ? [...spec.ipFamilies] : undefined,
    ipFamilyPolicy: spec.ipFamilyPolicy,
    sessionAffinity: spec.sessionAffinity,
    publishNotReadyAddresses: spec.publishNotReadyAddresses,
    internalTrafficPolicy: spec.internalTrafficPolicy,
  };
}

/**
 * The Service to create: the snapshot on `fixedIP` (clusterIP is immutable: set at creation).
 * A dual-stack copy comes back dual-stack: its second family's IP (what pods injected with
 * both point at), `ipFamilies` and `ipFamilyPolicy` are restored with it.
 */
export function serviceFromSnapshot(snapshot: ServiceSnapshot, fixedIP: string, extraAnnotations: Record<string, string> = {}): V1Service {
  const spec: NonNullable<V1Service["spec"]> = {
    type: "ClusterIP",
    clusterIP: fixedIP,
    clusterIPs: [fixedIP, ...secondaryIPs(snapshot, fixedIP)],
    ports: snapshot.ports.map((p) => ({ ...p })),
    selector: { ...snapshot.selector },
  };
  // The families follow the IPs we pin; when the fixed IP is of another family than the
  // copy's primary (a re-addressed cluster), the API server defaults them from clusterIPs.
  if (snapshot.ipFamilies?.length && ipFamily(fixedIP) === snapshot.ipFamilies[0]) {
    // A family without a known IP (a copy stored before clusterIPs were kept) is allocated anew.
    spec.ipFamilies = [...snapshot.ipFamilies];
    if (snapshot.ipFamilyPolicy) spec.ipFamilyPolicy = snapshot.ipFamilyPolicy;
  }
  if (snapshot.sessionAffinity) spec.sessionAffinity = snapshot.sessionAffinity;
  if (snapshot.publishNotReadyAddresses !== undefined) spec.publishNotReadyAddresses = snapshot.publishNotReadyAddresses;
  if (snapshot.internalTrafficPolicy) spec.internalTrafficPolicy = snapshot.internalTrafficPolicy;
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: snapshot.name, namespace: snapshot.namespace, labels: { ...snapshot.labels }, annotations: { ...snapshot.annotations, ...extraAnnotations } },
    spec,
  };
}

/** The copy's other-family IP, when it had one and the fixed IP is of its primary family. */
function secondaryIPs(snapshot: ServiceSnapshot, fixedIP: string): string[] {
  const ips = snapshot.clusterIPs ?? [];
  if (ips.length < 2 || ipFamily(fixedIP) !== ipFamily(ips[0]!)) return [];
  return ips.slice(1).filter((ip) => ipFamily(ip) !== ipFamily(fixedIP));
}

/** True when two snapshots describe the same Service (so an unchanged one is not rewritten). */
export function sameSnapshot(a: ServiceSnapshot | undefined, b: ServiceSnapshot | undefined): boolean {
  return JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
}
