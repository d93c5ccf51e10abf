/**
 * The HTTPS admission server (fastify). It owns the wire format: body limit, JSON decoding
 * (large or deeply nested /mutate bodies in a worker thread, review-parser.ts), envelope
 * validation (HTTP 400 with a precise message), and turning our own failures into HTTP 500,
 * which the API server treats as a failed call and answers per the webhook's failurePolicy.
 * `buildWebhookApp` returns an app that tests drive with `inject()`; only the CLI listens.
 */
import type { Server as HttpServer, IncomingMessage, ServerResponse } from "node:http";
import type { Server as HttpsServer } from "node:https";
import Fastify, {
  LogController,
  type FastifyInstance,
  type FastifyReply,
  type FastifyRequest,
  type FastifyServerOptions,
  type RawReplyDefaultExpression,
  type RawRequestDefaultExpression,
  type RouteGenericInterface,
} from "fastify";
import type { Logger } from "pino";
import { MUTATE_PATH, VALIDATE_PATH } from "../config/names.js";
import { decodeAdmissionReview, reviewResponse, type AdmissionReview } from "./admission-review.js";
import type { WebhookMetrics } from "./metrics.js";
import { decideDNSServiceGuard, dnsServiceGuardResponse } from "./dns-service-guard.js";
import { AdmissionInternalError, mutate, type MutateDeps, type MutateOutcome } from "./mutate-handler.js";
import type { MutateDecodeResult } from "./mutate-review.js";
import { LARGE_REVIEW_BYTES, LargeReviewBudget } from "./large-review-budget.js";
import { MAX_INLINE_BYTES, MAX_REVIEW_DEPTH, ReviewParser, TOO_DEEP_ERROR, nestsDeeperThan } from "./review-parser.js";
import { readRequestBody, type RequestBody } from "./request-body.js";
import { decideServiceReservation } from "./reservation-guard.js";

/**
 * Mutating webhooks may receive object and oldObject, each up to the API server's 3 MiB
 * request limit (--max-request-bytes default), plus the envelope; JSON escaping can grow
 * them further. 7 MiB is what controller-runtime allows for the same reason.
 */
export const ADMISSION_BODY_LIMIT = 7 * 1024 * 1024;

/** The serving certificate and key (PEM). */
export interface TLSMaterial {
  key: string | Buffer;
  cert: string | Buffer;
}

/**
 * The webhook's fastify app, typed by its raw server: `WebhookApp<HttpsServer>` when built
 * with TLS material (what `serve` listens with), plain HTTP for `inject()`-only tests.
 */
export type WebhookApp<S extends HttpServer = HttpServer> = FastifyInstance<S, RawRequestDefaultExpression<S>, RawReplyDefaultExpression<S>, Logger>;

/** A request and reply of the webhook's routes, typed by the raw server as WebhookApp is. */
type WebhookRequest<S extends HttpServer> = FastifyRequest<RouteGenericInterface, S>;
type WebhookReply<S extends HttpServer> = FastifyReply<RouteGenericInterface, S>;

export interface WebhookAppDeps extends MutateDeps {
  log: Logger;
  metrics: WebhookMetrics;
  /** TLS material; omit for `inject()`-only tests. */
  https?: TLSMaterial | undefined;
  /** Memory for large reviews (tests use small ones); default LargeReviewBudget's. */
  largeReviewBudget?: LargeReviewBudget;
}

/** A failure of the review parser itself (not of the body): our bug, answered with HTTP 500. */
const parseFailure = (err: unknown) => new AdmissionInternalError("parse the review body", "handler-bug", { cause: err });

/** What fastify sends for a serialized object; a pre-serialized answer says the same. */
const JSON_CONTENT_TYPE = "application/json; charset=utf-8";

