/**
 * What the benchmarks share around the server under test: the forked server child (see
 * server-child.ts) and its IPC, a checked single request, and phase measurement (the
 * server's CPU and latency, and what the rest of the 2-core machine used meanwhile).
 */
import { issueCertificateAuthority, issueServingCertificate } from "../certs/authority.js";
import { execFileSync, fork, type ChildProcess } from "node:child_process";
import { availableParallelism, cpus } from "node:os";
import { readFileSync } from "node:fs";
import { request } from "node:https";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { MUTATE_PATH } from "../config/names.js";
import type { LatencySummary, LoadResult } from "./load.js";
import type { ChildMessage, ChildStats, ServerKind } from "./protocol.js";

const IPC_TIMEOUT_MS = 30_000;

/** Progress lines go to stderr so `--json` keeps stdout to the one object. */
export function progress(line: string): void {
  process.stderr.write(`[bench] ${line}\n`);
}

/** A server under test in its own process. */
/** A CA and a serving certificate for 127.0.0.1 and localhost: what every bench server listens with. */
export function benchTLS(): { caPem: string; tls: { keyPem: string; certPem: string } } {
  const now = new Date();
  const ca = issueCertificateAuthority({ now, commonName: "pod-dns-injector-bench-ca" });
  const serving = issueServingCertificate({ ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], now });
  return { caPem: ca.certPem, tls: { keyPem: serving.keyPem, certPem: serving.certPem } };
}

export class ServerChild {
  private constructor(
    readonly kind: ServerKind,
    private readonly child: ChildProcess,
    readonly port: number,
  ) {}

  /** `script`: another checkout's built server-child.js (bench:ab), by default this one's. */
  static async start(
    kind: ServerKind,
    logLevel: string,
    flags: string[],
    tls: { keyPem: string; certPem: string },
    script = join(dirname(fileURLToPath(import.meta.url)), "server-child.js"),
  ): Promise<ServerChild> {
    // Log lines: to /dev/null when every injected pod logs one (info and below), else to our
    // stderr, where a warning or error stays visible without touching --json's stdout.
    const verbose = ["info", "debug", "trace"].includes(logLevel);
    const child = fork(script, [], { execArgv: ["--expose-gc", ...flags], stdio: ["ignore", verbose ? "ignore" : 2, 2, "ipc"] });
    // IPC messages sent before the child listens are queued for it.
    child.send({ type: "start", server: kind, logLevel, keyPem: tls.keyPem, certPem: tls.certPem });
    const listening = await nextMessage(child, "listening").catch((err: unknown) => {
      if (child.exitCode === null) child.kill("SIGKILL");
      throw err;
    });
    if (listening.type !== "listening") throw new Error(`${kind} server: unexpected ${listening.type}`);
    return new ServerChild(kind, child, listening.port);
  }

  /** Pins the server (every thread) to `pinning`'s server CPU, if any. */
  pin(pinning: CpuPinning): void {
    if (pinning.pinned && this.child.pid !== undefined) setAffinity(this.child.pid, String(pinning.serverCpu));
  }

  /** Lets the server run on every CPU again. */
  unpin(pinning: CpuPinning): void {
    if (pinning.pinned && this.child.pid !== undefined && this.child.exitCode === null) setAffinity(this.child.pid, allCpus());
  }

  get url(): string {
    return `https://127.0.0.1:${this.port}${MUTATE_PATH}`;
  }

  async stats(opts: { gc?: boolean; resetLatency?: boolean } = {}): Promise<ChildStats> {
    this.child.send({ type: "stats", gc: opts.gc ?? false, resetLatency: opts.resetLatency ?? false });
    const message = await nextMessage(this.child, "stats");
    if (message.type !== "stats") throw new Error(`${this.kind} server: unexpected ${message.type}`);
    return message.stats;
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    this.child.send({ type: "stop" });
    const timer = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(timer);
  }

