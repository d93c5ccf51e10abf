/**
 * The cluster of `npm run bench:e2e`: one control plane in which the three configurations
 * live side by side, each in its own namespace, so that they can be measured in alternating
 * rounds of the same run (background load on the shared machine then weighs on all three
 * alike):
 *
 * - `none`: a namespace that is not opted in: neither our webhook nor our policies apply
 *   (the API server still checks their selectors, as in any cluster that has them);
 * - `webhook`: an opted-in namespace served by a `pod-dns-injector serve` process,
 *   registered by the MutatingWebhookConfiguration the manifests ship (clientConfig.url +
 *   caBundle);
 * - `policy`: an opted-in namespace where the objects of
 *   `renderAdmissionPolicies(defaultSettings())` inject (MutatingAdmissionPolicy, and the
 *   ValidatingAdmissionPolicy that checks the result), applied with `kubectl apply
 *   --server-side`.
 *
 * The only change to the shipped objects: each namespaceSelector gets one more term,
 * `kubernetes.io/metadata.name In [its namespace]`, so that the webhook and the policy do not
 * both act on one namespace. The API server evaluates that term with the same label-selector
 * code as the others; it costs the same in every configuration.
 */
import { AdmissionregistrationV1Api, CoreV1Api } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION, INJECT_LABEL, NAMESPACE_NAME_LABEL, POLICY_INJECTION_MARK } from "../config/names.js";
import { defaultSettings } from "../config/settings.js";
import { renderAdmissionPolicies } from "../policy/render.js";
import type { ControlPlane } from "../test/control-plane/harness.js";
import { createNamespace, kubeadmKubeDNS, waitFor } from "../test/e2e/kube.js";
import { startWebhookProcess, type WebhookProcess } from "../test/e2e/webhook-process.js";
import { buildMutatingWebhookConfiguration } from "../webhook/registration.js";
import { NODE_RUNTIME_FLAGS } from "../image/product-image.js";
import { benchPod } from "./fixtures.js";
import { DryRunPool, type DryRunCheck } from "./kube-dry-run.js";

export const CONFIGS = ["none", "webhook", "policy"] as const;
export type Config = (typeof CONFIGS)[number];

export const CONFIG_NAMES: Record<Config, string> = { none: "no admission", webhook: "webhook", policy: "in-tree policy" };
export const NAMESPACES: Record<Config, string> = { none: "bench-none", webhook: "bench-webhook", policy: "bench-policy" };
export const DNS_IP = "10.96.0.10";

type Json = Record<string, unknown>;

/** The bench pod's own ServiceAccount: the ServiceAccount admission plugin refuses pods without it. */
const POD_SERVICE_ACCOUNT = (benchPod().spec as { serviceAccountName: string }).serviceAccountName;

const injected = (body: string) => body.includes(`"${INJECTED_ANNOTATION}":`);
const noWarning = (headers: NodeJS.Dict<string | string[]>) => headers.warning === undefined;
const dnsOf = (body: string) => body.includes(`"dnsPolicy":"None"`) && body.includes(`"nameservers":["${DNS_IP}"]`);
const WEBHOOK_MARK = new RegExp(`"${INJECTED_ANNOTATION.replaceAll(".", "\\.")}":"default@[0-9a-f]{10}"`);

/** What each configuration's answer must be: every measured create is checked. */
export const CHECKS: Record<Config, DryRunCheck> = {
  none: (body, headers) => !injected(body) && body.includes(`"dnsPolicy":"ClusterFirst"`) && noWarning(headers),
  webhook: (body, headers) => WEBHOOK_MARK.test(body) && dnsOf(body) && noWarning(headers),
  policy: (body, headers) => body.includes(`"${INJECTED_ANNOTATION}":"default@${POLICY_INJECTION_MARK}"`) && dnsOf(body) && noWarning(headers),
};

/** `selector` with one more term: only `namespace`. */
function onlyIn(selector: unknown, namespace: string): Json {
  const s = (selector ?? {}) as { matchExpressions?: unknown[] };
  return { ...s, matchExpressions: [...(s.matchExpressions ?? []), { key: NAMESPACE_NAME_LABEL, operator: "In", values: [namespace] }] };
}

