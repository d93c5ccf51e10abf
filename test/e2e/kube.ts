/**
 * Small client-node helpers for the end-to-end suites: namespaces that are ready for pods,
 * pod creation that also returns the API server's warnings, bounded waits, API errors.
 */
import { join } from "node:path";
import { setTimeout as delay } from "node:timers/promises";
import { ApiException, CoreV1Api, type V1Pod, type V1Service } from "@kubernetes/client-node";
import { DEFAULT_DNS_SERVICE, INJECTED_ANNOTATION, POLICY_INJECTION_MARK } from "../../config/names.js";
import type { ControlPlane } from "../control-plane/harness.js";
import { repoRoot } from "../unit/repo-root.js";

/** Options of {@link waitFor}; both bounds apply, whichever is hit first. */
export interface WaitOptions {
  timeoutMs?: number;
  intervalMs?: number;
  maxAttempts?: number;
}

/**
 * Polls `probe` until it returns a value other than undefined. A probe that throws counts as
 * a failed attempt (its message becomes the last detail), so transient API errors are retried.
 *
 * @throws Error naming `what`, the attempts made, and the last detail or error.
 */
export async function waitFor<T>(what: string, probe: () => Promise<{ value?: T; detail?: string | undefined }>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const intervalMs = options.intervalMs ?? 200;
  const maxAttempts = options.maxAttempts ?? Math.ceil(timeoutMs / intervalMs) + 1;
  const started = Date.now();
  let detail = "no attempt made";
  for (let attempt = 1; attempt <= maxAttempts; attempt++) {
    try {
      const result = await probe();
      if (result.value !== undefined) return result.value;
      detail = result.detail ?? "not yet";
    } catch (err) {
      detail = `error: ${describeApiError(err)}`;
    }
    if (Date.now() - started >= timeoutMs) break;
    await delay(intervalMs);
  }
  throw new Error(`timed out waiting for ${what} after ${Date.now() - started} ms (last: ${detail})`);
}

/** The API server's Status.message of an ApiException, else the error's message. */
export function describeApiError(err: unknown): string {
  if (err instanceof ApiException) {
    const body: unknown = err.body;
    let parsed: unknown = body;
    if (typeof body === "string") {
      try {
        parsed = JSON.parse(body);
      } catch {
        return `HTTP ${err.code}: ${body}`;
      }
    }
    const message = (parsed as { message?: unknown } | null)?.message;
    return `HTTP ${err.code}: ${typeof message === "string" ? message : JSON.stringify(parsed)}`;
  }
  return err instanceof Error ? err.message : String(err);
}

/** The HTTP status of an ApiException, else undefined. */
export function apiErrorCode(err: unknown): number | undefined {
  return err instanceof ApiException ? err.code : undefined;
}

/**
 * Creates a namespace with labels and annotations and, by default, waits for its `default`
 * ServiceAccount (made by kube-controller-manager): the ServiceAccount admission plugin
 * refuses pods in a namespace that does not have it yet.
 */
export async function createNamespace(
  core: CoreV1Api,
  name: string,
  options: { labels?: Record<string, string>; annotations?: Record<string, string>; waitForServiceAccount?: boolean } = {},
): Promise<void> {
  await core.createNamespace({ body: { metadata: { name, labels: options.labels ?? {}, annotations: options.annotations ?? {} } } });
  if (options.waitForServiceAccount === false) return;
  await waitFor(`ServiceAccount ${name}/default`, async () => {
    try {
      await core.readNamespacedServiceAccount({ name: "default", namespace: name });
      return { value: true };
    } catch (err) {
      if (apiErrorCode(err) === 404) return { detail: "not found" };
      throw err;
    }
  });
}

/** A minimal Pod (one pause container) with the given metadata and spec fields merged in. */
export function podManifest(name: string, extra: { metadata?: V1Pod["metadata"]; spec?: Partial<NonNullable<V1Pod["spec"]>> } = {}): V1Pod {
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: { name, ...extra.metadata },
    spec: { containers: [{ name: "pause", image: "registry.k8s.io/pause:3.10" }], ...extra.spec },
  };
}

