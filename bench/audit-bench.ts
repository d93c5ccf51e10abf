/**
 * `npm run bench:audit`: the audit of 10,000 pods on the real control plane (etcd and
 * kube-apiserver from test/control-plane). Creates ten opted-in namespaces of 1,000 pods
 * each (a third injected with today's DNS Service IP, a third with the previous one, a
 * third never injected; half of each namespace owned by a Deployment's ReplicaSet, so the
 * owner lists are exercised too), then runs the audit in a child process, as the CLI runs
 * it (paginated lists, findings, the table, the PolicyReports built), and reports its wall
 * time and the child's peak RSS. Targets: under 10 s and under 200 MB.
 *
 * Exit code 1 when the setup or the audit failed (or audited another number of pods), 2 on
 * a usage error. Missed targets are reported, not failed: this is a measurement.
 */
import { spawn } from "node:child_process";
import https from "node:https";
import { performance } from "node:perf_hooks";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { AppsV1Api, CoreV1Api, KubeConfig, type V1Pod } from "@kubernetes/client-node";
import { INJECT_LABEL } from "../config/names.js";
import { defaultSettings } from "../config/settings.js";
import { auditCluster } from "../audit/cluster-source.js";
import { buildPolicyReports } from "../audit/policy-report.js";
import { formatTable, summarize } from "../audit/report.js";
import { startControlPlane, type ControlPlane } from "../test/control-plane/harness.js";
import { applyDecision, decide } from "../webhook/decision.js";

const TARGETS = { seconds: 10, rssMb: 200 } as const;
const OLD_DNS_IP = "10.96.0.10";
const DNS_IP = "10.96.0.53";
/** Whatever happens, the benchmark ends by itself. */
const WATCHDOG_MS = 10 * 60 * 1000;
const CHILD_TIMEOUT_MS = 120_000;

const USAGE = `usage: npm run bench:audit -- [--json] [--pods N] [--per-namespace N] [--concurrency N]
                                [--kubeconfig FILE [--audit-only]]

  --json             print one JSON object { pods, seconds, rssMb } on stdout (progress goes to stderr)
  --pods N           pods to create (default 10000)
  --per-namespace N  pods per namespace (default 1000)
  --concurrency N    concurrent pod creations (default 32)
  --kubeconfig FILE  use a running test cluster (npm run cluster) instead of starting one;
                     the bench-NN namespaces and their pods are left there
  --audit-only       with --kubeconfig: the pods exist from an earlier run, only audit
  --node-flag F      a Node.js flag for the audit process, e.g. --node-flag=--max-semi-space-size=8`;

class UsageError extends Error {}

interface Options {
  json: boolean;
  pods: number;
  perNamespace: number;
  concurrency: number;
  kubeconfig: string | undefined;
  auditOnly: boolean;
  nodeFlags: string[];
}

/** What the child prints: the audit's own measurements. */
interface ChildResult {
  pods: number;
  namespaces: number;
  seconds: number;
  rssMb: number;
  /** RSS once Node.js and the modules (client-node above all) are loaded, before the audit. */
  baselineMb: number;
  findings: Record<string, number>;
  reports: number;
  tableBytes: number;
}

function positive(name: string, value: string | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (!/^[1-9]\d*$/.test(value)) throw new UsageError(`--${name}: a positive integer, got ${JSON.stringify(value)}`);
  return Number(value);
}

function parseOptions(argv: string[]): Options | "help" {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        json: { type: "boolean", default: false },
        pods: { type: "string" },
        "per-namespace": { type: "string" },
        concurrency: { type: "string" },
        kubeconfig: { type: "string" },
        "audit-only": { type: "boolean", default: false },
        "node-flag": { type: "string", multiple: true, default: [] },
        help: { type: "boolean", short: "h", default: false },
      },
      strict: true,
    }));
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  if (values.help) return "help";
  if (values["audit-only"] && !values.kubeconfig) throw new UsageError("--audit-only needs --kubeconfig (a cluster where an earlier run created the pods)");
  return {
    json: values.json,
    pods: positive("pods", values.pods, 10_000),
    perNamespace: positive("per-namespace", values["per-namespace"], 1000),
    concurrency: positive("concurrency", values.concurrency, 32),
    kubeconfig: values.kubeconfig,
    auditOnly: values["audit-only"],
    nodeFlags: values["node-flag"],
  };
}

