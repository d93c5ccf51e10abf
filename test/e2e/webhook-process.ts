/**
 * Runs the webhook the way users run it: `pod-dns-injector serve` as its own Node process
 * (the compiled dist/cli/main.js), with a kubeconfig, on free loopback ports, and waits for
 * its /readyz. The process never outlives the test process: an 'exit' hook kills it, and a
 * detached watchdog kills it even when the test process itself is SIGKILLed.
 */
import { freePorts, tailFile } from "../control-plane/processes.js";

export { freePorts };
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, readFileSync, writeFileSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import net from "node:net";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { fileURLToPath } from "node:url";
import { CoreV1Api, KubeConfig } from "@kubernetes/client-node";
import { stringify as toYaml } from "yaml";

export interface WebhookProcessOptions {
  /** Cluster mode: the kubeconfig the webhook uses for its informers. */
  kubeconfigPath: string;
  /** HTTPS port; default a free one. Pass the old port to restart behind the same URL. */
  port?: number;
  /** Plain-HTTP ops port (/healthz, /readyz, /metrics); default a free one. */
  opsPort?: number;
  /** Where the log and the CA certificate go; default a fresh temp dir, removed by stop(). */
  dir?: string;
  /** Label for the log file and error messages. */
  name?: string;
  logLevel?: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  /**
   * Configuration file content (the `--config` YAML), merged over ours, which pins the ops
   * listener to 127.0.0.1 (it follows `--host` only while `ops.host` is unset) and puts
   * 127.0.0.1 and localhost into the serving certificate (`certificates.extraIPs`/`extraDNSNames`).
   */
  config?: Record<string, unknown>;
  /** Extra `serve` arguments, appended after ours. */
  extraArgs?: string[];
  /** Node.js flags for the child, before the CLI's path (as the image's entrypoint passes them). */
  nodeFlags?: string[];
  /** Added to the (cleaned) environment of the child. */
  env?: Record<string, string>;
  /** Bound on the wait for /readyz. */
  readyTimeoutMs?: number;
  /**
   * When the process counts as started, from its /readyz answer; default HTTP 200. A test
   * of a degraded injector (e.g. its namespace informer forbidden) accepts the 503 that
   * names only the part it broke.
   */
  readyWhen?: (status: number, body: string) => boolean;
  /**
   * Create the injector's namespace (config `injectorNamespace`, else `pod-dns-injector`)
   * when absent, as the manifests do; default true. In cluster mode the webhook keeps its
   * certificates in Secrets there and is not ready without it.
   */
  ensureInjectorNamespace?: boolean;
}

export interface ProcessExit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running `serve` process. Call {@link WebhookProcess.stop} when done. */
export interface WebhookProcess {
  readonly pid: number;
  /** HTTPS port of /mutate on 127.0.0.1. */
  readonly port: number;
  /** `https://127.0.0.1:<port>/mutate`: what a URL-registered webhook configuration calls. */
  readonly mutateUrl: string;
  /** Plain-HTTP port of /healthz, /readyz and /metrics on 127.0.0.1. */
  readonly opsPort: number;
  /** PEM of the in-memory CA that signed the serving certificate (from --ca-out). */
  readonly caPem: string;
  readonly logPath: string;
  /** Set once the process has exited. */
  readonly exited: ProcessExit | undefined;
  /** The last `lines` lines of the process's stdout and stderr (JSON log lines). */
  logTail(lines?: number): string;
  /** The /metrics text (Prometheus exposition format). */
  metrics(): Promise<string>;
  /**
   * SIGTERM, and resolves once the process has exited 0 (graceful drain). Rejects, with the
   * log tail, if it exits otherwise or is still there after `graceMs` (then it is SIGKILLed).
   * Idempotent.
   */
  stop(graceMs?: number): Promise<void>;
}

const DEFAULT_READY_TIMEOUT_MS = 30_000;
const DEFAULT_STOP_GRACE_MS = 10_000;
const POLL_INTERVAL_MS = 100;

/** dist/test/e2e/webhook-process.js and test/e2e/webhook-process.ts both sit 2 levels down. */
function repoRoot(): string {
  const up = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
  return basename(up) === "dist" ? dirname(up) : up;
}

/** The compiled CLI; the tests run the build, as `npm start` does. */
export function cliPath(): string {
  return join(repoRoot(), "dist", "cli", "main.js");
}

// --- no process left behind -----------------------------------------------------------------

const liveChildren = new Set<ChildProcess>();
let exitHookInstalled = false;

function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on("exit", () => {
    for (const child of liveChildren) {
      try {
        child.kill("SIGKILL");
      } catch {
        // Already gone.
      }
    }
  });
}

/**
 * SIGKILLs the pids written to its stdin ("+pid" / "-pid" lines) and removes the temp dirs
 * ("d<dir>" / "x<dir>") once stdin closes, i.e. when this process dies by any means,
 * SIGKILL included, where no 'exit' hook runs.
 */
