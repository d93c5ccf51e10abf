/**
 * `pod-dns-injector audit`, spawned as users run it: offline audits of the fixture
 * manifests in test/golden/audit (NAME.yaml → NAME.yaml.audit, the table; refresh with
 * UPDATE_GOLDEN=1, outputs without an input fail as stale), exit codes, formats, usage and
 * input errors. Runs the built dist/cli/main.js.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parse, parseAllDocuments } from "yaml";
import { repoRoot } from "../unit/repo-root.js";

const root = repoRoot();
const goldenDir = join(root, "test", "golden", "audit");
const update = process.env.UPDATE_GOLDEN === "1";
const inputs = readdirSync(goldenDir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();
const tmp = mkdtempSync(join(tmpdir(), "pdi-audit-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

const mainEntry = join(root, "dist", "cli", "main.js");
const entries = [{ name: "pod-dns-injector", path: mainEntry }];

/** A clean environment: no KUBECONFIG, no config file, no ~/.kube/config. */
const env = { PATH: process.env.PATH ?? "", HOME: tmp };

function golden(file: string, actual: string): void {
  const path = join(goldenDir, file);
  if (update) writeFileSync(path, actual);
  assert.ok(existsSync(path), `${file} is missing; run UPDATE_GOLDEN=1 npm run test:cli`);
  assert.equal(actual, readFileSync(path, "utf8"), `${file} differs; if the change is intended, run UPDATE_GOLDEN=1 npm run test:cli and review the diff`);
}

