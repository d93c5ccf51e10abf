/**
 * Load generators for the benchmark, both over HTTPS keep-alive:
 *
 * - `runAutocannon`: closed-loop saturation (max throughput, and a fixed number of
 *   requests for the memory phase). autocannon records latency in an integer-millisecond
 *   HDR histogram (0.9 ms counts as 0, 1.7 ms as 1), so latency is recorded here from its
 *   per-response `response` event instead, which carries the hrtime duration in ms.
 * - `runPaced`: open loop at a fixed rate. autocannon's `overallRate` is not a pace: each
 *   connection fires its per-second quota back to back and then idles until the next
 *   one-second tick, so "2,000/s" is really bursts at saturation, and being closed-loop it
 *   hides queueing (coordinated omission). Here request i is due at t0 + i/rate whatever
 *   happened to the others; its latency runs from the moment the pacer issues it (so
 *   waiting for a free connection counts) to the last byte of the answer. The
 *   latency from its due time is kept too: it adds the pacer's own lateness (a 1 ms timer,
 *   and any stall of this process), an upper bound.
 *
 * The pacing itself (`runOpenLoop`) and a plain closed loop (`runClosedLoop`) work over any
 * `LoadSlot`, so other clients can use them: `runPaced` gives them raw TLS connections to
 * a webhook, the end-to-end benchmark keep-alive sockets to kube-apiserver.
 */
import type { EventEmitter } from "node:events";
import { createRequire } from "node:module";
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import { connect as tlsConnect, type TLSSocket } from "node:tls";

/** The part of autocannon 9's options used here (the package ships no types). */
interface AutocannonOptions {
  url: string;
  method: "POST";
  headers: Record<string, string>;
  body: string;
  connections: number;
  pipelining: number;
  duration?: number;
  amount?: number;
  overallRate?: number;
  timeout?: number;
  verifyBody?: (body: string) => boolean;
}

/** The part of autocannon 9's aggregated result used here. */
interface AutocannonResult {
  duration: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  non2xx: number;
  resets: number;
  "2xx": number;
  requests: { average: number; total: number; sent: number };
}

type AutocannonTracker = EventEmitter & PromiseLike<AutocannonResult>;
type Autocannon = (opts: AutocannonOptions) => AutocannonTracker;

const autocannon = createRequire(import.meta.url)("autocannon") as Autocannon;

export interface LatencySummary {
  count: number;
  p50Ms: number;
  p90Ms: number;
  p99Ms: number;
  p999Ms: number;
  maxMs: number;
  meanMs: number;
}

export function summarizeNs(h: RecordableHistogram): LatencySummary {
  const ms = (ns: number) => Math.round(ns / 1e3) / 1e3;
  if (h.count === 0) return { count: 0, p50Ms: 0, p90Ms: 0, p99Ms: 0, p999Ms: 0, maxMs: 0, meanMs: 0 };
  return {
    count: h.count,
    p50Ms: ms(h.percentile(50)),
    p90Ms: ms(h.percentile(90)),
    p99Ms: ms(h.percentile(99)),
    p999Ms: ms(h.percentile(99.9)),
    maxMs: ms(h.max),
    meanMs: ms(h.mean),
  };
}

export interface Target {
  url: string;
  body: string;
  /** A cheap check that a 2xx body is the expected answer; a failure counts as a mismatch. */
  verifyBody: (body: string) => boolean;
}

export interface LoadResult {
  /** 2xx responses per second over the measured interval. */
  perSec: number;
  ok: number;
  non2xx: number;
  errors: number;
  timeouts: number;
  mismatches: number;
  durationSec: number;
  /** Client-side latency of 2xx responses, and the histogram (ns) behind it. */
  latency: LatencySummary;
  histogram: RecordableHistogram;
  /** CPU used by this (load generator) process, as a fraction of one core. */
  generatorCpu: number;
}

