/**
 * Decoding a /mutate request body into what the handler needs: the checked envelope and, for
 * a Pod CREATE, the bounded view of the pod (pod-view.ts) instead of the whole object. The
 * result is small whatever the body's size, which is what lets a worker thread do this for
 * large bodies and hand the result to the main thread cheaply (review-parser.ts). Pure.
 */
import { isPodCreate } from "./pod-create.js";
import { ADMISSION_API_VERSION, checkAdmissionRequest, type AdmissionRequest, type AdmissionReview } from "./admission-review.js";
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
  const checked = checkAdmissionRequest(body);
  if (!checked.ok) return checked;
  const r = checked.request;
  // Only the fields the handler and its log read, so nothing unbounded (userInfo.extra, a
  // hostile oldObject) is carried along. The checks made them strings (or absent).
  const request: AdmissionRequest = { uid: r.uid as string, kind: checked.kind, operation: r.operation as string };
  if (r.namespace !== undefined) request.namespace = r.namespace as string;
  if (r.name !== undefined) request.name = r.name as string;
  if (r.subResource !== undefined) request.subResource = r.subResource as string;
  if (r.dryRun !== undefined) request.dryRun = r.dryRun as boolean;
  const review: AdmissionReview = { apiVersion: ADMISSION_API_VERSION, kind: "AdmissionReview", request };
  if (!isPodCreate(request)) return { ok: true, value: { review } };
  // The API server only sends namespaces that exist, so this is for callers that are not
  // an API server (standalone mode, tests, a proxy): the namespace becomes a search domain.
  if (request.namespace !== undefined && request.namespace !== "" && !isNamespaceName(request.namespace)) {
    return { ok: false, error: `request.namespace: ${describeValue(request.namespace, 70)} is not a valid namespace name (a lowercase DNS-1123 label of at most 63 characters)` };
  }
  const read = readPod(r.object, "request.object");
  if (!read.ok) return read;
  request.object = read.read.pod;
  return { ok: true, value: { review, pod: read.read } };
}
