/**
 * The audit inside `serve`: on a schedule and whenever something that changes the verdict
 * changes (a namespace's labels, the configuration, the DNS Service IP: the caller calls
 * `trigger`), the leader audits the opted-in namespaces, refreshes the gauges and writes the
 * reports in the API(s) `audit.reports` names (wgpolicyk8s PolicyReports, OpenReports Reports). Triggers are debounced and coalesced (kube/coalescing-runner.ts): one audit
 * at a time, and one more if anything came in meanwhile. Only the holder of `serve`'s Lease
 * audits; the election calls {@link BackgroundAudit.startedLeading} and
 * {@link BackgroundAudit.stoppedLeading}. Followers export no audit gauges, so sums across
 * replicas count every pod once.
 */
import { performance } from "node:perf_hooks";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import type { Settings } from "../config/settings.js";
import { CoalescingRunner } from "../kube/coalescing-runner.js";
import { realTimers, type Timers } from "../kube/timers.js";
import { auditCluster } from "./cluster-source.js";
import { clearAudit, createAuditMetrics, recordAudit } from "./metrics.js";
import { REPORT_API_NAMES, reportApisOf, type ReportApi } from "../config/names.js";
import { summarize, type ExpectedDNS } from "./report.js";
import { writeReports, type ApiWriteOutcome } from "./report-writer.js";

/** Default schedule: every 5 minutes, the usual background-scan period of policy engines. */
export const DEFAULT_AUDIT_INTERVAL_SECONDS = 300;
/** Namespace label changes arrive in bursts (e.g. a GitOps sync relabels many at once). */
const DEBOUNCE_MS = 1000;
/** After a failed audit, one retry this soon rather than a full interval later. */
const RETRY_AFTER_ERROR_MS = 30_000;

export interface BackgroundAuditDeps {
  kubeConfig: KubeConfig;
  /** Current settings (read at every run: they may be reloaded). */
  settings: () => Settings;
  log: Logger;
  registry: Registry;
  isLeader: () => boolean;
  /** The DNS Services' live clusterIPs (else the configured ones), e.g. from serve's informer caches. */
  dnsServiceIPs: () => Omit<ExpectedDNS, "source">;
  /** Seconds between scheduled audits. Default {@link DEFAULT_AUDIT_INTERVAL_SECONDS}. */
  intervalSeconds?: number;
  /** The schedule, the debounce and the retry; tests pass a manual clock. Default real timers. */
  timers?: Timers | undefined;
}

export interface BackgroundAudit {
  /** Asks for an audit soon (debounced); ignored after stop() and, at run time, on followers. */
  trigger(reason: string): void;
  /** This replica now holds the Lease: audit at once. */
  startedLeading(): void;
  /** Another replica leads now: drop the audit gauges (a follower exports none). */
  stoppedLeading(): void;
  /** Stops the schedule, aborts a running audit between pages and waits for it. */
  stop(): Promise<void>;
}

/**
 * Starts the background audit. The first audit runs as soon as this replica is the leader
 * (at once if it already is).
 */