/**
 * Dry-run creates of plain pods in `namespace` until one comes back as `accept` wants. The
 * API server's webhook and policy caches are informers: a webhook or policy just registered
 * takes a moment to apply. The detail of the last try names its annotations and dnsConfig.
 */
export function waitForDryRunPod(core: CoreV1Api, namespace: string, what: string, accept: (pod: V1Pod) => boolean, timeoutMs = 20_000): Promise<V1Pod> {
  let n = 0;
  return waitFor(
    what,
    async () => {
      const { pod } = await createPod(core, namespace, podManifest(`probe-${n++}`), { dryRun: true });
      return accept(pod) ? { value: pod } : { detail: `annotations ${JSON.stringify(pod.metadata?.annotations ?? {})}, dnsConfig ${JSON.stringify(pod.spec?.dnsConfig)}` };
    },
    { timeoutMs, intervalMs: 100 },
  );
}

/**
 * Deletes admission policies (`items`, as `policy render` renders them) and waits until a
 * dry-run pod in `namespace` no longer carries the policy's injection mark. kube-apiserver
 * compiles policies from an informer and kept applying deleted ones for ~0.8 s after
 * `kubectl delete --wait=true` returned, long enough for a next test's pods to meet them.
 * A registered webhook's annotation would hide the policy's: call this once it is gone.
 */
export async function deleteAdmissionPolicies(cp: ControlPlane, core: CoreV1Api, namespace: string, items: object[]): Promise<void> {
  const d = await cp.kubectl(["delete", "-f", "-", "--wait=true"], { input: JSON.stringify({ apiVersion: "v1", kind: "List", items }) });
  if (d.code !== 0) throw new Error(`kubectl delete of the admission policies failed: ${d.stderr}`);
  const policyMark = `@${POLICY_INJECTION_MARK}`;
  await waitForDryRunPod(
    core,
    namespace,
    "the API server to stop applying the deleted admission policies",
    (pod) => !(pod.metadata?.annotations?.[INJECTED_ANNOTATION] ?? "").endsWith(policyMark),
    30_000,
  );
}

/** A created (or dry-run) Pod as the API server returned it, with the warnings it sent. */
export interface CreatedPod {
  pod: V1Pod;
  warnings: string[];
}

/** Creates a pod and returns the stored object and the `Warning` headers' texts. */
export async function createPod(core: CoreV1Api, namespace: string, pod: V1Pod, options: { dryRun?: boolean } = {}): Promise<CreatedPod> {
  const res = await core.createNamespacedPodWithHttpInfo({ namespace, body: pod, ...(options.dryRun ? { dryRun: "All" } : {}) });
  return { pod: res.data, warnings: parseWarningHeader(res.headers.warning ?? res.headers.Warning) };
}

/** GET of a pod; undefined on 404. */
export async function readPod(core: CoreV1Api, namespace: string, name: string): Promise<V1Pod | undefined> {
  try {
    return await core.readNamespacedPod({ namespace, name });
  } catch (err) {
    if (apiErrorCode(err) === 404) return undefined;
    throw err;
  }
}

/**
 * The texts of an HTTP `Warning` header (RFC 7234 5.5: `299 - "text"`, several joined with
 * ", " by fetch). Parsed by the quoted strings, since a text may itself contain ", ".
 */
export function parseWarningHeader(value: string | undefined): string[] {
  if (!value) return [];
  const out: string[] = [];
  for (const m of value.matchAll(/\d{3}\s+\S+\s+"((?:[^"\\]|\\.)*)"/g)) out.push((m[1] as string).replace(/\\(.)/g, "$1"));
  return out;
}

/**
 * Wraps test bodies so that a failure prints the process logs first (CI then shows why):
 * `const withLogs = printingOnFailure(printLogs); it("...", withLogs(async () => ...))`.
 */
