/**
 * /validate: the optional reservation guard. When `guardian.reservationGuard` is on, a Service
 * other than the DNS Service that asks for the DNS Service's fixed clusterIP is denied, so
 * the IP is free when the guardian needs to recreate the DNS Service. Pure.
 */
import { dnsServiceRefs, serviceRefText, type Settings } from "../config/settings.js";
import { allowedResponse, deniedResponse, type AdmissionRequest, type AdmissionResponse } from "./admission-review.js";
import { canonicalIP } from "../config/dns-limits.js";

/**
 * The reservation guard (guardian.reservationGuard): refuses a CREATE or UPDATE of a Service
 * other than the DNS Service that asks for the DNS Service's fixed clusterIP. Pure.
 */
export function decideServiceReservation(req: AdmissionRequest, settings: Settings): AdmissionResponse {
  // Each DNS Service's fixed IP is reserved for it (several during a Service-CIDR migration).
  const refs = dnsServiceRefs(settings).filter((r) => r.clusterIP !== null);
  const isService = req.kind.group === "" && req.kind.kind === "Service" && !req.subResource;
  if (!settings.guardian.reservationGuard || refs.length === 0 || !isService || (req.operation !== "CREATE" && req.operation !== "UPDATE")) {
    return allowedResponse(req.uid, { auditAnnotations: { decision: "allow", reason: "not-guarded" } });
  }
  const obj = (req.object ?? {}) as { metadata?: { name?: string; namespace?: string }; spec?: { clusterIP?: unknown; clusterIPs?: unknown } };
  const namespace = req.namespace ?? obj.metadata?.namespace ?? "";
  const name = obj.metadata?.name ?? req.name ?? "";
  if (refs.some((r) => r.namespace === namespace && r.name === name)) return allowedResponse(req.uid, { auditAnnotations: { decision: "allow", reason: "dns-service" } });
  const listed: unknown[] = Array.isArray(obj.spec?.clusterIPs) ? (obj.spec.clusterIPs as unknown[]) : [];
  const requested = [obj.spec?.clusterIP, ...listed].filter((ip): ip is string => typeof ip === "string").map((ip) => canonicalIP(ip) ?? ip);
  const owner = refs.find((r) => requested.includes(r.clusterIP!));
  if (!owner) return allowedResponse(req.uid, { auditAnnotations: { decision: "allow", reason: "not-reserved-ip" } });
  return deniedResponse(
    req.uid,
    422,
    `clusterIP ${owner.clusterIP} is reserved for the DNS Service ${serviceRefText(owner)} (kubelet's --cluster-dns points at it); choose another IP or leave clusterIP empty (pod-dns-injector reservation guard)`,
  );
}
