/**
 * When the webhook itself fails, the webhook's failurePolicy decides, on the real API server
 * (issue 11). The injector runs as its ServiceAccount with the RBAC rendered from
 * manifests/, minus the rule on namespaces: its namespace informer cannot list, so every
 * pod review needs a live namespace read, which is forbidden. That is an internal failure,
 * answered with HTTP 500 (never `allowed: false`):
 *
 * - failurePolicy Ignore: the pod is admitted, uninjected; the failure is counted in
 *   pod_dns_injector_admission_internal_errors_total{reason="namespace-lookup-failed"} and
 *   logged;
 * - failurePolicy Fail: the pod is refused with the API server's message naming the webhook.
 */
import assert from "node:assert/strict";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, CoreV1Api, type V1MutatingWebhookConfiguration } from "@kubernetes/client-node";
import { parseAllDocuments, stringify } from "yaml";
import { INJECTED_ANNOTATION, INJECT_LABEL, MUTATING_WEBHOOK_CONFIGURATION } from "../../config/names.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { repoRoot } from "../unit/repo-root.js";
import {
  apiErrorCode,
  createNamespace,
  createPod,
  describeApiError,
  kubeadmKubeDNS,
  podManifest,
  printingOnFailure,
  readPod,
  waitFor,
  stopWebhookAndControlPlane,
} from "./kube.js";
import { startWebhookProcess, sumMetric, type WebhookProcess } from "./webhook-process.js";

const INJECTOR_NS = "pod-dns-injector";
const TEAM_NS = "fp-team";
const INTERNAL_ERRORS = "pod_dns_injector_admission_internal_errors_total";
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML
type Obj = Record<string, any>;

/** The ClusterRoles and Roles with every rule on namespaces taken out. */
function withoutNamespaceRules(objects: Obj[]): Obj[] {
  return objects.map((o) => {
    if (o.kind !== "ClusterRole" && o.kind !== "Role") return o;
    const rules = (o.rules as Obj[] | undefined) ?? [];
    const kept = rules
      .map((r): Obj => ({ ...r, resources: ((r.resources as string[] | undefined) ?? []).filter((res) => res !== "namespaces") }))
      .filter((r) => r.resources.length > 0 || r.nonResourceURLs);
    return { ...o, rules: kept };
  });
}

