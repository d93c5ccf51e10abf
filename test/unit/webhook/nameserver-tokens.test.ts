/**
 * Nameserver tokens (issue 14 items 1-2): `dnsService` is the DNS Service's live clusterIP,
 * `nodeLocalDNS` the node cache's address; the built-in node-local-dns profile uses both.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { PROFILE_ANNOTATION } from "../../../config/names.js";
import { defaultSettings, parseSettings } from "../../../config/settings.js";
import { expandNameservers, hasProfileNameservers, isNameserverEntry, usesDNSService } from "../../../config/nameserver-tokens.js";
import { decide } from "../../../webhook/decision.js";
import { inputs, namespace } from "../fixtures.js";

const live = { dnsService: ["10.96.0.10"], nodeLocalDNS: "169.254.20.10" };

describe("nameserver tokens", () => {
  it("expand in order; an empty list is [dnsService]; an unknown DNS IP expands to nothing", () => {
    assert.deepEqual(expandNameservers(["nodeLocalDNS", "dnsService"], live), ["169.254.20.10", "10.96.0.10"]);
    assert.deepEqual(expandNameservers(["dnsService", "10.0.0.53"], live), ["10.96.0.10", "10.0.0.53"]);
    assert.deepEqual(expandNameservers([], live), ["10.96.0.10"]);
    assert.deepEqual(expandNameservers(["nodeLocalDNS", "dnsService"], { ...live, dnsService: [] }), ["169.254.20.10"]);
    // Dual-stack (a later item): the Service's IPs in its order.
    assert.deepEqual(expandNameservers(["dnsService"], { ...live, dnsService: ["10.96.0.10", "fd00:10:96::a"] }), ["10.96.0.10", "fd00:10:96::a"]);
  });

  it("say whether a profile needs the DNS Service and whether it names servers of its own", () => {
    assert.equal(usesDNSService([]), true);
    assert.equal(usesDNSService(["nodeLocalDNS", "dnsService"]), true);
    assert.equal(usesDNSService(["169.254.20.10"]), false);
    assert.equal(hasProfileNameservers([]), false);
    assert.equal(hasProfileNameservers(["dnsService"]), false);
    assert.equal(hasProfileNameservers(["nodeLocalDNS", "dnsService"]), true);
  });

  it("entries are IPs or the two tokens, spelt exactly", () => {
    for (const ok of ["10.0.0.1", "fd00::a", "dnsService", "nodeLocalDNS"]) assert.equal(isNameserverEntry(ok), true, ok);
    for (const bad of ["dnsservice", "DNSService", "kube-dns", "10.0.0.300", ""]) assert.equal(isNameserverEntry(bad), false, bad);
  });

  it("settings keep tokens as written and canonicalise IPs; the address is validated", () => {
    const r = parseSettings({ nodeLocalDNS: { address: "169.254.025.10" } });
    assert.ok(!r.ok);
    assert.match(r.errors.join("\n"), /^nodeLocalDNS\.address: not an IP address: "169\.254\.025\.10"/m);
    const ok = parseSettings({ profiles: { v6: { nameservers: ["FD00:0:0:0:0:0:0:A", "dnsService"] } } });
    assert.ok(ok.ok, ok.ok ? "" : ok.errors.join("\n"));
    assert.deepEqual(ok.settings.profiles.v6?.nameservers, ["fd00::a", "dnsService"]);
    assert.deepEqual(defaultSettings().profiles["node-local-dns"]?.nameservers, ["nodeLocalDNS", "dnsService"]);
  });
});

describe("decide with the node-local-dns profile", () => {
  const nodeLocal = namespace("team-a", "enabled", { [PROFILE_ANNOTATION]: "node-local-dns" });

  it("injects the node cache first, the live DNS IP second, with timeout:1 and attempts:2", () => {
    const d = decide(inputs({ namespace: nodeLocal }));
    assert.equal(d.reason, "cluster-first");
    assert.equal(d.profile, "node-local-dns");
    assert.deepEqual(d.dnsConfig, {
      nameservers: ["169.254.20.10", "10.96.0.10"],
      searches: ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local"],
      options: [
        { name: "ndots", value: "5" },
        { name: "timeout", value: "1" },
        { name: "attempts", value: "2" },
      ],
    });
    assert.match(d.injectedAnnotation ?? "", /^node-local-dns@[0-9a-f]{10}$/);
  });

  it("follows a configured address and the live IP", () => {
    const s = defaultSettings();
    s.nodeLocalDNS.address = "169.254.25.10";
    assert.deepEqual(decide(inputs({ namespace: nodeLocal, dnsServiceIPs: ["10.100.0.10"] }, s)).dnsConfig?.nameservers, ["169.254.25.10", "10.100.0.10"]);
  });

  it("is not injected while the DNS Service IP is unknown (no fallback); a profile of literal IPs still is", () => {
    assert.equal(decide(inputs({ namespace: nodeLocal, dnsServiceIPs: [] })).reason, "dns-service-ip-unknown");
    const s = defaultSettings();
    s.profiles.literal = { nameservers: ["nodeLocalDNS", "10.0.0.53"], searches: [], options: [] };
    const d = decide(inputs({ namespace: namespace("team-a", "enabled", { [PROFILE_ANNOTATION]: "literal" }), dnsServiceIPs: [] }, s));
    assert.equal(d.action, "inject");
    assert.deepEqual(d.dnsConfig?.nameservers, ["169.254.20.10", "10.0.0.53"]);
  });

  it("a pod's own nameservers follow the profile's, within the limit of 3 (cut with a warning)", () => {
    const d = decide(inputs({ namespace: nodeLocal, pod: { spec: { dnsConfig: { nameservers: ["1.1.1.1", "8.8.8.8"] } } } }));
    assert.deepEqual(d.dnsConfig?.nameservers, ["169.254.20.10", "10.96.0.10", "1.1.1.1"]);
    assert.match(d.warnings.join("\n"), /dropped nameserver 8\.8\.8\.8: at most 3 nameservers/);
  });
});

describe("dual-stack DNS Service (issue 14 item 3)", () => {
  const dual = ["10.96.0.10", "fd00:10:96::a"];
  const nodeLocal = namespace("team-a", "enabled", { [PROFILE_ANNOTATION]: "node-local-dns" });

  it("dnsService stands for both clusterIPs, in the Service's order", () => {
    const d = decide(inputs({ dnsServiceIPs: dual }));
    assert.equal(d.action, "inject");
    assert.deepEqual(d.dnsConfig?.nameservers, dual);
    assert.deepEqual(d.warnings, []);
    const v6first = decide(inputs({ dnsServiceIPs: [...dual].reverse() }));
    assert.deepEqual(v6first.dnsConfig?.nameservers, ["fd00:10:96::a", "10.96.0.10"]);
    assert.notEqual(v6first.injectedAnnotation, d.injectedAnnotation, "the order is part of what was applied");
  });

  it("with NodeLocal DNSCache first the three fit; a pod's own nameserver is cut with a warning", () => {
    assert.deepEqual(decide(inputs({ namespace: nodeLocal, dnsServiceIPs: dual })).dnsConfig?.nameservers, ["169.254.20.10", ...dual]);
    const d = decide(inputs({ namespace: nodeLocal, dnsServiceIPs: dual, pod: { spec: { dnsConfig: { nameservers: ["1.1.1.1"] } } } }));
    assert.deepEqual(d.dnsConfig?.nameservers, ["169.254.20.10", ...dual]);
    assert.match(d.warnings.join("\n"), /dropped nameserver 1\.1\.1\.1: at most 3 nameservers/);
  });

  it("re-injecting a pod injected with both takes both out as ours (no duplicate, no loss of its own)", () => {
    const first = decide(inputs({ dnsServiceIPs: dual, pod: { spec: { dnsConfig: { nameservers: ["1.1.1.1"] } } } }));
    assert.deepEqual(first.dnsConfig?.nameservers, [...dual, "1.1.1.1"]);
    const stored = { metadata: { annotations: { "pod-dns-injector.io/injected": first.injectedAnnotation! } }, spec: { dnsPolicy: "None", dnsConfig: first.dnsConfig } };
    const moved = decide(inputs({ dnsServiceIPs: ["10.96.0.20", "fd00:10:96::14"], pod: stored }));
    assert.equal(moved.reason, "reinject-outdated");
    assert.deepEqual(moved.dnsConfig?.nameservers, ["10.96.0.20", "fd00:10:96::14", "1.1.1.1"]);
  });
});
