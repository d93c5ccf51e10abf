/**
 * The server under test, forked by admission-bench.ts: either the real webhook app
 * (`buildWebhookApp`, standalone facts, default settings, the CLI's logger) or the baseline,
 * a bare fastify HTTPS route answering a canned allow. Both listen on 127.0.0.1:0 with the
 * same TLS material and keep-alive timeout, count responses, time each request from
 * fastify's onRequest to onResponse hook, and report memory and CPU over IPC.
 *
 * Started with --expose-gc so the parent can ask for RSS after a full collection.
 */
import { createHistogram, type RecordableHistogram } from "node:perf_hooks";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import Fastify, { type FastifyBaseLogger, type FastifyInstance } from "fastify";
import type { Logger } from "pino";
import { createLogger } from "../cli/logger.js";
import { VERSION } from "../cli/version.js";
import { MUTATE_PATH } from "../config/names.js";
import { defaultSettings } from "../config/settings.js";
import { standaloneFacts } from "../webhook/admission-facts.js";
import { ADMISSION_BODY_LIMIT, buildWebhookApp } from "../webhook/app.js";
import { createWebhookMetrics } from "../webhook/metrics.js";
import type { ChildMessage, ChildStats, ParentMessage, ServerKind } from "./protocol.js";

/** The parent dies or forgets us: never outlive it by more than this. */
const ORPHAN_TIMEOUT_MS = 10 * 60 * 1000;

function send(message: ChildMessage): void {
  process.send?.(message);
}

/** Any of the three servers: HTTPS, with the webhook's pino logger or fastify's default one. */
type BenchApp<L extends FastifyBaseLogger> = FastifyInstance<HttpsServer, IncomingMessage, ServerResponse, L>;

function buildBaselineApp(tls: { key: string; cert: string }): BenchApp<FastifyBaseLogger> {
  const app = Fastify({
    https: { key: tls.key, cert: tls.cert, minVersion: "TLSv1.2" },
    keepAliveTimeout: 75_000,
  });
  // fastify's default JSON parser; the answer echoes the uid, as any valid response must.
  app.post(MUTATE_PATH, async (req) => {
    const uid = (req.body as { request?: { uid?: string } } | null)?.request?.uid ?? "";
    return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", response: { uid, allowed: true } };
  });
  return app;
}

/**
 * A bystander for the hostile stream: receives any body over the same TLS and answers a
 * fixed 400 without parsing it, so sending hostile bodies to it costs the machine what the
 * transfer costs (TLS on both ends, loopback copies) and nothing of the webhook's own work.
 */
function buildSinkApp(tls: { key: string; cert: string }): BenchApp<FastifyBaseLogger> {
  const app = Fastify({
    https: { key: tls.key, cert: tls.cert, minVersion: "TLSv1.2" },
    keepAliveTimeout: 75_000,
    bodyLimit: ADMISSION_BODY_LIMIT,
  });
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "buffer" }, (_req, _body, done) => done(null, null));
  app.post(MUTATE_PATH, async (_req, reply) => reply.code(400).send({ error: "sink: body discarded" }));
  return app;
}

function buildWebhookServer(logLevel: string, tls: { key: string; cert: string }): BenchApp<Logger> {
  const settings = defaultSettings();
  settings.logLevel = logLevel as typeof settings.logLevel;
  return buildWebhookApp({
    settings: () => settings,
    facts: standaloneFacts(() => settings),
    log: createLogger(logLevel),
    metrics: createWebhookMetrics({ version: VERSION }),
    https: tls,
  });
}

async function start(message: Extract<ParentMessage, { type: "start" }>): Promise<void> {
  const tls = { key: message.keyPem, cert: message.certPem };
  const kind: ServerKind = message.server;
  if (kind === "baseline") return serve(buildBaselineApp(tls));
  if (kind === "sink") return serve(buildSinkApp(tls));
  return serve(buildWebhookServer(message.logLevel, tls));
}

/** Counts and times every request, answers the parent's stats and stop messages, listens. */
async function serve<L extends FastifyBaseLogger>(app: BenchApp<L>): Promise<void> {
  let latency: RecordableHistogram = createHistogram();
  let responses = 0;
  const cpuAtStart = process.cpuUsage();
  const started = new WeakMap<object, bigint>();
  app.addHook("onRequest", async (req) => {
    started.set(req.raw, process.hrtime.bigint());
  });
  app.addHook("onResponse", async (req) => {
    const t0 = started.get(req.raw);
    if (t0 !== undefined) latency.record(Math.max(1, Number(process.hrtime.bigint() - t0)));
    responses++;
  });

  process.on("message", (raw: ParentMessage) => {
    if (raw.type === "stats") {
      if (raw.gc) globalThis.gc?.();
      const mem = process.memoryUsage();
      const cpu = process.cpuUsage(cpuAtStart);
      const stats: ChildStats = {
        responses,
        rss: mem.rss,
        heapUsed: mem.heapUsed,
        heapTotal: mem.heapTotal,
        external: mem.external,
        maxRss: process.resourceUsage().maxRSS * 1024,
        cpuUserUs: cpu.user,
        cpuSystemUs: cpu.system,
        latency: {
          count: latency.count,
          p50Ns: latency.count ? latency.percentile(50) : 0,
          p99Ns: latency.count ? latency.percentile(99) : 0,
          p999Ns: latency.count ? latency.percentile(99.9) : 0,
          maxNs: latency.count ? latency.max : 0,
          meanNs: latency.count ? latency.mean : 0,
        },
      };
      if (raw.resetLatency) latency = createHistogram();
      send({ type: "stats", stats });
    } else if (raw.type === "stop") {
      void app.close().finally(() => process.exit(0));
    }
  });

  await app.listen({ host: "127.0.0.1", port: 0 });
  const address = app.server.address();
  if (address === null || typeof address === "string") throw new Error("server address unknown after listen");
  send({ type: "listening", port: address.port, pid: process.pid });
}

if (!process.send) {
  console.error("bench/server-child.js is started by bench/admission-bench.js (child_process.fork), not directly");
  process.exitCode = 2;
} else {
  setTimeout(() => process.exit(3), ORPHAN_TIMEOUT_MS).unref();
  process.on("disconnect", () => process.exit(0));
  process.once("message", (message: ParentMessage) => {
    if (message.type !== "start") {
      send({ type: "error", message: `expected a start message, got ${message.type}` });
      process.exit(2);
    }
    start(message).catch((err: unknown) => {
      send({ type: "error", message: err instanceof Error ? (err.stack ?? err.message) : String(err) });
      process.exit(1);
    });
  });
}
