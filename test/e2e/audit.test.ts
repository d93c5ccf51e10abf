/**
 * Policy audits end to end, on the real control plane (kube-apiserver, etcd,
 * kube-controller-manager) with `pod-dns-injector serve` as its own process registered
 * through the real MutatingWebhookConfiguration. The cluster is brought into every state an
 * audit must find, in order:
 *
 * 1. before opt-in, with no webhook: a bare pod, a Deployment, a Job created from a
 *    CronJob and a StatefulSet (their controllers create the pods) → not-injected, with owners;
 * 2. webhook up: pods injected with the DNS Service's IP, a pod with its own DNS, an opted-out
 *    pod, a pod in an audit-mode namespace → then the DNS Service moves → stale-nameserver;
 * 3. a Deployment injected with the new IP, then its namespace lowers ndots → drift;
 * 4. webhook down: a pod admitted uninjected (failurePolicy Ignore) → not-injected.
 *
 * Then: the audit in-process and through the CLI, --write-reports without and with the
 * PolicyReport CRD (installed from manifests/optional/report-crds), report updates and deletion,
 * OpenReports Reports without and with the published openreports.io CRDs (strict server-side
 * validation, `both`), the background runner's gauges and reports in both APIs, `audit -f` on
 * manifests, and the admission audit annotations in the API server's audit log.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, ApiextensionsV1Api, AppsV1Api, BatchV1Api, CoreV1Api, CustomObjectsApi, type V1Pod } from "@kubernetes/client-node";
import { pino } from "pino";
import { Registry } from "prom-client";
import { parseAllDocuments, stringify } from "yaml";
import { INJECTED_ANNOTATION, INJECT_LABEL, MUTATING_WEBHOOK_NAME, NDOTS_ANNOTATION } from "../../config/names.js";
import { defaultSettings } from "../../config/settings.js";
import { startBackgroundAudit } from "../../audit/background.js";
import { auditCluster } from "../../audit/cluster-source.js";
import type { PodAudit } from "../../audit/findings.js";
import { summarizeResults, type PolicyReport } from "../../audit/policy-report.js";
import { CRD_MISSING_MESSAGE, crdMissingMessage } from "../../audit/report-writer.js";
import { buildMutatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { createNamespace, createPod, podManifest, readPod, waitFor, printingOnFailure, kubeadmKubeDNS, stopWebhookAndControlPlane } from "./kube.js";
import { startWebhookProcess, sumMetric, type WebhookProcess } from "./webhook-process.js";

const DNS_IP = "10.96.0.10";
const NEW_DNS_IP = "10.96.0.53";
const NS = { before: "audit-before", live: "audit-live", mode: "audit-mode", drift: "audit-drift", plain: "audit-plain" } as const;
const IMAGE = "registry.k8s.io/pause:3.10";
const CRD_DIR = join(import.meta.dirname, "..", "..", "..", "manifests", "optional", "report-crds");
const CRD_FILE = join(CRD_DIR, "wgpolicyk8s.io_policyreports.yaml");
const REPORTS = { group: "wgpolicyk8s.io", version: "v1alpha2", plural: "policyreports" };
const OPEN_REPORTS = { group: "openreports.io", version: "v1alpha1", plural: "reports" };

/** dist/cli/main.js once cli/program.ts registers `audit`; until then the test-only entry. */
const repo = join(import.meta.dirname, "..", "..", "..");
const mainEntry = join(repo, "dist", "cli", "main.js");
const cliEntry = /\baudit\b/.test(spawnSync(process.execPath, [mainEntry, "--help"], { encoding: "utf8" }).stdout ?? "")
  ? mainEntry
  : join(repo, "dist", "test", "unit", "audit", "audit-cli-entry.js");