  kill(): void {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

/** The child's next message of `type`; an `error` message, an exit or a timeout rejects. */
function nextMessage(child: ChildProcess, type: ChildMessage["type"]): Promise<ChildMessage> {
  return new Promise((resolve, reject) => {
    const cleanup = () => {
      clearTimeout(timer);
      child.off("message", onMessage);
      child.off("exit", onExit);
    };
    const onMessage = (m: ChildMessage) => {
      if (m.type === "error") {
        cleanup();
        reject(new Error(`server child: ${m.message}`));
      } else if (m.type === type) {
        cleanup();
        resolve(m);
      }
    };
    const onExit = (code: number | null, signal: string | null) => {
      cleanup();
      reject(new Error(`server child exited (${code ?? signal}) while waiting for "${type}"`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`server child: no "${type}" within ${IPC_TIMEOUT_MS / 1000} s`));
    }, IPC_TIMEOUT_MS);
    child.on("message", onMessage);
    child.once("exit", onExit);
  });
}

/**
 * Where the benchmark runs: the load generator (this process) on one CPU and every server
 * child on the other, or unpinned with the reason. On this VM the host varies the speed of
 * each vCPU on its own, over seconds, and shows none of it inside (no steal time). Unpinned,
 * the scheduler kept one server on the slower vCPU for many rounds in a row (the webhook at
 * 0.45 of the baseline for 12 s, then both alike again), so the comparison measured the
 * vCPUs, not the servers. Pinned, the servers take turns on the same vCPU. Only for the
 * comparison: a pinned generator is late more often (it shares its CPU with everything else),
 * which a latency phase would count against the webhook.
 */
export type CpuPinning = { pinned: true; generatorCpu: number; serverCpu: number } | { pinned: false; reason: string };

/** Pins this process (every thread) to CPU 0 for the generator, leaving CPU 1 to servers. */
export function pinGenerator(): CpuPinning {
  if (process.platform !== "linux") return { pinned: false, reason: `not Linux (${process.platform})` };
  if (availableParallelism() < 2) return { pinned: false, reason: "only one CPU" };
  try {
    setAffinity(process.pid, "0");
  } catch (err) {
    return { pinned: false, reason: (err as Error).message };
  }
  return { pinned: true, generatorCpu: 0, serverCpu: 1 };
}

/** Lets this process run on every CPU again. */
export function unpinGenerator(pinning: CpuPinning): void {
  if (pinning.pinned) setAffinity(process.pid, allCpus());
}

/** Every CPU of the machine (availableParallelism counts only those this process may use now). */
const allCpus = () => `0-${cpus().length - 1}`;

/** `taskset -a -p -c CPUS PID` (util-linux, on every Debian): every thread of the process. */
function setAffinity(pid: number, cpu: string): void {
  try {
    execFileSync("taskset", ["-a", "-p", "-c", cpu, String(pid)], { stdio: ["ignore", "ignore", "pipe"] });
  } catch (err) {
    const e = err as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === "ENOENT") throw new Error("taskset not found (apt-get install util-linux)", { cause: err });
    throw new Error(`taskset -c ${cpu} ${pid}: ${e.stderr?.toString().trim() || e.message}`, { cause: err });
  }
}

/** "generator on CPU 0, servers on CPU 1", or why not. */
export function describePinning(p: CpuPinning): string {
  return p.pinned ? `generator on CPU ${p.generatorCpu}, servers on CPU ${p.serverCpu} (taskset)` : `unpinned: ${p.reason}`;
}

/** One request with the chain verified against our CA: the server answers what we expect. */
export function checkOnce(url: string, body: string, ca: string): Promise<{ status: number; json: unknown }> {
  return new Promise((resolve, reject) => {
    const u = new URL(url);
    const req = request(
      { host: u.hostname, port: u.port, path: u.pathname, method: "POST", ca, servername: "localhost", headers: { "content-type": "application/json" }, timeout: 5_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          try {
            resolve({ status: res.statusCode ?? 0, json: JSON.parse(Buffer.concat(chunks).toString()) });
          } catch (err) {
            reject(new Error(`${url}: response is not JSON`, { cause: err }));
          }
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`${url}: no answer within 5 s`)));
    req.on("error", reject);
    req.end(body);
  });
}

const cpuSeconds = (s: ChildStats) => (s.cpuUserUs + s.cpuSystemUs) / 1e6;

export const mb = (bytes: number) => Math.round((bytes / 1024 / 1024) * 10) / 10;

/**
 * Busy CPU time of the whole machine, in core-seconds (Linux /proc/stat; undefined
 * elsewhere). Minus our own processes' CPU it shows whether something else shared the two
 * cores during a phase, which would make the figures unreliable.
 */
export function machineBusySeconds(): number | undefined {
  try {
    const line = readFileSync("/proc/stat", "utf8").split("\n", 1)[0] ?? "";
    const [, user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).map(Number);
    const busy = [user, nice, system, irq, softirq, steal].reduce<number>((a, b) => a + (b ?? 0), 0);
    // USER_HZ: 100 on every Linux architecture Node runs on.
    return Number.isFinite(busy) ? busy / 100 : undefined;
  } catch {
    return undefined;
  }
}

export interface PhaseResult<L extends LoadResult = LoadResult> {
  load: L;
  /** Server CPU over the phase, fraction of one core. */
  serverCpu: number;
  serverLatency: LatencySummary;
  /** CPU used by other processes on the machine during the phase, in cores (null: unknown). */
  otherCores: number | null;
}

/** Runs `run` against `server`, with the server's CPU and latency and the machine's other load. */
export async function measure<L extends LoadResult>(server: ServerChild, run: () => Promise<L>): Promise<PhaseResult<L>> {
  const before = await server.stats({ resetLatency: true });
  const busy0 = machineBusySeconds();
  const own0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const load = await run();
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const own = process.cpuUsage(own0);
  const busy1 = machineBusySeconds();
  const after = await server.stats({ resetLatency: true });
  const serverSec = cpuSeconds(after) - cpuSeconds(before);
  const l = after.latency;
  const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
  return {
    load,
    serverCpu: serverSec / wallSec,
    serverLatency: { count: l.count, p50Ms: ms(l.p50Ns), p90Ms: 0, p99Ms: ms(l.p99Ns), p999Ms: ms(l.p999Ns), maxMs: ms(l.maxNs), meanMs: ms(l.meanNs) },
    otherCores: busy0 === undefined || busy1 === undefined ? null : Math.max(0, (busy1 - busy0 - serverSec - (own.user + own.system) / 1e6) / wallSec),
  };
}
