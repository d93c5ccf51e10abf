/**
 * Plain-HTTP operations endpoints: liveness, readiness and Prometheus metrics. Separate from
 * the admission port so probes and scrapes need no TLS and never queue behind reviews.
 */
import type { IncomingMessage, Server as HttpServer, ServerResponse } from "node:http";
import Fastify, { LogController, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { HEALTHZ_PATH, METRICS_PATH, READYZ_PATH } from "../config/names.js";

export interface ReadinessCheck {
  name: string;
  /** null when healthy, else why not. */
  check: () => string | null;
}

export interface OpsAppDeps {
  log: Logger;
  registry: Registry;
  readiness: ReadinessCheck[];
  /** Liveness: the event loop answers; false only once shutdown has begun. */
  live?: () => boolean;
}

/** The ops app: plain HTTP, logging through the process's pino logger. */
export type OpsApp = FastifyInstance<HttpServer, IncomingMessage, ServerResponse, Logger>;

/** The plain-HTTP ops port: /healthz, /readyz (each readiness check listed) and /metrics. */
export function buildOpsApp(deps: OpsAppDeps): OpsApp {
  const app = Fastify({ loggerInstance: deps.log, logController: new LogController({ disableRequestLogging: true }) });
  app.get(HEALTHZ_PATH, async (_req, reply) => {
    if (deps.live && !deps.live()) return reply.code(503).type("text/plain").send("shutting down\n");
    return reply.type("text/plain").send("ok\n");
  });
  app.get(READYZ_PATH, async (_req, reply) => {
    const failing = deps.readiness.map((r) => ({ name: r.name, problem: r.check() })).filter((r) => r.problem !== null);
    const body = deps.readiness.map((r) => {
      const f = failing.find((x) => x.name === r.name);
      return f ? `[-] ${r.name}: ${f.problem}` : `[+] ${r.name} ok`;
    });
    return reply
      .code(failing.length ? 503 : 200)
      .type("text/plain")
      .send(`${body.join("\n")}\n${failing.length ? "readyz check failed" : "readyz check passed"}\n`);
  });
  app.get(METRICS_PATH, async (_req, reply) => {
    return reply.type(deps.registry.contentType).send(await deps.registry.metrics());
  });
  return app;
}
