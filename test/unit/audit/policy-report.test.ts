import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse } from "yaml";
import { NDOTS_ANNOTATION } from "../../../config/names.js";
import { defaultSettings } from "../../../config/settings.js";
import { auditPod, type PodAudit } from "../../../audit/findings.js";
import {
  MAX_RESULTS_PER_REPORT,
  buildPolicyReports,
  canonicalJSON,
  carryTimestamps,
  reportName,
  sameReportContent,
  summarizeResults,
  type PolicyReport,
} from "../../../audit/policy-report.js";
import type { AuditRun } from "../../../audit/report.js";
import { POLICY_REPORT_NAME } from "../../../config/names.js";
import { repoRoot } from "../repo-root.js";
import { DNS_IP, NEW_DNS_IP, NS, audit, deploymentWorkload, injectedPod, ns, plainPod } from "./fixtures.js";

const AT = new Date("2026-03-01T12:00:00.250Z");

function run(pods: PodAudit[], namespaces = [...new Set(pods.map((p) => p.namespace))]): AuditRun {
  return { context: { source: "cluster" }, pods, namespaces, dnsService: { namespace: "kube-system", name: "kube-dns", ips: [NEW_DNS_IP], source: "live" }, generatedAt: AT };
}

const deployment = deploymentWorkload({ metadata: {}, spec: {} });
const sample = (): PodAudit[] => [
  audit(injectedPod("ok", { ip: NEW_DNS_IP }), { ip: NEW_DNS_IP }), // pass
  audit(plainPod("early"), { ip: NEW_DNS_IP }), // not-injected
  audit(injectedPod("web-5d8-a"), { ip: NEW_DNS_IP, facts: ns("enabled", { [NDOTS_ANNOTATION]: "2" }), workload: deployment }), // stale + drift
  audit(plainPod("crawler", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["8.8.8.8"] } } }), { ip: NEW_DNS_IP }), // foreign-dns
  audit(plainPod("node-dns", { spec: { dnsPolicy: "Default" } }), { ip: NEW_DNS_IP }), // skip
  auditPod({
    pod: plainPod("other"),
    namespace: "team-b",
    namespaceFacts: ns("audit", {}, "team-b"),
    settings: defaultSettings(),
    dnsServiceIPs: [NEW_DNS_IP],
    workload: { kind: "Pod", name: "other", namespace: "team-b", chain: [] },
  }), // would-inject
];

/**
 * Checks a value against the structural OpenAPI subset the CRD uses (type, properties,
 * required, enum, items, additionalProperties) and reports fields the schema does not know:
 * the API server would silently prune them.
 */
function validate(value: unknown, schema: Record<string, unknown>, path: string, errors: string[]): void {
  const type = schema.type as string | undefined;
  const isObj = typeof value === "object" && value !== null && !Array.isArray(value);
  if (type === "object" && !isObj) return void errors.push(`${path}: expected an object`);
  if (type === "array" && !Array.isArray(value)) return void errors.push(`${path}: expected an array`);
  if (type === "string" && typeof value !== "string") return void errors.push(`${path}: expected a string`);
  if (type === "integer" && !Number.isInteger(value)) return void errors.push(`${path}: expected an integer`);
  if (type === "boolean" && typeof value !== "boolean") return void errors.push(`${path}: expected a boolean`);
  if (Array.isArray(schema.enum) && !schema.enum.includes(value)) errors.push(`${path}: ${JSON.stringify(value)} not in ${JSON.stringify(schema.enum)}`);
  if (type === "array") (value as unknown[]).forEach((v, i) => validate(v, schema.items as Record<string, unknown>, `${path}[${i}]`, errors));
  if (type === "object" && isObj) {
    const obj = value as Record<string, unknown>;
    for (const r of (schema.required as string[] | undefined) ?? []) if (!(r in obj)) errors.push(`${path}.${r}: required`);
    const props = schema.properties as Record<string, Record<string, unknown>> | undefined;
    const extra = schema.additionalProperties as Record<string, unknown> | undefined;
    if (path === ".metadata") return; // free-form in the CRD
    for (const [k, v] of Object.entries(obj)) {
      if (props?.[k]) validate(v, props[k], `${path}.${k}`, errors);
      else if (extra) validate(v, extra, `${path}.${k}`, errors);
      else errors.push(`${path}.${k}: not in the schema (would be pruned)`);
    }
  }
}

/** Every report is valid for `crdSchema`, with no field the API server would prune. */
function assertValid(reports: readonly PolicyReport[], crdSchema: Record<string, unknown>): void {
  for (const r of reports) {
    const errors: string[] = [];
    validate(r, crdSchema, "", errors);
    assert.deepEqual(errors, [], `${r.metadata.namespace}: ${errors.join("; ")}`);
  }
}