const WATCHDOG_SOURCE = `
const pids = new Set(); const dirs = new Set(); let buf = "";
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => {
  buf += d; let i;
  while ((i = buf.indexOf("\\n")) >= 0) {
    const line = buf.slice(0, i); buf = buf.slice(i + 1); const arg = line.slice(1);
    if (line[0] === "+") pids.add(Number(arg)); else if (line[0] === "-") pids.delete(Number(arg));
    else if (line[0] === "d") dirs.add(arg); else if (line[0] === "x") dirs.delete(arg);
  }
});
const reap = () => {
  for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch {} }
  setTimeout(() => { for (const dir of dirs) { try { require("node:fs").rmSync(dir, { recursive: true, force: true, maxRetries: 5 }); } catch {} } process.exit(0); }, dirs.size ? 300 : 0);
};
process.stdin.on("end", reap); process.stdin.on("error", reap);
`;

let watchdog: ChildProcess | undefined;

function watchdogWrite(line: string): void {
  if (!watchdog) {
    watchdog = spawn(process.execPath, ["-e", WATCHDOG_SOURCE], { stdio: ["pipe", "ignore", "ignore"], detached: true });
    watchdog.on("error", () => {});
    watchdog.stdin?.on("error", () => {});
    watchdog.unref();
    (watchdog.stdin as net.Socket | null)?.unref();
  }
  watchdog.stdin?.write(`${line}\n`);
}

// --- helpers ------------------------------------------------------------------------------------

