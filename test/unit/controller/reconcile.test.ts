import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { V1Service } from "@kubernetes/client-node";
import { parseStored } from "../../../controller/snapshot-store.js";
import { ADDON_MANAGER_LABEL, RESTORED_BY_ANNOTATION } from "../../../config/names.js";
import { reconcileDNSService } from "../../../controller/reconcile.js";
import { sameSnapshot, serviceFromSnapshot, snapshotFromService } from "../../../controller/service-snapshot.js";
import { classifyCreateFailure } from "../../../controller/guardian.js";
import { decideLeaseStep } from "../../../kube/leader-election.js";

function kubeDNS(ip: string, extra: { labels?: Record<string, string> } = {}): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: "kube-dns",
      namespace: "kube-system",
      uid: "u-1",
      resourceVersion: "42",
      labels: { "k8s-app": "kube-dns", ...extra.labels },
      annotations: { "prometheus.io/scrape": "true", "kubectl.kubernetes.io/last-applied-configuration": "{}" },
    },
    spec: {
      type: "ClusterIP",
      clusterIP: ip,
      clusterIPs: [ip],
      ipFamilies: ["IPv4"],
      ipFamilyPolicy: "SingleStack",
      selector: { "k8s-app": "kube-dns" },
      ports: [
        { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
        { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
      ],
      sessionAffinity: "None",
    },
    status: { loadBalancer: {} },
  };
}

describe("service snapshot", () => {
  it("keeps what is needed to recreate the Service and drops what the API server owns", () => {
    const snap = snapshotFromService(kubeDNS("10.96.0.10"));
    assert.equal(snap.clusterIP, "10.96.0.10");
    assert.deepEqual(snap.selector, { "k8s-app": "kube-dns" });
    assert.equal(snap.annotations["kubectl.kubernetes.io/last-applied-configuration"], undefined);
    const svc = serviceFromSnapshot(snap, "10.96.0.10");
    assert.equal(svc.metadata?.resourceVersion, undefined);
    assert.equal(svc.metadata?.uid, undefined);
    assert.deepEqual(svc.spec?.clusterIPs, ["10.96.0.10"]);
    assert.deepEqual(svc.spec?.ipFamilies, ["IPv4"]);
    assert.equal(svc.spec?.ports?.length, 2);
    assert.equal((svc as { status?: unknown }).status, undefined);
  });

  it("a dual-stack copy is recreated dual-stack: both IPs, ipFamilies and ipFamilyPolicy (issue 14 item 3)", () => {
    const dual = kubeDNS("10.96.0.10");
    dual.spec = { ...dual.spec, clusterIPs: ["10.96.0.10", "fd00:10:96::a"], ipFamilies: ["IPv4", "IPv6"], ipFamilyPolicy: "RequireDualStack" };
    const svc = serviceFromSnapshot(snapshotFromService(dual), "10.96.0.10");
    assert.equal(svc.spec?.clusterIP, "10.96.0.10");
    assert.deepEqual(svc.spec?.clusterIPs, ["10.96.0.10", "fd00:10:96::a"]);
    assert.deepEqual(svc.spec?.ipFamilies, ["IPv4", "IPv6"]);
    assert.equal(svc.spec?.ipFamilyPolicy, "RequireDualStack");
    // A fixed IP of the other family than the copy's primary: no second IP or families are
    // guessed, the API server defaults them from the one clusterIP.
    const moved = serviceFromSnapshot(snapshotFromService(dual), "fd00:10:96::a");
    assert.deepEqual(moved.spec?.clusterIPs, ["fd00:10:96::a"]);
    assert.equal(moved.spec?.ipFamilies, undefined);
    assert.equal(moved.spec?.ipFamilyPolicy, undefined);
    // A copy stored before clusterIPs were kept: the families come back, the second IP is allocated anew.
    const { clusterIPs: _c, ...old } = snapshotFromService(dual);
    const fromOld = serviceFromSnapshot(old, "10.96.0.10");
    assert.deepEqual(fromOld.spec?.clusterIPs, ["10.96.0.10"]);
    assert.deepEqual(fromOld.spec?.ipFamilies, ["IPv4", "IPv6"]);
  });

  it("round-trips through the ConfigMap format", () => {
    const snap = snapshotFromService(kubeDNS("10.96.0.10"));
    const stored = parseStored({ data: { "service.json": JSON.stringify(snap), clusterIP: "10.96.0.10" } });
    assert.ok(sameSnapshot(stored.snapshot, snap));
    assert.equal(stored.learnedIP, "10.96.0.10");
    assert.equal(parseStored({ data: { "service.json": "{broken" } }).snapshot, undefined, "a broken copy counts as none");
  });
});

