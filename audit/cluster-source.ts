/**
 * The cluster adapter of the audit: lists namespaces, pods and the pods' controllers from
 * the API server and feeds them to the pure findings. Every list is paginated (`limit` 500
 * and `continue`), never one giant list that would load the API server and our heap with
 * every pod at once; each page streams in item by item (list-stream.ts) and each pod is
 * trimmed to the fields the audit reads as soon as it is parsed.
 */
import { CoreV1Api, type KubeConfig, type V1Namespace, type V1OwnerReference, type V1Pod, type V1PodTemplateSpec } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION, INJECT_LABEL, MIRROR_POD_ANNOTATION, NDOTS_ANNOTATION, PROFILE_ANNOTATION } from "../config/names.js";
import { dnsServiceRefs, serviceRefText, type Settings } from "../config/settings.js";
import { uniqueIPs } from "../config/nameserver-tokens.js";
import { apiFailure } from "../kube/api-errors.js";
import type { PodLike } from "../webhook/decision.js";
import { serviceClusterIPs } from "../kube/service-ips.js";
import type { NamespaceFacts } from "../webhook/namespace-policy.js";
import { createPodAuditor, podDNSKey, type AuditedPod, type PodAudit } from "./findings.js";
import { ListError, streamListPage, type FieldSelection } from "./list-stream.js";
import { controllerOf, resolveWorkload, type OwnerLink, type OwnerObject, type Workload } from "./owners.js";
import { runDNSService, type AuditRun, type ExpectedDNS } from "./report.js";

export { ListError } from "./list-stream.js";
/**
 * Which namespaces: those opted in (inject label `enabled` or `audit`, the default), one
 * namespace whatever its label, or every namespace (pods where we do not inject are skipped
 * with the reason, which shows the coverage).
 */
export type AuditScope = { kind: "opted-in" } | { kind: "namespace"; name: string } | { kind: "all" };

/** The label selector of opted-in namespaces, as the webhook's namespaceSelector matches them. */
export const OPTED_IN_SELECTOR = `${INJECT_LABEL} in (enabled,audit)`;

export const DEFAULT_PAGE_SIZE = 500;

export interface ClusterAuditOptions {
  kubeConfig: KubeConfig;
  settings: Settings;
  scope: AuditScope;
  /**
   * The nameserver to expect, when the caller knows it (--nameserver, or serve's informer
   * cache); otherwise the DNS Service is read, falling back to the configured fixed IP.
   */
  dnsServiceIPs?: ExpectedDNS | undefined;
  /** Items per list request. Default 500. */
  pageSize?: number;
  /** Namespaces audited at the same time. Default 2: one request in flight while the other page is scanned; more only adds memory. */
  concurrency?: number;
  /** Checked between pages: a stopping server does not wait for a whole audit. */
  signal?: AbortSignal;
  now?: () => Date;
}

/** Thrown for a namespace asked for by name that does not exist: the CLI reports it as an input error. */
export class NamespaceNotFoundError extends Error {
  constructor(readonly namespace: string) {
    super(`namespace ${namespace} not found`);
  }
}

/** Audits the pods of the scope's namespaces. Throws on API failures, with what was being read. */
export async function auditCluster(options: ClusterAuditOptions): Promise<AuditRun & { warnings: string[] }> {
  const { kubeConfig, settings } = options;
  const core = kubeConfig.makeApiClient(CoreV1Api);
  const limit = options.pageSize ?? DEFAULT_PAGE_SIZE;
  const signal = options.signal;
  const generatedAt = (options.now ?? (() => new Date()))();
  const warnings: string[] = [];

  const dns = options.dnsServiceIPs ?? (await readDNSServiceIPs(core, settings));
  const namespaces = await listNamespaces(kubeConfig, core, options.scope, limit, signal);

  const pods: PodAudit[] = [];
  const queue = [...namespaces];
  const worker = async () => {
    for (let ns = queue.shift(); ns; ns = queue.shift()) {
      pods.push(...(await auditNamespace({ kubeConfig, ns, settings, dnsServiceIPs: dns.ips, newDNSServiceIPs: dns.newIPs, limit, signal, warnings })));
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, options.concurrency ?? 2) }, worker));

  return {
    context: { source: "cluster" },
    pods,
    namespaces: namespaces.map((n) => n.name).sort(),
    dnsService: runDNSService(settings, dns),
    generatedAt,
    warnings,
  };
}

