/**
 * /validate: the optional reservation guard. When `guardian.reservationGuard` is on, a Service
 * other than the DNS Service that asks for the DNS Service's fixed clusterIP is denied, so
 * the IP is free when the guardian needs to recreate the DNS Service. Pure.
 */
import type { Settings } from "../config/settings.js";
import { allowedResponse, deniedResponse, type AdmissionRequest, type AdmissionResponse } from "./admission-review.js";
import { canonicalIP } from "../config/dns-limits.js";

/**
 * The reservation guard (guardian.reservationGuard): refuses a CREATE or UPDATE of a Service
 * other than the DNS Service that asks for the DNS Service's fixed clusterIP. Pure.
 */
export function decideServiceReservation(req: AdmissionRequest, settings: Settings): AdmissionResponse {
  const reserved = settings.dnsService.clusterIP;
  const isService = req.kind.group === "" && req.kind.kind === "Service" && !req.subResource;
  if (!settings.guardian.reservationGuard || !reserved || !isService || (req.operation !== "CREATE" && req.operation !== "UPDATE")) {
    return allowedResponse(req.uid, { auditAnnotations: { decision: "allow", reason: "not-guarded" } });
  }
  const obj = (req.object ?? {}) as { metadata?: { name?: string; namespace?: string }; spec?: { clusterIP?: unknown; clusterIPs?: unknown } };
  const namespace = req.namespace ?? obj.metadata?.namespace ?? "";
  const name = obj.metadata?.name ?? req.name ?? "";
  const { namespace: dnsNs, name: dnsName } = settings.dnsService;
  if (namespace === dnsNs && name === dnsName) return allowedResponse(req.uid, { auditAnnotations: { decision: "allow", reason: "dns-service" } });
  const listed: unknown[] = Array.isArray(obj.spec?.clusterIPs) ? (obj.spec.clusterIPs as unknown[]) : [];
  const requested = [obj.spec?.clusterIP, ...listed]
    .filter((ip): ip is string => typeof ip === "string")
    .map((ip) => canonicalIP(ip) ?? ip);
  if (!requested.includes(reserved)) return allowedResponse(req.uid, { auditAnnotations: { decision: "allow", reason: "not-reserved-ip" } });
  return deniedResponse(
    req.uid,
    422,
    `clusterIP ${reserved} is reserved for the DNS Service ${dnsNs}/${dnsName} (kubelet's --cluster-dns points at it); choose another IP or leave clusterIP empty (pod-dns-injector reservation guard)`,
  );
}
