/**
 * What `dnsService` stands for, on a dual-stack kube-apiserver
 * (`--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112`, issue 14 item 3): a
 * dual-stack kube-dns gives pods both clusterIPs in its ipFamilies order, through the
 * webhook and through the in-tree policy alike, and the guardian recreates a deleted one
 * dual-stack, on both IPs.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION, INJECT_LABEL, POLICY_INJECTION_MARK, PROFILE_ANNOTATION } from "../../config/names.js";
import { defaultSettings } from "../../config/settings.js";
import { renderAdmissionPolicies } from "../../policy/render.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { FAST_GUARDIAN, DNS_NAME, DNS_NAMESPACE, deleteService, readService, waitForKubeDNS, waitForStoredSnapshot } from "./guardian-helpers.js";
import { createNamespace, createPod, kubeadmKubeDNS, podManifest, printingOnFailure, readPod, stopWebhookAndControlPlane, waitFor } from "./kube.js";
import { startWebhookProcess, type WebhookProcess } from "./webhook-process.js";

const DUAL_STACK_RANGE = "10.96.0.0/16,fd00:10:96::/112";
const DNS_IPS = ["10.96.0.10", "fd00:10:96::a"];
const NODE_LOCAL = "169.254.20.10";
const NS = "team-dual";
const NODE_LOCAL_NS = "team-dual-node-local";

/** kubeadm's kube-dns, dual-stack: both families pinned, IPv4 primary. */
function dualStackKubeDNS(): V1Service {
  const svc = kubeadmKubeDNS(DNS_IPS[0]!);
  svc.spec = { ...svc.spec, clusterIPs: [...DNS_IPS], ipFamilies: ["IPv4", "IPv6"], ipFamilyPolicy: "RequireDualStack" };
  return svc;
}

