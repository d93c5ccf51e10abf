/**
 * Issue 7's admission audit trail: every /mutate answer carries `auditAnnotations`
 * (decision, reason, profile) whose keys the API server accepts. The API server stores each
 * as `<webhook name>/<key>` and drops the whole response's annotations if that is not a
 * valid qualified name (k8s.io/apiserver admission/plugin/webhook: validation.IsQualifiedName).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INJECT_LABEL, MUTATING_WEBHOOK_NAME } from "../../../config/names.js";
import { defaultSettings } from "../../../config/settings.js";
import type { AdmissionFacts } from "../../../webhook/admission-facts.js";
import { handleMutate } from "../../../webhook/mutate-handler.js";
import { REASONS } from "../../../webhook/decision.js";
import { NEW_DNS_IP, injectedPod, plainPod } from "./fixtures.js";

/** metav1 qualified name: an optional DNS-subdomain prefix (≤ 253) and a name (≤ 63). */
function isQualifiedName(key: string): boolean {
  const [prefix, name, ...rest] = key.includes("/") ? key.split("/") : ["", key];
  if (rest.length || name === undefined) return false;
  const nameOk = name.length > 0 && name.length <= 63 && /^[A-Za-z0-9]([-A-Za-z0-9_.]*[A-Za-z0-9])?$/.test(name);
  const prefixOk = prefix === "" || (prefix !== undefined && prefix.length <= 253 && /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/.test(prefix));
  return nameOk && prefixOk;
}

function facts(mode: string | undefined): AdmissionFacts {
  const labels: Record<string, string> = {};
  if (mode) labels[INJECT_LABEL] = mode;
  return { lookupNamespace: async (name) => ({ name, labels, annotations: {} }), dnsServiceIPs: () => [NEW_DNS_IP] };
}
const review = (object: unknown, over: Record<string, unknown> = {}) => ({
  apiVersion: "admission.k8s.io/v1" as const,
  kind: "AdmissionReview" as const,
  request: { uid: "u1", kind: { group: "", version: "v1", kind: "Pod" }, namespace: "team-a", operation: "CREATE", object, ...over },
});

describe("admission audit annotations", () => {
  const cases: { name: string; mode: string | undefined; object: unknown; over?: Record<string, unknown>; decision: string; reason: string; profile: boolean }[] = [
    { name: "inject", mode: "enabled", object: plainPod("p"), decision: "inject", reason: "cluster-first", profile: true },
    { name: "audit mode", mode: "audit", object: plainPod("p"), decision: "report", reason: "would-inject", profile: true },
    { name: "re-invocation", mode: "enabled", object: injectedPod("p", { ip: NEW_DNS_IP }), decision: "noop", reason: "already-injected", profile: true },
    { name: "not opted in", mode: undefined, object: plainPod("p"), decision: "skip", reason: "namespace-not-opted-in", profile: false },
    { name: "an UPDATE", mode: "enabled", object: plainPod("p"), over: { operation: "UPDATE" }, decision: "allow", reason: "not-create", profile: false },
  ];
  for (const c of cases) {
    it(`${c.name}: decision ${c.decision}, reason ${c.reason}; keys valid as ${MUTATING_WEBHOOK_NAME}/<key>`, async () => {
      const { response } = await handleMutate(review(c.object, c.over), { settings: defaultSettings, facts: facts(c.mode) });
      const a = response.auditAnnotations ?? {};
      assert.equal(a.decision, c.decision);
      assert.equal(a.reason, c.reason);
      assert.ok(c.reason in REASONS, "the reason is one of the decision's reason codes");
      assert.equal(a.profile !== undefined, c.profile);
      for (const key of Object.keys(a)) assert.ok(isQualifiedName(`${MUTATING_WEBHOOK_NAME}/${key}`), `${MUTATING_WEBHOOK_NAME}/${key} is not a qualified name`);
    });
  }

  it("the checker itself rejects what the API server rejects", () => {
    for (const bad of ["pods.pod-dns-injector.io/", "pods.pod-dns-injector.io/would inject", `pods.pod-dns-injector.io/${"x".repeat(64)}`, "Pods.Example/x", "a/b/c"])
      assert.ok(!isQualifiedName(bad), bad);
  });
});
