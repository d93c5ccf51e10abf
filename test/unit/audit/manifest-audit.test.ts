import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultSettings } from "../../../config/settings.js";
import { auditManifests } from "../../../audit/manifest-audit.js";
import type { ManifestObject } from "../../../webhook/workloads.js";

const docs = (...objects: (ManifestObject | null)[]) => objects.map((object, i) => ({ index: i + 1, object }));
const deployment = (name: string, namespace?: string, spec: Record<string, unknown> = {}): ManifestObject => ({
  apiVersion: "apps/v1",
  kind: "Deployment",
  metadata: { name, ...(namespace ? { namespace } : {}) },
  spec: { template: { metadata: { labels: { app: name } }, spec: { containers: [], ...spec } } },
});

describe("auditManifests", () => {
  it("audits each workload's pod template in its namespace (object, then -n, then default); other kinds and empty documents are ignored", () => {
    const { run, invalid } = auditManifests(
      docs(
        deployment("a", "team-a"),
        deployment("b"),
        null,
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } },
        { apiVersion: "batch/v1", kind: "CronJob", metadata: { generateName: "nightly-" }, spec: { jobTemplate: { spec: { template: { spec: {} } } } } },
      ),
      { settings: defaultSettings(), source: "x.yaml", namespace: "team-b" },
    );
    assert.deepEqual(invalid, []);
    assert.deepEqual(
      run.pods.map((p) => [p.namespace, `${p.workload.kind}/${p.name}`, p.result, p.findings.map((f) => f.kind).join()]),
      [
        ["team-a", "Deployment/a", "fail", "not-injected"],
        ["team-b", "Deployment/b", "fail", "not-injected"],
        ["team-b", "CronJob/nightly-*", "fail", "not-injected"],
      ],
    );
    assert.deepEqual(run.namespaces, ["team-a", "team-b"]);
    assert.deepEqual(run.context, { source: "manifest", file: "x.yaml" });
    assert.deepEqual(run.dnsService, { namespace: "kube-system", name: "kube-dns", ips: ["10.96.0.10"], source: "configured" });
  });

  it("--mode: disabled skips, audit would-inject", () => {
    const mode = (m: "audit" | "disabled") => auditManifests(docs(deployment("a")), { settings: defaultSettings(), source: "x", mode: m }).run.pods[0];
    assert.equal(mode("disabled")?.reason, "namespace-disabled");
    assert.equal(mode("audit")?.findings[0]?.kind, "would-inject");
  });

  it("malformed pod templates and namespaces are reported by document", () => {
    const { run, invalid } = auditManifests(
      docs(
        { apiVersion: "apps/v1", kind: "Deployment", metadata: { name: "x" }, spec: { template: 5 } },
        { apiVersion: "v1", kind: "Pod", metadata: { name: "p", namespace: 7 }, spec: {} },
      ),
      { settings: defaultSettings(), source: "x" },
    );
    assert.deepEqual(run.pods, []);
    assert.deepEqual(invalid, [
      { index: 1, what: "Deployment x", error: "spec.template: expected an object" },
      { index: 2, what: "Pod p", error: "metadata.namespace: expected a string" },
    ]);
  });
});
