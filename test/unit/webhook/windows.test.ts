/**
 * Windows pods (issue 14 item 5): nameservers and searches injected, the profile's resolver
 * options left out with a warning, or the pod skipped with `windows: skip`.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { NDOTS_ANNOTATION, PROFILE_ANNOTATION } from "../../../config/names.js";
import { defaultSettings, parseSettings } from "../../../config/settings.js";
import { decide, isWindowsPod } from "../../../webhook/decision.js";
import { readPod } from "../../../webhook/pod-view.js";
import { inputs, namespace, pod } from "../fixtures.js";

const windowsByOS = () => pod({ os: { name: "windows" } });
const windowsBySelector = (extra: Record<string, unknown> = {}) => pod({ nodeSelector: { "kubernetes.io/os": "windows", "node.example/pool": "win" }, ...extra });

describe("Windows pods", () => {
  it("are told by spec.os.name or the kubernetes.io/os nodeSelector, nothing else", () => {
    assert.equal(isWindowsPod(windowsByOS()), true);
    assert.equal(isWindowsPod(windowsBySelector()), true);
    assert.equal(isWindowsPod(pod({ os: { name: "linux" } })), false);
    assert.equal(isWindowsPod(pod({ nodeSelector: { "kubernetes.io/os": "linux" } })), false);
    assert.equal(isWindowsPod(pod({ nodeSelector: { "example.com/os": "windows" } })), false);
    assert.equal(isWindowsPod(pod()), false);
  });

  it("windows: inject (the default): nameservers and searches, no profile options, a warning naming them", () => {
    for (const p of [windowsByOS(), windowsBySelector()]) {
      const d = decide(inputs({ pod: p }));
      assert.equal(d.action, "inject");
      assert.equal(d.row, 9);
      assert.equal(d.reason, "windows-pod");
      assert.deepEqual(d.dnsConfig, { nameservers: ["10.96.0.10"], searches: ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local"], options: [] });
      assert.deepEqual(d.warnings, ["pod-dns-injector: Windows ignores resolver options: the profile's ndots:5 not injected"]);
    }
  });

  it("the namespace's ndots is left out too, the pod's own options stay", () => {
    const ns = namespace("team-a", "enabled", { [NDOTS_ANNOTATION]: "2" });
    const d = decide(inputs({ namespace: ns, pod: windowsBySelector({ dnsConfig: { options: [{ name: "timeout", value: "2" }] } }) }));
    assert.equal(d.reason, "windows-pod");
    assert.deepEqual(d.dnsConfig?.options, [{ name: "timeout", value: "2" }]);
    assert.match(d.warnings.join("\n"), /the profile's ndots:2 not injected/);
  });

  it("a profile without options: no warning; audit mode reports the same dnsConfig", () => {
    const s = defaultSettings();
    s.profiles.default = { nameservers: [], searches: ["corp.example"], options: [] };
    const quiet = decide(inputs({ pod: windowsByOS() }, s));
    assert.equal(quiet.reason, "windows-pod");
    assert.deepEqual(quiet.warnings, []);
    const audited = decide(inputs({ pod: windowsByOS(), namespace: namespace("team-a", "audit") }));
    assert.equal(audited.reason, "would-inject");
    assert.deepEqual(audited.dnsConfig?.options, []);
  });

  it("a Linux pod in the same namespace keeps its options (the cached Windows injection is separate)", () => {
    decide(inputs({ pod: windowsByOS() }));
    const linux = decide(inputs());
    assert.equal(linux.reason, "cluster-first");
    assert.deepEqual(linux.dnsConfig?.options, [{ name: "ndots", value: "5" }]);
    assert.deepEqual(decide(inputs({ pod: windowsByOS() })).dnsConfig?.options, []);
  });

  it("a Windows pod's own profile pick loses its options too, through the same cached choice as a Linux pick", () => {
    const pick = { [PROFILE_ANNOTATION]: "node-local-dns" };
    const win = decide(inputs({ pod: { metadata: { annotations: pick }, spec: { os: { name: "windows" } } } }));
    assert.equal(win.reason, "windows-pod");
    assert.equal(win.profile, "node-local-dns");
    assert.deepEqual(win.dnsConfig?.nameservers, ["169.254.20.10", "10.96.0.10"]);
    assert.deepEqual(win.dnsConfig?.options, []);
    assert.match(win.warnings.join("\n"), /the profile's ndots:5, timeout:1, attempts:2 not injected/);
    const linux = decide(inputs({ pod: { metadata: { annotations: pick }, spec: {} } }));
    assert.deepEqual(
      linux.dnsConfig?.options?.map((o) => o.name),
      ["ndots", "timeout", "attempts"],
    );
    // Plain Windows pods share one cached injection: the same frozen dnsConfig object.
    const s = defaultSettings();
    assert.equal(decide(inputs({ pod: windowsByOS() }, s)).dnsConfig, decide(inputs({ pod: windowsByOS() }, s)).dnsConfig);
  });

  it("windows: skip leaves them to kubelet's DNS (row 7, windows-skipped); Linux pods are still injected", () => {
    const r = parseSettings({ windows: "skip" });
    assert.ok(r.ok, r.ok ? "" : r.errors.join("\n"));
    const d = decide(inputs({ pod: windowsBySelector() }, r.settings));
    assert.equal(d.row, 7);
    assert.equal(d.action, "skip");
    assert.equal(d.reason, "windows-skipped");
    assert.equal(decide(inputs({}, r.settings)).reason, "cluster-first");
  });

  it("the setting accepts inject or skip and names the choices otherwise", () => {
    assert.equal(defaultSettings().windows, "inject");
    const r = parseSettings({ windows: "ignore" });
    assert.ok(!r.ok);
    assert.match(r.errors.join("\n"), /^windows: one of inject, skip/m);
  });

  it("the pod view keeps spec.os.name and only the kubernetes.io/os nodeSelector key", () => {
    const r = readPod({ spec: { os: { name: "windows" }, nodeSelector: { "kubernetes.io/os": "windows", pool: "a" } } }, "request.object");
    assert.ok(r.ok);
    assert.deepEqual(r.read.pod.spec, { os: { name: "windows" }, nodeSelector: { "kubernetes.io/os": "windows" } });
    const empty = readPod({ spec: { os: null, nodeSelector: null } }, "request.object");
    assert.ok(empty.ok);
    assert.deepEqual(empty.read.pod.spec, {});
  });

  it("the pod view names a spec.os or nodeSelector of the wrong shape", () => {
    const bad: [unknown, RegExp][] = [
      [{ os: "windows" }, /^request\.object\.spec\.os: expected an object, got "windows"$/],
      [{ os: { name: 1 } }, /^request\.object\.spec\.os\.name: expected a string, got number 1$/],
      [{ nodeSelector: ["windows"] }, /^request\.object\.spec\.nodeSelector: expected a mapping of strings, got a list$/],
      [{ nodeSelector: { "kubernetes.io/os": true } }, /^request\.object\.spec\.nodeSelector\["kubernetes\.io\/os"\]: expected a string, got boolean true$/],
    ];
    for (const [spec, message] of bad) {
      const r = readPod({ spec }, "request.object");
      assert.ok(!r.ok, JSON.stringify(spec));
      assert.match(r.error, message);
    }
  });
});