/** The shipped MutatingWebhookConfiguration for a URL-registered webhook, limited to the webhook's namespace. */
export function webhookRegistration(webhook: WebhookProcess): Json {
  const cfg = buildMutatingWebhookConfiguration({ caBundlePem: webhook.caPem, url: webhook.mutateUrl });
  const hooks = cfg.webhooks as Json[];
  return { ...cfg, webhooks: hooks.map((h) => ({ ...h, namespaceSelector: onlyIn(h.namespaceSelector, NAMESPACES.webhook) })) };
}

/** `renderAdmissionPolicies(defaultSettings())`, the bindings limited to the policy's namespace. */
export function policyObjects(): Json[] {
  return renderAdmissionPolicies(defaultSettings()).map((o) => {
    if (typeof o.kind !== "string" || !o.kind.endsWith("Binding")) return o;
    const spec = o.spec as { matchResources: Json };
    return { ...o, spec: { ...spec, matchResources: { ...spec.matchResources, namespaceSelector: onlyIn(spec.matchResources.namespaceSelector, NAMESPACES.policy) } } };
  });
}

/** The pod every create sends, in `config`'s namespace (generateName: the API server names it). */
export function podBody(config: Config): string {
  const pod = benchPod() as { metadata: Json };
  return JSON.stringify({ ...pod, metadata: { ...pod.metadata, namespace: NAMESPACES[config] } });
}

export function dryRunPool(cp: ControlPlane, config: Config, sockets: number): DryRunPool {
  return new DryRunPool(
    {
      server: cp.server,
      tls: { ca: cp.caPem, cert: cp.pki.admin.certPem, key: cp.pki.admin.keyPem },
      namespace: NAMESPACES[config],
      body: podBody(config),
      verify: CHECKS[config],
    },
    sockets,
  );
}

/** kube-dns (the webhook's and the policy's DNS IP), the three namespaces and the pod's ServiceAccount in each. */
export async function createObjects(cp: ControlPlane): Promise<void> {
  const core = cp.kubeConfig().makeApiClient(CoreV1Api);
  await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS(DNS_IP) });
  for (const config of CONFIGS) {
    const labels: Record<string, string> = config === "none" ? {} : { [INJECT_LABEL]: "enabled" };
    await createNamespace(core, NAMESPACES[config], { labels, waitForServiceAccount: false });
    await core.createNamespacedServiceAccount({ namespace: NAMESPACES[config], body: { metadata: { name: POD_SERVICE_ACCOUNT } } });
  }
}

/** The `serve` process as the image runs it (its Node flags, `logLevel`), with a kubeconfig. */
export function startWebhook(cp: ControlPlane, logLevel: string): Promise<WebhookProcess> {
  return startWebhookProcess({
    kubeconfigPath: cp.kubeconfigPath,
    dir: cp.dir,
    name: "pod-dns-injector",
    logLevel: logLevel as "info",
    nodeFlags: [...NODE_RUNTIME_FLAGS],
  });
}

export async function registerWebhook(cp: ControlPlane, webhook: WebhookProcess): Promise<void> {
  const admission = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
  await admission.createMutatingWebhookConfiguration({ body: webhookRegistration(webhook) });
}

export async function applyPolicies(cp: ControlPlane): Promise<void> {
  const input = JSON.stringify({ apiVersion: "v1", kind: "List", items: policyObjects() });
  const r = await cp.kubectl(["apply", "--server-side", "--field-manager=pod-dns-injector", "-f", "-"], { input });
  if (r.code !== 0) throw new Error(`kubectl apply --server-side of the policy objects: ${r.stderr}`);
}

/**
 * Dry-run creates until one is answered as `config` must be: the API server's webhook and
 * policy caches are informers, so a new registration takes effect a moment later.
 */
export function waitUntilEffective(pool: DryRunPool, config: Config): Promise<true> {
  return waitFor(
    `${CONFIG_NAMES[config]} in ${NAMESPACES[config]} to take effect`,
    async () => {
      const r = await pool.once();
      return r.outcome === "ok" ? { value: true as const } : { detail: `${r.outcome} ${r.status}: ${r.body.slice(0, 600)}` };
    },
    { timeoutMs: 30_000, intervalMs: 100 },
  );
}
