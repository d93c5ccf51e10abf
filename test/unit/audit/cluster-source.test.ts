/**
 * The audit's cluster adapters against a fake API server: paginated lists, only the owner
 * kinds the pods point at, PolicyReport create/update/unchanged/delete, the missing CRD as
 * a value, and the background runner (leader only, the CRD message logged once).
 */
import assert from "node:assert/strict";
import { Writable } from "node:stream";
import { after, before, beforeEach, describe, it } from "node:test";
import { pino } from "pino";
import { Registry } from "prom-client";
import { INJECT_LABEL } from "../../../config/names.js";
import { defaultSettings } from "../../../config/settings.js";
import { startBackgroundAudit, type BackgroundAuditDeps } from "../../../audit/background.js";
import { auditCluster, NamespaceNotFoundError } from "../../../audit/cluster-source.js";
import { buildPolicyReports } from "../../../audit/policy-report.js";
import { CRD_MISSING_MESSAGE, crdMissingMessage, writePolicyReports, writeReports } from "../../../audit/report-writer.js";
import { ManualTimers } from "../kube/manual-timers.js";
import { startFakeApi, type FakeApi } from "./fake-api-server.js";
import { DNS_IP, NEW_DNS_IP, injectedPod, plainPod } from "./fixtures.js";

const ns = (name: string, mode?: string) => ({ metadata: { name, labels: mode ? { [INJECT_LABEL]: mode } : {} } });
const controller = (kind: string, name: string) => [{ apiVersion: "apps/v1", kind, name, uid: `u-${name}`, controller: true }];
const REPORTS = "/apis/wgpolicyk8s.io/v1alpha2/namespaces";
const OPEN_REPORTS = "/apis/openreports.io/v1alpha1/namespaces";

function seed(api: FakeApi): void {
  api.collections.clear();
  api.collections.set("/api/v1/namespaces", [ns("team-a", "enabled"), ns("team-b", "audit"), ns("plain"), ns("team-c", "enabled")]);
  api.collections.set("/api/v1/namespaces/kube-system/services", [{ metadata: { name: "kube-dns", namespace: "kube-system" }, spec: { clusterIP: NEW_DNS_IP } }]);
  const webPod = (n: string) => ({ ...injectedPod(n), metadata: { ...injectedPod(n).metadata, ownerReferences: controller("ReplicaSet", "web-5d8") } });
  api.collections.set("/api/v1/namespaces/team-a/pods", [
    webPod("web-5d8-a"),
    webPod("web-5d8-b"),
    webPod("web-5d8-c"),
    plainPod("early"),
    injectedPod("fresh", { ip: NEW_DNS_IP }),
  ]);
  api.collections.set("/apis/apps/v1/namespaces/team-a/replicasets", [
    { metadata: { name: "web-5d8", ownerReferences: controller("Deployment", "web") }, spec: { template: { metadata: {}, spec: {} } } },
  ]);
  api.collections.set("/api/v1/namespaces/team-b/pods", [plainPod("watched")]);
  api.collections.set("/api/v1/namespaces/team-c/pods", []);
  api.collections.set("/api/v1/namespaces/plain/pods", [plainPod("ignored")]);
  for (const n of ["team-a", "team-b", "team-c", "plain"]) api.collections.set(`${REPORTS}/${n}/policyreports`, []);
  for (const n of ["team-a", "team-b", "team-c", "plain"]) api.collections.set(`${OPEN_REPORTS}/${n}/reports`, []);
  api.crdInstalled = true;
  api.openReportsCrdInstalled = false;
}

