/**
 * The AdmissionReview wire format (admission.k8s.io/v1): decoding with precise errors, and
 * response builders that always echo the request uid. Nothing else in the webhook touches
 * the envelope. https://kubernetes.io/docs/reference/access-authn-authz/extensible-admission-controllers/#request
 */
import type { Operation } from "./patch.js";
import { isObject } from "../config/json-shapes.js";
import { isPodCreate } from "./pod-create.js";

export const ADMISSION_API_VERSION = "admission.k8s.io/v1";
const OPERATIONS = ["CREATE", "UPDATE", "DELETE", "CONNECT"];

export interface AdmissionRequest {
  uid: string;
  kind: { group: string; version: string; kind: string };
  resource?: { group: string; version: string; resource: string };
  subResource?: string;
  name?: string;
  namespace?: string;
  operation: string;
  userInfo?: { username?: string };
  object?: unknown;
  oldObject?: unknown;
  dryRun?: boolean;
}

export interface AdmissionReview {
  apiVersion: typeof ADMISSION_API_VERSION;
  kind: "AdmissionReview";
  request: AdmissionRequest;
}

export interface AdmissionResponse {
  uid: string;
  allowed: boolean;
  status?: { code: number; message: string };
  patchType?: "JSONPatch";
  patch?: string;
  warnings?: string[];
  auditAnnotations?: Record<string, string>;
}

export type DecodeResult = { ok: true; review: AdmissionReview } | { ok: false; error: string };

/** The checked request of an AdmissionReview, not yet copied, and its kind with the group filled in. */
export type CheckedRequest = { ok: true; request: Record<string, unknown>; kind: AdmissionRequest["kind"] } | { ok: false; error: string };

/** Checks the envelope field by field; the message names the first offending field. */
export function decodeAdmissionReview(body: unknown): DecodeResult {
  const checked = checkAdmissionRequest(body);
  if (!checked.ok) return checked;
  const request = { ...(checked.request as unknown as AdmissionRequest), kind: checked.kind };
  return { ok: true, review: { apiVersion: ADMISSION_API_VERSION, kind: "AdmissionReview", request } };
}

/**
 * decodeAdmissionReview's checks without its copy of the request, for a decoder that picks
 * the few fields it needs (mutate-review.ts) and would copy it again.
 */
export function checkAdmissionRequest(body: unknown): CheckedRequest {
  if (!isObject(body)) return { ok: false, error: "body: expected a JSON object (an AdmissionReview)" };
  if (body.kind !== "AdmissionReview") return { ok: false, error: `kind: expected "AdmissionReview", got ${JSON.stringify(body.kind)}` };
  if (body.apiVersion !== ADMISSION_API_VERSION) {
    return {
      ok: false,
      error: `apiVersion: expected "${ADMISSION_API_VERSION}", got ${JSON.stringify(body.apiVersion)} (register the webhook with admissionReviewVersions: ["v1"])`,
    };
  }
  const r = body.request;
  if (!isObject(r)) return { ok: false, error: "request: expected an object" };
  const problem = requestProblem(r);
  if (problem) return { ok: false, error: problem };
  const k = r.kind as { group?: string; version: string; kind: string };
  const kind = { group: k.group ?? "", version: k.version, kind: k.kind };
  if (isPodCreate({ kind, operation: r.operation as string, subResource: r.subResource as string | undefined }) && !isObject(r.object)) {
    return { ok: false, error: "request.object: a Pod CREATE review must carry the pod" };
  }
  return { ok: true, request: r, kind };
}

