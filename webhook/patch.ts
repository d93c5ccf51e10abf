/**
 * The JSON Patch for an admission response, computed as controller-runtime's
 * PatchResponseFromRaw does: diff the exact object the API server sent against the mutated
 * copy. Diffing (rather than hand-writing ops) guarantees every `add` targets an existing
 * parent and every key is escaped per RFC 6901 (`/` → `~1`, `~` → `~0`).
 */
import fastJsonPatch from "fast-json-patch";
import type { Operation } from "fast-json-patch";

export type { Operation };

export function createPatch(original: object, mutated: object): Operation[] {
  return fastJsonPatch.compare(original, mutated);
}

/**
 * The same diff restricted to the fields injection changes (metadata.annotations,
 * spec.dnsPolicy, spec.dnsConfig), with every parent present exactly where it is present in
 * the object, so the ops and paths are what a whole-object diff yields. Walking the whole
 * pod (containers, env, volumes) on every review cost several times the rest of the webhook.
 * Only valid for a `mutated` that differs from `original` in those fields alone.
 */
export function createInjectionPatch(original: PodShape, mutated: PodShape): Operation[] {
  return fastJsonPatch.compare(injectionFields(original), injectionFields(mutated));
}

export interface PodShape {
  metadata?: { annotations?: Record<string, string> } | undefined;
  spec?: { dnsPolicy?: string; dnsConfig?: unknown } | undefined;
}

function injectionFields(pod: PodShape): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  if (pod.metadata !== undefined) {
    const metadata: Record<string, unknown> = {};
    if (pod.metadata.annotations !== undefined) metadata.annotations = pod.metadata.annotations;
    out.metadata = metadata;
  }
  if (pod.spec !== undefined) {
    const spec: Record<string, unknown> = {};
    if (pod.spec.dnsPolicy !== undefined) spec.dnsPolicy = pod.spec.dnsPolicy;
    if (pod.spec.dnsConfig !== undefined) spec.dnsConfig = pod.spec.dnsConfig;
    out.spec = spec;
  }
  return out;
}

/** Applies a patch to a copy, validating every operation; throws if it does not apply. */
export function applyPatchCopy<T>(document: T, patch: readonly Operation[]): T {
  return fastJsonPatch.applyPatch(structuredClone(document), patch, true, true).newDocument;
}
