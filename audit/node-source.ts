/**
 * The I/O half of `audit --nodes`: lists the Nodes and reads each kubelet's configuration
 * through the API server's node proxy. `nodes/proxy` reaches every kubelet API (exec
 * included, on some versions), so this runs only from the CLI with the caller's
 * credentials and is never granted to the injector's ServiceAccount.
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { dnsServiceRefs, type Settings } from "../config/settings.js";
import { serviceClusterIPs } from "../kube/service-ips.js";
import { apiFailure } from "../kube/api-errors.js";
import { checkNodeDNS, parseKubeletConfigz, type ExpectedNodeDNS, type KubeletDNS, type NodeDNSRow } from "./node-dns.js";

/** Kubelets asked at once: enough for large clusters, gentle on the API server's proxy. */
const CONCURRENCY = 8;
/** A kubelet that does not answer in this time is reported unknown; the API server's own proxy timeout is longer. */
const CONFIGZ_TIMEOUT_MS = 10_000;
const PAGE = 500;

export interface NodeAuditOptions {
  kubeConfig: KubeConfig;
  settings: Settings;
  /** --nameserver: the IP(s) to expect instead of the Service's (parsed, canonical). */
  nameservers?: readonly string[] | undefined;
}

export async function auditNodes(o: NodeAuditOptions): Promise<{ rows: NodeDNSRow[]; expected: ExpectedNodeDNS }> {
  const core = o.kubeConfig.makeApiClient(CoreV1Api);
  const expected = await expectedDNS(core, o);
  const names: string[] = [];
  let cont: string | undefined;
  do {
    const page = await core.listNode({ limit: PAGE, ...(cont ? { _continue: cont } : {}) }).catch((err: unknown) => {
      throw new Error(`list nodes: ${apiFailure(err).message}`, { cause: err });
    });
    names.push(...page.items.map((n) => n.metadata?.name ?? "").filter(Boolean));
    cont = page.metadata?._continue || undefined;
  } while (cont);
  names.sort();
  const rows: NodeDNSRow[] = [];
  let next = 0;
  const worker = async () => {
    while (next < names.length) {
      const i = next++;
      rows[i] = checkNodeDNS(names[i]!, await readKubeletDNS(core, names[i]!), expected);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, names.length) }, worker));
  return { rows, expected };
}

async function expectedDNS(core: CoreV1Api, o: NodeAuditOptions): Promise<ExpectedNodeDNS> {
  // During a migration the first (new) Service is the one kubelets must end up pointing at.
  const first = dnsServiceRefs(o.settings)[0] ?? o.settings.dnsService;
  const { namespace, name } = first;
  const service = `${namespace}/${name}`;
  const base = { service, clusterDomain: o.settings.clusterDomain };
  if (o.nameservers !== undefined) return { ...base, ips: [...o.nameservers] };
  try {
    return { ...base, ips: serviceClusterIPs(await core.readNamespacedService({ namespace, name })) };
  } catch (err) {
    if (apiFailure(err).code !== 404) throw new Error(`get Service ${service}: ${apiFailure(err).message}`, { cause: err });
    return { ...base, ips: first.clusterIP ? [first.clusterIP] : [] };
  }
}

async function readKubeletDNS(core: CoreV1Api, node: string): Promise<KubeletDNS | { error: string }> {
  let timer: NodeJS.Timeout | undefined;
  try {
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(`no answer in ${CONFIGZ_TIMEOUT_MS / 1000} s`)), CONFIGZ_TIMEOUT_MS);
    });
    const body = await Promise.race([core.connectGetNodeProxyWithPath({ name: node, path: "configz" }), timeout]);
    return parseKubeletConfigz(typeof body === "string" ? body : JSON.stringify(body));
  } catch (err) {
    const f = apiFailure(err);
    if (f.code === 403) return { error: `forbidden: reading a kubelet's configuration needs get on nodes/proxy (${f.message})` };
    return { error: f.code ? `HTTP ${f.code}: ${f.message}` : err instanceof Error ? err.message : String(err) };
  } finally {
    clearTimeout(timer);
  }
}
