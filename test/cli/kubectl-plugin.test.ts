/**
 * The CLI as kubectl's plugin: the npm bin `kubectl-pod_dns_injector` (what `kubectl
 * pod-dns-injector` runs from PATH) is the same program, and its usage names the plugin form.
 * The bin is linked as npm links it (a symlink on PATH), and run through PATH as kubectl does.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { delimiter, dirname, join } from "node:path";
import { after, describe, it } from "node:test";
import { KUBECTL_PLUGIN_BIN, PRODUCT } from "../../config/names.js";
import { repoRoot } from "../unit/repo-root.js";

const root = repoRoot();
const bins = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { bin: Record<string, string> }).bin;
const tmp = mkdtempSync(join(tmpdir(), "pdi-plugin-"));
after(() => rmSync(tmp, { recursive: true, force: true }));
const target = join(root, bins[KUBECTL_PLUGIN_BIN] ?? "missing");
// npm makes every bin target executable when it links it; tsc does not.
chmodSync(target, statSync(target).mode | 0o111);
symlinkSync(target, join(tmp, KUBECTL_PLUGIN_BIN));
// The bin's `#!/usr/bin/env node` finds the Node that runs this test.
const PATH = [tmp, dirname(process.execPath), process.env.PATH ?? ""].join(delimiter);

function plugin(args: string[], input?: string) {
  const r = spawnSync(KUBECTL_PLUGIN_BIN, args, { input, encoding: "utf8", env: { PATH } });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr, error: r.error };
}

describe("kubectl plugin", () => {
  it("package.json installs the CLI under both names", () => {
    assert.equal(KUBECTL_PLUGIN_BIN, "kubectl-pod_dns_injector", "kubectl's naming: dashes in the command are underscores in the file");
    assert.equal(bins[KUBECTL_PLUGIN_BIN], bins[PRODUCT]);
  });

  it("--help shows the plugin's program name, for the program and its subcommands", () => {
    const r = plugin(["--help"]);
    assert.equal(r.error, undefined);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^Usage: kubectl pod-dns-injector \[options\] \[command\]/);
    const explain = plugin(["explain", "--help"]);
    assert.equal(explain.code, 0, explain.stderr);
    assert.match(explain.stdout, /^Usage: kubectl pod-dns-injector explain /);
  });

  it("a usage error names the plugin form too", () => {
    const r = plugin(["explain", "--no-such-flag"]);
    assert.equal(r.code, 2);
    assert.match(r.stderr, /run with --help for usage/);
    const help = plugin(["no-such-command"]);
    assert.equal(help.code, 2);
  });

  it("runs the command: explain -f", () => {
    const file = join(tmp, "pod.yaml");
    writeFileSync(file, "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: team-a\nspec:\n  containers: [{name: a, image: b}]\n");
    const r = plugin(["explain", "-f", file]);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /web/);
    assert.match(r.stdout, /inject/);
  });

  it("run by its usual name, the usage stays pod-dns-injector", () => {
    const r = spawnSync(process.execPath, [join(root, bins[PRODUCT] ?? "missing"), "--help"], { encoding: "utf8", env: { PATH } });
    assert.match(r.stdout, /^Usage: pod-dns-injector \[options\]/);
  });
});
