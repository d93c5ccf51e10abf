import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { Profile } from "../../../config/settings.js";
import { buildDNSConfig } from "../../../webhook/dns-config.js";
import { MAX_SEARCH_LIST_CHARS, MUSL_MAX_LINE_CHARS, SEARCH_LINE_PREFIX, canonicalIP, isValidSearch, searchListLength, searchListLimit } from "../../../config/dns-limits.js";

const profile = (p: Partial<Profile> = {}): Profile => ({ nameservers: [], searches: [], options: [{ name: "ndots", value: "5" }], ...p });
const build = (own: unknown, p: Partial<Profile> = {}, ip = "10.96.0.10") =>
  buildDNSConfig({ namespace: "team-a", clusterDomain: "cluster.local", dnsServiceIPs: ip ? [ip] : [], nodeLocalDNS: "169.254.20.10", profile: profile(p), podDNSConfig: own });

/** What the API server's validatePodDNSConfig checks (pkg/apis/core/validation). */
function assertValid(cfg: { nameservers: string[]; searches: string[]; options: { name: string }[] }): void {
  assert.ok(cfg.nameservers.length >= 1 && cfg.nameservers.length <= 3, `1-3 nameservers, got ${cfg.nameservers.length}`);
  for (const ns of cfg.nameservers) assert.equal(canonicalIP(ns), ns, `canonical IP ${ns}`);
  assert.ok(cfg.searches.length <= 32, `at most 32 searches, got ${cfg.searches.length}`);
  assert.ok(searchListLength(cfg.searches) <= 2048, `search list ${searchListLength(cfg.searches)} chars`);
  for (const s of cfg.searches) assert.ok(isValidSearch(s), `valid search ${s}`);
  for (const o of cfg.options) assert.ok(o.name.length > 0);
}

