/**
 * An audit run and its human and machine formats: the table (grouped by workload, with the
 * fix for each), JSON and YAML. One entry per finding, or one pass/skip entry per pod: the
 * same granularity as the PolicyReport results, so the counts agree everywhere. Pure.
 */
import { stringify } from "yaml";
import { FINDING_KINDS, FINDING_RULES, PASS_RULE, type AuditResult, type FindingKind, type PodAudit, type Severity } from "./findings.js";
import { fixText, workloadRef, type FixContext, type Workload } from "./owners.js";
import { dnsServiceRefs, serviceRefText, type Settings } from "../config/settings.js";

/** Where the expected nameserver came from: --nameserver, the live Service, the configured fixed IP, or nowhere. */
export type DNSServiceSource = "flag" | "live" | "configured" | "unknown";

/** The run's `dnsService` field: the first DNS Service, and all of them when several are listed. */
export function runDNSService(settings: Settings, dns: ExpectedDNS): AuditRun["dnsService"] {
  const refs = dnsServiceRefs(settings);
  const first = refs[0] ?? settings.dnsService;
  return { namespace: first.namespace, name: first.name, ips: dns.ips, source: dns.source, ...(refs.length > 1 ? { services: refs.map(serviceRefText) } : {}) };
}

/** The nameservers the audit expects `dnsService` to stand for, and where they came from. */
export interface ExpectedDNS {
  ips: readonly string[];
  source: DNSServiceSource;
  /**
   * During a Service-CIDR migration (several `dnsServices`): the first (new) Service's IPs.
   * A stale pod on none of them points only at the old Services: the finding says so.
   */
  newIPs?: readonly string[] | undefined;
}

export interface AuditRun {
  context: FixContext;
  pods: PodAudit[];
  /** Every namespace audited, including those without pods. */
  namespaces: string[];
  /** `ips`: what `dnsService` stood for (a dual-stack Service's two, primary first); empty while unknown. */
  /** The first DNS Service; `services` names them all when settings `dnsServices` lists several. */
  dnsService: { namespace: string; name: string; ips: readonly string[]; source: DNSServiceSource; services?: readonly string[] | undefined };
  generatedAt: Date;
}

export interface AuditSummary {
  pods: number;
  namespaces: number;
  /** Pods by their overall result. */
  byResult: Record<AuditResult, number>;
  /** Pods with at least one finding of each kind. */
  findings: Record<FindingKind, number>;
  /** Pods that fail: what the CLI's exit code 1 means. */
  violations: number;
}

/** One report entry: a finding, or a pod's pass or skip. */
export interface AuditEntry {
  namespace: string;
  pod: string;
  uid?: string | undefined;
  /** `deployment/web`: kubectl's resource/name form. */
  workload: string;
  /** The workload's kind as the API spells it (`Deployment`). */
  workloadKind: string;
  owners: string[];
  result: AuditResult;
  finding?: FindingKind | undefined;
  policy: string;
  rule: string;
  severity?: Severity | undefined;
  reason: string;
  message: string;
  expected?: string | undefined;
  actual?: string | undefined;
  fix?: string | undefined;
}

/** Counts of an audit run: pods by result, pods per finding kind, and the violations (fails). */
export function summarize(run: Pick<AuditRun, "pods" | "namespaces">): AuditSummary {
  const byResult: Record<AuditResult, number> = { pass: 0, fail: 0, warn: 0, skip: 0 };
  const findings = Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as Record<FindingKind, number>;
  for (const p of run.pods) {
    byResult[p.result]++;
    for (const kind of new Set(p.findings.map((f) => f.kind))) findings[kind]++;
  }
  return { pods: run.pods.length, namespaces: run.namespaces.length, byResult, findings, violations: byResult.fail };
}

/** True when a CI gate should fail: any `fail` finding (foreign-dns and would-inject only warn). */
export function hasViolations(run: Pick<AuditRun, "pods">): boolean {
  return run.pods.some((p) => p.result === "fail");
}

/** The entries of a pod, in finding-kind order. */
export function podEntries(p: PodAudit): AuditEntry[] {
  const common = {
    namespace: p.namespace,
    pod: p.name,
    ...(p.uid ? { uid: p.uid } : {}),
    workload: workloadRef(p.workload),
    workloadKind: p.workload.kind,
    owners: p.workload.chain.map((l) => `${l.kind}/${l.name}`),
  };
  if (p.findings.length === 0) {
    const rule = p.result === "pass" ? PASS_RULE.rule : p.reason;
    return [{ ...common, result: p.result, policy: PASS_RULE.policy, rule, reason: p.reason, message: p.message }];
  }
  return [...p.findings]
    .sort((a, b) => FINDING_KINDS.indexOf(a.kind) - FINDING_KINDS.indexOf(b.kind))
    .map((f) => ({
      ...common,
      result: f.result,
      finding: f.kind,
      policy: FINDING_RULES[f.kind].policy,
      rule: FINDING_RULES[f.kind].rule,
      severity: f.severity,
      reason: p.reason,
      message: f.message,
      expected: f.expected,
      actual: f.actual,
      fix: f.fix,
    }));
}

/** Pods sorted by namespace, workload and name: reports are stable from run to run. */
export function sortPods(pods: readonly PodAudit[]): PodAudit[] {
  const key = (p: PodAudit) => [p.namespace, p.workload.kind, p.workload.name, p.name];
  return [...pods].sort((a, b) => {
    const ka = key(a);
    const kb = key(b);
    for (let i = 0; i < ka.length; i++) {
      const c = (ka[i] as string).localeCompare(kb[i] as string);
      if (c !== 0) return c;
    }
    return 0;
  });
}

