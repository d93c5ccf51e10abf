/**
 * A real, local Kubernetes control plane for integration tests: etcd, kube-apiserver and
 * optionally kube-controller-manager, built from their Go modules (see build-binaries.sh),
 * listening on 127.0.0.1 only, with a fresh PKI and data directory per start.
 *
 * No kubelet and no scheduler: pods are admitted and stored (which is all an admission
 * webhook needs) but stay Pending. Like controller-runtime's envtest, but with the
 * controller manager available so Deployments really produce ReplicaSets and Pods.
 */
import { freePorts, tailFile } from "./processes.js";
import { spawn, type ChildProcess } from "node:child_process";
import { closeSync, openSync, rmSync, writeFileSync, writeSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import http from "node:http";
import https from "node:https";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { KubeConfig } from "@kubernetes/client-node";
import { stringify as toYaml } from "yaml";
import { resolveControlPlaneBinaries, type ControlPlaneBinaries } from "./binaries.js";
import { generateControlPlanePki, type ControlPlanePki } from "./pki.js";

/** Options for {@link startControlPlane}. */
export interface ControlPlaneOptions {
  /** Also run kube-controller-manager (Deployments → ReplicaSets → Pods, default ServiceAccounts). */
  controllerManager?: boolean;
  /** Label for the temp dir, kubeconfig context and etcd member; `[a-z0-9-]` is kept. */
  name?: string;
  /**
   * kube-apiserver's --service-cluster-ip-range; default 10.96.0.0/16. Two CIDRs, one per
   * family, make a dual-stack cluster (e.g. `10.96.0.0/16,fd00:10:96::/112`).
   */
  serviceClusterIPRange?: string;
  /** Appended to kube-apiserver's command line; a later flag wins over ours. */
  extraApiServerFlags?: string[];
  /** Bound on the whole start-up, from spawning etcd to the last readiness check. */
  startTimeoutMs?: number;
  /**
   * Give kube-apiserver a client certificate for kubelets (the admin one), so `kubectl
   * logs/exec` work against a real node whose kubelet authenticates x509 clients by this CA.
   */
  kubeletClientCertificate?: boolean;
}

/** A process started beside the control plane with {@link ControlPlane.startProcess}. */
export interface HarnessProcess {
  readonly name: string;
  readonly pid: number | undefined;
  /** stdout and stderr of the process, in the control plane's {@link ControlPlane.dir}. */
  readonly logPath: string;
  /** Settles when the process has exited; never rejects. */
  readonly exit: Promise<ProcessExit>;
  /** How it ended, once it has. */
  readonly exited: ProcessExit | undefined;
  /** SIGTERM, then SIGKILL after `graceMs` (default 5 s). Resolves once it has exited. */
  terminate(graceMs?: number): Promise<void>;
}

/** Outcome of {@link ControlPlane.kubectl}; a non-zero `code` is returned, not thrown. */
export interface KubectlResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** How one of the control plane's processes ended. */
export interface ProcessExit {
  name: string;
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A running control plane. Call {@link ControlPlane.stop} when done (it is idempotent). */
export interface ControlPlane {
  readonly name: string;
  /** `https://127.0.0.1:<port>` of kube-apiserver. */
  readonly server: string;
  /** Admin kubeconfig (client certificate in group system:masters, CA embedded). */
  readonly kubeconfigPath: string;
  /** The temp dir holding PKI, etcd data, logs and the kubeconfig; removed by stop(). */
  readonly dir: string;
  /** PEM of the CA that signed the apiserver serving certificate (and the admin client). */
  readonly caPem: string;
  /** All generated keys and certificates, for tests that talk TLS directly. */
  readonly pki: ControlPlanePki;
  readonly binaries: ControlPlaneBinaries;
  /** `http://127.0.0.1:<port>` of etcd. */
  readonly etcdUrl: string;
  /**
   * Settles when one of the processes exits while not being stopped: a long-running
   * user (the `npm run cluster` CLI) watches it. Never rejects.
   */
  readonly unexpectedExit: Promise<ProcessExit>;
  /** A fresh client-node KubeConfig loaded from {@link kubeconfigPath}. */
  kubeConfig(): KubeConfig;
  /** Runs the built kubectl against this control plane. */
  kubectl(args: string[], opts?: { input?: string; timeoutMs?: number }): Promise<KubectlResult>;
  /** The last `lines` lines of every process log, each under a `==> name <==` header. */
  logTail(lines?: number): string;
  /**
   * Starts another process under the same bookkeeping as the control plane's own: log file
   * in {@link dir}, listed by {@link logTail}, stopped (in reverse start order, before the
   * control plane's) by {@link stop}, killed if the test process dies. For node components.
   */
  startProcess(name: string, binary: string, args: string[], options?: { env?: NodeJS.ProcessEnv }): HarnessProcess;
  /** SIGTERM in reverse start order, SIGKILL after a grace period, then remove {@link dir}
   * unless KEEP_CONTROL_PLANE=1. Safe to call more than once. */
  stop(): Promise<void>;
}

const DEFAULT_START_TIMEOUT_MS = 120_000;
const STOP_GRACE_MS = 5_000;
const POLL_INTERVAL_MS = 200;
const SERVICE_CLUSTER_IP_RANGE = "10.96.0.0/16";
const SERVICE_ACCOUNT_ISSUER = "https://kubernetes.default.svc.cluster.local";

// --- process bookkeeping: no control-plane process may outlive the test process ---------

/** Every child we started and that has not exited yet, across all control planes. */
const liveChildren = new Set<ChildProcess>();
/** Temp dirs of control planes not stopped yet: removed if the process ends without stop(). */
const liveDirs = new Set<string>();
let exitHooksInstalled = false;

function keepDirs(): boolean {
  return process.env.KEEP_CONTROL_PLANE === "1";
}

function killAllNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill("SIGKILL");
    } catch {
      // Already gone.
    }
  }
  if (keepDirs()) return;
  for (const dir of liveDirs) {
    try {
      rmSync(dir, { recursive: true, force: true, maxRetries: 3 });
    } catch {
      // Best effort: the process is going away; a stale temp dir is harmless.
    }
  }
}

