/**
 * Remediation: from an audit run, which workloads to restart so that their pods get the
 * current DNS, and when a restart has finished rolling out. Pod DNS is fixed at creation,
 * so the only repair is a new pod; for Deployments, StatefulSets and DaemonSets that is a
 * rollout restart (the `kubectl.kubernetes.io/restartedAt` template annotation, exactly
 * what `kubectl rollout restart` writes). Everything else (bare pods, Jobs, CronJobs,
 * ReplicaSets without a Deployment, custom controllers) is listed with the audit's fix and
 * never deleted: losing a bare pod or a running Job's work is the operator's call.
 * Pure: the CLI adapter (cli/restart.ts) reads and patches the objects.
 */
import type { PodAudit } from "./findings.js";
import { workloadRef } from "./owners.js";

/** The template annotation `kubectl rollout restart` sets; a changed value rolls the pods. */
export const RESTARTED_AT_ANNOTATION = "kubectl.kubernetes.io/restartedAt";

export const RESTARTABLE_KINDS = ["Deployment", "StatefulSet", "DaemonSet"] as const;
export type RestartableKind = (typeof RESTARTABLE_KINDS)[number];

/** A workload whose pods a rollout restart fixes. */
export interface RestartTarget {
  kind: RestartableKind;
  namespace: string;
  name: string;
  /** The non-conforming pods it owns, sorted. */
  pods: string[];
}

/** A workload (or bare pod) the restart command only lists, with what to do by hand. */
export interface ManualFix {
  kind: string;
  namespace: string;
  name: string;
  pods: string[];
  fix: string;
}

export interface RestartPlan {
  restarts: RestartTarget[];
  manual: ManualFix[];
  /** Non-conforming pods in namespaces the injector never touches (defence in depth: the audit skips them already). */
  excluded: { namespace: string; pod: string }[];
}

const isRestartable = (kind: string): kind is RestartableKind => (RESTARTABLE_KINDS as readonly string[]).includes(kind);

/**
 * The plan for an audit run: one entry per workload with failing pods (not injected,
 * stale nameserver, drift). Pods that only warn (would-inject in audit-mode namespaces,
 * foreign DNS) are left alone: restarting them changes nothing.
 */
export function planRestarts(pods: readonly PodAudit[], excludedNamespaces: ReadonlySet<string>): RestartPlan {
  const restarts = new Map<string, RestartTarget>();
  const manual = new Map<string, ManualFix>();
  const excluded: RestartPlan["excluded"] = [];
  for (const p of pods) {
    if (p.result !== "fail") continue;
    if (excludedNamespaces.has(p.namespace)) {
      excluded.push({ namespace: p.namespace, pod: p.name });
      continue;
    }
    const w = p.workload;
    const key = `${w.namespace}/${w.kind}/${w.name}`;
    if (isRestartable(w.kind)) {
      const target = restarts.get(key) ?? { kind: w.kind, namespace: w.namespace, name: w.name, pods: [] };
      target.pods.push(p.name);
      restarts.set(key, target);
    } else {
      const entry = manual.get(key) ?? { kind: w.kind, namespace: w.namespace, name: w.name, pods: [], fix: "" };
      entry.pods.push(p.name);
      // The audit's fix text names the pods for kinds whose pods must be deleted; the last one names them all.
      entry.fix = p.findings.find((f) => f.result === "fail")?.fix ?? entry.fix;
      manual.set(key, entry);
    }
  }
  const byName = <T extends { namespace: string; kind: string; name: string }>(a: T, b: T) =>
    a.namespace.localeCompare(b.namespace) || a.kind.localeCompare(b.kind) || a.name.localeCompare(b.name);
  const sorted = <T extends { pods: string[] }>(items: Iterable<T>) => [...items].map((i) => ({ ...i, pods: [...i.pods].sort() }));
  return { restarts: sorted(restarts.values()).sort(byName), manual: sorted(manual.values()).sort(byName), excluded };
}

/** The fields of a Deployment, StatefulSet or DaemonSet that tell whether (and how far) it rolled out. */
export interface WorkloadObject {
  metadata?: { generation?: number | undefined; annotations?: Record<string, string> | undefined } | undefined;
  spec?:
    | {
        replicas?: number | undefined;
        paused?: boolean | undefined;
        updateStrategy?: { type?: string | undefined; rollingUpdate?: { partition?: number | undefined; maxUnavailable?: unknown } | undefined } | undefined;
      }
    | undefined;
  status?:
    | {
        observedGeneration?: number | undefined;
        replicas?: number | undefined;
        updatedReplicas?: number | undefined;
        availableReplicas?: number | undefined;
        readyReplicas?: number | undefined;
        currentRevision?: string | undefined;
        updateRevision?: string | undefined;
        desiredNumberScheduled?: number | undefined;
        updatedNumberScheduled?: number | undefined;
        numberAvailable?: number | undefined;
        conditions?: { type?: string | undefined; reason?: string | undefined; message?: string | undefined }[] | undefined;
      }
    | undefined;
}

