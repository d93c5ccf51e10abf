/**
 * `npm run bench:guardian`: how fast the DNS Service guardian puts a deleted kube-dns back on
 * its fixed clusterIP, on a real control plane (etcd + kube-apiserver). One `serve` process
 * (cluster mode, the guardian leading), kube-system/kube-dns as kubeadm creates it on
 * 10.96.0.10; each trial deletes it and polls GET until a new object is back on that IP.
 * Latency is from the delete call returning to the first GET that shows it back, so it
 * includes up to one poll interval. Not part of `npm test`.
 *
 * Exit code 1 when a trial fails or the guardian's own count disagrees, 2 on a usage error.
 */
import { parseArgs } from "node:util";
import { CoreV1Api } from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../test/control-plane/harness.js";
import {
  FIXED_IP,
  deleteAndMeasureRestore,
  metricValue,
  percentile,
  setUpGuardianCluster,
  startGuardian,
  summarizeLatencies,
  waitForLeader,
  waitForLogRecords,
  waitForStoredSnapshot,
  type GuardianProcess,
  type LatencySummary,
} from "../test/e2e/guardian-helpers.js";

/** Whatever happens, the benchmark ends by itself. */
const WATCHDOG_MS = 10 * 60 * 1000;

const USAGE = `usage: npm run bench:guardian -- [--trials N] [--warmup N] [--poll-ms MS] [--json]

  --trials N     measured delete → restored trials (default 20)
  --warmup N     trials run first and not counted (default 1)
  --poll-ms MS   interval of the GET that detects the restored Service (default 10)
  --json         print one JSON object { trials, p50Ms, p99Ms, maxMs } on stdout
                 (progress goes to stderr)`;

interface Options {
  trials: number;
  warmup: number;
  pollMs: number;
  json: boolean;
}

class UsageError extends Error {}

function positiveInt(name: string, text: string | undefined, fallback: number, min: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < min) throw new UsageError(`--${name}: an integer >= ${min}, got ${JSON.stringify(text)}`);
  return n;
}

function parseOptions(argv: string[]): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        trials: { type: "string" },
        warmup: { type: "string" },
        "poll-ms": { type: "string" },
        json: { type: "boolean", default: false },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return "help";
  return {
    trials: positiveInt("trials", values.trials, 20, 1),
    warmup: positiveInt("warmup", values.warmup, 1, 0),
    pollMs: positiveInt("poll-ms", values["poll-ms"], 10, 1),
    json: values.json,
  };
}

async function run(options: Options): Promise<LatencySummary> {
  const progress = (line: string) => process.stderr.write(`[bench:guardian] ${line}\n`);
  let cp: ControlPlane | undefined;
  let guardian: GuardianProcess | undefined;
  try {
    progress("starting etcd and kube-apiserver");
    cp = await startControlPlane({ name: "bench-guardian" });
    const core = cp.kubeConfig().makeApiClient(CoreV1Api);
    await setUpGuardianCluster(core);
    progress("starting pod-dns-injector serve (guardian on)");
    guardian = await startGuardian({ kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, name: "guardian-bench", logLevel: "info" });
    await waitForLeader(guardian);
    await waitForStoredSnapshot(core, `to hold kube-dns on ${FIXED_IP}`, (s) => s.clusterIP === FIXED_IP);

    const latencies: number[] = [];
    const total = options.warmup + options.trials;
    for (let i = 1; i <= total; i++) {
      const trial = await deleteAndMeasureRestore(core, { pollMs: options.pollMs, timeoutMs: 10_000 });
      const warm = i <= options.warmup;
      if (!warm) latencies.push(trial.ms);
      progress(`${warm ? "warm-up" : "trial"} ${warm ? i : i - options.warmup}: ${trial.ms.toFixed(3)} ms (${trial.polls} GETs)`);
    }

    // The guardian's own view, from deletion observed to create answered (ms resolution).
    const repairs = await metricValue(guardian.process, "pod_dns_injector_guardian_repairs_total", { kind: "recreate" });
    if (repairs !== total) throw new Error(`the guardian counted ${repairs} repairs, expected ${total}`);
    const own = (await waitForLogRecords(guardian, "DNS Service recreated", (r) => r.msg === "DNS Service recreated on its fixed clusterIP", { min: total }))
      .slice(options.warmup)
      .map((r) => Number(r.seconds) * 1000);
    progress(`guardian-side (informer delete event → create answered): p50 ${percentile(own, 50).toFixed(0)} ms, p99 ${percentile(own, 99).toFixed(0)} ms`);
    return summarizeLatencies(latencies);
  } catch (err) {
    if (guardian) process.stderr.write(`${guardian.process.logTail(40)}\n`);
    if (cp) process.stderr.write(`${cp.logTail(20)}\n`);
    throw err;
  } finally {
    await guardian?.process.stop().catch((err: unknown) => process.stderr.write(`${String(err)}\n`));
    await cp?.stop();
  }
}

async function main(): Promise<number> {
  let options: Options | "help";
  try {
    options = parseOptions(process.argv.slice(2));
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const watchdog = setTimeout(() => {
    console.error(`[bench:guardian] still running after ${WATCHDOG_MS / 1000} s: giving up`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();
  try {
    const summary = await run(options);
    if (options.json) {
      console.log(JSON.stringify(summary));
    } else {
      console.log(
        `kube-system/kube-dns delete → restored on ${FIXED_IP}, ${summary.trials} trials (poll ${options.pollMs} ms): ` +
          `p50 ${summary.p50Ms.toFixed(3)} ms, p99 ${summary.p99Ms.toFixed(3)} ms, max ${summary.maxMs.toFixed(3)} ms`,
      );
    }
    return 0;
  } catch (err) {
    console.error(`[bench:guardian] failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

process.exitCode = await main();
