/** Plain-object builders shared by the unit tests. */
import { INJECT_LABEL } from "../../config/names.js";
import { defaultSettings, type Settings } from "../../config/settings.js";
import type { DecisionInputs, PodLike } from "../../webhook/decision.js";
import type { NamespaceFacts } from "../../webhook/namespace-policy.js";

export function pod(spec: Record<string, unknown> = {}, metadata: Record<string, unknown> = {}): PodLike & { apiVersion: string; kind: string } {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { generateName: "web-", ...metadata },
    spec: { containers: [{ name: "app", image: "registry.example/app:1" }], ...spec },
  } as PodLike & { apiVersion: string; kind: string };
}

export function namespace(name: string, mode?: string, annotations: Record<string, string> = {}): NamespaceFacts {
  return { name, labels: mode === undefined ? {} : { [INJECT_LABEL]: mode }, annotations };
}

export function inputs(overrides: Partial<DecisionInputs> = {}, settings: Settings = defaultSettings()): DecisionInputs {
  return {
    request: { kind: { group: "", version: "v1", kind: "Pod" }, operation: "CREATE", namespace: "team-a" },
    pod: pod(),
    namespace: namespace("team-a", "enabled"),
    dnsServiceIPs: ["10.96.0.10"],
    settings,
    ...overrides,
  };
}

export function review(object: unknown, request: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    apiVersion: "admission.k8s.io/v1",
    kind: "AdmissionReview",
    request: {
      uid: "7f0b2ad4-9a0e-4e4b-9f56-0a4c1b1c2d3e",
      kind: { group: "", version: "v1", kind: "Pod" },
      resource: { group: "", version: "v1", resource: "pods" },
      namespace: "team-a",
      operation: "CREATE",
      userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
      object,
      dryRun: false,
      ...request,
    },
  };
}
