import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { Registry } from "prom-client";
import type { PodAudit } from "../../../audit/findings.js";
import { clearAudit, createAuditMetrics, recordAudit } from "../../../audit/metrics.js";
import { formatJSON, formatTable, formatYAML, hasViolations, podEntries, summarize, summaryLine, type AuditRun } from "../../../audit/report.js";
import { DNS_IP, NEW_DNS_IP, NS, audit, deploymentWorkload, injectedPod, ns, plainPod } from "./fixtures.js";

const deployment = deploymentWorkload();
const run = (pods: PodAudit[], namespaces = [NS, "quiet"]): AuditRun => ({
  context: { source: "cluster" },
  pods,
  namespaces,
  dnsService: { namespace: "kube-system", name: "kube-dns", ips: [NEW_DNS_IP], source: "live" },
  generatedAt: new Date("2026-03-01T12:00:00Z"),
});
const pods = (): PodAudit[] => [
  audit(injectedPod("web-5d8-a"), { ip: NEW_DNS_IP, workload: deployment }),
  audit(injectedPod("web-5d8-b"), { ip: NEW_DNS_IP, workload: deployment }),
  audit(plainPod("early"), { ip: NEW_DNS_IP }),
  audit(plainPod("crawler", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["8.8.8.8"] } } }), { ip: NEW_DNS_IP }),
  audit(injectedPod("fresh", { ip: NEW_DNS_IP }), { ip: NEW_DNS_IP }),
  audit(plainPod("node-dns", { spec: { dnsPolicy: "Default" } }), { ip: NEW_DNS_IP }),
];

describe("summaries and the exit-code rule", () => {
  it("counts pods by result and by finding", () => {
    assert.deepEqual(summarize(run(pods())), {
      pods: 6,
      namespaces: 2,
      byResult: { pass: 1, fail: 3, warn: 1, skip: 1 },
      findings: { "not-injected": 1, "stale-nameserver": 2, drift: 0, "would-inject": 0, "foreign-dns": 1 },
      violations: 3,
    });
  });

  const cases: { name: string; pods: () => PodAudit[]; violations: boolean }[] = [
    { name: "a fail finding is a violation", pods: () => [audit(plainPod())], violations: true },
    { name: "foreign-dns is informational", pods: () => [audit(plainPod("p", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["8.8.8.8"] } } }))], violations: false },
    { name: "would-inject only warns", pods: () => [audit(plainPod(), { facts: ns("audit") })], violations: false },
    { name: "pass and skip are fine", pods: () => [audit(injectedPod()), audit(plainPod("p", { spec: { dnsPolicy: "Default" } }))], violations: false },
    { name: "no pods, no violation", pods: () => [], violations: false },
  ];
  for (const c of cases) it(c.name, () => assert.equal(hasViolations(run(c.pods())), c.violations));
});

