/**
 * A Service's clusterIPs as a resolver sees them: the nameservers `dnsService` stands for.
 * Pure.
 */
import type { V1Service } from "@kubernetes/client-node";
import { canonicalIP } from "../config/dns-limits.js";

/**
 * The Service's cluster IPs, canonical, in the Service's own order. The API server keeps
 * `clusterIPs[i]` in the family `ipFamilies[i]` (primary first), so this is the
 * `ipFamilies` order a dual-stack DNS Service asks for. `clusterIP` alone (an object from an
 * older writer) counts as a one-entry list; a headless Service (`None`) has none.
 */
export function serviceClusterIPs(svc: V1Service | undefined): string[] {
  const spec = svc?.spec;
  const raw = spec?.clusterIPs?.length ? spec.clusterIPs : spec?.clusterIP ? [spec.clusterIP] : [];
  const ips: string[] = [];
  for (const entry of raw) {
    const ip = canonicalIP(entry);
    if (ip !== null && !ips.includes(ip)) ips.push(ip);
  }
  return ips;
}
