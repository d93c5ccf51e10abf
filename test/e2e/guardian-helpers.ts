/**
 * Helpers shared by the guardian's end-to-end suite (guardian.test.ts) and its benchmark
 * (bench/guardian-bench.ts): the kubeadm-shaped kube-dns Service, a `serve` process with a
 * known guardian identity, its JSON log records, and the delete → restored measurement.
 */
import { kubeadmKubeDNS } from "./kube.js";

export { kubeadmKubeDNS };
import { readFileSync } from "node:fs";
import { performance } from "node:perf_hooks";
import { setTimeout as delay } from "node:timers/promises";
import { CoordinationV1Api, CoreV1Api, type CoreV1Event, type V1Lease, type V1Service } from "@kubernetes/client-node";
import { DEFAULT_DNS_SERVICE, DEFAULT_DNS_SERVICE_IP, DEFAULT_INJECTOR_NAMESPACE, GUARDIAN_LEASE, SNAPSHOT_CONFIGMAP } from "../../config/names.js";
import type { ServiceSnapshot } from "../../controller/service-snapshot.js";
import { apiErrorCode, describeApiError, waitFor, type WaitOptions } from "./kube.js";
import { startWebhookProcess, sumMetric, type WebhookProcess } from "./webhook-process.js";

export const DNS_NAMESPACE = DEFAULT_DNS_SERVICE.namespace;
export const DNS_NAME = DEFAULT_DNS_SERVICE.name;
export const DNS_REF = `${DNS_NAMESPACE}/${DNS_NAME}`;
export const FIXED_IP = DEFAULT_DNS_SERVICE_IP;
export const INJECTOR_NAMESPACE = DEFAULT_INJECTOR_NAMESPACE;

/** Short leader-election and resync timings so that the suites run in seconds. */
export const FAST_GUARDIAN = { leaseDurationSeconds: 4, renewDeadlineSeconds: 3, retryPeriodSeconds: 1, resyncSeconds: 2 } as const;

/** GET of a Service; undefined on 404. */
export async function readService(core: CoreV1Api, namespace: string, name: string): Promise<V1Service | undefined> {
  try {
    return await core.readNamespacedService({ namespace, name });
  } catch (err) {
    if (apiErrorCode(err) === 404) return undefined;
    throw err;
  }
}

/** Deletes a Service if it exists (only the exact object when `uid` is given); true if deleted. */
export async function deleteService(core: CoreV1Api, namespace: string, name: string, uid?: string): Promise<boolean> {
  try {
    await core.deleteNamespacedService({ namespace, name, body: uid ? { preconditions: { uid } } : {} });
    return true;
  } catch (err) {
    if (apiErrorCode(err) === 404) return false;
    throw new Error(`delete Service ${namespace}/${name}: ${describeApiError(err)}`, { cause: err });
  }
}

/** The injector's namespace (home of the Lease and the last-good-copy ConfigMap) and kube-dns. */
export async function setUpGuardianCluster(core: CoreV1Api): Promise<V1Service> {
  await core.createNamespace({ body: { metadata: { name: INJECTOR_NAMESPACE } } });
  return core.createNamespacedService({ namespace: DNS_NAMESPACE, body: kubeadmKubeDNS(FIXED_IP) });
}

// --- a serve process with its guardian ----------------------------------------------------------

export interface GuardianProcess {
  readonly process: WebhookProcess;
  /** The Lease holder identity and the Events' reportingInstance: `<POD_NAME>_<8 hex>`. */
  readonly identity: string;
  readonly name: string;
}

export interface StartGuardianOptions {
  kubeconfigPath: string;
  /** Log and CA files go here (the control plane's dir: kept for log tails until it stops). */
  dir: string;
  /** Process label and POD_NAME, so the identity says which process it is. */
  name: string;
  /** The `guardian:` section; merged over {@link FAST_GUARDIAN}. */
  guardian?: Record<string, unknown>;
  logLevel?: "info" | "debug";
}

/** Starts `serve` (cluster mode, guardian on) and reads its guardian identity from its log. */
export async function startGuardian(options: StartGuardianOptions): Promise<GuardianProcess> {
  const process = await startWebhookProcess({
    kubeconfigPath: options.kubeconfigPath,
    dir: options.dir,
    name: options.name,
    logLevel: options.logLevel ?? "debug",
    env: { POD_NAME: options.name },
    config: { guardian: { ...FAST_GUARDIAN, ...options.guardian } },
  });
  try {
    const identity = await waitFor(
      `${options.name}: the "DNS Service guardian started" log line`,
      async () => {
        const line = logRecords(process).find(
          (r) => r.msg === "leader election started; campaigning for the lease" && Array.isArray(r.leaderWork) && r.leaderWork.includes("guardian"),
        );
        return typeof line?.identity === "string" ? { value: line.identity } : { detail: "no such line yet" };
      },
      { timeoutMs: 10_000, intervalMs: 50 },
    );
    return { process, identity, name: options.name };
  } catch (err) {
    await process.stop().catch(() => undefined);
    throw err;
  }
}