describe("formats", () => {
  it("table: grouped by workload, with pods and the fix; passing and skipped pods only counted", () => {
    assert.equal(
      formatTable(run(pods())),
      [
        "NAMESPACE  WORKLOAD        PODS  RESULT  FINDING           DETAIL",
        `team-a     deployment/web  2     fail    stale-nameserver  injected with nameserver ${DNS_IP}, but the DNS Service kube-system/kube-dns is at ${NEW_DNS_IP}`,
        "           pods: web-5d8-a, web-5d8-b",
        "           fix:  kubectl rollout restart deployment/web -n team-a",
        `team-a     pod/crawler     1     warn    foreign-dns       manages its own DNS (dnsPolicy None) with nameservers 8.8.8.8, none of them a cluster DNS server (${NEW_DNS_IP}, ${DNS_IP}, 169.254.20.10): Service names do not resolve`,
        "           fix:  informational: the pod sets dnsPolicy None with its own nameservers; if it must resolve Service names, add the cluster DNS IP to spec.dnsConfig.nameservers, or drop dnsPolicy None so that pod-dns-injector manages its DNS",
        "team-a     pod/early       1     fail    not-injected      not injected: dnsPolicy ClusterFirst and no pod-dns-injector.io/injected annotation (created before the namespace opted in, or while the webhook was unavailable)",
        "           fix:  recreate the pod: kubectl delete pod early -n team-a, then create it again from its manifest (pod DNS is fixed at creation)",
        "",
        `Audited 6 pods in 2 namespaces, expected nameserver ${NEW_DNS_IP} (live clusterIP of kube-system/kube-dns): 1 pass, 3 fail, 1 warn, 1 skip. Findings (pods): not-injected 1, stale-nameserver 2, foreign-dns 1.`,
        "",
      ].join("\n"),
    );
  });

  it("table: a workload with two findings shows both rows and one fix", () => {
    const both = audit(injectedPod("web-5d8-a"), {
      ip: NEW_DNS_IP,
      facts: ns("enabled", { "pod-dns-injector.io/ndots": "2" }),
      workload: { ...deployment, template: { spec: {} } },
    });
    const lines = formatTable(run([both])).split("\n");
    assert.match(lines[1] ?? "", /^team-a {5}deployment\/web {2}1 {5}fail {4}stale-nameserver /);
    assert.match(lines[2] ?? "", /^ {27}1 {5}fail {4}drift {13}dnsConfig differs/);
    assert.equal(lines.filter((l) => l.includes("fix:")).length, 1);
  });

  it("table: no findings is one line", () => {
    assert.equal(
      formatTable(run([audit(injectedPod("ok", { ip: NEW_DNS_IP }), { ip: NEW_DNS_IP })], [NS])),
      `No findings. Audited 1 pod in 1 namespace, expected nameserver ${NEW_DNS_IP} (live clusterIP of kube-system/kube-dns): 1 pass, 0 fail, 0 warn, 0 skip.\n`,
    );
  });

  it("summary line names where the nameserver came from", () => {
    const r = run([]);
    assert.match(summaryLine({ ...r, dnsService: { ...r.dnsService, source: "flag" } }), /expected nameserver 10\.96\.0\.53 \(--nameserver\)/);
    assert.match(summaryLine({ ...r, dnsService: { ...r.dnsService, source: "configured" } }), /\(configured dnsService\.clusterIP\)/);
    assert.match(summaryLine({ ...r, dnsService: { ...r.dnsService, ips: [], source: "unknown" } }), /DNS Service kube-system\/kube-dns IP unknown/);
  });

  it("json: summary and one entry per finding or per pass/skip pod", () => {
    const doc = JSON.parse(formatJSON(run(pods()))) as { summary: unknown; dnsService: unknown; results: Record<string, unknown>[]; generatedAt: string };
    assert.equal(doc.generatedAt, "2026-03-01T12:00:00.000Z");
    assert.deepEqual(doc.dnsService, { service: "kube-system/kube-dns", ip: NEW_DNS_IP, ips: [NEW_DNS_IP], source: "live" });
    assert.deepEqual(doc.summary, summarize(run(pods())));
    assert.equal(doc.results.length, 6);
    assert.deepEqual(doc.results[0], {
      namespace: NS,
      pod: "web-5d8-a",
      uid: "uid-web-5d8-a",
      workload: "deployment/web",
      workloadKind: "Deployment",
      owners: ["ReplicaSet/web-5d8", "Deployment/web"],
      result: "fail",
      finding: "stale-nameserver",
      policy: "pod-dns-nameserver",
      rule: "stale-nameserver",
      severity: "high",
      reason: "reinject-outdated",
      message: `injected with nameserver ${DNS_IP}, but the DNS Service kube-system/kube-dns is at ${NEW_DNS_IP}`,
      expected: `nameservers ${NEW_DNS_IP}`,
      actual: `nameservers ${DNS_IP}`,
      fix: "kubectl rollout restart deployment/web -n team-a",
    });
    assert.deepEqual(
      doc.results.map((r) => [r.pod, r.result, r.rule]),
      [
        ["web-5d8-a", "fail", "stale-nameserver"],
        ["web-5d8-b", "fail", "stale-nameserver"],
        ["crawler", "warn", "foreign-dns"],
        ["early", "fail", "not-injected"],
        ["fresh", "pass", "up-to-date"],
        ["node-dns", "skip", "dns-policy-default"],
      ],
    );
  });

  it("yaml says what json says", () => {
    assert.deepEqual(parse(formatYAML(run(pods()))), JSON.parse(formatJSON(run(pods()))));
  });

  it("podEntries: a skipped pod's rule is its reason code", () => {
    const [e] = podEntries(audit(plainPod("p"), { facts: ns("disabled") }));
    assert.equal(e?.rule, "namespace-disabled");
    assert.equal(e?.result, "skip");
  });
});

describe("metrics", () => {
  it("non-conforming pods by namespace and finding, 0 for every finding of an audited namespace", async () => {
    const registry = new Registry();
    const m = createAuditMetrics(registry);
    recordAudit(m, run(pods()));
    const values = (await m.nonconforming.get()).values.filter((v) => v.value > 0).map((v) => [v.labels.namespace, v.labels.finding, v.value]);
    assert.deepEqual(values.sort(), [
      [NS, "foreign-dns", 1],
      [NS, "not-injected", 1],
      [NS, "stale-nameserver", 2],
    ]);
    const zeros = (await m.nonconforming.get()).values.filter((v) => v.labels.namespace === "quiet");
    assert.equal(zeros.length, 5);
    assert.ok(zeros.every((v) => v.value === 0));
    const byResult = (await m.pods.get()).values.filter((v) => v.labels.namespace === NS).map((v) => [v.labels.result, v.value]);
    assert.deepEqual(byResult.sort(), [
      ["fail", 3],
      ["pass", 1],
      ["skip", 1],
      ["warn", 1],
    ]);
    const text = await registry.metrics();
    assert.match(text, /pod_dns_injector_audit_nonconforming_pods\{namespace="team-a",finding="stale-nameserver"\} 2/);

    // The next audit replaces the figures; a namespace that left the scope disappears.
    recordAudit(m, run([audit(injectedPod("ok", { ip: NEW_DNS_IP }), { ip: NEW_DNS_IP })], [NS]));
    assert.equal((await m.nonconforming.get()).values.filter((v) => v.value > 0).length, 0);
    assert.equal((await m.nonconforming.get()).values.filter((v) => v.labels.namespace === "quiet").length, 0);

    clearAudit(m);
    assert.equal((await m.nonconforming.get()).values.length, 0, "followers export nothing");
  });
});