/**
 * What the webhook injects for `dnsService`: each DNS Service's live clusterIPs (else its
 * configured fixed IP), in the order of settings `dnsServices`.
 */
export async function readDNSServiceIPs(core: CoreV1Api, settings: Settings): Promise<ExpectedDNS> {
  const perService: string[][] = [];
  let live = false;
  for (const ref of dnsServiceRefs(settings)) {
    let found: string[] = [];
    try {
      found = serviceClusterIPs(await core.readNamespacedService({ namespace: ref.namespace, name: ref.name }));
    } catch (err) {
      if (apiFailure(err).code !== 404) throw new Error(`get Service ${serviceRefText(ref)}: ${apiFailure(err).message}`, { cause: err });
    }
    if (found.length) live = true;
    else if (ref.clusterIP) found = [ref.clusterIP];
    perService.push(found);
  }
  const ips = uniqueIPs(perService);
  return { ips, source: ips.length === 0 ? "unknown" : live ? "live" : "configured", newIPs: perService.length > 1 ? perService[0] : undefined };
}

/**
 * The fields each list keeps per item: all the audit reads (see findings.ts and owners.ts),
 * down to the one label and the annotations the decision looks at (pod-view.ts READ_ANNOTATIONS).
 */
const DNS_FIELDS: FieldSelection = { dnsPolicy: true, hostNetwork: true, dnsConfig: true };
const DECISION_METADATA: FieldSelection = {
  labels: { [INJECT_LABEL]: true },
  annotations: { [INJECTED_ANNOTATION]: true, [MIRROR_POD_ANNOTATION]: true, [PROFILE_ANNOTATION]: true, [NDOTS_ANNOTATION]: true },
};
const POD_FIELDS: FieldSelection = {
  metadata: { name: true, uid: true, ownerReferences: true, deletionTimestamp: true, ...DECISION_METADATA },
  spec: DNS_FIELDS,
  status: { phase: true },
};
const OWNER_FIELDS: FieldSelection = { metadata: { name: true, ownerReferences: true }, spec: { template: { metadata: DECISION_METADATA, spec: DNS_FIELDS } } };
const NAMESPACE_FIELDS: FieldSelection = { metadata: { name: true, labels: true, annotations: true } };

/**
 * Every item of a paginated list, reduced to `select`: pages of `limit` items, following
 * `continue`, each item handed to `each` as it is complete. Checks `signal` between pages.
 *
 * @throws ListError naming the list, with the HTTP status (0: no answer).
 */
export async function forEachItem(
  kubeConfig: KubeConfig,
  what: string,
  path: string,
  query: Record<string, string | undefined>,
  select: FieldSelection | true,
  limit: number,
  each: (item: Record<string, unknown>) => void,
  signal?: AbortSignal,
): Promise<void> {
  let cont = "";
  do {
    signal?.throwIfAborted();
    try {
      cont = await streamListPage(kubeConfig, path, { ...query, limit, continue: cont }, select, each, signal);
    } catch (err) {
      if (signal?.aborted) throw signal.reason;
      const code = err instanceof ListError ? err.code : 0;
      // 410 Gone: the continue token expired (the list took minutes); a partial audit would be wrong.
      throw new ListError(`list ${what}: ${code ? `HTTP ${code}: ` : ""}${err instanceof Error ? err.message : String(err)}`, code, err);
    }
  } while (cont);
}

async function listNamespaces(kubeConfig: KubeConfig, core: CoreV1Api, scope: AuditScope, limit: number, signal: AbortSignal | undefined): Promise<NamespaceFacts[]> {
  const facts = (ns: V1Namespace): NamespaceFacts => ({ name: ns.metadata?.name ?? "", labels: ns.metadata?.labels ?? {}, annotations: ns.metadata?.annotations ?? {} });
  if (scope.kind === "namespace") {
    try {
      return [facts(await core.readNamespace({ name: scope.name }))];
    } catch (err) {
      if (apiFailure(err).code === 404) throw new NamespaceNotFoundError(scope.name);
      throw new Error(`get Namespace ${scope.name}: ${apiFailure(err).message}`, { cause: err });
    }
  }
  const out: NamespaceFacts[] = [];
  const labelSelector = scope.kind === "opted-in" ? OPTED_IN_SELECTOR : undefined;
  await forEachItem(kubeConfig, "namespaces", "/api/v1/namespaces", { labelSelector }, NAMESPACE_FIELDS, limit, (item) => out.push(facts(item)), signal);
  return out;
}