/** The first field of `request` that is not what the API server sends, or undefined. */
function requestProblem(r: Record<string, unknown>): string | undefined {
  if (typeof r.uid !== "string" || r.uid === "") return "request.uid: expected a non-empty string";
  if (!isObject(r.kind) || typeof r.kind.kind !== "string" || typeof r.kind.version !== "string" || typeof (r.kind.group ?? "") !== "string") {
    return "request.kind: expected {group, version, kind} strings";
  }
  if (typeof r.operation !== "string" || !OPERATIONS.includes(r.operation)) {
    return `request.operation: expected one of ${OPERATIONS.join(", ")}, got ${JSON.stringify(r.operation)}`;
  }
  for (const field of ["namespace", "name", "subResource"] as const) {
    if (r[field] !== undefined && typeof r[field] !== "string") return `request.${field}: expected a string`;
  }
  if (r.dryRun !== undefined && typeof r.dryRun !== "boolean") return "request.dryRun: expected a boolean";
  if (r.object !== undefined && r.object !== null && !isObject(r.object)) return "request.object: expected an object";
  return undefined;
}

/**
 * The API server shows warnings to the client; it truncates long or many ones, so we keep
 * each under its 256-character guidance and cap the count, saying how many were left out.
 */
export const MAX_WARNING_LENGTH = 256;
export const MAX_WARNINGS = 12;

/** Warnings as the API server accepts them: each clipped to MAX_WARNING_LENGTH, at most MAX_WARNINGS. */
export function limitWarnings(warnings: readonly string[]): string[] {
  const clipped = warnings.map((w) => (w.length > MAX_WARNING_LENGTH ? `${w.slice(0, MAX_WARNING_LENGTH - 3)}...` : w));
  if (clipped.length <= MAX_WARNINGS) return clipped;
  return [...clipped.slice(0, MAX_WARNINGS - 1), `pod-dns-injector: and ${clipped.length - MAX_WARNINGS + 1} more warnings`];
}

/** A JSON Patch as the response carries it: base64 of its JSON. */
export function encodePatch(patch: readonly Operation[]): string {
  return Buffer.from(JSON.stringify(patch)).toString("base64");
}

/**
 * An allowing response; a non-empty patch is added as a base64 JSONPatch (`encodedPatch`:
 * one already encoded with encodePatch).
 */
export function allowedResponse(
  uid: string,
  extra: { patch?: readonly Operation[]; encodedPatch?: string; warnings?: readonly string[]; auditAnnotations?: Record<string, string> } = {},
): AdmissionResponse {
  const response: AdmissionResponse = { uid, allowed: true };
  const encoded = extra.encodedPatch ?? (extra.patch && extra.patch.length > 0 ? encodePatch(extra.patch) : undefined);
  if (encoded) {
    response.patchType = "JSONPatch";
    response.patch = encoded;
  }
  if (extra.warnings && extra.warnings.length > 0) response.warnings = limitWarnings(extra.warnings);
  if (extra.auditAnnotations && Object.keys(extra.auditAnnotations).length > 0) response.auditAnnotations = extra.auditAnnotations;
  return response;
}

/** A refusing response with an HTTP-like status code and a message the client is shown. */
export function deniedResponse(uid: string, code: number, message: string): AdmissionResponse {
  return { uid, allowed: false, status: { code, message } };
}

/**
 * The JSON text of `reviewResponse(response)` with the uid left open, for answers built from
 * cached parts (a plain pod's injection): serialized once, each review only splices its uid
 * in (JSON.stringify of the ~800-byte answer took ~0.8 µs per review, measured in-process).
 * `response` must come from allowedResponse (its key order is the one sent).
 */
export function reviewTextTemplate(response: AdmissionResponse): (uid: string) => string {
  // No uid the API server sends contains a NUL, and JSON.stringify writes it escaped.
  const hole = JSON.stringify("\u0000uid\u0000");
  const text = JSON.stringify(reviewResponse({ ...response, uid: "\u0000uid\u0000" }));
  const at = text.indexOf(hole);
  const head = text.slice(0, at);
  const tail = text.slice(at + hole.length);
  return (uid) => head + JSON.stringify(uid) + tail;
}

/** The AdmissionReview envelope the API server expects around a response. */
export function reviewResponse(response: AdmissionResponse): { apiVersion: string; kind: string; response: AdmissionResponse } {
  return { apiVersion: ADMISSION_API_VERSION, kind: "AdmissionReview", response };
}
