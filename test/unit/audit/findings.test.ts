import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INJECTED_ANNOTATION, INJECT_LABEL, NDOTS_ANNOTATION, POLICY_INJECTION_MARK, PROFILE_ANNOTATION, SEARCHES_ANNOTATION } from "../../../config/names.js";
import { defaultSettings, type Settings } from "../../../config/settings.js";
import { FINDING_KINDS, FINDING_RULES, auditPod, type AuditReason, type AuditResult, type AuditedPod, type FindingKind } from "../../../audit/findings.js";
import type { Workload } from "../../../audit/owners.js";
import type { NamespaceFacts } from "../../../webhook/namespace-policy.js";
import { DNS_IP, NEW_DNS_IP, audit, bare, deploymentWorkload, defaultDNS, injectedPod, ns, plainPod, podWithDNS } from "./fixtures.js";

/** Settings with extra profiles: `corp` (same DNS as default, another name) and `nodelocal` (NodeLocal DNS cache first). */
function settingsWithProfiles(): Settings {
  const s = defaultSettings();
  s.profiles.corp = { nameservers: [], searches: [], options: [{ name: "ndots", value: "5" }] };
  s.profiles.nodelocal = { nameservers: ["169.254.20.10"], searches: [], options: [{ name: "ndots", value: "5" }] };
  return s;
}

/** A pod as the in-tree MutatingAdmissionPolicy stores it: the annotation carries `@policy`, not a hash. */
function byPolicy(cfg: ReturnType<typeof defaultDNS>): AuditedPod {
  const pod = podWithDNS("web-1", cfg);
  pod.metadata.annotations = { [INJECTED_ANNOTATION]: `default@${POLICY_INJECTION_MARK}` };
  return pod;
}

const rsTemplate = { metadata: { labels: { app: "web" } }, spec: {} };
const deployment = (template = true): Workload => deploymentWorkload(template ? rsTemplate : undefined);

interface Case {
  name: string;
  pod: AuditedPod;
  facts?: NamespaceFacts | undefined;
  ip?: string | undefined;
  settings?: Settings;
  workload?: Workload;
  result: AuditResult;
  reason: AuditReason;
  kinds: FindingKind[];
}

