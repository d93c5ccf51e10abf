/**
 * The audit as report objects, the format Policy Reporter, Kyverno's UI and other tools read,
 * in either API: `wgpolicyk8s.io/v1alpha2` PolicyReports, or their successor
 * `openreports.io/v1alpha1` Reports. One report per namespace (split into parts only when a
 * namespace has more results than fit in one object), `source: pod-dns-injector`, one result
 * per finding or per conforming/skipped pod, the pod as the result's subject, and a summary
 * that counts exactly the results of its report. Pure.
 *
 * The two APIs share the result, summary and metadata shapes field for field; an OpenReports
 * Report also names its `source` at the top (the engine that manages it; results may
 * override it, ours repeat it for readers that look there). Neither sets `scope`: a report
 * covers a namespace's pods and each result names its pod.
 *
 * Schemas: manifests/optional/report-crds (the published CRDs: PolicyReport and
 * ClusterPolicyReport from kyverno/kyverno config/crds/policyreport, Report and ClusterReport
 * from openreports/reports-api crd/openreports.io/v1alpha1).
 */
import {
  APP_COMPONENT_LABEL,
  APP_NAME_LABEL,
  DNS_SERVICE_IP_ANNOTATION,
  DOMAIN,
  MANAGED_BY_LABEL,
  POLICY_REPORT_NAME,
  POLICY_REPORT_SOURCE,
  PRODUCT,
  REPORT_API_NAMES,
  REPORT_PART_ANNOTATION,
  type ReportApi,
} from "../config/names.js";
import { FINDING_RULES, type AuditResult, type Severity } from "./findings.js";
import { podEntries, sortPods, type AuditEntry, type AuditRun } from "./report.js";

export const POLICY_REPORT_LABELS: Readonly<Record<string, string>> = {
  [MANAGED_BY_LABEL]: PRODUCT,
  [APP_NAME_LABEL]: PRODUCT,
  [APP_COMPONENT_LABEL]: "audit",
};

/**
 * Results per report object. etcd refuses objects over 1.5 MiB; a failing result with its
 * properties takes under 1 KiB, so 1,000 keeps a report well below the limit.
 */
export const MAX_RESULTS_PER_REPORT = 1000;

export interface ObjectReference {
  apiVersion?: string;
  kind: string;
  name: string;
  namespace?: string;
  uid?: string;
}

export interface PolicyReportResult {
  source: string;
  policy: string;
  rule: string;
  result: AuditResult;
  /** false for warn: "the policy requirements are not met and the policy is not scored". */
  scored: boolean;
  severity?: Severity;
  category: string;
  message: string;
  timestamp: { seconds: number; nanos: number };
  resources: ObjectReference[];
  properties: Record<string, string>;
}

export interface PolicyReportSummary {
  pass: number;
  fail: number;
  warn: number;
  error: number;
  skip: number;
}

/** A report in either API: a wgpolicyk8s PolicyReport, or an OpenReports Report (with `source`). */
export interface PolicyReport {
  apiVersion: string;
  kind: string;
  /** OpenReports only: the engine that manages the report. */
  source?: string;
  metadata: {
    name: string;
    namespace: string;
    labels: Record<string, string>;
    annotations?: Record<string, string>;
    resourceVersion?: string;
  };
  summary: PolicyReportSummary;
  results: PolicyReportResult[];
}

/** The summary of a list of results; the schema's five counters, all present. */
export function summarizeResults(results: readonly Pick<PolicyReportResult, "result">[]): PolicyReportSummary {
  const s: PolicyReportSummary = { pass: 0, fail: 0, warn: 0, error: 0, skip: 0 };
  for (const r of results) s[r.result]++;
  return s;
}

function toResult(e: AuditEntry, run: AuditRun, timestamp: PolicyReportResult["timestamp"]): PolicyReportResult {
  // Offline, the subject is the manifest's object itself (the pod template's owner).
  const subject: ObjectReference =
    run.context.source === "manifest"
      ? { kind: e.workloadKind, name: e.pod, namespace: e.namespace }
      : { apiVersion: "v1", kind: "Pod", name: e.pod, namespace: e.namespace, ...(e.uid ? { uid: e.uid } : {}) };
  const properties: Record<string, string> = { workload: e.workload, reason: e.reason };
  if (e.owners.length) properties.owners = e.owners.join(" ");
  if (e.expected !== undefined) properties.expected = e.expected;
  if (e.actual !== undefined) properties.actual = e.actual;
  if (e.fix !== undefined) properties.fix = e.fix;
  return {
    source: POLICY_REPORT_SOURCE,
    policy: e.policy,
    rule: e.rule,
    result: e.result,
    scored: e.result !== "warn",
    ...(e.severity ? { severity: e.severity } : {}),
    category: e.finding ? FINDING_RULES[e.finding].category : FINDING_RULES["not-injected"].category,
    message: e.message,
    timestamp,
    resources: [subject],
    properties,
  };
}