function onTerminatingSignal(signal: NodeJS.Signals): void {
  // Someone else handles this signal (the cluster CLI stops gracefully, the test runner
  // exits): leave the shutdown to them; the 'exit' hook below is the backstop.
  if (process.listenerCount(signal) > 1) return;
  killAllNow();
  // Restore the default action and re-raise, so the process dies of the signal as it
  // would have without us.
  process.removeListener(signal, onTerminatingSignal);
  process.kill(process.pid, signal);
}

function installExitHooks(): void {
  if (exitHooksInstalled) return;
  exitHooksInstalled = true;
  process.on("exit", killAllNow);
  for (const signal of ["SIGINT", "SIGTERM", "SIGHUP"] as const) process.on(signal, onTerminatingSignal);
}

/**
 * A detached helper process that SIGKILLs the registered pids (and removes the temp dir
 * given in argv, unless empty) when its stdin closes, i.e. when this process dies by any
 * means, including SIGKILL, where no 'exit' hook runs.
 */
const WATCHDOG_SOURCE = `
const pids = new Set(); let buf = ""; let released = false;
const reap = () => {
  if (released) process.exit(0);
  for (const pid of pids) { try { process.kill(pid, "SIGKILL"); } catch {} }
  const dir = process.argv[1];
  if (dir) setTimeout(() => { try { require("node:fs").rmSync(dir, { recursive: true, force: true, maxRetries: 5 }); } catch {} process.exit(0); }, 300);
  else process.exit(0);
};
process.stdin.setEncoding("utf8");
process.stdin.on("data", (d) => {
  buf += d; let i;
  while ((i = buf.indexOf("\\n")) >= 0) {
    const [op, pid] = buf.slice(0, i).split(" "); buf = buf.slice(i + 1);
    if (op === "+") pids.add(Number(pid)); else if (op === "-") pids.delete(Number(pid)); else if (op === "release") released = true;
  }
});
process.stdin.on("end", reap); process.stdin.on("error", reap);
`;

class Watchdog {
  private readonly child: ChildProcess;