for (const entry of entries) {
  const run = (args: string[], input?: string, extraEnv: Record<string, string> = {}) => {
    const r = spawnSync(process.execPath, [entry.path, "audit", ...args], { cwd: root, input, encoding: "utf8", env: { ...env, ...extraEnv }, timeout: 30_000 });
    return { code: r.status, stdout: r.stdout, stderr: r.stderr };
  };
  const fixture = (name: string) => join("test", "golden", "audit", name);

  describe(`audit CLI (${entry.name})`, () => {
    it("has no stale golden outputs", () => {
      for (const f of readdirSync(goldenDir)) {
        if (f.endsWith(".yaml")) continue;
        assert.ok(inputs.includes(f.replace(/\.audit$/, "")), `${f} has no input: delete it`);
      }
    });

    for (const input of inputs) {
      it(`audit -f ${input} matches ${input}.audit`, () => {
        const r = run(["-f", fixture(input)]);
        assert.equal(r.stderr, "");
        golden(`${input}.audit`, r.stdout);
      });
    }

    it("exit code 0 when every manifest conforms, 1 on violations", () => {
      assert.equal(run(["-f", fixture("gitops-current.yaml")]).code, 0);
      assert.equal(run(["-f", fixture("gitops-stale.yaml")]).code, 1);
    });

    it("--mode audit: everything would-inject or informational, exit code 0", () => {
      const r = run(["-f", fixture("gitops-stale.yaml"), "--mode", "audit", "-o", "json"]);
      assert.equal(r.code, 0, r.stderr);
      const doc = JSON.parse(r.stdout) as { summary: { findings: Record<string, number>; byResult: Record<string, number> } };
      assert.deepEqual(doc.summary.findings, { "not-injected": 0, "stale-nameserver": 0, drift: 0, "would-inject": 3, "foreign-dns": 1 });
      assert.equal(doc.summary.byResult.fail, 0);
    });

    it("-o json: every finding with expected, actual, workload and fix; -n names objects without a namespace", () => {
      const r = run(["-f", fixture("gitops-stale.yaml"), "-o", "json", "-n", "batch"]);
      assert.equal(r.code, 1);
      const doc = JSON.parse(r.stdout) as { results: Record<string, string>[] };
      const byPod = Object.fromEntries(doc.results.map((e) => [`${e.namespace}/${e.pod}:${e.rule}`, e]));
      assert.deepEqual(Object.keys(byPod).sort(), [
        "batch/migrate:not-injected",
        "team-a/crawler:foreign-dns",
        "team-a/db:drift",
        "team-a/legacy:pod-opted-out",
        "team-a/web:stale-nameserver",
      ]);
      assert.equal(byPod["team-a/web:stale-nameserver"]?.expected, "nameservers 10.96.0.10");
      assert.equal(byPod["team-a/web:stale-nameserver"]?.actual, "nameservers 10.96.0.99");
      assert.equal(byPod["team-a/web:stale-nameserver"]?.workload, "deployment/web");
      assert.equal(byPod["team-a/db:drift"]?.expected, "searches team-a.svc.cluster.local svc.cluster.local cluster.local first");
    });

    it("-o yaml parses to the same document as -o json", () => {
      const json = JSON.parse(run(["-f", fixture("gitops-stale.yaml"), "-o", "json"]).stdout) as Record<string, unknown>;
      const yaml = parse(run(["-f", fixture("gitops-stale.yaml"), "-o", "yaml"]).stdout) as Record<string, unknown>;
      delete json.generatedAt;
      delete yaml.generatedAt;
      assert.deepEqual(yaml, json);
    });

    it("-o policyreport: one wgpolicyk8s.io/v1alpha2 PolicyReport per namespace, the objects as subjects", () => {
      const r = run(["-f", fixture("gitops-stale.yaml"), "-o", "policyreport"]);
      assert.equal(r.code, 1);
      const reports = parseAllDocuments(r.stdout).map(
        (d) =>
          d.toJS() as {
            apiVersion: string;
            kind: string;
            metadata: { namespace: string };
            summary: Record<string, number>;
            results: { resources: { kind: string; name: string }[] }[];
          },
      );
      assert.deepEqual(
        reports.map((x) => [x.apiVersion, x.kind, x.metadata.namespace]),
        [
          ["wgpolicyk8s.io/v1alpha2", "PolicyReport", "default"],
          ["wgpolicyk8s.io/v1alpha2", "PolicyReport", "team-a"],
        ],
      );
      assert.deepEqual(reports[1]?.summary, { pass: 0, fail: 2, warn: 1, error: 0, skip: 1 });
      assert.deepEqual(
        reports[1]?.results.map((x) => `${x.resources[0]?.kind}/${x.resources[0]?.name}`),
        ["Deployment/web", "Pod/crawler", "Pod/legacy", "StatefulSet/db"],
      );
    });

    it("-o openreports: the same reports as openreports.io/v1alpha1 Reports, with the report-level source", () => {
      type Doc = { apiVersion: string; kind: string; source?: string; metadata: unknown; summary: unknown; results: { timestamp?: unknown }[] };
      const docs = (args: string[]) => {
        const r = run(["-f", fixture("gitops-stale.yaml"), ...args]);
        assert.equal(r.code, 1, r.stderr);
        assert.equal(r.stderr, "");
        // Timestamps are the audit's time: two runs differ there only.
        return parseAllDocuments(r.stdout)
          .map((d) => d.toJS() as Doc)
          .map((d) => ({ ...d, results: d.results.map(({ timestamp: _t, ...rest }) => rest) }));
      };
      const open = docs(["-o", "openreports"]);
      const wg = docs(["-o", "policyreport"]);
      assert.deepEqual(
        open.map((x) => [x.apiVersion, x.kind, x.source]),
        [
          ["openreports.io/v1alpha1", "Report", "pod-dns-injector"],
          ["openreports.io/v1alpha1", "Report", "pod-dns-injector"],
        ],
      );
      assert.deepEqual(
        open.map(({ apiVersion: _a, kind: _k, source: _s, ...rest }) => rest),
        wg.map(({ apiVersion: _a, kind: _k, ...rest }) => rest),
        "metadata, summary and results as in -o policyreport",
      );
    });

    it("--nameserver sets the expected IP: the manifest injected with it passes, the others are stale", () => {
      const r = run(["-f", fixture("gitops-stale.yaml"), "--nameserver", "10.96.0.99", "-o", "json"]);
      const doc = JSON.parse(r.stdout) as { results: { pod: string; rule: string }[]; dnsService: { ip: string; source: string } };
      assert.deepEqual(doc.dnsService, { service: "kube-system/kube-dns", ip: "10.96.0.99", ips: ["10.96.0.99"], source: "flag" });
      assert.ok(doc.results.some((e) => e.pod === "web" && e.rule === "up-to-date"));
      assert.ok(doc.results.some((e) => e.pod === "db" && e.rule === "stale-nameserver"));
    });

    it("reads manifests from standard input with -f -", () => {
      const r = run(["-f", "-"], readFileSync(join(goldenDir, "gitops-current.yaml"), "utf8"));
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^No findings\. Audited 3 pod templates in 1 namespace/);
    });

    it("usage errors exit 2 with a message", () => {
      const cases: [string[], RegExp][] = [
        [["-n", "a", "-A"], /-n\/--namespace and -A\/--all-namespaces are exclusive/],
        [["-f", "x.yaml", "--write-reports"], /--write-reports audits a cluster; it cannot be combined with -f/],
        [["-f", "x.yaml", "-A"], /-A\/--all-namespaces audits a cluster/],
        [["-f", "x.yaml", "--kubeconfig", "k"], /--kubeconfig audits a cluster/],
        [["--mode", "audit"], /--mode applies to -f \(offline\) audits/],
        [["--profile", "default"], /--profile applies to -f/],
        [["-o", "xml"], /argument 'xml' is invalid\. Allowed choices are table, json, yaml, policyreport, openreports\./],
        [["--reports", "openreports"], /--reports picks the API --write-reports writes; add --write-reports/],
        [["--reports", "kyverno"], /argument 'kyverno' is invalid\. Allowed choices are wgpolicyk8s, openreports, both\./],
        [["-f", "x.yaml", "--reports", "both"], /--reports audits a cluster; it cannot be combined with -f/],
        [["--nodes", "-o", "openreports"], /--nodes checks the kubelets of the cluster's nodes; it cannot be combined with -o openreports/],
        [["-f", "x.yaml", "--mode", "on"], /argument 'on' is invalid/],
        [[], /no cluster to audit: pass --kubeconfig FILE or set KUBECONFIG \(or audit manifests offline with -f FILE\)/],
        [["-f", "-", "--nameserver", "10.96.0.300"], /--nameserver: "10\.96\.0\.300" is not an IP address/],
        [["-f", "-", "--nameserver", "10.96.0.10,10.96.0.11"], /--nameserver: 10\.96\.0\.10,10\.96\.0\.11: a dual-stack Service has one IP of each family/],
      ];
      for (const [args, message] of cases) {
        const r = run(args, "");
        assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(" "));
        assert.equal(r.stdout, "", args.join(" "));
      }
    });

    it("input errors exit 1 naming the file, document and field", () => {
      const bad = join(tmp, "bad.yaml");
      writeFileSync(bad, "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: 5}\n");
      const cases: [string[], RegExp][] = [
        [["-f", join(tmp, "missing.yaml")], /missing\.yaml: cannot read: ENOENT/],
        [["-f", bad], /bad\.yaml: document 1 \(Deployment d\): spec\.template: expected an object/],
        [["-f", fixture("gitops-current.yaml"), "--profile", "nope"], /--profile nope: no such profile \(have: default, node-local-dns\)/],
        [["--kubeconfig", join(tmp, "nope.kubeconfig")], /cannot load kubeconfig .*nope\.kubeconfig/],
      ];
      for (const [args, message] of cases) {
        const r = run(args);
        assert.equal(r.code, 1, `${args.join(" ")}: ${r.stderr}`);
        assert.match(r.stderr, message, args.join(" "));
        assert.equal(r.stdout, "");
      }
    });

    it("an unreachable cluster exits 1 naming the server", () => {
      const kubeconfig = join(tmp, "unreachable.kubeconfig");
      writeFileSync(
        kubeconfig,
        "apiVersion: v1\nkind: Config\nclusters: [{name: c, cluster: {server: 'https://127.0.0.1:1'}}]\nusers: [{name: u, user: {token: t}}]\ncontexts: [{name: x, context: {cluster: c, user: u}}]\ncurrent-context: x\n",
      );
      const r = run([], undefined, { KUBECONFIG: kubeconfig });
      assert.equal(r.code, 1, r.stderr);
      assert.match(r.stderr, /cannot audit the cluster at https:\/\/127\.0\.0\.1:1: /);
      assert.equal(r.stdout, "");
    });

    it("--help describes the command", () => {
      const r = spawnSync(process.execPath, [entry.path, "audit", "--help"], { encoding: "utf8", env });
      assert.equal(r.status, 0);
      for (const flag of ["--kubeconfig", "--namespace", "--all-namespaces", "--output", "--write-reports", "--filename", "--mode", "--config", "--nameserver"])
        assert.match(r.stdout, new RegExp(flag));
    });
  });
}
