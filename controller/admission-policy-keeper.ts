/**
 * Policy mode (`admission.mode: policy | both`): the leader keeps the in-tree admission
 * objects (policy/render.ts) applied as the configuration says, by server-side apply with
 * field manager `pod-dns-injector`. It applies when it starts leading, when the settings
 * change, and every resync period, so a deleted or edited policy is put back. The DNS IP
 * needs no keeping: the bindings' parameter is the DNS Service itself.
 *
 * RBAC (manifests/overlays/admission-policy): create and patch of the four objects (get on
 * the two policies: the API server checks that whoever writes a binding may read its
 * policy), and get on every Service: the API server refuses a policy whose paramKind the
 * writer may not read cluster-wide.
 */
import { KubernetesObjectApi, PatchStrategy, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { Counter, Gauge, type Registry } from "prom-client";
import { CoalescingRunner } from "../kube/coalescing-runner.js";
import { apiFailure } from "../kube/api-errors.js";
import { PRODUCT } from "../config/names.js";

export interface AdmissionPolicyKeeperDeps {
  kubeConfig: KubeConfig;
  /** The objects as the current settings render them (called at every apply). */
  render: () => Record<string, unknown>[];
  log: Logger;
  registry: Registry;
  /** Re-apply period, so a deleted or edited policy comes back. */
  resyncSeconds: number;
  /** For tests: the API used to apply; default client-node's generic object API. */
  api?: Pick<KubernetesObjectApi, "patch"> | undefined;
}

export interface AdmissionPolicyKeeper {
  startedLeading(): void;
  stoppedLeading(): void;
  /** The settings changed: apply what they render now. */
  settingsChanged(): void;
  /** Resolves when no apply is running. */
  idle(): Promise<void>;
  stop(): Promise<void>;
}

/** The field manager of every object we apply: `kubectl get --show-managed-fields` names us. */
export const FIELD_MANAGER = PRODUCT;

export function startAdmissionPolicyKeeper(deps: AdmissionPolicyKeeperDeps): AdmissionPolicyKeeper {
  const api = deps.api ?? KubernetesObjectApi.makeApiClient(deps.kubeConfig);
  const applies = new Counter({
    name: "pod_dns_injector_admission_policy_applies_total",
    help: "Server-side applies of the in-tree admission objects (policy mode), by result.",
    labelNames: ["result"] as const,
    registers: [deps.registry],
  });
  const inSync = new Gauge({
    name: "pod_dns_injector_admission_policy_in_sync",
    help: "1 when the last apply of the in-tree admission objects succeeded (leader only), else 0.",
    registers: [deps.registry],
  });
  let leading = false;
  const runner = new CoalescingRunner({
    canRun: () => leading,
    run: async (reasons) => {
      const objects = deps.render();
      for (const obj of objects) {
        // force: we own these objects; a hand edit is drift to undo, not a conflict to report.
        await api.patch(obj, undefined, undefined, FIELD_MANAGER, true, PatchStrategy.ServerSideApply);
      }
      applies.inc({ result: "ok" });
      inSync.set(1);
      deps.log.debug({ reasons, objects: objects.length }, "in-tree admission objects applied");
    },
    onError: (err, reasons) => {
      applies.inc({ result: "error" });
      inSync.set(0);
      const f = apiFailure(err);
      deps.log.error({ reasons, code: f.code, reason: f.reason, err: f.message }, "applying the in-tree admission objects failed; retrying at the next resync");
    },
  });
  const timer = setInterval(() => runner.trigger("resync"), deps.resyncSeconds * 1000);
  timer.unref();
  return {
    startedLeading() {
      leading = true;
      deps.log.info("leading: this replica keeps the in-tree admission objects applied");
      runner.trigger("became leader");
    },
    stoppedLeading() {
      leading = false;
      inSync.reset();
    },
    settingsChanged: () => runner.trigger("settings changed"),
    idle: () => runner.idle(),
    async stop() {
      clearInterval(timer);
      await runner.stop();
    },
  };
}
