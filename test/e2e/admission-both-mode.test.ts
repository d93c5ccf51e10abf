/**
 * `admission.mode: both` on the real API server: the leader keeps the in-tree policies
 * applied and the webhook is registered too. The policy runs first, the webhook then takes
 * the policy's `@policy` dnsConfig apart as its own and stores exactly what the webhook alone
 * stores (with its hashed annotation); while every replica is down (failurePolicy Ignore) the
 * policy still injects, so pods never start without the cluster's DNS. With `windows: skip`,
 * a Windows pod is left to kubelet's DNS by the webhook (row 7) and by the policy (its
 * `not-windows` match condition) alike, on the real API server.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION, INJECT_LABEL, POLICY_INJECTION_MARK } from "../../config/names.js";
import { defaultSettings } from "../../config/settings.js";
import { renderAdmissionPolicies } from "../../policy/render.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import {
  createNamespace,
  createPod,
  deleteAdmissionPolicies,
  kubeadmKubeDNS,
  podManifest,
  printingOnFailure,
  readPod,
  stopWebhookAndControlPlane,
  waitFor,
  waitForDryRunPod,
} from "./kube.js";
import { logRecords } from "./guardian-helpers.js";
import { startWebhookProcess, type WebhookProcess } from "./webhook-process.js";

const DNS_IP = "10.96.0.10";
const NS = "team-both";
const HASHED = /^default@[0-9a-f]{10}$/;

describe("admission.mode both on kube-apiserver: the policy first, the webhook over it", () => {
  let cp: ControlPlane | undefined;
  let webhook: WebhookProcess | undefined;
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;
  const printLogs = () => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(60) ?? "(not started)"}`);
    console.error(`--- webhook logs ---\n${webhook?.logTail(40) ?? "(not started)"}`);
  };
  const withLogs = printingOnFailure(printLogs);
  const annotationOf = (pod: V1Pod | undefined) => pod?.metadata?.annotations?.[INJECTED_ANNOTATION] ?? "";
  const dnsOf = (pod: V1Pod | undefined) => JSON.parse(JSON.stringify({ dnsPolicy: pod?.spec?.dnsPolicy, dnsConfig: pod?.spec?.dnsConfig ?? null })) as unknown;

  /** Dry-run creates until one is stored with an annotation `accept` takes (admission caches are informers). */
  const waitForInjection = (what: string, accept: (annotation: string) => boolean): Promise<V1Pod> => waitForDryRunPod(core, NS, what, (pod) => accept(annotationOf(pod)), 30_000);

  async function stored(name: string): Promise<V1Pod> {
    await createPod(core, NS, podManifest(name));
    const pod = await readPod(core, NS, name);
    assert.ok(pod, `${NS}/${name} not stored`);
    return pod;
  }

  before(async () => {
    try {
      cp = await startControlPlane({ controllerManager: true, name: "e2e-both-mode" });
      const kc = cp.kubeConfig();
      core = kc.makeApiClient(CoreV1Api);
      admission = kc.makeApiClient(AdmissionregistrationV1Api);
      await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS(DNS_IP) });
      await createNamespace(core, NS, { labels: { [INJECT_LABEL]: "enabled" } });
    } catch (err) {
      printLogs();
      throw err;
    }
  });

  after(async () => {
    await stopWebhookAndControlPlane(webhook, cp);
  });

  it(
    "the webhook alone: the reference pod",
    withLogs(async () => {
      webhook = await startWebhookProcess({ kubeconfigPath: cp!.kubeconfigPath, dir: cp!.dir, name: "webhook-mode", config: { guardian: { enabled: false } } });
      await admission.createMutatingWebhookConfiguration({
        body: buildMutatingWebhookConfiguration({ caBundlePem: webhook.caPem, url: webhook.mutateUrl, failurePolicy: "Ignore" }),
      });
      await waitForInjection("the webhook to take effect", (a) => HASHED.test(a));
      const reference = await stored("web-webhook");
      assert.match(annotationOf(reference), HASHED);
      await webhook.stop();
      webhook = undefined;
      await admission.deleteMutatingWebhookConfiguration({ name: "pod-dns-injector" });
    }),
  );

  it(
    "both: the leader applies the policies; a pod gets the webhook's dnsConfig and annotation, as if the webhook ran alone",
    withLogs(async () => {
      webhook = await startWebhookProcess({ kubeconfigPath: cp!.kubeconfigPath, dir: cp!.dir, name: "both-mode", config: { admission: { mode: "both" } } });
      await admission.createMutatingWebhookConfiguration({
        body: buildMutatingWebhookConfiguration({ caBundlePem: webhook.caPem, url: webhook.mutateUrl, failurePolicy: "Ignore" }),
      });
      await waitFor("the keeper to apply the MutatingAdmissionPolicy and its binding", async () => {
        const r = await cp!.kubectl(["get", "mutatingadmissionpolicies,mutatingadmissionpolicybindings", "-o", "name"]);
        return (r.stdout.match(/pod-dns-injector\./g) ?? []).length >= 2 ? { value: true } : { detail: `${r.stdout} ${r.stderr}` };
      });
      // The API server's policy cache lags the objects: wait until the webhook sees pods the
      // policy injected first (it re-injects them: reinject-outdated).
      await waitForInjection("the policy to run before the webhook", () => logRecords(webhook!).some((l) => l.reason === "reinject-outdated"));
      const both = await stored("web-both");
      assert.match(annotationOf(both), HASHED, "the webhook ran last and wrote its own annotation");
      assert.deepEqual(
        dnsOf(both),
        dnsOf(await readPod(core, NS, "web-webhook")),
        "the same dnsPolicy and dnsConfig as the webhook alone: the policy's injection was taken apart, nothing doubled",
      );
      // This pod too went through the policy first: the webhook re-injected it.
      const record = await waitFor("the webhook's log line for web-both", async () => {
        const r = logRecords(webhook!).find((l) => l.pod === "web-both" && l.dryRun === false);
        return r ? { value: r } : { detail: "not logged yet" };
      });
      assert.equal(record.reason, "reinject-outdated", JSON.stringify(record));
    }),
  );

  it(
    "both, every replica down: the policy alone still injects (failurePolicy Ignore admits past the webhook)",
    withLogs(async () => {
      await webhook!.stop();
      webhook = undefined;
      await waitForInjection("the policy alone while the webhook is down", (a) => a === `default@${POLICY_INJECTION_MARK}`);
      const fallback = await stored("web-fallback");
      assert.equal(annotationOf(fallback), `default@${POLICY_INJECTION_MARK}`);
      assert.deepEqual(dnsOf(fallback), dnsOf(await readPod(core, NS, "web-webhook")), "the policy's dnsConfig equals the webhook's for a plain pod");
      // Clean up what the keeper applied (nothing keeps it applied now).
      // The next test's Windows pod must not meet these (they lack the not-windows condition).
      await deleteAdmissionPolicies(cp!, core, NS, renderAdmissionPolicies(defaultSettings()));
    }),
  );
  it(
    "windows: skip, by the webhook and by the policy alone: a Windows pod keeps kubelet's DNS, a Linux pod beside it is injected",
    withLogs(async () => {
      webhook = await startWebhookProcess({
        kubeconfigPath: cp!.kubeconfigPath,
        dir: cp!.dir,
        name: "both-windows-skip",
        config: { admission: { mode: "both" }, windows: "skip" },
      });
      // The registration left from the previous test points at the stopped process: replace it.
      await admission.deleteMutatingWebhookConfiguration({ name: "pod-dns-injector" });
      await admission.createMutatingWebhookConfiguration({
        body: buildMutatingWebhookConfiguration({ caBundlePem: webhook.caPem, url: webhook.mutateUrl, failurePolicy: "Ignore" }),
      });
      const windowsPod = (name: string) => podManifest(name, { spec: { os: { name: "windows" } } });
      await waitForInjection("the webhook under windows: skip", (a) => HASHED.test(a));
      for (const phase of ["both", "policy-only"] as const) {
        if (phase === "policy-only") {
          await webhook!.stop();
          webhook = undefined;
          await waitForInjection("the policy alone", (a) => a === `default@${POLICY_INJECTION_MARK}`);
        }
        await createPod(core, NS, windowsPod(`windows-${phase}`));
        const win = await readPod(core, NS, `windows-${phase}`);
        assert.equal(annotationOf(win), "", `${phase}: the Windows pod carries no injected annotation`);
        assert.equal(win?.spec?.dnsPolicy, "ClusterFirst", `${phase}: the Windows pod keeps ClusterFirst`);
        assert.equal(win?.spec?.dnsConfig, undefined, `${phase}: no dnsConfig`);
        const linux = await stored(`linux-${phase}`);
        assert.equal(linux.spec?.dnsPolicy, "None", `${phase}: the Linux pod beside it is injected`);
      }
      // The keeper's policies, rendered with windows: skip, carry the not-windows condition.
      const conditions = await cp!.kubectl(["get", "mutatingadmissionpolicy", "pod-dns-injector.pods", "-o", "jsonpath={.spec.matchConditions[*].name}"]);
      assert.match(conditions.stdout, /not-windows/);
      await deleteAdmissionPolicies(cp!, core, NS, renderAdmissionPolicies({ ...defaultSettings(), windows: "skip" }));
    }),
  );
});
