/**
 * Measures, from inside a pod, how long name lookups fail while something happens to the
 * cluster's DNS (the kube-dns Service deleted and restored, a guard refusing the deletion):
 * a dnsprobe pod resolves a name every 50 ms and reports each window of failed lookups;
 * this module runs the action once per trial and collects the windows the pod saw.
 */
import { spawn } from "node:child_process";
import { createInterface } from "node:readline";
import { setTimeout as delay } from "node:timers/promises";
import type { RealNode } from "./node.js";

/** What the pod reported for one trial. */
export interface LookupWindowTrial {
  /** Total time lookups failed during the trial (0 if none failed). */
  windowMs: number;
  /** Failed lookups during the trial. */
  failedLookups: number;
  /** How long the action took (for a deletion: until the Service was back). */
  actionMs: number;
  /** The pod's "up" events of the trial (one per failure window), for the report. */
  windows: { downSince: number; windowMs: number; failedLookups: number }[];
}

/** Options of {@link measureLookupWindow}. */
export interface LookupWindowOptions {
  /** Number of trials (default 10). */
  trials?: number;
  /** What each trial does; resolves when the action is complete (e.g. the Service is back). */
  action: (trial: number) => Promise<void>;
  /** Namespace of the probe pod (must exist; a default ServiceAccount must be there). */
  namespace: string;
  /** The dnsprobe image (default: the node's). */
  probeImage?: string;
  /** Name the pod resolves (default kubernetes.default, through the search list). */
  name?: string;
  intervalMs?: number;
  /** Per-lookup bound (default 100 ms; CoreDNS answers in ~1 ms here); a lookup that takes
   *  longer counts as failed, and a dropped query costs this much of the window's resolution. */
  timeoutMs?: number;
  /** Quiet time after each action during which lookups must work before the next trial. */
  settleMs?: number;
}

interface ProbeEvent {
  event: "start" | "down" | "up" | "beat";
  t: number;
  downSince?: number;
  windowMs?: number;
  failedLookups?: number;
  up?: boolean;
  error?: string;
}

/** p50 and max of the trials' windows, in ms. */
export function summarizeWindows(trials: LookupWindowTrial[]): { p50: number; max: number; trials: number } {
  const sorted = trials.map((t) => t.windowMs).sort((a, b) => a - b);
  const p50 = sorted.length === 0 ? 0 : (sorted[Math.floor((sorted.length - 1) / 2)] ?? 0);
  return { p50, max: sorted.at(-1) ?? 0, trials: sorted.length };
}

/**
 * Starts a probe pod in `namespace`, waits until its lookups work, then runs
 * `options.action` `trials` times, after each waiting until lookups have worked for
 * `settleMs` past the action's end, and returns what the pod reported per trial. The pod is
 * deleted at the end.
 *
 * @throws Error if the pod does not start, its lookups never work, or lookups are still
 *   failing 60 s after an action.
 */
export async function measureLookupWindow(node: Pick<RealNode, "cp" | "images">, options: LookupWindowOptions): Promise<LookupWindowTrial[]> {
  const cp = node.cp;
  const trials = options.trials ?? 10;
  const intervalMs = options.intervalMs ?? 50;
  const settleMs = options.settleMs ?? 1_500;
  const podName = `lookup-window-${Date.now().toString(36)}`;
  const pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name: podName, namespace: options.namespace, labels: { "app.kubernetes.io/name": "lookup-window" } },
    spec: {
      terminationGracePeriodSeconds: 1,
      containers: [
        {
          name: "probe",
          image: options.probeImage ?? node.images.dnsprobe.ref,
          imagePullPolicy: "Never",
          args: ["resolve-loop", `-interval=${intervalMs}ms`, `-timeout=${options.timeoutMs ?? 100}ms`, options.name ?? "kubernetes.default"],
        },
      ],
    },
  };
  const created = await cp.kubectl(["apply", "-f", "-"], { input: JSON.stringify(pod) });
  if (created.code !== 0) throw new Error(`creating the lookup probe pod: ${created.stderr}`);
  const ready = await cp.kubectl(["-n", options.namespace, "wait", `pod/${podName}`, "--for=condition=Ready", "--timeout=60s"], { timeoutMs: 70_000 });
  if (ready.code !== 0) throw new Error(`lookup probe pod not ready: ${ready.stderr}`);

  // One log stream for the whole measurement: the pod's lines arrive as they are written.
  const events: ProbeEvent[] = [];
  const follower = spawn(cp.binaries.kubectl, [`--kubeconfig=${cp.kubeconfigPath}`, "-n", options.namespace, "logs", "-f", podName], {
    stdio: ["ignore", "pipe", "pipe"],
  });
  let followerError = "";
  follower.stderr.setEncoding("utf8").on("data", (d: string) => (followerError += d));
  createInterface({ input: follower.stdout }).on("line", (line) => {
    try {
      events.push(JSON.parse(line) as ProbeEvent);
    } catch {
      // Not one of the probe's JSON lines.
    }
  });
  const waitForEvent = async (what: string, pred: (e: ProbeEvent) => boolean, timeoutMs: number): Promise<ProbeEvent> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const hit = events.find(pred);
      if (hit) return hit;
      if (Date.now() > deadline) {
        throw new Error(`lookup probe: timed out waiting for ${what} (last events: ${JSON.stringify(events.slice(-5))}; kubectl logs: ${followerError.trim()})`);
      }
      await delay(50);
    }
  };
  try {
    const startedAt = Date.now();
    await waitForEvent("lookups that work", (e) => e.event === "beat" && e.up === true && e.t >= startedAt, 30_000);
    const results: LookupWindowTrial[] = [];
    for (let trial = 0; trial < trials; trial++) {
      const t0 = Date.now();
      await options.action(trial);
      const actionEnd = Date.now();
      // Settled: a heartbeat, well after the action, saying lookups work.
      await waitForEvent(`lookups working again after trial ${trial + 1}`, (e) => e.event === "beat" && e.up === true && e.t >= actionEnd + settleMs, 60_000);
      const windows = events
        .filter((e) => e.event === "up" && (e.downSince ?? 0) >= t0 - intervalMs)
        .map((e) => ({ downSince: e.downSince ?? 0, windowMs: e.windowMs ?? 0, failedLookups: e.failedLookups ?? 0 }));
      results.push({
        windowMs: windows.reduce((sum, w) => sum + w.windowMs, 0),
        failedLookups: windows.reduce((sum, w) => sum + w.failedLookups, 0),
        actionMs: actionEnd - t0,
        windows,
      });
    }
    return results;
  } finally {
    follower.kill("SIGKILL");
    await cp.kubectl(["-n", options.namespace, "delete", "pod", podName, "--grace-period=0", "--force", "--wait=false"]);
  }
}