/** A realistic ~2 KB pod: labels, annotations, one container with resources, env and probes. */
function benchPod(name: string, namespace: string, i: number, owner: { name: string; uid: string } | undefined): V1Pod {
  const pod: V1Pod = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name,
      labels: { app: "web", tier: "frontend", "app.kubernetes.io/version": "1.4.2", ...(owner ? { "pod-template-hash": "5d8f9c7b6" } : {}) },
      annotations: { "prometheus.io/scrape": "true", "prometheus.io/port": "9090" },
      ...(owner ? { ownerReferences: [{ apiVersion: "apps/v1", kind: "ReplicaSet", name: owner.name, uid: owner.uid, controller: true, blockOwnerDeletion: true }] } : {}),
    },
    spec: {
      containers: [
        {
          name: "web",
          image: "registry.example/web:1.4.2",
          ports: [
            { name: "http", containerPort: 8080 },
            { name: "metrics", containerPort: 9090 },
          ],
          env: [
            { name: "LOG_LEVEL", value: "info" },
            { name: "UPSTREAM", value: "http://api.backend.svc.cluster.local:8080" },
            { name: "POD_NAME", valueFrom: { fieldRef: { fieldPath: "metadata.name" } } },
          ],
          resources: { requests: { cpu: "100m", memory: "128Mi" }, limits: { memory: "256Mi" } },
          readinessProbe: { httpGet: { path: "/ready", port: 8080 }, periodSeconds: 5 },
          livenessProbe: { httpGet: { path: "/healthz", port: 8080 }, periodSeconds: 10 },
        },
      ],
    },
  };
  if (i % 3 === 2) return pod; // never injected
  // Injected by the webhook's own code, with today's IP or the previous one.
  const d = decide({
    request: { kind: { group: "", version: "v1", kind: "Pod" }, operation: "CREATE", namespace },
    pod,
    namespace: { name: namespace, labels: { [INJECT_LABEL]: "enabled" }, annotations: {} },
    dnsServiceIPs: [i % 3 === 0 ? DNS_IP : OLD_DNS_IP],
    settings: defaultSettings(),
  });
  return applyDecision(pod, d);
}

/**
 * POSTs pods over one keep-alive HTTPS agent: client-node opens a new TLS connection per
 * request, which caps creation at ~170 pods/s on 2 cores; keep-alive does ~4x that.
 */
async function podPoster(kc: KubeConfig, concurrency: number): Promise<{ post(namespace: string, pod: V1Pod): Promise<void>; close(): void }> {
  const tls: https.RequestOptions = {};
  await kc.applyToHTTPSOptions(tls);
  const server = new URL(kc.getCurrentCluster()?.server ?? "");
  const agent = new https.Agent({ keepAlive: true, maxSockets: concurrency });
  const post = (namespace: string, pod: V1Pod) =>
    new Promise<void>((resolve, reject) => {
      const req = https.request(
        {
          ...tls,
          agent,
          hostname: server.hostname,
          port: server.port,
          method: "POST",
          path: `/api/v1/namespaces/${namespace}/pods`,
          headers: { ...tls.headers, "content-type": "application/json" },
          timeout: 30_000,
        },
        (res) => {
          let body = "";
          res.setEncoding("utf8").on("data", (d: string) => (body += d));
          res.on("end", () =>
            (res.statusCode ?? 0) < 300 ? resolve() : reject(new Error(`create pod ${namespace}/${pod.metadata?.name}: HTTP ${res.statusCode}: ${body.slice(0, 300)}`)),
          );
        },
      );
      req.on("timeout", () => req.destroy(new Error(`create pod ${namespace}/${pod.metadata?.name}: no answer in 30 s`)));
      req.on("error", reject);
      req.end(JSON.stringify(pod));
    });
  return { post, close: () => agent.destroy() };
}

