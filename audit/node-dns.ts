/**
 * Nodes whose kubelet points pods elsewhere. kubelet writes ClusterFirst pods' resolv.conf
 * from its own `clusterDNS` and `clusterDomain`; when those disagree with the live DNS
 * Service (a re-IPed kube-dns, a node image built for another cluster), every pod the
 * webhook does not inject on that node (hostNetwork, excluded namespaces, opt-outs, pods
 * admitted while it was down) resolves through the wrong server: kubernetes/kubernetes#69487
 * and #70321. The CLI reads each kubelet's configuration through the API server's node
 * proxy (`/api/v1/nodes/NAME/proxy/configz`); this module parses it and judges it. Pure.
 */
import { canonicalIP } from "../config/dns-limits.js";
import { isObject } from "../config/json-shapes.js";

/** What a node's kubelet resolves ClusterFirst pods with. */
export interface KubeletDNS {
  clusterDNS: string[];
  clusterDomain: string | undefined;
}

export type NodeDNSResult = "pass" | "fail" | "unknown";

export interface NodeDNSRow {
  node: string;
  result: NodeDNSResult;
  clusterDNS: string[];
  clusterDomain?: string | undefined;
  message: string;
}

/** What the nodes should say: the DNS Service's clusterIPs (any of them first is fine) and the cluster domain. */
export interface ExpectedNodeDNS {
  service: string;
  ips: readonly string[];
  clusterDomain: string;
}

/**
 * The DNS fields of a kubelet's `/configz` answer (`{"kubeletconfig": {...}}`).
 * @throws Error saying what is wrong with the body, for the node's row.
 */
export function parseKubeletConfigz(body: string): KubeletDNS {
  let doc: unknown;
  try {
    doc = JSON.parse(body);
  } catch {
    throw new Error(`configz is not JSON (${JSON.stringify(body.slice(0, 60))})`);
  }
  const config = isObject(doc) ? doc.kubeletconfig : undefined;
  if (!isObject(config)) throw new Error("configz has no kubeletconfig object");
  const dns = config.clusterDNS ?? [];
  if (!Array.isArray(dns) || !dns.every((d) => typeof d === "string")) throw new Error(`kubeletconfig.clusterDNS is not a list of strings: ${JSON.stringify(dns)}`);
  const domain = config.clusterDomain;
  if (domain !== undefined && typeof domain !== "string") throw new Error(`kubeletconfig.clusterDomain is not a string: ${JSON.stringify(domain)}`);
  return { clusterDNS: dns.map((ip) => canonicalOr(ip)), clusterDomain: domain === "" ? undefined : domain };
}

/** Judges one node: pass when its first clusterDNS is one of the Service's IPs and the domain matches. */
export function checkNodeDNS(node: string, kubelet: KubeletDNS | { error: string }, expected: ExpectedNodeDNS): NodeDNSRow {
  if ("error" in kubelet) return { node, result: "unknown", clusterDNS: [], message: `cannot read the kubelet configuration: ${kubelet.error}` };
  const row = { node, clusterDNS: kubelet.clusterDNS, clusterDomain: kubelet.clusterDomain };
  const problems: string[] = [];
  const first = kubelet.clusterDNS[0];
  if (expected.ips.length === 0) {
    return { ...row, result: "unknown", message: `${expected.service} has no clusterIP to compare with (pass --nameserver IP)` };
  }
  if (first === undefined) {
    problems.push("kubelet has no clusterDNS: its ClusterFirst pods get the node's own resolv.conf and cannot resolve Service names");
  } else if (!expected.ips.includes(first)) {
    problems.push(
      `kubelet's clusterDNS is ${kubelet.clusterDNS.join(",")} but ${expected.service} is ${expected.ips.join(",")}: pods the webhook does not inject on this node resolve through ${first}`,
    );
  }
  if (kubelet.clusterDomain !== expected.clusterDomain) {
    problems.push(
      `kubelet's clusterDomain is ${kubelet.clusterDomain ?? "unset"} but the cluster domain is ${expected.clusterDomain}: its pods' search list differs from the injected one`,
    );
  }
  if (problems.length > 0) {
    problems.push("fix the kubelet's --cluster-dns / --cluster-domain (KubeletConfiguration clusterDNS, clusterDomain) and restart it");
    return { ...row, result: "fail", message: problems.join("; ") };
  }
  return { ...row, result: "pass", message: `kubelet points at ${first} (${expected.service})` };
}

/** The table `audit --nodes` prints, then one summary line. */
export function formatNodeTable(rows: readonly NodeDNSRow[], expected: ExpectedNodeDNS): string {
  const header = ["NODE", "CLUSTER-DNS", "CLUSTER-DOMAIN", "RESULT", "DETAIL"];
  const cells = rows.map((r) => [r.node, r.clusterDNS.join(",") || "-", r.clusterDomain ?? "-", r.result, r.result === "pass" ? "" : r.message]);
  const widths = header.map((h, i) => Math.max(h.length, ...cells.map((c) => c[i]!.length)));
  const line = (c: string[]) =>
    c
      .map((v, i) => (i === c.length - 1 ? v : v.padEnd(widths[i]!)))
      .join("  ")
      .trimEnd();
  const count = (r: NodeDNSResult) => rows.filter((x) => x.result === r).length;
  const summary = `Checked ${rows.length} node${rows.length === 1 ? "" : "s"} against ${expected.service} (${expected.ips.join(",") || "no IP"}), cluster domain ${expected.clusterDomain}: ${count("pass")} pass, ${count("fail")} fail, ${count("unknown")} unknown.`;
  return `${[header, ...cells].map(line).join("\n")}\n${summary}\n`;
}

/** Compared in canonical form (kubelet accepts `010.096.0.10`-free IPs only, but IPv6 has many spellings). */
function canonicalOr(ip: string): string {
  return canonicalIP(ip) ?? ip;
}