type Crd = { spec: { group: string; names: { kind: string }; versions: { name: string; schema: { openAPIV3Schema: Record<string, unknown> } }[] } };
const readCrd = (file: string) => parse(readFileSync(join(repoRoot(), "manifests", "optional", "report-crds", file), "utf8")) as Crd;
const schemaOf = (crd: Crd, version: string) => crd.spec.versions.find((v) => v.name === version)!.schema.openAPIV3Schema;
const schema = schemaOf(readCrd("wgpolicyk8s.io_policyreports.yaml"), "v1alpha2");
/** The published OpenReports CRD, unchanged (manifests/optional/report-crds). */
const openReportsCrd = readCrd("openreports.io_reports.yaml");
const openReportsSchema = schemaOf(openReportsCrd, "v1alpha1");

describe("buildPolicyReports", () => {
  const reports = buildPolicyReports(run(sample()));
  const teamA = reports.find((r) => r.metadata.namespace === NS)!;

  it("one report per namespace with pods, named and labelled as ours", () => {
    assert.deepEqual(
      reports.map((r) => `${r.metadata.namespace}/${r.metadata.name}`),
      [`${NS}/${POLICY_REPORT_NAME}`, `team-b/${POLICY_REPORT_NAME}`],
    );
    for (const r of reports) {
      assert.equal(r.apiVersion, "wgpolicyk8s.io/v1alpha2");
      assert.equal(r.kind, "PolicyReport");
      assert.equal(r.metadata.labels["app.kubernetes.io/managed-by"], "pod-dns-injector");
      assert.equal(r.metadata.annotations?.["pod-dns-injector.io/dns-service-ip"], NEW_DNS_IP);
    }
  });

  it("every report validates against the published v1alpha2 schema, nothing would be pruned", () => assertValid(reports, schema));

  it("the summary counts exactly the report's results", () => {
    for (const r of reports) assert.deepEqual(r.summary, summarizeResults(r.results));
    assert.deepEqual(teamA.summary, { pass: 1, fail: 3, warn: 1, error: 0, skip: 1 });
    assert.deepEqual(reports[1]?.summary, { pass: 0, fail: 0, warn: 1, error: 0, skip: 0 });
  });

  it("policy, rule, result, severity and category per finding kind; one entry per pass or skip pod", () => {
    const rows = teamA.results.map((r) => [r.resources[0]?.name, r.policy, r.rule, r.result, r.severity ?? "-", r.scored]);
    // Sorted by workload (kind, name), then pod: stable from run to run.
    assert.deepEqual(rows, [
      ["web-5d8-a", "pod-dns-nameserver", "stale-nameserver", "fail", "high", true],
      ["web-5d8-a", "pod-dns-profile", "drift", "fail", "medium", true],
      ["crawler", "pod-dns-own-config", "foreign-dns", "warn", "low", false],
      ["early", "pod-dns-injected", "not-injected", "fail", "medium", true],
      ["node-dns", "pod-dns-injected", "dns-policy-default", "skip", "-", true],
      ["ok", "pod-dns-injected", "up-to-date", "pass", "-", true],
    ]);
    for (const r of teamA.results) {
      assert.equal(r.source, "pod-dns-injector");
      assert.equal(r.category, "Pod DNS");
      assert.deepEqual(r.timestamp, { seconds: Math.floor(AT.getTime() / 1000), nanos: 0 });
    }
  });

  it("the pod is the subject; properties carry expected, actual, workload, owners and fix", () => {
    const stale = teamA.results.find((r) => r.rule === "stale-nameserver")!;
    assert.deepEqual(stale.resources, [{ apiVersion: "v1", kind: "Pod", name: "web-5d8-a", namespace: NS, uid: "uid-web-5d8-a" }]);
    assert.deepEqual(stale.properties, {
      workload: "deployment/web",
      reason: "reinject-outdated",
      owners: "ReplicaSet/web-5d8 Deployment/web",
      expected: `nameservers ${NEW_DNS_IP}`,
      actual: `nameservers ${DNS_IP}`,
      fix: "kubectl rollout restart deployment/web -n team-a",
    });
    assert.equal(stale.message, `injected with nameserver ${DNS_IP}, but the DNS Service kube-system/kube-dns is at ${NEW_DNS_IP}`);
    const pass = teamA.results.find((r) => r.result === "pass")!;
    assert.deepEqual(pass.properties, { workload: "pod/ok", reason: "already-injected" });
  });

  it("a namespace too large for one object is split into parts, each with its own summary, without splitting a pod", () => {
    const many = Array.from({ length: MAX_RESULTS_PER_REPORT * 2 + 10 }, (_, i) => audit(plainPod(`p-${String(i).padStart(5, "0")}`)));
    const parts = buildPolicyReports(run(many));
    assert.deepEqual(
      parts.map((p) => p.metadata.name),
      [reportName(0), reportName(1), reportName(2)],
    );
    assert.deepEqual(
      parts.map((p) => p.metadata.name),
      ["pod-dns-injector", "pod-dns-injector-2", "pod-dns-injector-3"],
    );
    assert.deepEqual(
      parts.map((p) => p.results.length),
      [MAX_RESULTS_PER_REPORT, MAX_RESULTS_PER_REPORT, 10],
    );
    assert.deepEqual(
      parts.map((p) => p.metadata.annotations?.["pod-dns-injector.io/report-part"]),
      ["1/3", "2/3", "3/3"],
    );
    for (const p of parts) assert.deepEqual(p.summary, summarizeResults(p.results));
    assert.equal(
      parts.reduce((n, p) => n + p.summary.fail, 0),
      many.length,
    );
  });

  it("no pods, no report (the writer deletes the namespace's old one)", () => {
    assert.deepEqual(buildPolicyReports(run([], [NS])), []);
  });

  it("offline: the manifest's object is the subject", () => {
    const pod = audit(plainPod("web"), { workload: { kind: "Deployment", name: "web", namespace: NS, chain: [{ kind: "Deployment", name: "web" }] } });
    const [r] = buildPolicyReports({ ...run([pod]), context: { source: "manifest", file: "x.yaml" } });
    assert.deepEqual(r?.results[0]?.resources, [{ kind: "Deployment", name: "web", namespace: NS }]);
  });
});

