/** Parsing a kubelet's /configz answer and judging it against the DNS Service (audit/node-dns.ts). */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkNodeDNS, formatNodeTable, parseKubeletConfigz, type ExpectedNodeDNS } from "../../../audit/node-dns.js";

// The shape kubelet serves on /configz (abridged: the DNS fields among their neighbours).
const CONFIGZ = JSON.stringify({
  kubeletconfig: { enableServer: true, staticPodPath: "/etc/kubernetes/manifests", clusterDomain: "cluster.local", clusterDNS: ["10.96.0.10"], cgroupDriver: "systemd" },
});
const expected: ExpectedNodeDNS = { service: "kube-system/kube-dns", ips: ["10.96.0.10"], clusterDomain: "cluster.local" };

describe("parseKubeletConfigz", () => {
  it("reads clusterDNS and clusterDomain; canonicalises IPv6 spellings", () => {
    assert.deepEqual(parseKubeletConfigz(CONFIGZ), { clusterDNS: ["10.96.0.10"], clusterDomain: "cluster.local" });
    assert.deepEqual(parseKubeletConfigz(JSON.stringify({ kubeletconfig: { clusterDNS: ["FD00:10:96:0:0:0:0:a"] } })), { clusterDNS: ["fd00:10:96::a"], clusterDomain: undefined });
  });
  it("a kubelet without clusterDNS has an empty list", () => {
    assert.deepEqual(parseKubeletConfigz(JSON.stringify({ kubeletconfig: {} })), { clusterDNS: [], clusterDomain: undefined });
  });
  it("says what is wrong with a body that is not a kubelet configuration", () => {
    assert.throws(() => parseKubeletConfigz("<html>503</html>"), /configz is not JSON \("<html>503<\/html>"\)/);
    assert.throws(() => parseKubeletConfigz("{}"), /configz has no kubeletconfig object/);
    assert.throws(() => parseKubeletConfigz(JSON.stringify({ kubeletconfig: { clusterDNS: "10.96.0.10" } })), /clusterDNS is not a list of strings: "10.96.0.10"/);
    assert.throws(() => parseKubeletConfigz(JSON.stringify({ kubeletconfig: { clusterDomain: 5 } })), /clusterDomain is not a string: 5/);
  });
});

describe("checkNodeDNS", () => {
  it("passes a kubelet that points at the Service with the cluster domain", () => {
    const row = checkNodeDNS("node-1", parseKubeletConfigz(CONFIGZ), expected);
    assert.equal(row.result, "pass");
    assert.equal(row.message, "kubelet points at 10.96.0.10 (kube-system/kube-dns)");
  });
  it("any of a dual-stack Service's IPs first is fine", () => {
    assert.equal(checkNodeDNS("n", { clusterDNS: ["fd00:10:96::a"], clusterDomain: "cluster.local" }, { ...expected, ips: ["10.96.0.10", "fd00:10:96::a"] }).result, "pass");
  });
  it("fails a kubelet on the old IP, naming both and who is affected", () => {
    const row = checkNodeDNS("node-2", { clusterDNS: ["10.96.0.53"], clusterDomain: "cluster.local" }, expected);
    assert.equal(row.result, "fail");
    assert.match(
      row.message,
      /kubelet's clusterDNS is 10\.96\.0\.53 but kube-system\/kube-dns is 10\.96\.0\.10: pods the webhook does not inject on this node resolve through 10\.96\.0\.53/,
    );
    assert.match(row.message, /--cluster-dns/);
  });
  it("fails a kubelet without clusterDNS and one with another domain", () => {
    assert.match(checkNodeDNS("n", { clusterDNS: [], clusterDomain: "cluster.local" }, expected).message, /kubelet has no clusterDNS/);
    const other = checkNodeDNS("n", { clusterDNS: ["10.96.0.10"], clusterDomain: "corp.local" }, expected);
    assert.equal(other.result, "fail");
    assert.match(other.message, /clusterDomain is corp\.local but the cluster domain is cluster\.local/);
  });
  it("a kubelet that cannot be read, or a Service without an IP, is unknown, with the reason", () => {
    const unread = checkNodeDNS("n", { error: "HTTP 503: no endpoints" }, expected);
    assert.deepEqual([unread.result, unread.message], ["unknown", "cannot read the kubelet configuration: HTTP 503: no endpoints"]);
    assert.equal(checkNodeDNS("n", { clusterDNS: ["10.96.0.10"], clusterDomain: "cluster.local" }, { ...expected, ips: [] }).result, "unknown");
  });
});

describe("formatNodeTable", () => {
  it("one row per node, the detail only where it does not pass, then the counts", () => {
    const rows = [checkNodeDNS("a", { clusterDNS: ["10.96.0.10"], clusterDomain: "cluster.local" }, expected), checkNodeDNS("bb", { error: "HTTP 403: forbidden" }, expected)];
    const text = formatNodeTable(rows, expected);
    const lines = text.split("\n");
    assert.equal(lines[0], "NODE  CLUSTER-DNS  CLUSTER-DOMAIN  RESULT   DETAIL");
    assert.equal(lines[1], "a     10.96.0.10   cluster.local   pass");
    assert.equal(lines[2], "bb    -            -               unknown  cannot read the kubelet configuration: HTTP 403: forbidden");
    assert.equal(lines[3], "Checked 2 nodes against kube-system/kube-dns (10.96.0.10), cluster domain cluster.local: 1 pass, 0 fail, 1 unknown.");
  });
});
