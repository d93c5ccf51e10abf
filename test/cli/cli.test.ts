/** The built binary, spawned as users run it: exit codes, messages, formats. */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { repoRoot } from "../unit/repo-root.js";

const cli = join(repoRoot(), "dist", "cli", "main.js");
const tmp = mkdtempSync(join(tmpdir(), "pdi-cli-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function run(args: string[], input?: string) {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: "utf8", env: { PATH: process.env.PATH ?? "" } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}
function file(name: string, text: string): string {
  const p = join(tmp, name);
  writeFileSync(p, text);
  return p;
}

const POD = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\nspec:\n  containers: [{name: a, image: b}]\n";

describe("pod-dns-injector CLI", () => {
  it("--help lists every subcommand and exits 0", () => {
    const r = run(["--help"]);
    assert.equal(r.code, 0);
    for (const cmd of ["serve", "inject", "explain", "audit", "certs"]) assert.match(r.stdout, new RegExp(`\\b${cmd}\\b`));
  });

  it("every subcommand has --help", () => {
    for (const cmd of [["serve"], ["inject"], ["explain"], ["audit"], ["certs"], ["certs", "generate"], ["certs", "inspect"]]) {
      const r = run([...cmd, "--help"]);
      assert.equal(r.code, 0, cmd.join(" "));
      assert.match(r.stdout, /Usage: pod-dns-injector/);
    }
  });

  it("usage errors exit 2 with a message", () => {
    const cases: [string[], RegExp][] = [
      [["frobnicate"], /unknown command 'frobnicate'/],
      [["inject"], /required option '-f, --filename <file>' not specified/],
      [["inject", "-f", "x", "-o", "xml"], /argument 'xml' is invalid. Allowed choices are yaml, json/],
      [["serve", "--port", "99999"], /a port number from 0 to 65535/],
      [["inject", "-f", "-", "--nameserver", "10.96.0.300"], /--nameserver: "10\.96\.0\.300" is not an IP address \(expected IP, or IP,IP for a dual-stack DNS Service\)/],
      [["inject", "-f", "-", "--nameserver", "10.96.0.10,fd00::a,10.96.0.11"], /--nameserver: at most two IPs/],
      [["inject", "-f", "-", "--cluster-domain", "Cluster.Local"], /flags: clusterDomain: must be a lowercase DNS subdomain/],
      [["explain", "-f", "-", "--mode", "on"], /argument 'on' is invalid/],
      [["certs", "inspect"], /give a FILE or --secret NAMESPACE\/NAME/],
    ];
    for (const [args, message] of cases) {
      const r = run(args, "");
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stderr}`);
      assert.match(r.stderr, message, args.join(" "));
    }
  });

  it("input errors exit 1 naming the file, document and field", () => {
    const cases: [string, string, RegExp][] = [
      ["missing.yaml", "", /missing\.yaml: cannot read: ENOENT/],
      ["bad.yaml", `${POD}---\nkind: [unclosed\n`, /bad\.yaml: document 2 \(line \d+\): invalid YAML/],
      ["scalar.yaml", "just text\n", /scalar\.yaml: document 1: expected a Kubernetes object/],
      ["nokind.yaml", "apiVersion: v1\nmetadata: {name: x}\n", /nokind\.yaml: document 1: kind: required/],
      [
        "badtemplate.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: d}\nspec: {template: 5}\n",
        /badtemplate\.yaml: document 1 \(Deployment d\): spec\.template: expected an object/,
      ],
      ["badns.yaml", "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: 7}\nspec: {}\n", /badns\.yaml: document 1 \(Pod .*\): metadata\.namespace: expected a string/],
    ];
    for (const [name, text, message] of cases) {
      const path = name === "missing.yaml" ? join(tmp, name) : file(name, text);
      const r = run(["inject", "-f", path]);
      assert.equal(r.code, 1, `${name}: ${r.stderr}`);
      assert.match(r.stderr, message, name);
      assert.equal(r.stdout, "", "nothing is printed when the input is bad");
    }
  });

  it("a bad config file exits 1 naming the file and field", () => {
    const cfg = file("bad-config.yaml", "profiles:\n  team:\n    ndots: 40\nclusterDomian: x\n");
    const r = run(["inject", "-f", "-", "--config", cfg], POD);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /config file .*bad-config\.yaml: clusterDomian: unknown setting/);
    assert.match(r.stderr, /profiles\.team\.ndots: an integer from 0 to 15/);
  });

  it("inject reads stdin, the object's namespace wins over --namespace, default is 'default'", () => {
    const input = `${POD}---\napiVersion: v1\nkind: Pod\nmetadata: {name: other, namespace: shop}\nspec: {containers: [{name: a, image: b}]}\n`;
    const r = run(["inject", "-f", "-", "--namespace", "team-a"], input);
    assert.equal(r.code, 0, r.stderr);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJS() as { spec: { dnsConfig: { searches: string[] } } });
    assert.equal(docs.length, 2);
    assert.equal(docs[0]?.spec.dnsConfig.searches[0], "team-a.svc.cluster.local");
    assert.equal(docs[1]?.spec.dnsConfig.searches[0], "shop.svc.cluster.local");
    const noNs = run(["inject", "-f", "-"], POD);
    assert.match(noNs.stdout, /default\.svc\.cluster\.local/);
  });

  it("inject --nameserver, --cluster-domain and --profile from a config file", () => {
    const cfg = file("profiles.yaml", "profiles:\n  nodelocal:\n    nameservers: [169.254.20.10]\n    searches: [corp.example]\n    ndots: 2\n");
    const r = run(["inject", "-f", "-", "--config", cfg, "--profile", "nodelocal", "--cluster-domain", "k8s.internal", "-o", "json"], POD);
    assert.equal(r.code, 0, r.stderr);
    const pod = JSON.parse(r.stdout) as { metadata: { annotations: Record<string, string> }; spec: { dnsConfig: unknown } };
    assert.deepEqual(pod.spec.dnsConfig, {
      nameservers: ["169.254.20.10"],
      searches: ["default.svc.k8s.internal", "svc.k8s.internal", "k8s.internal", "corp.example"],
      options: [{ name: "ndots", value: "2" }],
    });
    assert.match(pod.metadata.annotations["pod-dns-injector.io/injected"] ?? "", /^nodelocal@/);
    const ns = run(["inject", "-f", "-", "--nameserver", "10.100.0.10", "-o", "json"], POD);
    assert.deepEqual((JSON.parse(ns.stdout) as { spec: { dnsConfig: { nameservers: string[] } } }).spec.dnsConfig.nameservers, ["10.100.0.10"]);
    // A dual-stack DNS Service, as README "Dual-stack DNS" says to pass it offline: both, in order, canonical.
    const dual = run(["inject", "-f", "-", "--nameserver", "10.96.0.10,FD00:10:96:0:0:0:0:A", "--profile", "node-local-dns", "-o", "json"], POD);
    assert.equal(dual.code, 0, dual.stderr);
    assert.deepEqual((JSON.parse(dual.stdout) as { spec: { dnsConfig: { nameservers: string[] } } }).spec.dnsConfig.nameservers, ["169.254.20.10", "10.96.0.10", "fd00:10:96::a"]);
    const unknown = run(["inject", "-f", "-", "--profile", "nope"], POD);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /--profile nope: no such profile \(have: default, node-local-dns\)/);
  });

  it("the built-in node-local-dns profile: the node cache first, the DNS Service as fallback, short timeouts", () => {
    const dnsConfigOf = (r: { code: number | null; stdout: string; stderr: string }) => {
      assert.equal(r.code, 0, r.stderr);
      return (JSON.parse(r.stdout) as { spec: { dnsConfig: unknown } }).spec.dnsConfig;
    };
    const options = [
      { name: "ndots", value: "5" },
      { name: "timeout", value: "1" },
      { name: "attempts", value: "2" },
    ];
    const searches = ["default.svc.cluster.local", "svc.cluster.local", "cluster.local"];
    assert.deepEqual(dnsConfigOf(run(["inject", "-f", "-", "--profile", "node-local-dns", "-o", "json"], POD)), {
      nameservers: ["169.254.20.10", "10.96.0.10"],
      searches,
      options,
    });
    // The link-local address is a setting; the tokens work in any profile, in any order.
    const cfg = file("nodelocal.yaml", "nodeLocalDNS: {address: 169.254.25.10}\nprofiles:\n  fallback-first:\n    nameservers: [dnsService, nodeLocalDNS, 10.0.0.53]\n");
    assert.deepEqual(dnsConfigOf(run(["inject", "-f", "-", "--config", cfg, "--profile", "node-local-dns", "-o", "json"], POD)), {
      nameservers: ["169.254.25.10", "10.96.0.10"],
      searches,
      options,
    });
    assert.deepEqual((dnsConfigOf(run(["inject", "-f", "-", "--config", cfg, "--profile", "fallback-first", "-o", "json"], POD)) as { nameservers: string[] }).nameservers, [
      "10.96.0.10",
      "169.254.25.10",
      "10.0.0.53",
    ]);
    const bad = file("bad-token.yaml", "profiles:\n  x:\n    nameservers: [dnsservice]\n");
    const r = run(["inject", "-f", "-", "--config", bad], POD);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /profiles\.x\.nameservers\[0\]: neither an IP address nor dnsService or nodeLocalDNS: "dnsservice"/);
  });

  it("-o json prints one object, or a v1 List for several", () => {
    const one = JSON.parse(run(["inject", "-f", "-", "-o", "json"], POD).stdout) as { kind: string };
    assert.equal(one.kind, "Pod");
    const two = JSON.parse(run(["inject", "-f", "-", "-o", "json"], `${POD}---\n${POD}`).stdout) as { kind: string; apiVersion: string; items: unknown[] };
    assert.equal(two.kind, "List");
    assert.equal(two.apiVersion, "v1");
    assert.equal(two.items.length, 2);
  });

  it("inject is idempotent: injecting its own output changes nothing", () => {
    const once = run(["inject", "-f", "-"], POD).stdout;
    const twice = run(["inject", "-f", "-"], once);
    assert.equal(twice.code, 0);
    assert.equal(twice.stdout, once);
  });

  it("a kubectl-style List is expanded into its items", () => {
    const list = JSON.stringify({
      apiVersion: "v1",
      kind: "List",
      items: [
        { apiVersion: "v1", kind: "Pod", metadata: { name: "a" }, spec: { containers: [] } },
        { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" } },
      ],
    });
    const r = run(["inject", "-f", "-", "-o", "json"], list);
    assert.equal(r.code, 0, r.stderr);
    const out = JSON.parse(r.stdout) as { items: { kind: string; spec?: { dnsPolicy?: string } }[] };
    assert.equal(out.items[0]?.spec?.dnsPolicy, "None");
    assert.equal(out.items[1]?.kind, "ConfigMap");
  });

  it("explain --namespace-file reads the mode and profile overrides from the Namespace", () => {
    const ns = file(
      "ns.yaml",
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels: {pod-dns-injector.io/inject: audit}\n  annotations: {pod-dns-injector.io/ndots: '3'}\n",
    );
    const r = run(["explain", "-f", "-", "--namespace-file", ns, "-o", "json"], POD);
    assert.equal(r.code, 0, r.stderr);
    const e = JSON.parse(r.stdout) as { row: number; action: string; reason: string; dnsConfig: { options: unknown[] } };
    assert.equal(e.row, 9);
    assert.equal(e.action, "report");
    assert.equal(e.reason, "would-inject");
    assert.deepEqual(e.dnsConfig.options, [{ name: "ndots", value: "3" }]);
    const text = run(["explain", "-f", "-", "--namespace-file", ns], POD);
    assert.match(text.stdout, /\n {2}would change:\n {4}dnsPolicy: {3}ClusterFirst → None\n[^]*\n {4}options: {5}\(none\) → ndots:3\n/);
    const disabled = run(["explain", "-f", "-", "--mode", "disabled"], POD);
    assert.match(disabled.stdout, /decision: {3}skip \(row 3, reason namespace-disabled\)/);
  });

  it("explain --namespace-file applies allowed-profiles to a pod's pick and prints the profile reason", () => {
    const ns = file(
      "ns-allowed.yaml",
      "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: default\n  labels: {pod-dns-injector.io/inject: enabled}\n  annotations: {pod-dns-injector.io/allowed-profiles: default}\n",
    );
    const picking = (profile: string) =>
      `apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  annotations: {pod-dns-injector.io/profile: ${profile}}\nspec:\n  containers: [{name: app, image: app}]\n`;
    const refused = run(["explain", "-f", "-", "--namespace-file", ns, "-o", "json"], picking("node-local-dns"));
    assert.equal(refused.code, 0, refused.stderr);
    const e = JSON.parse(refused.stdout) as { reason: string; profile: string; profileReason: string; warnings: string[] };
    assert.deepEqual([e.reason, e.profile, e.profileReason], ["cluster-first", "default", "pod-profile-not-allowed"]);
    assert.match(e.warnings.join("\n"), /"node-local-dns" is not allowed in this namespace/);
    const text = run(["explain", "-f", "-", "--namespace-file", ns], picking("default"));
    assert.match(text.stdout, /profile: {4}default \(pod-profile: picked by the pod's pod-dns-injector\.io\/profile annotation/);
  });

  it("certs generate writes four PEM files that certs inspect can read; refuses to overwrite", () => {
    const out = join(tmp, "pki");
    const g = run(["certs", "generate", "--out", out, "--service", "pod-dns-injector", "--namespace", "pod-dns-injector", "--ip", "127.0.0.1"]);
    assert.equal(g.code, 0, g.stderr);
    for (const f of ["ca.crt", "ca.key", "tls.crt", "tls.key"]) assert.ok(statSync(join(out, f)).size > 0, f);
    assert.equal(statSync(join(out, "tls.key")).mode & 0o077, 0, "the key is private");
    const i = run(["certs", "inspect", join(out, "tls.crt")]);
    assert.equal(i.code, 0, i.stderr);
    assert.match(i.stdout, /pod-dns-injector\.pod-dns-injector\.svc\.cluster\.local/);
    assert.match(i.stdout, /127\.0\.0\.1/);
    assert.match(i.stdout, /[0-9A-F]{2}(:[0-9A-F]{2}){31}/, "SHA-256 fingerprint");
    const again = run(["certs", "generate", "--out", out, "--service", "s", "--namespace", "n"]);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /--force/);
    assert.ok(readFileSync(join(out, "ca.crt"), "utf8").includes("BEGIN CERTIFICATE"));
    const bad = run(["certs", "generate", "--out", out, "--service", "Bad_Name", "--namespace", "n"]);
    assert.equal(bad.code, 2);
    const notPem = run(["certs", "inspect", file("not.pem", "hello")]);
    assert.equal(notPem.code, 1);
    assert.match(notPem.stderr, /not\.pem/);
  });
});
