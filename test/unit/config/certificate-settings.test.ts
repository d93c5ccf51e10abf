import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DEFAULT_CA_VALIDITY_DAYS, DEFAULT_SERVING_VALIDITY_DAYS } from "../../../certs/authority.js";
import { DEFAULT_RENEWAL_FRACTION } from "../../../certs/renewal.js";
import { loadSettings } from "../../../config/load.js";
import { defaultSettings, parseSettings } from "../../../config/settings.js";

describe("certificates settings", () => {
  it("has documented defaults", () => {
    assert.deepEqual(defaultSettings().certificates, {
      secretName: "pod-dns-injector-tls",
      caSecretName: "pod-dns-injector-ca",
      serviceName: "pod-dns-injector",
      extraDNSNames: [],
      extraIPs: [],
      caValidityDays: DEFAULT_CA_VALIDITY_DAYS,
      validityDays: DEFAULT_SERVING_VALIDITY_DAYS,
      renewFraction: DEFAULT_RENEWAL_FRACTION,
      checkIntervalSeconds: 60,
      rolloverGraceSeconds: 120,
      mutatingWebhookConfiguration: "pod-dns-injector",
      validatingWebhookConfiguration: "pod-dns-injector",
    });
    assert.equal(DEFAULT_CA_VALIDITY_DAYS, 3650);
    assert.equal(DEFAULT_SERVING_VALIDITY_DAYS, 365);
  });

  it("accepts every key, fractional lifetimes, IPs canonicalised and de-duplicated", () => {
    const r = parseSettings({
      certificates: {
        secretName: "webhook-tls",
        caSecretName: "webhook-ca",
        serviceName: "dns-webhook",
        extraDNSNames: ["localhost", "*.webhooks.example.com", "localhost"],
        extraIPs: ["127.0.0.1", "::1", "0:0:0:0:0:0:0:1"],
        caValidityDays: 0.001,
        validityDays: 0.0005,
        renewFraction: 0.5,
        checkIntervalSeconds: 0.5,
        rolloverGraceSeconds: 2,
        mutatingWebhookConfiguration: "dns-webhook",
        validatingWebhookConfiguration: null,
      },
    });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.deepEqual(r.settings.certificates, {
      secretName: "webhook-tls",
      caSecretName: "webhook-ca",
      serviceName: "dns-webhook",
      extraDNSNames: ["localhost", "*.webhooks.example.com"],
      extraIPs: ["127.0.0.1", "::1"],
      caValidityDays: 0.001,
      validityDays: 0.0005,
      renewFraction: 0.5,
      checkIntervalSeconds: 0.5,
      rolloverGraceSeconds: 2,
      mutatingWebhookConfiguration: "dns-webhook",
      validatingWebhookConfiguration: null,
    });
  });

  it("an empty configuration name means: do not manage that kind", () => {
    const r = parseSettings({ certificates: { mutatingWebhookConfiguration: "" } });
    assert.ok(r.ok);
    assert.equal(r.settings.certificates.mutatingWebhookConfiguration, null);
    assert.equal(r.settings.certificates.validatingWebhookConfiguration, "pod-dns-injector");
  });

  it("keeps unset keys at their defaults when layered", () => {
    const r = loadSettings({ file: { path: "c.yaml", text: "certificates:\n  validityDays: 30\n" }, flags: { certificates: { extraIPs: ["10.0.0.1"] } } });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.settings.certificates.validityDays, 30);
    assert.deepEqual(r.settings.certificates.extraIPs, ["10.0.0.1"]);
    assert.equal(r.settings.certificates.caValidityDays, 3650);
  });

  const bad: { name: string; doc: unknown; want: RegExp[] }[] = [
    { name: "not a mapping", doc: ["x"], want: [/^certificates: must be a mapping$/] },
    { name: "an unknown key", doc: { validity: 3 }, want: [/^certificates\.validity: unknown setting \(known: secretName, caSecretName, /] },
    { name: "a bad Secret name", doc: { secretName: "Bad_Name" }, want: [/^certificates\.secretName: not a valid Secret name \(a lowercase DNS subdomain\): "Bad_Name"$/] },
    { name: "a bad CA Secret name", doc: { caSecretName: 7 }, want: [/^certificates\.caSecretName: not a valid Secret name .*: 7$/] },
    {
      name: "the same Secret twice",
      doc: { secretName: "tls", caSecretName: "tls" },
      want: [/^certificates\.secretName and certificates\.caSecretName: must differ \(both "tls"\)/],
    },
    { name: "a Service name with dots", doc: { serviceName: "a.b" }, want: [/^certificates\.serviceName: not a valid Service name \(a DNS label\): "a\.b"$/] },
    { name: "extraDNSNames not a list", doc: { extraDNSNames: "localhost" }, want: [/^certificates\.extraDNSNames: must be a list of lowercase DNS names$/] },
    { name: "an uppercase DNS name", doc: { extraDNSNames: ["ok", "Upper"] }, want: [/^certificates\.extraDNSNames\[1\]: not a valid lowercase DNS name: "Upper"$/] },
    { name: "a bad IP", doc: { extraIPs: ["127.0.0.1", "10.0.0.300"] }, want: [/^certificates\.extraIPs\[1\]: not a valid IP address: "10\.0\.0\.300"$/] },
    { name: "zero days", doc: { validityDays: 0 }, want: [/^certificates\.validityDays: a number of days greater than 0 and at most 36500, got 0$/] },
    { name: "days as text", doc: { caValidityDays: "10" }, want: [/^certificates\.caValidityDays: a number of days .*, got "10"$/] },
    { name: "renewFraction 1", doc: { renewFraction: 1 }, want: [/^certificates\.renewFraction: a number strictly between 0 and 1 .*, got 1$/] },
    { name: "negative interval", doc: { checkIntervalSeconds: -1 }, want: [/^certificates\.checkIntervalSeconds: a number of seconds greater than 0 and at most 86400, got -1$/] },
    { name: "infinite grace", doc: { rolloverGraceSeconds: Infinity }, want: [/^certificates\.rolloverGraceSeconds: a number of seconds/] },
    {
      name: "a bad configuration name",
      doc: { validatingWebhookConfiguration: "Not OK" },
      want: [/^certificates\.validatingWebhookConfiguration: a configuration name \(lowercase DNS subdomain\) or null, got "Not OK"$/],
    },
  ];
  for (const c of bad) {
    it(`rejects ${c.name}`, () => {
      const r = parseSettings({ certificates: c.doc });
      assert.ok(!r.ok, "accepted");
      for (const w of c.want)
        assert.ok(
          r.errors.some((e) => w.test(e)),
          `missing error ${w}; got:\n${r.errors.join("\n")}`,
        );
    });
  }

  it("reports every bad key at once", () => {
    const r = parseSettings({ certificates: { validityDays: -1, renewFraction: 2, extraIPs: ["x"] } });
    assert.ok(!r.ok);
    assert.equal(r.errors.length, 3, r.errors.join("\n"));
  });
});