describe("failurePolicy decides when the webhook fails internally (namespace read forbidden)", () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;
  let webhook: WebhookProcess | undefined;

  const printLogs = () => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(40) ?? "(not started)"}`);
    console.error(`--- webhook logs ---\n${webhook?.logTail(40) ?? "(not started)"}`);
  };
  const withLogs = printingOnFailure(printLogs);

  async function registerWebhook(failurePolicy: "Ignore" | "Fail"): Promise<void> {
    const body = buildMutatingWebhookConfiguration({ caBundlePem: webhook!.caPem, url: webhook!.mutateUrl, failurePolicy, timeoutSeconds: 5 }) as V1MutatingWebhookConfiguration;
    const current = await admission.readMutatingWebhookConfiguration({ name: MUTATING_WEBHOOK_CONFIGURATION }).catch(() => undefined);
    if (!current) {
      await admission.createMutatingWebhookConfiguration({ body });
      return;
    }
    body.metadata = { ...body.metadata, ...(current.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}) };
    await admission.replaceMutatingWebhookConfiguration({ name: MUTATING_WEBHOOK_CONFIGURATION, body });
  }

  const internalErrors = async () => sumMetric(await webhook!.metrics(), INTERNAL_ERRORS, { reason: "namespace-lookup-failed" });

  before(async () => {
    try {
      cp = await startControlPlane({ controllerManager: true, name: "failure-policy" });
      const admin = cp.kubeConfig();
      core = admin.makeApiClient(CoreV1Api);
      admission = admin.makeApiClient(AdmissionregistrationV1Api);

      // The manifests' Namespace, ServiceAccount and RBAC, with the namespaces rule removed.
      const rendered = await cp.kubectl(["kustomize", join(repoRoot(), "manifests")]);
      assert.equal(rendered.code, 0, rendered.stderr);
      const objects = parseAllDocuments(rendered.stdout)
        .map((d) => d.toJS() as Obj)
        .filter((o) => o && ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind as string));
      const stripped = withoutNamespaceRules(objects);
      assert.ok(
        JSON.stringify(objects).includes('"namespaces"') && !JSON.stringify(stripped.filter((o) => o.kind === "ClusterRole" || o.kind === "Role")).includes('"namespaces"'),
        "the rendered RBAC grants namespaces, and the stripped copy does not",
      );
      const applied = await cp.kubectl(["apply", "-f", "-"], { input: stripped.map((o) => stringify(o)).join("---\n") });
      assert.equal(applied.code, 0, applied.stderr);

      // A bound token for the ServiceAccount, in a kubeconfig of its own.
      const token = await cp.kubectl(["create", "token", "pod-dns-injector", "-n", INJECTOR_NS, "--duration=1h"]);
      assert.equal(token.code, 0, token.stderr);
      const kc = parseAllDocuments(readFileSync(cp.kubeconfigPath, "utf8"))[0]!.toJS() as Obj;
      kc.users = [{ name: "injector", user: { token: token.stdout.trim() } }];
      kc.contexts = [{ name: "injector", context: { cluster: kc.clusters[0].name, user: "injector" } }];
      kc["current-context"] = "injector";
      const saKubeconfig = join(cp.dir, "injector-kubeconfig");
      writeFileSync(saKubeconfig, stringify(kc), { mode: 0o600 });

      await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS("10.96.0.10") });
      await createNamespace(core, TEAM_NS, { labels: { [INJECT_LABEL]: "enabled" } });

      webhook = await startWebhookProcess({
        kubeconfigPath: saKubeconfig,
        dir: cp.dir,
        name: "injector-without-namespace-rbac",
        ensureInjectorNamespace: false,
        config: { guardian: { enabled: false }, audit: { enabled: false } },
        // Ready except for the namespace informer, which this test forbids on purpose.
        readyWhen: (status, body) => {
          const failing = body.split("\n").filter((l) => l.startsWith("[-]"));
          return status === 503 && failing.length === 1 && /^\[-\] informers: namespaces informer not synced/.test(failing[0] ?? "");
        },
      });
    } catch (err) {
      printLogs();
      throw err;
    }
  });

  after(async () => {
    await stopWebhookAndControlPlane(webhook, cp);
  });

  it(
    "failurePolicy Ignore: the pod is admitted uninjected, the failure is counted and logged",
    withLogs(async () => {
      await registerWebhook("Ignore");
      // The API server picks the configuration up asynchronously: dry-run until the webhook
      // has been called (and failed) once.
      let n = 0;
      await waitFor(
        "the webhook to be called",
        async () => {
          await createPod(core, TEAM_NS, podManifest(`probe-${n++}`), { dryRun: true });
          return (await internalErrors()) > 0 ? { value: true } : { detail: "no internal error counted yet" };
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      const before = await internalErrors();
      const { pod, warnings } = await createPod(core, TEAM_NS, podManifest("admitted-on-failure"));
      const stored = await readPod(core, TEAM_NS, pod.metadata?.name ?? "");
      assert.ok(stored, "the pod was stored");
      assert.equal(stored.spec?.dnsPolicy, "ClusterFirst", "uninjected: the API server's default");
      assert.equal(stored.spec?.dnsConfig, undefined);
      assert.equal(stored.metadata?.annotations?.[INJECTED_ANNOTATION], undefined);
      assert.deepEqual(warnings, []);
      assert.equal(await internalErrors(), before + 1, "the failed review is counted");
      const logged = webhook!
        .logTail(400)
        .split("\n")
        .filter((l) => l.includes("admission review failed internally") && l.includes('"reason":"namespace-lookup-failed"') && l.includes(`"namespace":"${TEAM_NS}"`));
      assert.ok(logged.length >= 1, "the failure is logged with its reason and namespace");
      assert.match(logged.at(-1) ?? "", /forbidden|403/i, "the log says why");
    }),
  );

  it(
    "failurePolicy Fail: the pod is refused with a message naming the webhook",
    withLogs(async () => {
      await registerWebhook("Fail");
      const refusal = /failed calling webhook "pods\.pod-dns-injector\.io"/;
      let n = 0;
      await waitFor(
        "failurePolicy Fail to take effect",
        async () => {
          try {
            await createPod(core, TEAM_NS, podManifest(`fail-probe-${n++}`), { dryRun: true });
            return { detail: "dry-run create still admitted" };
          } catch (err) {
            if (refusal.test(describeApiError(err))) return { value: true };
            throw err;
          }
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      const before = await internalErrors();
      await assert.rejects(createPod(core, TEAM_NS, podManifest("refused-on-failure")), (err: unknown) => {
        const message = describeApiError(err);
        assert.match(message, refusal);
        assert.equal(apiErrorCode(err), 500, message);
        assert.doesNotMatch(message, /forbidden/i, "our internal details stay in our log");
        return true;
      });
      assert.equal(await readPod(core, TEAM_NS, "refused-on-failure"), undefined, "the refused pod was not stored");
      assert.equal(await internalErrors(), before + 1);
    }),
  );
});