function httpGet(url: string, timeoutMs = 5_000): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = http.get(url, { timeout: timeoutMs, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in ${timeoutMs} ms`)));
    req.on("error", reject);
  });
}

/** The environment minus everything that would make the child read another cluster or config. */
function cleanEnv(extra: Record<string, string> | undefined): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const [key, value] of Object.entries(process.env)) {
    if (key.startsWith("POD_DNS_INJECTOR_") || key.startsWith("KUBERNETES_SERVICE_") || key === "KUBECONFIG" || key === "POD_NAMESPACE") continue;
    env[key] = value;
  }
  return { ...env, ...extra };
}

/** Creates `namespace` unless it exists (another process of the same test may create it at the same time). */
export async function ensureNamespace(kubeconfigPath: string, namespace: string): Promise<void> {
  const kc = new KubeConfig();
  kc.loadFromFile(kubeconfigPath);
  try {
    await kc.makeApiClient(CoreV1Api).createNamespace({ body: { metadata: { name: namespace } } });
  } catch (err) {
    if ((err as { code?: unknown }).code !== 409) throw new Error(`create namespace ${namespace}`, { cause: err });
  }
}

// --- the process ----------------------------------------------------------------------------------

/**
 * Starts `pod-dns-injector serve --kubeconfig ... --host 127.0.0.1` and resolves once its
 * /readyz answers 200 (TLS loaded, HTTPS listening, informers synced).
 *
 * @throws Error with the log tail if the process exits first or is not ready within
 *   `readyTimeoutMs`; the process is killed first.
 */
export async function startWebhookProcess(options: WebhookProcessOptions): Promise<WebhookProcess> {
  installExitHook();
  const name = options.name ?? "webhook";
  if (options.ensureInjectorNamespace !== false) {
    const namespace = typeof options.config?.injectorNamespace === "string" ? options.config.injectorNamespace : "pod-dns-injector";
    await ensureNamespace(options.kubeconfigPath, namespace);
  }
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? (await mkdtemp(join(tmpdir(), "pod-dns-injector-webhook-")));
  const keepDir = !ownDir || process.env.KEEP_CONTROL_PLANE === "1";
  if (!keepDir) watchdogWrite(`d${dir}`);
  const needed = (options.port === undefined ? 1 : 0) + (options.opsPort === undefined ? 1 : 0);
  const free = await freePorts(needed);
  const takeFree = (): number => {
    const p = free.shift();
    if (p === undefined) throw new Error("freePorts returned too few ports");
    return p;
  };
  const port = options.port ?? takeFree();
  const opsPort = options.opsPort ?? takeFree();
  const caPath = join(dir, `${name}-ca.crt`);
  const logPath = join(dir, `${name}.log`);
  const configPath = join(dir, `${name}-config.yaml`);
  // The ops port follows --host when ops.host is unset; the tests pin it anyway so that they
  // listen on loopback only even if that default ever changes.
  // The serving certificate must name 127.0.0.1 (and localhost): the tests register the
  // webhook by URL on loopback, not behind a Service.
  const config = {
    ...options.config,
    ops: { host: "127.0.0.1", ...(options.config?.ops as object | undefined) },
    certificates: { extraIPs: ["127.0.0.1"], extraDNSNames: ["localhost"], ...(options.config?.certificates as object | undefined) },
  };
  writeFileSync(configPath, toYaml(config), { mode: 0o600 });
  const args = [
    ...(options.nodeFlags ?? []),
    cliPath(),
    "serve",
    `--kubeconfig=${options.kubeconfigPath}`,
    "--host=127.0.0.1",
    `--port=${port}`,
    `--ops-port=${opsPort}`,
    `--ca-out=${caPath}`,
    `--config=${configPath}`,
    `--log-level=${options.logLevel ?? "debug"}`,
    ...(options.extraArgs ?? []),
  ];

  // The child writes straight into the file: nothing is lost if the test process is busy,
  // and no pipe keeps the test's event loop alive.
  const fd = openSync(logPath, "a");
  let child: ChildProcess;
  try {
    writeSync(fd, `# ${[process.execPath, ...args].join(" ")}\n`);
    child = spawn(process.execPath, args, { cwd: repoRoot(), stdio: ["ignore", fd, fd], env: cleanEnv(options.env) });
  } finally {
    closeSync(fd);
  }
  child.unref();
  const pid = child.pid;
  if (pid === undefined) {
    await new Promise((resolve) => child.once("error", resolve));
    throw new Error(`${name}: could not spawn ${process.execPath}\n${tailFile(logPath, 20)}`);
  }
  liveChildren.add(child);
  watchdogWrite(`+${pid}`);

  let exited: ProcessExit | undefined;
  const exit = new Promise<ProcessExit>((resolve) => {
    child.once("exit", (code, signal) => {
      exited = { code, signal };
      liveChildren.delete(child);
      watchdogWrite(`-${pid}`);
      resolve(exited);
    });
  });
  const logTail = (lines = 40) => `==> ${name} (${logPath}) <==\n${tailFile(logPath, lines)}`;

  const kill = async () => {
    if (!exited) child.kill("SIGKILL");
    await exit;
    if (!keepDir) {
      await rm(dir, { recursive: true, force: true });
      watchdogWrite(`x${dir}`);
    }
  };

  // Wait for readiness: bounded by time, and fail fast if the process dies.
  const timeoutMs = options.readyTimeoutMs ?? DEFAULT_READY_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  let last: string;
  for (let attempt = 1; ; attempt++) {
    if (exited) {
      const tail = logTail(60);
      await kill();
      throw new Error(`${name}: exited (code ${exited.code}, signal ${exited.signal}) before /readyz answered 200\n${tail}`);
    }
    try {
      const res = await httpGet(`http://127.0.0.1:${opsPort}/readyz`, 2_000);
      if (options.readyWhen ? options.readyWhen(res.status, res.body) : res.status === 200) break;
      last = `HTTP ${res.status}: ${res.body.trim().replaceAll("\n", "; ")}`;
    } catch (err) {
      last = err instanceof Error ? err.message : String(err);
    }
    if (Date.now() >= deadline) {
      const tail = logTail(60);
      await kill();
      throw new Error(`${name}: /readyz not 200 within ${timeoutMs} ms (${attempt} attempts; last: ${last})\n${tail}`);
    }
    await delay(POLL_INTERVAL_MS);
  }

  let caPem: string;
  try {
    caPem = readFileSync(caPath, "utf8");
  } catch (err) {
    const tail = logTail(60);
    await kill();
    throw new Error(`${name}: ready, but no CA certificate at ${caPath}\n${tail}`, { cause: err });
  }
  if (!caPem.includes("BEGIN CERTIFICATE")) {
    await kill();
    throw new Error(`${name}: ${caPath} holds no PEM certificate`);
  }

  let stopping: Promise<void> | undefined;
  const stop = (graceMs = DEFAULT_STOP_GRACE_MS): Promise<void> => {
    stopping ??= (async () => {
      try {
        if (exited) throw new Error(`${name}: had already exited (code ${exited.code}, signal ${exited.signal}) before stop()`);
        child.kill("SIGTERM");
        const ac = new AbortController();
        const result = await Promise.race([exit, delay(graceMs, "timeout" as const, { signal: ac.signal }).catch(() => "aborted" as const)]);
        ac.abort();
        if (result === "timeout" || result === "aborted") {
          child.kill("SIGKILL");
          await exit;
          throw new Error(`${name}: still running ${graceMs} ms after SIGTERM; killed\n${logTail(60)}`);
        }
        if (result.code !== 0) {
          throw new Error(`${name}: exited with code ${result.code} (signal ${result.signal}) after SIGTERM, expected 0\n${logTail(60)}`);
        }
      } finally {
        await kill();
      }
    })();
    return stopping;
  };

  return {
    pid,
    port,
    mutateUrl: `https://127.0.0.1:${port}/mutate`,
    opsPort,
    caPem,
    logPath,
    get exited() {
      return exited;
    },
    logTail,
    async metrics() {
      const res = await httpGet(`http://127.0.0.1:${opsPort}/metrics`);
      if (res.status !== 200) throw new Error(`${name}: GET /metrics answered HTTP ${res.status}: ${res.body.slice(0, 500)}`);
      return res.body;
    },
    stop,
  };
}

/**
 * Sums the samples of one Prometheus metric whose labels include all of `labels`, e.g.
 * `sumMetric(text, "pod_dns_injector_admission_reviews_total", { action: "inject" })`.
 */
export function sumMetric(text: string, metric: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split("\n")) {
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== metric) continue;
    const found: Record<string, string> = {};
    for (const l of (m[2] ?? "").matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) found[l[1] as string] = l[2] as string;
    if (Object.entries(labels).every(([k, v]) => found[k] === v)) sum += Number(m[3]);
  }
  return sum;
}