describe("buildDNSConfig: merge rules", () => {
  it("profile nameservers first, then the pod's own, de-duplicated", () => {
    const r = build({ nameservers: ["10.96.0.10", "1.1.1.1"] });
    assert.deepEqual(r.dnsConfig.nameservers, ["10.96.0.10", "1.1.1.1"]);
    assert.deepEqual(r.cuts, []);
  });

  it("a profile with its own nameservers replaces the DNS Service IP", () => {
    assert.deepEqual(build(undefined, { nameservers: ["169.254.20.10", "10.96.0.10"] }).dnsConfig.nameservers, ["169.254.20.10", "10.96.0.10"]);
  });

  it("searches: the cluster's three, profile extras, then the pod's own, de-duplicated", () => {
    const r = build({ searches: ["cluster.local", "pod.example", "corp.example"] }, { searches: ["corp.example"] });
    assert.deepEqual(r.dnsConfig.searches, ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example", "pod.example"]);
  });

  it("options: the pod's own override the profile's by name, new ones are appended", () => {
    const r = build(
      { options: [{ name: "ndots", value: "2" }, { name: "edns0" }, { name: "timeout", value: "1" }] },
      {
        options: [
          { name: "ndots", value: "5" },
          { name: "attempts", value: "3" },
        ],
      },
    );
    assert.deepEqual(r.dnsConfig.options, [{ name: "ndots", value: "2" }, { name: "attempts", value: "3" }, { name: "edns0" }, { name: "timeout", value: "1" }]);
  });

  it("is idempotent: the result fed back as the pod's own dnsConfig yields the same result", () => {
    const cases: unknown[] = [
      undefined,
      { nameservers: ["1.1.1.1", "8.8.8.8", "9.9.9.9"], searches: ["a.example"], options: [{ name: "ndots", value: "1" }, { name: "rotate" }] },
      { searches: Array.from({ length: 40 }, (_, i) => `d${i}.example`) },
    ];
    for (const own of cases) {
      const first = build(own, { searches: ["corp.example"] });
      const second = build(first.dnsConfig, { searches: ["corp.example"] });
      assert.deepEqual(second.dnsConfig, first.dnsConfig);
      assert.deepEqual(second.cuts, []);
    }
  });
});

describe("buildDNSConfig: the API server's limits", () => {
  it("at most 3 nameservers; the cut ones are named", () => {
    const r = build({ nameservers: ["1.1.1.1", "8.8.8.8", "9.9.9.9"] });
    assert.deepEqual(r.dnsConfig.nameservers, ["10.96.0.10", "1.1.1.1", "8.8.8.8"]);
    assert.deepEqual(r.cuts, ["dropped nameserver 9.9.9.9: at most 3 nameservers"]);
    assertValid(r.dnsConfig);
  });

  it("at most 32 searches; the cut ones are named", () => {
    const own = Array.from({ length: 35 }, (_, i) => `d${i}.example`);
    const r = build({ searches: own });
    assert.equal(r.dnsConfig.searches.length, 32);
    assert.equal(r.cuts.length, 6);
    assert.equal(r.cuts[0], "dropped search d29.example: at most 32 search domains");
    assert.equal(r.resolverWarnings.length, 1, "the 32 searches make a line over 254 characters: musl's warning");
    assertValid(r.dnsConfig);
  });

  it("the search list stays within 2048 characters including spaces", () => {
    const long = (i: number) => `${"a".repeat(60)}.${"b".repeat(60)}.${"c".repeat(60)}.s${String(i).padStart(2, "0")}.example`; // 197 chars
    const r = build({ searches: Array.from({ length: 12 }, (_, i) => long(i)) });
    assert.ok(searchListLength(r.dnsConfig.searches) <= MAX_SEARCH_LIST_CHARS);
    assert.ok(r.cuts.some((c) => c.includes("over 2048 characters")));
    assertValid(r.dnsConfig);
    // Exactly at the limit is allowed: fill the remaining room precisely.
    const base = build(undefined).dnsConfig.searches;
    let room = MAX_SEARCH_LIST_CHARS - searchListLength(base);
    const exact: string[] = [];
    while (room > 1) {
      const len = Math.min(room - 1, 200);
      if (len < 5) break;
      const name = `${"x".repeat(len - 4)}.com`;
      exact.push(name.slice(0, 63).includes(".") ? name : name.replace(/x{63}/g, (m) => `${m.slice(0, 62)}.`));
      room -= len + 1;
    }
    const filled = build({ searches: exact });
    assert.ok(searchListLength(filled.dnsConfig.searches) <= MAX_SEARCH_LIST_CHARS);
    assertValid(filled.dnsConfig);
  });

  it("warns, naming musl, when resolv.conf's search line is over 254 characters; exactly 254 is quiet", () => {
    const base = build(undefined).dnsConfig.searches; // team-a.svc.cluster.local svc.cluster.local cluster.local
    const room = MUSL_MAX_LINE_CHARS - SEARCH_LINE_PREFIX.length - searchListLength(base) - 1;
    // One search of `room` characters: labels of 60 joined with dots, then "example".
    const labels = Array.from({ length: Math.floor((room - "example".length - 2) / 61) }, () => "a".repeat(60));
    const head = "b".repeat(room - "example".length - labels.length * 61 - 1);
    const fits = [head, ...labels, "example"].filter(Boolean).join(".");
    assert.equal(fits.length, room);
    const quiet = build({ searches: [fits] });
    assert.equal(SEARCH_LINE_PREFIX.length + searchListLength(quiet.dnsConfig.searches), MUSL_MAX_LINE_CHARS);
    assert.deepEqual([...quiet.cuts, ...quiet.resolverWarnings], []);
    const over = build({ searches: [`c${fits}`] });
    assert.deepEqual(over.dnsConfig.searches, [...base, `c${fits}`], "only a warning: glibc reads the line");
    assert.deepEqual(over.cuts, []);
    assert.deepEqual(over.resolverWarnings, [
      "resolv.conf's search line is 255 characters: musl (Alpine) ignores a line over 254, so its pods would resolve no short name; set the profile's maxSearchLineBytes: 254 to cut it",
    ]);
  });

  it("a profile's maxSearchLineBytes cuts the search list where it stops fitting (kubelet's rule), naming what was dropped", () => {
    const long = (i: number) => `${"a".repeat(60)}.s${i}.example`; // 72 characters
    const r = build({ searches: [long(1), long(2), long(3), "short.example"] }, { maxSearchLineBytes: MUSL_MAX_LINE_CHARS });
    // "search " (7) + cluster's three (57) + 2 × (1 + 72) = 210; a third long one would be 283.
    // The short one after it would fit, but a cut keeps a prefix: the search order stays the
    // pod's, as kubelet and the in-tree policy cut it.
    assert.deepEqual(r.dnsConfig.searches, ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local", long(1), long(2)]);
    assert.ok(SEARCH_LINE_PREFIX.length + searchListLength(r.dnsConfig.searches) <= MUSL_MAX_LINE_CHARS);
    assert.deepEqual(r.cuts, [
      `dropped search ${long(3)}: resolv.conf's search line over the profile's maxSearchLineBytes 254`,
      `dropped search short.example: it follows ${long(3)}, where the search list stopped fitting`,
    ]);
    assert.equal(searchListLimit(undefined), MAX_SEARCH_LIST_CHARS);
    assert.equal(searchListLimit(5000), MAX_SEARCH_LIST_CHARS, "never above the API server's limit");
    assertValid(r.dnsConfig);
  });

  it("drops the pod's own entries the API server would reject, naming each", () => {
    const r = build({
      nameservers: ["not-an-ip", "010.0.0.1", "::ffff:1.2.3.4", 42, "2001:DB8:0:0::1"],
      searches: ["UPPER.example", "under_score.example", "-bad.example", "ok.example.", `${"a".repeat(64)}.example`, 7],
      options: [{ name: "" }, { value: "1" }, "edns0", { name: "rotate" }],
    });
    assert.deepEqual(r.dnsConfig.nameservers, ["10.96.0.10", "2001:db8::1"]);
    assert.deepEqual(r.dnsConfig.searches.slice(3), ["ok.example."]);
    assert.deepEqual(r.dnsConfig.options, [{ name: "ndots", value: "5" }, { name: "rotate" }]);
    assert.equal(r.cuts.length, 4 + 5 + 3);
    assertValid(r.dnsConfig);
  });

  it("tolerates a malformed dnsConfig shape", () => {
    for (const own of ["text", 5, [], { nameservers: "1.1.1.1" }, { searches: { a: 1 } }]) {
      const r = build(own);
      assertValid(r.dnsConfig);
      assert.ok(r.cuts.length >= 1, `a cut is reported for ${JSON.stringify(own)}`);
    }
  });
});

describe("dns-limits", () => {
  it("canonicalIP", () => {
    const cases: [string, string | null][] = [
      ["10.96.0.10", "10.96.0.10"],
      ["10.096.0.10", null],
      ["256.1.1.1", null],
      ["2001:0DB8::0001", "2001:db8::1"],
      ["fe80::1%eth0", null],
      ["::ffff:10.0.0.1", null],
      ["::1", "::1"],
      ["", null],
      ["example.com", null],
    ];
    for (const [input, want] of cases) assert.equal(canonicalIP(input), want, input);
  });

  it("isValidSearch", () => {
    const cases: [string, boolean][] = [
      ["svc.cluster.local", true],
      ["cluster.local.", true],
      ["a", true],
      ["Cluster.local", false],
      ["a..b", false],
      ["-a.b", false],
      ["a_b.c", false],
      [`${"a".repeat(63)}.b`, true],
      [`${"a".repeat(64)}.b`, false],
      [Array.from({ length: 127 }, () => "a").join("."), false], // 253 chars is fine, this is 253
      [Array.from({ length: 128 }, () => "a").join("."), false],
    ];
    cases[9] = [Array.from({ length: 127 }, () => "a").join("."), true];
    for (const [input, want] of cases) assert.equal(isValidSearch(input), want, input.slice(0, 40));
  });
});
