/**
 * What an API call failure means, from client-node's ApiException (whose body may be the
 * Status object or its JSON text). Used to tell a conflict from a retryable allocation race
 * from a configuration error.
 */
import { isObject } from "../config/json-shapes.js";

export interface ApiFailure {
  /** HTTP status, 0 when the request never got an answer. */
  code: number;
  /** metav1.Status reason, e.g. AlreadyExists, Conflict, Invalid, NotFound, Forbidden. */
  reason: string;
  /** metav1.Status details.kind: what was not found or conflicted (e.g. `namespaces`). */
  kind: string;
  message: string;
}

/**
 * The HTTP code and the API server's message of a @kubernetes/client-node error (its body
 * may be a Status object or its JSON text); code 0 when the request never got an answer.
 */
export function apiFailure(err: unknown): ApiFailure {
  const e = err as { code?: unknown; body?: unknown; message?: unknown } | null;
  const code = typeof e?.code === "number" ? e.code : 0;
  let body: unknown = e?.body;
  if (typeof body === "string") {
    try {
      body = JSON.parse(body);
    } catch {
      // not JSON: keep the text as the message
    }
  }
  const status = (isObject(body) ? body : {}) as { reason?: unknown; message?: unknown; details?: { kind?: unknown } };
  const message =
    typeof status.message === "string" ? status.message : typeof body === "string" ? body : typeof e?.message === "string" ? (e.message.split("\n")[0] ?? "") : String(err);
  return { code, reason: typeof status.reason === "string" ? status.reason : "", kind: typeof status.details?.kind === "string" ? status.details.kind : "", message };
}

export const isNotFound = (err: unknown) => apiFailure(err).code === 404;
export const isConflict = (err: unknown) => apiFailure(err).code === 409;