/**
 * The reports of a run in `api` (default wgpolicyk8s): one per namespace that has pods (a
 * namespace without pods gets none, and the writer deletes the one it had), split into parts
 * of at most {@link MAX_RESULTS_PER_REPORT} results without splitting a pod's results. Both
 * APIs get the same names, labels, annotations, results and summaries.
 */
export function buildPolicyReports(run: AuditRun, api: ReportApi = "wgpolicyk8s"): PolicyReport[] {
  const names = REPORT_API_NAMES[api];
  // One object for every result of the run (they are serialised, never mutated).
  const timestamp = { seconds: Math.floor(run.generatedAt.getTime() / 1000), nanos: 0 };
  const byNamespace = new Map<string, PolicyReportResult[][]>();
  for (const pod of sortPods(run.pods)) {
    const results = podEntries(pod).map((e) => toResult(e, run, timestamp));
    let parts = byNamespace.get(pod.namespace);
    if (!parts) byNamespace.set(pod.namespace, (parts = [[]]));
    let last = parts.at(-1) as PolicyReportResult[];
    if (last.length > 0 && last.length + results.length > MAX_RESULTS_PER_REPORT) parts.push((last = []));
    last.push(...results);
  }
  const reports: PolicyReport[] = [];
  for (const [namespace, parts] of [...byNamespace].sort(([a], [b]) => a.localeCompare(b))) {
    parts.forEach((results, i) => {
      const annotations: Record<string, string> = {};
      if (run.dnsService.ips.length) annotations[DNS_SERVICE_IP_ANNOTATION] = run.dnsService.ips.join(",");
      if (parts.length > 1) annotations[REPORT_PART_ANNOTATION] = `${i + 1}/${parts.length}`;
      reports.push({
        apiVersion: `${names.group}/${names.version}`,
        kind: names.kind,
        metadata: { name: reportName(i), namespace, labels: { ...POLICY_REPORT_LABELS }, annotations },
        ...(api === "openreports" ? { source: POLICY_REPORT_SOURCE } : {}),
        summary: summarizeResults(results),
        results,
      });
    });
  }
  return reports;
}

/** `pod-dns-injector`, then `pod-dns-injector-2`, ... */
export function reportName(partIndex: number): string {
  return partIndex === 0 ? POLICY_REPORT_NAME : `${POLICY_REPORT_NAME}-${partIndex + 1}`;
}

const resultKey = (r: PolicyReportResult) => canonicalJSON([r.policy, r.rule, r.result, r.resources[0]?.uid ?? r.resources[0]?.name, r.message, r.properties]);

/**
 * `next` with the timestamps of results that `previous` already had unchanged: a result's
 * timestamp says when it was first found, and an unchanged report compares equal (see
 * {@link sameReportContent}), so a periodic audit does not rewrite it.
 */
export function carryTimestamps(next: PolicyReport, previous: { results?: unknown } | undefined): PolicyReport {
  const old = Array.isArray(previous?.results) ? (previous.results as PolicyReportResult[]) : [];
  if (old.length === 0) return next;
  const seen = new Map<string, PolicyReportResult["timestamp"]>();
  for (const r of old) if (r && typeof r === "object" && r.timestamp) seen.set(resultKey(r), r.timestamp);
  return { ...next, results: next.results.map((r) => ({ ...r, timestamp: seen.get(resultKey(r)) ?? r.timestamp })) };
}

/** Whether a stored report already says what `next` says (labels, our annotations, source, summary, results). */
export function sameReportContent(
  next: PolicyReport,
  stored: { metadata?: { labels?: unknown; annotations?: unknown }; source?: unknown; summary?: unknown; results?: unknown },
): boolean {
  const ours = (a: unknown) =>
    Object.fromEntries(
      Object.entries((a as Record<string, string> | undefined) ?? {})
        .filter(([k]) => k.startsWith(`${DOMAIN}/`))
        .sort(),
    );
  const labels = (l: unknown) =>
    Object.fromEntries(
      Object.entries((l as Record<string, string> | undefined) ?? {})
        .filter(([k]) => k in POLICY_REPORT_LABELS)
        .sort(),
    );
  return (
    canonicalJSON(labels(stored.metadata?.labels)) === canonicalJSON(labels(next.metadata.labels)) &&
    canonicalJSON(ours(stored.metadata?.annotations)) === canonicalJSON(ours(next.metadata.annotations)) &&
    stored.source === next.source &&
    canonicalJSON(stored.summary) === canonicalJSON(next.summary) &&
    canonicalJSON(stored.results ?? []) === canonicalJSON(next.results)
  );
}

/** JSON with object keys sorted: the API server returns custom resources with sorted keys. */
export function canonicalJSON(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    v && typeof v === "object" && !Array.isArray(v) ? Object.fromEntries(Object.entries(v as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) : v,
  );
}
