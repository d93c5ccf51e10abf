/**
 * The Helm chart (charts/pod-dns-injector) against kustomize and the real API server:
 * `helm lint --strict`; with default values `helm template` renders the kustomize base object
 * by object (Helm's own labels aside; the Namespace is the release's, not the chart's), and
 * each overlay's switch renders that overlay; every documented value combination passes a
 * server-side dry-run apply; bad values are refused with the value's path. helm is built
 * from its Go module (test/helm/build-helm.sh).
 */
import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { repoRoot } from "../unit/repo-root.js";
import { loadSettings, parseConfigText } from "../../config/load.js";
import { chartPath, Helm, objectKey, parseYamlObjects, withoutHelmBookkeeping, type Obj } from "../helm/helm.js";
import { prepareForManifestDryRuns } from "./kube.js";
import { buildDNSServiceGuardWebhook } from "../../webhook/registration.js";

const root = repoRoot();
const NS = "pod-dns-injector";

/**
 * The documented value combinations (README "Install with Helm"), each with the kustomize
 * variant it must render, if there is one.
 */
const COMBINATIONS: readonly { name: string; set: string[]; namespace?: string; kustomize?: string }[] = [
  { name: "defaults", set: [], kustomize: "manifests" },
  { name: "failurePolicy=Fail", set: ["failurePolicy=Fail"], kustomize: "manifests/overlays/fail-closed" },
  { name: "certManager.enabled", set: ["certManager.enabled=true"], kustomize: "manifests/overlays/cert-manager" },
  { name: "guardian.reservationGuard", set: ["guardian.reservationGuard=true"], kustomize: "manifests/overlays/reservation-guard" },
  { name: "reservationGuard.enabled", set: ["reservationGuard.enabled=true"], kustomize: "manifests/overlays/reservation-guard" },
  { name: "admission.mode=policy", set: ["admission.mode=policy"], kustomize: "manifests/overlays/admission-policy" },
  { name: "admission.mode=both", set: ["admission.mode=both"] },
  { name: "audit.reports=openreports", set: ["audit.reports=openreports"], kustomize: "manifests/overlays/openreports" },
  { name: "audit.reports=both", set: ["audit.reports=both"] },
  { name: "everything on", set: ["failurePolicy=Fail", "certManager.enabled=true", "reservationGuard.enabled=true", "admission.mode=both"] },
  {
    name: "another namespace and DNS Service",
    namespace: "dns-system",
    set: [
      "dnsService.namespace=dns",
      "dnsService.name=coredns",
      "dnsService.clusterIP=10.0.0.10",
      "clusterDomain=corp.example",
      "certManager.enabled=true",
      "guardian.reservationGuard=true",
    ],
  },
  {
    // README "Service-CIDR migration": the deletion guard covers both Services.
    name: "two DNS Services (Service-CIDR migration)",
    set: [
      "dnsServices[0].namespace=kube-system",
      "dnsServices[0].name=kube-dns-next",
      "dnsServices[0].clusterIP=10.100.0.10",
      "dnsServices[1].namespace=kube-system",
      "dnsServices[1].name=kube-dns",
    ],
  },
];

/**
 * A kustomize rendering as the chart renders it: the overlays set a setting through an
 * environment variable (they cannot edit config.yaml); the chart writes it into config.yaml.
 * Each such variable is folded into the ConfigMap's settings with the injector's own loader,
 * and both sides' config.yaml are compared as loaded settings.
 */
function foldEnvironmentIntoConfig(objects: Obj[]): Obj[] {
  const out = structuredClone(objects).filter((o) => o.kind !== "Namespace");
  const container = out.find((o) => o.kind === "Deployment")!.spec.template.spec.containers[0];
  const env: Record<string, string> = {};
  container.env = (container.env as Obj[]).filter((e) => {
    const literal = /^POD_DNS_INJECTOR_/.test(e.name) && typeof e.value === "string";
    if (literal) env[e.name] = e.value;
    return !literal;
  });
  const cm = out.find((o) => o.kind === "ConfigMap")!;
  const r = loadSettings({ file: { path: "kustomize config.yaml", text: cm.data["config.yaml"] }, env });
  assert.ok(r.ok, !r.ok ? r.errors.join("\n") : "");
  cm.data["config.yaml"] = r.settings;
  return out;
}

