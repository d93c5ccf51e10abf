/**
 * Server-side dry-run pod creates (`POST /api/v1/namespaces/NS/pods?dryRun=All`) as load
 * slots for bench/load.ts: node:https with a keep-alive agent and the admin client
 * certificate, one socket per slot, so no request ever waits inside the agent and no
 * request pays a TLS handshake once the sockets are warm. The API server runs the whole
 * create (defaulting, every admission plugin and webhook, validation, the storage layer's
 * existence check) and stores nothing.
 *
 * node:https rather than client-node's CoreV1Api: the same wire requests without the
 * generated client's (de)serialization of every pod, which on a 2-core machine would take
 * CPU from the API server in every configuration alike.
 */
import https from "node:https";
import type { LoadSlot, Outcome } from "./load.js";

/** What makes an answer the expected one: status 201 and `verify` of the body and headers. */
export type DryRunCheck = (body: string, headers: NodeJS.Dict<string | string[]>) => boolean;

export interface DryRunTarget {
  /** `https://127.0.0.1:PORT` of kube-apiserver. */
  server: string;
  tls: { ca: string; cert: string; key: string };
  namespace: string;
  /** The Pod, JSON. */
  body: string;
  verify: DryRunCheck;
}

const REQUEST_TIMEOUT_MS = 10_000;

/** A pool of `count` slots over one keep-alive agent; close() destroys its sockets. */
export class DryRunPool {
  readonly slots: LoadSlot[];
  private readonly agent: https.Agent;
  private readonly options: https.RequestOptions;
  private readonly body: Buffer;

  constructor(
    private readonly target: DryRunTarget,
    count: number,
  ) {
    const url = new URL(target.server);
    this.agent = new https.Agent({ keepAlive: true, maxSockets: count, maxFreeSockets: count, scheduling: "lifo", ...target.tls });
    this.body = Buffer.from(target.body);
    this.options = {
      host: url.hostname,
      port: url.port,
      method: "POST",
      path: `/api/v1/namespaces/${encodeURIComponent(target.namespace)}/pods?dryRun=All`,
      agent: this.agent,
      headers: { "content-type": "application/json", accept: "application/json", "content-length": this.body.length },
    };
    this.slots = Array.from({ length: count }, () => ({ alive: true, send: (done: (o: Outcome) => void) => this.send(done) }));
  }

  /** One create and its outcome, for probes that wait until a configuration takes effect. */
  once(): Promise<{ outcome: Outcome; status: number; body: string }> {
    return new Promise((resolve) => this.request((outcome, status, body) => resolve({ outcome, status, body })));
  }

  close(): void {
    this.agent.destroy();
  }

  private send(done: (o: Outcome) => void): void {
    this.request((outcome) => done(outcome));
  }

  private request(done: (o: Outcome, status: number, body: string) => void): void {
    let settled = false;
    const finish = (o: Outcome, status = 0, body = "") => {
      if (settled) return;
      settled = true;
      done(o, status, body);
    };
    const req = https.request(this.options, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", () => finish("error"));
      res.on("end", () => {
        const status = res.statusCode ?? 0;
        const body = Buffer.concat(chunks).toString("utf8");
        if (status !== 201) finish("non2xx", status, body);
        else finish(this.target.verify(body, res.headers) ? "ok" : "mismatch", status, body);
      });
    });
    req.setTimeout(REQUEST_TIMEOUT_MS, () => {
      finish("timeout");
      req.destroy();
    });
    req.on("error", () => finish("error"));
    req.end(this.body);
  }
}