export function startBackgroundAudit(deps: BackgroundAuditDeps): BackgroundAudit {
  const log = deps.log;
  const metrics = createAuditMetrics(deps.registry);
  const intervalMs = (deps.intervalSeconds ?? DEFAULT_AUDIT_INTERVAL_SECONDS) * 1000;
  if (!(intervalMs > 0)) throw new Error(`startBackgroundAudit: intervalSeconds must be positive, got ${deps.intervalSeconds}`);
  const abort = new AbortController();
  let stopped = false;
  const timers = deps.timers ?? realTimers;
  /** Cancels the pending retry after an error, while one is pending. */
  let retry: (() => void) | undefined;
  /** The APIs whose missing CRD was logged (once, until it is installed). */
  const crdMissingLogged = new Set<ReportApi>();
  const loggedWarnings = new Set<string>();
  const runner = new CoalescingRunner({
    run: (reasons) => runOnce(reasons),
    // runOnce reports its own failures; this is for a bug in the reporting itself.
    onError: (err, reasons) => log.error({ component: "audit", err, reasons }, "background audit crashed"),
    canRun: () => !stopped,
    debounceMs: DEBOUNCE_MS,
    timers,
  });
  const trigger = (reason: string): void => runner.trigger(reason);

  async function runOnce(reasons: string[]): Promise<void> {
    if (!deps.isLeader()) {
      clearAudit(metrics);
      log.debug({ reasons }, "background audit skipped: not the leader");
      return;
    }
    const started = performance.now();
    try {
      const { ips, newIPs } = deps.dnsServiceIPs();
      const run = await auditCluster({
        kubeConfig: deps.kubeConfig,
        settings: deps.settings(),
        scope: { kind: "opted-in" },
        dnsServiceIPs: { ips, newIPs, source: ips.length ? "live" : "unknown" },
        signal: abort.signal,
      });
      for (const w of run.warnings) {
        if (loggedWarnings.has(w)) continue;
        loggedWarnings.add(w);
        log.warn({ component: "audit" }, w);
      }
      // Leadership may have moved during the lists: the new leader writes, we do not.
      if (stopped || !deps.isLeader()) return;
      recordAudit(metrics, run);
      const outcomes = await writeReports({ kubeConfig: deps.kubeConfig, run, apis: reportApisOf(deps.settings().audit.reports), owns: { kind: "all" }, signal: abort.signal });
      const seconds = (performance.now() - started) / 1000;
      const summary = summarize(run);
      recordCrdOutcomes(outcomes);
      metrics.duration.set(seconds);
      metrics.lastRun.set(Date.now() / 1000);
      metrics.runs.inc({ outcome: "ok" });
      log.info(
        {
          component: "audit",
          reasons,
          seconds: Number(seconds.toFixed(3)),
          pods: summary.pods,
          namespaces: summary.namespaces,
          results: summary.byResult,
          findings: summary.findings,
          reports: Object.fromEntries(
            outcomes.flatMap(({ api, outcome: o }) =>
              o.kind === "written" ? [[api, { created: o.created.length, updated: o.updated.length, unchanged: o.unchanged.length, deleted: o.deleted.length }]] : [],
            ),
          ),
        },
        "background audit finished",
      );
    } catch (err) {
      if (stopped && abort.signal.aborted) return;
      metrics.runs.inc({ outcome: "error" });
      log.error({ component: "audit", err, reasons }, `background audit failed; retrying in ${RETRY_AFTER_ERROR_MS / 1000} s`);
      retry ??= timers.after(RETRY_AFTER_ERROR_MS, () => {
        retry = undefined;
        trigger("retry after error");
      });
    }
  }

  /** The per-API CRD gauge, and one log line when a CRD goes missing or comes back. */
  function recordCrdOutcomes(outcomes: readonly ApiWriteOutcome[]): void {
    // Only the APIs written now have a series (a changed audit.reports drops the other's).
    metrics.crdMissing.reset();
    for (const { api, outcome } of outcomes) {
      const n = REPORT_API_NAMES[api];
      if (outcome.kind === "crd-missing") {
        metrics.crdMissing.set({ api }, 1);
        if (!crdMissingLogged.has(api)) log.warn({ component: "audit", api }, `${outcome.message}; the audit keeps updating its Prometheus metrics`);
        crdMissingLogged.add(api);
      } else {
        metrics.crdMissing.set({ api }, 0);
        if (crdMissingLogged.delete(api)) log.info({ component: "audit", api }, `the ${n.title} CRD is installed now: writing ${n.titlePlural}`);
      }
    }
  }

  const cancelSchedule = timers.every(intervalMs, () => trigger("schedule"));
  if (deps.isLeader()) trigger("start");

  return {
    trigger,
    startedLeading: () => trigger("became leader"),
    stoppedLeading: () => clearAudit(metrics),
    async stop() {
      if (stopped) return;
      stopped = true;
      cancelSchedule();
      retry?.();
      abort.abort(new Error("background audit stopped"));
      await runner.stop();
    },
  };
}