describe("auditPod: one case per finding kind, pass and skip reason", () => {
  const nullIP = defaultSettings();
  nullIP.dnsService.clusterIP = null;
  const cases: Case[] = [
    // pass: row 8 of the decision table
    { name: "an injected, up-to-date pod passes (row 8)", pod: injectedPod(), result: "pass", reason: "already-injected", kinds: [] },
    { name: "an up-to-date pod of a Deployment passes (its template agrees)", pod: injectedPod(), workload: deployment(), result: "pass", reason: "already-injected", kinds: [] },
    // pass: injected by the in-tree MutatingAdmissionPolicy (`default@policy`, no hash), judged by its fields
    { name: "a pod the in-tree policy injected, up to date, passes", pod: byPolicy(defaultDNS()), result: "pass", reason: "already-injected", kinds: [] },
    {
      name: "a pod the in-tree policy injected before the DNS Service moved is stale",
      pod: byPolicy(defaultDNS()),
      ip: NEW_DNS_IP,
      result: "fail",
      reason: "reinject-outdated",
      kinds: ["stale-nameserver"],
    },
    // not-injected
    { name: "ClusterFirst, created before opt-in or with the webhook down", pod: plainPod(), result: "fail", reason: "cluster-first", kinds: ["not-injected"] },
    {
      name: "dnsPolicy unset (defaults to ClusterFirst)",
      pod: plainPod("p", { spec: { dnsPolicy: undefined } }),
      result: "fail",
      reason: "cluster-first",
      kinds: ["not-injected"],
    },
    {
      name: "ClusterFirstWithHostNet",
      pod: plainPod("p", { spec: { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" } }),
      result: "fail",
      reason: "cluster-first-with-host-net",
      kinds: ["not-injected"],
    },
    // stale-nameserver
    { name: "injected before the DNS Service moved", pod: injectedPod(), ip: NEW_DNS_IP, result: "fail", reason: "reinject-outdated", kinds: ["stale-nameserver"] },
    {
      name: "a Deployment's pod injected before the DNS Service moved",
      pod: injectedPod(),
      ip: NEW_DNS_IP,
      workload: deployment(),
      result: "fail",
      reason: "reinject-outdated",
      kinds: ["stale-nameserver"],
    },
    {
      name: "injected with kube-dns, the namespace now uses the nodelocal profile",
      pod: injectedPod(),
      facts: ns("enabled", { [PROFILE_ANNOTATION]: "nodelocal" }),
      settings: settingsWithProfiles(),
      result: "fail",
      reason: "reinject-outdated",
      kinds: ["stale-nameserver", "drift"],
    },
    // drift
    {
      name: "the namespace added a search domain",
      pod: injectedPod(),
      facts: ns("enabled", { [SEARCHES_ANNOTATION]: "corp.example" }),
      result: "fail",
      reason: "reinject-outdated",
      kinds: ["drift"],
    },
    {
      name: "the namespace lowered ndots; the Deployment's template shows a restart changes it",
      pod: injectedPod(),
      facts: ns("enabled", { [NDOTS_ANNOTATION]: "2" }),
      workload: deployment(),
      result: "fail",
      reason: "already-injected",
      kinds: ["drift"],
    },
    {
      name: "moved DNS and lowered ndots at once: two findings",
      pod: injectedPod(),
      ip: NEW_DNS_IP,
      facts: ns("enabled", { [NDOTS_ANNOTATION]: "2" }),
      workload: deployment(),
      result: "fail",
      reason: "reinject-outdated",
      kinds: ["stale-nameserver", "drift"],
    },
    {
      name: "the namespace switched to a profile with the same DNS under another name",
      pod: injectedPod(),
      facts: ns("enabled", { [PROFILE_ANNOTATION]: "corp" }),
      settings: settingsWithProfiles(),
      result: "fail",
      reason: "reinject-outdated",
      kinds: ["drift"],
    },
    {
      name: "the injected annotation does not name the applied dnsConfig",
      pod: { ...podWithDNS("p", defaultDNS()), metadata: { name: "p", annotations: { [INJECTED_ANNOTATION]: "default@0000000000" } } },
      result: "fail",
      reason: "reinject-outdated",
      kinds: ["drift"],
    },
    // Known limit, asserted so that it stays a decision: a bare pod's own ndots cannot be told apart.
    {
      name: "a bare pod when the namespace lowered ndots (no template: indistinguishable from the pod's own ndots)",
      pod: injectedPod(),
      facts: ns("enabled", { [NDOTS_ANNOTATION]: "2" }),
      result: "pass",
      reason: "already-injected",
      kinds: [],
    },
    // would-inject
    { name: "audit mode, never injected", pod: plainPod(), facts: ns("audit"), result: "warn", reason: "would-inject", kinds: ["would-inject"] },
    {
      name: "audit mode, injected before the DNS Service moved",
      pod: injectedPod(),
      ip: NEW_DNS_IP,
      facts: ns("audit"),
      result: "warn",
      reason: "would-inject",
      kinds: ["would-inject"],
    },
    { name: "audit mode, injected and up to date", pod: injectedPod(), facts: ns("audit"), result: "pass", reason: "already-injected", kinds: [] },
    // foreign-dns
    {
      name: "its own dnsPolicy None with public resolvers only",
      pod: plainPod("p", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["8.8.8.8", "1.1.1.1"] } } }),
      result: "warn",
      reason: "pod-manages-own-dns",
      kinds: ["foreign-dns"],
    },
    {
      name: "its own dnsPolicy None including the cluster DNS",
      pod: plainPod("p", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["1.1.1.1", DNS_IP] } } }),
      result: "skip",
      reason: "pod-manages-own-dns",
      kinds: [],
    },
    {
      name: "its own dnsPolicy None via a profile's NodeLocal DNS address",
      pod: plainPod("p", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["169.254.20.10"] } } }),
      settings: settingsWithProfiles(),
      result: "skip",
      reason: "pod-manages-own-dns",
      kinds: [],
    },
    {
      name: "its own dnsPolicy None with the previous DNS IP still counts as cluster DNS (the configured fixed IP)",
      pod: plainPod("p", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: [DNS_IP] } } }),
      ip: NEW_DNS_IP,
      result: "skip",
      reason: "pod-manages-own-dns",
      kinds: [],
    },
    // skips, with the webhook's reason codes
    { name: "dnsPolicy Default", pod: plainPod("p", { spec: { dnsPolicy: "Default" } }), result: "skip", reason: "dns-policy-default", kinds: [] },
    { name: "hostNetwork with ClusterFirst", pod: plainPod("p", { spec: { hostNetwork: true } }), result: "skip", reason: "host-network-cluster-first", kinds: [] },
    { name: "the opt-out label", pod: plainPod("p", { metadata: { labels: { [INJECT_LABEL]: "false" } } }), result: "skip", reason: "pod-opted-out", kinds: [] },
    { name: "a mirror pod", pod: plainPod("p", { metadata: { annotations: { "kubernetes.io/config.mirror": "x" } } }), result: "skip", reason: "mirror-pod", kinds: [] },
    { name: "a namespace that is not opted in", pod: plainPod(), facts: ns(undefined), result: "skip", reason: "namespace-not-opted-in", kinds: [] },
    { name: "a disabled namespace", pod: plainPod(), facts: ns("disabled"), result: "skip", reason: "namespace-disabled", kinds: [] },
    { name: "no DNS Service IP known", pod: plainPod(), ip: undefined, settings: nullIP, result: "skip", reason: "dns-service-ip-unknown", kinds: [] },
    { name: "a completed pod", pod: plainPod("p", { status: { phase: "Succeeded" } }), result: "skip", reason: "pod-completed", kinds: [] },
    { name: "a failed pod", pod: plainPod("p", { status: { phase: "Failed" } }), result: "skip", reason: "pod-completed", kinds: [] },
    { name: "a pod being deleted", pod: plainPod("p", { metadata: { deletionTimestamp: "2026-01-01T00:00:00Z" } }), result: "skip", reason: "pod-terminating", kinds: [] },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.result} (${c.reason}) [${c.kinds.join(", ")}]`, () => {
      const over: Parameters<typeof audit>[1] = {};
      if ("facts" in c) over.facts = c.facts;
      if ("ip" in c) over.ip = c.ip;
      if (c.settings) over.settings = c.settings;
      if (c.workload) over.workload = c.workload;
      const a = audit(c.pod, over);
      assert.equal(a.result, c.result, a.message);
      assert.equal(a.reason, c.reason, a.message);
      assert.deepEqual(
        a.findings.map((f) => f.kind),
        c.kinds,
        a.message,
      );
      for (const f of a.findings) {
        assert.equal(f.result, FINDING_RULES[f.kind].result, `${f.kind}: result from the rule table`);
        assert.equal(f.severity, FINDING_RULES[f.kind].severity, `${f.kind}: severity from the rule table`);
        assert.ok(f.message && f.expected && f.actual && f.fix, `${f.kind}: message, expected, actual and fix are filled`);
      }
    });
  }

  it("excluded namespaces are skipped whatever their label (row 2)", () => {
    const a = auditPod({
      pod: plainPod(),
      namespace: "kube-system",
      namespaceFacts: ns("enabled", {}, "kube-system"),
      settings: defaultSettings(),
      dnsServiceIPs: [DNS_IP],
      workload: bare("web-1"),
    });
    assert.equal(a.result, "skip");
    assert.equal(a.reason, "namespace-excluded");
  });
});

describe("auditPod: the finding's values", () => {
  it("not-injected: expected is the dnsConfig the webhook would inject, actual the stored policy", () => {
    const [f] = audit(plainPod()).findings;
    assert.equal(f?.expected, "dnsPolicy None; nameservers 10.96.0.10; searches team-a.svc.cluster.local svc.cluster.local cluster.local; options ndots:5");
    assert.equal(f?.actual, "dnsPolicy ClusterFirst");
    assert.match(f?.message ?? "", /created before the namespace opted in, or while the webhook was unavailable/);
  });

  it("not-injected keeps the pod's own dnsConfig in both values", () => {
    const [f] = audit(plainPod("p", { spec: { dnsConfig: { searches: ["example.com"] } } })).findings;
    assert.equal(f?.expected, "dnsPolicy None; nameservers 10.96.0.10; searches team-a.svc.cluster.local svc.cluster.local cluster.local example.com; options ndots:5");
    assert.equal(f?.actual, "dnsPolicy ClusterFirst; searches example.com");
  });

  it("stale-nameserver names the old and the live IP, and keeps the pod's own servers", () => {
    const pod = podWithDNS("p", { ...defaultDNS(), nameservers: [DNS_IP, "1.1.1.1"] });
    const [f] = audit(pod, { ip: NEW_DNS_IP }).findings;
    assert.equal(f?.kind, "stale-nameserver");
    assert.equal(f?.message, `injected with nameserver ${DNS_IP}, but the DNS Service kube-system/kube-dns is at ${NEW_DNS_IP}`);
    assert.equal(f?.expected, `nameservers ${NEW_DNS_IP} 1.1.1.1`);
    assert.equal(f?.actual, `nameservers ${DNS_IP} 1.1.1.1`);
  });

  it("a Windows pod injected without the profile's options passes (the audit judges it by the Windows decision)", () => {
    const windows = plainPod("win-1", { spec: { os: { name: "windows" } } });
    const a = audit(injectedPod("win-1", { pod: windows }));
    assert.equal(a.result, "pass", JSON.stringify(a.findings));
  });

  it("a pod injected before its namespace moved to node-local-dns fails until restarted (README's rollout)", () => {
    const a = audit(injectedPod(), { facts: ns("enabled", { [PROFILE_ANNOTATION]: "node-local-dns" }) });
    assert.equal(a.result, "fail");
    // The node cache is missing in front (stale-nameserver), and timeout/attempts are missing (drift).
    assert.deepEqual(
      a.findings.map((f) => f.kind),
      ["stale-nameserver", "drift"],
    );
  });

  it("stale-nameserver against a profile's nameservers names the profile", () => {
    const a = audit(injectedPod(), { facts: ns("enabled", { [PROFILE_ANNOTATION]: "nodelocal" }), settings: settingsWithProfiles() });
    assert.equal(a.findings[0]?.message, `injected with nameserver ${DNS_IP}, but the profile "nodelocal" uses 169.254.20.10`);
  });

  it("drift from a template: exact expected and actual options", () => {
    const a = audit(injectedPod(), { facts: ns("enabled", { [NDOTS_ANNOTATION]: "2" }), workload: deployment() });
    const [f] = a.findings;
    assert.equal(f?.expected, "options ndots:2");
    assert.equal(f?.actual, "options ndots:5");
    assert.equal(f?.message, `dnsConfig differs from the namespace's profile "default": options ndots:5 (expected ndots:2)`);
    assert.equal(f?.fix, "kubectl rollout restart deployment/web -n team-a");
  });

  it("drift without a template: the searches that must come first", () => {
    const [f] = audit(injectedPod(), { facts: ns("enabled", { [SEARCHES_ANNOTATION]: "corp.example" }) }).findings;
    assert.equal(f?.expected, "searches team-a.svc.cluster.local svc.cluster.local cluster.local corp.example first");
    assert.equal(f?.actual, "searches team-a.svc.cluster.local svc.cluster.local cluster.local");
  });

  it("drift where the pod has no searches: (none), from the decision's changes, with and without a template", () => {
    const pod = podWithDNS("p", { ...defaultDNS(), searches: [] });
    const searches = "team-a.svc.cluster.local svc.cluster.local cluster.local";
    for (const [workload, expected] of [
      [deployment(), `searches ${searches}`],
      [bare("p"), `searches ${searches} first`],
    ] as const) {
      const [f] = audit(pod, { workload }).findings;
      assert.equal(f?.kind, "drift");
      assert.equal(f?.actual, "searches (none)", "an empty list is named, not left blank");
      assert.equal(f?.expected, expected);
    }
  });

  it("drift on the profile name", () => {
    const [f] = audit(injectedPod(), { facts: ns("enabled", { [PROFILE_ANNOTATION]: "corp" }), settings: settingsWithProfiles() }).findings;
    assert.equal(f?.expected, "profile corp");
    assert.equal(f?.actual, "profile default");
  });

  it("would-inject carries what would change and the namespace fix", () => {
    const [f] = audit(plainPod(), { facts: ns("audit") }).findings;
    assert.equal(
      f?.message,
      `audit mode: would change dnsPolicy ClusterFirst → None; nameservers (none) → ${DNS_IP}; searches (none) → team-a.svc.cluster.local svc.cluster.local cluster.local; options (none) → ndots:5`,
    );
    assert.equal(f?.expected, `dnsPolicy None; nameservers ${DNS_IP}; searches team-a.svc.cluster.local svc.cluster.local cluster.local; options ndots:5`);
    assert.equal(f?.actual, "dnsPolicy ClusterFirst");
    assert.match(f?.fix ?? "", /^the namespace is in audit mode: to apply, kubectl label namespace team-a pod-dns-injector\.io\/inject=enabled --overwrite; then recreate the pod/);
  });

  it("would-inject for a pod with a dnsConfig of its own: from its entries, in the webhook warning's words", () => {
    const [f] = audit(plainPod("p", { spec: { dnsConfig: { searches: ["corp.example"] } } }), { facts: ns("audit") }).findings;
    assert.equal(
      f?.message,
      `audit mode: would change dnsPolicy ClusterFirst → None; nameservers (none) → ${DNS_IP}; searches corp.example → team-a.svc.cluster.local svc.cluster.local cluster.local corp.example; options (none) → ndots:5`,
    );
    assert.equal(f?.actual, "dnsPolicy ClusterFirst; searches corp.example");
  });

  it("foreign-dns lists the pod's servers and the cluster's", () => {
    const [f] = audit(plainPod("p", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["8.8.8.8"] } } }), { ip: NEW_DNS_IP }).findings;
    assert.equal(f?.actual, "nameservers 8.8.8.8");
    assert.equal(f?.expected, `a nameserver among ${NEW_DNS_IP} ${DNS_IP} 169.254.20.10`);
  });

  it("a pod's overall result: fail beats warn, and each finding kind is in the rule table", () => {
    assert.deepEqual(Object.keys(FINDING_RULES).sort(), [...FINDING_KINDS].sort());
    const results = new Set(Object.values(FINDING_RULES).map((r) => r.result));
    assert.deepEqual([...results].sort(), ["fail", "warn"]);
    assert.equal(FINDING_RULES["foreign-dns"].result, "warn", "foreign-dns is informational");
    assert.equal(FINDING_RULES["would-inject"].result, "warn", "audit mode never fails a gate");
    for (const r of Object.values(FINDING_RULES)) assert.ok(["high", "medium", "low"].includes(r.severity), "only severities every v1alpha2 CRD accepts");
  });
});
