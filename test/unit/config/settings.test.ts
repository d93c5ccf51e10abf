import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { loadSettings } from "../../../config/load.js";
import { defaultSettings, excludedNamespaces, parseSettings } from "../../../config/settings.js";

describe("parseSettings", () => {
  it("an empty document gives the documented defaults", () => {
    const r = parseSettings(null);
    assert.ok(r.ok);
    assert.deepEqual(r.settings, defaultSettings());
    assert.deepEqual(r.settings.profiles.default, { nameservers: ["dnsService"], searches: [], options: [{ name: "ndots", value: "5" }] });
    assert.deepEqual([...excludedNamespaces(r.settings)].sort(), ["kube-node-lease", "kube-public", "kube-system", "pod-dns-injector"]);
  });

  it("accepts a full configuration", () => {
    const r = parseSettings({
      clusterDomain: "k8s.internal",
      dnsService: { namespace: "dns", name: "coredns", clusterIP: "fd00::a" },
      defaultProfile: "team",
      profiles: { team: { nameservers: ["169.254.20.10"], searches: ["corp.example"], options: [{ name: "timeout", value: 2 }, { name: "edns0" }], ndots: 2 } },
      excludedNamespaces: ["legacy"],
      injectorNamespace: "dns-system",
      webhook: { port: 9443, tlsCertFile: "/tls/tls.crt", tlsKeyFile: "/tls/tls.key" },
      ops: { port: "9090" },
      logLevel: "debug",
    });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.settings.dnsService.clusterIP, "fd00::a");
    assert.deepEqual(r.settings.profiles.team?.options, [{ name: "ndots", value: "2" }, { name: "timeout", value: "2" }, { name: "edns0" }]);
    assert.ok(r.settings.excludedNamespaces.includes("kube-system"), "built-in exclusions cannot be removed");
    assert.ok(r.settings.excludedNamespaces.includes("legacy"));
    assert.equal(r.settings.ops.port, 9090);
  });

  it("clusterIP null means: learn it from the Service", () => {
    const r = parseSettings({ dnsService: { clusterIP: null } });
    assert.ok(r.ok);
    assert.equal(r.settings.dnsService.clusterIP, null);
  });

  it("reports every error with its field path", () => {
    const r = parseSettings({
      clusterDomian: "typo",
      clusterDomain: "UPPER",
      dnsService: { clusterIP: "10.96.0.300", nmae: "x" },
      profiles: { Bad_Name: {}, p: { nameservers: ["1.1.1.1", "2.2.2.2", "3.3.3.3", "4.4.4.4"], searches: ["ok", "-bad"], options: [{ value: "1" }], ndots: 16, extra: 1 } },
      defaultProfile: "missing",
      excludedNamespaces: "kube-system",
      webhook: { port: 70000, tlsCertFile: "/x" },
      logLevel: "loud",
    });
    assert.ok(!r.ok);
    const want = [
      /^clusterDomian: unknown setting/,
      /^clusterDomain: must be a lowercase DNS subdomain/,
      /^dnsService\.nmae: unknown setting/,
      /^dnsService\.clusterIP: not an IP address: "10\.96\.0\.300"/,
      /^profiles\.Bad_Name: profile names must be DNS labels/,
      /^profiles\.p\.extra: unknown setting/,
      /^profiles\.p\.nameservers: at most 3/,
      /^profiles\.p\.searches\[1\]: not a lowercase DNS subdomain: "-bad"/,
      /^profiles\.p\.options\[0\]\.name: required/,
      /^profiles\.p\.ndots: an integer from 0 to 15/,
      /^defaultProfile: no profile named "missing"/,
      /^excludedNamespaces: must be a list of namespace names/,
      /^webhook\.port: a port number from 0 to 65535/,
      /^webhook\.tlsCertFile and webhook\.tlsKeyFile: set both or neither/,
      /^logLevel: one of/,
    ];
    for (const w of want)
      assert.ok(
        r.errors.some((e) => w.test(e)),
        `missing error ${w}; got:\n${r.errors.join("\n")}`,
      );
  });

  it("a profile's maxSearchLineBytes: 16 to 2055, kept through normalisation", () => {
    const ok = parseSettings({ profiles: { alpine: { maxSearchLineBytes: 254 } } });
    assert.ok(ok.ok, ok.ok ? "" : ok.errors.join("\n"));
    assert.equal(ok.settings.profiles.alpine?.maxSearchLineBytes, 254);
    for (const bad of [8, 3000, "254"]) {
      const r = parseSettings({ profiles: { alpine: { maxSearchLineBytes: bad } } });
      assert.ok(!r.ok);
      assert.match(r.errors.join("\n"), /^profiles\.alpine\.maxSearchLineBytes: an integer from 16 to 2055 \(254: musl's limit\)/m);
    }
  });

  it("names the exact item, what was wrong and what is allowed", () => {
    const r = parseSettings({
      profiles: { fast: { nameservers: ["1.1.1.1", "10.0.0.300"], options: ["edns0", { name: "timeout", value: true }] } },
      excludedNamespaces: ["legacy", "Not_A_Namespace"],
      webhook: { port: "70000", host: "" },
      guardian: { repair: "fix" },
    });
    assert.ok(!r.ok);
    assert.deepEqual(r.errors, [
      'profiles.fast.nameservers[1]: neither an IP address nor dnsService or nodeLocalDNS: "10.0.0.300"',
      "profiles.fast.options[0]: must be a mapping {name, value}",
      "profiles.fast.options[1].value: must be a string",
      'excludedNamespaces[1]: not a valid namespace name: "Not_A_Namespace"',
      "webhook.host: must be a non-empty string",
      'webhook.port: a port number from 0 to 65535, got "70000"',
      'guardian.repair: one of report, recreate, got "fix"',
    ]);
  });

  it("an empty clusterIP means null, and a quoted port is a port", () => {
    const r = parseSettings({ dnsService: { clusterIP: "" }, webhook: { port: "8444" } });
    assert.ok(r.ok, JSON.stringify(!r.ok && r.errors));
    assert.equal(r.settings.dnsService.clusterIP, null);
    assert.equal(r.settings.webhook.port, 8444);
  });

  it("a non-mapping document is an error", () => {
    const r = parseSettings(["a"]);
    assert.ok(!r.ok);
    assert.match(r.errors[0] ?? "", /must be a mapping/);
  });
});

describe("loadSettings layering", () => {
  it("file < environment < flags", () => {
    const r = loadSettings({
      file: { path: "cfg.yaml", text: "clusterDomain: file.local\nlogLevel: warn\ndnsService: {clusterIP: 10.96.0.20}\n" },
      env: { POD_DNS_INJECTOR_CLUSTER_DOMAIN: "env.local", POD_NAMESPACE: "dns-system" },
      flags: { clusterDomain: "flag.local" },
    });
    assert.ok(r.ok);
    assert.equal(r.settings.clusterDomain, "flag.local");
    assert.equal(r.settings.logLevel, "warn");
    assert.equal(r.settings.injectorNamespace, "dns-system");
    assert.equal(r.settings.dnsService.clusterIP, "10.96.0.20");
  });

  it("names the source of an error", () => {
    const yaml = loadSettings({ file: { path: "cfg.yaml", text: "a: [1,\n" } });
    assert.ok(!yaml.ok);
    assert.match(yaml.errors[0] ?? "", /^cfg\.yaml: /);
    const dup = loadSettings({ file: { path: "cfg.yaml", text: "logLevel: info\nlogLevel: warn\n" } });
    assert.ok(!dup.ok, "duplicate keys are an error, not last-wins");
    const env = loadSettings({ env: { POD_DNS_INJECTOR_DNS_SERVICE_IP: "nope" } });
    assert.ok(!env.ok);
    assert.match(env.errors[0] ?? "", /^environment: dnsService\.clusterIP/);
    const flags = loadSettings({ flags: { webhook: { port: -1 } } });
    assert.ok(!flags.ok);
    assert.match(flags.errors[0] ?? "", /^flags: webhook\.port/);
  });
});
