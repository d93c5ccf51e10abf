/**
 * The admission decision applied to manifests instead of AdmissionReviews, as
 * `istioctl kube-inject` does: the same `decide` and `applyDecision`, with the request
 * facts synthesised (a Pod CREATE in the object's namespace). Pure.
 */
import { INJECT_LABEL, PROFILE_ANNOTATION } from "../config/names.js";
import { configuredDNSServiceIPs, type Settings } from "../config/settings.js";
import { applyDecision, decide, type Decision } from "./decision.js";
import { describeValue, isNamespaceName } from "../config/dns-limits.js";
import type { NamespaceFacts } from "./namespace-policy.js";
import { podCreateRequest } from "./pod-create.js";
import { describeObject, findPodTemplate, replacePodTemplate, type ManifestObject } from "./workloads.js";

export interface OfflineOptions {
  settings: Settings;
  /** --namespace; the object's own metadata.namespace wins; else `default`. */
  namespace?: string | undefined;
  /**
   * The namespace's facts. Default: the namespace counts as `enabled` (asking for offline
   * injection is the opt-in), with `profile` when given.
   */
  namespaceFacts?: ((name: string) => NamespaceFacts | undefined) | undefined;
  profile?: string | undefined;
  /** Overrides what `dnsService` stands for (--nameserver IP[,IP]); default: the configured fixed IP. */
  dnsServiceIPs?: readonly string[] | undefined;
}

export type OfflineResult =
  | { kind: "passed-through"; object: ManifestObject; what: string }
  | { kind: "decided"; object: ManifestObject; decision: Decision; namespace: string; what: string; templatePath: string[] }
  | { kind: "invalid"; error: string; what: string };

/**
 * `inject -f` for one manifest object: its pod template (Pod, Deployment, CronJob, ...) gets
 * what the webhook would do to the pods it creates; other kinds pass through unchanged, and
 * a broken template is `invalid` with the field named.
 */
export function injectManifest(obj: ManifestObject, options: OfflineOptions): OfflineResult {
  const what = describeObject(obj);
  const found = findPodTemplate(obj);
  if (found.kind === "not-a-workload") return { kind: "passed-through", object: obj, what };
  if (found.kind === "invalid") return { kind: "invalid", error: found.error, what };
  const ownNamespace = obj.metadata?.namespace;
  if (ownNamespace !== undefined && typeof ownNamespace !== "string") return { kind: "invalid", error: "metadata.namespace: expected a string", what };
  const namespace = ownNamespace || options.namespace || "default";
  if (!isNamespaceName(namespace)) {
    const from = ownNamespace ? "metadata.namespace" : "--namespace";
    return { kind: "invalid", error: `${from}: ${describeValue(namespace, 70)} is not a valid namespace name (a lowercase DNS-1123 label of at most 63 characters)`, what };
  }
  const facts = options.namespaceFacts
    ? options.namespaceFacts(namespace)
    : {
        name: namespace,
        labels: { [INJECT_LABEL]: "enabled" },
        annotations: options.profile ? { [PROFILE_ANNOTATION]: options.profile } : {},
      };
  const decision = decide({
    request: podCreateRequest(namespace),
    // Decided on the bounded view, as the webhook does; applied to the whole template.
    pod: found.read.pod,
    annotationBytes: found.read.annotationBytes,
    unread: found.read.unread,
    namespace: facts,
    dnsServiceIPs: options.dnsServiceIPs ?? configuredDNSServiceIPs(options.settings),
    settings: options.settings,
  });
  const object = decision.action === "inject" ? replacePodTemplate(obj, found.path, applyDecision(found.template, decision)) : obj;
  return { kind: "decided", object, decision, namespace, what, templatePath: found.path };
}
