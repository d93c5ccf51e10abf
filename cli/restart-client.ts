/**
 * The API half of `restart`: reads and merge-patches Deployments, StatefulSets and
 * DaemonSets through client-node. Loaded only when the command acts.
 */
import { AppsV1Api, PatchStrategy, setHeaderOptions, type KubeConfig } from "@kubernetes/client-node";
import { restartPatch, type RestartTarget, type WorkloadObject } from "../audit/remediation.js";
import type { WorkloadClient } from "./restart.js";

/** A WorkloadClient on the cluster of `kubeConfig`, with the caller's credentials. */
export async function workloadClient(kubeConfig: KubeConfig): Promise<WorkloadClient> {
  const apps = kubeConfig.makeApiClient(AppsV1Api);
  // A JSON merge patch sets the one annotation and leaves the rest of the template alone.
  const merge = setHeaderOptions("Content-Type", PatchStrategy.MergePatch);
  return {
    read: async (t: RestartTarget): Promise<WorkloadObject> => {
      const ref = { name: t.name, namespace: t.namespace };
      switch (t.kind) {
        case "Deployment":
          return apps.readNamespacedDeployment(ref);
        case "StatefulSet":
          return apps.readNamespacedStatefulSet(ref);
        case "DaemonSet":
          return apps.readNamespacedDaemonSet(ref);
      }
    },
    restart: async (t: RestartTarget, now: Date): Promise<WorkloadObject> => {
      const req = { name: t.name, namespace: t.namespace, body: restartPatch(now) };
      switch (t.kind) {
        case "Deployment":
          return apps.patchNamespacedDeployment(req, merge);
        case "StatefulSet":
          return apps.patchNamespacedStatefulSet(req, merge);
        case "DaemonSet":
          return apps.patchNamespacedDaemonSet(req, merge);
      }
    },
  };
}