describe("reconcileDNSService", () => {
  const snap = snapshotFromService(kubeDNS("10.96.0.10"));
  const base = { ref: { namespace: "kube-system", name: "kube-dns" }, fixedIP: "10.96.0.10", snapshot: snap, repair: "report" as const };

  it("never restores another Service's stored copy (the dnsService ConfigMap after a migration renamed it)", () => {
    const other = { ...snap, name: "kube-dns-next" };
    const a = reconcileDNSService({ ...base, snapshot: other, service: undefined });
    assert.deepEqual(a, [{ kind: "cannot-repair", reason: "the DNS Service is missing and there is no last good copy of it to recreate from" }]);
    // Present: its own copy replaces the other one's.
    assert.deepEqual(
      reconcileDNSService({ ...base, snapshot: other, service: kubeDNS("10.96.0.10") }).map((x) => x.kind),
      ["save-snapshot"],
    );
  });

  it("in sync: nothing to do", () => {
    assert.deepEqual(reconcileDNSService({ ...base, service: kubeDNS("10.96.0.10") }), [{ kind: "in-sync" }]);
  });

  it("first sight: saves the last good copy", () => {
    const a = reconcileDNSService({ ...base, snapshot: undefined, service: kubeDNS("10.96.0.10") });
    assert.deepEqual(
      a.map((x) => x.kind),
      ["save-snapshot"],
    );
  });

  it("no fixed IP configured: learns it, and saves the copy", () => {
    const a = reconcileDNSService({ ...base, fixedIP: null, snapshot: undefined, service: kubeDNS("10.96.0.77") });
    assert.deepEqual(
      a.map((x) => x.kind),
      ["learn-ip", "save-snapshot"],
    );
    assert.deepEqual(a[0], { kind: "learn-ip", ip: "10.96.0.77" });
  });

  it("deleted: recreate on the fixed IP from the last good copy, marked as restored", () => {
    const a = reconcileDNSService({ ...base, service: undefined });
    assert.equal(a.length, 1);
    const create = a[0];
    assert.equal(create?.kind, "create");
    if (create?.kind !== "create") return;
    assert.equal(create.service.spec?.clusterIP, "10.96.0.10");
    assert.equal(create.service.metadata?.annotations?.[RESTORED_BY_ANNOTATION], "pod-dns-injector");
    assert.equal(create.service.metadata?.labels?.["k8s-app"], "kube-dns");
  });

  it("deleted without a copy or without an IP: cannot repair, says why", () => {
    const noCopy = reconcileDNSService({ ...base, snapshot: undefined, service: undefined });
    assert.equal(noCopy[0]?.kind, "cannot-repair");
    assert.match((noCopy[0] as { reason: string }).reason, /no last good copy/);
    const noIP = reconcileDNSService({ ...base, fixedIP: null, service: undefined });
    assert.match((noIP[0] as { reason: string }).reason, /no fixed clusterIP/);
  });

  it("drift, repair report: reports both IPs and keeps the good copy", () => {
    const a = reconcileDNSService({ ...base, service: kubeDNS("10.96.0.53") });
    assert.deepEqual(a, [{ kind: "drift", observedIP: "10.96.0.53", fixedIP: "10.96.0.10", action: "report" }]);
  });

  it("drift, repair recreate: recreate on the fixed IP (never an in-place update)", () => {
    const a = reconcileDNSService({ ...base, repair: "recreate", service: kubeDNS("10.96.0.53") });
    assert.equal(a[0]?.kind, "drift");
    const d = a[0] as { action: string; service: V1Service };
    assert.equal(d.action, "recreate");
    assert.equal(d.service.spec?.clusterIP, "10.96.0.10");
  });

  it("a headless DNS Service is drift too", () => {
    const a = reconcileDNSService({ ...base, service: kubeDNS("None") });
    assert.equal(a[0]?.kind, "drift");
    assert.equal((a[0] as { observedIP: string }).observedIP, "None");
  });

  it("deleted while owned by kube-addon-manager (per the last good copy): left to it", () => {
    const owned = snapshotFromService(kubeDNS("10.96.0.10", { labels: { [ADDON_MANAGER_LABEL]: "Reconcile" } }));
    const a = reconcileDNSService({ ...base, snapshot: owned, service: undefined });
    assert.equal(a.length, 1);
    assert.equal(a[0]?.kind, "cannot-repair");
    assert.match((a[0] as { reason: string }).reason, /kube-addon-manager/);
  });

  it("kube-addon-manager owns it: report only, never a Service write", () => {
    const owned = kubeDNS("10.96.0.53", { labels: { [ADDON_MANAGER_LABEL]: "Reconcile" } });
    const a = reconcileDNSService({ ...base, repair: "recreate", service: owned });
    assert.deepEqual(a, [{ kind: "addon-managed", observedIP: "10.96.0.53", fixedIP: "10.96.0.10" }]);
    assert.ok(!a.some((x) => x.kind === "create" || x.kind === "drift"));
  });
});

