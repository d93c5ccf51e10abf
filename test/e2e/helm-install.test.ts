/**
 * A real `helm install`, `helm upgrade` and `helm uninstall` of charts/pod-dns-injector on the
 * test control plane (no node: the Deployment's pods never run, so the assertions are on the
 * stored objects). What the running injector writes itself — its certificate Secrets, the
 * DNS Service's last good copy, the webhooks' caBundle — is written here as it would, and
 * must survive every upgrade; uninstall removes the chart's objects and leaves those.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { SNAPSHOT_CONFIGMAP } from "../../config/names.js";
import { defaultSettings } from "../../config/settings.js";
import { chartPath, Helm, INJECTOR_RUNTIME_OBJECTS as RUNTIME_OBJECTS, objectKey, parseYamlObjects, RELEASE, type Obj } from "../helm/helm.js";

const NS = "pod-dns-injector";
const certs = defaultSettings().certificates;
const CA_BUNDLE = Buffer.from("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n").toString("base64");

describe("helm install, upgrade, uninstall", () => {
  let cp: ControlPlane;
  let helm: Helm;
  let installed: Obj[] = [];
  let runtime: Map<string, { uid: string; resourceVersion: string }>;

  const kubectl = async (args: string[], input?: string) => {
    const r = await cp.kubectl(args, input === undefined ? {} : { input });
    assert.equal(r.code, 0, `kubectl ${args.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  const getJSON = async (kind: string, name: string, namespace?: string): Promise<Obj | undefined> => {
    const r = await cp.kubectl(["get", kind, name, "-o", "json", ...(namespace ? ["-n", namespace] : [])]);
    if (r.code !== 0 && /NotFound|not found/.test(r.stderr)) return undefined;
    assert.equal(r.code, 0, r.stderr);
    return JSON.parse(r.stdout) as Obj;
  };
  const releaseManifest = async () => parseYamlObjects(await helmOk(["get", "manifest", RELEASE, "-n", NS]));
  const helmOk = async (args: string[]) => {
    const r = await helm.run(args);
    assert.equal(r.code, 0, `helm ${args.join(" ")}: ${r.stdout}${r.stderr}\n${cp.logTail(20)}`);
    return r.stdout;
  };
  const fingerprint = async () => {
    const out = new Map<string, { uid: string; resourceVersion: string }>();
    for (const ref of RUNTIME_OBJECTS) {
      const o = JSON.parse(await kubectl(["get", ref, "-n", NS, "-o", "json"])) as Obj;
      out.set(ref, { uid: o.metadata.uid, resourceVersion: o.metadata.resourceVersion });
    }
    return out;
  };
  const caBundles = async () => {
    const out: string[] = [];
    for (const kind of ["mutatingwebhookconfiguration", "validatingwebhookconfiguration"]) {
      const o = await getJSON(kind, "pod-dns-injector");
      if (o) out.push(`${kind}: ${o.webhooks[0].clientConfig.caBundle ?? "(none)"}`);
    }
    return out;
  };

  before(async () => {
    cp = await startControlPlane({ name: "helm-install" });
    helm = new Helm(undefined, cp.kubeconfigPath);
  });
  after(async () => {
    await cp?.stop();
    helm?.dispose();
  });

  it("installs every object the chart renders, and the notes say how to opt a namespace in", async () => {
    const out = await helmOk(["install", RELEASE, chartPath(), "--namespace", NS, "--create-namespace"]);
    assert.match(out, /kubectl label namespace <namespace> pod-dns-injector\.io\/inject=enabled/);
    installed = await releaseManifest();
    assert.ok(installed.length >= 14, `${installed.length} objects`);
    for (const o of installed) {
      const live = await getJSON(o.kind, o.metadata.name, o.metadata.namespace);
      assert.ok(live, `${objectKey(o)} is stored`);
      assert.equal(live.metadata.labels["app.kubernetes.io/managed-by"], "Helm", objectKey(o));
      assert.equal(live.metadata.labels["app.kubernetes.io/name"], "pod-dns-injector", objectKey(o));
    }
    const dep = (await getJSON("deployment", "pod-dns-injector", NS))!;
    assert.equal(dep.spec.replicas, 2);
    assert.equal(dep.spec.template.spec.containers[0].securityContext.readOnlyRootFilesystem, true);
    const mwc = (await getJSON("mutatingwebhookconfiguration", "pod-dns-injector"))!;
    assert.equal(mwc.webhooks[0].failurePolicy, "Ignore");
  });

  it("keeps the injector's Secrets, last good copy and caBundle across upgrades that change the overlays", async () => {
    // What the running injector would write: its CA and serving Secrets, the DNS Service's
    // last good copy, and caBundle on both configurations (as its own field manager).
    await kubectl(["create", "secret", "generic", certs.caSecretName, "-n", NS, "--from-literal=ca.key=k"]);
    await kubectl(["create", "secret", "generic", certs.secretName, "-n", NS, "--type=kubernetes.io/tls", "--from-literal=tls.crt=c", "--from-literal=tls.key=k"]);
    await kubectl(["create", "configmap", SNAPSHOT_CONFIGMAP, "-n", NS, "--from-literal=clusterIP=10.96.0.10", '--from-literal=service.json={"name":"kube-dns","ports":[]}']);
    for (const kind of ["mutatingwebhookconfiguration", "validatingwebhookconfiguration"]) {
      await kubectl([
        "patch",
        kind,
        "pod-dns-injector",
        "--type=json",
        "--field-manager=pod-dns-injector",
        "-p",
        JSON.stringify([{ op: "add", path: "/webhooks/0/clientConfig/caBundle", value: CA_BUNDLE }]),
      ]);
    }
    runtime = await fingerprint();
    const bundles = await caBundles();
    const checksumBefore = (await getJSON("deployment", "pod-dns-injector", NS))!.spec.template.metadata.annotations["checksum/config"] as string;

    // Not guardian.reservationGuard here: its webhook matches every Service write, Helm's
    // own Service included, and with no injector behind the Service the API server would dial
    // the Service's clusterIP (helm-chart.test.ts dry-runs that combination instead).
    await helmOk(["upgrade", RELEASE, chartPath(), "--namespace", NS, "--set", "failurePolicy=Fail", "--set", "guardian.repair=recreate"]);
    const mwc = (await getJSON("mutatingwebhookconfiguration", "pod-dns-injector"))!;
    assert.equal(mwc.webhooks[0].failurePolicy, "Fail");
    assert.deepEqual(await caBundles(), bundles, "the upgrade kept the injector's caBundle");
    assert.deepEqual(await fingerprint(), runtime, "the upgrade left the Secrets and the last good copy untouched");
    const dep = (await getJSON("deployment", "pod-dns-injector", NS))!;
    assert.notEqual(dep.spec.template.metadata.annotations["checksum/config"], checksumBefore, "a changed configuration rolls the pods");
    const cm = (await getJSON("configmap", "pod-dns-injector", NS))!;
    assert.match(cm.data["config.yaml"], /repair: recreate/);

    // Policy mode: the pod webhook goes, the policy RBAC comes; the rest stays.
    await helmOk(["upgrade", RELEASE, chartPath(), "--namespace", NS, "--reuse-values", "--set", "admission.mode=policy"]);
    assert.equal(await getJSON("mutatingwebhookconfiguration", "pod-dns-injector"), undefined, "no MutatingWebhookConfiguration in policy mode");
    assert.ok(await getJSON("clusterrole", "pod-dns-injector-admission-policies"));
    assert.deepEqual((await caBundles()).slice(0, 1), bundles.slice(1), "the ValidatingWebhookConfiguration kept its caBundle");
    assert.deepEqual(await fingerprint(), runtime);

    // And back to the defaults: the MutatingWebhookConfiguration is created again.
    await helmOk(["upgrade", RELEASE, chartPath(), "--namespace", NS, "--reset-values"]);
    assert.equal((await getJSON("mutatingwebhookconfiguration", "pod-dns-injector"))!.webhooks[0].failurePolicy, "Ignore");
    assert.equal(await getJSON("clusterrole", "pod-dns-injector-admission-policies"), undefined);
    assert.deepEqual(await fingerprint(), runtime);
    const history = JSON.parse(await helmOk(["history", RELEASE, "-n", NS, "-o", "json"])) as Obj[];
    assert.equal(history.length, 4);
  });

  it("uninstall removes every object of the chart and leaves what the injector wrote", async () => {
    const last = await releaseManifest();
    await helmOk(["uninstall", RELEASE, "--namespace", NS]);
    for (const o of [...installed, ...last]) {
      assert.equal(await getJSON(o.kind, o.metadata.name, o.metadata.namespace), undefined, `${objectKey(o)} was removed`);
    }
    assert.deepEqual(await fingerprint(), runtime, "the Secrets and the last good copy are left (NOTES.txt says how to remove them)");
    assert.deepEqual(JSON.parse(await helmOk(["list", "-n", NS, "-o", "json"])), []);
    const status = await helm.run(["status", RELEASE, "-n", NS]);
    assert.match(status.stderr, /not found/, "no release record is left");
  });
});