  /** @param dir removed after the reaping; "" keeps it. */
  constructor(dir: string) {
    this.child = spawn(process.execPath, ["-e", WATCHDOG_SOURCE, dir], {
      stdio: ["pipe", "ignore", "ignore"],
      detached: true,
    });
    this.child.on("error", () => {});
    this.child.stdin?.on("error", () => {});
    this.child.unref();
    (this.child.stdin as net.Socket | null)?.unref();
  }

  watch(pid: number): void {
    this.child.stdin?.write(`+ ${pid}\n`);
  }

  forget(pid: number): void {
    this.child.stdin?.write(`- ${pid}\n`);
  }

  /** Called once every watched process has exited and the dir is handled: nothing left to do. */
  close(): void {
    this.child.stdin?.end("release\n");
  }
}

// --- managed processes ----------------------------------------------------------------------

class ManagedProcess implements HarnessProcess {
  readonly logPath: string;
  readonly child: ChildProcess;
  readonly exit: Promise<ProcessExit>;
  exited: ProcessExit | undefined;
  stopping = false;

  constructor(
    readonly name: string,
    binary: string,
    args: string[],
    dir: string,
    watchdog: Watchdog,
    env?: NodeJS.ProcessEnv,
  ) {
    this.logPath = join(dir, `${name}.log`);
    // The child writes straight into the file: nothing is lost if this process is busy or
    // dies, and no pipe keeps the event loop alive.
    const fd = openSync(this.logPath, "a");
    try {
      writeSync(fd, `# ${[binary, ...args].join(" ")}\n`);
      this.child = spawn(binary, args, {
        cwd: dir,
        stdio: ["ignore", fd, fd],
        ...(env ? { env } : {}),
        // Own process group: a terminal's Ctrl-C reaches only us, and we stop the
        // processes in order (controller manager, apiserver, then etcd).
        detached: true,
      });
    } finally {
      closeSync(fd);
    }
    // Tests that forget stop() must still end; the 'exit' hook then kills the child.
    this.child.unref();
    const pid = this.child.pid;
    if (pid !== undefined) {
      liveChildren.add(this.child);
      watchdog.watch(pid);
    }
    this.exit = new Promise((resolve) => {
      const done = (code: number | null, signal: NodeJS.Signals | null) => {
        if (this.exited) return;
        this.exited = { name, code, signal };
        liveChildren.delete(this.child);
        if (pid !== undefined) watchdog.forget(pid);
        resolve(this.exited);
      };
      this.child.once("exit", done);
      this.child.once("error", (err) => {
        writeFileSync(this.logPath, `\n# spawn failed: ${err.message}\n`, { flag: "a" });
        done(127, null);
      });
    });
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** SIGTERM, then SIGKILL if the process is still there after `graceMs`. */
  async terminate(graceMs = STOP_GRACE_MS): Promise<void> {
    this.stopping = true;
    if (this.exited) return;
    this.child.kill("SIGTERM");
    const ac = new AbortController();
    const graceOver = delay(graceMs, undefined, { signal: ac.signal }).then(
      () => true,
      () => false,
    );
    const killed = await Promise.race([this.exit.then(() => false), graceOver]);
    ac.abort();
    if (killed) {
      this.child.kill("SIGKILL");
      await this.exit;
    }
  }

  tail(lines: number): string {
    return `==> ${this.name} (${this.logPath}) <==\n${tailFile(this.logPath, lines)}`;
  }
}

// --- helpers -------------------------------------------------------------------------------

interface HttpResult {
  status: number;
  body: string;
}

function request(url: string, tls?: https.RequestOptions): Promise<HttpResult> {
  return new Promise((resolve, reject) => {
    const lib = url.startsWith("https:") ? https : http;
    const req = lib.get(url, { ...tls, timeout: 5_000, agent: false }, (res) => {
      let body = "";
      res.setEncoding("utf8");
      res.on("data", (chunk: string) => (body += chunk));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
      res.on("error", reject);
    });
    req.on("timeout", () => req.destroy(new Error(`GET ${url}: no answer in 5s`)));
    req.on("error", reject);
  });
}

function sanitizeName(name: string): string {
  const cleaned = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/^-+|-+$/g, "");
  return cleaned === "" ? "test" : cleaned.slice(0, 40);
}

