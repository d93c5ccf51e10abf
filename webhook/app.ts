/**
 * The HTTPS admission server (fastify). It owns the wire format: body limit, JSON decoding,
 * envelope validation (HTTP 400 with a precise message), and turning unexpected failures
 * into an error response that still carries the request uid. `buildWebhookApp` returns an
 * app that tests drive with `inject()`; only the CLI listens.
 */
import Fastify, { LogController, type FastifyInstance, type FastifyServerOptions } from "fastify";
import type { Logger } from "pino";
import { MUTATE_PATH, VALIDATE_PATH } from "../config/names.js";
import { decodeAdmissionReview, deniedResponse, reviewResponse } from "./admission-review.js";
import type { WebhookMetrics } from "./metrics.js";
import { handleMutate, type MutateDeps } from "./mutate-handler.js";
import { decideDNSServiceGuard, dnsServiceGuardResponse } from "./dns-service-guard.js";
import { decideServiceReservation } from "./reservation-guard.js";

/**
 * Mutating webhooks may receive object and oldObject, each up to the API server's 3 MiB
 * request limit (--max-request-bytes default), plus the envelope; JSON escaping can grow
 * them further. 7 MiB is what controller-runtime allows for the same reason.
 */
export const ADMISSION_BODY_LIMIT = 7 * 1024 * 1024;

export interface WebhookAppDeps extends MutateDeps {
  log: Logger;
  metrics: WebhookMetrics;
  /** TLS material; omit for `inject()`-only tests. */
  https?: { key: string | Buffer; cert: string | Buffer } | undefined;
}

export function buildWebhookApp(deps: WebhookAppDeps): FastifyInstance {
  const options: FastifyServerOptions & { https?: object } = {
    loggerInstance: deps.log,
    bodyLimit: ADMISSION_BODY_LIMIT,
    // One line per review is logged by the handler with the decision; fastify's generic
    // request lines would double the log volume at admission rates.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger: the handler logs the uid itself, and creating a pino child
    // for every review is measurable at admission rates.
    childLoggerFactory: (logger) => logger,
    return503OnClosing: true,
    // The API server keeps connections alive and reuses them for every webhook call.
    keepAliveTimeout: 75_000,
  };
  if (deps.https) {
    options.https = { key: deps.https.key, cert: deps.https.cert, minVersion: "TLSv1.2" };
  }
  const app = Fastify(options) as unknown as FastifyInstance;

  // Our own JSON parser so a broken body gets a 400 that says where it broke.
  // The API server only ever sends JSON; anything else is answered with 415.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser("application/json", { parseAs: "string" }, (_req, body, done) => {
    try {
      done(null, JSON.parse(body as string));
    } catch (err) {
      const e = new Error(`body: invalid JSON: ${(err as Error).message}`) as Error & { statusCode: number };
      e.statusCode = 400;
      done(e, undefined);
    }
  });

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status < 500) {
      deps.metrics.malformedReviews.inc({ path: req.url });
      req.log.warn({ path: req.url, status, error: err.message }, "rejected admission request");
      return reply.code(status).send({ error: err.message, code: err.code ?? "BAD_REQUEST" });
    }
    // 5xx details stay in our log, not in the API server's error message.
    deps.metrics.handlerErrors.inc({ path: req.url });
    req.log.error({ err, path: req.url }, "admission handler failed");
    return reply.code(500).send({ error: "internal error" });
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url}` }));

  app.post(MUTATE_PATH, async (req, reply) => {
    const decoded = decodeAdmissionReview(req.body);
    if (!decoded.ok) {
      deps.metrics.malformedReviews.inc({ path: MUTATE_PATH });
      req.log.warn({ error: decoded.error }, "malformed AdmissionReview");
      return reply.code(400).send({ error: decoded.error, code: "MALFORMED_ADMISSION_REVIEW" });
    }
    const review = decoded.review;
    const started = process.hrtime.bigint();
    try {
      const { response, decision } = await handleMutate(review, deps);
      const seconds = Number(process.hrtime.bigint() - started) / 1e9;
      deps.metrics.reviews.inc({ action: decision.action, reason: decision.reason, mode: decision.mode ?? "" });
      deps.metrics.reviewDuration.observe({ action: decision.action }, seconds);
      const level = decision.action === "inject" || decision.action === "report" || decision.warnings.length ? "info" : "debug";
      if (deps.log.isLevelEnabled(level)) {
        const r = review.request;
        const obj = r.object as { metadata?: { name?: string; generateName?: string } } | undefined;
        req.log[level](
          {
            uid: r.uid,
            namespace: r.namespace,
            pod: obj?.metadata?.name || (obj?.metadata?.generateName ? `${obj.metadata.generateName}*` : undefined),
            dryRun: r.dryRun === true,
            row: decision.row,
            action: decision.action,
            reason: decision.reason,
            profile: decision.profile,
            injected: decision.injectedAnnotation,
            warnings: decision.warnings.length ? decision.warnings : undefined,
          },
          decision.message,
        );
      }
      return reviewResponse(response);
    } catch (err) {
      // A bug or an I/O failure (e.g. the namespace lookup): answer with an error that keeps
      // the uid, so the API server applies the webhook's failurePolicy instead of failing to
      // decode our reply.
      deps.metrics.handlerErrors.inc({ path: MUTATE_PATH });
      req.log.error({ err, uid: review.request.uid }, "admission handler failed");
      return reviewResponse(deniedResponse(review.request.uid, 500, "pod-dns-injector: internal error while deciding DNS injection"));
    }
  });
  app.post(VALIDATE_PATH, async (req, reply) => {
    const decoded = decodeAdmissionReview(req.body);
    if (!decoded.ok) {
      deps.metrics.malformedReviews.inc({ path: VALIDATE_PATH });
      return reply.code(400).send({ error: decoded.error, code: "MALFORMED_ADMISSION_REVIEW" });
    }
    const request = decoded.review.request;
    const settings = deps.settings();
    // Both guards share /validate: the deletion guard answers for the DNS Service itself,
    // the reservation guard for every other Service.
    const guard = decideDNSServiceGuard(request, settings);
    const response = guard.reason === "not-dns-service" ? decideServiceReservation(request, settings) : dnsServiceGuardResponse(request.uid, guard);
    if (guard.reason !== "not-dns-service") {
      deps.metrics.dnsServiceGuard.inc({ operation: request.operation, decision: guard.allowed ? "allow" : "deny", reason: guard.reason });
    }
    if (!response.allowed || guard.message) {
      const level = response.allowed ? "info" : "warn";
      req.log[level](
        { uid: response.uid, operation: request.operation, namespace: request.namespace, name: request.name, user: request.userInfo?.username, reason: guard.reason, dryRun: request.dryRun === true },
        response.status?.message ?? guard.message ?? "denied",
      );
    }
    return reviewResponse(response);
  });
  return app;
}
