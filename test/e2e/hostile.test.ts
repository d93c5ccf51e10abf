/**
 * The real kube-apiserver as the judge of the webhook's output (issue 11): generated pods
 * (test/generative/pods.ts: random dnsPolicy, hostNetwork, nameservers, searches, options,
 * annotations near the 256 KiB limit, mirror and opt-out pods, stale injected annotations)
 * are created with a server-side dry run, first in a namespace the webhook does not serve,
 * then in an enabled one. Property: if the API server accepts the pod without us, it
 * accepts the pod we mutated too. A valid pod never becomes invalid.
 *
 * POD_DNS_INJECTOR_E2E_SAMPLE sets the number of pods (default 4,000; fixed seed, as the
 * unit properties, overridable with POD_DNS_INJECTOR_PROPERTY_SEED).
 */
import assert from "node:assert/strict";
import { Agent, request, type RequestOptions } from "node:https";
import { after, before, describe, it } from "node:test";
import fc from "fast-check";
import { AdmissionregistrationV1Api, CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION, INJECT_LABEL } from "../../config/names.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { propertyParams, typedPod, type GeneratedPod } from "../generative/pods.js";
import { createNamespace, createPod, kubeadmKubeDNS, podManifest, printingOnFailure, waitFor, stopWebhookAndControlPlane } from "./kube.js";
import { startWebhookProcess, sumMetric, type WebhookProcess } from "./webhook-process.js";

const PLAIN_NS = "gen-plain";
const ENABLED_NS = "gen-enabled";
const SAMPLE = Number(process.env.POD_DNS_INJECTOR_E2E_SAMPLE ?? "") || 4000;
const CONCURRENCY = 16;

interface DryRun {
  status: number;
  body: { metadata?: { annotations?: Record<string, string> }; spec?: { dnsPolicy?: string }; message?: string };
}

/** Raw JSON POSTs over one keep-alive agent: the pod goes to the API server exactly as generated. */
async function dryRunClient(kc: KubeConfig): Promise<{ create: (namespace: string, pod: GeneratedPod) => Promise<DryRun>; close: () => void }> {
  const server = new URL(kc.getCurrentCluster()?.server ?? "");
  const agent = new Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const base: RequestOptions = { hostname: server.hostname, port: server.port, agent, method: "POST", headers: { "content-type": "application/json" } };
  await kc.applyToHTTPSOptions(base);
  const create = (namespace: string, pod: GeneratedPod) =>
    new Promise<DryRun>((resolve, reject) => {
      const body = JSON.stringify(pod);
      const req = request(
        { ...base, path: `/api/v1/namespaces/${namespace}/pods?dryRun=All`, headers: { ...base.headers, "content-length": Buffer.byteLength(body) }, timeout: 30_000 },
        (res) => {
          const chunks: Buffer[] = [];
          res.on("data", (c: Buffer) => chunks.push(c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString("utf8")) as DryRun["body"] }));
          res.on("error", reject);
        },
      );
      req.on("timeout", () => req.destroy(new Error("dry-run create: no answer in 30 s")));
      req.on("error", reject);
      req.end(body);
    });
  return { create, close: () => agent.destroy() };
}

