/**
 * The audit judges a pod against the profile it asked for (issue 14 item 7): a pod that
 * picked a profile or ndots with its own annotations, injected with them, passes; the
 * findings name the pod's profile; pods that differ only in what they picked never share a
 * memoised verdict.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { ALLOWED_PROFILES_ANNOTATION, INJECT_LABEL, NDOTS_ANNOTATION, PROFILE_ANNOTATION } from "../../../config/names.js";
import { defaultSettings } from "../../../config/settings.js";
import { auditCluster } from "../../../audit/cluster-source.js";
import { createPodAuditor, podDNSKey, type AuditedPod } from "../../../audit/findings.js";
import type { Workload } from "../../../audit/owners.js";
import { startFakeApi, type FakeApi } from "./fake-api-server.js";
import { DNS_IP, NEW_DNS_IP, NS, audit, bare, deploymentWorkload, injectedPod, ns, plainPod } from "./fixtures.js";

const picking = (name: string, annotations: Record<string, string>): AuditedPod => plainPod(name, { metadata: { annotations } });
const nodeLocal = { [PROFILE_ANNOTATION]: "node-local-dns" };

describe("audit: pods that pick their profile", () => {
  it("a pod injected with the profile it picked passes: no stale-nameserver, no drift", () => {
    const a = audit(injectedPod("web-1", { pod: picking("web-1", nodeLocal) }));
    assert.equal(a.result, "pass", a.message);
    assert.equal(a.reason, "already-injected");
    assert.equal(a.profile, "node-local-dns");
  });

  it("judged by the template's pick when the workload has one", () => {
    const template = { metadata: { annotations: nodeLocal }, spec: {} };
    const workload = deploymentWorkload(template);
    assert.equal(audit(injectedPod("web-1", { pod: picking("web-1", nodeLocal) }), { workload }).result, "pass");
  });

  it("a pod's own ndots keeps it conforming when the namespace's ndots changes", () => {
    const pod = injectedPod("web-1", { pod: picking("web-1", { [NDOTS_ANNOTATION]: "2" }) });
    assert.equal(audit(pod, { facts: ns("enabled", { [NDOTS_ANNOTATION]: "3" }) }).result, "pass");
  });

  it("a pick the namespace no longer allows is judged against the namespace's profile, which it fails", () => {
    const pod = injectedPod("web-1", { pod: picking("web-1", nodeLocal) });
    const a = audit(pod, { facts: ns("enabled", { [ALLOWED_PROFILES_ANNOTATION]: "default" }) });
    assert.equal(a.result, "fail");
    assert.equal(a.profile, "default");
    assert.deepEqual(
      a.findings.map((f) => f.kind),
      ["stale-nameserver", "drift"],
    );
  });

  it("findings name the pod's profile: the stale IP, and drift from the pod's profile", () => {
    const stale = audit(injectedPod("web-1", { pod: picking("web-1", nodeLocal) }), { ip: NEW_DNS_IP });
    assert.deepEqual(
      stale.findings.map((f) => f.kind),
      ["stale-nameserver"],
    );
    assert.equal(stale.findings[0]?.message, `injected with nameserver 169.254.20.10, ${DNS_IP}, but the profile "node-local-dns" uses 169.254.20.10, ${NEW_DNS_IP}`);
    // Injected before the pod picked node-local-dns (an annotation added without a restart).
    const before = injectedPod("web-2");
    before.metadata.annotations = { ...before.metadata.annotations, ...nodeLocal };
    const drift = audit(before).findings.find((f) => f.kind === "drift");
    assert.match(drift?.message ?? "", /^dnsConfig differs from the pod's profile "node-local-dns": /);
  });

  it("pods with the same DNS fields but different picks get their own verdicts from one auditor", () => {
    const auditor = createPodAuditor({ namespace: NS, namespaceFacts: ns("enabled"), settings: defaultSettings(), dnsServiceIPs: [DNS_IP] });
    const plain = injectedPod("web-1");
    const picked: AuditedPod = { ...plain, metadata: { ...plain.metadata, name: "web-2", annotations: { ...plain.metadata.annotations, ...nodeLocal } } };
    assert.equal(auditor(plain, bare("web-1")).result, "pass");
    assert.equal(auditor(picked, bare("web-2")).result, "fail");
    assert.equal(auditor(plain, bare("web-1")).result, "pass");
    // The key the auditor (and the cluster source's sampling) memoises by tells ndots apart too.
    const ndots: AuditedPod = { ...plain, metadata: { ...plain.metadata, annotations: { ...plain.metadata.annotations, [NDOTS_ANNOTATION]: "1" } } };
    assert.equal(new Set([podDNSKey(plain), podDNSKey(picked), podDNSKey(ndots)]).size, 3);
  });

  it("a bare pod whose ndots annotation changed after injection passes: its applied ndots counts as its own (the template is what tells)", () => {
    const pod = injectedPod("web-1");
    pod.metadata.annotations = { ...pod.metadata.annotations, [NDOTS_ANNOTATION]: "1" };
    assert.equal(audit(pod).result, "pass");
    const template = { metadata: { annotations: { [NDOTS_ANNOTATION]: "1" } }, spec: {} };
    const workload: Workload = { kind: "ReplicaSet", name: "web", namespace: NS, chain: [{ kind: "ReplicaSet", name: "web" }], template };
    assert.deepEqual(
      audit(pod, { workload }).findings.map((f) => f.kind),
      ["drift"],
    );
  });
});

describe("audit: the cluster source reads the picks", () => {
  let api: FakeApi;
  before(async () => (api = await startFakeApi()));
  after(async () => api.close());

  it("keeps the pods' profile annotations through the field selection, and samples pods by them", async () => {
    const plain = injectedPod("plain");
    // Same DNS fields as `plain`, but it asks for node-local-dns: not conforming.
    const asksLater: AuditedPod = {
      ...plain,
      metadata: { ...plain.metadata, name: "asks-later", uid: "uid-asks-later", annotations: { ...plain.metadata.annotations, ...nodeLocal } },
    };
    api.collections.set("/api/v1/namespaces", [{ metadata: { name: NS, labels: { [INJECT_LABEL]: "enabled" } } }]);
    api.collections.set("/api/v1/namespaces/kube-system/services", [{ metadata: { name: "kube-dns", namespace: "kube-system" }, spec: { clusterIP: DNS_IP } }]);
    api.collections.set(`/api/v1/namespaces/${NS}/pods`, [plain, asksLater, injectedPod("picked", { pod: picking("picked", nodeLocal) })]);
    const run = await auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "opted-in" } });
    const byPod = Object.fromEntries(run.pods.map((p) => [p.name, `${p.result}:${p.profile ?? ""}:${p.findings.map((f) => f.kind).join("+")}`]));
    assert.deepEqual(byPod, { plain: "pass:default:", "asks-later": "fail:node-local-dns:stale-nameserver+drift", picked: "pass:node-local-dns:" });
  });
});
