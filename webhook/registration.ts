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
  NAMESPACE_NAME_LABEL,
  POD_OPT_OUT_VALUE,
  PRODUCT,
  WEBHOOK_SERVICE,
} from "../config/names.js";

export interface RegistrationOptions {
  /** PEM of the CA(s) that sign the serving certificate. */
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

export function buildMutatingWebhookConfiguration(options: RegistrationOptions): Record<string, unknown> {
  const injectorNamespace = options.injectorNamespace ?? DEFAULT_INJECTOR_NAMESPACE;
  const caBundle = Buffer.from(options.caBundlePem).toString("base64");
  const clientConfig = options.url
    ? { url: options.url, caBundle }
    : {
        service: {
          namespace: options.service?.namespace ?? injectorNamespace,
          name: options.service?.name ?? WEBHOOK_SERVICE,
          path: MUTATE_PATH,
          port: options.service?.port ?? 443,
        },
        caBundle,
      };
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: options.name ?? MUTATING_WEBHOOK_CONFIGURATION, labels: { "app.kubernetes.io/name": PRODUCT } },
    webhooks: [
      {
        name: MUTATING_WEBHOOK_NAME,
        admissionReviewVersions: ["v1"],
        clientConfig,
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
