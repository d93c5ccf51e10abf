/**
 * The MutatingWebhookConfiguration that registers /mutate, generated from code so that
 * names, labels and paths cannot drift from what the webhook expects. Used by the manifests,
 * the end-to-end tests and anyone registering a webhook by URL (development clusters).
 */
import {
  ALWAYS_EXCLUDED_NAMESPACES,
  DEFAULT_INJECTOR_NAMESPACE,
  INJECT_LABEL,
  MUTATE_PATH,
  MUTATING_WEBHOOK_CONFIGURATION,
  MUTATING_WEBHOOK_NAME,
  VALIDATE_PATH,
  VALIDATING_WEBHOOK_CONFIGURATION,
  VALIDATING_WEBHOOK_NAME,
  NAMESPACE_NAME_LABEL,
  POD_OPT_OUT_VALUE,
  PRODUCT,
  WEBHOOK_SERVICE,
} from "../config/names.js";

export interface RegistrationOptions {
  /** PEM of the CA(s) that sign the serving certificate; "" leaves caBundle out (the injector fills it in). */
  caBundlePem: string;
  /** Register by URL (e.g. https://127.0.0.1:8443/mutate) instead of by Service. */
  url?: string;
  service?: { namespace: string; name: string; port: number };
  /** Ignore (default): a webhook outage admits pods uninjected; Fail: it blocks pod creation. */
  failurePolicy?: "Ignore" | "Fail";
  timeoutSeconds?: number;
  /** The injector's own namespace, never matched. */
  injectorNamespace?: string;
  name?: string;
}

/**
 * The opt-out pod label, evaluated by the API server before calling us (matchConditions are
 * GA since 1.30), so opted-out pods cost no webhook round trip and survive a webhook outage
 * even with failurePolicy Fail.
 */
export const OPT_OUT_MATCH_CONDITION = {
  name: "not-opted-out",
  expression: `!has(object.metadata.labels) || !('${INJECT_LABEL}' in object.metadata.labels) || object.metadata.labels['${INJECT_LABEL}'] != '${POD_OPT_OUT_VALUE}'`,
};

function clientConfig(options: RegistrationOptions, path: string): Record<string, unknown> {
  const caBundle = options.caBundlePem ? Buffer.from(options.caBundlePem).toString("base64") : undefined;
  const where = options.url
    ? { url: options.url }
    : {
        service: {
          namespace: options.service?.namespace ?? options.injectorNamespace ?? DEFAULT_INJECTOR_NAMESPACE,
          name: options.service?.name ?? WEBHOOK_SERVICE,
          path,
          port: options.service?.port ?? 443,
        },
      };
  return caBundle ? { ...where, caBundle } : where;
}

/** Services that request a specific clusterIP; only those can take the reserved one. */
export const REQUESTS_CLUSTER_IP_CONDITION = {
  name: "requests-a-cluster-ip",
  expression: "has(object.spec.clusterIP) && object.spec.clusterIP != '' && object.spec.clusterIP != 'None'",
};

/** The reservation guard's registration (/validate); failurePolicy Ignore by default. */
export function buildValidatingWebhookConfiguration(options: RegistrationOptions): Record<string, unknown> {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: options.name ?? VALIDATING_WEBHOOK_CONFIGURATION, labels: { "app.kubernetes.io/name": PRODUCT } },
    webhooks: [
      {
        name: VALIDATING_WEBHOOK_NAME,
        admissionReviewVersions: ["v1"],
        clientConfig: clientConfig(options, VALIDATE_PATH),
        rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["services"], scope: "Namespaced" }],
        matchConditions: [REQUESTS_CLUSTER_IP_CONDITION],
        sideEffects: "None",
        failurePolicy: options.failurePolicy ?? "Ignore",
        timeoutSeconds: options.timeoutSeconds ?? 5,
        matchPolicy: "Equivalent",
      },
    ],
  };
}

export function buildMutatingWebhookConfiguration(options: RegistrationOptions): Record<string, unknown> {
  const injectorNamespace = options.injectorNamespace ?? DEFAULT_INJECTOR_NAMESPACE;
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: options.name ?? MUTATING_WEBHOOK_CONFIGURATION, labels: { "app.kubernetes.io/name": PRODUCT } },
    webhooks: [
      {
        name: MUTATING_WEBHOOK_NAME,
        admissionReviewVersions: ["v1"],
        clientConfig: clientConfig(options, MUTATE_PATH),
        rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"], scope: "Namespaced" }],
        namespaceSelector: {
          matchExpressions: [
            { key: INJECT_LABEL, operator: "In", values: ["enabled", "audit"] },
            // Belt and braces: even a mislabelled system namespace is never sent to us.
            { key: NAMESPACE_NAME_LABEL, operator: "NotIn", values: [...ALWAYS_EXCLUDED_NAMESPACES, injectorNamespace] },
          ],
        },
        objectSelector: { matchExpressions: [{ key: INJECT_LABEL, operator: "NotIn", values: [POD_OPT_OUT_VALUE] }] },
        matchConditions: [OPT_OUT_MATCH_CONDITION],
        sideEffects: "None",
        failurePolicy: options.failurePolicy ?? "Ignore",
        timeoutSeconds: options.timeoutSeconds ?? 5,
        reinvocationPolicy: "IfNeeded",
        matchPolicy: "Equivalent",
      },
    ],
  };
}
