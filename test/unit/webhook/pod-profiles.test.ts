/**
 * Per-workload profiles (issue 14 item 7): a pod (template) picks a profile with
 * `pod-dns-injector.io/profile` and its ndots with `pod-dns-injector.io/ndots`; the
 * namespace's `pod-dns-injector.io/allowed-profiles` restricts the picks. Through the pure
 * core: the profile reason beside the row reason, the precedence, the fallbacks and their
 * warnings, the per-namespace cache, and the rows that read the profile (8, 9's re-inject).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { ALLOWED_PROFILES_ANNOTATION, INJECTED_ANNOTATION, NDOTS_ANNOTATION, PROFILE_ANNOTATION, SEARCHES_ANNOTATION } from "../../../config/names.js";
import { defaultSettings, parseSettings } from "../../../config/settings.js";
import { applyDecision, decide } from "../../../webhook/decision.js";
import { PROFILE_REASONS, choosePodProfile, resolveNamespacePolicy } from "../../../webhook/namespace-policy.js";
import { readPod } from "../../../webhook/pod-view.js";
import { inputs, namespace, pod } from "../fixtures.js";
import { repoRoot } from "../repo-root.js";

const NODE_LOCAL = ["169.254.20.10", "10.96.0.10"];
const NODE_LOCAL_OPTIONS = [
  { name: "ndots", value: "5" },
  { name: "timeout", value: "1" },
  { name: "attempts", value: "2" },
];
const withAnnotations = (annotations: Record<string, string>, spec: Record<string, unknown> = {}) => pod(spec, { annotations });
const ns = (annotations: Record<string, string> = {}, mode = "enabled") => namespace("team-a", mode, annotations);

describe("pod profiles: what a pod picks", () => {
  it("a defined profile: that profile, reason pod-profile, its name in the annotation", () => {
    const d = decide(inputs({ pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" }) }));
    assert.equal(d.reason, "cluster-first");
    assert.equal(d.profile, "node-local-dns");
    assert.equal(d.profileReason, "pod-profile");
    assert.deepEqual(d.dnsConfig?.nameservers, NODE_LOCAL);
    assert.deepEqual(d.dnsConfig?.options, NODE_LOCAL_OPTIONS);
    assert.match(d.injectedAnnotation ?? "", /^node-local-dns@[0-9a-f]{10}$/);
    assert.deepEqual(d.warnings, []);
  });

  it("a pod that picks nothing has reason namespace-profile", () => {
    const d = decide(inputs({ namespace: ns({ [PROFILE_ANNOTATION]: "node-local-dns" }) }));
    assert.equal(d.profile, "node-local-dns");
    assert.equal(d.profileReason, "namespace-profile");
  });

  it("a picked profile comes as configured: the namespace's ndots and searches tune the namespace's profile only", () => {
    const tuned = ns({ [NDOTS_ANNOTATION]: "2", [SEARCHES_ANNOTATION]: "corp.example" });
    const nsPod = decide(inputs({ namespace: tuned }));
    assert.deepEqual(nsPod.dnsConfig?.options, [{ name: "ndots", value: "2" }]);
    assert.deepEqual(nsPod.dnsConfig?.searches.slice(3), ["corp.example"]);
    const picked = decide(inputs({ namespace: tuned, pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" }) }));
    assert.deepEqual(picked.dnsConfig?.options, NODE_LOCAL_OPTIONS);
    assert.deepEqual(picked.dnsConfig?.searches, ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local"]);
    // Naming the namespace's own profile is a pick too: the profile as configured.
    const same = decide(inputs({ namespace: tuned, pod: withAnnotations({ [PROFILE_ANNOTATION]: "default" }) }));
    assert.equal(same.profileReason, "pod-profile");
    assert.deepEqual(same.dnsConfig?.options, [{ name: "ndots", value: "5" }]);
  });

  it("the pod's ndots wins over the namespace's and over the picked profile's, in ndots' place first", () => {
    const own = decide(inputs({ namespace: ns({ [NDOTS_ANNOTATION]: "3" }), pod: withAnnotations({ [NDOTS_ANNOTATION]: " 1 " }) }));
    assert.deepEqual(own.dnsConfig?.options, [{ name: "ndots", value: "1" }]);
    assert.equal(own.profileReason, "namespace-profile");
    assert.match(own.injectedAnnotation ?? "", /^default@/);
    const picked = decide(inputs({ pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns", [NDOTS_ANNOTATION]: "2" }) }));
    assert.deepEqual(picked.dnsConfig?.options, [{ name: "ndots", value: "2" }, ...NODE_LOCAL_OPTIONS.slice(1)]);
    // The pod's own dnsConfig option still overrides by name, as kubelet merges it.
    const dnsConfig = { options: [{ name: "ndots", value: "4" }] };
    assert.deepEqual(decide(inputs({ pod: withAnnotations({ [NDOTS_ANNOTATION]: "2" }, { dnsConfig }) })).dnsConfig?.options, [{ name: "ndots", value: "4" }]);
  });

  it("a bad pod ndots is ignored with a warning", () => {
    for (const bad of ["16", "-1", "two", ""]) {
      const d = decide(inputs({ pod: withAnnotations({ [NDOTS_ANNOTATION]: bad }) }));
      assert.equal(d.action, "inject", bad);
      assert.deepEqual(d.dnsConfig?.options, [{ name: "ndots", value: "5" }], bad);
      assert.deepEqual(d.warnings, [`pod annotation ${NDOTS_ANNOTATION}=${JSON.stringify(bad)} ignored (must be an integer 0-15)`], bad);
    }
  });
});

describe("pod profiles: fallbacks to the namespace's profile", () => {
  it("an unknown name: the namespace's profile as tuned, reason pod-profile-unknown, a warning naming the pick", () => {
    for (const name of ["nope", "constructor", "Default"]) {
      const d = decide(inputs({ namespace: ns({ [NDOTS_ANNOTATION]: "2" }), pod: withAnnotations({ [PROFILE_ANNOTATION]: name }) }));
      assert.equal(d.reason, "cluster-first", name);
      assert.equal(d.profile, "default", name);
      assert.equal(d.profileReason, "pod-profile-unknown", name);
      assert.deepEqual(d.dnsConfig?.options, [{ name: "ndots", value: "2" }], name);
      assert.equal(d.warnings.length, 1, name);
      assert.match(
        d.warnings[0]!,
        new RegExp(`${PROFILE_ANNOTATION}=${JSON.stringify(name)} names no profile \\(have: default, node-local-dns\\); using the namespace's "default"$`),
        name,
      );
    }
  });

  it("allowed-profiles: a listed pick is taken, an unlisted one falls back with reason pod-profile-not-allowed", () => {
    const r = parseSettings({ profiles: { fast: { ndots: 1 }, slow: { ndots: 9 } } });
    assert.ok(r.ok);
    const restricted = ns({ [ALLOWED_PROFILES_ANNOTATION]: " fast , ,node-local-dns" });
    const allowed = decide(inputs({ namespace: restricted, pod: withAnnotations({ [PROFILE_ANNOTATION]: "fast" }) }, r.settings));
    assert.equal(allowed.profile, "fast");
    assert.equal(allowed.profileReason, "pod-profile");
    assert.deepEqual(allowed.dnsConfig?.options, [{ name: "ndots", value: "1" }]);
    const refused = decide(inputs({ namespace: restricted, pod: withAnnotations({ [PROFILE_ANNOTATION]: "slow" }) }, r.settings));
    assert.equal(refused.profile, "default");
    assert.equal(refused.profileReason, "pod-profile-not-allowed");
    assert.deepEqual(refused.dnsConfig?.options, [{ name: "ndots", value: "5" }]);
    assert.deepEqual(refused.warnings, [
      `pod annotation ${PROFILE_ANNOTATION}="slow" is not allowed in this namespace (${ALLOWED_PROFILES_ANNOTATION}: default, fast, node-local-dns); using the namespace's "default"`,
    ]);
  });

  it("the namespace's own profile is always allowed; an empty list allows any", () => {
    const own = decide(
      inputs({
        namespace: ns({ [PROFILE_ANNOTATION]: "node-local-dns", [ALLOWED_PROFILES_ANNOTATION]: "default" }),
        pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" }),
      }),
    );
    assert.equal(own.profileReason, "pod-profile");
    assert.equal(own.profile, "node-local-dns");
    for (const empty of ["", " , "]) {
      const any = decide(inputs({ namespace: ns({ [ALLOWED_PROFILES_ANNOTATION]: empty }), pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" }) }));
      assert.equal(any.profileReason, "pod-profile", JSON.stringify(empty));
      assert.deepEqual(any.warnings, []);
    }
  });

  it("allowed-profiles entries that name no profile are warned about and allow nothing", () => {
    const policy = resolveNamespacePolicy(ns({ [ALLOWED_PROFILES_ANNOTATION]: "nope,node-local-dns,constructor" }), defaultSettings());
    assert.deepEqual(policy.allowedProfiles, ["node-local-dns"]);
    assert.deepEqual(policy.warnings, [`namespace team-a: ${ALLOWED_PROFILES_ANNOTATION} names no profile "nope", "constructor" (have: default, node-local-dns)`]);
    // Only unknown names: just the namespace's own profile is left.
    const onlyUnknown = resolveNamespacePolicy(ns({ [ALLOWED_PROFILES_ANNOTATION]: "nope" }), defaultSettings());
    assert.deepEqual(onlyUnknown.allowedProfiles, []);
    assert.equal(choosePodProfile(onlyUnknown, { [PROFILE_ANNOTATION]: "node-local-dns" }, defaultSettings()).profileReason, "pod-profile-not-allowed");
    assert.equal(choosePodProfile(onlyUnknown, { [PROFILE_ANNOTATION]: "default" }, defaultSettings()).profileReason, "pod-profile");
    assert.equal(resolveNamespacePolicy(ns(), defaultSettings()).allowedProfiles, null, "no annotation: any");
  });

  it("only the first 32 entries are read, with a warning", () => {
    const list = [...Array.from({ length: 32 }, () => "default"), "node-local-dns"].join(",");
    const policy = resolveNamespacePolicy(ns({ [ALLOWED_PROFILES_ANNOTATION]: list }), defaultSettings());
    assert.deepEqual(policy.warnings, [`namespace team-a: ${ALLOWED_PROFILES_ANNOTATION} has 33 entries; only the first 32 are read`]);
    assert.equal(choosePodProfile(policy, { [PROFILE_ANNOTATION]: "node-local-dns" }, defaultSettings()).profileReason, "pod-profile-not-allowed");
  });

  it("every profile reason has its text, and the README names each", () => {
    assert.deepEqual(Object.keys(PROFILE_REASONS).sort(), ["namespace-profile", "pod-profile", "pod-profile-not-allowed", "pod-profile-unknown"]);
    const readme = readFileSync(join(repoRoot(), "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("### Per-pod profiles"), readme.indexOf("## When the webhook fails"));
    for (const code of Object.keys(PROFILE_REASONS)) assert.ok(section.includes(`\`${code}\``), code);
  });
});

describe("pod profiles: the rows that read the profile", () => {
  it("row 8: a pod injected with its own profile is already injected when fed back", () => {
    const original = withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns", [NDOTS_ANNOTATION]: "3" });
    const injected = applyDecision(original, decide(inputs({ pod: original })));
    const again = decide(inputs({ pod: injected }));
    assert.equal(again.reason, "already-injected");
    assert.equal(again.profileReason, "pod-profile");
  });

  it("re-injecting with a new DNS IP takes out the picked profile's leading nameservers, not the namespace's", () => {
    const original = withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" }, { dnsConfig: { nameservers: ["192.0.2.53"] } });
    const old = applyDecision(original, decide(inputs({ pod: original, dnsServiceIPs: ["10.96.0.99"] })));
    assert.deepEqual(old.spec?.dnsConfig, {
      nameservers: ["169.254.20.10", "10.96.0.99", "192.0.2.53"],
      searches: ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local"],
      options: NODE_LOCAL_OPTIONS,
    });
    const d = decide(inputs({ pod: old }));
    assert.equal(d.reason, "reinject-outdated");
    assert.deepEqual(d.dnsConfig?.nameservers, [...NODE_LOCAL, "192.0.2.53"].slice(0, 3));
    assert.equal(decide(inputs({ pod: applyDecision(old, d) })).reason, "already-injected");
  });

  it("a picked profile with literal nameservers is injected while the DNS IP is unknown; the namespace's is not", () => {
    const r = parseSettings({ profiles: { corp: { nameservers: ["192.0.2.10"] } } });
    assert.ok(r.ok);
    const picked = decide(inputs({ dnsServiceIPs: [], pod: withAnnotations({ [PROFILE_ANNOTATION]: "corp" }) }, r.settings));
    assert.equal(picked.action, "inject");
    assert.deepEqual(picked.dnsConfig?.nameservers, ["192.0.2.10"]);
    const fallback = decide(inputs({ dnsServiceIPs: [], pod: withAnnotations({ [PROFILE_ANNOTATION]: "nope" }) }, r.settings));
    assert.equal(fallback.reason, "dns-service-ip-unknown");
    assert.equal(fallback.profileReason, "pod-profile-unknown");
    assert.equal(fallback.warnings.length, 2, "the fallback and the unknown IP");
  });

  it("audit mode and skips carry the pod's profile and reason", () => {
    const picked = withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" });
    const audit = decide(inputs({ namespace: ns({}, "audit"), pod: picked }));
    assert.equal(audit.reason, "would-inject");
    assert.equal(audit.profile, "node-local-dns");
    assert.deepEqual(audit.dnsConfig?.nameservers, NODE_LOCAL);
    const skipped = decide(inputs({ pod: pod({ dnsPolicy: "Default" }, { annotations: { [PROFILE_ANNOTATION]: "node-local-dns" } }) }));
    assert.equal(skipped.reason, "dns-policy-default");
    assert.equal(skipped.profileReason, "pod-profile");
  });

  it("a Windows pod that picks ndots gets no options, and the warning names the pod's ndots", () => {
    const d = decide(inputs({ pod: withAnnotations({ [NDOTS_ANNOTATION]: "2" }, { os: { name: "windows" } }) }));
    assert.equal(d.reason, "windows-pod");
    assert.deepEqual(d.dnsConfig?.options, []);
    assert.match(d.warnings.join("\n"), /the profile's ndots:2 not injected/);
  });
});

describe("pod profiles: the per-namespace cache", () => {
  it("a pod's pick neither uses nor changes the namespace's shared injection", () => {
    const settings = defaultSettings();
    const picked = decide(inputs({ pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" }) }, settings));
    const ndots = decide(inputs({ pod: withAnnotations({ [NDOTS_ANNOTATION]: "1" }) }, settings));
    const plain = decide(inputs({}, settings));
    assert.deepEqual(plain, decide(inputs({}, defaultSettings())), "the plain pod gets what a fresh cache builds");
    assert.deepEqual(plain.dnsConfig?.nameservers, ["10.96.0.10"]);
    assert.notEqual(picked.dnsConfig, plain.dnsConfig);
    assert.notEqual(ndots.dnsConfig, plain.dnsConfig);
    // And the picks did not get the plain pod's either, built before or after.
    assert.deepEqual(decide(inputs({ pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" }) }, settings)).dnsConfig?.nameservers, NODE_LOCAL);
  });

  it("pods with the same pick share one frozen injection; a fallback shares the namespace's", () => {
    const settings = defaultSettings();
    const a = decide(inputs({ pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns" }) }, settings));
    const b = decide(inputs({ pod: withAnnotations({ [PROFILE_ANNOTATION]: "node-local-dns", "team.example/x": "y" }) }, settings));
    assert.equal(a.dnsConfig, b.dnsConfig);
    assert.ok(Object.isFrozen(a.dnsConfig));
    const plain = decide(inputs({}, settings));
    const fallback = decide(inputs({ pod: withAnnotations({ [PROFILE_ANNOTATION]: "nope" }) }, settings));
    assert.equal(fallback.dnsConfig, plain.dnsConfig);
    assert.equal(fallback.injectedAnnotation, plain.injectedAnnotation);
    assert.equal(plain.warnings.length, 0, "the fallback's warning stays the fallback's");
  });
});

describe("pod profiles: the bounded pod view", () => {
  it("keeps the profile and ndots annotations", () => {
    const r = readPod({ metadata: { annotations: { [PROFILE_ANNOTATION]: "node-local-dns", [NDOTS_ANNOTATION]: "2", [INJECTED_ANNOTATION]: "x", other: "y" } } }, "request.object");
    assert.ok(r.ok);
    assert.deepEqual(r.read.pod.metadata?.annotations, { [PROFILE_ANNOTATION]: "node-local-dns", [NDOTS_ANNOTATION]: "2", [INJECTED_ANNOTATION]: "x" });
  });
});
