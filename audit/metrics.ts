/**
 * Prometheus metrics of the background audit, on the caller's registry. The headline gauge,
 * non-conforming pods by namespace and finding, is what an alert fires on, e.g.
 * `sum by (namespace) (pod_dns_injector_audit_nonconforming_pods{finding="stale-nameserver"}) > 0`.
 */
import { Counter, Gauge, type Registry } from "prom-client";
import { FINDING_KINDS } from "./findings.js";
import type { AuditRun } from "./report.js";

export interface AuditMetrics {
  nonconforming: Gauge<"namespace" | "finding">;
  pods: Gauge<"namespace" | "result">;
  lastRun: Gauge;
  duration: Gauge;
  runs: Counter<"outcome">;
  /** By report API (wgpolicyk8s, openreports): only the APIs `audit.reports` writes have a series. */
  crdMissing: Gauge<"api">;
}

/** The background audit's gauges and counters, registered on `registry` (the ops port's). */
export function createAuditMetrics(registry: Registry): AuditMetrics {
  return {
    nonconforming: new Gauge({
      name: "pod_dns_injector_audit_nonconforming_pods",
      help: "Pods with a finding of the last audit, by namespace and finding (not-injected, stale-nameserver, drift, would-inject, foreign-dns; foreign-dns is informational). 0 for every finding of an audited namespace.",
      labelNames: ["namespace", "finding"],
      registers: [registry],
    }),
    pods: new Gauge({
      name: "pod_dns_injector_audit_pods",
      help: "Pods seen by the last audit, by namespace and overall result (pass, fail, warn, skip).",
      labelNames: ["namespace", "result"],
      registers: [registry],
    }),
    lastRun: new Gauge({
      name: "pod_dns_injector_audit_last_run_timestamp_seconds",
      help: "When the last successful audit finished (Unix time); alert if it gets old.",
      registers: [registry],
    }),
    duration: new Gauge({ name: "pod_dns_injector_audit_duration_seconds", help: "Wall time of the last successful audit, PolicyReport writes included.", registers: [registry] }),
    runs: new Counter({ name: "pod_dns_injector_audit_runs_total", help: "Background audits by outcome (ok, error).", labelNames: ["outcome"], registers: [registry] }),
    // The name predates OpenReports; the api label tells the two report APIs apart.
    crdMissing: new Gauge({
      name: "pod_dns_injector_audit_policyreport_crd_missing",
      help: "1 while the CRD of a report API the audit writes is not installed, by api (wgpolicyk8s: PolicyReport, openreports: openreports.io Report); no reports of that API are written meanwhile.",
      labelNames: ["api"],
      registers: [registry],
    }),
  };
}

/**
 * Replaces the gauges with the run's figures. Reset and refill happen in one synchronous
 * step, so a scrape never sees a half-updated set; namespaces that left the scope vanish.
 */
export function recordAudit(metrics: AuditMetrics, run: Pick<AuditRun, "pods" | "namespaces">): void {
  metrics.nonconforming.reset();
  metrics.pods.reset();
  for (const namespace of run.namespaces) {
    for (const finding of FINDING_KINDS) metrics.nonconforming.set({ namespace, finding }, 0);
    for (const result of ["pass", "fail", "warn", "skip"]) metrics.pods.set({ namespace, result }, 0);
  }
  for (const pod of run.pods) {
    metrics.pods.inc({ namespace: pod.namespace, result: pod.result });
    for (const finding of new Set(pod.findings.map((f) => f.kind))) metrics.nonconforming.inc({ namespace: pod.namespace, finding });
  }
}

/** A replica that is not the leader exports no audit figures, so sums across replicas stay right. */
export function clearAudit(metrics: AuditMetrics): void {
  metrics.nonconforming.reset();
  metrics.pods.reset();
}