/**
 * Starts retiring the app's connections before it closes: the answer to every request that
 * arrives from now on says `Connection: close`, so the API server drops each kept-alive
 * connection after its next review and opens a new one, which the Service routes to a
 * replica that is not going away. Closing a kept-alive connection instead races with a
 * review being written on it, and Go's HTTP client does not retry a POST it has written.
 * The header is set where Node hands over each request, ahead of fastify, so that serving
 * costs nothing until draining starts (an onSend hook cost every answer ~3 % of the CPU).
 */
export function startDraining<S extends HttpServer>(app: WebhookApp<S>): void {
  if (!app.server.listeners("request").includes(retireConnection)) app.server.prependListener("request", retireConnection);
}

/** startDraining's listener: the answer to this request closes its connection. */
const retireConnection = (_req: IncomingMessage, res: ServerResponse) => res.setHeader("connection", "close");

/**
 * The HTTPS admission server: /mutate (pods) and /validate (the DNS Service guards). Bodies
 * are bounded (size, nesting, large ones in flight), a malformed review gets a 400 naming
 * the field, and our own failures a 500 so that the failurePolicy decides.
 */
export function buildWebhookApp(deps: WebhookAppDeps & { https: TLSMaterial }): WebhookApp<HttpsServer>;
export function buildWebhookApp(deps: WebhookAppDeps): WebhookApp;
export function buildWebhookApp(deps: WebhookAppDeps): WebhookApp | WebhookApp<HttpsServer> {
  const options = {
    loggerInstance: deps.log,
    bodyLimit: ADMISSION_BODY_LIMIT,
    // One line per review is logged by the handler with the decision; fastify's generic
    // request lines would double the log volume at admission rates.
    logController: new LogController({ disableRequestLogging: true }),
    // No per-request child logger: the handler logs the uid itself, and creating a pino child
    // for every review is measurable at admission rates.
    childLoggerFactory: (logger) => logger,
    // While closing, a review arriving on a kept-alive connection is answered, not given a
    // 503: the API server treats a 503 as a failed call, which with failurePolicy Fail
    // refuses the pod (seen in a rollout restart on a real node). See startDraining.
    return503OnClosing: false,
    // The API server keeps connections alive and reuses them for every webhook call.
    keepAliveTimeout: 75_000,
  } satisfies FastifyServerOptions<HttpServer, Logger>;
  if (deps.https) return addRoutes(Fastify({ ...options, https: { key: deps.https.key, cert: deps.https.cert, minVersion: "TLSv1.2" } }), deps);
  return addRoutes(Fastify(options), deps);
}