describe("auditCluster against a fake API server", () => {
  let api: FakeApi;
  before(async () => (api = await startFakeApi()));
  after(async () => api.close());
  beforeEach(() => {
    seed(api);
    api.requests.length = 0;
  });

  it("pages every list with limit and continue, lists only the opted-in namespaces and the owner kinds in use", async () => {
    const run = await auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "opted-in" }, pageSize: 2, concurrency: 1 });
    const gets = api.requests
      .filter((r) => r.method === "GET")
      .map((r) => `${r.path}?${r.query.get("labelSelector") ?? ""}|${r.query.get("limit") ?? ""}|${r.query.get("continue") ?? ""}`);
    assert.deepEqual(gets, [
      "/api/v1/namespaces/kube-system/services/kube-dns?||",
      "/api/v1/namespaces?pod-dns-injector.io/inject in (enabled,audit)|2|",
      "/api/v1/namespaces?pod-dns-injector.io/inject in (enabled,audit)|2|2",
      "/api/v1/namespaces/team-a/pods?|2|",
      "/api/v1/namespaces/team-a/pods?|2|2",
      "/api/v1/namespaces/team-a/pods?|2|4",
      "/apis/apps/v1/namespaces/team-a/replicasets?|2|",
      "/api/v1/namespaces/team-b/pods?|2|",
      "/api/v1/namespaces/team-c/pods?|2|",
    ]);
    assert.deepEqual(run.namespaces, ["team-a", "team-b", "team-c"]);
    assert.deepEqual(run.dnsService, { namespace: "kube-system", name: "kube-dns", ips: [NEW_DNS_IP], source: "live" });
    const byPod = Object.fromEntries(run.pods.map((p) => [p.name, `${p.result}:${p.findings.map((f) => f.kind).join("+")}:${p.workload.kind}/${p.workload.name}`]));
    assert.deepEqual(byPod, {
      "web-5d8-a": "fail:stale-nameserver:Deployment/web",
      "web-5d8-b": "fail:stale-nameserver:Deployment/web",
      "web-5d8-c": "fail:stale-nameserver:Deployment/web",
      early: "fail:not-injected:Pod/early",
      fresh: "pass::Pod/fresh",
      watched: "warn:would-inject:Pod/watched",
    });
    assert.deepEqual(run.warnings, []);
  });

  it("-A audits every namespace; pods where nothing is injected are skipped with the reason", async () => {
    const run = await auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "all" } });
    assert.deepEqual(run.namespaces, ["plain", "team-a", "team-b", "team-c"]);
    const ignored = run.pods.find((p) => p.name === "ignored");
    assert.equal(ignored?.result, "skip");
    assert.equal(ignored?.reason, "namespace-not-opted-in");
  });

  it("-n audits one namespace whatever its label, and a missing one is NamespaceNotFoundError", async () => {
    const run = await auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "namespace", name: "team-b" } });
    assert.deepEqual(
      run.pods.map((p) => p.name),
      ["watched"],
    );
    await assert.rejects(auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "namespace", name: "nope" } }), NamespaceNotFoundError);
  });

  it("without the DNS Service the configured fixed IP is expected; a given IP skips the read", async () => {
    api.collections.set("/api/v1/namespaces/kube-system/services", []);
    const run = await auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "namespace", name: "team-a" } });
    assert.deepEqual(run.dnsService, { namespace: "kube-system", name: "kube-dns", ips: [DNS_IP], source: "configured" });
    assert.equal(run.pods.find((p) => p.name === "web-5d8-a")?.result, "pass");
    api.requests.length = 0;
    await auditCluster({
      kubeConfig: api.kubeConfig,
      settings: defaultSettings(),
      scope: { kind: "namespace", name: "team-a" },
      dnsServiceIPs: { ips: [NEW_DNS_IP], source: "flag" },
    });
    assert.ok(!api.requests.some((r) => r.path.includes("/services/")));
  });

  it("an API failure names what was being listed", async () => {
    api.collections.delete("/api/v1/namespaces/team-a/pods");
    await assert.rejects(
      auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "namespace", name: "team-a" } }),
      /list pods in namespace team-a: HTTP 404/,
    );
  });

  it("an aborted audit stops between pages", async () => {
    const ac = new AbortController();
    ac.abort(new Error("stopping"));
    await assert.rejects(
      auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "opted-in" }, signal: ac.signal, dnsServiceIPs: { ips: [DNS_IP], source: "flag" } }),
      /stopping/,
    );
  });
});

