/**
 * The Helm chart's values agree with the settings: the generated files (values.schema.json,
 * templates/_settings.tpl) are the committed ones, values.yaml holds every setting with the
 * schema's default and every chart value with its own, values.schema.json accepts it and
 * refuses what the injector refuses, and the chart's version is this release's.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { defaultSettings, parseSettings } from "../../../config/settings.js";
import { defaultsDocument } from "../../../config/settings-schema.js";
import { CHART_DIR, CHART_VALUES_SCHEMA, chartValuesSchema, generatedChartFiles, nullableSettings, SETTING_SWITCHES, settingKeys } from "../../../charts/values-schema.js";
import { repoRoot } from "../repo-root.js";

const root = repoRoot();
const chartFile = (name: string) => readFileSync(join(root, CHART_DIR, name), "utf8");
const values = parse(chartFile("values.yaml")) as Record<string, unknown>;
const pick = (doc: Record<string, unknown>, keys: string[]) => Object.fromEntries(keys.filter((k) => k in doc).map((k) => [k, doc[k]]));

function validator() {
  const ajv = new Ajv({ allErrors: true, strict: false });
  return ajv.compile(chartValuesSchema());
}

describe("helm chart values", () => {
  it("the generated files are the committed ones (npm run chart:generate rewrites them)", () => {
    for (const [file, text] of Object.entries(generatedChartFiles())) {
      assert.equal(chartFile(file), text, `${CHART_DIR}/${file} is stale: run npm run chart:generate`);
    }
  });

  it("values.yaml holds every setting with the settings schema's default, exactly", () => {
    assert.deepEqual(pick(values, settingKeys()), defaultsDocument());
    const r = parseSettings(pick(values, settingKeys()));
    assert.ok(r.ok, !r.ok ? r.errors.join("\n") : "");
    assert.deepEqual(r.settings, defaultSettings());
  });

  it("values.yaml holds every chart value with its documented default, and nothing else", () => {
    const chartKeys = Object.keys(values).filter((k) => !settingKeys().includes(k));
    assert.deepEqual(chartKeys.sort(), Object.keys(CHART_VALUES_SCHEMA).sort());
    assert.deepEqual(pick(values, chartKeys), defaultsDocument({ properties: CHART_VALUES_SCHEMA }));
  });

  it("values.schema.json accepts values.yaml and refuses unknown keys", () => {
    const validate = validator();
    assert.ok(validate(values), JSON.stringify(validate.errors));
    assert.equal(validate({ ...values, guardien: {} }), false);
    assert.equal(validate({ ...values, image: { repository: "x", tag: "", pullPolicy: "Sometimes" } }), false);
  });

  it("values.schema.json refuses the values the injector refuses, and takes the ones it takes", () => {
    const validate = validator();
    const cases: [Record<string, unknown>, boolean][] = [
      [{ clusterDomain: "corp.example" }, true],
      [{ clusterDomain: "Corp.Example" }, false],
      [{ clusterDomain: `${"a".repeat(64)}.example` }, false],
      [{ dnsService: { namespace: "kube-system", name: "kube-dns", clusterIP: "fd00::a" } }, true],
      [{ dnsService: { namespace: "kube-system", name: "kube-dns", clusterIP: "" } }, true],
      [{ dnsService: { namespace: "kube-system", name: "kube-dns", clusterIP: "10.96.0.256" } }, false],
      [{ dnsService: { namespace: "Kube-System", name: "kube-dns", clusterIP: null } }, false],
      [{ webhook: { host: null, port: "9443", tlsCertFile: null, tlsKeyFile: null } }, true],
      [{ webhook: { host: null, port: "https", tlsCertFile: null, tlsKeyFile: null } }, false],
      [{ profiles: { "node-local": { nameservers: ["169.254.20.10"], ndots: 2 } } }, true],
      [{ profiles: { NodeLocal: { nameservers: [] } } }, false],
      [{ profiles: { x: { nameservers: ["1.1.1.1", "1.0.0.1", "8.8.8.8", "8.8.4.4"] } } }, false],
      [{ certificates: { ...(values.certificates as object), extraDNSNames: ["*.example.com"] } }, true],
      [{ certificates: { ...(values.certificates as object), renewFraction: 1 } }, false],
      [{ logLevel: "verbose" }, false],
    ];
    for (const [change, ok] of cases) {
      const doc = { ...values, ...change };
      assert.equal(validate(doc), ok, `${JSON.stringify(change)}: ${JSON.stringify(validate.errors)}`);
      // The injector's own validation agrees on the settings part.
      const r = parseSettings(pick(doc, settingKeys()));
      assert.equal(r.ok, ok, `${JSON.stringify(change)} for the injector: ${!r.ok ? r.errors.join("; ") : "accepted"}`);
    }
  });

  it("the nullable settings, which _settings.tpl writes back as null when Helm drops them", () => {
    assert.deepEqual(nullableSettings(), [
      "dnsService.clusterIP",
      "webhook.host",
      "webhook.tlsCertFile",
      "webhook.tlsKeyFile",
      "ops.host",
      "certificates.mutatingWebhookConfiguration",
      "certificates.validatingWebhookConfiguration",
    ]);
  });

  it("each chart switch (reservationGuard.enabled) is a boolean chart value defaulting to false, for a boolean setting", () => {
    type Node = Record<string, unknown> & { properties?: Record<string, Node> };
    const at = (doc: unknown, path: string) => path.split(".").reduce<unknown>((n, key) => (n as Record<string, unknown> | undefined)?.[key], doc);
    const schemaAt = (path: string) => path.split(".").reduce<Node | undefined>((n, key) => n?.properties?.[key], chartValuesSchema() as Node);
    assert.deepEqual(SETTING_SWITCHES, { "guardian.reservationGuard": "reservationGuard.enabled" });
    for (const [setting, value] of Object.entries(SETTING_SWITCHES)) {
      assert.ok(!settingKeys().includes(value.split(".")[0]!), `${value} is the chart's own, not a setting`);
      for (const path of [setting, value]) {
        assert.equal(at(values, path), false, `values.yaml: ${path}`);
        assert.equal(schemaAt(path)?.type, "boolean", path);
      }
    }
    assert.ok(generatedChartFiles()["templates/_settings.tpl"]!.includes('{{- if .Values.reservationGuard.enabled }}{{ $_ := set $s.guardian "reservationGuard" true }}{{ end }}'));
  });

  it("the chart's version and appVersion are this release's", () => {
    const chart = parse(chartFile("Chart.yaml")) as Record<string, unknown>;
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    assert.equal(chart.apiVersion, "v2");
    assert.equal(chart.version, pkg.version);
    assert.equal(chart.appVersion, pkg.version);
  });
});
