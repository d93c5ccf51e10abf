/**
 * The IPC messages between the benchmark (parent, load generator) and the server under
 * test (a forked child, so the two never share an event loop).
 */

/** "sink" reads a body and discards it (the hostile bench's bystander). */
export type ServerKind = "webhook" | "baseline" | "sink";

export type ParentMessage =
  { type: "start"; server: ServerKind; logLevel: string; keyPem: string; certPem: string } | { type: "stats"; gc: boolean; resetLatency: boolean } | { type: "stop" };

/** Server-side latency, onRequest → onResponse (fastify hooks), in nanoseconds. */
export interface ServerLatency {
  count: number;
  p50Ns: number;
  p99Ns: number;
  p999Ns: number;
  maxNs: number;
  meanNs: number;
}

export interface ChildStats {
  /** Responses sent since the server started. */
  responses: number;
  rss: number;
  heapUsed: number;
  heapTotal: number;
  external: number;
  /** Peak RSS of the process's whole life (getrusage ru_maxrss), bytes. */
  maxRss: number;
  /** CPU time since the server started, microseconds. */
  cpuUserUs: number;
  cpuSystemUs: number;
  /** Since the last resetLatency. */
  latency: ServerLatency;
}

export type ChildMessage = { type: "listening"; port: number; pid: number } | { type: "stats"; stats: ChildStats } | { type: "error"; message: string };
