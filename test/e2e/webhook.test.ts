/**
 * The webhook end to end, as a cluster runs it: `pod-dns-injector serve` as its own process
 * (cluster mode, informers on namespaces and kube-system/kube-dns), registered through the
 * real MutatingWebhookConfiguration from webhook/registration.ts with clientConfig.url and
 * our CA as caBundle, called by a real kube-apiserver. Every case asserts on the Pod as the
 * API server stored it (read back with a GET), and on the warnings the client received.
 *
 * The cases run in order on one control plane; the webhook is stopped by the last two.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, AppsV1Api, CoreV1Api, type V1MutatingWebhookConfiguration, type V1Pod } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION, INJECT_LABEL, NDOTS_ANNOTATION, SEARCHES_ANNOTATION } from "../../config/names.js";
import type { PodDNSConfig } from "../../webhook/dns-config.js";
import { hashDNSConfig } from "../../webhook/decision.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import {
  apiErrorCode,
  createNamespace,
  createPod,
  describeApiError,
  podManifest,
  readPod,
  waitFor,
  printingOnFailure,
  kubeadmKubeDNS,
  stopWebhookAndControlPlane,
} from "./kube.js";
import { startWebhookProcess, sumMetric, type WebhookProcess } from "./webhook-process.js";

const DNS_IP = "10.96.0.10";
const NEW_DNS_IP = "10.96.0.53";
const CLUSTER_DOMAIN = "cluster.local";

const NS = {
  enabled: "e2e-enabled",
  unlabeled: "e2e-unlabeled",
  disabled: "e2e-disabled",
  audit: "e2e-audit",
  overrides: "e2e-overrides",
} as const;

/** What kubelet's ClusterFirst would write with --cluster-dns=<ip>, plus the default profile. */
function defaultDNSConfig(namespace: string, ip = DNS_IP): Required<PodDNSConfig> {
  return {
    nameservers: [ip],
    searches: [`${namespace}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN],
    options: [{ name: "ndots", value: "5" }],
  };
}

/** client-node returns class instances; compare plain JSON as the API server sent it. */
function plain<T>(value: T): unknown {
  return value === undefined ? undefined : JSON.parse(JSON.stringify(value));
}

function assertInjected(pod: V1Pod | undefined, expected: Required<PodDNSConfig>): void {
  assert.ok(pod, "pod not found");
  const where = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  assert.equal(pod.spec?.dnsPolicy, "None", `${where}: dnsPolicy`);
  assert.deepEqual(plain(pod.spec?.dnsConfig), expected, `${where}: dnsConfig`);
  const annotation = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
  assert.match(annotation ?? "(none)", /^default@[0-9a-f]{10}$/, `${where}: ${INJECTED_ANNOTATION}`);
  // The hash names exactly the dnsConfig that was applied.
  assert.equal(annotation, `default@${hashDNSConfig(expected)}`, `${where}: ${INJECTED_ANNOTATION} hash`);
}

/** Untouched by us: the API server's default ClusterFirst (or the pod's own policy), no annotation. */
function assertUntouched(pod: V1Pod | undefined, dnsPolicy = "ClusterFirst", dnsConfig?: PodDNSConfig): void {
  assert.ok(pod, "pod not found");
  const where = `pod ${pod.metadata?.namespace}/${pod.metadata?.name}`;
  assert.equal(pod.spec?.dnsPolicy, dnsPolicy, `${where}: dnsPolicy`);
  assert.deepEqual(plain(pod.spec?.dnsConfig), dnsConfig, `${where}: dnsConfig`);
  assert.equal(pod.metadata?.annotations?.[INJECTED_ANNOTATION], undefined, `${where}: ${INJECTED_ANNOTATION}`);
}

describe("webhook end to end (serve process + MutatingWebhookConfiguration + kube-apiserver)", () => {
  let cp: ControlPlane | undefined;
  let webhook: WebhookProcess | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let admission: AdmissionregistrationV1Api;

  const printLogs = () => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(60) ?? "(not started)"}`);
    console.error(`--- webhook logs ---\n${webhook?.logTail(60) ?? "(not started)"}`);
  };
  /** Runs a test body; if it fails, prints the process logs so CI shows why. */
  const withLogs = printingOnFailure(printLogs);

  /** Creates the pod, then reads it back: the stored object is what the cases assert on. */
  async function createAndRead(namespace: string, pod: V1Pod): Promise<{ stored: V1Pod | undefined; warnings: string[] }> {
    const created = await createPod(core, namespace, pod);
    const name = created.pod.metadata?.name ?? "";
    return { stored: await readPod(core, namespace, name), warnings: created.warnings };
  }

  async function createKubeDNS(clusterIP: string): Promise<void> {
    await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS(clusterIP) });
  }

  /** Dry-run creates in the enabled namespace until the returned pod satisfies `accept`. */
  function waitForDryRun(what: string, accept: (pod: V1Pod) => boolean): Promise<V1Pod> {
    let n = 0;
    return waitFor(
      what,
      async () => {
        const { pod } = await createPod(core, NS.enabled, podManifest(`probe-${n++}`), { dryRun: true });
        return accept(pod)
          ? { value: pod }
          : { detail: `dnsPolicy ${pod.spec?.dnsPolicy}, dnsConfig ${JSON.stringify(plain(pod.spec?.dnsConfig))}, annotations ${JSON.stringify(pod.metadata?.annotations ?? {})}` };
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  }

  before(async () => {
    try {
      cp = await startControlPlane({ controllerManager: true, name: "e2e-webhook" });
      const kc = cp.kubeConfig();
      core = kc.makeApiClient(CoreV1Api);
      apps = kc.makeApiClient(AppsV1Api);
      admission = kc.makeApiClient(AdmissionregistrationV1Api);

      await createKubeDNS(DNS_IP);
      const [started] = await Promise.all([
        // The guardian would put kube-dns back on 10.96.0.10 when the IP-change case deletes
        // it; this suite is about the webhook following the live Service (guardian.test.ts
        // covers the guardian).
        startWebhookProcess({ kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, name: "pod-dns-injector", config: { guardian: { enabled: false } } }),
        createNamespace(core, NS.enabled, { labels: { [INJECT_LABEL]: "enabled" } }),
        createNamespace(core, NS.unlabeled),
        createNamespace(core, NS.disabled, { labels: { [INJECT_LABEL]: "disabled" } }),
        createNamespace(core, NS.audit, { labels: { [INJECT_LABEL]: "audit" } }),
        createNamespace(core, NS.overrides, {
          labels: { [INJECT_LABEL]: "enabled" },
          annotations: { [NDOTS_ANNOTATION]: "2", [SEARCHES_ANNOTATION]: "corp.example" },
        }),
      ]);
      webhook = started;

      await admission.createMutatingWebhookConfiguration({
        body: buildMutatingWebhookConfiguration({
          caBundlePem: webhook.caPem,
          url: webhook.mutateUrl,
          failurePolicy: "Ignore",
          timeoutSeconds: 5,
        }),
      });
      // The API server picks up webhook configurations from an informer: retry a dry-run
      // create until one comes back injected, instead of sleeping.
      await waitForDryRun("the MutatingWebhookConfiguration to take effect", (pod) => pod.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined);
    } catch (err) {
      printLogs();
      throw err;
    }
  });

  after(async () => {
    await stopWebhookAndControlPlane(webhook, cp);
  });

  it(
    "injects a pod in an enabled namespace with the live kube-dns clusterIP",
    withLogs(async () => {
      const { stored, warnings } = await createAndRead(NS.enabled, podManifest("plain"));
      assertInjected(stored, defaultDNSConfig(NS.enabled));
      assert.deepEqual(warnings, []);
    }),
  );

  it(
    "leaves pods in an unlabeled and in a disabled namespace untouched",
    withLogs(async () => {
      for (const ns of [NS.unlabeled, NS.disabled]) {
        const { stored, warnings } = await createAndRead(ns, podManifest("plain"));
        assertUntouched(stored);
        assert.deepEqual(warnings, [], ns);
      }
    }),
  );

  it(
    "leaves a pod in an audit namespace untouched and warns the client (kubectl)",
    withLogs(async () => {
      const manifest = podManifest("audited", { metadata: { namespace: NS.audit } });
      const res = await cp!.kubectl(["create", "-f", "-"], { input: JSON.stringify(manifest) });
      assert.equal(res.code, 0, res.stderr);
      assert.match(res.stdout, /pod\/audited created/);
      const expected = defaultDNSConfig(NS.audit);
      assert.ok(
        res.stderr.includes(
          `Warning: pod-dns-injector (audit mode): would change dnsPolicy ClusterFirst → None; nameservers (none) → ${DNS_IP}; searches (none) → ${expected.searches.join(" ")}; options (none) → ndots:5`,
        ),
        `kubectl stderr: ${res.stderr}`,
      );
      assertUntouched(await readPod(core, NS.audit, "audited"));
    }),
  );

  it(
    "respects the opt-out label, hostNetwork with ClusterFirst, dnsPolicy Default and a pod's own dnsPolicy None",
    withLogs(async () => {
      const optedOut = await createAndRead(NS.enabled, podManifest("opted-out", { metadata: { labels: { [INJECT_LABEL]: "false" } } }));
      assertUntouched(optedOut.stored);

      const hostNet = await createAndRead(NS.enabled, podManifest("host-network", { spec: { hostNetwork: true } }));
      assertUntouched(hostNet.stored);
      assert.equal(hostNet.stored?.spec?.hostNetwork, true);

      const nodeDNS = await createAndRead(NS.enabled, podManifest("node-dns", { spec: { dnsPolicy: "Default" } }));
      assertUntouched(nodeDNS.stored, "Default");

      const own = { nameservers: ["1.1.1.1"], searches: ["example.com"], options: [{ name: "ndots", value: "1" }] };
      const ownDNS = await createAndRead(NS.enabled, podManifest("own-dns", { spec: { dnsPolicy: "None", dnsConfig: own } }));
      assertUntouched(ownDNS.stored, "None", own);
    }),
  );

  it(
    "injects a hostNetwork pod with ClusterFirstWithHostNet",
    withLogs(async () => {
      const { stored } = await createAndRead(NS.enabled, podManifest("host-network-cluster-first", { spec: { hostNetwork: true, dnsPolicy: "ClusterFirstWithHostNet" } }));
      assertInjected(stored, defaultDNSConfig(NS.enabled));
      assert.equal(stored?.spec?.hostNetwork, true);
    }),
  );

  it(
    "admits a pod whose own dnsConfig overflows the limits, stored valid, and names what was cut",
    withLogs(async () => {
      const ownServers = ["1.1.1.1", "8.8.8.8", "9.9.9.9", "1.0.0.1"];
      const ownSearches = Array.from({ length: 35 }, (_, i) => `s${i}.example.com`);
      const pod = podManifest("overflow", { spec: { dnsConfig: { nameservers: ownServers, searches: ownSearches } } });

      // Without the webhook the API server refuses this pod: the injection is what makes it valid.
      await assert.rejects(createPod(core, NS.unlabeled, pod, { dryRun: true }), (err: unknown) => apiErrorCode(err) === 422 && /nameservers|searches/.test(describeApiError(err)));

      const { stored, warnings } = await createAndRead(NS.enabled, pod);
      const base = defaultDNSConfig(NS.enabled);
      const expected = {
        nameservers: [DNS_IP, "1.1.1.1", "8.8.8.8"],
        searches: [...base.searches, ...ownSearches.slice(0, 29)],
        options: base.options,
      };
      assertInjected(stored, expected);
      assert.ok((stored?.spec?.dnsConfig?.nameservers?.length ?? 99) <= 3);
      assert.ok((stored?.spec?.dnsConfig?.searches?.length ?? 99) <= 32);
      for (const cut of ["dropped nameserver 9.9.9.9", "dropped nameserver 1.0.0.1", ...ownSearches.slice(29).map((s) => `dropped search ${s}`)]) {
        assert.ok(
          warnings.some((w) => w.includes(cut)),
          `no warning "${cut}…" in ${JSON.stringify(warnings)}`,
        );
      }
      // Two nameservers and six searches cut, and the search line is still too long for musl.
      assert.ok(
        warnings.some((w) => /search line is \d+ characters: musl/.test(w)),
        `no musl warning in ${JSON.stringify(warnings)}`,
      );
      assert.equal(warnings.length, 2 + 6 + 1, JSON.stringify(warnings));
    }),
  );

  it(
    "answers a server-side dry-run create with the injected spec and stores nothing",
    withLogs(async () => {
      const { pod } = await createPod(core, NS.enabled, podManifest("dry-run"), { dryRun: true });
      assertInjected(pod, defaultDNSConfig(NS.enabled));
      assert.equal(await readPod(core, NS.enabled, "dry-run"), undefined, "a dry-run pod was stored");
    }),
  );

  it(
    "injects a Deployment's pods created by the ReplicaSet controller with generateName",
    withLogs(async () => {
      await apps.createNamespacedDeployment({
        namespace: NS.enabled,
        body: {
          metadata: { name: "web" },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: "web" } },
            template: {
              metadata: { labels: { app: "web" } },
              spec: { containers: [{ name: "pause", image: "registry.k8s.io/pause:3.10" }] },
            },
          },
        },
      });
      const pod = await waitFor(
        "a Pod of Deployment web",
        async () => {
          const pods = (await core.listNamespacedPod({ namespace: NS.enabled, labelSelector: "app=web" })).items;
          return pods[0] ? { value: pods[0] } : { detail: "no pod yet" };
        },
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, "ReplicaSet");
      assert.match(pod.metadata?.generateName ?? "", /^web-[a-z0-9]+-$/);
      assert.ok(pod.metadata?.name?.startsWith(pod.metadata.generateName ?? "?"));
      assertInjected(await readPod(core, NS.enabled, pod.metadata?.name ?? ""), defaultDNSConfig(NS.enabled));
    }),
  );

  it(
    "applies the namespace's ndots and searches override annotations",
    withLogs(async () => {
      const { stored } = await createAndRead(NS.overrides, podManifest("overridden"));
      const base = defaultDNSConfig(NS.overrides);
      assertInjected(stored, { nameservers: [DNS_IP], searches: [...base.searches, "corp.example"], options: [{ name: "ndots", value: "2" }] });
    }),
  );

  it(
    "follows the live kube-dns Service when it is recreated with another clusterIP",
    withLogs(async () => {
      await core.deleteNamespacedService({ name: "kube-dns", namespace: "kube-system" });
      await waitFor("kube-system/kube-dns to be gone", async () =>
        (await core.listNamespacedService({ namespace: "kube-system", fieldSelector: "metadata.name=kube-dns" })).items.length === 0 ? { value: true } : { detail: "still listed" },
      );
      await createKubeDNS(NEW_DNS_IP);
      // The webhook's informer sees the new Service asynchronously.
      await waitForDryRun(`injected nameserver ${NEW_DNS_IP}`, (pod) => pod.spec?.dnsConfig?.nameservers?.[0] === NEW_DNS_IP);
      const { stored } = await createAndRead(NS.enabled, podManifest("after-dns-move"));
      assertInjected(stored, defaultDNSConfig(NS.enabled, NEW_DNS_IP));
    }),
  );

  it(
    "counts its decisions in /metrics",
    withLogs(async () => {
      const text = await webhook!.metrics();
      const reviews = "pod_dns_injector_admission_reviews_total";
      assert.ok(sumMetric(text, reviews, { action: "inject" }) > 0, `no inject reviews counted:\n${text}`);
      assert.ok(sumMetric(text, reviews, { action: "report", reason: "would-inject", mode: "audit" }) >= 1, "audit review not counted");
      for (const reason of ["host-network-cluster-first", "dns-policy-default", "pod-manages-own-dns"]) {
        assert.ok(sumMetric(text, reviews, { action: "skip", reason }) >= 1, `skip ${reason} not counted`);
      }
      // The opt-out label is evaluated by the API server (objectSelector, matchConditions):
      // opted-out pods never reach the webhook.
      assert.equal(sumMetric(text, reviews, { reason: "pod-opted-out" }), 0);
      assert.equal(sumMetric(text, "pod_dns_injector_admission_errors_total"), 0);
      assert.equal(sumMetric(text, "pod_dns_injector_admission_malformed_total"), 0);
    }),
  );

  it(
    "admits pods uninjected while the webhook is down with failurePolicy Ignore",
    withLogs(async () => {
      // Graceful stop: SIGTERM drains and the process exits 0 (asserted by stop()).
      await webhook!.stop();
      const { stored } = await createAndRead(NS.enabled, podManifest("webhook-down-ignore"));
      assertUntouched(stored);
    }),
  );

  it(
    "refuses pod creation while the webhook is down with failurePolicy Fail",
    withLogs(async () => {
      const current = await admission.readMutatingWebhookConfiguration({ name: "pod-dns-injector" });
      const failing = buildMutatingWebhookConfiguration({
        caBundlePem: webhook!.caPem,
        url: webhook!.mutateUrl,
        failurePolicy: "Fail",
        timeoutSeconds: 5,
      }) as V1MutatingWebhookConfiguration;
      failing.metadata = { ...failing.metadata, ...(current.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}) };
      await admission.replaceMutatingWebhookConfiguration({ name: "pod-dns-injector", body: failing });

      // The API server's own error, naming the webhook (the user-facing name, spelled out).
      const refusal = /failed calling webhook "pods\.pod-dns-injector\.io"/;
      // The API server sees the new policy asynchronously: dry-run until it refuses.
      let n = 0;
      await waitFor(
        "failurePolicy Fail to take effect",
        async () => {
          try {
            await createPod(core, NS.enabled, podManifest(`fail-probe-${n++}`), { dryRun: true });
            return { detail: "dry-run create still admitted" };
          } catch (err) {
            if (refusal.test(describeApiError(err))) return { value: true };
            throw err;
          }
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );

      await assert.rejects(createPod(core, NS.enabled, podManifest("webhook-down-fail")), (err: unknown) => {
        const message = describeApiError(err);
        assert.match(message, refusal);
        assert.equal(apiErrorCode(err), 500, message);
        return true;
      });
      assert.equal(await readPod(core, NS.enabled, "webhook-down-fail"), undefined, "the refused pod was stored");

      // matchConditions skip opted-out pods before the call: they survive the outage even with Fail.
      const optedOut = await createAndRead(NS.enabled, podManifest("opted-out-fail", { metadata: { labels: { [INJECT_LABEL]: "false" } } }));
      assertUntouched(optedOut.stored);
      // Namespaces the selector does not match are not affected either.
      assertUntouched((await createAndRead(NS.unlabeled, podManifest("webhook-down-fail"))).stored);
    }),
  );
});
