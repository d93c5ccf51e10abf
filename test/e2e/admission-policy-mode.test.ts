/**
 * `admission.mode: policy` as the overlay installs it, on the real API server: the injector
 * runs as its ServiceAccount with exactly the RBAC `kubectl kustomize
 * manifests/overlays/admission-policy` renders, and its leader applies the in-tree
 * admission objects (server-side apply, field manager pod-dns-injector). Pods are injected
 * by the API server alone (no MutatingWebhookConfiguration exists), a deleted policy is put
 * back, /readyz and /metrics name the mode, and the injector is never refused. Then each
 * rule of the overlay's policy ClusterRole is removed in turn: the API server's authorizer
 * must then deny a request the keeper makes, so no rule is unused.
 */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, AuthorizationV1Api, CoreV1Api, RbacAuthorizationV1Api, type V1PolicyRule } from "@kubernetes/client-node";
import { parseAllDocuments, stringify } from "yaml";
import { INJECTED_ANNOTATION, INJECT_LABEL, POLICY_INJECTION_MARK } from "../../config/names.js";
import { POLICY_NAMES } from "../../policy/render.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { repoRoot } from "../unit/repo-root.js";
import { createNamespace, createPod, kubeadmKubeDNS, podManifest, printingOnFailure, waitFor } from "./kube.js";
import { startWebhookProcess, sumMetric, type WebhookProcess } from "./webhook-process.js";

const NS = "pod-dns-injector";
const SA_USER = `system:serviceaccount:${NS}:pod-dns-injector`;
const ROLE = "pod-dns-injector-admission-policies";
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML, read field by field
type Obj = Record<string, any>;

/** The requests the keeper makes (and the API server's own checks on whoever makes them). */
const KEEPER_REQUESTS = [
  ...["mutatingadmissionpolicies", "mutatingadmissionpolicybindings"].flatMap((resource) => [
    { verb: "create", group: "admissionregistration.k8s.io", resource, name: POLICY_NAMES.mutating },
    { verb: "patch", group: "admissionregistration.k8s.io", resource, name: POLICY_NAMES.mutating },
  ]),
  ...["validatingadmissionpolicies", "validatingadmissionpolicybindings"].flatMap((resource) => [
    { verb: "create", group: "admissionregistration.k8s.io", resource, name: POLICY_NAMES.validating },
    { verb: "patch", group: "admissionregistration.k8s.io", resource, name: POLICY_NAMES.validating },
  ]),
  // A binding's writer must be able to read its policy; a policy's writer every paramKind object.
  { verb: "get", group: "admissionregistration.k8s.io", resource: "mutatingadmissionpolicies", name: POLICY_NAMES.mutating },
  { verb: "get", group: "admissionregistration.k8s.io", resource: "validatingadmissionpolicies", name: POLICY_NAMES.validating },
  { verb: "get", group: "", resource: "services", name: "" },
];

