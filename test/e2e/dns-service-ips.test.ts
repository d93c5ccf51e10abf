/**
 * What `dnsService` stands for, on a dual-stack kube-apiserver
 * (`--service-cluster-ip-range=10.96.0.0/16,fd00:10:96::/112`):
 * - issue 14 item 3: a dual-stack kube-dns gives pods both clusterIPs in its ipFamilies
 *   order, through the webhook and through the in-tree policy alike, and the guardian
 *   recreates a deleted one dual-stack, on both IPs;
 * - issue 14 item 4, the README's Service-CIDR migration, step by step: a new ServiceCIDR, a
 *   second DNS Service on its fixed IP there, the overlap (`dnsServices`: new first, old as
 *   fallback, through the webhook and the policy), the audit naming pods that point only at
 *   the old Service, each Service guarded on its own IP, and the old one's planned removal
 *   not fought.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, CoreV1Api, NetworkingV1Api, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { auditCluster } from "../../audit/cluster-source.js";
import { SNAPSHOT_CONFIGMAP } from "../../config/names.js";
import { parseSettings, type Settings } from "../../config/settings.js";
import { INJECTED_ANNOTATION, INJECT_LABEL, POLICY_INJECTION_MARK, PROFILE_ANNOTATION } from "../../config/names.js";
import { defaultSettings } from "../../config/settings.js";
import { renderAdmissionPolicies } from "../../policy/render.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import {
  FAST_GUARDIAN,
  DNS_NAME,
  DNS_NAMESPACE,
  INJECTOR_NAMESPACE,
  deleteService,
  listEvents,
  readService,
  waitForKubeDNS,
  waitForResyncs,
  waitForStoredSnapshot,
} from "./guardian-helpers.js";
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
import { startWebhookProcess, type WebhookProcess } from "./webhook-process.js";

const DUAL_STACK_RANGE = "10.96.0.0/16,fd00:10:96::/112";
const DNS_IPS = ["10.96.0.10", "fd00:10:96::a"];
const NODE_LOCAL = "169.254.20.10";
const NS = "team-dual";
const NODE_LOCAL_NS = "team-dual-node-local";
/** The migration's new Service CIDR and the second DNS Service's fixed IP in it. */
const NEW_CIDR = "10.100.0.0/16";
const NEW_DNS = { namespace: "kube-system", name: "kube-dns-next", clusterIP: "10.100.0.10" };
const OVERLAP = { dnsServices: [NEW_DNS, { namespace: "kube-system", name: "kube-dns" }] };

/** kubeadm's kube-dns, dual-stack: both families pinned, IPv4 primary. */
function dualStackKubeDNS(): V1Service {
  const svc = kubeadmKubeDNS(DNS_IPS[0]!);
  svc.spec = { ...svc.spec, clusterIPs: [...DNS_IPS], ipFamilies: ["IPv4", "IPv6"], ipFamilyPolicy: "RequireDualStack" };
  return svc;
}