describe("writePolicyReports against a fake API server", () => {
  let api: FakeApi;
  before(async () => (api = await startFakeApi()));
  after(async () => api.close());
  beforeEach(() => {
    seed(api);
    api.crdInstalled = true;
    api.requests.length = 0;
  });
  const audit = (now?: Date) => auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "opted-in" }, ...(now ? { now: () => now } : {}) });

  it("creates, then leaves unchanged, updates what changed and deletes reports of namespaces without pods", async () => {
    // A stale report of ours in team-c (no pods now), and someone else's report that must stay.
    api.collections
      .get(`${REPORTS}/team-c/policyreports`)!
      .push({ metadata: { name: "pod-dns-injector", namespace: "team-c", labels: { "app.kubernetes.io/managed-by": "pod-dns-injector" }, resourceVersion: "1" } });
    api.collections
      .get(`${REPORTS}/team-a/policyreports`)!
      .push({ metadata: { name: "kyverno-report", namespace: "team-a", labels: { "app.kubernetes.io/managed-by": "kyverno" }, resourceVersion: "1" } });

    const first = await writePolicyReports({ kubeConfig: api.kubeConfig, reports: buildPolicyReports(await audit()), owns: { kind: "all" } });
    assert.deepEqual(first, { kind: "written", created: ["team-a/pod-dns-injector", "team-b/pod-dns-injector"], updated: [], unchanged: [], deleted: ["team-c/pod-dns-injector"] });
    const teamA = api.collections.get(`${REPORTS}/team-a/policyreports`)! as { metadata: { name: string }; summary?: unknown }[];
    assert.deepEqual(teamA.map((r) => r.metadata.name).sort(), ["kyverno-report", "pod-dns-injector"]);
    assert.deepEqual(teamA.find((r) => r.metadata.name === "pod-dns-injector")?.summary, { pass: 1, fail: 4, warn: 0, error: 0, skip: 0 });

    // A later run (a minute on): new timestamps, same results.
    const later = await audit(new Date(Date.now() + 60_000));
    const second = await writePolicyReports({ kubeConfig: api.kubeConfig, reports: buildPolicyReports(later), owns: { kind: "all" } });
    assert.deepEqual(second, { kind: "written", created: [], updated: [], unchanged: ["team-a/pod-dns-injector", "team-b/pod-dns-injector"], deleted: [] });

    api.collections.get("/api/v1/namespaces/team-b/pods")!.push(plainPod("another"));
    api.requests.length = 0;
    const third = await writePolicyReports({ kubeConfig: api.kubeConfig, reports: buildPolicyReports(await audit()), owns: { kind: "all" } });
    assert.deepEqual(third, { kind: "written", created: [], updated: ["team-b/pod-dns-injector"], unchanged: ["team-a/pod-dns-injector"], deleted: [] });
    const put = api.requests.find((r) => r.method === "PUT");
    assert.equal((put?.body as { metadata: { resourceVersion?: string } }).metadata.resourceVersion !== undefined, true, "updates carry the resourceVersion");

    // -n team-a speaks only for team-a: team-b's report stays even though this run has no pods there.
    const onlyA = await auditCluster({ kubeConfig: api.kubeConfig, settings: defaultSettings(), scope: { kind: "namespace", name: "team-a" } });
    const fourth = await writePolicyReports({ kubeConfig: api.kubeConfig, reports: buildPolicyReports(onlyA), owns: { kind: "namespaces", names: ["team-a"] } });
    assert.deepEqual(fourth.kind === "written" ? fourth.deleted : fourth, []);
  });

  it("takes over a report of our name without our label, and retries an update that lost a race", async () => {
    const teamA = api.collections.get(`${REPORTS}/team-a/policyreports`)! as {
      metadata: { name: string; labels?: Record<string, string>; resourceVersion: string };
      summary?: unknown;
    }[];
    teamA.push({ metadata: { name: "pod-dns-injector", resourceVersion: "1" } }); // not labelled: not listed as ours
    const reports = buildPolicyReports(await audit());
    const first = await writePolicyReports({ kubeConfig: api.kubeConfig, reports, owns: { kind: "all" } });
    assert.deepEqual(first.kind === "written" ? first.updated : first, ["team-a/pod-dns-injector"], "create answered 409: read and replaced");
    assert.equal(teamA[0]?.metadata.labels?.["app.kubernetes.io/managed-by"], "pod-dns-injector");

    // Someone writes the report between our list and our update: 409, one re-read, then the update.
    api.collections.get("/api/v1/namespaces/team-a/pods")!.push(plainPod("newcomer"));
    let raced = false;
    api.beforeRequest = (method, path) => {
      if (method === "PUT" && path.endsWith("/team-a/policyreports/pod-dns-injector") && !raced) {
        raced = true;
        teamA[0]!.metadata.resourceVersion = "999";
      }
    };
    try {
      const second = await writePolicyReports({ kubeConfig: api.kubeConfig, reports: buildPolicyReports(await audit()), owns: { kind: "all" } });
      assert.deepEqual(second.kind === "written" ? second.updated : second, ["team-a/pod-dns-injector"]);
      assert.equal(api.requests.filter((r) => r.method === "PUT").length, 3, "one PUT before, a refused one and its retry");
      assert.equal((teamA[0]?.summary as { fail: number }).fail, 5);
    } finally {
      api.beforeRequest = undefined;
    }
  });

  it("a missing CRD is an outcome, not an error", async () => {
    api.crdInstalled = false;
    const outcome = await writePolicyReports({ kubeConfig: api.kubeConfig, reports: buildPolicyReports(await audit()), owns: { kind: "all" } });
    assert.deepEqual(outcome, { kind: "crd-missing", message: CRD_MISSING_MESSAGE });
    assert.match(CRD_MISSING_MESSAGE, /policyreports\.wgpolicyk8s\.io, version v1alpha2\) is not installed/);
  });

  it("writeReports writes each API on its own path; a missing OpenReports CRD is that API's outcome only", async () => {
    const run = await audit();
    const missing = await writeReports({ kubeConfig: api.kubeConfig, run, apis: ["wgpolicyk8s", "openreports"], owns: { kind: "all" } });
    assert.deepEqual(
      missing.map((o) => [o.api, o.outcome.kind]),
      [
        ["wgpolicyk8s", "written"],
        ["openreports", "crd-missing"],
      ],
    );
    assert.deepEqual(missing[1]?.outcome, { kind: "crd-missing", message: crdMissingMessage("openreports") });
    assert.match(
      crdMissingMessage("openreports"),
      /^the openreports\.io Report CRD \(reports\.openreports\.io, version v1alpha1\) is not installed in the cluster, so no openreports\.io Reports were written; install it with kubectl apply -k manifests\/optional\/report-crds/,
    );

    api.openReportsCrdInstalled = true;
    const both = await writeReports({ kubeConfig: api.kubeConfig, run, apis: ["wgpolicyk8s", "openreports"], owns: { kind: "all" } });
    assert.deepEqual(
      both.map((o) => [o.api, o.outcome.kind === "written" ? `${o.outcome.created.length} created, ${o.outcome.unchanged.length} unchanged` : o.outcome.kind]),
      [
        ["wgpolicyk8s", "0 created, 2 unchanged"],
        ["openreports", "2 created, 0 unchanged"],
      ],
    );
    const stored = api.collections.get(`${OPEN_REPORTS}/team-a/reports`) as { apiVersion: string; kind: string; source?: string; summary: unknown }[];
    assert.deepEqual(
      stored.map((r) => [r.apiVersion, r.kind, r.source]),
      [["openreports.io/v1alpha1", "Report", "pod-dns-injector"]],
    );
    const wg = api.collections.get(`${REPORTS}/team-a/policyreports`) as { summary: unknown }[];
    assert.deepEqual(stored[0]?.summary, wg[0]?.summary, "the same summary in both APIs");
    const again = await writeReports({ kubeConfig: api.kubeConfig, run, apis: ["openreports"], owns: { kind: "all" } });
    assert.deepEqual(again[0]?.outcome.kind === "written" && again[0].outcome.unchanged.length, 2, "an unchanged OpenReports Report is not rewritten");
  });
});