describe("buildPolicyReports for OpenReports (openreports.io/v1alpha1)", () => {
  const wg = buildPolicyReports(run(sample()));
  const open = buildPolicyReports(run(sample()), "openreports");

  it("Report objects of the published CRD's group, version and kind, with the report-level source", () => {
    assert.equal(openReportsCrd.spec.group, "openreports.io");
    assert.equal(openReportsCrd.spec.names.kind, "Report");
    for (const r of open) {
      assert.equal(r.apiVersion, "openreports.io/v1alpha1");
      assert.equal(r.kind, "Report");
      assert.equal(r.source, "pod-dns-injector");
    }
    for (const r of wg) assert.equal("source" in r, false, "a PolicyReport has no report-level source");
  });

  it("every Report validates against the published openreports.io schema, nothing would be pruned", () => assertValid(open, openReportsSchema));

  it("the same reports as the wgpolicyk8s ones: names, metadata, summaries and results", () => {
    assert.deepEqual(
      open.map((r) => r.metadata),
      wg.map((r) => r.metadata),
    );
    assert.deepEqual(
      open.map((r) => r.summary),
      wg.map((r) => r.summary),
    );
    assert.deepEqual(
      open.map((r) => r.results),
      wg.map((r) => r.results),
    );
    for (const r of open) assert.deepEqual(r.summary, summarizeResults(r.results));
    assert.deepEqual(open[0]?.summary, { pass: 1, fail: 3, warn: 1, error: 0, skip: 1 });
  });

  it("large namespaces split into the same parts", () => {
    const many = Array.from({ length: MAX_RESULTS_PER_REPORT + 5 }, (_, i) => audit(plainPod(`p-${String(i).padStart(5, "0")}`)));
    const parts = buildPolicyReports(run(many), "openreports");
    assert.deepEqual(
      parts.map((p) => [p.metadata.name, p.results.length, p.summary.fail]),
      [
        ["pod-dns-injector", MAX_RESULTS_PER_REPORT, MAX_RESULTS_PER_REPORT],
        ["pod-dns-injector-2", 5, 5],
      ],
    );
  });

  it("a stored Report whose source someone changed is rewritten; an unchanged one is not", () => {
    const r = open[0]!;
    const stored = JSON.parse(canonicalJSON(r)) as PolicyReport;
    assert.ok(sameReportContent(r, stored));
    assert.ok(!sameReportContent(r, { ...stored, source: "someone-else" }));
  });
});

describe("report updates", () => {
  const first = buildPolicyReports(run(sample()))[0]!;
  const later = buildPolicyReports({ ...run(sample()), generatedAt: new Date(AT.getTime() + 300_000) })[0]!;
  /** As the API server returns it: keys sorted, plus server-set metadata. */
  const stored = (r: PolicyReport) => ({
    ...(JSON.parse(canonicalJSON(r)) as PolicyReport),
    metadata: { ...r.metadata, resourceVersion: "42", uid: "u", creationTimestamp: "2026-03-01T12:00:00Z" },
  });

  it("an unchanged audit keeps the first-seen timestamps and compares equal: nothing to write", () => {
    const next = carryTimestamps(later, stored(first));
    assert.deepEqual(
      next.results.map((r) => r.timestamp),
      first.results.map((r) => r.timestamp),
    );
    assert.ok(sameReportContent(next, stored(first)));
  });

  it("a new finding gets the new timestamp and the report is rewritten", () => {
    const pods = sample();
    pods.push(audit(plainPod("late"), { ip: NEW_DNS_IP }));
    const changed = buildPolicyReports({ ...run(pods), generatedAt: new Date(AT.getTime() + 300_000) })[0]!;
    const next = carryTimestamps(changed, stored(first));
    const late = next.results.find((r) => r.resources[0]?.name === "late")!;
    assert.equal(late.timestamp.seconds, Math.floor(AT.getTime() / 1000) + 300);
    assert.ok(!sameReportContent(next, stored(first)));
  });

  it("a report whose labels someone removed is rewritten", () => {
    const s = stored(first);
    s.metadata.labels = {};
    assert.ok(!sameReportContent(first, s));
  });
});
