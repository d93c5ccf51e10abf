/**
 * The audit inside `serve`: on a schedule and whenever something that changes the verdict
 * changes (a namespace's labels, the configuration, the DNS Service IP: the caller calls
 * `trigger`), the leader audits the opted-in namespaces, refreshes the gauges and writes the
 * PolicyReports. Triggers are debounced and coalesced (kube/coalescing-runner.ts): one audit
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
import { buildPolicyReports } from "./policy-report.js";
import { summarize, type ExpectedDNS } from "./report.js";
import { writePolicyReports } from "./report-writer.js";

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
  let crdMissingLogged = false;
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
      const outcome = await writePolicyReports({ kubeConfig: deps.kubeConfig, reports: buildPolicyReports(run), owns: { kind: "all" }, signal: abort.signal });
      const seconds = (performance.now() - started) / 1000;
      const summary = summarize(run);
      if (outcome.kind === "crd-missing") {
        metrics.crdMissing.set(1);
        if (!crdMissingLogged) log.warn({ component: "audit" }, `${outcome.message}; the audit keeps updating its Prometheus metrics`);
        crdMissingLogged = true;
      } else {
        metrics.crdMissing.set(0);
        if (crdMissingLogged) log.info({ component: "audit" }, "the PolicyReport CRD is installed now: writing PolicyReports");
        crdMissingLogged = false;
      }
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
          ...(outcome.kind === "written" ? { reports: { created: outcome.created.length, updated: outcome.updated.length, unchanged: outcome.unchanged.length, deleted: outcome.deleted.length } } : {}),
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