describe("the API server judges the webhook's output (generated pods, server-side dry runs)", () => {
  let cp: ControlPlane;
  let webhook: WebhookProcess | undefined;
  const printLogs = () => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(40) ?? "(not started)"}`);
    console.error(`--- webhook logs ---\n${webhook?.logTail(40) ?? "(not started)"}`);
  };
  const withLogs = printingOnFailure(printLogs);

  before(async () => {
    try {
      cp = await startControlPlane({ controllerManager: true, name: "e2e-hostile" });
      const kc = cp.kubeConfig();
      const core = kc.makeApiClient(CoreV1Api);
      await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS("10.96.0.10") });
      const [started] = await Promise.all([
        startWebhookProcess({
          kubeconfigPath: cp.kubeconfigPath,
          dir: cp.dir,
          name: "pod-dns-injector",
          logLevel: "warn",
          config: { guardian: { enabled: false }, audit: { enabled: false } },
        }),
        createNamespace(core, PLAIN_NS),
        createNamespace(core, ENABLED_NS, { labels: { [INJECT_LABEL]: "enabled" } }),
      ]);
      webhook = started;
      await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
        // Fail, so that a webhook failure shows as a refusal instead of passing unnoticed.
        body: buildMutatingWebhookConfiguration({ caBundlePem: webhook.caPem, url: webhook.mutateUrl, failurePolicy: "Fail", timeoutSeconds: 10 }),
      });
      let n = 0;
      await waitFor(
        "the MutatingWebhookConfiguration to take effect",
        async () => {
          const { pod } = await createPod(core, ENABLED_NS, podManifest(`probe-${n++}`), { dryRun: true });
          return pod.metadata?.annotations?.[INJECTED_ANNOTATION] ? { value: true } : { detail: "not injected yet" };
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
    } catch (err) {
      printLogs();
      throw err;
    }
  });

  after(async () => {
    await stopWebhookAndControlPlane(webhook, cp);
  });

  it(
    `a pod the API server accepts without the webhook is accepted after it (${SAMPLE} generated pods)`,
    withLogs(async () => {
      const { seed } = propertyParams(SAMPLE);
      // Half with any content, half with valid entries: enough pods the API server accepts.
      const pods = fc.sample(fc.oneof(typedPod({ withContainers: true }), typedPod({ withContainers: true, validContent: true })), { seed, numRuns: SAMPLE });
      const client = await dryRunClient(cp.kubeConfig());
      const tally = { dryRuns: 0, validWithout: 0, invalidWithout: 0, injected: 0, unchanged: 0 };
      const broken: string[] = [];
      const started = Date.now();
      try {
        let next = 0;
        const worker = async () => {
          for (let i = next++; i < pods.length; i = next++) {
            const pod = pods[i] as GeneratedPod;
            const without = await client.create(PLAIN_NS, pod);
            tally.dryRuns++;
            if (without.status !== 201) {
              assert.ok([400, 422].includes(without.status), `pod ${i}: HTTP ${without.status} ${without.body.message ?? ""}`);
              tally.invalidWithout++;
              continue;
            }
            tally.validWithout++;
            const withUs = await client.create(ENABLED_NS, pod);
            tally.dryRuns++;
            if (withUs.status !== 201) {
              broken.push(`pod ${i}: HTTP ${withUs.status}: ${withUs.body.message?.slice(0, 300)}\n  ${JSON.stringify(pod).slice(0, 600)}`);
              continue;
            }
            const before = pod.metadata?.annotations as Record<string, string> | undefined;
            const after = withUs.body.metadata?.annotations?.[INJECTED_ANNOTATION];
            if (after !== undefined && after !== before?.[INJECTED_ANNOTATION]) tally.injected++;
            else tally.unchanged++;
          }
        };
        await Promise.all(Array.from({ length: CONCURRENCY }, worker));
      } finally {
        client.close();
      }
      const seconds = (Date.now() - started) / 1000;
      console.log(
        `generated pods: ${SAMPLE}, API-server dry runs: ${tally.dryRuns} in ${seconds.toFixed(1)} s; valid without the webhook: ${tally.validWithout} (injected ${tally.injected}, unchanged ${tally.unchanged}); invalid without it: ${tally.invalidWithout}`,
      );
      assert.deepEqual(broken, [], `${broken.length} valid pods were made invalid`);
      // The sample must exercise both sides, or the property proves little.
      assert.ok(tally.injected > SAMPLE / 10, `only ${tally.injected} injected`);
      assert.ok(tally.validWithout > SAMPLE / 4 && tally.invalidWithout > SAMPLE / 20, JSON.stringify(tally));
      const metrics = await webhook!.metrics();
      assert.equal(sumMetric(metrics, "pod_dns_injector_admission_internal_errors_total"), 0);
      assert.equal(sumMetric(metrics, "pod_dns_injector_admission_malformed_total"), 0);
    }),
  );
});
