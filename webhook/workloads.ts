/**
 * Finds the pod (template) inside a manifest: a Pod itself, the `spec.template` of
 * Deployment, StatefulSet, DaemonSet, ReplicaSet and Job, the `spec.jobTemplate.spec.template`
 * of a CronJob. Used by offline `inject`, `explain` and manifest audits, so the same
 * decision runs on files and on admission requests. Pure.
 */
import type { PodLike } from "./decision.js";
import { readPod, type PodRead } from "./pod-view.js";
import { isObject } from "../config/json-shapes.js";

export interface ManifestObject {
  apiVersion?: unknown;
  kind?: unknown;
  metadata?: { name?: unknown; namespace?: unknown; generateName?: unknown } & Record<string, unknown>;
  [key: string]: unknown;
}

/** Where the pod template sits, per kind. Other kinds pass through unchanged. */
const TEMPLATE_PATHS: Record<string, { apiVersions: string[]; path: string[] }> = {
  Pod: { apiVersions: ["v1"], path: [] },
  Deployment: { apiVersions: ["apps/v1"], path: ["spec", "template"] },
  StatefulSet: { apiVersions: ["apps/v1"], path: ["spec", "template"] },
  DaemonSet: { apiVersions: ["apps/v1"], path: ["spec", "template"] },
  ReplicaSet: { apiVersions: ["apps/v1"], path: ["spec", "template"] },
  Job: { apiVersions: ["batch/v1"], path: ["spec", "template"] },
  CronJob: { apiVersions: ["batch/v1"], path: ["spec", "jobTemplate", "spec", "template"] },
};

export const WORKLOAD_KINDS = Object.keys(TEMPLATE_PATHS);

export type TemplateLookup = { kind: "pod-template"; path: string[]; template: PodLike; read: PodRead } | { kind: "not-a-workload" } | { kind: "invalid"; error: string };

/** Locates the pod template; an error names the missing or malformed field. */
export function findPodTemplate(obj: ManifestObject): TemplateLookup {
  const kind = typeof obj.kind === "string" ? obj.kind : "";
  const entry = TEMPLATE_PATHS[kind];
  if (!entry || !entry.apiVersions.includes(String(obj.apiVersion))) return { kind: "not-a-workload" };
  let node: unknown = obj;
  for (let i = 0; i < entry.path.length; i++) {
    const key = entry.path[i] as string;
    node = (node as Record<string, unknown>)[key];
    if (!isObject(node)) return { kind: "invalid", error: `${entry.path.slice(0, i + 1).join(".")}: expected an object` };
  }
  const template = node as Record<string, unknown>;
  // The same shape rules as an admission request's pod, with the field named in the manifest.
  const read = readPod(template, entry.path.join("."));
  if (!read.ok) return { kind: "invalid", error: read.error };
  return { kind: "pod-template", path: entry.path, template: template, read: read.read };
}

/**
 * A copy of `obj` with the pod template at `path` replaced. Only the objects on the path are
 * copied (the rest is shared, never modified), so the cost does not depend on the
 * manifest's size or depth.
 */
export function replacePodTemplate<T extends ManifestObject>(obj: T, path: string[], template: PodLike): T {
  if (path.length === 0) return template as unknown as T;
  const out = { ...obj } as Record<string, unknown>;
  let node = out;
  for (const key of path.slice(0, -1)) {
    const child = { ...(node[key] as Record<string, unknown>) };
    node[key] = child;
    node = child;
  }
  node[path[path.length - 1] as string] = template;
  return out as T;
}

/** "Deployment team-a/web", for messages. */
export function describeObject(obj: ManifestObject): string {
  const kind = typeof obj.kind === "string" ? obj.kind : "object";
  const name = typeof obj.metadata?.name === "string" ? obj.metadata.name : typeof obj.metadata?.generateName === "string" ? `${obj.metadata.generateName}*` : "(unnamed)";
  const ns = typeof obj.metadata?.namespace === "string" ? `${obj.metadata.namespace}/` : "";
  return `${kind} ${ns}${name}`;
}