interface NamespaceAuditDeps {
  kubeConfig: KubeConfig;
  ns: NamespaceFacts;
  settings: Settings;
  dnsServiceIPs: readonly string[];
  newDNSServiceIPs: readonly string[] | undefined;
  limit: number;
  signal: AbortSignal | undefined;
  warnings: string[];
}

/** The controller kinds whose objects are listed to walk owner chains and read pod templates, and where. */
const OWNER_KINDS = {
  ReplicaSet: "/apis/apps/v1/namespaces/NS/replicasets",
  StatefulSet: "/apis/apps/v1/namespaces/NS/statefulsets",
  DaemonSet: "/apis/apps/v1/namespaces/NS/daemonsets",
  Job: "/apis/batch/v1/namespaces/NS/jobs",
  ReplicationController: "/api/v1/namespaces/NS/replicationcontrollers",
} as const;
type OwnerKind = keyof typeof OWNER_KINDS;

/**
 * A listed pod, kept until its namespace's owners are known: its identity and the first pod
 * with the same DNS fields (the pods of a workload share one). Kept small on purpose: how
 * much survives V8's young-generation collections is what makes V8 grow that generation.
 */
interface PodRecord {
  name: string;
  uid: string | undefined;
  /** The controller, one shared object per controller. */
  controller: OwnerLink | undefined;
  /** deletionTimestamp set, or phase Succeeded/Failed: the auditor skips these. */
  terminal: { deletionTimestamp?: unknown; phase?: string } | undefined;
  sample: AuditedPod;
}

async function auditNamespace(d: NamespaceAuditDeps): Promise<PodAudit[]> {
  const namespace = d.ns.name;
  const records: PodRecord[] = [];
  const samples = new Map<string, AuditedPod>();
  const controllers = new Map<string, OwnerLink>();
  const wanted = new Set<OwnerKind>();
  const nsPath = encodeURIComponent(namespace);
  await forEachItem(
    d.kubeConfig,
    `pods in namespace ${namespace}`,
    `/api/v1/namespaces/${nsPath}/pods`,
    {},
    POD_FIELDS,
    d.limit,
    (item) => {
      const pod = trimPod(item);
      const key = podDNSKey(pod);
      let sample = samples.get(key);
      if (!sample) samples.set(key, (sample = pod));
      let controller = controllerOf(pod.metadata.ownerReferences);
      if (controller) {
        const key = `${controller.kind}/${controller.name}`;
        controller = controllers.get(key) ?? (controllers.set(key, controller), controller);
        // Only the kinds the pods (and their ReplicaSets and Jobs) actually point at are listed.
        if (Object.hasOwn(OWNER_KINDS, controller.kind)) wanted.add(controller.kind as OwnerKind);
      }
      const phase = pod.status?.phase;
      const terminal = pod.metadata.deletionTimestamp ? { deletionTimestamp: pod.metadata.deletionTimestamp } : phase === "Succeeded" || phase === "Failed" ? { phase } : undefined;
      records.push({ name: pod.metadata.name, uid: pod.metadata.uid, controller, terminal, sample });
    },
    d.signal,
  );

  const owners = new Map<string, OwnerObject>();
  for (const kind of wanted) {
    try {
      await listOwners(d, kind, (o) => owners.set(`${o.kind}/${o.name}`, o));
    } catch (err) {
      if (!(err instanceof ListError) || err.code !== 403) throw err;
      // Without read access to a controller kind the audit still runs: owners stop at the pod's controller.
      d.warnings.push(`cannot list ${kind}s in namespace ${namespace} (forbidden): their pods' owners end at the ${kind}, and a restart's effect is judged from the pod itself`);
    }
  }
  const lookup = (kind: string, name: string) => owners.get(`${kind}/${name}`);
  const audit = createPodAuditor({ namespace, namespaceFacts: d.ns, settings: d.settings, dnsServiceIPs: d.dnsServiceIPs, newDNSServiceIPs: d.newDNSServiceIPs });
  // The pods of one controller share one Workload (and so their findings, see createPodAuditor).
  const workloads = new Map<OwnerLink, Workload>();
  return records.map((r) => {
    let workload = r.controller ? workloads.get(r.controller) : undefined;
    if (!workload) {
      const ownerReferences = r.controller ? [{ ...r.controller, controller: true }] : undefined;
      workload = resolveWorkload({ name: r.name, ownerReferences }, namespace, lookup);
      if (r.controller) workloads.set(r.controller, workload);
    }
    // The sample stands for this pod: same DNS fields, this pod's identity.
    const pod: AuditedPod = {
      metadata: {
        ...r.sample.metadata,
        name: r.name,
        ...(r.uid ? { uid: r.uid } : { uid: undefined }),
        ...(r.terminal?.deletionTimestamp ? { deletionTimestamp: r.terminal.deletionTimestamp } : { deletionTimestamp: undefined }),
      },
      spec: r.sample.spec,
      status: r.terminal?.phase ? { phase: r.terminal.phase } : undefined,
    };
    return audit(pod, workload);
  });
}

