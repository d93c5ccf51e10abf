/**
 * The parts `serve` runs, each a {@link Runnable} for kube/runnable.ts's manager: the TLS
 * source, the ops port and the HTTPS webhook here; the informers and the leader-only work
 * (cluster mode only) in serve-cluster-parts.ts, loaded only in cluster mode so that a
 * standalone webhook does not carry the Kubernetes client (idle RSS 157 → 96 MB without it).
 *
 * The list order is the start order, and stop runs it in reverse after every part was told
 * to drain: the webhook retires its connections at once, the leader-only work stops and the
 * election releases the Lease, then the webhook closes within the drain deadline, and only
 * then the informers stop (in-flight reviews still read the namespace cache), then the ops
 * port and TLS.
 */
import type { Server as HttpsServer } from "node:https";
import type { Server as NetServer } from "node:net";
import type { Logger } from "pino";
import type { Runnable } from "../kube/runnable.js";
import { startDraining, type WebhookApp } from "../webhook/app.js";
import type { OpsApp } from "../webhook/ops-app.js";
import { inputError } from "./errors.js";
import { startTLS, type TLSDeps, type TLSSource } from "./serve-tls.js";

/**
 * How long in-flight reviews get to finish on shutdown. The API server waits at most a
 * webhook's timeoutSeconds (default 10 s) for an answer; some of its keep-alive connections
 * were seen to stay open (not idle, no request) until our 75 s keep-alive timeout, which
 * kept the process past kubelet's grace period.
 */
const DRAIN_DEADLINE_MS = 5_000;

/**
 * How long, at most, the webhook keeps listening after SIGTERM while the API server retires
 * its connections (each one after its next review). Without a preStop delay, kube-proxy
 * may still send new connections here for about its sync period (1 s), so they are
 * accepted and answered too. Ends early once no connection is open.
 */
const DRAIN_LINGER_MS = 2_000;

/** The one deadline of a stop, from SIGTERM: the linger, then the time reviews get to finish. */
export const STOP_DEADLINE_MS = DRAIN_LINGER_MS + DRAIN_DEADLINE_MS;

/** The TLS source (certs/ through serve-tls.ts): the first part, since the webhook needs its certificate. */
export function tlsPart(deps: TLSDeps): Runnable & { readonly source: TLSSource } {
  let source: TLSSource | undefined;
  return {
    name: "tls",
    get source(): TLSSource {
      if (!source) throw new Error("serve: the TLS source is used before it started");
      return source;
    },
    start: async () => {
      source = await startTLS(deps);
    },
    ready: () => (source ? source.readiness() : "TLS not started"),
    stop: async () => source?.stop(),
  };
}

/** The plain-HTTP ops port (/healthz, /readyz, /metrics): probes answer before the webhook is ready. */
export function opsPart(app: OpsApp, host: string, port: number): Runnable & { readonly port: number } {
  return {
    name: "ops",
    get port() {
      return portOf(app);
    },
    start: () => listen(app, host, port, "--ops-port"),
    stop: () => app.close(),
  };
}

export interface WebhookPartOptions {
  /** The TLS source, once started: its first certificate builds the app, later ones reach it. */
  tls: () => TLSSource;
  /** Builds the app from the first certificate. */
  build: (tls: TLSSource) => WebhookApp<HttpsServer>;
  host: string;
  port: number;
  path: string;
  log: Logger;
  /** For the "webhook listening" line. */
  opsPort: () => number;
}

/**
 * The HTTPS admission webhook. Draining makes every answer retire its connection; stopping
 * keeps listening until the API server has retired them (at most DRAIN_LINGER_MS), then
 * closes: in-flight reviews finish, and whatever is still open at the deadline is closed.
 */
export function webhookPart(o: WebhookPartOptions): Runnable & { readonly port: number } {
  let app: WebhookApp<HttpsServer> | undefined;
  return {
    name: "webhook",
    get port() {
      return app ? portOf(app) : 0;
    },
    start: async () => {
      const tls = o.tls();
      const built = o.build(tls);
      try {
        await listen(built, o.host, o.port, "--port");
      } catch (err) {
        await built.close(); // its parser worker, which nothing else would end
        throw err;
      }
      app = built;
      tls.attach(built.server);
      const webhookPort = portOf(built);
      o.log.info({ webhookPort, opsPort: o.opsPort(), path: o.path, caFile: tls.caFile ?? null }, `webhook listening on https://${o.host}:${webhookPort}${o.path}`);
    },
    ready: () => (app?.server.listening ? null : "HTTPS server not listening"),
    drain: () => {
      if (app) startDraining(app);
    },
    stop: async (deadline) => {
      if (!app) return;
      await retireConnections(app, Math.min(deadline, Date.now() + DRAIN_LINGER_MS));
      await closeBy(app, deadline, o.log);
    },
  };
}

async function retireConnections(app: WebhookApp<HttpsServer>, until: number): Promise<void> {
  while (Date.now() < until) {
    const open = await new Promise<number>((resolve) => app.server.getConnections((err, n) => resolve(err ? 0 : n)));
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** fastify's close (in-flight reviews finish, idle connections close), then, at `deadline`, closes what is left. */
async function closeBy(app: WebhookApp<HttpsServer>, deadline: number, log: Logger): Promise<void> {
  const timer = setTimeout(
    () => {
      log.warn({ deadline: new Date(deadline).toISOString() }, "connections still open after the drain deadline; closing them");
      app.server.closeAllConnections();
    },
    Math.max(0, deadline - Date.now()),
  );
  timer.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

/** What listen and portOf need of a fastify app: both the webhook's and the ops app. */
interface Listener {
  listen(options: { host: string; port: number }): Promise<string>;
  readonly server: NetServer;
}

/**
 * Listens, turning the errors a user can fix (the port is taken, or privileged) into input
 * errors that name the address and the flag, instead of a stack trace.
 */
async function listen(app: Listener, host: string, port: number, flag: string): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw inputError(`port ${port} on ${host} is already in use (${flag})`);
    if (code === "EACCES") throw inputError(`port ${port} on ${host}: permission denied (${flag}; ports below 1024 need privileges)`);
    if (code === "EADDRNOTAVAIL") throw inputError(`cannot listen on ${host}:${port}: no such local address (${flag === "--port" ? "--host" : "ops.host"})`);
    throw err;
  }
}

function portOf(app: Listener): number {
  const address = app.server.address();
  return typeof address === "object" && address ? address.port : 0;
}
