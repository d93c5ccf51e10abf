/**
 * Which workload owns a pod, and what an operator runs to give its pods the current DNS.
 * Pod DNS fields are immutable after creation, so every fix is "get the pod recreated": a
 * rollout restart for Deployments, StatefulSets and DaemonSets, something else for the rest.
 * Pure: the owner objects come from an injected lookup (the cluster source lists them; the
 * unit tests pass a table).
 */
import { INJECT_LABEL, PRODUCT } from "../config/names.js";
import type { PodLike } from "../webhook/decision.js";

/** The fields of a metav1.OwnerReference we read. */
export interface OwnerReference {
  apiVersion?: string | undefined;
  kind?: string | undefined;
  name?: string | undefined;
  uid?: string | undefined;
  controller?: boolean | undefined;
}

/** An owner object as the lookup returns it: its own owners and, for controllers of pods, its pod template. */
export interface OwnerObject {
  kind: string;
  name: string;
  ownerReferences?: OwnerReference[] | undefined;
  /** The pod template the object creates pods from (ReplicaSet, StatefulSet, DaemonSet, Job, ReplicationController). */
  template?: PodLike | undefined;
}

/** Finds an owner object in the pod's namespace; undefined when it is gone or its kind is not looked up. */
export type OwnerLookup = (kind: string, name: string) => OwnerObject | undefined;

/** One link of an owner chain. */
export interface OwnerLink {
  kind: string;
  name: string;
}

/**
 * The workload a pod belongs to: the top of its controller chain (Pod → ReplicaSet →
 * Deployment, Job → CronJob, StatefulSet, DaemonSet), or the pod itself when it has no
 * controller.
 */
export interface Workload {
  kind: string;
  name: string;
  namespace: string;
  /** The controllers from the pod's own up to the workload; empty for a bare pod. */
  chain: OwnerLink[];
  /**
   * The pod template of the pod's nearest controller that the lookup found: what a
   * recreated pod is built from, so the audit can tell what a restart would produce.
   */
  template?: PodLike | undefined;
}

/** Controllers deeper than this are a loop or something exotic; the walk stops there. */
const MAX_CHAIN = 5;

/** The controlling owner reference (the one with `controller: true`): only it recreates the pod. */
export function controllerOf(owners: readonly OwnerReference[] | undefined): OwnerLink | undefined {
  const ref = owners?.find((o) => o.controller === true && typeof o.kind === "string" && typeof o.name === "string");
  return ref ? { kind: ref.kind as string, name: ref.name as string } : undefined;
}

/**
 * Walks the controller chain of a pod through `lookup`. A controller that the lookup does
 * not know (deleted, or a kind it does not list such as Deployment or a custom resource)
 * ends the walk and is the workload.
 */
export function resolveWorkload(pod: { name: string; ownerReferences?: readonly OwnerReference[] | undefined }, namespace: string, lookup: OwnerLookup): Workload {
  const chain: OwnerLink[] = [];
  let template: PodLike | undefined;
  let next = controllerOf(pod.ownerReferences);
  while (next && chain.length < MAX_CHAIN) {
    if (chain.some((l) => l.kind === next!.kind && l.name === next!.name)) break; // a cycle: stop
    chain.push(next);
    const found = lookup(next.kind, next.name);
    if (!found) break;
    template ??= found.template;
    next = controllerOf(found.ownerReferences);
  }
  const top = chain.at(-1);
  return { kind: top?.kind ?? "Pod", name: top?.name ?? pod.name, namespace, chain, ...(template ? { template } : {}) };
}

/** `deployment/web`: the kubectl resource/name form, also the table's WORKLOAD column. */
export function workloadRef(w: Pick<Workload, "kind" | "name">): string {
  return `${w.kind.toLowerCase()}/${w.name}`;
}

/** How the audited objects got there: running pods, or manifests in a file (offline audit). */
export type FixContext = { source: "cluster" } | { source: "manifest"; file: string };

/** The finding kinds the fix text distinguishes; see findings.ts for their meaning. */
export type FixFor = "recreate" | "would-inject" | "foreign-dns";

/**
 * What to run so that the workload's pods get the current DNS. `pods` names the affected
 * pods (for the kinds where the pods themselves must be deleted).
 */
export function fixText(workload: Workload, pods: readonly string[], why: FixFor, context: FixContext = { source: "cluster" }): string {
  if (why === "foreign-dns") {
    return "informational: the pod sets dnsPolicy None with its own nameservers; if it must resolve Service names, add the cluster DNS IP to spec.dnsConfig.nameservers, or drop dnsPolicy None so that pod-dns-injector manages its DNS";
  }
  if (context.source === "manifest") {
    // Re-injecting an injected manifest would keep its stale entries as the pod's own: start from the original.
    const inject = `${PRODUCT} inject -f <un-injected manifests>`;
    return why === "would-inject"
      ? `nothing to apply while the namespace is in audit mode; once it is enabled, inject the manifests offline (${inject}) or let the webhook inject the pods at admission`
      : `inject the original, un-injected manifests again and commit the output: ${inject} (source: ${context.file})`;
  }
  const restart = recreateText(workload, pods);
  if (why === "would-inject") {
    return `the namespace is in audit mode: to apply, kubectl label namespace ${workload.namespace} ${INJECT_LABEL}=enabled --overwrite; then ${restart}`;
  }
  return restart;
}

/**
 * Whether {@link fixText} names the pods themselves (a bare pod, or a controller without a
 * rollout): otherwise every pod of a workload shares one fix text.
 */
export function fixNamesPods(kind: string, why: FixFor, context: FixContext = { source: "cluster" }): boolean {
  if (why === "foreign-dns" || context.source === "manifest") return false;
  return !["Deployment", "StatefulSet", "DaemonSet", "Job", "CronJob"].includes(kind);
}

function recreateText(w: Workload, pods: readonly string[]): string {
  const ns = w.namespace;
  const podList = pods.length ? pods.join(" ") : w.name;
  switch (w.kind) {
    case "Deployment":
    case "StatefulSet":
    case "DaemonSet":
      return `kubectl rollout restart ${workloadRef(w)} -n ${ns}`;
    case "ReplicaSet":
    case "ReplicationController":
      // Not managed by a Deployment: no rollout to restart, but the controller replaces deleted pods.
      return `kubectl delete pod ${podList} -n ${ns} (${w.kind} ${w.name} recreates them)`;
    case "Job":
      // A Job's selector carries its uid, so `kubectl replace --force` of the stored object fails.
      return `job/${w.name} keeps its pods until they finish; to apply now, delete it and create it again from its manifest (kubectl delete job ${w.name} -n ${ns}; kubectl apply -f <manifest>)`;
    case "CronJob":
      return `the next run of cronjob/${w.name} gets the current DNS; to run it now: kubectl create job ${w.name}-dns-rerun --from=cronjob/${w.name} -n ${ns}${w.chain[0]?.kind === "Job" ? ` (the running job/${w.chain[0].name} keeps its DNS until it finishes)` : ""}`;
    case "Pod":
      return `recreate the pod: kubectl delete pod ${podList} -n ${ns}, then create it again from its manifest (pod DNS is fixed at creation)`;
    default:
      return `kubectl delete pod ${podList} -n ${ns} (its controller ${w.kind} ${w.name} recreates them)`;
  }
}
