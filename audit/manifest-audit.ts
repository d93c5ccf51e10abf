/**
 * The offline audit: pod templates in manifests (Pods, Deployments, StatefulSets,
 * DaemonSets, ReplicaSets, Jobs, CronJobs) judged by the same findings as running pods, as
 * a gate for GitOps repositories that commit offline-injected manifests: a manifest injected
 * before a DNS IP change or a profile change fails. Pure.
 */
import { INJECT_LABEL, PROFILE_ANNOTATION, type NamespaceMode } from "../config/names.js";
import { configuredDNSServiceIPs, dnsServiceRefs, type Settings } from "../config/settings.js";
import type { NamespaceFacts } from "../webhook/namespace-policy.js";
import { describeObject, findPodTemplate, type ManifestObject } from "../webhook/workloads.js";
import { createPodAuditor, type AuditedPod, type PodAudit, type PodAuditor } from "./findings.js";
import { runDNSService, type AuditRun, type ExpectedDNS } from "./report.js";

export interface ManifestAuditOptions {
  settings: Settings;
  /** The file name for messages and fix texts (`<stdin>` for -). */
  source: string;
  /** For objects without metadata.namespace (-n); default `default`. */
  namespace?: string | undefined;
  /** The namespaces' mode; offline, a namespace counts as `enabled` unless told otherwise. */
  mode?: NamespaceMode | undefined;
  /** The namespaces' profile annotation. */
  profile?: string | undefined;
  /** The nameserver to expect; default the configured fixed IP. */
  dnsServiceIPs?: ExpectedDNS | undefined;
  now?: () => Date;
}

export interface ManifestDocumentInput {
  /** 1-based position in the stream, for messages. */
  index: number;
  object: ManifestObject | null;
}

export interface ManifestAudit {
  run: AuditRun;
  /** Documents whose pod template is malformed; the CLI turns them into input errors. */
  invalid: { index: number; what: string; error: string }[];
}

/**
 * Audits manifests offline (`audit -f`): every workload's pod template goes through the
 * webhook's own decision as if created in `options.namespace` (or its own) with the given
 * mode and profile. Documents that are not workloads are skipped; broken ones are listed in
 * `invalid` by index, never thrown.
 */
export function auditManifests(documents: readonly ManifestDocumentInput[], options: ManifestAuditOptions): ManifestAudit {
  const { settings } = options;
  const configured = configuredDNSServiceIPs(settings);
  const first = dnsServiceRefs(settings)[0]?.clusterIP;
  const migrating = dnsServiceRefs(settings).length > 1 && first ? [first] : undefined;
  const dns: ExpectedDNS = options.dnsServiceIPs ?? { ips: configured, source: configured.length ? "configured" : "unknown", newIPs: migrating };
  const facts = (name: string): NamespaceFacts => ({
    name,
    labels: { [INJECT_LABEL]: options.mode ?? "enabled" },
    annotations: options.profile ? { [PROFILE_ANNOTATION]: options.profile } : {},
  });
  const pods: PodAudit[] = [];
  const invalid: ManifestAudit["invalid"] = [];
  const auditors = new Map<string, PodAuditor>();
  const auditorFor = (namespace: string): PodAuditor => {
    let a = auditors.get(namespace);
    if (!a)
      auditors.set(
        namespace,
        (a = createPodAuditor({
          namespace,
          namespaceFacts: facts(namespace),
          settings,
          dnsServiceIPs: dns.ips,
          newDNSServiceIPs: dns.newIPs,
          context: { source: "manifest", file: options.source },
        })),
      );
    return a;
  };
  for (const doc of documents) {
    if (doc.object === null) continue;
    const obj = doc.object;
    const what = describeObject(obj);
    const found = findPodTemplate(obj);
    if (found.kind === "not-a-workload") continue;
    if (found.kind === "invalid") {
      invalid.push({ index: doc.index, what, error: found.error });
      continue;
    }
    const ownNamespace = obj.metadata?.namespace;
    if (ownNamespace !== undefined && typeof ownNamespace !== "string") {
      invalid.push({ index: doc.index, what, error: "metadata.namespace: expected a string" });
      continue;
    }
    const namespace = ownNamespace || options.namespace || "default";
    const kind = String(obj.kind);
    const name =
      typeof obj.metadata?.name === "string" ? obj.metadata.name : typeof obj.metadata?.generateName === "string" ? `${obj.metadata.generateName}*` : `(document ${doc.index})`;
    const template = found.template;
    const pod: AuditedPod = { metadata: { ...(template.metadata ?? {}), name }, spec: template.spec ?? {} };
    // The manifest is both the pod and its template: deciding it is what applying it produces.
    pods.push(auditorFor(namespace)(pod, { kind, name, namespace, chain: kind === "Pod" ? [] : [{ kind, name }] }));
  }
  return {
    run: {
      context: { source: "manifest", file: options.source },
      pods,
      namespaces: [...auditors.keys()].sort(),
      dnsService: runDNSService(settings, dns),
      generatedAt: (options.now ?? (() => new Date()))(),
    },
    invalid,
  };
}