async function pool<T>(items: T[], concurrency: number, work: (item: T) => Promise<void>): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await work(items[next++] as T);
    }),
  );
}

async function setUp(kc: KubeConfig, options: Options, progress: (s: string) => void): Promise<number> {
  const core = kc.makeApiClient(CoreV1Api);
  const apps = kc.makeApiClient(AppsV1Api);
  await core.createNamespacedService({
    namespace: "kube-system",
    body: { metadata: { name: "kube-dns" }, spec: { clusterIP: DNS_IP, ports: [{ name: "dns", port: 53, protocol: "UDP" }] } },
  });
  const namespaces = Math.ceil(options.pods / options.perNamespace);
  const work: { namespace: string; name: string; i: number; owner?: { name: string; uid: string } }[] = [];
  for (let n = 0; n < namespaces; n++) {
    const namespace = `bench-${String(n).padStart(2, "0")}`;
    await core.createNamespace({ body: { metadata: { name: namespace, labels: { [INJECT_LABEL]: "enabled" } } } });
    // No controller manager runs: these objects only give the pods an owner chain to walk.
    const deployment = await apps.createNamespacedDeployment({
      namespace,
      body: {
        metadata: { name: "web" },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.example/web:1.4.2" }] } },
        },
      },
    });
    const rs = await apps.createNamespacedReplicaSet({
      namespace,
      body: {
        metadata: { name: "web-5d8f9c7b6", ownerReferences: [{ apiVersion: "apps/v1", kind: "Deployment", name: "web", uid: deployment.metadata?.uid ?? "", controller: true }] },
        spec: {
          replicas: 0,
          selector: { matchLabels: { app: "web" } },
          template: { metadata: { labels: { app: "web" } }, spec: { containers: [{ name: "web", image: "registry.example/web:1.4.2" }] } },
        },
      },
    });
    const owner = { name: rs.metadata?.name ?? "", uid: rs.metadata?.uid ?? "" };
    const count = Math.min(options.perNamespace, options.pods - n * options.perNamespace);
    for (let i = 0; i < count; i++) work.push({ namespace, name: `web-${String(i).padStart(5, "0")}`, i, ...(i % 2 === 0 ? { owner } : {}) });
  }
  const started = performance.now();
  let created = 0;
  const poster = await podPoster(kc, options.concurrency);
  try {
    await pool(work, options.concurrency, async (w) => {
      await poster.post(w.namespace, benchPod(w.name, w.namespace, w.i, w.owner));
      if (++created % 2000 === 0) progress(`created ${created} pods`);
    });
  } finally {
    poster.close();
  }
  const seconds = (performance.now() - started) / 1000;
  progress(`created ${created} pods in ${namespaces} namespaces in ${seconds.toFixed(1)} s (${Math.round(created / seconds)} pods/s, concurrency ${options.concurrency})`);
  return created;
}