function kubeconfigYaml(name: string, server: string, pki: ControlPlanePki): string {
  const b64 = (pem: string) => Buffer.from(pem).toString("base64");
  return toYaml({
    apiVersion: "v1",
    kind: "Config",
    clusters: [{ name, cluster: { server, "certificate-authority-data": b64(pki.ca.certPem) } }],
    users: [
      {
        name: `${name}-admin`,
        user: {
          "client-certificate-data": b64(pki.admin.certPem),
          "client-key-data": b64(pki.admin.keyPem),
        },
      },
    ],
    contexts: [{ name, context: { cluster: name, user: `${name}-admin`, namespace: "default" } }],
    "current-context": name,
  });
}

// --- the control plane ---------------------------------------------------------------------

class RunningControlPlane implements ControlPlane {
  readonly processes: ManagedProcess[] = [];
  readonly watchdog: Watchdog;
  readonly unexpectedExit: Promise<ProcessExit>;
  private resolveUnexpectedExit!: (exit: ProcessExit) => void;
  private stopping: Promise<void> | undefined;

  constructor(
    readonly name: string,
    readonly dir: string,
    readonly binaries: ControlPlaneBinaries,
    readonly pki: ControlPlanePki,
    readonly server: string,
    readonly etcdUrl: string,
    readonly kubeconfigPath: string,
  ) {
    this.unexpectedExit = new Promise((resolve) => (this.resolveUnexpectedExit = resolve));
    this.watchdog = new Watchdog(keepDirs() ? "" : dir);
    liveDirs.add(dir);
  }

  get caPem(): string {
    return this.pki.ca.certPem;
  }

  start(processName: string, binary: string, args: string[], env?: NodeJS.ProcessEnv): ManagedProcess {
    const proc = new ManagedProcess(processName, binary, args, this.dir, this.watchdog, env);
    this.processes.push(proc);
    void proc.exit.then((exit) => {
      if (!proc.stopping) this.resolveUnexpectedExit(exit);
    });
    return proc;
  }

  /** TLS options that authenticate as the admin, for raw HTTPS probes. */
  adminTls(): https.RequestOptions {
    return { ca: this.pki.ca.certPem, cert: this.pki.admin.certPem, key: this.pki.admin.keyPem };
  }

  /**
   * Polls `probe` until it returns a value other than undefined. Fails fast, with the log
   * tails, when any process has exited; fails at `deadline` with the last probe detail.
   */
  async waitFor<T>(what: string, deadline: number, probe: () => Promise<{ value?: T; detail: string }>): Promise<T> {
    let detail: string;
    for (;;) {
      const dead = this.processes.find((p) => p.exited);
      if (dead?.exited) {
        const { code, signal } = dead.exited;
        throw new Error(`control plane ${this.name}: ${dead.name} exited (code ${code}, signal ${signal}) while waiting for ${what}\n${this.logTail()}`);
      }
      try {
        const result = await probe();
        if (result.value !== undefined) return result.value;
        detail = result.detail;
      } catch (err) {
        detail = err instanceof Error ? err.message : String(err);
      }
      if (Date.now() >= deadline) {
        throw new Error(`control plane ${this.name}: timed out waiting for ${what} (last: ${detail.trim().slice(0, 2000)})\n${this.logTail()}`);
      }
      await delay(POLL_INTERVAL_MS);
    }
  }

  /** Waits until GET `path` on the apiserver answers 200. */
  waitForApiObject(what: string, path: string, deadline: number): Promise<true> {
    return this.waitFor(what, deadline, async () => {
      const res = await request(this.server + path, this.adminTls());
      return res.status === 200 ? { value: true as const, detail: "" } : { detail: `HTTP ${res.status}: ${res.body}` };
    });
  }

  kubeConfig(): KubeConfig {
    const kc = new KubeConfig();
    kc.loadFromFile(this.kubeconfigPath);
    return kc;
  }

