/**
 * Decoding a /mutate request body into what the handler needs: the checked envelope and, for
 * a Pod CREATE, the bounded view of the pod (pod-view.ts) instead of the whole object. The
 * result is small whatever the body's size, which is what lets a worker thread do this for
 * large bodies and hand the result to the main thread cheaply (review-parser.ts). Pure.
 */
import { isPodCreate } from "./pod-create.js";
import { decodeAdmissionReview, type AdmissionRequest, type AdmissionReview } from "./admission-review.js";
import { describeValue, isNamespaceName } from "../config/dns-limits.js";
import { readPod, type PodRead } from "./pod-view.js";

/** The envelope without object and oldObject, plus the pod as read. */
export interface MutateReview {
  review: AdmissionReview;
  /** Set for a Pod CREATE: the pod as read, and what the view leaves out. */
  pod?: PodRead | undefined;
}

export type MutateDecodeResult = { ok: true; value: MutateReview } | { ok: false; error: string };

/**
 * Checks the envelope (admission-review.ts), the namespace a Pod CREATE will get search
 * domains from, and the pod's shape; the error names the first offending field.
 */
export function decodeMutateReview(body: unknown): MutateDecodeResult {
  const decoded = decodeAdmissionReview(body);
  if (!decoded.ok) return decoded;
  const r = decoded.review.request;
  // Only the fields the handler and its log read, so nothing unbounded (userInfo.extra, a
  // hostile oldObject) is carried along.
  const request: AdmissionRequest = { uid: r.uid, kind: r.kind, operation: r.operation };
  if (r.namespace !== undefined) request.namespace = r.namespace;
  if (r.name !== undefined) request.name = r.name;
  if (r.subResource !== undefined) request.subResource = r.subResource;
  if (r.dryRun !== undefined) request.dryRun = r.dryRun;
  const object = r.object;
  const review: AdmissionReview = { ...decoded.review, request };
  if (!isPodCreate(request)) return { ok: true, value: { review } };
  // The API server only sends namespaces that exist, so this is for callers that are not
  // an API server (standalone mode, tests, a proxy): the namespace becomes a search domain.
  if (request.namespace !== undefined && request.namespace !== "" && !isNamespaceName(request.namespace)) {
    return { ok: false, error: `request.namespace: ${describeValue(request.namespace, 70)} is not a valid namespace name (a lowercase DNS-1123 label of at most 63 characters)` };
  }
  const read = readPod(object, "request.object");
  if (!read.ok) return read;
  return { ok: true, value: { review: { ...review, request: { ...request, object: read.read.pod } }, pod: read.read } };
}
