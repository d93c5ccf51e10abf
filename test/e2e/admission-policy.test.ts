/**
 * In-tree admission against the real API server: `policy render`'s objects apply cleanly,
 * and every golden inject case (and a few that need namespace annotations: a namespace
 * profile, allowed-profiles), created once through the webhook (serve process +
 * MutatingWebhookConfiguration) and once through the MutatingAdmissionPolicy alone, is
 * stored the same, except exactly the cases policy/differences.ts lists. Then the policy
 * follows a kube-dns IP change (its parameter is the Service itself) and the
 * ValidatingAdmissionPolicy warns on, or with --validation deny refuses, a pod whose final
 * DNS does not conform.
 */
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, CoreV1Api, type V1Pod } from "@kubernetes/client-node";
import { parseAllDocuments } from "yaml";
import { ALLOWED_PROFILES_ANNOTATION, INJECTED_ANNOTATION, INJECT_LABEL, NDOTS_ANNOTATION, POLICY_INJECTION_MARK, PROFILE_ANNOTATION } from "../../config/names.js";
import { defaultSettings } from "../../config/settings.js";
import { POLICY_DIFFERENCES, goldenCaseKey } from "../../policy/differences.js";
import { renderAdmissionPolicies, type ValidationMode } from "../../policy/render.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { findPodTemplate, type ManifestObject } from "../../webhook/workloads.js";
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
  stopWebhookAndControlPlane,
  waitFor,
  waitForDryRunPod,
} from "./kube.js";
import { startWebhookProcess, type WebhookProcess } from "./webhook-process.js";

const DNS_IP = "10.96.0.10";
const NEW_DNS_IP = "10.96.0.53";
const GOLDEN_NS = "team-a";
/** A namespace on the built-in node-local-dns profile (nameserver tokens, issue 14 items 1-2). */
const NODE_LOCAL_NS = "team-node-local";
const NODE_LOCAL_CASE = "node-local-dns profile";
/**
 * Per-workload profiles (issue 14 item 7) under allowed-profiles, in two namespaces (the
 * default settings have two profiles): one lists node-local-dns; the other lists only a name
 * that is no profile, so just its own profile (default, tuned to ndots 2) is allowed.
 */
const LISTS_NODE_LOCAL_NS = "team-lists-node-local";
const OWN_ONLY_NS = "team-own-profile-only";
const NAMESPACE_ANNOTATIONS: Record<string, Record<string, string>> = {
  [NODE_LOCAL_NS]: { [PROFILE_ANNOTATION]: "node-local-dns" },
  [LISTS_NODE_LOCAL_NS]: { [ALLOWED_PROFILES_ANNOTATION]: "node-local-dns, nope" },
  [OWN_ONLY_NS]: { [ALLOWED_PROFILES_ANNOTATION]: "nope", [NDOTS_ANNOTATION]: "2" },
};
const PICK_CASES = [
  { key: "allowed-profiles: a listed pick", namespace: LISTS_NODE_LOCAL_NS, annotations: { [PROFILE_ANNOTATION]: "node-local-dns" } },
  { key: "allowed-profiles: an unlisted pick falls back", namespace: OWN_ONLY_NS, annotations: { [PROFILE_ANNOTATION]: "node-local-dns" } },
  {
    key: "allowed-profiles: the namespace's own profile, as configured, with the pod's ndots",
    namespace: OWN_ONLY_NS,
    annotations: { [PROFILE_ANNOTATION]: "default", [NDOTS_ANNOTATION]: "3" },
  },
] as const;
const goldenDir = join(repoRoot(), "test", "golden", "inject");

/** A golden document that is (or holds) a pod: the Pod the API server is asked to create. */
interface GoldenCase {
  key: string;
  namespace: string;
  pod: V1Pod;
}

