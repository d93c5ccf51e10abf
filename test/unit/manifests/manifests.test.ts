/**
 * The manifests agree with the code: webhook registrations equal the ones generated from
 * webhook/registration.ts, the ConfigMap spells out exactly the defaults, ports, paths and
 * names come from config/names.ts, the image tag is this release's.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import {
  HEALTHZ_PATH,
  INJECT_LABEL,
  OPS_PORT,
  READYZ_PATH,
  WEBHOOK_PORT,
  WEBHOOK_SERVICE,
} from "../../../config/names.js";
import { defaultSettings, parseSettings } from "../../../config/settings.js";
import { buildMutatingWebhookConfiguration, buildReservationGuardWebhook, buildValidatingWebhookConfiguration } from "../../../webhook/registration.js";
import { repoRoot } from "../repo-root.js";

const root = repoRoot();
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML, read field by field
type Obj = Record<string, any>;
const load = (rel: string): Obj[] => parseAllDocuments(readFileSync(join(root, "manifests", rel), "utf8")).map((d) => d.toJS() as Obj).filter(Boolean);
const one = (rel: string): Obj => {
  const docs = load(rel);
  assert.equal(docs.length, 1, rel);
  return docs[0]!;
};

describe("manifests agree with the code", () => {
  it("the MutatingWebhookConfiguration is the generated one (caBundle left to the injector)", () => {
    assert.deepEqual(one("base/mutatingwebhookconfiguration.yaml"), buildMutatingWebhookConfiguration({ caBundlePem: "" }));
  });

  it("the base ValidatingWebhookConfiguration (deletion guard) is the generated one", () => {
    assert.deepEqual(one("base/validatingwebhookconfiguration.yaml"), buildValidatingWebhookConfiguration({ caBundlePem: "" }));
  });

  it("the reservation-guard overlay appends exactly the generated reservation webhook", () => {
    const patch = parse(readFileSync(join(root, "manifests", "overlays", "reservation-guard", "reservation-webhook.yaml"), "utf8")) as Obj[];
    assert.deepEqual(patch, [{ op: "add", path: "/webhooks/-", value: buildReservationGuardWebhook({ caBundlePem: "" }) }]);
  });

  it("the ConfigMap spells out every default, exactly", () => {
    const cm = one("base/configmap.yaml");
    const text = cm.data["config.yaml"] as string;
    const doc = parse(text) as Obj;
    const defaults = defaultSettings() as unknown as Obj;
    assert.deepEqual(Object.keys(doc).sort(), Object.keys(defaults).sort(), "every top-level setting is present");
    for (const [k, v] of Object.entries(defaults)) {
      if (v && typeof v === "object" && !Array.isArray(v) && k !== "profiles") assert.deepEqual(Object.keys(doc[k]).sort(), Object.keys(v).sort(), `every ${k}.* setting is present`);
    }
    const r = parseSettings(doc);
    assert.ok(r.ok, !r.ok ? r.errors.join("\n") : "");
    assert.deepEqual(r.settings, defaultSettings());
  });

  it("Deployment ports, probes, Service and image follow the names module and the release", () => {
    const dep = one("base/deployment.yaml");
    const c = dep.spec.template.spec.containers[0];
    const port = (name: string) => (c.ports as Obj[]).find((p) => p.name === name)?.containerPort;
    assert.equal(port("https"), WEBHOOK_PORT);
    assert.equal(port("metrics"), OPS_PORT);
    assert.equal(c.livenessProbe.httpGet.path, HEALTHZ_PATH);
    assert.equal(c.startupProbe.httpGet.path, HEALTHZ_PATH);
    assert.equal(c.readinessProbe.httpGet.path, READYZ_PATH);
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    assert.equal(c.image, `ghcr.io/pod-dns-injector/pod-dns-injector:${version}`);
    assert.equal(dep.spec.template.metadata.labels[INJECT_LABEL], "false", "the injector opts its own pods out");
    // The image's entrypoint carries the Node flags the benchmarks measure: a command would
    // drop them, and NODE_OPTIONS cannot hold them all (and loses to the command line).
    assert.equal(c.command, undefined, "the Deployment runs the image's entrypoint");
    assert.equal(
      (c.env as Obj[]).find((e) => e.name === "NODE_OPTIONS"),
      undefined,
      "Node's flags live in the image's entrypoint",
    );
    const svc = one("base/service.yaml");
    assert.equal(svc.metadata.name, WEBHOOK_SERVICE);
    assert.deepEqual((svc.spec.ports as Obj[]).find((p) => p.name === "https"), { name: "https", port: 443, targetPort: "https", protocol: "TCP" });
  });

  it("the Namespace is never injected and enforces the restricted Pod Security level", () => {
    const ns = one("base/namespace.yaml");
    assert.equal(ns.metadata.labels[INJECT_LABEL], "disabled");
    assert.equal(ns.metadata.labels["pod-security.kubernetes.io/enforce"], "restricted");
  });

  it("webhook configurations are only ever named pod-dns-injector in RBAC (resourceNames)", () => {
    const rules = load("base/rbac.yaml").flatMap((o) => (o.rules as Obj[] | undefined) ?? []);
    const wh = rules.filter((r) => (r.apiGroups as string[]).includes("admissionregistration.k8s.io"));
    assert.equal(wh.length, 1);
    assert.deepEqual(wh[0]!.resourceNames, ["pod-dns-injector"]);
    assert.ok(!rules.some((r) => (r.verbs as string[]).includes("*") || (r.resources as string[]).includes("*")), "no wildcards");
  });
});
