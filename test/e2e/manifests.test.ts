/**
 * The install manifests against the real API server: `kubectl kustomize` renders the base
 * and every overlay, each rendering passes a server-side dry-run apply, and each carries the
 * hardening settings (checked on the rendered objects, not the source files). The optional
 * report CRDs render and dry-run apply too.
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { repoRoot } from "../unit/repo-root.js";
import { buildValidatingWebhookConfiguration } from "../../webhook/registration.js";
import { prepareForManifestDryRuns } from "./kube.js";

const root = repoRoot();
const VARIANTS = {
  base: "manifests",
  "fail-closed": "manifests/overlays/fail-closed",
  "cert-manager": "manifests/overlays/cert-manager",
  "reservation-guard": "manifests/overlays/reservation-guard",
  "admission-policy": "manifests/overlays/admission-policy",
  monitoring: "manifests/overlays/monitoring",
  openreports: "manifests/overlays/openreports",
} as const;
/** Optional manifests without the injector: rendered and dry-run applied, not checked for hardening. */
const OPTIONAL = { "report-crds": "manifests/optional/report-crds" } as const;
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML, read field by field
type Obj = Record<string, any>;

describe("install manifests", () => {
  let cp: ControlPlane;
  const rendered = new Map<string, { text: string; objects: Obj[] }>();

  before(async () => {
    cp = await startControlPlane({ name: "manifests" });
    for (const [variant, dir] of Object.entries({ ...VARIANTS, ...OPTIONAL })) {
      const r = await cp.kubectl(["kustomize", join(root, dir)]);
      assert.equal(r.code, 0, `kubectl kustomize ${dir}: ${r.stderr}`);
      rendered.set(variant, {
        text: r.stdout,
        objects: parseAllDocuments(r.stdout)
          .map((d) => d.toJS() as Obj)
          .filter(Boolean),
      });
    }
    await prepareForManifestDryRuns(cp, ["pod-dns-injector"], { prometheusOperatorCRDs: true });
  });
  after(async () => {
    await cp?.stop();
  });

  for (const variant of Object.keys(VARIANTS)) {
    describe(variant, () => {
      it("passes a server-side dry-run apply", async () => {
        const r = await cp.kubectl(["apply", "--server-side", "--dry-run=server", "--field-manager=pod-dns-injector-test", "-f", "-"], { input: rendered.get(variant)!.text });
        assert.equal(r.code, 0, `${r.stderr}\n${cp.logTail()}`);
        for (const o of rendered.get(variant)!.objects) assert.match(r.stdout, new RegExp(`${o.metadata.name}`), `${o.kind} ${o.metadata.name} applied`);
      });

      it("is hardened", () => {
        const objects = rendered.get(variant)!.objects;
        const dep = objects.find((o) => o.kind === "Deployment");
        assert.ok(dep, "a Deployment");
        assert.equal(dep.spec.replicas, 2);
        const pod = dep.spec.template.spec;
        assert.equal(pod.securityContext.runAsNonRoot, true);
        assert.equal(pod.securityContext.seccompProfile.type, "RuntimeDefault");
        assert.ok(Number.isInteger(pod.securityContext.runAsUser) && pod.securityContext.runAsUser > 0, "numeric non-root user");
        for (const c of pod.containers as Obj[]) {
          const sc = c.securityContext;
          assert.equal(sc.readOnlyRootFilesystem, true, `${c.name}: read-only root filesystem`);
          assert.equal(sc.allowPrivilegeEscalation, false, `${c.name}: no privilege escalation`);
          assert.deepEqual(sc.capabilities.drop, ["ALL"], `${c.name}: drops ALL capabilities`);
          assert.equal(sc.runAsNonRoot, true);
          assert.equal(sc.seccompProfile.type, "RuntimeDefault");
          for (const probe of ["livenessProbe", "readinessProbe", "startupProbe"]) assert.ok(c[probe]?.httpGet, `${c.name}: ${probe}`);
          assert.ok(c.resources.requests.cpu && c.resources.requests.memory && c.resources.limits.memory, `${c.name}: requests and limits`);
          assert.ok(c.lifecycle.preStop.sleep.seconds > 0, `${c.name}: preStop delay`);
        }
        assert.ok(
          (pod.topologySpreadConstraints as Obj[]).some((t) => t.topologyKey === "kubernetes.io/hostname"),
          "spread across nodes",
        );
        assert.ok(
          objects.some((o) => o.kind === "PodDisruptionBudget" && o.spec.minAvailable === 1),
          "a PodDisruptionBudget",
        );
        assert.ok(
          objects.some((o) => o.kind === "NetworkPolicy"),
          "a NetworkPolicy",
        );
        const svc = objects.find((o) => o.kind === "Service")!;
        assert.ok(
          (svc.spec.ports as Obj[]).some((p) => p.port === 443 && p.targetPort === "https"),
          "Service 443 → https (8443)",
        );
        const mwc = objects.find((o) => o.kind === "MutatingWebhookConfiguration");
        // Policy mode: the API server injects (MutatingAdmissionPolicy); no pod webhook at all.
        if (variant === "admission-policy") {
          assert.equal(mwc, undefined, "no MutatingWebhookConfiguration in policy mode");
          const env = dep.spec.template.spec.containers[0].env as Obj[];
          assert.deepEqual(
            env.find((e) => e.name === "POD_DNS_INJECTOR_ADMISSION_MODE"),
            { name: "POD_DNS_INJECTOR_ADMISSION_MODE", value: "policy" },
          );
          return;
        }
        assert.ok(mwc, "a MutatingWebhookConfiguration");
        const wh = mwc.webhooks[0];
        const excluded = (wh.namespaceSelector.matchExpressions as Obj[]).find((e) => e.key === "kubernetes.io/metadata.name")!;
        assert.deepEqual([...excluded.values].sort(), ["kube-node-lease", "kube-public", "kube-system", "pod-dns-injector"]);
        assert.equal(excluded.operator, "NotIn");
        assert.equal(wh.failurePolicy, variant === "fail-closed" ? "Fail" : "Ignore");
        assert.equal(wh.timeoutSeconds, 5);
        assert.equal(wh.reinvocationPolicy, "IfNeeded");
        assert.equal(wh.sideEffects, "None");
        assert.ok(wh.matchConditions.length >= 1 && wh.objectSelector, "opted-out pods are filtered before the call");
      });
    });
  }

  it("the optional report CRDs pass a server-side dry-run apply: the published PolicyReport, ClusterPolicyReport, Report and ClusterReport", async () => {
    const { text, objects } = rendered.get("report-crds")!;
    assert.deepEqual(objects.map((o) => `${o.kind} ${o.metadata.name} ${o.spec.scope}`).sort(), [
      "CustomResourceDefinition clusterpolicyreports.wgpolicyk8s.io Cluster",
      "CustomResourceDefinition clusterreports.openreports.io Cluster",
      "CustomResourceDefinition policyreports.wgpolicyk8s.io Namespaced",
      "CustomResourceDefinition reports.openreports.io Namespaced",
    ]);
    const r = await cp.kubectl(["apply", "--server-side", "--dry-run=server", "--field-manager=pod-dns-injector-test", "-f", "-"], { input: text });
    assert.equal(r.code, 0, `${r.stderr}\n${cp.logTail()}`);
    for (const o of objects)
      assert.match(r.stdout, new RegExp(`customresourcedefinition\\.apiextensions\\.k8s\\.io/${o.metadata.name.replaceAll(".", "\\.")} serverside-applied \\(server dry run\\)`));
  });

  it("the openreports overlay writes Reports and may write exactly them: the PolicyReport rule becomes the Report rule", () => {
    const objects = rendered.get("openreports")!.objects;
    const env = objects.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].env as Obj[];
    assert.deepEqual(
      env.find((e) => e.name === "POD_DNS_INJECTOR_AUDIT_REPORTS"),
      { name: "POD_DNS_INJECTOR_AUDIT_REPORTS", value: "openreports" },
    );
    const rules = (variant: string) =>
      (rendered.get(variant)!.objects.find((o) => o.kind === "ClusterRole" && o.metadata.name === "pod-dns-injector")!.rules as Obj[]).filter((r) =>
        /reports$/.test((r.resources as string[])[0]!),
      );
    assert.deepEqual(rules("base"), [{ apiGroups: ["wgpolicyk8s.io"], resources: ["policyreports"], verbs: ["list", "create", "update", "delete"] }]);
    assert.deepEqual(rules("openreports"), [{ apiGroups: ["openreports.io"], resources: ["reports"], verbs: ["list", "create", "update", "delete"] }]);
  });

  it("the cert-manager overlay injects the CA from cert-manager and serves the mounted files", () => {
    const objects = rendered.get("cert-manager")!.objects;
    for (const kind of ["MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"]) {
      const config = objects.find((o) => o.kind === kind)!;
      assert.equal(config.metadata.annotations["cert-manager.io/inject-ca-from"], "pod-dns-injector/pod-dns-injector-serving", kind);
    }
    const cert = objects.find((o) => o.kind === "Certificate" && o.metadata.name === "pod-dns-injector-serving")!;
    assert.ok(cert.spec.dnsNames.includes("pod-dns-injector.pod-dns-injector.svc"));
    const args = objects.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].args as string[];
    assert.ok(args.includes("--tls-cert-file=/etc/pod-dns-injector-tls/tls.crt"));
  });

  it("every variant registers the deletion guard; the reservation-guard overlay adds its webhook and turns it on", () => {
    for (const variant of Object.keys(VARIANTS)) {
      const { objects } = rendered.get(variant)!;
      const vwc = objects.find((o) => o.kind === "ValidatingWebhookConfiguration")!;
      const expected = buildValidatingWebhookConfiguration({ caBundlePem: "", reservationGuard: variant === "reservation-guard" }) as Obj;
      const { annotations: _a, ...metadata } = vwc.metadata as Obj;
      assert.deepEqual({ ...vwc, metadata: { ...metadata, labels: expected.metadata.labels } }, expected, variant);
    }
    const env = rendered.get("reservation-guard")!.objects.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0].env as Obj[];
    assert.deepEqual(
      env.find((e) => e.name === "POD_DNS_INJECTOR_RESERVATION_GUARD"),
      { name: "POD_DNS_INJECTOR_RESERVATION_GUARD", value: "true" },
    );
  });
});