/** The process's JSON log lines (pino), parsed; other lines are skipped. */
export function logRecords(p: WebhookProcess): Array<Record<string, unknown>> {
  const out: Array<Record<string, unknown>> = [];
  for (const line of readFileSync(p.logPath, "utf8").split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch {
      // A line cut by a kill: not a record.
    }
  }
  return out;
}

/**
 * Waits until at least `min` log records satisfy `accept` and returns them. pino writes
 * asynchronously, so a line may reach the file a moment after the effect it describes.
 */
export function waitForLogRecords(
  g: GuardianProcess,
  what: string,
  accept: (r: Record<string, unknown>) => boolean,
  options: { min?: number; timeoutMs?: number } = {},
): Promise<Array<Record<string, unknown>>> {
  const min = options.min ?? 1;
  return waitFor(
    `${g.name}: ${min} log line(s) ${what}`,
    async () => {
      const found = logRecords(g.process).filter(accept);
      return found.length >= min ? { value: found } : { detail: `${found.length} found` };
    },
    { timeoutMs: options.timeoutMs ?? 5_000, intervalMs: 20 },
  );
}

/** One metric's value (summed over matching label sets) from the process's /metrics. */
export async function metricValue(p: WebhookProcess, metric: string, labels: Record<string, string> = {}): Promise<number> {
  return sumMetric(await p.metrics(), metric, labels);
}

/** Waits until the process reports `pod_dns_injector_guardian_leader 1`. */
export async function waitForLeader(g: GuardianProcess, options: WaitOptions = { timeoutMs: 15_000, intervalMs: 50 }): Promise<void> {
  await waitFor(
    `${g.name} to become the guardian leader`,
    async () => ((await metricValue(g.process, "pod_dns_injector_guardian_leader")) === 1 ? { value: true } : { detail: "leader gauge 0" }),
    options,
  );
}

/**
 * Waits until `count` more periodic resyncs have been reconciled (the guardian's debug line)
 * than when called: the bounded way to show that something did *not* happen meanwhile.
 */
export async function waitForResyncs(g: GuardianProcess, count: number): Promise<void> {
  // By the lines' own timestamps: a line written before the call may reach the file after it.
  const since = Date.now();
  const resyncs = () => logRecords(g.process).filter((r) => r.msg === "guardian reconcile" && r.why === "periodic resync" && Date.parse(String(r.time)) >= since).length;
  const period = FAST_GUARDIAN.resyncSeconds * 1000;
  await waitFor(
    `${g.name}: ${count} periodic resyncs`,
    async () => {
      const n = resyncs();
      return n >= count ? { value: true } : { detail: `${n} so far` };
    },
    { timeoutMs: (count + 2) * period, intervalMs: 100 },
  );
}

// --- cluster objects ----------------------------------------------------------------------------

/** Events in `namespace` with `reason`, optionally only those reported by one instance. */
export async function listEvents(core: CoreV1Api, namespace: string, reason: string, reportingInstance?: string): Promise<CoreV1Event[]> {
  const items = (await core.listNamespacedEvent({ namespace })).items;
  return items.filter((e) => e.reason === reason && (reportingInstance === undefined || e.reportingInstance === reportingInstance));
}

/** Waits for at least `min` such Events (default 1) and returns them all. */
export async function waitForEvents(
  core: CoreV1Api,
  reason: string,
  reportingInstance: string,
  options: { min?: number; match?: (e: CoreV1Event) => boolean; timeoutMs?: number } = {},
): Promise<CoreV1Event[]> {
  const min = options.min ?? 1;
  return waitFor(
    `${min} Event(s) ${reason} in ${DNS_NAMESPACE} from ${reportingInstance}`,
    async () => {
      const all = await listEvents(core, DNS_NAMESPACE, reason, reportingInstance);
      const found = options.match ? all.filter(options.match) : all;
      return found.length >= min ? { value: found } : { detail: `${found.length} found: ${JSON.stringify(all.map((e) => e.message))}` };
    },
    { timeoutMs: options.timeoutMs ?? 15_000, intervalMs: 100 },
  );
}

/** The guardian's last-good-copy ConfigMap, parsed; undefined when it does not exist. */
export async function readStoredSnapshot(core: CoreV1Api): Promise<ServiceSnapshot | undefined> {
  try {
    const cm = await core.readNamespacedConfigMap({ namespace: INJECTOR_NAMESPACE, name: SNAPSHOT_CONFIGMAP });
    const text = cm.data?.["service.json"];
    return text ? (JSON.parse(text) as ServiceSnapshot) : undefined;
  } catch (err) {
    if (apiErrorCode(err) === 404) return undefined;
    throw err;
  }
}