/** The hooks, parsers, error handlers and routes, the same over HTTPS and plain HTTP. */
function addRoutes<S extends HttpServer>(app: WebhookApp<S>, deps: WebhookAppDeps): WebhookApp<S> {
  // Our own JSON parser so a broken body gets a 400 that says where it broke.
  // The API server only ever sends JSON; anything else is answered with 415.
  // /mutate bodies are decoded by the review parser (its result is the request body);
  // the others are parsed here.
  const parser = new ReviewParser();
  app.addHook("onClose", async () => parser.close());

  // Bounded memory for large bodies: counted from their headers, before a byte is read.
  const budget = deps.largeReviewBudget ?? new LargeReviewBudget();
  app.addHook("onRequest", (req, reply, done) => {
    const length = Number(req.headers["content-length"]);
    // Nearly every review is small: a callback hook spares those a promise each.
    if (req.method !== "POST" || (Number.isFinite(length) && length <= LARGE_REVIEW_BYTES)) {
      done();
      return;
    }
    reserveLargeBody(req, reply, Number.isFinite(length) ? length : ADMISSION_BODY_LIMIT).then((admitted) => {
      if (admitted) done();
    }, done);
  });
  /** Room in the budget for a large body, or false after answering 503. */
  const reserveLargeBody = async (req: WebhookRequest<S>, reply: WebhookReply<S>, bytes: number): Promise<boolean> => {
    const release = await budget.acquire(bytes);
    if (release) {
      reply.raw.once("close", release);
      return true;
    }
    const path = req.routeOptions.url ?? req.url;
    deps.metrics.handlerErrors.inc({ path });
    if (path === MUTATE_PATH) deps.metrics.internalErrors.inc({ reason: "large-reviews-busy" });
    req.log.warn(
      { path, contentLength: req.headers["content-length"], bytesInFlight: budget.bytesInFlight, waiting: budget.waiting },
      "no room for a large review in time; the webhook's failurePolicy decides",
    );
    // The body is not read: close the connection rather than leave it for the next review.
    void reply
      .code(503)
      .header("connection", "close")
      .send({ error: `pod-dns-injector: no room in time for a review of ${bytes} bytes (${budget.bytesInFlight} bytes of large reviews in flight)`, code: "LARGE_REVIEWS_BUSY" });
    return false;
  };
  app.removeAllContentTypeParsers();
  const limits = { limit: ADMISSION_BODY_LIMIT, stringBytes: MAX_INLINE_BYTES };
  app.addContentTypeParser("application/json", (req, payload, done) => {
    readRequestBody(payload, req.headers["content-length"], limits, (err, body) => {
      if (err || body === undefined) done(err, undefined);
      else if (req.routeOptions.url === MUTATE_PATH) parseMutateBody(body, done);
      else parseOtherBody(body, done);
    });
  });
  /** A /mutate body, decoded by the review parser (its result is the request body). */
  const parseMutateBody = (body: RequestBody, done: (err: Error | null, result: MutateDecodeResult | undefined) => void) => {
    let inline: MutateDecodeResult | undefined;
    try {
      inline = parser.parseInline(body);
    } catch (err) {
      done(parseFailure(err), undefined);
      return;
    }
    if (inline) done(null, inline);
    else
      parser.parse(body).then(
        (result) => done(null, result),
        (err: unknown) => done(parseFailure(err), undefined),
      );
  };
  const parseOtherBody = (body: RequestBody, done: (err: Error | null, result: unknown) => void) => {
    const text = typeof body === "string" ? body : body.toString("utf8");
    if (nestsDeeperThan(text, MAX_REVIEW_DEPTH)) {
      done(Object.assign(new Error(TOO_DEEP_ERROR), { statusCode: 400 }), undefined);
      return;
    }
    try {
      done(null, JSON.parse(text));
    } catch (err) {
      const e = new Error(`body: invalid JSON: ${(err as Error).message}`) as Error & { statusCode: number };
      e.statusCode = 400;
      done(e, undefined);
    }
  };

  app.setErrorHandler((err: Error & { statusCode?: number; code?: string }, req, reply) => {
    const status = err.statusCode && err.statusCode >= 400 && err.statusCode < 600 ? err.statusCode : 500;
    if (status < 500) {
      deps.metrics.malformedReviews.inc({ path: req.url });
      req.log.warn({ path: req.url, status, error: err.message }, "rejected admission request");
      return reply.code(status).send({ error: err.message, code: err.code ?? "BAD_REQUEST" });
    }
    // 5xx details stay in our log, not in the API server's error message.
    const path = req.routeOptions.url ?? req.url;
    deps.metrics.handlerErrors.inc({ path });
    if (path === MUTATE_PATH) deps.metrics.internalErrors.inc({ reason: err instanceof AdmissionInternalError ? err.reason : "handler-bug" });
    req.log.error({ err, path }, "admission handler failed");
    return reply.code(500).send({ error: "internal error" });
  });

  app.setNotFoundHandler((req, reply) => reply.code(404).send({ error: `no such endpoint: ${req.method} ${req.url}` }));

  // Not an async handler: a review whose namespace is cached is answered here and now, the
  // others from mutate's promise, never with a second promise for fastify to wait on.
  app.post(MUTATE_PATH, (req, reply) => {
    const decoded = req.body as MutateDecodeResult;
    if (!decoded.ok) {
      deps.metrics.malformedReviews.inc({ path: MUTATE_PATH });
      req.log.warn({ error: decoded.error }, "malformed AdmissionReview");
      void reply.code(400).send({ error: decoded.error, code: "MALFORMED_ADMISSION_REVIEW" });
      return;
    }
    const review = decoded.value.review;
    const started = performance.now();
    try {
      const outcome = mutate(review, deps, decoded.value.pod);
      if (outcome instanceof Promise) {
        outcome.then((o) => answerReview(req, reply, review, o, (performance.now() - started) / 1000)).catch((err: unknown) => failReview(req, reply, review, err));
      } else {
        answerReview(req, reply, review, outcome, (performance.now() - started) / 1000);
      }
    } catch (err) {
      failReview(req, reply, review, err);
    }
  });
  /** Counts and logs the decision, then sends the answer. */
  const answerReview = (req: WebhookRequest<S>, reply: WebhookReply<S>, review: AdmissionReview, outcome: MutateOutcome, seconds: number) => {
    const { response, decision, answer } = outcome;
    deps.metrics.reviews.inc({ action: decision.action, reason: decision.reason, mode: decision.mode ?? "" });
    deps.metrics.reviewDuration.observe({ action: decision.action }, seconds);
    if (response.warnings?.length) deps.metrics.warnedReviews.inc({ action: decision.action, reason: decision.reason });
    // The pod asked for a profile: its profile reason (a bounded set, never the name asked for).
    const podAsked = decision.profileReason === "namespace-profile" ? undefined : decision.profileReason;
    if (podAsked) deps.metrics.podProfiles.inc({ reason: podAsked });
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
          profileReason: podAsked,
          injected: decision.injectedAnnotation,
          warnings: decision.warnings.length ? decision.warnings : undefined,
        },
        decision.message,
      );
    }
    // A cached answer's text is sent as is; fastify serializes the others.
    if (answer !== undefined) void reply.type(JSON_CONTENT_TYPE).send(answer);
    else void reply.send(reviewResponse(response));
  };
  /**
   * A bug or an I/O failure (e.g. the namespace lookup) is our failure, not the pod's:
   * answering `allowed: false` would reject the pod whatever the failurePolicy says (the API
   * server applies failurePolicy only to calls that fail). HTTP 500 is a failed call: with
   * Ignore the pod is admitted unchanged, with Fail it is refused with an error that names
   * the webhook. The details stay in our log.
   */
  const failReview = (req: WebhookRequest<S>, reply: WebhookReply<S>, review: AdmissionReview, err: unknown) => {
    const reason = err instanceof AdmissionInternalError ? err.reason : "handler-bug";
    deps.metrics.handlerErrors.inc({ path: MUTATE_PATH });
    deps.metrics.internalErrors.inc({ reason });
    req.log.error(
      { err, error: causeChain(err), uid: review.request.uid, namespace: review.request.namespace, reason },
      "admission review failed internally; the webhook's failurePolicy decides",
    );
    if (!reply.sent) void reply.code(500).send({ error: "pod-dns-injector: internal error while deciding DNS injection", code: "INTERNAL_ERROR", reason });
  };
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
        {
          uid: response.uid,
          operation: request.operation,
          namespace: request.namespace,
          name: request.name,
          user: request.userInfo?.username,
          reason: guard.reason,
          dryRun: request.dryRun === true,
        },
        response.status?.message ?? guard.message ?? "denied",
      );
    }
    return reviewResponse(response);
  });
  return app;
}

/** "look up namespace a: get Namespace a: HTTP-Code: 403 ...": every message of the cause chain. */
function causeChain(err: unknown): string {
  const parts: string[] = [];
  for (let e: unknown = err, depth = 0; e !== undefined && e !== null && depth < 5; depth++) {
    parts.push(e instanceof Error ? e.message : typeof e === "string" ? e : JSON.stringify(e));
    e = e instanceof Error ? e.cause : undefined;
  }
  return parts.join(": ");
}
