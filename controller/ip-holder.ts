/**
 * Who holds a clusterIP: the networking.k8s.io/v1 IPAddress object's parentRef where that API
 * is served (GA in Kubernetes 1.33), else a paginated search of Services.
 */
import { CoreV1Api, NetworkingV1Api, type KubeConfig } from "@kubernetes/client-node";
import { apiFailure } from "./api-errors.js";

export interface IPHolder {
  namespace: string;
  name: string;
  /** How we found out, for the report. */
  via: "ipaddress" | "service-list";
}

export async function findIPHolder(kubeConfig: KubeConfig, ip: string): Promise<IPHolder | undefined> {
  try {
    const addr = await kubeConfig.makeApiClient(NetworkingV1Api).readIPAddress({ name: ip });
    const ref = addr.spec?.parentRef;
    if (ref && ref.resource === "services" && ref.name) return { namespace: ref.namespace ?? "", name: ref.name, via: "ipaddress" };
    if (ref) return undefined;
  } catch (err) {
    // 404: not allocated, or the API is not served (older clusters): fall back to Services.
    if (apiFailure(err).code !== 404) throw new Error(`get IPAddress ${ip}`, { cause: err });
  }
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let _continue: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const list = await core.listServiceForAllNamespaces({ limit: 500, _continue });
    for (const svc of list.items) {
      const ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : []);
      if (ips.includes(ip)) return { namespace: svc.metadata?.namespace ?? "", name: svc.metadata?.name ?? "", via: "service-list" };
    }
    _continue = list.metadata?._continue;
    if (!_continue) break;
  }
  return undefined;
}
