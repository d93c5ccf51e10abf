/**
 * Prometheus metrics of the webhook, on a registry owned by the caller (no global default
 * registry: tests and several app instances in one process must not collide).
 */
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from "prom-client";

export interface WebhookMetrics {
  registry: Registry;
  reviews: Counter<"action" | "reason" | "mode">;
  reviewDuration: Histogram<"action">;
  warnedReviews: Counter<"action" | "reason">;
  podProfiles: Counter<"reason">;
  malformedReviews: Counter<"path">;
  handlerErrors: Counter<"path">;
  dnsServiceGuard: Counter<"operation" | "decision" | "reason">;
  internalErrors: Counter<"reason">;
}

/** The webhook's Prometheus registry and metrics (build info, reviews, durations, errors, guard). */
export function createWebhookMetrics(options: { version: string; collectProcessMetrics?: boolean }): WebhookMetrics {
  const registry = new Registry();
  if (options.collectProcessMetrics !== false) collectDefaultMetrics({ register: registry, prefix: "pod_dns_injector_" });
  new Gauge({
    name: "pod_dns_injector_build_info",
    help: "Build information; always 1.",
    labelNames: ["version", "node_version"],
    registers: [registry],
  }).set({ version: options.version, node_version: process.version }, 1);
  return {
    registry,
    reviews: new Counter({
      name: "pod_dns_injector_admission_reviews_total",
      help: "Pod admission reviews answered, by action (allow, skip, noop, inject, report), reason code and namespace mode.",
      labelNames: ["action", "reason", "mode"],
      registers: [registry],
    }),
    reviewDuration: new Histogram({
      name: "pod_dns_injector_admission_review_duration_seconds",
      help: "Time from a decoded AdmissionReview to its response, by action.",
      labelNames: ["action"],
      // Reviews take tens to hundreds of microseconds; the API server gives us timeoutSeconds (5 s).
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.1, 0.5, 1, 5],
      registers: [registry],
    }),
    // Warnings reach the client (kubectl prints them) but nothing else: this makes them
    // visible on a dashboard without parsing logs. Reviews, not warnings: one review can
    // carry several, and the reason code already says which kind.
    warnedReviews: new Counter({
      name: "pod_dns_injector_admission_reviews_warned_total",
      help: "Pod admission reviews answered with at least one admission warning (cut entries, ignored annotations, unknown DNS IP, audit mode), by action and reason code.",
      labelNames: ["action", "reason"],
      registers: [registry],
    }),
    // Pods that asked for a profile of their own, by the profile reason: fallbacks show up on
    // a dashboard. Never by profile name: the pod's annotation is anyone's to write.
    podProfiles: new Counter({
      name: "pod_dns_injector_admission_pod_profiles_total",
      help: "Pod admission reviews whose pod asked for a profile (pod-dns-injector.io/profile), by profile reason: pod-profile (taken), pod-profile-unknown or pod-profile-not-allowed (the namespace's profile instead).",
      labelNames: ["reason"],
      registers: [registry],
    }),
    malformedReviews: new Counter({
      name: "pod_dns_injector_admission_malformed_total",
      help: "Requests rejected with HTTP 400 because the body was not a valid AdmissionReview.",
      labelNames: ["path"],
      registers: [registry],
    }),
    handlerErrors: new Counter({
      name: "pod_dns_injector_admission_errors_total",
      help: "Unexpected handler failures (bugs or I/O errors), answered with HTTP 500, by path.",
      labelNames: ["path"],
      registers: [registry],
    }),
    dnsServiceGuard: new Counter({
      name: "pod_dns_injector_dns_service_guard_reviews_total",
      help: "DELETE and UPDATE reviews of the DNS Service by the deletion guard, by operation, decision (allow, deny) and reason.",
      labelNames: ["operation", "decision", "reason"],
      registers: [registry],
    }),
    internalErrors: new Counter({
      name: "pod_dns_injector_admission_internal_errors_total",
      help: "Pod admission reviews that failed inside the webhook (reason namespace-lookup-failed, handler-bug, or large-reviews-busy: answered 503 unread), answered with HTTP 500 so that the API server applies the webhook's failurePolicy: with Ignore, each is a pod admitted without DNS injection.",
      labelNames: ["reason"],
      registers: [registry],
    }),
  };
}