/** The child: one audit as `pod-dns-injector audit` runs it, then its own figures on stdout. */
async function child(kubeconfigPath: string): Promise<void> {
  const baselineMb = process.memoryUsage().rss / 1048576;
  const kubeConfig = new KubeConfig();
  kubeConfig.loadFromFile(kubeconfigPath);
  const started = performance.now();
  const run = await auditCluster({ kubeConfig, settings: defaultSettings(), scope: { kind: "opted-in" } });
  const table = formatTable(run);
  const reports = buildPolicyReports(run);
  const seconds = (performance.now() - started) / 1000;
  const summary = summarize(run);
  const result: ChildResult = {
    pods: summary.pods,
    namespaces: summary.namespaces,
    seconds,
    // maxRSS is in kilobytes: the peak of the whole process, Node.js itself included.
    rssMb: process.resourceUsage().maxRSS / 1024,
    baselineMb,
    findings: summary.findings,
    reports: reports.length,
    tableBytes: table.length,
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
}

function runChild(kubeconfigPath: string, nodeFlags: string[]): Promise<{ result: ChildResult; processSeconds: number }> {
  return new Promise((resolve, reject) => {
    const started = performance.now();
    const proc = spawn(process.execPath, [...nodeFlags, fileURLToPath(import.meta.url), "--child", kubeconfigPath], {
      stdio: ["ignore", "pipe", "inherit"],
      timeout: CHILD_TIMEOUT_MS,
      killSignal: "SIGKILL",
    });
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    proc.on("error", reject);
    proc.on("close", (code, signal) => {
      const processSeconds = (performance.now() - started) / 1000;
      if (code !== 0) return reject(new Error(`audit child exited with ${code ?? signal}${signal === "SIGKILL" ? ` (killed after ${CHILD_TIMEOUT_MS / 1000} s)` : ""}`));
      try {
        resolve({ result: JSON.parse(out) as ChildResult, processSeconds });
      } catch {
        reject(new Error(`audit child printed no result: ${out.slice(0, 500)}`));
      }
    });
  });
}

async function main(): Promise<number> {
  const argv = process.argv.slice(2);
  if (argv[0] === "--child" && argv[1]) {
    await child(argv[1]);
    return 0;
  }
  let options: Options | "help";
  try {
    options = parseOptions(argv);
  } catch (err) {
    if (!(err instanceof UsageError)) throw err;
    console.error(`${err.message}\n${USAGE}`);
    return 2;
  }
  if (options === "help") {
    console.log(USAGE);
    return 0;
  }
  const progress = (line: string) => process.stderr.write(`[bench:audit] ${line}\n`);
  const watchdog = setTimeout(() => {
    console.error(`[bench:audit] still running after ${WATCHDOG_MS / 1000} s: giving up`);
    process.exit(1);
  }, WATCHDOG_MS);
  watchdog.unref();

  let cp: ControlPlane | undefined;
  try {
    let kubeconfigPath = options.kubeconfig;
    if (!kubeconfigPath) {
      progress("starting etcd and kube-apiserver");
      cp = await startControlPlane({ name: "bench-audit" });
      kubeconfigPath = cp.kubeconfigPath;
    }
    const kc = new KubeConfig();
    kc.loadFromFile(kubeconfigPath);
    const created = options.auditOnly ? options.pods : await setUp(kc, options, progress);
    progress("auditing in a child process");
    const { result, processSeconds } = await runChild(kubeconfigPath, options.nodeFlags);
    if (result.pods !== created) throw new Error(`the audit saw ${result.pods} pods, ${created} were created`);
    const verdict = (ok: boolean) => (ok ? "met" : "MISSED");
    if (options.json) {
      console.log(JSON.stringify({ pods: result.pods, seconds: Number(result.seconds.toFixed(3)), rssMb: Number(result.rssMb.toFixed(1)) }));
    } else {
      console.log(
        [
          `audit of ${result.pods} pods in ${result.namespaces} namespaces: ${result.seconds.toFixed(2)} s wall (child process ${processSeconds.toFixed(2)} s with Node.js start-up), ` +
            `peak RSS ${result.rssMb.toFixed(1)} MB (${result.baselineMb.toFixed(1)} MB of it Node.js and the loaded modules before the audit)${options.nodeFlags.length ? ` with ${options.nodeFlags.join(" ")}` : ""}`,
          `targets: wall < ${TARGETS.seconds} s ${verdict(result.seconds < TARGETS.seconds)}; peak RSS < ${TARGETS.rssMb} MB ${verdict(result.rssMb < TARGETS.rssMb)}`,
          `findings (pods): ${Object.entries(result.findings)
            .map(([k, v]) => `${k} ${v}`)
            .join(", ")}; ${result.reports} PolicyReports built; table ${Math.round(result.tableBytes / 1024)} KiB`,
        ].join("\n"),
      );
    }
    return 0;
  } catch (err) {
    if (cp) process.stderr.write(`${cp.logTail(20)}\n`);
    console.error(`[bench:audit] failed: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  } finally {
    await cp?.stop();
  }
}

process.exitCode = await main();