function document(run: AuditRun): object {
  return {
    generatedAt: run.generatedAt.toISOString(),
    // `ip` (the primary) predates dual-stack; `ips` has every family.
    dnsService: { service: `${run.dnsService.namespace}/${run.dnsService.name}`, ip: run.dnsService.ips[0] ?? null, ips: run.dnsService.ips, source: run.dnsService.source },
    summary: summarize(run),
    results: sortPods(run.pods).flatMap(podEntries),
  };
}

/** The run as the `-o json` document (summary, namespaces, pods with findings and fixes). */
export function formatJSON(run: AuditRun): string {
  return `${JSON.stringify(document(run), null, 2)}\n`;
}

/** The same document as formatJSON, as YAML (`-o yaml`). */
export function formatYAML(run: AuditRun): string {
  return stringify(document(run), { lineWidth: 0 });
}

/** Shown on the pods line of the table; the JSON lists every pod. */
const MAX_PODS_LISTED = 5;

interface Group {
  workload: Workload;
  rows: { kind: FindingKind; result: AuditResult; pods: string[]; detail: string }[];
  pods: Set<string>;
}

/**
 * The default output: one block per workload with findings (its rows, its pods, the fix),
 * then a summary line. Passing and skipped pods are only counted.
 */
export function formatTable(run: AuditRun): string {
  const groups = new Map<string, Group>();
  for (const p of sortPods(run.pods)) {
    if (p.findings.length === 0) continue;
    const key = `${p.namespace}\u0000${p.workload.kind}\u0000${p.workload.name}`;
    let g = groups.get(key);
    if (!g) groups.set(key, (g = { workload: p.workload, rows: [], pods: new Set() }));
    g.pods.add(p.name);
    for (const f of p.findings) {
      let row = g.rows.find((r) => r.kind === f.kind);
      if (!row) g.rows.push((row = { kind: f.kind, result: f.result, pods: [], detail: f.message }));
      row.pods.push(p.name);
    }
  }
  const header = ["NAMESPACE", "WORKLOAD", "PODS", "RESULT", "FINDING", "DETAIL"];
  const lines: string[][] = [];
  const notes: Map<number, string[]> = new Map();
  for (const g of groups.values()) {
    g.rows.sort((a, b) => FINDING_KINDS.indexOf(a.kind) - FINDING_KINDS.indexOf(b.kind));
    g.rows.forEach((r, i) => lines.push([i === 0 ? g.workload.namespace : "", i === 0 ? workloadRef(g.workload) : "", String(r.pods.length), r.result, r.kind, r.detail]));
    const pods = [...g.pods];
    const listed = pods.slice(0, MAX_PODS_LISTED).join(", ") + (pods.length > MAX_PODS_LISTED ? ` and ${pods.length - MAX_PODS_LISTED} more` : "");
    const fixes = new Set(
      g.rows.map((r) => fixText(g.workload, r.pods, r.kind === "foreign-dns" ? "foreign-dns" : r.kind === "would-inject" ? "would-inject" : "recreate", run.context)),
    );
    // A bare pod or a manifest is its own workload: listing it again says nothing.
    const self = run.context.source === "manifest" || (g.workload.kind === "Pod" && pods.length === 1 && pods[0] === g.workload.name);
    notes.set(lines.length - 1, [...(self ? [] : [`pods: ${listed}`]), ...[...fixes].map((f) => `fix:  ${f}`)]);
  }
  const out: string[] = [];
  if (lines.length) {
    const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] as string).length)));
    const indent = " ".repeat((widths[0] as number) + 2);
    const render = (cells: string[]) =>
      cells
        .map((c, i) => (i === cells.length - 1 ? c : c.padEnd(widths[i] as number)))
        .join("  ")
        .trimEnd();
    out.push(render(header));
    lines.forEach((l, i) => {
      out.push(render(l));
      for (const note of notes.get(i) ?? []) out.push(`${indent}${note}`);
    });
    out.push("");
  }
  out.push(summaryLine(run));
  return `${out.join("\n")}\n`;
}

/** "Audited 12 pods in 3 namespaces (...): 3 pass, 4 fail, 1 warn, 4 skip. Findings: ..." */
export function summaryLine(run: AuditRun): string {
  const s = summarize(run);
  const noun = run.context.source === "manifest" ? "pod template" : "pod";
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  const dns = run.dnsService.ips.length
    ? `expected nameserver ${run.dnsService.ips.join(", ")} (${run.dnsService.source === "live" ? `live clusterIP of ${(run.dnsService.services ?? [`${run.dnsService.namespace}/${run.dnsService.name}`]).join(", ")}` : run.dnsService.source === "flag" ? "--nameserver" : "configured dnsService.clusterIP"})`
    : `DNS Service ${run.dnsService.namespace}/${run.dnsService.name} IP unknown`;
  const found = FINDING_KINDS.filter((k) => s.findings[k] > 0).map((k) => `${k} ${s.findings[k]}`);
  return (
    `${found.length ? "" : "No findings. "}Audited ${plural(s.pods, noun)} in ${plural(s.namespaces, "namespace")}, ${dns}: ` +
    `${s.byResult.pass} pass, ${s.byResult.fail} fail, ${s.byResult.warn} warn, ${s.byResult.skip} skip.` +
    (found.length ? ` Findings (pods): ${found.join(", ")}.` : "")
  );
}
