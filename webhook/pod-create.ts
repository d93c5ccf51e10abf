/**
 * The one request the webhook mutates: a Pod CREATE that is not a subresource (PRODUCT.md
 * row 1: pod DNS fields are immutable after creation). The HTTP side, the decision, offline
 * inject and the audit all ask here, so they cannot disagree on what counts. Pure.
 */

/** The core/v1 Pod kind as an AdmissionReview names it. */
export const POD_KIND = { group: "", version: "v1", kind: "Pod" } as const;

/** True for a Pod CREATE that is not a subresource. */
export function isPodCreate(r: { kind: { group: string; kind: string }; operation: string; subResource?: string | undefined }): boolean {
  return r.kind.kind === POD_KIND.kind && r.kind.group === POD_KIND.group && r.operation === "CREATE" && !r.subResource;
}

/** The request a manifest or a stored pod is decided as: a Pod CREATE in `namespace`. */
export function podCreateRequest(namespace: string): { kind: { group: string; version: string; kind: string }; operation: string; namespace: string } {
  return { kind: { ...POD_KIND }, operation: "CREATE", namespace };
}