/** Several runs as one: counts and time added, histograms merged, CPU time-weighted. */
export function combineLoad(runs: readonly LoadResult[]): LoadResult {
  const histogram = createHistogram();
  for (const r of runs) histogram.add(r.histogram);
  const sum = (f: (r: LoadResult) => number) => runs.reduce((n, r) => n + f(r), 0);
  const durationSec = sum((r) => r.durationSec);
  const ok = sum((r) => r.ok);
  return {
    perSec: ok / durationSec,
    ok,
    non2xx: sum((r) => r.non2xx),
    errors: sum((r) => r.errors),
    timeouts: sum((r) => r.timeouts),
    mismatches: sum((r) => r.mismatches),
    durationSec,
    latency: summarizeNs(histogram),
    histogram,
    generatorCpu: sum((r) => r.generatorCpu * r.durationSec) / durationSec,
  };
}

export function failures(r: LoadResult): number {
  return r.non2xx + r.errors + r.timeouts + r.mismatches;
}

const JSON_HEADERS = { "content-type": "application/json" };

/** Closed loop over `connections` keep-alive connections, for `durationSec` or `amount` requests. */
export async function runAutocannon(target: Target, opts: { connections: number; durationSec?: number; amount?: number; overallRate?: number }): Promise<LoadResult> {
  const latency = createHistogram();
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let last = t0;
  const tracker = autocannon({
    url: target.url,
    method: "POST",
    headers: JSON_HEADERS,
    body: target.body,
    connections: opts.connections,
    pipelining: 1,
    timeout: 10,
    verifyBody: target.verifyBody,
    ...(opts.amount !== undefined ? { amount: opts.amount } : { duration: opts.durationSec ?? 10 }),
    ...(opts.overallRate !== undefined ? { overallRate: opts.overallRate } : {}),
  });
  tracker.on("response", (_client: unknown, statusCode: number, _bytes: number, responseTimeMs: number) => {
    if (statusCode >= 200 && statusCode < 300) {
      latency.record(Math.max(1, Math.round(responseTimeMs * 1e6)));
      last = process.hrtime.bigint();
    }
  });
  const result = await tracker;
  const elapsedSec = Number(process.hrtime.bigint() - t0) / 1e9;
  const cpu = process.cpuUsage(cpu0);
  // autocannon stops on its one-second sample tick, so its own duration is rounded up to a
  // whole second (an `amount` run of 9.1 s counts as 10 s): time to the last answer instead.
  const activeSec = Math.max(1e-3, Number(last - t0) / 1e9);
  return {
    perSec: result["2xx"] / activeSec,
    ok: result["2xx"],
    non2xx: result.non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    mismatches: result.mismatches,
    durationSec: activeSec,
    latency: summarizeNs(latency),
    histogram: latency,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / elapsedSec,
  };
}

/**
 * One keep-alive HTTPS connection speaking just enough HTTP/1.1 for the benchmark: one
 * request at a time, answers framed by Content-Length (fastify always sets it). Far lighter
 * than node:https, so the load generator's own CPU and GC disturb the latency less.
 */
class RawConnection {
  private chunks: Buffer[] = [];
  private received = 0;
  private pending: ((result: { status: number; body: string } | Error) => void) | undefined;

  private constructor(private readonly socket: TLSSocket) {
    socket.setNoDelay(true);
    socket.on("data", (d: Buffer) => this.onData(d));
    socket.setTimeout(10_000, () => this.fail(new TimeoutError()));
    socket.on("error", (err: Error) => this.fail(err));
    socket.on("close", () => this.fail(new Error("connection closed")));
  }

  static connect(url: URL, ca: string): Promise<RawConnection> {
    return new Promise((resolve, reject) => {
      const socket = tlsConnect({ host: url.hostname, port: Number(url.port), ca, servername: "localhost" }, () => resolve(new RawConnection(socket)));
      socket.once("error", reject);
    });
  }

  get alive(): boolean {
    return !this.socket.destroyed;
  }

  send(request: Buffer, done: (result: { status: number; body: string } | Error) => void): void {
    this.pending = done;
    this.socket.write(request);
  }