  kubectl(args: string[], opts: { input?: string; timeoutMs?: number } = {}): Promise<KubectlResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binaries.kubectl, [`--kubeconfig=${this.kubeconfigPath}`, `--cache-dir=${join(this.dir, "kubectl-cache")}`, ...args], {
        stdio: [opts.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
        env: { ...process.env, KUBECONFIG: this.kubeconfigPath },
        timeout: opts.timeoutMs ?? 60_000,
        killSignal: "SIGKILL",
      });
      liveChildren.add(child);
      let stdout = "";
      let stderr = "";
      child.stdout?.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr?.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", (err) => {
        liveChildren.delete(child);
        reject(new Error(`kubectl ${args.join(" ")}`, { cause: err }));
      });
      child.on("close", (code, signal) => {
        liveChildren.delete(child);
        resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr });
      });
      if (opts.input !== undefined) {
        child.stdin?.on("error", () => {});
        child.stdin?.end(opts.input);
      }
    });
  }

  startProcess(name: string, binary: string, args: string[], options: { env?: NodeJS.ProcessEnv } = {}): HarnessProcess {
    return this.start(name, binary, args, options.env);
  }

  logTail(lines = 40): string {
    if (this.processes.length === 0) return "(no process started)";
    return this.processes.map((p) => p.tail(lines)).join("\n");
  }

  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    for (const proc of [...this.processes].reverse()) await proc.terminate(STOP_GRACE_MS);
    if (keepDirs()) {
      process.stderr.write(`[control-plane] KEEP_CONTROL_PLANE=1: kept ${this.dir}\n`);
    } else {
      await rm(this.dir, { recursive: true, force: true, maxRetries: 3 });
    }
    liveDirs.delete(this.dir);
    this.watchdog.close();
  }
}

/**
 * Starts etcd, kube-apiserver and, with `controllerManager: true`, kube-controller-manager,
 * and resolves once the apiserver is ready and the `default` and `kube-system` namespaces
 * exist (with the controller manager: also the `default` ServiceAccount in `default`).
 *
 * Without the controller manager, the ServiceAccount admission plugin is disabled: nothing
 * would create the `default` ServiceAccount it requires for every pod.
 *
 * @throws Error carrying the process log tails if a process exits during start-up or
 *   readiness is not reached within `startTimeoutMs`; everything started is stopped first.
 */