describe("admission.mode policy with the admission-policy overlay's RBAC", () => {
  let cp: ControlPlane;
  let work: string;
  let webhook: WebhookProcess | undefined;
  let core: CoreV1Api;
  let policyRole: Obj;
  const withLogs = printingOnFailure(() => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(40) ?? "(not started)"}`);
    console.error(`--- injector logs ---\n${webhook?.logTail(60) ?? "(not started)"}`);
  });

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "pdi-policy-mode-"));
    cp = await startControlPlane({ controllerManager: true, name: "policy-mode" });
    const admin = cp.kubeConfig();
    core = admin.makeApiClient(CoreV1Api);
    const rendered = await cp.kubectl(["kustomize", join(repoRoot(), "manifests", "overlays", "admission-policy")]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const objects = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJS() as Obj)
      .filter(Boolean);
    assert.equal(objects.filter((o) => o.kind === "MutatingWebhookConfiguration").length, 0, "the overlay installs no MutatingWebhookConfiguration");
    const rbac = objects.filter((o) => ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind as string));
    policyRole = rbac.find((o) => o.kind === "ClusterRole" && o.metadata.name === ROLE)!;
    assert.ok(policyRole, `the overlay renders ClusterRole ${ROLE}`);
    const applied = await cp.kubectl(["apply", "--server-side", "--field-manager=policy-mode-test", "-f", "-"], { input: rbac.map((o) => stringify(o)).join("---\n") });
    assert.equal(applied.code, 0, applied.stderr);
    await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS("10.96.0.10") });
    await createNamespace(core, "team", { labels: { [INJECT_LABEL]: "enabled" } });

    const token = await cp.kubectl(["create", "token", "pod-dns-injector", "-n", NS, "--duration=1h"]);
    assert.equal(token.code, 0, token.stderr);
    const kc = parseAllDocuments(readFileSync(cp.kubeconfigPath, "utf8"))[0]!.toJS() as Obj;
    kc.users = [{ name: "sa", user: { token: token.stdout.trim() } }];
    kc.contexts = [{ name: "sa", context: { cluster: kc.clusters[0].name, user: "sa" } }];
    kc["current-context"] = "sa";
    const saKubeconfig = join(work, "sa-kubeconfig");
    writeFileSync(saKubeconfig, stringify(kc), { mode: 0o600 });
    webhook = await startWebhookProcess({
      kubeconfigPath: saKubeconfig,
      dir: work,
      name: "injector-policy-mode",
      ensureInjectorNamespace: false,
      config: {
        admission: { mode: "policy" },
        guardian: { resyncSeconds: 1, leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.5 },
        audit: { enabled: false },
      },
    });
  });

  after(async () => {
    await webhook?.stop().catch((err: unknown) => console.error(String(err)));
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it(
    "the leader applies the policies; the API server injects with no webhook registered; a deleted policy comes back",
    withLogs(async () => {
      const probe = () =>
        waitFor(
          "a pod injected by the MutatingAdmissionPolicy",
          async () => {
            const { pod } = await createPod(core, "team", podManifest(`p-${Date.now()}`), { dryRun: true });
            const a = pod.metadata?.annotations?.[INJECTED_ANNOTATION];
            return a === `default@${POLICY_INJECTION_MARK}` ? { value: pod } : { detail: `annotation ${a ?? "(none)"}` };
          },
          { timeoutMs: 30_000, intervalMs: 200 },
        );
      const pod = await probe();
      assert.deepEqual(pod.spec?.dnsConfig?.nameservers, ["10.96.0.10"]);
      const reg = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
      assert.equal((await reg.listMutatingWebhookConfiguration()).items.length, 0);
      const map = await reg.readMutatingAdmissionPolicy({ name: POLICY_NAMES.mutating });
      assert.ok(
        map.metadata?.managedFields?.some((f) => f.manager === "pod-dns-injector" && f.operation === "Apply"),
        "applied server-side by pod-dns-injector",
      );

      await reg.deleteMutatingAdmissionPolicy({ name: POLICY_NAMES.mutating });
      await waitFor(
        "the keeper to put the policy back",
        async () => ((await reg.readMutatingAdmissionPolicy({ name: POLICY_NAMES.mutating }).catch(() => undefined)) ? { value: true } : {}),
        { timeoutMs: 15_000 },
      );
      await probe();

      // The keeper counts an apply once all four objects are written; the policy it put back
      // first can already serve while the bindings are still being applied.
      const metrics = await waitFor(
        "the keeper to count its re-apply",
        async () => {
          const m = await webhook!.metrics();
          const ok = sumMetric(m, "pod_dns_injector_admission_policy_applies_total", { result: "ok" });
          return ok >= 2 ? { value: m } : { detail: `applies_total{result="ok"} = ${ok}` };
        },
        { timeoutMs: 15_000 },
      );
      assert.equal(sumMetric(metrics, "pod_dns_injector_admission_mode", { mode: "policy" }), 1);
      assert.equal(sumMetric(metrics, "pod_dns_injector_admission_policy_in_sync"), 1);
      assert.ok(sumMetric(metrics, "pod_dns_injector_admission_policy_applies_total", { result: "ok" }) >= 2);
      assert.equal(sumMetric(metrics, "pod_dns_injector_admission_policy_applies_total", { result: "error" }), 0);
      const readyz = await fetch(`http://127.0.0.1:${webhook!.opsPort}/readyz`).then((r) => r.text());
      assert.match(readyz, /\[\+\] admission \(policy mode\) ok/);
      const log = readFileSync(webhook!.logPath, "utf8");
      assert.doesNotMatch(log, /forbidden|HTTP 403|"code":403/i, "the injector was never refused");
    }),
  );

  it(
    "every rule of the overlay's policy ClusterRole is needed: without it the API server denies a request the keeper makes",
    withLogs(async () => {
      const authz = cp.kubeConfig().makeApiClient(AuthorizationV1Api);
      const rbacApi = cp.kubeConfig().makeApiClient(RbacAuthorizationV1Api);
      const denied = async () => {
        const out: string[] = [];
        for (const r of KEEPER_REQUESTS) {
          const review = await authz.createSubjectAccessReview({
            body: {
              spec: {
                user: SA_USER,
                groups: ["system:serviceaccounts", `system:serviceaccounts:${NS}`, "system:authenticated"],
                resourceAttributes: { verb: r.verb, group: r.group, resource: r.resource, ...(r.name ? { name: r.name } : {}) },
              },
            },
          });
          if (!review.status?.allowed) out.push(`${r.verb} ${r.resource}${r.name ? `/${r.name}` : ""}`);
        }
        return out;
      };
      assert.deepEqual(await denied(), [], "with the overlay's rules every keeper request is allowed");
      const rules = policyRole.rules as V1PolicyRule[];
      for (const [i, rule] of rules.entries()) {
        await rbacApi.replaceClusterRole({ name: ROLE, body: { metadata: { name: ROLE }, rules: rules.filter((_, j) => j !== i) } });
        const missing = await waitFor(
          `a denial without rule ${i + 1}`,
          async () => {
            const d = await denied();
            return d.length ? { value: d } : { detail: "all still allowed" };
          },
          { timeoutMs: 5_000, intervalMs: 100 },
        );
        assert.ok(missing.length > 0, `rule ${i + 1} (${JSON.stringify(rule)}) is unused`);
      }
      await rbacApi.replaceClusterRole({ name: ROLE, body: { metadata: { name: ROLE }, rules } });
    }),
  );
});