  close(): void {
    this.pending = undefined;
    this.socket.destroy();
  }

  private fail(err: Error): void {
    const done = this.pending;
    this.pending = undefined;
    this.socket.destroy();
    done?.(err);
  }

  private onData(d: Buffer): void {
    this.chunks.push(d);
    this.received += d.length;
    const buf = this.chunks.length === 1 ? d : Buffer.concat(this.chunks);
    const headerEnd = buf.indexOf("\r\n\r\n");
    if (headerEnd < 0) return;
    const head = buf.toString("latin1", 0, headerEnd);
    const length = Number(/\r\ncontent-length:\s*(\d+)/i.exec(head)?.[1] ?? Number.NaN);
    if (!Number.isFinite(length)) return this.fail(new Error(`answer without Content-Length: ${head.slice(0, 200)}`));
    if (this.received < headerEnd + 4 + length) {
      this.chunks = [buf];
      return;
    }
    this.chunks = [];
    this.received = 0;
    const status = Number(head.slice(9, 12));
    const done = this.pending;
    this.pending = undefined;
    done?.({ status, body: buf.toString("utf8", headerEnd + 4, headerEnd + 4 + length) });
  }
}

class TimeoutError extends Error {}

/** How one request ended, as the load loops count it. */
export type Outcome = "ok" | "non2xx" | "error" | "timeout" | "mismatch";

/**
 * Where the open and closed loops send: one request at a time (a keep-alive connection, or
 * one of an agent's sockets). `done` is called once per `send`, as soon as the answer is
 * complete; a slot that is no longer `alive` gets no further requests.
 */
export interface LoadSlot {
  send(done: (outcome: Outcome) => void): void;
  readonly alive: boolean;
}

export type PacedResult = LoadResult & { dueLatency: LatencySummary; lateStarts: number };

/**
 * Open loop: `rate` requests per second for `durationSec` over `connections` keep-alive
 * connections opened beforehand. A request due while every connection is busy waits in a
 * queue, and that wait is part of its latency. The TLS chain is verified against `ca`.
 */
export async function runPaced(target: Target, opts: { rate: number; durationSec: number; connections: number; ca: string }): Promise<PacedResult> {
  const url = new URL(target.url);
  const body = Buffer.from(target.body);
  const request = Buffer.concat([
    Buffer.from(`POST ${url.pathname} HTTP/1.1\r\nHost: ${url.host}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n`),
    body,
  ]);
  const pool = await Promise.all(Array.from({ length: opts.connections }, () => RawConnection.connect(url, opts.ca)));
  const slots: LoadSlot[] = pool.map((conn) => ({
    get alive() {
      return conn.alive;
    },
    send: (done) =>
      conn.send(request, (result) => {
        if (result instanceof Error) done(result instanceof TimeoutError ? "timeout" : "error");
        else if (result.status < 200 || result.status >= 300) done("non2xx");
        else done(target.verifyBody(result.body) ? "ok" : "mismatch");
      }),
  }));
  try {
    return await runOpenLoop(slots, opts);
  } finally {
    for (const c of pool) c.close();
  }
}

type Counts = Record<Outcome, number>;

const countOutcome = (counts: Counts, outcome: Outcome) => counts[outcome]++;

function loadResult(counts: Counts, histogram: RecordableHistogram, activeSec: number, cpu: NodeJS.CpuUsage, wallSec: number): LoadResult {
  return {
    perSec: counts.ok / activeSec,
    ok: counts.ok,
    non2xx: counts.non2xx,
    errors: counts.error,
    timeouts: counts.timeout,
    mismatches: counts.mismatch,
    durationSec: activeSec,
    latency: summarizeNs(histogram),
    histogram,
    generatorCpu: (cpu.user + cpu.system) / 1e6 / wallSec,
  };
}

/**
 * Open loop over `slots`: request i is due at t0 + i/rate whatever happened to the others;
 * one due while every slot is busy waits in a queue, and that wait is part of its latency.
 */
