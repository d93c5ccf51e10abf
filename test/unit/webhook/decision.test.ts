import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INJECTED_ANNOTATION, INJECT_LABEL, POLICY_INJECTION_MARK } from "../../../config/names.js";
import { defaultSettings, parseSettings } from "../../../config/settings.js";
import { REASONS, applyDecision, changesTo, decide, describeChanges, type ReasonCode } from "../../../webhook/decision.js";
import { inputs, namespace, pod } from "../fixtures.js";

const podKind = { group: "", version: "v1", kind: "Pod" };

describe("decide: every row of the decision table", () => {
  const cases: { name: string; over: Parameters<typeof inputs>[0]; row: number; action: string; reason: ReasonCode }[] = [
    {
      name: "a Service is not a Pod",
      over: { request: { kind: { group: "", version: "v1", kind: "Service" }, operation: "CREATE", namespace: "team-a" } },
      row: 1,
      action: "allow",
      reason: "not-a-pod",
    },
    {
      name: "a Pod of another group is not core Pod",
      over: { request: { kind: { group: "example.com", version: "v1", kind: "Pod" }, operation: "CREATE", namespace: "team-a" } },
      row: 1,
      action: "allow",
      reason: "not-a-pod",
    },
    { name: "UPDATE is not mutated", over: { request: { kind: podKind, operation: "UPDATE", namespace: "team-a" } }, row: 1, action: "allow", reason: "not-create" },
    {
      name: "a subresource is not mutated",
      over: { request: { kind: podKind, operation: "CREATE", subResource: "binding", namespace: "team-a" } },
      row: 1,
      action: "allow",
      reason: "subresource",
    },
    {
      name: "kube-system is excluded",
      over: { request: { kind: podKind, operation: "CREATE", namespace: "kube-system" }, namespace: namespace("kube-system", "enabled") },
      row: 2,
      action: "skip",
      reason: "namespace-excluded",
    },
    {
      name: "kube-node-lease is excluded",
      over: { request: { kind: podKind, operation: "CREATE", namespace: "kube-node-lease" }, namespace: namespace("kube-node-lease", "enabled") },
      row: 2,
      action: "skip",
      reason: "namespace-excluded",
    },
    {
      name: "the injector's own namespace is excluded",
      over: { request: { kind: podKind, operation: "CREATE", namespace: "pod-dns-injector" }, namespace: namespace("pod-dns-injector", "enabled") },
      row: 2,
      action: "skip",
      reason: "namespace-excluded",
    },
    { name: "an unlabeled namespace", over: { namespace: namespace("team-a") }, row: 3, action: "skip", reason: "namespace-not-opted-in" },
    { name: "an unknown namespace", over: { namespace: undefined }, row: 3, action: "skip", reason: "namespace-not-opted-in" },
    { name: "a label value that is not a mode", over: { namespace: namespace("team-a", "true") }, row: 3, action: "skip", reason: "namespace-not-opted-in" },
    { name: "a disabled namespace", over: { namespace: namespace("team-a", "disabled") }, row: 3, action: "skip", reason: "namespace-disabled" },
    { name: "the pod opt-out label", over: { pod: pod({}, { labels: { [INJECT_LABEL]: "false" } }) }, row: 4, action: "skip", reason: "pod-opted-out" },
    { name: "a mirror pod", over: { pod: pod({ nodeName: "n1" }, { annotations: { "kubernetes.io/config.mirror": "abc" } }) }, row: 4, action: "skip", reason: "mirror-pod" },
    { name: "dnsPolicy Default", over: { pod: pod({ dnsPolicy: "Default" }) }, row: 5, action: "skip", reason: "dns-policy-default" },
    { name: "hostNetwork with ClusterFirst", over: { pod: pod({ hostNetwork: true, dnsPolicy: "ClusterFirst" }) }, row: 6, action: "skip", reason: "host-network-cluster-first" },
    {
      name: "hostNetwork with dnsPolicy unset (defaults to ClusterFirst)",
      over: { pod: pod({ hostNetwork: true }) },
      row: 6,
      action: "skip",
      reason: "host-network-cluster-first",
    },
    {
      name: "the pod's own dnsPolicy None",
      over: { pod: pod({ dnsPolicy: "None", dnsConfig: { nameservers: ["1.1.1.1"] } }) },
      row: 7,
      action: "skip",
      reason: "pod-manages-own-dns",
    },
    { name: "ClusterFirst", over: { pod: pod({ dnsPolicy: "ClusterFirst" }) }, row: 9, action: "inject", reason: "cluster-first" },
    { name: "dnsPolicy unset", over: {}, row: 9, action: "inject", reason: "cluster-first" },
    {
      name: "ClusterFirstWithHostNet",
      over: { pod: pod({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }) },
      row: 9,
      action: "inject",
      reason: "cluster-first-with-host-net",
    },
    { name: "audit mode", over: { namespace: namespace("team-a", "audit") }, row: 9, action: "report", reason: "would-inject" },
    { name: "unknown DNS IP", over: { dnsServiceIPs: [] }, row: 9, action: "skip", reason: "dns-service-ip-unknown" },
  ];
  for (const c of cases) {
    it(`${c.name} → row ${c.row}, ${c.action}, ${c.reason}`, () => {
      const d = decide(inputs(c.over));
      assert.equal(d.row, c.row);
      assert.equal(d.action, c.action);
      assert.equal(d.reason, c.reason);
      assert.equal(d.row, REASONS[d.reason].row, "reason code and row agree");
      assert.ok(d.message.startsWith(REASONS[d.reason].text));
    });
  }

  it("row 8: feeding an injected pod back is a no-op (re-invocation)", () => {
    const first = decide(inputs());
    const injected = applyDecision(pod(), first);
    const second = decide(inputs({ pod: injected }));
    assert.equal(second.row, 8);
    assert.equal(second.action, "noop");
    assert.equal(second.reason, "already-injected");
    assert.deepEqual(second.dnsConfig, first.dnsConfig);
  });

  it("row 9 again when an injected pod's dnsConfig was changed afterwards", () => {
    const injected = applyDecision(pod(), decide(inputs()));
    (injected.spec as { dnsConfig: { options: unknown[] } }).dnsConfig.options = [{ name: "ndots", value: "2" }];
    const d = decide(inputs({ pod: injected }));
    assert.equal(d.reason, "reinject-outdated");
    assert.equal(d.action, "inject");
  });

  it("re-injecting a pod injected with an old DNS IP replaces the IP instead of keeping it", () => {
    const own = { nameservers: ["192.0.2.53"], searches: ["corp.example"], options: [{ name: "ndots", value: "2" }] };
    const old = applyDecision(pod({ dnsConfig: own }), decide(inputs({ pod: pod({ dnsConfig: own }), dnsServiceIPs: ["10.96.0.99"] })));
    const d = decide(inputs({ pod: old, dnsServiceIPs: ["10.96.0.10"] }));
    assert.equal(d.reason, "reinject-outdated");
    assert.deepEqual(d.dnsConfig?.nameservers, ["10.96.0.10", "192.0.2.53"], "the old IP is gone, the pod's own nameserver stays");
    assert.deepEqual(d.dnsConfig?.searches, ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"]);
    assert.deepEqual(d.dnsConfig?.options, [{ name: "ndots", value: "2" }]);
    const again = decide(inputs({ pod: applyDecision(old, d), dnsServiceIPs: ["10.96.0.10"] }));
    assert.equal(again.reason, "already-injected", "and the result is stable");
  });

  it("admission.mode both: a pod the in-tree policy injected with an older IP gets the live one, not both", () => {
    // What the MutatingAdmissionPolicy stores (policy/render.ts) when its param still had the old IP.
    const byPolicy = pod(
      {
        dnsPolicy: "None",
        dnsConfig: {
          nameservers: ["10.96.0.99", "192.0.2.53"],
          searches: ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"],
          options: [{ name: "ndots", value: "5" }],
        },
      },
      { annotations: { [INJECTED_ANNOTATION]: `default@${POLICY_INJECTION_MARK}` } },
    );
    const d = decide(inputs({ pod: byPolicy, dnsServiceIPs: ["10.96.0.10"] }));
    assert.equal(d.reason, "reinject-outdated");
    assert.deepEqual(d.dnsConfig?.nameservers, ["10.96.0.10", "192.0.2.53"], "the policy's old IP is dropped, the pod's own nameserver stays");
    assert.deepEqual(d.dnsConfig?.searches, ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"]);
    assert.equal(decide(inputs({ pod: applyDecision(byPolicy, d), dnsServiceIPs: ["10.96.0.10"] })).reason, "already-injected", "and the result is stable");
  });

  it("a pod with its own option overriding the profile stays idempotent", () => {
    const own = { options: [{ name: "ndots", value: "2" }], nameservers: ["10.96.0.10"] };
    const first = applyDecision(pod({ dnsConfig: own }), decide(inputs({ pod: pod({ dnsConfig: own }) })));
    assert.equal(decide(inputs({ pod: first })).reason, "already-injected");
  });

  it("the first matching row wins: an opted-out pod in kube-system is excluded by row 2", () => {
    const d = decide(inputs({ request: { kind: podKind, operation: "CREATE", namespace: "kube-system" }, pod: pod({}, { labels: { [INJECT_LABEL]: "false" } }) }));
    assert.equal(d.reason, "namespace-excluded");
  });

  it("configured extra exclusions apply", () => {
    const r = parseSettings({ excludedNamespaces: ["legacy"] });
    assert.ok(r.ok);
    const d = decide(inputs({ request: { kind: podKind, operation: "CREATE", namespace: "legacy" }, namespace: namespace("legacy", "enabled") }, r.settings));
    assert.equal(d.reason, "namespace-excluded");
  });

  it("the DNS IP is unknown but the profile names its own nameservers: still injected", () => {
    const r = parseSettings({ profiles: { nodelocal: { nameservers: ["169.254.20.10"] } } });
    assert.ok(r.ok);
    const d = decide(inputs({ dnsServiceIPs: [], namespace: namespace("team-a", "enabled", { "pod-dns-injector.io/profile": "nodelocal" }) }, r.settings));
    assert.equal(d.action, "inject");
    assert.deepEqual(d.dnsConfig?.nameservers, ["169.254.20.10"]);
  });

  it("an unknown DNS IP carries a warning naming the Service", () => {
    const d = decide(inputs({ dnsServiceIPs: [] }));
    assert.match(d.warnings.join("\n"), /kube-system\/kube-dns/);
  });
});

describe("decide: the injected result", () => {
  it("reproduces kubelet's ClusterFirst with the live IP and the default profile", () => {
    const d = decide(inputs({ dnsServiceIPs: ["10.96.0.53"] }));
    assert.deepEqual(d.dnsConfig, {
      nameservers: ["10.96.0.53"],
      searches: ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local"],
      options: [{ name: "ndots", value: "5" }],
    });
    assert.equal(d.profile, "default");
    assert.match(d.injectedAnnotation ?? "", /^default@[0-9a-f]{10}$/);
  });

  it("is deterministic: same inputs, same annotation hash", () => {
    assert.equal(decide(inputs()).injectedAnnotation, decide(inputs()).injectedAnnotation);
    assert.notEqual(decide(inputs()).injectedAnnotation, decide(inputs({ dnsServiceIPs: ["10.96.0.11"] })).injectedAnnotation);
  });

  it("applyDecision sets dnsPolicy None, the dnsConfig and the annotation, keeping other annotations", () => {
    const original = pod({}, { annotations: { "example.com/keep": "yes" } });
    const d = decide(inputs({ pod: original }));
    const out = applyDecision(original, d);
    assert.equal(out.spec?.dnsPolicy, "None");
    assert.deepEqual(out.spec?.dnsConfig, d.dnsConfig);
    assert.equal(out.metadata?.annotations?.[INJECTED_ANNOTATION], d.injectedAnnotation);
    assert.equal(out.metadata?.annotations?.["example.com/keep"], "yes");
    assert.equal(original.spec?.dnsPolicy, undefined, "the input is not modified");
  });

  it("applyDecision leaves a pod alone unless the action is inject", () => {
    const p = pod();
    assert.equal(applyDecision(p, decide(inputs({ namespace: namespace("team-a", "audit") }))), p);
  });

  it("namespace overrides change ndots and searches; a bad value is ignored with a warning", () => {
    const good = decide(
      inputs({ namespace: namespace("team-a", "enabled", { "pod-dns-injector.io/ndots": "2", "pod-dns-injector.io/searches": "corp.example, eu.corp.example" }) }),
    );
    assert.deepEqual(good.dnsConfig?.options, [{ name: "ndots", value: "2" }]);
    assert.deepEqual(good.dnsConfig?.searches.slice(3), ["corp.example", "eu.corp.example"]);
    assert.deepEqual(good.warnings, []);
    const bad = decide(inputs({ namespace: namespace("team-a", "enabled", { "pod-dns-injector.io/ndots": "50", "pod-dns-injector.io/searches": "Bad_Domain" }) }));
    assert.deepEqual(bad.dnsConfig?.options, [{ name: "ndots", value: "5" }]);
    assert.equal(bad.dnsConfig?.searches.length, 3);
    assert.equal(bad.warnings.length, 2);
    assert.match(bad.warnings[0] ?? "", /ndots/);
    assert.match(bad.warnings[1] ?? "", /searches/);
  });

  it("an unknown profile falls back to the default with a warning", () => {
    const d = decide(inputs({ namespace: namespace("team-a", "enabled", { "pod-dns-injector.io/profile": "nope" }) }));
    assert.equal(d.profile, "default");
    assert.match(d.warnings[0] ?? "", /unknown profile "nope"/);
  });

  it("uses the cluster domain from settings", () => {
    const r = parseSettings({ clusterDomain: "corp.internal" });
    assert.ok(r.ok);
    assert.deepEqual(decide(inputs({}, r.settings)).dnsConfig?.searches, ["team-a.svc.corp.internal", "svc.corp.internal", "corp.internal"]);
  });

  it("defaults are kubeadm's", () => {
    const s = defaultSettings();
    assert.equal(s.dnsService.clusterIP, "10.96.0.10");
    assert.equal(`${s.dnsService.namespace}/${s.dnsService.name}`, "kube-system/kube-dns");
    assert.equal(s.clusterDomain, "cluster.local");
  });
});

describe("decide: what would change (Decision.changes)", () => {
  const SEARCHES = "team-a.svc.cluster.local svc.cluster.local cluster.local";
  const fields = (d: ReturnType<typeof decide>) => (d.changes ?? []).map((c) => c.field);

  it("a plain ClusterFirst pod: every field, from its own (none)", () => {
    const d = decide(inputs());
    assert.deepEqual(d.changes, [
      { field: "dnsPolicy", from: "ClusterFirst", to: "None" },
      { field: "nameservers", from: "(none)", to: "10.96.0.10" },
      { field: "searches", from: "(none)", to: SEARCHES },
      { field: "options", from: "(none)", to: "ndots:5" },
      { field: "annotation", from: "(none)", to: d.injectedAnnotation },
    ]);
    const settings = defaultSettings();
    const first = decide(inputs({}, settings)).changes;
    assert.equal(decide(inputs({ pod: pod() }, settings)).changes, first, "a plain pod's changes are shared, not rebuilt per review");
    assert.ok(Object.isFrozen(first));
  });

  it("a hostNetwork ClusterFirstWithHostNet pod: from its own dnsPolicy", () => {
    const settings = defaultSettings();
    const d = decide(inputs({ pod: pod({ hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" }) }, settings));
    assert.equal(d.reason, "cluster-first-with-host-net");
    assert.deepEqual(d.changes?.[0], { field: "dnsPolicy", from: "ClusterFirstWithHostNet", to: "None" });
    assert.deepEqual(fields(d), ["dnsPolicy", "nameservers", "searches", "options", "annotation"]);
    assert.notEqual(d.changes, decide(inputs({}, settings)).changes, "shared per dnsPolicy, not across them");
  });

  it("a pod with its own dnsConfig: from its own entries, as the reader reads them", () => {
    const own = { nameservers: ["192.0.2.53"], searches: ["corp.example"], options: [{ name: "edns0" }] };
    const d = decide(inputs({ pod: pod({ dnsConfig: own }) }));
    assert.deepEqual(d.changes?.slice(1, 4), [
      { field: "nameservers", from: "192.0.2.53", to: "10.96.0.10 192.0.2.53" },
      { field: "searches", from: "corp.example", to: `${SEARCHES} corp.example` },
      { field: "options", from: "edns0", to: "ndots:5 edns0" },
    ]);
  });

  it("re-injecting a pod injected with an old DNS IP: the nameservers and the annotation, nothing else", () => {
    const old = applyDecision(pod(), decide(inputs({ dnsServiceIPs: ["10.96.0.99"] })));
    const d = decide(inputs({ pod: old }));
    assert.equal(d.reason, "reinject-outdated");
    assert.deepEqual(d.changes, [
      { field: "nameservers", from: "10.96.0.99", to: "10.96.0.10" },
      { field: "annotation", from: old.metadata?.annotations?.[INJECTED_ANNOTATION], to: d.injectedAnnotation },
    ]);
  });

  it("already injected: nothing changes", () => {
    const d = decide(inputs({ pod: applyDecision(pod(), decide(inputs())) }));
    assert.equal(d.reason, "already-injected");
    assert.deepEqual(d.changes, []);
  });

  it("audit mode reports the same changes as inject would make", () => {
    const own = { searches: ["corp.example"] };
    for (const p of [pod(), pod({ dnsConfig: own }), applyDecision(pod(), decide(inputs({ dnsServiceIPs: ["10.96.0.99"] })))]) {
      const injected = decide(inputs({ pod: p }));
      const reported = decide(inputs({ pod: p, namespace: namespace("team-a", "audit") }));
      assert.equal(reported.action, "report");
      assert.deepEqual(reported.changes, injected.changes);
    }
  });

  it("changesTo: another pod against a decision, by the same rule", () => {
    const settings = defaultSettings();
    const d = decide(inputs({}, settings));
    assert.deepEqual(changesTo(pod(), d), d.changes);
    assert.deepEqual(changesTo(applyDecision(pod(), d), d), []);
    const stale = applyDecision(pod(), decide(inputs({ dnsServiceIPs: ["10.96.0.99"] }, settings)));
    assert.deepEqual(
      changesTo(stale, d).map((c) => c.field),
      ["nameservers", "annotation"],
    );
    assert.deepEqual(changesTo(pod(), decide(inputs({ pod: pod({ dnsPolicy: "Default" }) }))), [], "a skip sets nothing");
  });

  it("describeChanges: the DNS fields; the annotation only when nothing else changes", () => {
    const d = decide(inputs());
    assert.equal(describeChanges(d.changes ?? []), `dnsPolicy ClusterFirst → None; nameservers (none) → 10.96.0.10; searches (none) → ${SEARCHES}; options (none) → ndots:5`);
    assert.equal(
      describeChanges([{ field: "annotation", from: "default@0123456789", to: "default@abcdef0123" }]),
      `${INJECTED_ANNOTATION} default@0123456789 → default@abcdef0123`,
    );
    assert.equal(describeChanges([]), "");
  });

  it("skips carry no changes", () => {
    assert.equal(decide(inputs({ pod: pod({ dnsPolicy: "Default" }) })).changes, undefined);
    assert.equal(decide(inputs({ namespace: namespace("team-a") })).changes, undefined);
  });
});