/** The chart's objects less Helm's bookkeeping, config.yaml as loaded settings. */
function normalizeChart(objects: Obj[]): Obj[] {
  return objects.map((o) => {
    const out = withoutHelmBookkeeping(o);
    if (out.kind === "ConfigMap") {
      const r = loadSettings({ file: { path: "chart config.yaml", text: o.data["config.yaml"] } });
      assert.ok(r.ok, !r.ok ? r.errors.join("\n") : "");
      out.data["config.yaml"] = r.settings;
    }
    return out;
  });
}

describe("helm chart", () => {
  let cp: ControlPlane;
  let helm: Helm;
  const rendered = new Map<string, { text: string; objects: Obj[] }>();

  before(async () => {
    helm = new Helm();
    cp = await startControlPlane({ name: "helm-chart" });
    for (const c of COMBINATIONS) rendered.set(c.name, await helm.template(c.namespace ?? NS, c.set));
    await prepareForManifestDryRuns(cp, [NS, "dns-system", "dns"]);
  });
  after(async () => {
    await cp?.stop();
    helm?.dispose();
  });

  it("passes helm lint --strict with every combination", async () => {
    for (const c of COMBINATIONS) {
      const r = await helm.run(["lint", "--strict", chartPath(), "--namespace", c.namespace ?? NS, ...c.set.flatMap((s) => ["--set", s])]);
      assert.equal(r.code, 0, `${c.name}: ${r.stdout}${r.stderr}`);
    }
  });

  for (const c of COMBINATIONS.filter((x) => x.kustomize)) {
    it(`${c.name} renders what kubectl kustomize ${c.kustomize} renders, object by object`, async () => {
      const k = await cp.kubectl(["kustomize", join(root, c.kustomize!)]);
      assert.equal(k.code, 0, k.stderr);
      const kustomized = parseYamlObjects(k.stdout);
      // The release namespace is created by `helm install --create-namespace` (or by hand):
      // a chart cannot own the namespace its release is stored in.
      assert.deepEqual(kustomized.filter((o) => o.kind === "Namespace").map(objectKey), [`Namespace ${NS}`]);
      const expected = new Map(foldEnvironmentIntoConfig(kustomized).map((o) => [objectKey(o), o]));
      const actual = new Map(normalizeChart(rendered.get(c.name)!.objects).map((o) => [objectKey(o), o]));
      assert.deepEqual([...actual.keys()].sort(), [...expected.keys()].sort(), "the same objects");
      for (const [key, o] of expected) assert.deepEqual(actual.get(key), o, key);
    });
  }

  for (const c of COMBINATIONS) {
    it(`${c.name} passes a server-side dry-run apply`, async () => {
      const { text, objects } = rendered.get(c.name)!;
      const r = await cp.kubectl(["apply", "--server-side", "--dry-run=server", "--field-manager=helm-chart-test", "-f", "-"], { input: text });
      assert.equal(r.code, 0, `${r.stderr}\n${cp.logTail()}`);
      for (const o of objects) assert.match(r.stdout, new RegExp(`${o.metadata.name}.*(serverside-applied|created|configured)`), `${objectKey(o)} applied`);
    });
  }

  it("names follow the release namespace and the DNS Service settings", () => {
    const objects = rendered.get("another namespace and DNS Service")!.objects;
    const byKey = new Map(objects.map((o) => [objectKey(o), o]));
    assert.ok(byKey.has("Role dns/pod-dns-injector-guardian"), "the guardian's Role sits in the DNS Service's namespace");
    for (const o of objects) if (o.metadata.namespace) assert.ok(["dns-system", "dns"].includes(o.metadata.namespace), objectKey(o));
    const mwc = byKey.get("MutatingWebhookConfiguration pod-dns-injector")!;
    assert.deepEqual(mwc.webhooks[0].clientConfig.service, { namespace: "dns-system", name: "pod-dns-injector", path: "/mutate", port: 443 });
    assert.ok(mwc.webhooks[0].namespaceSelector.matchExpressions[1].values.includes("dns-system"), "its own namespace is never matched");
    assert.equal(mwc.metadata.annotations["cert-manager.io/inject-ca-from"], "dns-system/pod-dns-injector-serving");
    const guard = byKey.get("ValidatingWebhookConfiguration pod-dns-injector")!.webhooks[0];
    assert.deepEqual(guard.namespaceSelector, { matchLabels: { "kubernetes.io/metadata.name": "dns" } });
    assert.equal(guard.matchConditions[0].expression, "request.namespace == 'dns' && oldObject != null && oldObject.metadata.name == 'coredns'");
    const cert = byKey.get("Certificate dns-system/pod-dns-injector-serving")!;
    assert.ok(cert.spec.dnsNames.includes("pod-dns-injector.dns-system.svc.corp.example"));
    const parsed = parseConfigText("config.yaml", byKey.get("ConfigMap dns-system/pod-dns-injector")!.data["config.yaml"]);
    assert.ok(parsed.ok);
    assert.deepEqual((parsed.doc as Obj).dnsService, { namespace: "dns", name: "coredns", clusterIP: "10.0.0.10" });
  });

  it("with two DNS Services the deletion guard matches both, as registration.ts builds it", () => {
    const objects = rendered.get("two DNS Services (Service-CIDR migration)")!.objects;
    const guard = objects.find((o) => o.kind === "ValidatingWebhookConfiguration")!.webhooks[0];
    const expected = buildDNSServiceGuardWebhook({
      caBundlePem: "",
      dnsServices: [
        { namespace: "kube-system", name: "kube-dns-next" },
        { namespace: "kube-system", name: "kube-dns" },
      ],
    }) as Obj;
    assert.deepEqual(guard.namespaceSelector, expected.namespaceSelector);
    assert.deepEqual(guard.matchConditions, expected.matchConditions);
    assert.match(guard.matchConditions[0].expression, /'kube-dns-next'\) \|\| \(.*'kube-dns'/);
  });

  it("audit.reports grants writes on exactly the report APIs it names", () => {
    const reportRules = (name: string) =>
      (rendered.get(name)!.objects.find((o) => o.kind === "ClusterRole" && o.metadata.name === "pod-dns-injector")!.rules as Obj[])
        .filter((r) => /reports$/.test((r.resources as string[])[0]!))
        .map((r) => `${r.apiGroups[0]}/${r.resources[0]}: ${(r.verbs as string[]).join(",")}`);
    assert.deepEqual(reportRules("defaults"), ["wgpolicyk8s.io/policyreports: list,create,update,delete"]);
    assert.deepEqual(reportRules("audit.reports=openreports"), ["openreports.io/reports: list,create,update,delete"]);
    assert.deepEqual(reportRules("audit.reports=both"), ["wgpolicyk8s.io/policyreports: list,create,update,delete", "openreports.io/reports: list,create,update,delete"]);
  });

  it("lets --set X=null remove what the templates render as none: resources, nodeSelector, tolerations", async () => {
    const { objects } = await helm.template(NS, ["resources.limits=null", "nodeSelector=null", "tolerations=null"]);
    const pod = objects.find((o) => o.kind === "Deployment")!.spec.template.spec as Obj;
    assert.equal(pod.containers[0].resources.limits, undefined);
    assert.ok(pod.containers[0].resources.requests, "the requests stay");
    assert.equal(pod.nodeSelector, undefined);
    assert.equal(pod.tolerations, undefined);
  });

  it("writes null settings into config.yaml, also when --set deletes them", async () => {
    const { objects } = await helm.template(NS, ["dnsService.clusterIP=null", "webhook.host=null"]);
    const parsed = parseConfigText("config.yaml", objects.find((o) => o.kind === "ConfigMap")!.data["config.yaml"]);
    assert.ok(parsed.ok);
    const doc = parsed.doc as Obj;
    assert.equal(doc.dnsService.clusterIP, null, "null: learn the IP from the Service, not the default");
    assert.deepEqual([doc.webhook.host, doc.webhook.tlsCertFile, doc.ops.host], [null, null, null]);
  });

  it("reservationGuard.enabled and guardian.reservationGuard OR: either true turns the guard on, false never turns it off", async () => {
    const guard = async (set: string[]) => {
      const { objects } = await helm.template(NS, set);
      const parsed = parseConfigText("config.yaml", objects.find((o) => o.kind === "ConfigMap")!.data["config.yaml"]);
      assert.ok(parsed.ok);
      const webhooks = (objects.find((o) => o.kind === "ValidatingWebhookConfiguration")!.webhooks as Obj[]).map((w) => w.name as string);
      return [(parsed.doc as Obj).guardian.reservationGuard, webhooks.includes("services.pod-dns-injector.io")];
    };
    assert.deepEqual(await guard([]), [false, false]);
    assert.deepEqual(await guard(["reservationGuard.enabled=true", "guardian.reservationGuard=false"]), [true, true]);
    assert.deepEqual(await guard(["reservationGuard.enabled=false", "guardian.reservationGuard=true"]), [true, true]);
    assert.deepEqual(await guard(["reservationGuard.enabled=true", "guardian.reservationGuard=true"]), [true, true]);
  });

  it("a changed setting changes the pods' checksum (they roll), a chart-only value does not", async () => {
    const checksum = async (set: string[]) =>
      (await helm.template(NS, set)).objects.find((o) => o.kind === "Deployment")!.spec.template.metadata.annotations["checksum/config"] as string;
    const base = await checksum([]);
    assert.notEqual(await checksum(["admission.mode=both"]), base);
    assert.equal(await checksum(["replicaCount=3"]), base);
  });

  it("refuses bad values, naming the value", async () => {
    const cases: [string[], RegExp][] = [
      [["clusterDomain=Corp_Local"], /at '\/clusterDomain'/],
      [["admission.mode=sometimes"], /at '\/admission\/mode': value must be one of 'webhook', 'policy', 'both'/],
      [["audit.reports=kyverno"], /at '\/audit\/reports': value must be one of 'wgpolicyk8s', 'openreports', 'both'/],
      [["failurePolicy=Never"], /at '\/failurePolicy': value must be one of 'Ignore', 'Fail'/],
      [["reservationGuard.enabled=yes"], /at '\/reservationGuard\/enabled': got string, want boolean/],
      [["webhook.port=70000"], /at '\/webhook\/port'/],
      [["dnsService.clusterIP=10.96.0"], /at '\/dnsService\/clusterIP'/],
      [["certificates.renewFraction=1"], /at '\/certificates\/renewFraction'/],
      [["guardien.repair=recreate"], /additional properties 'guardien' not allowed/],
      [["replicaCount=0"], /at '\/replicaCount'/],
      [["certificates.mutatingWebhookConfiguration="], /certificates.mutatingWebhookConfiguration is empty, but admission.mode webhook installs/],
      [["webhook.tlsCertFile=/tls/tls.crt"], /webhook.tlsCertFile and webhook.tlsKeyFile go together/],
      // Helm deletes a value set to null: a section or a value that cannot be null is then missing.
      [["certManager=null"], /at '': missing property 'certManager'/],
      [["reservationGuard=null"], /at '': missing property 'reservationGuard'/],
      [["image.repository=null"], /at '\/image': missing property 'repository'/],
      [["failurePolicy=null"], /at '': missing property 'failurePolicy'/],
      [["guardian.repair=null"], /at '\/guardian': missing property 'repair'/],
    ];
    for (const [set, message] of cases) {
      const r = await helm.run(["template", "pod-dns-injector", chartPath(), "--namespace", NS, ...set.flatMap((s) => ["--set", s])]);
      assert.notEqual(r.code, 0, `${set.join(" ")} is refused`);
      assert.match(r.stderr, message, set.join(" "));
    }
  });
});