export async function runOpenLoop(slots: readonly LoadSlot[], opts: { rate: number; durationSec: number }): Promise<PacedResult> {
  const idle = [...slots];
  const queue: Array<{ due: bigint; sent: bigint }> = [];
  let queueHead = 0;
  const fromDue = createHistogram();
  const fromSend = createHistogram();
  const total = Math.round(opts.rate * opts.durationSec);
  const intervalNs = 1e9 / opts.rate;
  const counts: Counts = { ok: 0, non2xx: 0, error: 0, timeout: 0, mismatch: 0 };
  let done = 0;
  let lateStarts = 0;
  let allDone: () => void = () => {};
  const finished = new Promise<void>((resolve) => (allDone = resolve));

  const dispatch = (slot: LoadSlot, job: { due: bigint; sent: bigint }) => {
    slot.send((outcome) => {
      const end = process.hrtime.bigint();
      countOutcome(counts, outcome);
      if (outcome === "ok") {
        fromDue.record(Math.max(1, Number(end - job.due)));
        fromSend.record(Math.max(1, Number(end - job.sent)));
      }
      if (++done === total) allDone();
      if (!slot.alive) return;
      const waiting = queue[queueHead];
      if (waiting) {
        queueHead++;
        dispatch(slot, waiting);
      } else idle.push(slot);
    });
  };

  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  let next = 0;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = process.hrtime.bigint();
      const due = Math.min(total, Math.floor(Number(now - t0) / intervalNs) + 1);
      while (next < due) {
        const job = { due: t0 + BigInt(Math.round(next++ * intervalNs)), sent: now };
        // The timer ticks every millisecond or so; later than 2 ms means this process stalled.
        if (now - job.due > 2_000_000n) lateStarts++;
        const slot = idle.pop();
        if (slot) dispatch(slot, job);
        else queue.push(job);
      }
      if (next >= total) {
        clearInterval(timer);
        resolve();
      }
    };
    const timer = setInterval(tick, 1);
    tick();
  });
  const sendEnd = process.hrtime.bigint();
  // Stragglers get the 10 s timeout; whatever is still missing then counts as an error.
  let giveUp: NodeJS.Timeout | undefined;
  await Promise.race([finished, new Promise((r) => (giveUp = setTimeout(r, 11_000)))]);
  clearTimeout(giveUp);
  counts.error += total - done;
  const cpu = process.cpuUsage(cpu0);
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
  return { ...loadResult(counts, fromSend, Number(sendEnd - t0) / 1e9, cpu, wallSec), dueLatency: summarizeNs(fromDue), lateStarts };
}

/**
 * Closed loop over `slots`: each sends its next request as soon as its last one is
 * answered, until `durationSec` is over (requests in flight then are still counted). The
 * rate is counted up to the last answer; a slot that dies stops.
 */
export async function runClosedLoop(slots: readonly LoadSlot[], opts: { durationSec: number }): Promise<LoadResult> {
  const histogram = createHistogram();
  const counts: Counts = { ok: 0, non2xx: 0, error: 0, timeout: 0, mismatch: 0 };
  const cpu0 = process.cpuUsage();
  const t0 = process.hrtime.bigint();
  const stopAt = t0 + BigInt(Math.round(opts.durationSec * 1e9));
  let last = t0;
  const loop = (slot: LoadSlot) =>
    new Promise<void>((resolve) => {
      const next = () => {
        const sent = process.hrtime.bigint();
        slot.send((outcome) => {
          const end = process.hrtime.bigint();
          countOutcome(counts, outcome);
          if (outcome === "ok") histogram.record(Math.max(1, Number(end - sent)));
          last = end;
          if (end < stopAt && slot.alive) next();
          else resolve();
        });
      };
      next();
    });
  await Promise.all(slots.map(loop));
  const cpu = process.cpuUsage(cpu0);
  const wallSec = Number(process.hrtime.bigint() - t0) / 1e9;
  return loadResult(counts, histogram, Math.max(1e-3, Number(last - t0) / 1e9), cpu, wallSec);
}
