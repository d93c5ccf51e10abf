/**
 * A Service's clusterIPs as a resolver sees them: the nameservers `dnsService` stands for.
 * Pure.
 */
import type { V1Service } from "@kubernetes/client-node";
import { canonicalIP } from "../config/dns-limits.js";
import { uniqueIPs } from "../config/nameserver-tokens.js";

/**
 * The Service's cluster IPs, canonical, in the Service's own order. The API server keeps
 * `clusterIPs[i]` in the family `ipFamilies[i]` (primary first), so this is the
 * `ipFamilies` order a dual-stack DNS Service asks for. `clusterIP` alone (an object from an
 * older writer) counts as a one-entry list; a headless Service (`None`) has none.
 */
export function serviceClusterIPs(svc: V1Service | undefined): string[] {
  const spec = svc?.spec;
  const raw = spec?.clusterIPs?.length ? spec.clusterIPs : spec?.clusterIP ? [spec.clusterIP] : [];
  return uniqueIPs([raw.map(canonicalIP).filter((ip): ip is string => ip !== null)]);
}

/**
 * Which IPs a watched DNS Service stands for: its `live` ones while it has some (`present`);
 * once it is gone or headless, the last live ones if they were on the fixed IP (what the
 * guardian puts back, so a dual-stack cluster's pods keep both families meanwhile), else the
 * fixed IP alone, else none.
 */
export function serviceIPsSource(last: readonly string[], present: boolean, fixedIP: string | null): "live" | "fixed" | "none" {
  if (last.length && (present || fixedIP === null || last[0] === fixedIP)) return "live";
  return fixedIP === null ? "none" : "fixed";
}