describe("policy audits end to end (control plane + webhook process)", () => {
  let cp: ControlPlane | undefined;
  let webhook: WebhookProcess | undefined;
  let core: CoreV1Api;
  let apps: AppsV1Api;
  let batch: BatchV1Api;
  let custom: CustomObjectsApi;
  const auditDir = mkdtempSync(join(tmpdir(), "pdi-e2e-audit-"));
  const auditLog = join(auditDir, "audit.log");

  const printLogs = () => {
    console.error(`--- control-plane logs ---\n${cp?.logTail(40) ?? "(not started)"}`);
    console.error(`--- webhook logs ---\n${webhook?.logTail(40) ?? "(not started)"}`);
  };
  /** Runs a test body; if it fails, prints the process logs so CI shows why. */
  const withLogs = printingOnFailure(printLogs);

  /** The audit command, spawned; bounded by a timeout. */
  function cli(args: string[], input?: string, command = "audit"): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve, reject) => {
      const child = spawn(process.execPath, [cliEntry, command, `--kubeconfig=${cp!.kubeconfigPath}`, ...args], {
        cwd: repo,
        env: { PATH: process.env.PATH ?? "", HOME: auditDir },
        timeout: 60_000,
        killSignal: "SIGKILL",
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", reject);
      child.on("close", (code) => resolve({ code, stdout, stderr }));
      child.stdin.end(input ?? "");
    });
  }

  async function createKubeDNS(clusterIP: string): Promise<void> {
    await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS(clusterIP) });
  }

  /** The one pod matching a label selector, once a controller has created it. */
  function podOf(namespace: string, labelSelector: string): Promise<V1Pod> {
    return waitFor(
      `a pod ${labelSelector} in ${namespace}`,
      async () => {
        const pods = (await core.listNamespacedPod({ namespace, labelSelector })).items;
        return pods[0] ? { value: pods[0] } : { detail: "no pod yet" };
      },
      { timeoutMs: 60_000 },
    );
  }

  const deploymentBody = (name: string) => ({
    metadata: { name },
    spec: { replicas: 1, selector: { matchLabels: { app: name } }, template: { metadata: { labels: { app: name } }, spec: { containers: [{ name: "pause", image: IMAGE }] } } },
  });

  /** Dry-run creates until the injected nameserver is `ip` (the webhook follows the Service asynchronously). */
  function waitForInjection(ip: string): Promise<V1Pod> {
    let n = 0;
    return waitFor(
      `dry-run pods injected with ${ip}`,
      async () => {
        const { pod } = await createPod(core, NS.live, podManifest(`probe-${n++}`), { dryRun: true });
        const got = pod.spec?.dnsConfig?.nameservers?.[0];
        return got === ip ? { value: pod } : { detail: `nameserver ${got ?? "none"}` };
      },
      { timeoutMs: 20_000, intervalMs: 100 },
    );
  }

  const names: Record<string, string> = {};
  let run: Awaited<ReturnType<typeof auditCluster>>;
  const pod = (namespace: string, name: string): PodAudit => {
    const p = run.pods.find((x) => x.namespace === namespace && x.name === name);
    assert.ok(p, `no audit of pod ${namespace}/${name}; audited: ${run.pods.map((x) => `${x.namespace}/${x.name}`).join(", ")}`);
    return p;
  };

  before(async () => {
    try {
      // The API server's audit log receives the webhook's audit annotations (issue 7, item 5).
      const policy = join(auditDir, "audit-policy.yaml");
      writeFileSync(
        policy,
        'apiVersion: audit.k8s.io/v1\nkind: Policy\nomitStages: [RequestReceived]\nrules:\n  - level: Metadata\n    resources: [{group: "", resources: [pods]}]\n    verbs: [create]\n  - level: None\n',
      );
      cp = await startControlPlane({ controllerManager: true, name: "e2e-audit", extraApiServerFlags: [`--audit-policy-file=${policy}`, `--audit-log-path=${auditLog}`] });
      const kc = cp.kubeConfig();
      core = kc.makeApiClient(CoreV1Api);
      apps = kc.makeApiClient(AppsV1Api);
      batch = kc.makeApiClient(BatchV1Api);
      custom = kc.makeApiClient(CustomObjectsApi);
      await createKubeDNS(DNS_IP);
      await Promise.all([
        createNamespace(core, NS.before),
        createNamespace(core, NS.live, { labels: { [INJECT_LABEL]: "enabled" } }),
        createNamespace(core, NS.mode, { labels: { [INJECT_LABEL]: "audit" } }),
        createNamespace(core, NS.drift, { labels: { [INJECT_LABEL]: "enabled" } }),
        createNamespace(core, NS.plain),
      ]);

      // 1. Before opt-in and before any webhook exists.
      await createPod(core, NS.before, podManifest("early"));
      await createPod(core, NS.plain, podManifest("untouched"));
      await apps.createNamespacedDeployment({ namespace: NS.before, body: deploymentBody("early-web") });
      await apps.createNamespacedStatefulSet({
        namespace: NS.before,
        body: {
          metadata: { name: "db" },
          spec: {
            serviceName: "db",
            replicas: 1,
            selector: { matchLabels: { app: "db" } },
            template: { metadata: { labels: { app: "db" } }, spec: { containers: [{ name: "pause", image: IMAGE }] } },
          },
        },
      });
      await batch.createNamespacedCronJob({
        namespace: NS.before,
        body: {
          metadata: { name: "nightly" },
          spec: {
            schedule: "0 3 * * *",
            suspend: true,
            jobTemplate: { spec: { template: { metadata: { labels: { app: "nightly" } }, spec: { restartPolicy: "Never", containers: [{ name: "pause", image: IMAGE }] } } } },
          },
        },
      });
      const fromCron = await cp.kubectl(["create", "job", "nightly-manual", "--from=cronjob/nightly", "-n", NS.before]);
      assert.equal(fromCron.code, 0, fromCron.stderr);
      names.earlyWeb = (await podOf(NS.before, "app=early-web")).metadata?.name ?? "";
      names.db = (await podOf(NS.before, "app=db")).metadata?.name ?? "";
      names.nightly = (await podOf(NS.before, "app=nightly")).metadata?.name ?? "";
      const label = await cp.kubectl(["label", "namespace", NS.before, `${INJECT_LABEL}=enabled`]);
      assert.equal(label.code, 0, label.stderr);

      // 2. The webhook, registered as in production (by URL here, with our CA).
      webhook = await startWebhookProcess({ kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, name: "pod-dns-injector", config: { guardian: { enabled: false } } });
      await kc.makeApiClient(AdmissionregistrationV1Api).createMutatingWebhookConfiguration({
        body: buildMutatingWebhookConfiguration({ caBundlePem: webhook.caPem, url: webhook.mutateUrl, failurePolicy: "Ignore", timeoutSeconds: 5 }),
      });
      await waitForInjection(DNS_IP);
      await createPod(core, NS.live, podManifest("fresh"));
      await apps.createNamespacedDeployment({ namespace: NS.live, body: deploymentBody("web") });
      const web = await podOf(NS.live, "app=web");
      names.web = web.metadata?.name ?? "";
      assert.ok(web.metadata?.annotations?.[INJECTED_ANNOTATION], "the Deployment's pod was injected");
      await createPod(core, NS.live, podManifest("crawler", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["8.8.8.8"] } } }));
      await createPod(core, NS.live, podManifest("opted-out", { metadata: { labels: { [INJECT_LABEL]: "false" } } }));
      await createPod(core, NS.mode, podManifest("watched"));

      // The DNS Service moves (deleted and recreated elsewhere; the guardian is off here).
      await core.deleteNamespacedService({ name: "kube-dns", namespace: "kube-system" });
      await waitFor("kube-dns to be gone", async () =>
        (await core.listNamespacedService({ namespace: "kube-system", fieldSelector: "metadata.name=kube-dns" })).items.length ? { detail: "still there" } : { value: true },
      );
      await createKubeDNS(NEW_DNS_IP);
      await waitForInjection(NEW_DNS_IP);

      // 3. Injected with the new IP, then the namespace lowers ndots.
      await apps.createNamespacedDeployment({ namespace: NS.drift, body: deploymentBody("api") });
      const api = await waitFor("the api pod injected with the new IP", async () => {
        const p = await podOf(NS.drift, "app=api");
        return p.spec?.dnsConfig?.nameservers?.[0] === NEW_DNS_IP ? { value: p } : { detail: JSON.stringify(p.spec?.dnsConfig) };
      });
      names.api = api.metadata?.name ?? "";

      // 4. The webhook goes down; failurePolicy Ignore admits pods uninjected.
      await webhook.stop();
      await createPod(core, NS.live, podManifest("while-down"));
      assert.equal((await readPod(core, NS.live, "while-down"))?.spec?.dnsPolicy, "ClusterFirst");
      const ndots = await cp.kubectl(["annotate", "namespace", NS.drift, `${NDOTS_ANNOTATION}=2`]);
      assert.equal(ndots.code, 0, ndots.stderr);
    } catch (err) {
      printLogs();
      throw err;
    }
  });

  after(async () => {
    await stopWebhookAndControlPlane(webhook, cp);
    rmSync(auditDir, { recursive: true, force: true });
  });

  it(
    "finds every pod with the right finding, owner and fix",
    withLogs(async () => {
      run = await auditCluster({ kubeConfig: cp!.kubeConfig(), settings: defaultSettings(), scope: { kind: "opted-in" } });
      assert.deepEqual(run.namespaces, [NS.before, NS.drift, NS.live, NS.mode], "only opted-in namespaces");
      assert.deepEqual(run.dnsService, { namespace: "kube-system", name: "kube-dns", ips: [NEW_DNS_IP], source: "live" });
      const row = (p: PodAudit) => ({
        result: p.result,
        findings: p.findings.map((f) => f.kind),
        workload: `${p.workload.kind}/${p.workload.name}`,
        chain: p.workload.chain.map((l) => l.kind),
      });

      // Created before opt-in.
      assert.deepEqual(row(pod(NS.before, "early")), { result: "fail", findings: ["not-injected"], workload: "Pod/early", chain: [] });
      assert.deepEqual(row(pod(NS.before, names.earlyWeb!)), { result: "fail", findings: ["not-injected"], workload: "Deployment/early-web", chain: ["ReplicaSet", "Deployment"] });
      assert.equal(pod(NS.before, names.earlyWeb!).findings[0]?.fix, `kubectl rollout restart deployment/early-web -n ${NS.before}`);
      assert.deepEqual(row(pod(NS.before, names.db!)), { result: "fail", findings: ["not-injected"], workload: "StatefulSet/db", chain: ["StatefulSet"] });
      assert.equal(pod(NS.before, names.db!).findings[0]?.fix, `kubectl rollout restart statefulset/db -n ${NS.before}`);
      assert.deepEqual(row(pod(NS.before, names.nightly!)), { result: "fail", findings: ["not-injected"], workload: "CronJob/nightly", chain: ["Job", "CronJob"] });
      assert.match(pod(NS.before, names.nightly!).findings[0]?.fix ?? "", /^the next run of cronjob\/nightly gets the current DNS; .*running job\/nightly-manual/);

      // Injected before the DNS IP change.
      assert.deepEqual(row(pod(NS.live, "fresh")), { result: "fail", findings: ["stale-nameserver"], workload: "Pod/fresh", chain: [] });
      const web = pod(NS.live, names.web!);
      assert.deepEqual(row(web), { result: "fail", findings: ["stale-nameserver"], workload: "Deployment/web", chain: ["ReplicaSet", "Deployment"] });
      assert.deepEqual(
        { message: web.findings[0]?.message, expected: web.findings[0]?.expected, actual: web.findings[0]?.actual, fix: web.findings[0]?.fix },
        {
          message: `injected with nameserver ${DNS_IP}, but the DNS Service kube-system/kube-dns is at ${NEW_DNS_IP}`,
          expected: `nameservers ${NEW_DNS_IP}`,
          actual: `nameservers ${DNS_IP}`,
          fix: `kubectl rollout restart deployment/web -n ${NS.live}`,
        },
      );
      // Created while the webhook was down.
      assert.deepEqual(row(pod(NS.live, "while-down")), { result: "fail", findings: ["not-injected"], workload: "Pod/while-down", chain: [] });
      // Informational and skipped.
      assert.deepEqual(row(pod(NS.live, "crawler")), { result: "warn", findings: ["foreign-dns"], workload: "Pod/crawler", chain: [] });
      assert.equal(pod(NS.live, "opted-out").reason, "pod-opted-out");
      // Audit mode.
      assert.deepEqual(row(pod(NS.mode, "watched")), { result: "warn", findings: ["would-inject"], workload: "Pod/watched", chain: [] });
      // Drift: the template shows that a restart would bring ndots 2.
      const api = pod(NS.drift, names.api!);
      assert.deepEqual(row(api), { result: "fail", findings: ["drift"], workload: "Deployment/api", chain: ["ReplicaSet", "Deployment"] });
      assert.equal(api.findings[0]?.expected, "options ndots:2");
      assert.equal(api.findings[0]?.actual, "options ndots:5");
      assert.ok(!run.pods.some((p) => p.namespace === NS.plain), "a namespace that never opted in is not audited by default");
    }),
  );

  it(
    "the CLI: a table grouped by workload with the fix, exit code 1; -n and -A",
    withLogs(async () => {
      const r = await cli([]);
      assert.equal(r.code, 1, r.stderr);
      assert.equal(r.stderr, "");
      assert.match(r.stdout, new RegExp(`^${NS.live} +deployment/web +1 +fail +stale-nameserver +injected with nameserver ${DNS_IP.replaceAll(".", "\\.")}, but`, "m"));
      assert.ok(r.stdout.includes(`fix:  kubectl rollout restart deployment/web -n ${NS.live}`), r.stdout);
      assert.ok(r.stdout.includes(`fix:  kubectl rollout restart deployment/early-web -n ${NS.before}`), r.stdout);
      assert.match(r.stdout, /Audited 11 pods in 4 namespaces, expected nameserver 10\.96\.0\.53 \(live clusterIP of kube-system\/kube-dns\): 0 pass, 8 fail, 2 warn, 1 skip\./);

      const one = await cli(["-n", NS.mode, "-o", "json"]);
      assert.equal(one.code, 0, "would-inject only warns");
      assert.deepEqual(
        (JSON.parse(one.stdout) as { results: { pod: string; rule: string }[] }).results.map((e) => `${e.pod}:${e.rule}`),
        ["watched:would-inject"],
      );

      const all = await cli(["-A", "-o", "json"]);
      const doc = JSON.parse(all.stdout) as { summary: { namespaces: number }; results: { namespace: string; pod: string; result: string; reason: string }[] };
      const plain = doc.results.filter((e) => e.namespace === NS.plain).map((e) => `${e.pod}:${e.result}:${e.reason}`);
      assert.deepEqual(plain, ["untouched:skip:namespace-not-opted-in"], "-A shows the pods of namespaces that are not opted in, skipped with the reason");
      assert.ok(doc.summary.namespaces >= 8, "-A lists every namespace");

      const missing = await cli(["-n", "nope"]);
      assert.equal(missing.code, 1);
      assert.match(missing.stderr, /namespace nope not found/);
    }),
  );

  it(
    "--write-reports without the PolicyReport CRD says so clearly and exits 1, after printing the audit",
    withLogs(async () => {
      const r = await cli(["--write-reports"]);
      assert.equal(r.code, 1);
      assert.equal(r.stderr, `pod-dns-injector: ${CRD_MISSING_MESSAGE}\n`);
      assert.match(r.stdout, /stale-nameserver/);
    }),
  );

  it(
    "--write-reports with the CRD: one correct PolicyReport per namespace; unchanged reruns write nothing; a namespace without pods loses its report",
    withLogs(async () => {
      // Applied with kubectl as a user would: the client library's typed CRD model would drop the
      // schema's x-kubernetes-* markers, so the API server would not hold the published CRD as is.
      const applied = await cp!.kubectl(["apply", "--server-side", "-f", CRD_FILE]);
      assert.equal(applied.code, 0, applied.stderr);
      const ext = cp!.kubeConfig().makeApiClient(ApiextensionsV1Api);
      await waitFor("the PolicyReport CRD to be established", async () => {
        const c = await ext.readCustomResourceDefinition({ name: "policyreports.wgpolicyk8s.io" });
        return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") ? { value: true } : { detail: JSON.stringify(c.status?.conditions ?? []) };
      });

      const first = await waitFor("the first write to succeed (the new resource is served)", async () => {
        const r = await cli(["--write-reports", "-o", "json"]);
        return r.stderr.includes("PolicyReports:") ? { value: r } : { detail: r.stderr.trim() };
      });
      assert.equal(first.code, 1);
      assert.equal(first.stderr, "pod-dns-injector: PolicyReports: 4 created, 0 updated, 0 unchanged, 0 deleted\n");
      const written = JSON.parse(first.stdout) as { results: { namespace: string; pod: string; rule: string; result: string }[] };

      const list = (await custom.listClusterCustomObject({ ...REPORTS })) as { items: (PolicyReport & { metadata: { uid?: string } })[] };
      const reports = list.items.sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace));
      assert.deepEqual(
        reports.map((x) => `${x.metadata.namespace}/${x.metadata.name}`),
        [NS.before, NS.drift, NS.live, NS.mode].map((n) => `${n}/pod-dns-injector`),
      );
      for (const report of reports) {
        const ns = report.metadata.namespace;
        assert.equal(report.metadata.labels["app.kubernetes.io/managed-by"], "pod-dns-injector", ns);
        assert.deepEqual(report.summary, summarizeResults(report.results), `${ns}: the summary counts the results`);
        // What the CLI printed for this namespace is what the report holds: nothing was pruned or lost.
        const expected = written.results.filter((e) => e.namespace === ns).map((e) => `${e.pod}:${e.rule}:${e.result}`);
        assert.deepEqual(
          report.results.map((x) => `${x.resources[0]?.name}:${x.rule}:${x.result}`),
          expected,
          ns,
        );
        for (const x of report.results) {
          assert.equal(x.source, "pod-dns-injector");
          assert.deepEqual(Object.keys(x.resources[0] ?? {}).sort(), ["apiVersion", "kind", "name", "namespace", "uid"]);
          assert.equal(x.resources[0]?.kind, "Pod");
          const keys = [
            "category",
            "message",
            "policy",
            "properties",
            "resources",
            "result",
            "rule",
            "scored",
            "source",
            "timestamp",
            ...(x.result === "fail" || x.result === "warn" ? ["severity"] : []),
          ];
          assert.deepEqual(Object.keys(x).sort(), keys.sort(), `${ns}: every field we write survives the schema`);
        }
      }
      const live = reports.find((x) => x.metadata.namespace === NS.live)!;
      assert.deepEqual(live.summary, { pass: 0, fail: 3, warn: 1, error: 0, skip: 1 });
      const stale = live.results.find((x) => x.resources[0]?.name === names.web)!;
      const webPod = await readPod(core, NS.live, names.web!);
      assert.deepEqual(
        { policy: stale.policy, rule: stale.rule, result: stale.result, severity: stale.severity, category: stale.category, properties: stale.properties },
        {
          policy: "pod-dns-nameserver",
          rule: "stale-nameserver",
          result: "fail",
          severity: "high",
          category: "Pod DNS",
          properties: {
            workload: "deployment/web",
            reason: "reinject-outdated",
            owners: `ReplicaSet/${webPod?.metadata?.ownerReferences?.[0]?.name} Deployment/web`,
            expected: `nameservers ${NEW_DNS_IP}`,
            actual: `nameservers ${DNS_IP}`,
            fix: `kubectl rollout restart deployment/web -n ${NS.live}`,
          },
        },
      );
      assert.equal(stale.resources[0]?.uid, webPod?.metadata?.uid);
      // kubectl shows the summary columns of the CRD.
      const table = await cp!.kubectl(["get", "policyreports", "-n", NS.live]);
      assert.match(table.stdout, /pod-dns-injector\s+0\s+3\s+1\s+0\s+1\s/);

      const again = await cli(["--write-reports"]);
      assert.equal(again.stderr, "pod-dns-injector: PolicyReports: 0 created, 0 updated, 4 unchanged, 0 deleted\n");

      await core.deleteNamespacedPod({ namespace: NS.mode, name: "watched", gracePeriodSeconds: 0 });
      await waitFor("the audit-mode pod to be gone", async () => ((await readPod(core, NS.mode, "watched")) ? { detail: "still there" } : { value: true }));
      const third = await cli(["--write-reports"]);
      assert.equal(third.stderr, "pod-dns-injector: PolicyReports: 0 created, 0 updated, 3 unchanged, 1 deleted\n");
      const after = (await custom.listNamespacedCustomObject({ ...REPORTS, namespace: NS.mode })) as { items: unknown[] };
      assert.deepEqual(after.items, []);
    }),
  );

  /** A background audit with `reports`, its log lines and registry; stop it when done. */
  function backgroundAudit(reports: "wgpolicyk8s" | "openreports" | "both") {
    const lines: Record<string, unknown>[] = [];
    const log = pino(
      { level: "info" },
      new Writable({
        write: (chunk: Buffer, _e, cb) => (
          chunk
            .toString()
            .split("\n")
            .filter(Boolean)
            .forEach((l) => lines.push(JSON.parse(l) as Record<string, unknown>)),
          cb()
        ),
      }),
    );
    const registry = new Registry();
    const settings = () => ({ ...defaultSettings(), audit: { ...defaultSettings().audit, reports } });
    const bg = startBackgroundAudit({
      kubeConfig: cp!.kubeConfig(),
      settings,
      log,
      registry,
      isLeader: () => true,
      dnsServiceIPs: () => ({ ips: [NEW_DNS_IP] }),
      intervalSeconds: 3600,
    });
    const finished = () => lines.filter((l) => l.msg === "background audit finished");
    return { bg, lines, registry, finished };
  }

  it(
    "OpenReports: without the CRD a clear message, exit 1 and the gauge; with the published CRDs --write-reports writes Reports the API server accepts (strict), both writes both",
    withLogs(async () => {
      // No openreports.io CRD yet: the CLI names it and exits 1; `both` still writes the PolicyReports.
      const missing = await cli(["--write-reports", "--reports", "openreports"]);
      assert.equal(missing.code, 1);
      assert.equal(missing.stderr, `pod-dns-injector: ${crdMissingMessage("openreports")}\n`);
      assert.match(missing.stdout, /stale-nameserver/);
      const half = await cli(["--write-reports", "--reports", "both"]);
      assert.equal(half.code, 1);
      assert.equal(half.stderr, `pod-dns-injector: PolicyReports: 0 created, 0 updated, 3 unchanged, 0 deleted\npod-dns-injector: ${crdMissingMessage("openreports")}\n`);
      // ... and the background audit sets the gauge for that API only and logs it once.
      const early = backgroundAudit("both");
      try {
        await waitFor("a background audit without the OpenReports CRD", async () =>
          early.finished().length >= 1 ? { value: true } : { detail: JSON.stringify(early.lines.at(-1) ?? {}) },
        );
        const text = await early.registry.metrics();
        assert.equal(sumMetric(text, "pod_dns_injector_audit_policyreport_crd_missing", { api: "openreports" }), 1);
        assert.match(text, /pod_dns_injector_audit_policyreport_crd_missing\{api="wgpolicyk8s"\} 0/);
        assert.deepEqual(
          early.lines.filter((l) => l.level === 40 && String(l.msg).includes("is not installed")).map((l) => l.api),
          ["openreports"],
        );
      } finally {
        await early.bg.stop();
      }

      // The optional manifest, as a user applies it: both report APIs' CRDs (the PolicyReport one is there already).
      const applied = await cp!.kubectl(["apply", "--server-side", "-k", CRD_DIR]);
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/clusterpolicyreports\.wgpolicyk8s\.io serverside-applied/);
      assert.match(applied.stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/reports\.openreports\.io serverside-applied/);
      assert.match(applied.stdout, /customresourcedefinition\.apiextensions\.k8s\.io\/clusterreports\.openreports\.io serverside-applied/);
      const ext = cp!.kubeConfig().makeApiClient(ApiextensionsV1Api);
      for (const name of ["clusterpolicyreports.wgpolicyk8s.io", "reports.openreports.io", "clusterreports.openreports.io"]) {
        await waitFor(`the ${name} CRD to be established`, async () => {
          const c = await ext.readCustomResourceDefinition({ name });
          return c.status?.conditions?.some((x) => x.type === "Established" && x.status === "True") ? { value: true } : { detail: JSON.stringify(c.status?.conditions ?? []) };
        });
      }

      const first = await waitFor("the first OpenReports write to succeed (the new resource is served)", async () => {
        const r = await cli(["--write-reports", "--reports", "openreports", "-o", "json"]);
        return r.stderr.includes("Reports:") ? { value: r } : { detail: r.stderr.trim() };
      });
      assert.equal(first.code, 1);
      assert.equal(first.stderr, "pod-dns-injector: openreports.io Reports: 3 created, 0 updated, 0 unchanged, 0 deleted\n");

      // What the API server stored is what the PolicyReports say: same names, summaries and results
      // (timestamps aside: each API's first sighting), and every field survived the published schema.
      const byNamespace = <T extends { metadata: { namespace: string } }>(items: T[]) => items.sort((a, b) => a.metadata.namespace.localeCompare(b.metadata.namespace));
      const open = byNamespace(((await custom.listClusterCustomObject({ ...OPEN_REPORTS })) as { items: PolicyReport[] }).items);
      const wg = byNamespace(((await custom.listClusterCustomObject({ ...REPORTS })) as { items: PolicyReport[] }).items);
      const untimed = (r: PolicyReport) => r.results.map(({ timestamp: _t, ...rest }) => rest);
      assert.deepEqual(
        open.map((x) => `${x.metadata.namespace}/${x.metadata.name}`),
        [NS.before, NS.drift, NS.live].map((n) => `${n}/pod-dns-injector`),
      );
      assert.deepEqual(
        open.map((x) => `${x.metadata.namespace}/${x.metadata.name}`),
        wg.map((x) => `${x.metadata.namespace}/${x.metadata.name}`),
      );
      for (const [i, report] of open.entries()) {
        const ns = report.metadata.namespace;
        assert.equal(report.apiVersion, "openreports.io/v1alpha1");
        assert.equal(report.kind, "Report");
        assert.equal(report.source, "pod-dns-injector", `${ns}: the report-level source survives the schema`);
        assert.equal(report.metadata.labels["app.kubernetes.io/managed-by"], "pod-dns-injector");
        assert.deepEqual(report.summary, summarizeResults(report.results), `${ns}: the summary counts the results`);
        assert.deepEqual(report.summary, wg[i]?.summary, `${ns}: the same summary as the PolicyReport`);
        assert.deepEqual(untimed(report), untimed(wg[i]!), `${ns}: the same results as the PolicyReport, nothing pruned`);
        for (const x of report.results) assert.ok(Number.isInteger(x.timestamp.seconds) && x.timestamp.nanos === 0, `${ns}: timestamp`);
      }
      // kubectl shows the published CRD's summary columns.
      const table = await cp!.kubectl(["get", "reports.openreports.io", "-n", NS.live]);
      assert.match(table.stdout, /pod-dns-injector\s+0\s+3\s+1\s+0\s+1\s/);

      // The built objects pass the API server's strict field validation (unknown fields are
      // errors, not pruned); a bogus field in the same objects fails it, so the check has teeth.
      const printed = await cli(["-n", NS.live, "-o", "openreports"]);
      assert.equal(printed.code, 1, printed.stderr);
      const strict = (input: string) =>
        cp!.kubectl(["apply", "--server-side", "--dry-run=server", "--validate=strict", "--field-manager=strict-check", "--force-conflicts", "-f", "-"], { input });
      const ok = await strict(printed.stdout);
      assert.equal(ok.code, 0, ok.stderr);
      assert.match(ok.stdout, /report\.openreports\.io\/pod-dns-injector serverside-applied \(server dry run\)/);
      const bogus = parseAllDocuments(printed.stdout).map((d) => d.toJS() as PolicyReport & { results: Record<string, unknown>[] });
      bogus[0]!.results[0]!.bogusField = "x";
      const refused = await strict(bogus.map((d) => stringify(d)).join("---\n"));
      assert.notEqual(refused.code, 0, "strict validation refuses an unknown field");
      assert.match(refused.stderr, /bogusField/);

      // The setting's third value: both APIs, each written from scratch.
      for (const api of [REPORTS, OPEN_REPORTS]) await custom.deleteNamespacedCustomObject({ ...api, namespace: NS.live, name: "pod-dns-injector" });
      const both = await cli(["--write-reports", "--reports", "both"]);
      assert.equal(both.code, 1);
      assert.equal(
        both.stderr,
        "pod-dns-injector: PolicyReports: 1 created, 0 updated, 2 unchanged, 0 deleted\npod-dns-injector: openreports.io Reports: 1 created, 0 updated, 2 unchanged, 0 deleted\n",
      );
    }),
  );

  it(
    "the background audit (leader, audit.reports both) keeps gauges, PolicyReports and Reports current and follows triggers",
    withLogs(async () => {
      const { bg, lines, registry, finished } = backgroundAudit("both");
      try {
        await waitFor("the first background audit", async () => (finished().length >= 1 ? { value: true } : { detail: JSON.stringify(lines.at(-1) ?? {}) }));
        assert.deepEqual(finished()[0]?.reports, {
          wgpolicyk8s: { created: 0, updated: 0, unchanged: 3, deleted: 0 },
          openreports: { created: 0, updated: 0, unchanged: 3, deleted: 0 },
        });
        const text = await registry.metrics();
        assert.equal(sumMetric(text, "pod_dns_injector_audit_nonconforming_pods", { namespace: NS.live, finding: "stale-nameserver" }), 2);
        assert.equal(sumMetric(text, "pod_dns_injector_audit_nonconforming_pods", { namespace: NS.before, finding: "not-injected" }), 4);
        assert.equal(sumMetric(text, "pod_dns_injector_audit_nonconforming_pods", { namespace: NS.drift, finding: "drift" }), 1);
        assert.match(text, /pod_dns_injector_audit_policyreport_crd_missing\{api="wgpolicyk8s"\} 0/);
        assert.match(text, /pod_dns_injector_audit_policyreport_crd_missing\{api="openreports"\} 0/);

        // A new non-conforming pod, and the trigger serve sends (e.g. on a namespace label change).
        await createPod(core, NS.live, podManifest("late"));
        bg.trigger("namespace labels changed");
        await waitFor("the triggered audit", async () => (finished().length >= 2 ? { value: true } : { detail: `${finished().length} audits` }));
        assert.deepEqual(finished()[1]?.reasons, ["namespace labels changed"]);
        assert.deepEqual(finished()[1]?.reports, {
          wgpolicyk8s: { created: 0, updated: 1, unchanged: 2, deleted: 0 },
          openreports: { created: 0, updated: 1, unchanged: 2, deleted: 0 },
        });
        assert.equal(sumMetric(await registry.metrics(), "pod_dns_injector_audit_nonconforming_pods", { namespace: NS.live, finding: "not-injected" }), 2);
        const live = (await custom.getNamespacedCustomObject({ ...REPORTS, namespace: NS.live, name: "pod-dns-injector" })) as PolicyReport;
        assert.ok(
          live.results.some((x) => x.resources[0]?.name === "late" && x.rule === "not-injected"),
          "the report names the new pod",
        );
        assert.deepEqual(live.summary, summarizeResults(live.results));
        const openLive = (await custom.getNamespacedCustomObject({ ...OPEN_REPORTS, namespace: NS.live, name: "pod-dns-injector" })) as PolicyReport;
        assert.ok(
          openLive.results.some((x) => x.resources[0]?.name === "late" && x.rule === "not-injected"),
          "the Report names the new pod",
        );
        assert.deepEqual(openLive.summary, live.summary);
      } finally {
        await bg.stop();
      }
    }),
  );

  it(
    "audit -f: manifests exported from the cluster and the fixtures; offline PolicyReports and Reports apply to their CRDs",
    withLogs(async () => {
      const exported = await cp!.kubectl(["get", "deployments,statefulsets,cronjobs", "-n", NS.before, "-o", "yaml"]);
      assert.equal(exported.code, 0, exported.stderr);
      // -f is offline: combined with a cluster flag it is a usage error.
      const mixed = await cli(["-f", "-"], exported.stdout);
      assert.equal(mixed.code, 2);
      assert.match(mixed.stderr, /--kubeconfig audits a cluster; it cannot be combined with -f/);

      const spawnOffline = (args: string[], input?: string) =>
        new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve, reject) => {
          const child = spawn(process.execPath, [cliEntry, "audit", ...args], { cwd: repo, env: { PATH: process.env.PATH ?? "", HOME: auditDir }, timeout: 30_000 });
          let stdout = "";
          let stderr = "";
          child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
          child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
          child.on("error", reject);
          child.on("close", (code) => resolve({ code, stdout, stderr }));
          child.stdin.end(input ?? "");
        });
      const fromCluster = await spawnOffline(["-f", "-", "-o", "json"], exported.stdout);
      assert.equal(fromCluster.code, 1, fromCluster.stderr);
      const rows = (JSON.parse(fromCluster.stdout) as { results: { pod: string; rule: string; workload: string }[] }).results.map((e) => `${e.workload}:${e.rule}`);
      assert.deepEqual(rows.sort(), ["cronjob/nightly:not-injected", "deployment/early-web:not-injected", "statefulset/db:not-injected"]);

      assert.equal((await spawnOffline(["-f", "test/golden/audit/gitops-current.yaml"])).code, 0);
      const stale = await spawnOffline(["-f", "test/golden/audit/gitops-stale.yaml", "-o", "policyreport"]);
      assert.equal(stale.code, 1);
      const docs = parseAllDocuments(stale.stdout).map((d) => d.toJS() as PolicyReport);
      assert.deepEqual(
        docs.map((d) => d.metadata.namespace),
        ["default", "team-a"],
      );
      // The offline reports are valid objects for the CRD: the API server accepts them (server-side dry run).
      await createNamespace(core, "team-a", { waitForServiceAccount: false });
      const applied = await cp!.kubectl(["apply", "--dry-run=server", "-f", "-"], { input: stale.stdout });
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /policyreport\.wgpolicyk8s\.io\/pod-dns-injector created \(server dry run\)/);
      // The same offline, as OpenReports: accepted under strict field validation.
      const open = await spawnOffline(["-f", "test/golden/audit/gitops-stale.yaml", "-o", "openreports"]);
      assert.equal(open.code, 1, open.stderr);
      const openApplied = await cp!.kubectl(["apply", "--dry-run=server", "--validate=strict", "-f", "-"], { input: open.stdout });
      assert.equal(openApplied.code, 0, openApplied.stderr);
      assert.match(openApplied.stdout, /report\.openreports\.io\/pod-dns-injector created \(server dry run\)/);
    }),
  );

  it(
    "admission answers carry decision, reason and profile, recorded in the API server's audit log",
    withLogs(async () => {
      const events = readFileSync(auditLog, "utf8")
        .split("\n")
        .filter(Boolean)
        .map((l) => JSON.parse(l) as { stage: string; objectRef?: { namespace?: string; name?: string; resource?: string }; annotations?: Record<string, string> });
      const created = events.find((e) => e.stage === "ResponseComplete" && e.objectRef?.resource === "pods" && e.objectRef.namespace === NS.live && e.objectRef.name === "fresh");
      assert.ok(created, `no audit event for the creation of ${NS.live}/fresh`);
      assert.equal(created.annotations?.[`${MUTATING_WEBHOOK_NAME}/decision`], "inject");
      assert.equal(created.annotations?.[`${MUTATING_WEBHOOK_NAME}/reason`], "cluster-first");
      assert.equal(created.annotations?.[`${MUTATING_WEBHOOK_NAME}/profile`], "default");
      const watched = events.find((e) => e.stage === "ResponseComplete" && e.objectRef?.namespace === NS.mode && e.objectRef.name === "watched");
      assert.equal(watched?.annotations?.[`${MUTATING_WEBHOOK_NAME}/decision`], "report");
      assert.equal(watched?.annotations?.[`${MUTATING_WEBHOOK_NAME}/reason`], "would-inject");
    }),
  );

  it(
    "restart: plans from the audit; without a terminal only with --yes; restarts one at a time and stops after a rollout that cannot finish (no node here)",
    withLogs(async () => {
      const restartedAt = async () => ({
        deployment: (await apps.readNamespacedDeployment({ namespace: NS.before, name: "early-web" })).spec?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"],
        statefulSet: (await apps.readNamespacedStatefulSet({ namespace: NS.before, name: "db" })).spec?.template.metadata?.annotations?.["kubectl.kubernetes.io/restartedAt"],
      });
      const dry = await cli(["-n", NS.before, "--dry-run"], undefined, "restart");
      assert.equal(dry.code, 0, dry.stderr);
      assert.match(
        dry.stdout,
        new RegExp(`^Restart \\(2\\):\n  deployment/early-web -n ${NS.before}: 1 pod \\(${names.earlyWeb}\\)\n  statefulset/db -n ${NS.before}: 1 pod \\(${names.db}\\)\n`),
      );
      assert.match(
        dry.stdout,
        new RegExp(
          `Not restarted, fix by hand \\(2\\):\n  cronjob/nightly -n ${NS.before}: 1 pod \\(${names.nightly}\\)\n    the next run of cronjob/nightly[^\n]*\n  pod/early -n ${NS.before}: 1 pod \\(early\\)\n    recreate the pod: kubectl delete pod early`,
        ),
      );
      assert.deepEqual(await restartedAt(), { deployment: undefined, statefulSet: undefined }, "--dry-run changes nothing");

      const piped = await cli(["-n", NS.before], undefined, "restart");
      assert.equal(piped.code, 0, piped.stderr);
      assert.match(piped.stderr, /standard output is not a terminal: printed the plan only; pass --yes to restart/);
      assert.deepEqual(await restartedAt(), { deployment: undefined, statefulSet: undefined }, "not a terminal and no --yes: changes nothing");

      const acted = await cli(["-n", NS.before, "--yes", "--timeout", "3s"], undefined, "restart");
      assert.equal(acted.code, 1, `a rollout that cannot finish fails the command (${acted.stderr})`);
      assert.match(acted.stderr, new RegExp(`deployment/early-web -n ${NS.before}: restarted`));
      assert.match(acted.stdout, new RegExp(`deployment/early-web -n ${NS.before}: timed-out: not rolled out after 3 s: `));
      assert.match(acted.stdout, new RegExp(`statefulset/db -n ${NS.before}: not-started: an earlier rollout failed`));
      const after = await restartedAt();
      assert.match(after.deployment ?? "", /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/, "the Deployment's template carries kubectl's restartedAt");
      assert.equal(after.statefulSet, undefined, "nothing is restarted after a failed rollout");
      // The Deployment controller rolled a new ReplicaSet from the restarted template: the patch is a real rollout.
      await waitFor(
        "a second ReplicaSet of early-web",
        async () => {
          const sets = (await apps.listNamespacedReplicaSet({ namespace: NS.before, labelSelector: "app=early-web" })).items;
          return sets.length === 2 ? { value: sets } : { detail: `${sets.length} ReplicaSets` };
        },
        { timeoutMs: 20_000 },
      );
      assert.ok(await readPod(core, NS.before, "early"), "the bare pod is listed, never deleted");
    }),
  );
});