function goldenCases(): GoldenCase[] {
  const cases: GoldenCase[] = [];
  for (const file of readdirSync(goldenDir)
    .filter((f) => f.endsWith(".yaml"))
    .sort()) {
    const docs = parseAllDocuments(readFileSync(join(goldenDir, file), "utf8")).map((d) => d.toJS() as ManifestObject | null);
    docs.forEach((doc, i) => {
      if (!doc) return;
      const found = findPodTemplate(doc);
      if (found.kind !== "pod-template") return;
      const template = structuredClone(found.template) as V1Pod;
      const namespace = typeof doc.metadata?.namespace === "string" ? doc.metadata.namespace : GOLDEN_NS;
      const name = `${file.replace(/\.yaml$/, "")}-${i + 1}`;
      const metadata = { ...(template.metadata ?? {}), name, namespace };
      delete metadata.generateName;
      cases.push({ key: goldenCaseKey(file, i), namespace, pod: { ...template, apiVersion: "v1", kind: "Pod", metadata } });
    });
  }
  // Not a golden file (offline inject has no namespace annotations): the same plain pod in a
  // namespace that asks for the built-in node-local-dns profile.
  const plain = podManifest("node-local-plain");
  cases.push({ key: NODE_LOCAL_CASE, namespace: NODE_LOCAL_NS, pod: { ...plain, metadata: { ...plain.metadata, namespace: NODE_LOCAL_NS } } });
  PICK_CASES.forEach((c, i) =>
    cases.push({ key: c.key, namespace: c.namespace, pod: podManifest(`pick-${i + 1}`, { metadata: { namespace: c.namespace, annotations: { ...c.annotations } } }) }),
  );
  return cases;
}

/** The stored pod without what differs by creation (name, uid, times, token volume) or by the annotation's hash. */
function comparable(pod: V1Pod): unknown {
  const p = JSON.parse(JSON.stringify(pod)) as V1Pod;
  const m = p.metadata ?? {};
  for (const k of ["name", "uid", "creationTimestamp", "resourceVersion", "managedFields", "generation"] as const) delete m[k];
  const injected = m.annotations?.[INJECTED_ANNOTATION];
  if (m.annotations && injected !== undefined) m.annotations[INJECTED_ANNOTATION] = `${injected.slice(0, injected.lastIndexOf("@"))}@…`;
  // The ServiceAccount admission plugin names the token volume randomly.
  return JSON.parse(JSON.stringify(p).replace(/kube-api-access-[a-z0-9]{5}/g, "kube-api-access-…")) as unknown;
}