export function printingOnFailure(print: () => void): (fn: () => Promise<void>) => () => Promise<void> {
  return (fn) => async () => {
    try {
      await fn();
    } catch (err) {
      print();
      throw err;
    }
  };
}

/**
 * kube-system/kube-dns as kubeadm creates it (cmd/kubeadm/app/phases/addons/dns/manifests.go):
 * a fixed clusterIP, the CoreDNS labels and Prometheus annotations, dns/dns-tcp/metrics ports.
 */
export function kubeadmKubeDNS(clusterIP: string, extraLabels: Record<string, string> = {}): V1Service {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: {
      name: DEFAULT_DNS_SERVICE.name,
      namespace: DEFAULT_DNS_SERVICE.namespace,
      labels: { "k8s-app": "kube-dns", "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS", ...extraLabels },
      annotations: { "prometheus.io/port": "9153", "prometheus.io/scrape": "true" },
    },
    spec: {
      clusterIP,
      selector: { "k8s-app": "kube-dns" },
      ports: [
        { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
        { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
        { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 },
      ],
    },
  };
}

/**
 * Teardown of a suite with a webhook process and a control plane: the webhook may already be
 * stopped by a test or have died (its error is shown, not fatal), the control plane stops
 * whatever happened.
 */
export async function stopWebhookAndControlPlane(webhook: { stop(): Promise<unknown> } | undefined, cp: { stop(): Promise<unknown> } | undefined): Promise<void> {
  try {
    await webhook?.stop();
  } catch (err) {
    console.error(String(err));
  }
  await cp?.stop();
}

/**
 * Makes a control plane ready for server-side dry-runs of the install manifests (kustomize
 * or Helm): the namespaces their namespaced objects live in, cert-manager's CRDs (minimal
 * stand-ins) for the cert-manager variant and, when asked, the Prometheus Operator's real CRDs
 * for the monitoring overlay.
 *
 * @throws Error naming the kubectl command that failed, or the CRDs never being served.
 */
export async function prepareForManifestDryRuns(
  cp: Pick<ControlPlane, "kubectl">,
  namespaces: readonly string[],
  options: { prometheusOperatorCRDs?: boolean } = {},
): Promise<void> {
  for (const ns of namespaces) {
    const r = await cp.kubectl(["create", "namespace", ns]);
    if (r.code !== 0) throw new Error(`kubectl create namespace ${ns}: ${r.stderr}`);
  }
  const crdFiles: [string, string][] = [[join(repoRoot(), "test", "e2e", "fixtures", "cert-manager-crds.yaml"), "cert-manager.io"]];
  if (options.prometheusOperatorCRDs) {
    // The Prometheus Operator's real CRDs, generated from its Go types
    // (test/monitoring/build-prometheus-operator-crds.sh): the dry-run validates the
    // monitoring overlay's objects against their schemas, unknown fields included.
    const dir = process.env.POD_DNS_INJECTOR_TEST_PROMETHEUS_OPERATOR_CRDS;
    if (!dir) {
      throw new Error(
        "POD_DNS_INJECTOR_TEST_PROMETHEUS_OPERATOR_CRDS is not set: run through `npm run test:e2e`, or export it from `bash test/monitoring/build-prometheus-operator-crds.sh`",
      );
    }
    crdFiles.push(
      [join(dir, "monitoring.coreos.com_servicemonitors.yaml"), "monitoring.coreos.com"],
      [join(dir, "monitoring.coreos.com_prometheusrules.yaml"), "monitoring.coreos.com"],
    );
  }
  for (const [file, group] of crdFiles) {
    // Server-side: the operator's CRDs are too large for the last-applied annotation.
    const crds = await cp.kubectl(["apply", "--server-side", "-f", file]);
    if (crds.code !== 0) throw new Error(`kubectl apply --server-side -f ${file}: ${crds.stderr}`);
    await waitFor(`${group} CRDs established`, async () => {
      const r = await cp.kubectl(["get", "--raw", `/apis/${group}/v1`]);
      return r.code === 0 ? { value: true } : { detail: r.stderr };
    });
  }
}
