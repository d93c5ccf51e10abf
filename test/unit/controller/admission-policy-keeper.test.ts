/**
 * The policy-mode keeper with a recording API: it applies (server-side, forced, our field
 * manager) only while leading, re-renders on every apply, and counts failures. That the API
 * server accepts what it applies, with the overlay's RBAC, is the e2e suite's part.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { KubeConfig, PatchStrategy } from "@kubernetes/client-node";
import { pino } from "pino";
import { Registry } from "prom-client";
import { FIELD_MANAGER, startAdmissionPolicyKeeper } from "../../../controller/admission-policy-keeper.js";

function keeper(options: { fail?: () => boolean } = {}) {
  const calls: { name: string; fieldManager: string | undefined; force: boolean | undefined; strategy: string | undefined }[] = [];
  let version = 0;
  const registry = new Registry();
  const k = startAdmissionPolicyKeeper({
    kubeConfig: new KubeConfig(),
    render: () => {
      version++;
      return [{ apiVersion: "admissionregistration.k8s.io/v1", kind: "MutatingAdmissionPolicy", metadata: { name: `p-v${version}` } }];
    },
    log: pino({ level: "silent" }),
    registry,
    resyncSeconds: 3600,
    api: {
      patch: async (obj, _pretty, _dryRun, fieldManager, force, strategy) => {
        if (options.fail?.()) throw Object.assign(new Error("forbidden"), { code: 403, body: { reason: "Forbidden", message: "no" } });
        calls.push({ name: String(obj.metadata?.name), fieldManager, force, strategy });
        return obj;
      },
    },
  });
  const metric = async (name: string) => (await registry.getMetricsAsJSON()).find((m) => m.name === name)?.values ?? [];
  return { k, calls, metric };
}

describe("admission policy keeper", () => {
  it("applies nothing until it leads, then applies server-side, forced, as pod-dns-injector", async () => {
    const { k, calls, metric } = keeper();
    k.settingsChanged();
    await k.idle();
    assert.deepEqual(calls, []);
    k.startedLeading();
    await k.idle();
    assert.deepEqual(calls, [{ name: "p-v1", fieldManager: FIELD_MANAGER, force: true, strategy: PatchStrategy.ServerSideApply }]);
    assert.equal(FIELD_MANAGER, "pod-dns-injector");
    assert.deepEqual(
      (await metric("pod_dns_injector_admission_policy_in_sync")).map((v) => v.value),
      [1],
    );
    await k.stop();
  });

  it("re-renders on a settings change, and stops applying when it stops leading", async () => {
    const { k, calls } = keeper();
    k.startedLeading();
    await k.idle();
    k.settingsChanged();
    await k.idle();
    assert.deepEqual(
      calls.map((c) => c.name),
      ["p-v1", "p-v2"],
    );
    k.stoppedLeading();
    k.settingsChanged();
    await k.idle();
    assert.equal(calls.length, 2);
    await k.stop();
  });

  it("a failed apply is counted and marks the objects out of sync; the next trigger retries", async () => {
    let failing = true;
    const { k, calls, metric } = keeper({ fail: () => failing });
    k.startedLeading();
    await k.idle();
    assert.deepEqual(
      (await metric("pod_dns_injector_admission_policy_applies_total")).map((v) => [v.labels.result, v.value]),
      [["error", 1]],
    );
    assert.deepEqual(
      (await metric("pod_dns_injector_admission_policy_in_sync")).map((v) => v.value),
      [0],
    );
    failing = false;
    k.settingsChanged();
    await k.idle();
    assert.equal(calls.length, 1);
    assert.deepEqual(
      (await metric("pod_dns_injector_admission_policy_in_sync")).map((v) => v.value),
      [1],
    );
    await k.stop();
  });
});
