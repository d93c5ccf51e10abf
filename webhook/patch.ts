/**
 * The JSON Patch for an admission response, computed as controller-runtime's
 * PatchResponseFromRaw does: diff the exact object the API server sent against the mutated
 * copy. Diffing (rather than hand-writing ops) guarantees every `add` targets an existing
 * parent and every key is escaped per RFC 6901 (`/` → `~1`, `~` → `~0`).
 */
import fastJsonPatch from "fast-json-patch";
import type { Operation } from "fast-json-patch";

export type { Operation };

/** A full JSON Patch diff from `original` to `mutated` (tests compare the field-wise patch with it). */
export function createPatch(original: object, mutated: object): Operation[] {
  return fastJsonPatch.compare(original, mutated);
}

/**
 * The JSON Patch that takes `original` to the pod `applyDecision` makes of it, built field by
 * field instead of by a diff: at most three operations (the annotation, dnsPolicy, the whole
 * dnsConfig), each under a parent that exists in `original`, whatever the input's size. A
 * diff of a pod whose own dnsConfig has a million searches is a million `remove`
 * operations; replacing the list is one. `original` may be a view (pod-view.ts): only the
 * presence of metadata, annotations, spec and the fields injection changes is read, and
 * `unread > 0` says its dnsConfig lists were longer than the view holds.
 */
export function createInjectionPatch(original: PodShape, mutated: PodShape, unread = 0): Operation[] {
  const ops: Operation[] = [];
  const wantAnnotations = mutated.metadata?.annotations ?? {};
  if (original.metadata === undefined) {
    ops.push({ op: "add", path: "/metadata", value: { annotations: { ...wantAnnotations } } });
  } else if (original.metadata.annotations === undefined) {
    ops.push({ op: "add", path: "/metadata/annotations", value: { ...wantAnnotations } });
  } else {
    const have = original.metadata.annotations;
    for (const key of Object.keys(wantAnnotations)) {
      const value = wantAnnotations[key] as string;
      if (have[key] === value) continue;
      ops.push({ op: Object.hasOwn(have, key) ? "replace" : "add", path: `/metadata/annotations/${escapePointer(key)}`, value });
    }
  }
  const spec = mutated.spec ?? {};
  if (original.spec === undefined) {
    const value: Record<string, unknown> = {};
    if (spec.dnsPolicy !== undefined) value.dnsPolicy = spec.dnsPolicy;
    if (spec.dnsConfig !== undefined) value.dnsConfig = spec.dnsConfig;
    ops.push({ op: "add", path: "/spec", value });
    return ops;
  }
  if (spec.dnsPolicy !== undefined && original.spec.dnsPolicy !== spec.dnsPolicy) {
    ops.push({ op: original.spec.dnsPolicy === undefined ? "add" : "replace", path: "/spec/dnsPolicy", value: spec.dnsPolicy });
  }
  if (spec.dnsConfig !== undefined && (unread > 0 || canonical(original.spec.dnsConfig) !== canonical(spec.dnsConfig))) {
    ops.push({ op: Object.hasOwn(original.spec, "dnsConfig") ? "replace" : "add", path: "/spec/dnsConfig", value: spec.dnsConfig });
  }
  return ops;
}

/** RFC 6901: `~` → `~0`, `/` → `~1`. */
export function escapePointer(key: string): string {
  return key.replaceAll("~", "~0").replaceAll("/", "~1");
}

/** A dnsConfig as comparable text; only called on views and on our own output (flat, bounded). */
function canonical(cfg: unknown): string | undefined {
  if (typeof cfg !== "object" || cfg === null) return cfg === undefined ? undefined : "null";
  const c = cfg as { nameservers?: unknown; searches?: unknown; options?: { name?: unknown; value?: unknown }[] };
  const opts = Array.isArray(c.options) ? c.options.map((o) => [o?.name ?? null, o?.value ?? null]) : (c.options ?? null);
  return JSON.stringify([c.nameservers ?? null, c.searches ?? null, opts, Object.keys(c).length]);
}

export interface PodShape {
  metadata?: { annotations?: Record<string, string> } | undefined;
  spec?: { dnsPolicy?: string; dnsConfig?: unknown } | undefined;
}

/** Applies a patch to a copy, validating every operation; throws if it does not apply. */
export function applyPatchCopy<T>(document: T, patch: readonly Operation[]): T {
  return fastJsonPatch.applyPatch(structuredClone(document), patch, true, true).newDocument;
}
