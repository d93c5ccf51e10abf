/**
 * /validate: the DNS Service deletion guard. Every pod's resolver points at the DNS Service's
 * fixed clusterIP; deleting the Service (or removing its selector, its port 53 or its
 * clusterIP) breaks DNS cluster-wide until it is repaired, and even a repair within a second
 * leaves a window of failed lookups while the EndpointSlice and kube-proxy's rules are
 * rebuilt. So DELETE and breaking UPDATEs of the DNS Service are refused unless the Service
 * carries `pod-dns-injector.io/allow-delete: "true"` (a deliberate act), the guard is turned
 * off (`guardian.deletionGuard: false`), or the request comes from the injector's own
 * ServiceAccount (the guardian's planned recreate on drift). Pure.
 */
import { ALLOW_DELETE_ANNOTATION, INJECTOR_SERVICE_ACCOUNT } from "../config/names.js";
import { dnsServiceRefs, serviceRefText, type Settings } from "../config/settings.js";
import { allowedResponse, deniedResponse, type AdmissionRequest, type AdmissionResponse } from "./admission-review.js";
import { isObject } from "../config/json-shapes.js";

/** Why a request to the DNS Service is guarded, or why it was let through. */
export type DNSServiceGuardReason =
  | "not-dns-service"
  | "guard-disabled"
  | "injector-itself"
  | "allow-delete-annotation"
  | "harmless-update"
  | "delete-refused"
  | "selector-removed"
  | "dns-port-removed"
  | "cluster-ip-dropped";

export interface DNSServiceGuardDecision {
  allowed: boolean;
  reason: DNSServiceGuardReason;
  /** Denial message or, for an allowed deliberate change, the warning shown to the client. */
  message?: string;
}

interface ServiceShape {
  metadata?: { name?: unknown; annotations?: Record<string, unknown> };
  spec?: { selector?: unknown; ports?: unknown; type?: unknown; clusterIP?: unknown };
}

const asService = (v: unknown): ServiceShape => (isObject(v) ? v : {});

function allowsDeletion(svc: ServiceShape): boolean {
  const annotations = svc.metadata?.annotations;
  return isObject(annotations) && annotations[ALLOW_DELETE_ANNOTATION] === "true";
}

function hasSelector(svc: ServiceShape): boolean {
  return isObject(svc.spec?.selector) && Object.keys(svc.spec.selector).length > 0;
}

/** `protocol/port` of every port 53 entry: what pods' resolvers send to. */
function dnsPorts(svc: ServiceShape): Set<string> {
  const ports = Array.isArray(svc.spec?.ports) ? (svc.spec.ports as unknown[]) : [];
  const out = new Set<string>();
  for (const p of ports) {
    if (!isObject(p) || p.port !== 53) continue;
    out.add(`${typeof p.protocol === "string" ? p.protocol : "TCP"}/53`);
  }
  return out;
}

/** A type that drops the clusterIP the resolvers use (ExternalName has none). */
function dropsClusterIP(svc: ServiceShape): boolean {
  return svc.spec?.type === "ExternalName" || svc.spec?.clusterIP === "None";
}

/**
 * How an UPDATE would break the DNS Service: the first breaking change, or undefined.
 * Changing the selector to other pods, or adding ports, is left alone: only what makes
 * 10.96.0.10:53 stop answering is guarded.
 */
function breakingChange(oldSvc: ServiceShape, newSvc: ServiceShape): { reason: DNSServiceGuardReason; what: string } | undefined {
  if (hasSelector(oldSvc) && !hasSelector(newSvc)) return { reason: "selector-removed", what: "removing its selector leaves it without endpoints" };
  const kept = dnsPorts(newSvc);
  const removed = [...dnsPorts(oldSvc)].filter((p) => !kept.has(p));
  if (removed.length > 0) return { reason: "dns-port-removed", what: `removing its port ${removed.join(", ")} stops DNS answers` };
  if (!dropsClusterIP(oldSvc) && dropsClusterIP(newSvc)) return { reason: "cluster-ip-dropped", what: `type ${String(newSvc.spec?.type)} drops its clusterIP` };
  return undefined;
}