async function listOwners(d: NamespaceAuditDeps, kind: OwnerKind, keep: (o: OwnerObject) => void): Promise<void> {
  const namespace = d.ns.name;
  const path = OWNER_KINDS[kind].replace("NS", encodeURIComponent(namespace));
  await forEachItem(
    d.kubeConfig,
    `${kind}s in namespace ${namespace}`,
    path,
    {},
    OWNER_FIELDS,
    d.limit,
    (raw) => {
      const item = raw as { metadata?: { name?: string; ownerReferences?: V1OwnerReference[] }; spec?: { template?: V1PodTemplateSpec } };
      keep({ kind, name: item.metadata?.name ?? "", ownerReferences: item.metadata?.ownerReferences, template: trimTemplate(item.spec?.template) });
    },
    d.signal,
  );
}

/** The fields the audit reads, as plain data (whatever else a caller's object carries is dropped). */
export function trimPod(pod: V1Pod): AuditedPod {
  const m = pod.metadata ?? {};
  return {
    metadata: {
      name: m.name ?? "",
      ...(m.uid ? { uid: m.uid } : {}),
      ...(m.labels ? { labels: m.labels } : {}),
      ...(m.annotations ? { annotations: m.annotations } : {}),
      ...(m.ownerReferences
        ? { ownerReferences: m.ownerReferences.map((o) => ({ apiVersion: o.apiVersion, kind: o.kind, name: o.name, uid: o.uid, controller: o.controller })) }
        : {}),
      ...(m.deletionTimestamp ? { deletionTimestamp: m.deletionTimestamp } : {}),
    },
    spec: {
      ...(pod.spec?.dnsPolicy ? { dnsPolicy: pod.spec.dnsPolicy } : {}),
      ...(pod.spec?.hostNetwork !== undefined ? { hostNetwork: pod.spec.hostNetwork } : {}),
      ...(pod.spec?.dnsConfig ? { dnsConfig: pod.spec.dnsConfig } : {}),
    },
    status: pod.status?.phase ? { phase: pod.status.phase } : undefined,
  };
}

function trimTemplate(t: V1PodTemplateSpec | undefined): PodLike | undefined {
  if (!t) return undefined;
  return {
    metadata: { ...(t.metadata?.labels ? { labels: t.metadata.labels } : {}), ...(t.metadata?.annotations ? { annotations: t.metadata.annotations } : {}) },
    spec: {
      ...(t.spec?.dnsPolicy ? { dnsPolicy: t.spec.dnsPolicy } : {}),
      ...(t.spec?.hostNetwork !== undefined ? { hostNetwork: t.spec.hostNetwork } : {}),
      ...(t.spec?.dnsConfig ? { dnsConfig: t.spec.dnsConfig } : {}),
    },
  };
}
