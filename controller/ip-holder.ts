/**
 * Who holds a clusterIP: the networking.k8s.io/v1 IPAddress object's parentRef where that API
 * is served (GA in Kubernetes 1.33), else a paginated search of Services.
 */
import { CoreV1Api, NetworkingV1Api, type KubeConfig } from "@kubernetes/client-node";
import { apiFailure } from "../kube/api-errors.js";

export interface IPHolder {
  namespace: string;
  name: string;
  /** How we found out, for the report. */
  via: "ipaddress" | "service-list";
}

/**
 * Who holds `ip` in the service range: the IPAddress object's parentRef (Kubernetes 1.33+);
 * only where that API is not served, a search of every Service. undefined when nobody does.
 *
 * @throws Error naming the IP when the API fails for another reason than a 404.
 */
export async function findIPHolder(kubeConfig: KubeConfig, ip: string): Promise<IPHolder | undefined> {
  try {
    const addr = await kubeConfig.makeApiClient(NetworkingV1Api).readIPAddress({ name: ip });
    const ref = addr.spec?.parentRef;
    if (ref && ref.resource === "services" && ref.name) return { namespace: ref.namespace ?? "", name: ref.name, via: "ipaddress" };
    if (ref) return undefined;
  } catch (err) {
    const f = apiFailure(err);
    if (f.code !== 404) throw new Error(`get IPAddress ${ip}: ${f.message}`, { cause: err });
    // A 404 for the object means the IP is not allocated: nobody holds it. Only when the API
    // itself is not served (clusters before 1.33 without the feature) do we search Services,
    // which needs cluster-wide `list services` (not granted by the default RBAC).
    if (!/could not find the requested resource/i.test(f.message)) return undefined;
  }
  const core = kubeConfig.makeApiClient(CoreV1Api);
  let _continue: string | undefined;
  for (let page = 0; page < 1000; page++) {
    const list = await core.listServiceForAllNamespaces({ limit: 500, ...(_continue ? { _continue } : {}) });
    for (const svc of list.items) {
      const ips = svc.spec?.clusterIPs ?? (svc.spec?.clusterIP ? [svc.spec.clusterIP] : []);
      if (ips.includes(ip)) return { namespace: svc.metadata?.namespace ?? "", name: svc.metadata?.name ?? "", via: "service-list" };
    }
    _continue = list.metadata?._continue;
    if (!_continue) break;
  }
  return undefined;
}