describe("in-tree admission (MutatingAdmissionPolicy + ValidatingAdmissionPolicy) on kube-apiserver", () => {
  let cp: ControlPlane | undefined;
  let webhook: WebhookProcess | undefined;
  let core: CoreV1Api;
  let admission: AdmissionregistrationV1Api;
  const cases = goldenCases();
  const stored = { webhook: new Map<string, V1Pod>(), policy: new Map<string, V1Pod>() };

  const printLogs = () => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(60) ?? "(not started)"}`);
    console.error(`--- webhook logs ---\n${webhook?.logTail(40) ?? "(not started)"}`);
  };
  const withLogs = printingOnFailure(printLogs);

  async function applyPolicies(validation: ValidationMode = "warn"): Promise<void> {
    const objects = renderAdmissionPolicies(defaultSettings(), { validation });
    const r = await cp!.kubectl(["apply", "--server-side", "--field-manager=pod-dns-injector", "-f", "-"], {
      input: JSON.stringify({ apiVersion: "v1", kind: "List", items: objects }),
    });
    assert.equal(r.code, 0, `kubectl apply of policy render's objects: ${r.stderr}`);
  }

  /** Dry-run creates of a plain pod until one satisfies `accept` (the API server's policy and webhook caches are informers). */
  const waitForProbe = (what: string, accept: (pod: V1Pod) => boolean): Promise<V1Pod> => waitForDryRunPod(core, GOLDEN_NS, what, accept);

  async function createAll(phase: "webhook" | "policy"): Promise<void> {
    for (const c of cases) {
      const pod = structuredClone(c.pod);
      pod.metadata!.name = `${pod.metadata!.name}-${phase[0]}`;
      await createPod(core, c.namespace, pod);
      const back = await readPod(core, c.namespace, pod.metadata!.name);
      assert.ok(back, `${c.key}: pod not stored`);
      stored[phase].set(c.key, back);
    }
  }

  const injectedBy = (pod: V1Pod | undefined) => pod?.metadata?.annotations?.[INJECTED_ANNOTATION];

  before(async () => {
    try {
      cp = await startControlPlane({ controllerManager: true, name: "e2e-policy" });
      const kc = cp.kubeConfig();
      core = kc.makeApiClient(CoreV1Api);
      admission = kc.makeApiClient(AdmissionregistrationV1Api);
      await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS(DNS_IP) });
      const [started] = await Promise.all([
        startWebhookProcess({ kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, name: "pod-dns-injector", config: { guardian: { enabled: false } } }),
        // Offline inject (the golden outputs) treats every namespace as enabled; so do we.
        ...[...new Set([GOLDEN_NS, ...cases.map((c) => c.namespace)])]
          .filter((ns) => ns !== "kube-system")
          .map((ns) => createNamespace(core, ns, { labels: { [INJECT_LABEL]: "enabled" }, annotations: NAMESPACE_ANNOTATIONS[ns] ?? {} })),
      ]);
      webhook = started;
    } catch (err) {
      printLogs();
      throw err;
    }
  });

  after(async () => {
    await stopWebhookAndControlPlane(webhook, cp);
  });

  it(
    "stores every golden case through the webhook (the reference)",
    withLogs(async () => {
      assert.ok(cases.length >= 10, `golden cases found: ${cases.length}`);
      await admission.createMutatingWebhookConfiguration({
        body: buildMutatingWebhookConfiguration({ caBundlePem: webhook!.caPem, url: webhook!.mutateUrl, failurePolicy: "Fail" }),
      });
      try {
        await waitForProbe("the webhook to take effect", (pod) => /@[0-9a-f]{10}$/.test(injectedBy(pod) ?? ""));
        await createAll("webhook");
      } finally {
        await admission.deleteMutatingWebhookConfiguration({ name: "pod-dns-injector" });
        await webhook!.stop();
        webhook = undefined;
      }
    }),
  );

  it(
    "policy render's objects apply cleanly (server-side apply) and inject by the policy alone",
    withLogs(async () => {
      await applyPolicies();
      for (const kind of ["mutatingadmissionpolicies", "mutatingadmissionpolicybindings", "validatingadmissionpolicies", "validatingadmissionpolicybindings"]) {
        const r = await cp!.kubectl(["get", kind, "-o", "name"]);
        assert.match(r.stdout, /pod-dns-injector\./, `${kind}: ${r.stderr}`);
      }
      const probe = await waitForProbe("the MutatingAdmissionPolicy to take effect", (pod) => injectedBy(pod) === `default@${POLICY_INJECTION_MARK}`);
      assert.deepEqual(JSON.parse(JSON.stringify(probe.spec?.dnsConfig)), {
        nameservers: [DNS_IP],
        searches: [`${GOLDEN_NS}.svc.cluster.local`, "svc.cluster.local", "cluster.local"],
        options: [{ name: "ndots", value: "5" }],
      });
      await createAll("policy");
    }),
  );

  it(
    "stores the same pods as the webhook in every case but those policy/differences.ts lists",
    withLogs(async () => {
      const differing: string[] = [];
      let injectedBoth = 0;
      for (const c of cases) {
        const w = stored.webhook.get(c.key);
        const p = stored.policy.get(c.key);
        assert.ok(w && p, `${c.key}: not stored in both modes`);
        if (injectedBy(w) !== undefined && injectedBy(p) !== undefined) injectedBoth++;
        const same = JSON.stringify(comparable(w)) === JSON.stringify(comparable(p));
        if (!same) differing.push(c.key);
        if (!same && !(c.key in POLICY_DIFFERENCES)) {
          assert.deepEqual(
            comparable(p),
            comparable(w),
            `${c.key}: a new difference between the policy (actual) and the webhook (expected); fix the policy or list it in policy/differences.ts and the README`,
          );
        }
      }
      // Equal because both injected, not because neither did.
      assert.ok(injectedBoth >= 5, `cases injected by both: ${injectedBoth}`);
      assert.deepEqual(differing.sort(), Object.keys(POLICY_DIFFERENCES).sort(), "cases that differ vs policy/differences.ts");
      for (const c of cases) {
        const p = injectedBy(stored.policy.get(c.key));
        if (p !== undefined && p !== injectedBy(c.pod)) assert.match(p, new RegExp(`@${POLICY_INJECTION_MARK}$`), `${c.key}: ${INJECTED_ANNOTATION}`);
      }
    }),
  );

  it(
    "the node-local-dns profile: the node cache first, the live DNS IP as fallback, short timeouts, in both modes",
    withLogs(async () => {
      const expected = {
        nameservers: ["169.254.20.10", DNS_IP],
        searches: [`${NODE_LOCAL_NS}.svc.cluster.local`, "svc.cluster.local", "cluster.local"],
        options: [
          { name: "ndots", value: "5" },
          { name: "timeout", value: "1" },
          { name: "attempts", value: "2" },
        ],
      };
      for (const mode of ["webhook", "policy"] as const) {
        const pod = stored[mode].get(NODE_LOCAL_CASE);
        assert.equal(pod?.spec?.dnsPolicy, "None", mode);
        assert.deepEqual(JSON.parse(JSON.stringify(pod?.spec?.dnsConfig)), expected, mode);
        assert.match(injectedBy(pod) ?? "", /^node-local-dns@/, mode);
      }
    }),
  );

  it(
    "pods pick profiles within allowed-profiles, and fall back to the namespace's outside it, in both modes",
    withLogs(async () => {
      const searches = (ns: string) => [`${ns}.svc.cluster.local`, "svc.cluster.local", "cluster.local"];
      const expected = [
        {
          profile: "node-local-dns",
          dnsConfig: {
            nameservers: ["169.254.20.10", DNS_IP],
            searches: searches(LISTS_NODE_LOCAL_NS),
            options: [
              { name: "ndots", value: "5" },
              { name: "timeout", value: "1" },
              { name: "attempts", value: "2" },
            ],
          },
        },
        // The namespace's profile as the namespace tunes it.
        { profile: "default", dnsConfig: { nameservers: [DNS_IP], searches: searches(OWN_ONLY_NS), options: [{ name: "ndots", value: "2" }] } },
        // A pick comes as configured; the pod's ndots wins.
        { profile: "default", dnsConfig: { nameservers: [DNS_IP], searches: searches(OWN_ONLY_NS), options: [{ name: "ndots", value: "3" }] } },
      ];
      for (const mode of ["webhook", "policy"] as const) {
        PICK_CASES.forEach((c, i) => {
          const pod = stored[mode].get(c.key);
          assert.deepEqual(JSON.parse(JSON.stringify(pod?.spec?.dnsConfig)), expected[i]!.dnsConfig, `${mode}: ${c.key}`);
          assert.match(injectedBy(pod) ?? "", new RegExp(`^${expected[i]!.profile}@`), `${mode}: ${c.key}`);
        });
      }
    }),
  );

  it(
    "follows the live kube-dns IP: deleted and recreated on another IP, new pods get the new one",
    withLogs(async () => {
      await core.deleteNamespacedService({ namespace: "kube-system", name: "kube-dns" });
      // No Service: the binding's parameter is missing, pods are admitted unchanged.
      await waitForProbe("pods admitted unchanged without kube-dns", (pod) => injectedBy(pod) === undefined && pod.spec?.dnsPolicy === "ClusterFirst");
      await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS(NEW_DNS_IP) });
      const pod = await waitForProbe(`the policy to use ${NEW_DNS_IP}`, (p) => p.spec?.dnsConfig?.nameservers?.[0] === NEW_DNS_IP);
      assert.equal(injectedBy(pod), `default@${POLICY_INJECTION_MARK}`);
    }),
  );

  it(
    "the ValidatingAdmissionPolicy warns on a final state that does not conform; with --validation deny it refuses it",
    withLogs(async () => {
      const stale = podManifest("stale-dns", {
        metadata: { annotations: { [INJECTED_ANNOTATION]: "default@0123456789" } },
        spec: { dnsPolicy: "None", dnsConfig: { nameservers: [DNS_IP], searches: [`${GOLDEN_NS}.svc.cluster.local`, "svc.cluster.local", "cluster.local"] } },
      });
      const warned = await createPod(core, GOLDEN_NS, stale, { dryRun: true });
      assert.ok(
        warned.warnings.some((w) => w.includes(`the pod's first nameserver is ${DNS_IP}, expected ${NEW_DNS_IP}`)),
        `warnings: ${JSON.stringify(warned.warnings)}`,
      );
      await applyPolicies("deny");
      const message = await waitFor(
        "the deny binding to take effect",
        async () => {
          try {
            await createPod(core, GOLDEN_NS, stale, { dryRun: true });
            return { detail: "still admitted" };
          } catch (err) {
            if (apiErrorCode(err) !== 422) throw err;
            return { value: describeApiError(err) };
          }
        },
        { timeoutMs: 20_000, intervalMs: 100 },
      );
      assert.match(message, /first nameserver is 10\.96\.0\.10, expected 10\.96\.0\.53/);
      // A pod the policy injects passes its own validation.
      const fresh = await createPod(core, GOLDEN_NS, podManifest("fresh"), { dryRun: true });
      assert.equal(fresh.pod.spec?.dnsConfig?.nameservers?.[0], NEW_DNS_IP);
      assert.deepEqual(fresh.warnings, []);
    }),
  );
});