describe("DNS Service IPs on a dual-stack kube-apiserver: a dual-stack kube-dns, then a Service-CIDR migration", () => {
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

  /** Dry-run creates in `namespace` until one is stored with an annotation `accept` takes. */
  const waitForInjection = (namespace: string, accept: (annotation: string) => boolean): Promise<V1Pod> =>
    waitForDryRunPod(core, namespace, `a probe pod in ${namespace} to be injected`, (pod) => accept(pod.metadata?.annotations?.[INJECTED_ANNOTATION] ?? ""));

  async function storedPod(namespace: string, name: string): Promise<V1Pod> {
    await createPod(core, namespace, podManifest(name));
    const pod = await readPod(core, namespace, name);
    assert.ok(pod, `${namespace}/${name} not stored`);
    return pod;
  }

  /** kube-dns-next as a copy of kube-dns's shape on the new range's fixed IP, single-stack. */
  function nextKubeDNS(): V1Service {
    const svc = kubeadmKubeDNS(NEW_DNS.clusterIP);
    svc.metadata = { ...svc.metadata, name: NEW_DNS.name };
    return svc;
  }

  async function restartWebhook(config: Record<string, unknown>, name: string): Promise<void> {
    await webhook?.stop();
    webhook = await startWebhookProcess({
      kubeconfigPath: cp!.kubeconfigPath,
      dir: cp!.dir,
      name,
      logLevel: "debug",
      config: { guardian: { ...FAST_GUARDIAN, enabled: true, repair: "recreate" }, ...config },
    });
  }

  async function withWebhookRegistered<T>(fn: () => Promise<T>): Promise<T> {
    await admission.createMutatingWebhookConfiguration({
      body: buildMutatingWebhookConfiguration({ caBundlePem: webhook!.caPem, url: webhook!.mutateUrl, failurePolicy: "Fail" }),
    });
    try {
      return await fn();
    } finally {
      await admission.deleteMutatingWebhookConfiguration({ name: "pod-dns-injector" });
    }
  }

  async function withPolicies<T>(settings: Settings, fn: () => Promise<T>): Promise<T> {
    const items = renderAdmissionPolicies(settings, { validation: "warn" });
    const r = await cp!.kubectl(["apply", "--server-side", "--field-manager=pod-dns-injector", "-f", "-"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
    assert.equal(r.code, 0, `kubectl apply of policy render's objects: ${r.stderr}`);
    try {
      return await fn();
    } finally {
      await deleteAdmissionPolicies(cp!, core, NS, items);
    }
  }

  const overlapSettings = (): Settings => {
    const r = parseSettings(OVERLAP);
    assert.ok(r.ok, r.ok ? "" : r.errors.join("\n"));
    return r.settings;
  };

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
      await withWebhookRegistered(async () => {
        await waitForInjection(NS, (a) => /^default@[0-9a-f]{10}$/.test(a));
        const pod = await storedPod(NS, "web-webhook");
        assert.deepEqual(dnsConfigOf(pod), {
          nameservers: DNS_IPS,
          searches: [`${NS}.svc.cluster.local`, "svc.cluster.local", "cluster.local"],
          options: [{ name: "ndots", value: "5" }],
        });
        const cached = await storedPod(NODE_LOCAL_NS, "web-webhook");
        assert.deepEqual(cached.spec?.dnsConfig?.nameservers ?? [], [NODE_LOCAL, ...DNS_IPS], "three nameservers: the node cache, then both families");
      });
    }),
  );

  it(
    "the in-tree MutatingAdmissionPolicy, whose parameter is the Service, stores the same dnsConfig",
    withLogs(async () => {
      await withPolicies(defaultSettings(), async () => {
        await waitForInjection(NS, (a) => a === `default@${POLICY_INJECTION_MARK}`);
        const byWebhook = await readPod(core, NS, "web-webhook");
        const byPolicy = await storedPod(NS, "web-policy");
        assert.deepEqual(dnsConfigOf(byPolicy), dnsConfigOf(byWebhook));
        const cachedByPolicy = await storedPod(NODE_LOCAL_NS, "web-policy");
        assert.deepEqual(dnsConfigOf(cachedByPolicy), dnsConfigOf(await readPod(core, NODE_LOCAL_NS, "web-webhook")));
      });
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
  it(
    "migration step 1-2: a new ServiceCIDR, and a second DNS Service on its fixed IP in it",
    withLogs(async () => {
      const networking = cp!.kubeConfig().makeApiClient(NetworkingV1Api);
      await networking.createServiceCIDR({ body: { apiVersion: "networking.k8s.io/v1", kind: "ServiceCIDR", metadata: { name: "migration" }, spec: { cidrs: [NEW_CIDR] } } });
      // The allocator takes a new range once its ServiceCIDR is ready (kube-controller-manager).
      const created = await waitFor(
        `kube-dns-next on ${NEW_DNS.clusterIP}`,
        async () => {
          try {
            return { value: await core.createNamespacedService({ namespace: NEW_DNS.namespace, body: nextKubeDNS() }) };
          } catch (err) {
            return { detail: String((err as { body?: unknown }).body ?? err) };
          }
        },
        { timeoutMs: 20_000, intervalMs: 200 },
      );
      assert.deepEqual(created.spec?.clusterIPs, [NEW_DNS.clusterIP]);
    }),
  );

  it(
    "migration step 3, the overlap: new pods get the new IP first and the old ones as fallback, by the webhook and by serve's policy keeper alike",
    withLogs(async () => {
      await restartWebhook(OVERLAP, "overlap");
      const expected = [NEW_DNS.clusterIP, ...DNS_IPS];
      const byWebhook = await withWebhookRegistered(async () => {
        await waitForInjection(NS, (a) => /^default@[0-9a-f]{10}$/.test(a));
        return storedPod(NS, "web-overlap");
      });
      assert.deepEqual(byWebhook.spec?.dnsConfig?.nameservers, expected, "new first, then the old Service's two families (the limit of 3)");
      // admission.mode policy: the leader keeps the policies applied, with the old Service's
      // live IPs rendered in (a binding reads only the first Service as its parameter).
      await restartWebhook({ ...OVERLAP, admission: { mode: "policy" } }, "overlap-policy");
      try {
        await waitForInjection(NS, (a) => a === `default@${POLICY_INJECTION_MARK}`);
        const byPolicy = await storedPod(NS, "web-overlap-policy");
        assert.deepEqual(dnsConfigOf(byPolicy), dnsConfigOf(byWebhook), "the policy follows the new Service live and the old one's live IPs as rendered by the keeper");
      } finally {
        await webhook!.stop();
        webhook = undefined;
        await deleteAdmissionPolicies(cp!, core, NS, renderAdmissionPolicies(overlapSettings()));
      }
    }),
  );

  it(
    "migration step 3: the audit names the pods that still point only at the old DNS Service",
    withLogs(async () => {
      const run = await auditCluster({ kubeConfig: cp!.kubeConfig(), settings: overlapSettings(), scope: { kind: "namespace", name: NS } });
      assert.deepEqual(run.dnsService.ips, [NEW_DNS.clusterIP, ...DNS_IPS]);
      assert.deepEqual(run.dnsService.services, ["kube-system/kube-dns-next", "kube-system/kube-dns"]);
      const byName = new Map(run.pods.map((p) => [p.name, p]));
      const old = byName.get("web-webhook");
      assert.equal(old?.result, "fail", JSON.stringify(old));
      assert.match(old.findings.map((f) => f.message).join("\n"), /points only at the old DNS Service IPs, not at the new kube-system\/kube-dns-next \(10\.100\.0\.10\)/);
      assert.equal(byName.get("web-overlap")?.result, "pass", JSON.stringify(byName.get("web-overlap")));
      assert.equal(byName.get("web-overlap-policy")?.result, "pass", JSON.stringify(byName.get("web-overlap-policy")));
    }),
  );

  it(
    "migration step 3: each DNS Service is guarded on its own fixed IP, from its own last good copy",
    withLogs(async () => {
      await restartWebhook(OVERLAP, "overlap-guardian");
      for (const [svc, ips] of [
        [NEW_DNS.name, [NEW_DNS.clusterIP]],
        [DNS_NAME, DNS_IPS],
      ] as const) {
        const configMap = svc === DNS_NAME ? SNAPSHOT_CONFIGMAP : `${SNAPSHOT_CONFIGMAP}.kube-system.${svc}`;
        await waitFor(`the last good copy of ${svc} in ${configMap}`, async () => {
          const cm = await core.readNamespacedConfigMap({ namespace: INJECTOR_NAMESPACE, name: configMap }).catch(() => undefined);
          const stored = cm?.data?.["service.json"] ? (JSON.parse(cm.data["service.json"]) as { name: string; clusterIPs?: string[] }) : undefined;
          return stored?.name === svc && JSON.stringify(stored.clusterIPs) === JSON.stringify(ips) ? { value: true } : { detail: JSON.stringify(stored ?? null) };
        });
        const before = await readService(core, DNS_NAMESPACE, svc);
        assert.ok(before?.metadata?.uid);
        assert.ok(await deleteService(core, DNS_NAMESPACE, svc, before.metadata.uid));
        const restored = await waitFor(
          `${svc} back on ${ips.join(", ")}`,
          async () => {
            const now = await readService(core, DNS_NAMESPACE, svc);
            return now && now.metadata?.uid !== before.metadata?.uid ? { value: now } : { detail: now ? "still the old object" : "gone" };
          },
          { timeoutMs: 20_000, intervalMs: 20 },
        );
        assert.deepEqual(restored.spec?.clusterIPs, ips, `${svc}: restored on its own IPs`);
      }
    }),
  );

  it(
    "a dual-stack kube-dns whose second IP another Service took meanwhile is recreated on its fixed IP with a new second IP, and the holder is named",
    withLogs(async () => {
      // No guardian runs while kube-dns is gone and another Service takes its IPv6 address.
      await webhook?.stop();
      webhook = undefined;
      const before = await readService(core, DNS_NAMESPACE, DNS_NAME);
      assert.deepEqual(before?.spec?.clusterIPs, DNS_IPS);
      assert.ok(await deleteService(core, DNS_NAMESPACE, DNS_NAME, before.metadata?.uid));
      const squatter: V1Service = {
        apiVersion: "v1",
        kind: "Service",
        metadata: { name: "squatter", namespace: "default" },
        spec: { clusterIP: DNS_IPS[1]!, clusterIPs: [DNS_IPS[1]!], ipFamilies: ["IPv6"], ipFamilyPolicy: "SingleStack", ports: [{ port: 80, protocol: "TCP" }] },
      };
      await core.createNamespacedService({ namespace: "default", body: squatter });
      await restartWebhook(OVERLAP, "guardian-squatted");
      const restored = await waitForKubeDNS(core, DNS_IPS[0]!, { timeoutMs: 20_000 });
      assert.equal(restored.spec?.clusterIPs?.length, 2, JSON.stringify(restored.spec?.clusterIPs));
      assert.notEqual(restored.spec?.clusterIPs?.[1], DNS_IPS[1], "a new IPv6 address, not the squatter's");
      assert.deepEqual(restored.spec?.ipFamilies, ["IPv4", "IPv6"]);
      const events = await waitFor("a DNSServiceIPConflict Event naming the squatter", async () => {
        const found = await listEvents(core, DNS_NAMESPACE, "DNSServiceIPConflict");
        return found.length ? { value: found } : { detail: "none yet" };
      });
      assert.match(events[0]!.message ?? "", /its previous fd00:10:96::a is held by Service default\/squatter/);
    }),
  );
  it(
    "migration step 6: once dnsServices names only the new Service, the old one's removal is not fought and pods get the new IP alone",
    withLogs(async () => {
      await restartWebhook({ dnsService: NEW_DNS }, "after-migration");
      const process = webhook!;
      await waitFor("the guardian to lead", async () => ((await process.metrics()).includes("pod_dns_injector_guardian_leader 1") ? { value: true } : { detail: "not yet" }), {
        timeoutMs: 15_000,
        intervalMs: 100,
      });
      const old = await readService(core, DNS_NAMESPACE, DNS_NAME);
      assert.ok(old?.metadata?.uid);
      assert.ok(await deleteService(core, DNS_NAMESPACE, DNS_NAME, old.metadata.uid));
      // Three periodic resyncs of the guardian that now keeps kube-dns-next only.
      await waitForResyncs({ process, identity: "", name: "after-migration" }, 3);
      assert.equal(await readService(core, DNS_NAMESPACE, DNS_NAME), undefined, "the old kube-dns stays deleted");
      const pod = await withWebhookRegistered(async () => {
        await waitForInjection(NS, (a) => /^default@[0-9a-f]{10}$/.test(a));
        return storedPod(NS, "web-after");
      });
      assert.deepEqual(pod.spec?.dnsConfig?.nameservers, [NEW_DNS.clusterIP]);
    }),
  );
});
