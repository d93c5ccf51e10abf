/**
 * Where in-tree admission (policy/render.ts) and the webhook store different pods, by golden
 * case (`test/golden/inject/<file>#<document>`, 1-based). The end-to-end equivalence test
 * creates every golden case through a real API server once per mode and fails when the set
 * of differing cases is not exactly this table; the README's table is checked against it.
 *
 * Everywhere, not per case: CEL has no hash function, so the policy writes
 * `pod-dns-injector.io/injected: <profile>@policy` where the webhook writes
 * `<profile>@<hash of the dnsConfig>`; the comparison reads only the profile part. And the
 * policy cannot return admission warnings: cuts to the API server's limits happen silently
 * (the ValidatingAdmissionPolicy still warns on a non-conforming final state).
 */
export interface PolicyDifference {
  /** What the webhook stores. */
  webhook: string;
  /** What the policy stores instead, and why. */
  policy: string;
}

export const POLICY_DIFFERENCES: Readonly<Record<string, PolicyDifference>> = {
  "reinject.yaml#1": {
    webhook: "re-injects a pod (or manifest) injected earlier with an old DNS IP: today's IP, the old one dropped (reinject-outdated)",
    policy:
      "leaves it unchanged: telling our earlier additions from the pod's own entries needs the annotation's hash, which CEL cannot compute; the ValidatingAdmissionPolicy warns (or, with --validation deny, refuses) and the audit reports the stale nameserver",
  },
};

/** The case key of document `index` (0-based) of golden file `file`. */
export const goldenCaseKey = (file: string, index: number): string => `${file}#${index + 1}`;