describe("a dual-stack DNS Service on a dual-stack kube-apiserver", () => {
  let cp: ControlPlane | undefined;
  let webhook: WebhookProcess | undefined;
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;
  const printLogs = () => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(60) ?? "(not started)"}`);
    console.error(`--- webhook logs ---\n${webhook?.logTail(40) ?? "(not started)"}`);
  };
  const withLogs = printingOnFailure(printLogs);
  const dnsConfigOf = (pod: V1Pod | undefined) => JSON.parse(JSON.stringify(pod?.spec?.dnsConfig ?? null)) as unknown;

  /** Dry-run creates in `namespace` until one is stored with `annotation` (admission caches are informers). */
  function waitForInjection(namespace: string, accept: (annotation: string) => boolean): Promise<V1Pod> {
    let n = 0;
    return waitFor(
      `a probe pod in ${namespace} to be injected`,
      async () => {
        const { pod } = await createPod(core, namespace, podManifest(`probe-${n++}`), { dryRun: true });
        const a = pod.metadata?.annotations?.[INJECTED_ANNOTATION] ?? "";
        return accept(a) ? { value: pod } : { detail: `annotation ${JSON.stringify(a)}, dnsConfig ${JSON.stringify(pod.spec?.dnsConfig)}` };
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  }

  async function storedPod(namespace: string, name: string): Promise<V1Pod> {
    await createPod(core, namespace, podManifest(name));
    const pod = await readPod(core, namespace, name);
    assert.ok(pod, `${namespace}/${name} not stored`);
    return pod;
  }

  before(async () => {
    try {
      cp = await startControlPlane({ controllerManager: true, name: "e2e-dual-stack", serviceClusterIPRange: DUAL_STACK_RANGE });
      const kc = cp.kubeConfig();
      core = kc.makeApiClient(CoreV1Api);
      admission = kc.makeApiClient(AdmissionregistrationV1Api);
      const created = await core.createNamespacedService({ namespace: DNS_NAMESPACE, body: dualStackKubeDNS() });
      assert.deepEqual(created.spec?.clusterIPs, DNS_IPS, "the API server kept both pinned IPs");
      await createNamespace(core, NS, { labels: { [INJECT_LABEL]: "enabled" } });
      await createNamespace(core, NODE_LOCAL_NS, { labels: { [INJECT_LABEL]: "enabled" }, annotations: { [PROFILE_ANNOTATION]: "node-local-dns" } });
      webhook = await startWebhookProcess({
        kubeconfigPath: cp.kubeconfigPath,
        dir: cp.dir,
        name: "pod-dns-injector",
        config: { guardian: { ...FAST_GUARDIAN, enabled: true, repair: "recreate" } },
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
    "the webhook injects both clusterIPs, IPv4 first as the Service's ipFamilies say; NodeLocal DNSCache goes before them",
    withLogs(async () => {
      await admission.createMutatingWebhookConfiguration({ body: buildMutatingWebhookConfiguration({ caBundlePem: webhook!.caPem, url: webhook!.mutateUrl, failurePolicy: "Fail" }) });
      try {
        await waitForInjection(NS, (a) => /^default@[0-9a-f]{10}$/.test(a));
        const pod = await storedPod(NS, "web-webhook");
        assert.deepEqual(dnsConfigOf(pod), { nameservers: DNS_IPS, searches: [`${NS}.svc.cluster.local`, "svc.cluster.local", "cluster.local"], options: [{ name: "ndots", value: "5" }] });
        const cached = await storedPod(NODE_LOCAL_NS, "web-webhook");
        assert.deepEqual((cached.spec?.dnsConfig?.nameservers ?? []), [NODE_LOCAL, ...DNS_IPS], "three nameservers: the node cache, then both families");
      } finally {
        await admission.deleteMutatingWebhookConfiguration({ name: "pod-dns-injector" });
      }
    }),
  );

  it(
    "the in-tree MutatingAdmissionPolicy, whose parameter is the Service, stores the same dnsConfig",
    withLogs(async () => {
      const objects = renderAdmissionPolicies(defaultSettings(), { validation: "warn" });
      const r = await cp!.kubectl(["apply", "--server-side", "--field-manager=pod-dns-injector", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }) });
      assert.equal(r.code, 0, `kubectl apply of policy render's objects: ${r.stderr}`);
      try {
        await waitForInjection(NS, (a) => a === `default@${POLICY_INJECTION_MARK}`);
        const byWebhook = await readPod(core, NS, "web-webhook");
        const byPolicy = await storedPod(NS, "web-policy");
        assert.deepEqual(dnsConfigOf(byPolicy), dnsConfigOf(byWebhook));
        const cachedByPolicy = await storedPod(NODE_LOCAL_NS, "web-policy");
        assert.deepEqual(dnsConfigOf(cachedByPolicy), dnsConfigOf(await readPod(core, NODE_LOCAL_NS, "web-webhook")));
      } finally {
        const d = await cp!.kubectl(["delete", "-f", "-", "--wait=true"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }) });
        assert.equal(d.code, 0, `kubectl delete of the policies: ${d.stderr}`);
      }
    }),
  );

  it(
    "the guardian recreates a deleted dual-stack kube-dns on both IPs, with its ipFamilies and ipFamilyPolicy",
    withLogs(async () => {
      await waitForStoredSnapshot(core, "to hold both clusterIPs", (s) => JSON.stringify(s.clusterIPs) === JSON.stringify(DNS_IPS));
      const before = await readService(core, DNS_NAMESPACE, DNS_NAME);
      assert.ok(before?.metadata?.uid);
      assert.ok(await deleteService(core, DNS_NAMESPACE, DNS_NAME, before.metadata.uid));
      const restored = await waitForKubeDNS(core, DNS_IPS[0]!, { notUid: before.metadata.uid, timeoutMs: 20_000 });
      assert.deepEqual(restored.spec?.clusterIPs, DNS_IPS);
      assert.deepEqual(restored.spec?.ipFamilies, ["IPv4", "IPv6"]);
      assert.equal(restored.spec?.ipFamilyPolicy, "RequireDualStack");
    }),
  );
});
