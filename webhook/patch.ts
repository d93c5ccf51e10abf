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

/** Applies a patch to a copy, validating every operation; throws if it does not apply. */
export function applyPatchCopy<T>(document: T, patch: readonly Operation[]): T {
  return fastJsonPatch.applyPatch(structuredClone(document), patch, true, true).newDocument;
}
