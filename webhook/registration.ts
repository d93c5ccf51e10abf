/**
 * The MutatingWebhookConfiguration that registers /mutate, generated from code so that
 * names, labels and paths cannot drift from what the webhook expects. Used by the manifests,
 * the end-to-end tests and anyone registering a webhook by URL (development clusters).
 */
import {
  ALWAYS_EXCLUDED_NAMESPACES,
  DEFAULT_DNS_SERVICE,
  DNS_SERVICE_GUARD_WEBHOOK_NAME,
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
  APP_NAME_LABEL,
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

export interface ValidatingRegistrationOptions extends RegistrationOptions {
  /** Also register the reservation guard (CREATE/UPDATE of Services asking for a clusterIP). */
  reservationGuard?: boolean;
  /** The DNS Service the deletion guard protects; default kube-system/kube-dns. */
  dnsService?: { namespace: string; name: string };
  /** Several (settings `dnsServices`, a Service-CIDR migration): each is guarded; overrides dnsService. */
  dnsServices?: readonly { namespace: string; name: string }[];
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

/**
 * The deletion guard's webhook: only DELETE and UPDATE of the DNS Service itself reach us
 * (namespaceSelector + matchConditions are evaluated by the API server), so no other
 * Service pays a webhook call. failurePolicy is always Ignore: an injector outage must never
 * block Service operations; the guardian's repair stays the second line.
 */
export function buildDNSServiceGuardWebhook(options: ValidatingRegistrationOptions): Record<string, unknown> {
  const services = options.dnsServices?.length ? options.dnsServices : [options.dnsService ?? DEFAULT_DNS_SERVICE];
  const namespaces = [...new Set(services.map((s) => s.namespace))];
  // By the stored object's name: a DeleteCollection (e.g. the namespace controller)
  // sends each item with an empty request.name. UPDATE and DELETE always carry oldObject.
  const isOne = (s: { namespace: string; name: string }) => `request.namespace == '${s.namespace}' && oldObject != null && oldObject.metadata.name == '${s.name}'`;
  return {
    name: DNS_SERVICE_GUARD_WEBHOOK_NAME,
    admissionReviewVersions: ["v1"],
    clientConfig: clientConfig(options, VALIDATE_PATH),
    rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["UPDATE", "DELETE"], resources: ["services"], scope: "Namespaced" }],
    namespaceSelector:
      namespaces.length === 1
        ? { matchLabels: { [NAMESPACE_NAME_LABEL]: namespaces[0] } }
        : { matchExpressions: [{ key: NAMESPACE_NAME_LABEL, operator: "In", values: namespaces }] },
    matchConditions: [{ name: "is-the-dns-service", expression: services.length === 1 ? isOne(services[0]!) : services.map((s) => `(${isOne(s)})`).join(" || ") }],
    sideEffects: "None",
    failurePolicy: "Ignore",
    timeoutSeconds: options.timeoutSeconds ?? 5,
    matchPolicy: "Equivalent",
  };
}

/** The reservation guard's webhook: other Services may not take the DNS Service's fixed IP. */
export function buildReservationGuardWebhook(options: ValidatingRegistrationOptions): Record<string, unknown> {
  return {
    name: VALIDATING_WEBHOOK_NAME,
    admissionReviewVersions: ["v1"],
    clientConfig: clientConfig(options, VALIDATE_PATH),
    rules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE", "UPDATE"], resources: ["services"], scope: "Namespaced" }],
    matchConditions: [REQUESTS_CLUSTER_IP_CONDITION],
    sideEffects: "None",
    failurePolicy: options.failurePolicy ?? "Ignore",
    timeoutSeconds: options.timeoutSeconds ?? 5,
    matchPolicy: "Equivalent",
  };
}

/**
 * The ValidatingWebhookConfiguration for /validate: the deletion guard always (base
 * manifests), the reservation guard when asked (the reservation-guard overlay).
 */
export function buildValidatingWebhookConfiguration(options: ValidatingRegistrationOptions): Record<string, unknown> {
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "ValidatingWebhookConfiguration",
    metadata: { name: options.name ?? VALIDATING_WEBHOOK_CONFIGURATION, labels: { [APP_NAME_LABEL]: PRODUCT } },
    webhooks: [buildDNSServiceGuardWebhook(options), ...(options.reservationGuard ? [buildReservationGuardWebhook(options)] : [])],
  };
}

/**
 * The MutatingWebhookConfiguration the manifests ship: Pod CREATE only, namespaces with the
 * inject label, never kube-system or the injector's own, opt-out label excluded by
 * objectSelector, reinvocation IfNeeded. A unit test keeps the manifests equal to it.
 */
export function buildMutatingWebhookConfiguration(options: RegistrationOptions): Record<string, unknown> {
  const injectorNamespace = options.injectorNamespace ?? DEFAULT_INJECTOR_NAMESPACE;
  return {
    apiVersion: "admissionregistration.k8s.io/v1",
    kind: "MutatingWebhookConfiguration",
    metadata: { name: options.name ?? MUTATING_WEBHOOK_CONFIGURATION, labels: { [APP_NAME_LABEL]: PRODUCT } },
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