/**
 * Decides a DELETE or UPDATE of a Service against the deletion guard. Requests that are
 * not about the configured DNS Service get `not-dns-service` (allowed), so the caller can
 * pass every Service review through it first.
 */
export function decideDNSServiceGuard(req: AdmissionRequest, settings: Settings): DNSServiceGuardDecision {
  const isService = req.kind.group === "" && req.kind.kind === "Service" && !req.subResource;
  const oldSvc = asService(req.oldObject);
  // A DeleteCollection (the namespace controller's way) validates each item with an empty
  // request name: the object's own name is what counts then.
  const target = req.name || (typeof oldSvc.metadata?.name === "string" ? oldSvc.metadata.name : "");
  // Every listed DNS Service is guarded; one taken out of dnsServices (a migration's last
  // step) is not, so removing it as planned is never refused.
  const guarded =
    isService && (req.operation === "DELETE" || req.operation === "UPDATE") ? dnsServiceRefs(settings).find((r) => r.namespace === req.namespace && r.name === target) : undefined;
  if (!guarded) return { allowed: true, reason: "not-dns-service" };
  const { namespace, name } = guarded;
  if (!settings.guardian.deletionGuard) return { allowed: true, reason: "guard-disabled" };
  if (req.userInfo?.username === `system:serviceaccount:${settings.injectorNamespace}:${INJECTOR_SERVICE_ACCOUNT}`) {
    return { allowed: true, reason: "injector-itself" };
  }
  const ref = serviceRefText(guarded);
  const ip = guarded.clusterIP ?? (typeof oldSvc.spec?.clusterIP === "string" ? oldSvc.spec.clusterIP : "its clusterIP");
  const override = `to do it deliberately, first run: kubectl -n ${namespace} annotate service ${name} ${ALLOW_DELETE_ANNOTATION}=true (or set guardian.deletionGuard: false)`;
  if (req.operation === "DELETE") {
    if (allowsDeletion(oldSvc)) {
      return {
        allowed: true,
        reason: "allow-delete-annotation",
        message: `pod-dns-injector: deleting the DNS Service ${ref} deliberately (${ALLOW_DELETE_ANNOTATION}=true); pods cannot resolve names until it is back on ${ip}`,
      };
    }
    return {
      allowed: false,
      reason: "delete-refused",
      message: `pod-dns-injector deletion guard: refusing to delete the DNS Service ${ref}: every pod's resolver points at its fixed clusterIP ${ip}, so DNS breaks cluster-wide until it is recreated; ${override}`,
    };
  }
  const newSvc = asService(req.object);
  const change = breakingChange(oldSvc, newSvc);
  if (!change) return { allowed: true, reason: "harmless-update" };
  if (allowsDeletion(newSvc) || allowsDeletion(oldSvc)) {
    return {
      allowed: true,
      reason: "allow-delete-annotation",
      message: `pod-dns-injector: changing the DNS Service ${ref} deliberately (${ALLOW_DELETE_ANNOTATION}=true): ${change.what}`,
    };
  }
  return {
    allowed: false,
    reason: change.reason,
    message: `pod-dns-injector deletion guard: refusing to update the DNS Service ${ref}: ${change.what}, and every pod's resolver points at ${ip}; ${override}`,
  };
}

/** The decision as an AdmissionResponse (403 on refusal; a warning on a deliberate change). */
export function dnsServiceGuardResponse(uid: string, decision: DNSServiceGuardDecision): AdmissionResponse {
  if (!decision.allowed) return deniedResponse(uid, 403, decision.message ?? "refused");
  return allowedResponse(uid, {
    ...(decision.message ? { warnings: [decision.message] } : {}),
    auditAnnotations: { decision: "allow", reason: decision.reason },
  });
}