describe("classifyCreateFailure", () => {
  const err = (code: number, reason: string, message: string) => ({ code, body: JSON.stringify({ kind: "Status", reason, message }) });
  it("tells the allocator race from a configuration error from a conflict", () => {
    assert.equal(
      classifyCreateFailure(
        err(422, "Invalid", 'Service "kube-dns" is invalid: spec.clusterIPs: Invalid value: ["10.96.0.10"]: failed to allocate IP 10.96.0.10: provided IP is already allocated'),
      ),
      "already-allocated",
    );
    assert.equal(
      classifyCreateFailure(
        err(
          422,
          "Invalid",
          'Service "kube-dns" is invalid: spec.clusterIPs: Invalid value: ["10.200.0.10"]: failed to allocate IP 10.200.0.10: the provided IP (10.200.0.10) is not in the valid range. The range of valid IPs is 10.96.0.0/16',
        ),
      ),
      "out-of-range",
    );
    assert.equal(classifyCreateFailure(err(409, "AlreadyExists", 'services "kube-dns" already exists')), "exists");
    assert.equal(classifyCreateFailure(err(403, "Forbidden", "forbidden")), "other");
  });
});

describe("decideLeaseStep", () => {
  const rec = (holder: string) => ({ holder, durationSeconds: 15, renewTime: "t", transitions: 0 });
  it("no lease: create it", () => assert.deepEqual(decideLeaseStep("me", { record: undefined, observedAt: 0 }, 1000), { kind: "create" }));
  it("mine: renew", () => assert.deepEqual(decideLeaseStep("me", { record: rec("me"), observedAt: 0 }, 99_000), { kind: "renew" }));
  it("released: acquire", () => assert.deepEqual(decideLeaseStep("me", { record: rec(""), observedAt: 1000 }, 1000), { kind: "acquire" }));
  it("held and fresh by my own clock: follow", () =>
    assert.deepEqual(decideLeaseStep("me", { record: rec("other"), observedAt: 10_000 }, 20_000), { kind: "follow", holder: "other", expiresInMs: 5000 }));
  it("held but unchanged for a full lease duration: take over", () =>
    assert.deepEqual(decideLeaseStep("me", { record: rec("other"), observedAt: 10_000 }, 25_000), { kind: "acquire" }));
});