/**
 * Why a rollout restart would not recreate this workload's pods, or undefined when it
 * would: a paused Deployment rolls nothing until resumed (kubectl refuses it too), and the
 * OnDelete update strategy replaces a pod only when someone deletes it.
 */
export function restartBlocker(target: Pick<RestartTarget, "kind" | "namespace" | "name" | "pods">, obj: WorkloadObject): string | undefined {
  if (target.kind === "Deployment" && obj.spec?.paused === true) {
    return `the Deployment is paused and would roll nothing: kubectl rollout resume ${workloadRef(target)} -n ${target.namespace}, then run restart again`;
  }
  if (target.kind !== "Deployment" && obj.spec?.updateStrategy?.type === "OnDelete") {
    return `updateStrategy OnDelete: a restart recreates no pod; kubectl delete pod ${target.pods.join(" ")} -n ${target.namespace} (the ${target.kind} recreates them)`;
  }
  return undefined;
}

export type RolloutState = { state: "done" } | { state: "progressing"; detail: string } | { state: "failed"; detail: string };

/**
 * Whether a restarted workload has rolled out, by the same rules as `kubectl rollout
 * status`: the controller observed the new generation, every replica is updated, old
 * ones are gone and the new ones are available (ready for StatefulSets).
 */
export function rolloutState(kind: RestartableKind, obj: WorkloadObject): RolloutState {
  const s = obj.status ?? {};
  if (count(s.observedGeneration) < count(obj.metadata?.generation)) return { state: "progressing", detail: "waiting for the controller to observe the restart" };
  const want = obj.spec?.replicas ?? 1;
  switch (kind) {
    case "Deployment":
      return deploymentState(want, s);
    case "StatefulSet":
      return statefulSetState(want, obj.spec?.updateStrategy?.rollingUpdate?.partition ?? 0, s);
    case "DaemonSet":
      return daemonSetState(s);
  }
}

type WorkloadStatus = NonNullable<WorkloadObject["status"]>;
const count = (n: number | undefined) => n ?? 0;
const progressing = (detail: string): RolloutState => ({ state: "progressing", detail });

function deploymentState(want: number, s: WorkloadStatus): RolloutState {
  const deadline = s.conditions?.find((c) => c.type === "Progressing" && c.reason === "ProgressDeadlineExceeded");
  if (deadline) return { state: "failed", detail: `exceeded its progress deadline${deadline.message ? `: ${deadline.message}` : ""}` };
  const [updated, total, available] = [count(s.updatedReplicas), count(s.replicas), count(s.availableReplicas)];
  if (updated < want) return progressing(`${updated} of ${want} replicas updated`);
  if (total > updated) return progressing(`${total - updated} old replicas pending termination`);
  if (available < updated) return progressing(`${available} of ${updated} updated replicas available`);
  return { state: "done" };
}

function statefulSetState(want: number, partition: number, s: WorkloadStatus): RolloutState {
  const [ready, updated] = [count(s.readyReplicas), count(s.updatedReplicas)];
  if (ready < want) return progressing(`${ready} of ${want} pods ready`);
  if (partition > 0) {
    // Pods below the partition are not updated by design; the rollout ends at the partition.
    const expected = Math.max(want - partition, 0);
    return updated < expected ? progressing(`${updated} of ${expected} pods updated (partition ${partition})`) : { state: "done" };
  }
  if (s.updateRevision !== s.currentRevision) return progressing(`${updated} of ${want} pods at the new revision`);
  return { state: "done" };
}

function daemonSetState(s: WorkloadStatus): RolloutState {
  const [want, updated, available] = [count(s.desiredNumberScheduled), count(s.updatedNumberScheduled), count(s.numberAvailable)];
  if (updated < want) return progressing(`${updated} of ${want} pods updated`);
  if (available < want) return progressing(`${available} of ${want} updated pods available`);
  return { state: "done" };
}

/** The merge patch that restarts a workload's pods at `now`, in kubectl's RFC 3339 seconds form. */
export function restartPatch(now: Date): { spec: { template: { metadata: { annotations: Record<string, string> } } } } {
  const at = now.toISOString().replace(/\.\d{3}Z$/, "Z");
  return { spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: at } } } } };
}