/** Waits until the stored last good copy satisfies `accept`. */
export function waitForStoredSnapshot(core: CoreV1Api, what: string, accept: (s: ServiceSnapshot) => boolean, timeoutMs = 15_000): Promise<ServiceSnapshot> {
  return waitFor(
    `the last good copy in ${INJECTOR_NAMESPACE}/${SNAPSHOT_CONFIGMAP} ${what}`,
    async () => {
      const s = await readStoredSnapshot(core);
      return s && accept(s) ? { value: s } : { detail: s ? JSON.stringify(s) : "no ConfigMap or no service.json" };
    },
    { timeoutMs, intervalMs: 50 },
  );
}

/** The guardian's Lease; undefined when it does not exist. */
export async function readGuardianLease(coordination: CoordinationV1Api): Promise<V1Lease | undefined> {
  try {
    return await coordination.readNamespacedLease({ namespace: INJECTOR_NAMESPACE, name: GUARDIAN_LEASE });
  } catch (err) {
    if (apiErrorCode(err) === 404) return undefined;
    throw err;
  }
}

/** Waits until kube-dns exists on `ip`, and (if given) is not the object with `notUid`. */
export function waitForKubeDNS(core: CoreV1Api, ip: string, options: { notUid?: string | undefined; timeoutMs?: number; intervalMs?: number } = {}): Promise<V1Service> {
  return waitFor(
    `${DNS_REF} on ${ip}${options.notUid ? ` (a new object, not uid ${options.notUid})` : ""}`,
    async () => {
      const svc = await readService(core, DNS_NAMESPACE, DNS_NAME);
      if (!svc) return { detail: "not found" };
      if (options.notUid && svc.metadata?.uid === options.notUid) return { detail: "still the old object" };
      return svc.spec?.clusterIP === ip ? { value: svc } : { detail: `clusterIP ${svc.spec?.clusterIP}` };
    },
    { timeoutMs: options.timeoutMs ?? 15_000, intervalMs: options.intervalMs ?? 20 },
  );
}

// --- delete → restored -----------------------------------------------------------------------

export interface RestoreTrial {
  /** From the delete call returning to the first GET that shows the new object on the fixed IP. */
  ms: number;
  deleted: V1Service;
  restored: V1Service;
  polls: number;
}

/**
 * Deletes kube-dns (exactly the current object, by uid precondition) and polls GET every
 * `pollMs` until a new object is back on {@link FIXED_IP}.
 *
 * @throws Error when kube-dns is not on the fixed IP to begin with, or is not back within `timeoutMs`.
 */
export async function deleteAndMeasureRestore(core: CoreV1Api, options: { pollMs?: number; timeoutMs?: number } = {}): Promise<RestoreTrial> {
  const pollMs = options.pollMs ?? 10;
  const timeoutMs = options.timeoutMs ?? 10_000;
  const deleted = await readService(core, DNS_NAMESPACE, DNS_NAME);
  const uid = deleted?.metadata?.uid;
  if (!deleted || !uid || deleted.spec?.clusterIP !== FIXED_IP) {
    throw new Error(`${DNS_REF} should exist on ${FIXED_IP} before a trial, found ${deleted ? `clusterIP ${deleted.spec?.clusterIP}` : "nothing"}`);
  }
  await core.deleteNamespacedService({ namespace: DNS_NAMESPACE, name: DNS_NAME, body: { preconditions: { uid } } });
  const t0 = performance.now();
  let last = "not polled yet";
  for (let polls = 1; ; polls++) {
    let svc: V1Service | undefined;
    try {
      svc = await readService(core, DNS_NAMESPACE, DNS_NAME);
    } catch (err) {
      last = `error: ${describeApiError(err)}`;
    }
    const now = performance.now();
    if (svc && svc.metadata?.uid !== uid && svc.spec?.clusterIP === FIXED_IP) return { ms: now - t0, deleted, restored: svc, polls };
    if (svc) last = svc.metadata?.uid === uid ? "the deleted object is still there" : `a new object with clusterIP ${svc.spec?.clusterIP}`;
    else if (!last.startsWith("error")) last = "not found";
    if (now - t0 > timeoutMs) throw new Error(`${DNS_REF} not restored on ${FIXED_IP} within ${timeoutMs} ms of its deletion (${polls} polls; last: ${last})`);
    await delay(pollMs);
  }
}

export interface LatencySummary {
  trials: number;
  p50Ms: number;
  p99Ms: number;
  maxMs: number;
}

/** Nearest-rank percentile (of 20 samples, p99 is the maximum). */
export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

export function summarizeLatencies(values: readonly number[]): LatencySummary {
  const round = (n: number) => Math.round(n * 1000) / 1000;
  return { trials: values.length, p50Ms: round(percentile(values, 50)), p99Ms: round(percentile(values, 99)), maxMs: round(Math.max(...values)) };
}