export async function startControlPlane(options: ControlPlaneOptions = {}): Promise<ControlPlane> {
  const startedAt = Date.now();
  const deadline = startedAt + (options.startTimeoutMs ?? DEFAULT_START_TIMEOUT_MS);
  const name = sanitizeName(options.name ?? "test");
  const binaries = resolveControlPlaneBinaries();
  installExitHooks();

  const dir = await mkdtemp(join(tmpdir(), `pod-dns-injector-${name}-`));
  const pki = generateControlPlanePki();
  const file = (fileName: string, content: string, mode = 0o644) => {
    const path = join(dir, fileName);
    writeFileSync(path, content, { mode });
    return path;
  };
  const caCert = file("ca.crt", pki.ca.certPem);
  const apiServerCert = file("apiserver.crt", pki.apiServer.certPem);
  const apiServerKey = file("apiserver.key", pki.apiServer.keyPem, 0o600);
  const saPub = file("sa.pub", pki.serviceAccount.publicKeyPem);
  const saKey = file("sa.key", pki.serviceAccount.privateKeyPem, 0o600);
  const kubeletClientFlags = options.kubeletClientCertificate
    ? [
        `--kubelet-client-certificate=${file("apiserver-kubelet-client.crt", pki.admin.certPem)}`,
        `--kubelet-client-key=${file("apiserver-kubelet-client.key", pki.admin.keyPem, 0o600)}`,
      ]
    : [];

  const [etcdClientPort, etcdPeerPort, apiServerPort] = (await freePorts(3)) as [number, number, number];
  const etcdUrl = `http://127.0.0.1:${etcdClientPort}`;
  const etcdPeerUrl = `http://127.0.0.1:${etcdPeerPort}`;
  const server = `https://127.0.0.1:${apiServerPort}`;
  const kubeconfigPath = file("kubeconfig", kubeconfigYaml(name, server, pki), 0o600);

  const cp = new RunningControlPlane(name, dir, binaries, pki, server, etcdUrl, kubeconfigPath);
  try {
    cp.start("etcd", binaries.etcd, [
      `--name=${name}`,
      `--data-dir=${join(dir, "etcd-data")}`,
      `--listen-client-urls=${etcdUrl}`,
      `--advertise-client-urls=${etcdUrl}`,
      `--listen-peer-urls=${etcdPeerUrl}`,
      `--initial-advertise-peer-urls=${etcdPeerUrl}`,
      `--initial-cluster=${name}=${etcdPeerUrl}`,
      "--initial-cluster-state=new",
      // Throwaway data: durability buys nothing and fsync dominates a test's etcd latency.
      "--unsafe-no-fsync=true",
      "--log-level=warn",
    ]);
    await cp.waitFor("etcd /health", deadline, async () => {
      const res = await request(`${etcdUrl}/health`);
      return res.status === 200 && res.body.includes('"true"') ? { value: true, detail: "" } : { detail: `HTTP ${res.status}: ${res.body}` };
    });

    const withControllerManager = options.controllerManager === true;
    cp.start("kube-apiserver", binaries.kubeApiServer, [
      `--etcd-servers=${etcdUrl}`,
      "--bind-address=127.0.0.1",
      `--secure-port=${apiServerPort}`,
      "--advertise-address=127.0.0.1",
      // Nothing could reach 127.0.0.1 from a pod anyway, and there are no pods that run.
      "--endpoint-reconciler-type=none",
      `--service-cluster-ip-range=${options.serviceClusterIPRange ?? SERVICE_CLUSTER_IP_RANGE}`,
      "--authorization-mode=RBAC",
      `--client-ca-file=${caCert}`,
      `--tls-cert-file=${apiServerCert}`,
      `--tls-private-key-file=${apiServerKey}`,
      `--service-account-issuer=${SERVICE_ACCOUNT_ISSUER}`,
      `--service-account-key-file=${saPub}`,
      `--service-account-signing-key-file=${saKey}`,
      "--allow-privileged=true",
      // Only used when no TLS files are given; keeps it out of /var/run/kubernetes anyway.
      `--cert-dir=${join(dir, "apiserver-certs")}`,
      ...(withControllerManager ? [] : ["--disable-admission-plugins=ServiceAccount"]),
      ...kubeletClientFlags,
      ...(options.extraApiServerFlags ?? []),
    ]);
    await cp.waitFor("kube-apiserver /readyz", deadline, async () => {
      const res = await request(`${server}/readyz`, cp.adminTls());
      if (res.status === 200) return { value: true, detail: "" };
      // The verbose report names the post-start hooks still pending.
      const verbose = await request(`${server}/readyz?verbose`, cp.adminTls());
      return {
        detail: `HTTP ${res.status}: ${verbose.body
          .split("\n")
          .filter((l) => !l.includes(" ok"))
          .join("; ")}`,
      };
    });
    // The apiserver creates the system namespaces from a post-start hook that /readyz does
    // not wait for.
    await cp.waitForApiObject("namespace default", "/api/v1/namespaces/default", deadline);
    await cp.waitForApiObject("namespace kube-system", "/api/v1/namespaces/kube-system", deadline);

    if (withControllerManager) {
      cp.start("kube-controller-manager", binaries.kubeControllerManager, [
        `--kubeconfig=${kubeconfigPath}`,
        "--leader-elect=false",
        "--bind-address=127.0.0.1",
        // No health endpoint needed: the default ServiceAccount below proves it works.
        "--secure-port=0",
        `--service-account-private-key-file=${saKey}`,
        `--root-ca-file=${caCert}`,
        "--use-service-account-credentials=false",
        "--controllers=*",
      ]);
      await cp.waitForApiObject(
        "ServiceAccount default/default (kube-controller-manager's serviceaccount controller)",
        "/api/v1/namespaces/default/serviceaccounts/default",
        deadline,
      );
    }
  } catch (err) {
    await cp.stop();
    throw err;
  }
  if (process.env.POD_DNS_INJECTOR_TEST_VERBOSE === "1") {
    process.stderr.write(`[control-plane] ${name} ready at ${server} in ${Date.now() - startedAt} ms (${dir})\n`);
  }
  return cp;
}