describe("startBackgroundAudit against a fake API server", () => {
  let api: FakeApi;
  before(async () => (api = await startFakeApi()));
  after(async () => api.close());
  beforeEach(() => {
    seed(api);
    api.requests.length = 0;
  });

  type Line = Record<string, unknown>;
  /** The audit's log lines, and a way to wait for one (the audit's own I/O paces the test, not a sleep). */
  const capture = () => {
    const lines: Line[] = [];
    const waiters: { ok: () => boolean; resolve: () => void }[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        for (const l of chunk.toString().split("\n")) if (l) lines.push(JSON.parse(l) as Line);
        for (const w of [...waiters]) {
          if (!w.ok()) continue;
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve();
        }
        cb();
      },
    });
    const waitFor = (what: string, ok: () => boolean, timeoutMs = 10_000): Promise<void> => {
      if (ok()) return Promise.resolve();
      return new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`timed out waiting for ${what}`)), timeoutMs);
        waiters.push({
          ok,
          resolve: () => {
            clearTimeout(timer);
            resolve();
          },
        });
      });
    };
    return { lines, waitFor, log: pino({ level: "debug" }, stream) };
  };

  /** A background audit against the fake API server: the leader, hourly, expecting NEW_DNS_IP, unless `deps` says otherwise. */
  const startAudit = (deps: Pick<BackgroundAuditDeps, "log" | "registry" | "timers"> & Partial<BackgroundAuditDeps>) =>
    startBackgroundAudit({
      kubeConfig: api.kubeConfig,
      settings: defaultSettings,
      isLeader: () => true,
      dnsServiceIPs: () => ({ ips: [NEW_DNS_IP] }),
      intervalSeconds: 3600,
      ...deps,
    });

  it("a follower makes no API calls and exports no audit gauges", async () => {
    const { lines, log } = capture();
    const registry = new Registry();
    const timers = new ManualTimers();
    const bg = startAudit({ log, registry, isLeader: () => false, dnsServiceIPs: () => ({ ips: [DNS_IP] }), intervalSeconds: 1, timers });
    bg.trigger("namespace labels changed");
    await timers.advance(3000); // the debounce, then two scheduled rounds (each debounced too)
    await bg.stop();
    assert.deepEqual(api.requests, []);
    assert.doesNotMatch(await registry.metrics(), /pod_dns_injector_audit_nonconforming_pods\{/);
    const skipped = lines.filter((l) => l.msg === "background audit skipped: not the leader").map((l) => l.reasons);
    assert.deepEqual(skipped, [["namespace labels changed", "schedule"], ["schedule"]], "the runs happened and were skipped, not just never scheduled");
    assert.equal(timers.pending, 0, "stop() cancels the schedule and the debounce");
  });

  it("the leader audits at start, writes reports and gauges; a missing CRD is logged once and the gauges stay current", async () => {
    api.crdInstalled = false;
    const { lines, waitFor, log } = capture();
    const registry = new Registry();
    const timers = new ManualTimers();
    const bg = startAudit({ log, registry, timers });
    const finished = () => lines.filter((l) => l.msg === "background audit finished");
    await timers.advance(999);
    assert.equal(finished().length, 0, "the first audit waits for the debounce");
    await timers.advance(1);
    await waitFor("the first audit", () => finished().length === 1);
    bg.trigger("config reloaded");
    bg.trigger("DNS Service IP changed"); // coalesced with the one before
    await timers.advance(1000);
    await waitFor("the second audit", () => finished().length === 2);
    assert.deepEqual(finished()[1]?.reasons, ["config reloaded", "DNS Service IP changed"]);
    assert.equal(lines.filter((l) => typeof l.msg === "string" && l.msg.includes("is not installed")).length, 1, "the missing CRD is logged once");
    const text = await registry.metrics();
    assert.match(text, /pod_dns_injector_audit_nonconforming_pods\{namespace="team-a",finding="stale-nameserver"\} 3/);
    assert.match(text, /pod_dns_injector_audit_policyreport_crd_missing\{api="wgpolicyk8s"\} 1/);
    assert.doesNotMatch(text, /crd_missing\{api="openreports"\}/, "only the API the audit writes has a series");
    assert.match(text, /pod_dns_injector_audit_runs_total\{outcome="ok"\} 2/);

    api.crdInstalled = true;
    bg.trigger("CRD installed");
    await timers.advance(1000);
    await waitFor("the third audit", () => finished().length === 3);
    assert.deepEqual(finished()[2]?.reports, { wgpolicyk8s: { created: 2, updated: 0, unchanged: 0, deleted: 0 } });
    assert.ok(lines.some((l) => l.msg === "the PolicyReport CRD is installed now: writing PolicyReports"));
    await bg.stop();
    bg.trigger("after stop");
    assert.equal(timers.pending, 0, "after stop() nothing is scheduled: no debounce, no schedule");
    await timers.advance(2 * 3600 * 1000);
    assert.equal(finished().length, 3, "no audit after stop()");
    assert.equal(api.requests.filter((r) => r.method === "GET" && r.path === "/api/v1/namespaces").length, 3, "three audits listed the namespaces, none after stop()");
  });

  it("audit.reports both: each API's missing CRD has its own gauge series and log line", async () => {
    const { lines, waitFor, log } = capture();
    const registry = new Registry();
    const timers = new ManualTimers();
    const settings = () => ({ ...defaultSettings(), audit: { ...defaultSettings().audit, reports: "both" as const } });
    const bg = startAudit({ settings, log, registry, timers });
    const finished = () => lines.filter((l) => l.msg === "background audit finished");
    await timers.advance(1000);
    await waitFor("the first audit", () => finished().length === 1);
    let text = await registry.metrics();
    assert.match(text, /pod_dns_injector_audit_policyreport_crd_missing\{api="wgpolicyk8s"\} 0/);
    assert.match(text, /pod_dns_injector_audit_policyreport_crd_missing\{api="openreports"\} 1/);
    const warned = lines.filter((l) => typeof l.msg === "string" && l.msg.includes("is not installed"));
    assert.deepEqual(
      warned.map((l) => [l.api, l.msg]),
      [["openreports", `${crdMissingMessage("openreports")}; the audit keeps updating its Prometheus metrics`]],
    );
    assert.deepEqual(finished()[0]?.reports, { wgpolicyk8s: { created: 2, updated: 0, unchanged: 0, deleted: 0 } });

    api.openReportsCrdInstalled = true;
    bg.trigger("CRD installed");
    await timers.advance(1000);
    await waitFor("the second audit", () => finished().length === 2);
    text = await registry.metrics();
    assert.match(text, /pod_dns_injector_audit_policyreport_crd_missing\{api="openreports"\} 0/);
    assert.ok(lines.some((l) => l.msg === "the openreports.io Report CRD is installed now: writing openreports.io Reports"));
    assert.deepEqual(finished()[1]?.reports, {
      wgpolicyk8s: { created: 0, updated: 0, unchanged: 2, deleted: 0 },
      openreports: { created: 2, updated: 0, unchanged: 0, deleted: 0 },
    });
    await bg.stop();
  });

  it("an API failure is logged and counted; the runner keeps going", async () => {
    const { lines, waitFor, log } = capture();
    const registry = new Registry();
    const timers = new ManualTimers();
    const pods = api.collections.get("/api/v1/namespaces/team-a/pods")!;
    api.collections.delete("/api/v1/namespaces/team-a/pods");
    const bg = startAudit({ log, registry, dnsServiceIPs: () => ({ ips: [DNS_IP] }), timers });
    await timers.advance(1000);
    await waitFor("the failure", () => lines.some((l) => l.level === 50));
    assert.match(String(lines.find((l) => l.level === 50)?.msg), /background audit failed; retrying in 30 s/);
    assert.match(await registry.metrics(), /pod_dns_injector_audit_runs_total\{outcome="error"\} 1/);

    // The retry comes 30 s later (then the debounce), and succeeds once the pods list again.
    api.collections.set("/api/v1/namespaces/team-a/pods", pods);
    await timers.advance(29_999);
    assert.equal(lines.filter((l) => l.msg === "background audit finished").length, 0, "no retry before 30 s");
    await timers.advance(1 + 1000);
    await waitFor("the retry", () => lines.some((l) => l.msg === "background audit finished"));
    assert.deepEqual(lines.find((l) => l.msg === "background audit finished")?.reasons, ["retry after error"]);
    assert.match(await registry.metrics(), /pod_dns_injector_audit_runs_total\{outcome="ok"\} 1/);
    await bg.stop();
  });
});
