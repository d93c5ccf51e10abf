#!/usr/bin/env node
// The one test entry point (`npm test`): unit tests with coverage, then the CLI suites (the
// built dist/cli/main.js spawned as users run it: test/cli), then the end-to-end suites
// against a real kube-apiserver + etcd (+ kube-controller-manager) built from Go modules,
// then the real-node tier (containerd, kubelet, kube-proxy, CoreDNS and our own image; needs
// root). The e2e tier also builds promtool (test/monitoring/build-promtool.sh) for the
// monitoring overlay's rules; the e2e and real-node tiers build helm (test/helm/build-helm.sh)
// for the chart. `node scripts/run-tests.mjs unit|cli|e2e|node` runs one tier. Runs under the
// project's own Node (npm puts node_modules/.bin first on PATH), after scripts/bootstrap.mjs
// compiled dist/.
import { spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// The project's own Node (from the `node` npm package), whatever Node runs this script.
const bundledNode = join(root, "node_modules", ".bin", "node");
const nodeBin = existsSync(bundledNode) ? bundledNode : process.execPath;
const which = process.argv[2] ?? "all";
if (!["all", "unit", "cli", "e2e", "node"].includes(which)) {
  console.error(`usage: run-tests.mjs [all|unit|cli|e2e|node] (got ${which})`);
  process.exit(2);
}

/**
 * The compiled tests of one tier. tsc never deletes outputs, so a test whose source was moved
 * or removed still has a .js in dist/: only those with a .ts source beside it in test/ count.
 */
function testFiles(dir) {
  const abs = join(root, "dist", "test", dir);
  if (!existsSync(abs)) return [];
  const out = [];
  const walk = (d) => {
    for (const e of readdirSync(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) walk(p);
      else if (e.name.endsWith(".test.js") && existsSync(join(root, relative(join(root, "dist"), p)).replace(/\.js$/, ".ts"))) out.push(relative(root, p));
    }
  };
  walk(abs);
  return out.sort();
}

function runNodeTests(files, extraArgs, env = {}) {
  const r = spawnSync(nodeBin, ["--test", "--test-reporter=spec", ...extraArgs, ...files], {
    cwd: root,
    stdio: "inherit",
    env: { ...process.env, ...env },
  });
  return r.status ?? 1;
}

/** Runs a build script that prints KEY=/path lines; returns them as POD_DNS_INJECTOR_TEST_KEY env vars. */
function buildBinaries(script, hint) {
  const build = spawnSync("bash", [join(root, ...script)], {
    cwd: root,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
  });
  if (build.status !== 0) {
    console.error(hint);
    process.exit(1);
  }
  const env = {};
  for (const line of build.stdout.split("\n")) {
    const m = /^([A-Z_]+)=(.+)$/.exec(line.trim());
    if (m) env[`POD_DNS_INJECTOR_TEST_${m[1]}`] = m[2];
  }
  return env;
}

const controlPlaneHint =
  "could not build or find the control-plane binaries (see above). Install Go >= 1.26 or set KUBEBUILDER_ASSETS / TEST_ASSET_KUBE_APISERVER, TEST_ASSET_ETCD, TEST_ASSET_KUBE_CONTROLLER_MANAGER.";
/** helm, for the chart's suites in the e2e tier and the chart's install on the real node. */
const buildHelm = () =>
  buildBinaries(["test", "helm", "build-helm.sh"], "could not build or find helm (see above). Install Go >= 1.26 or set TEST_ASSET_HELM to a helm v3/v4 binary.");

let failed = false;
if (which === "all" || which === "unit") {
  const files = testFiles("unit");
  if (files.length === 0) {
    console.error("no unit tests found under dist/test/unit (did the build run?)");
    process.exit(1);
  }
  const status = runNodeTests(files, ["--experimental-test-coverage", "--test-coverage-exclude=dist/test/**", "--test-coverage-exclude=node_modules/**", "--test-concurrency=2"]);
  failed ||= status !== 0;
}
if (which === "all" || which === "cli") {
  // Each of these spawns the CLI (a fresh Node process per command), which is what makes them
  // slow; they are kept out of the unit tier so that it stays fast. No coverage: the code
  // they cover runs in the child processes.
  const files = testFiles("cli");
  if (files.length === 0) {
    console.error("no CLI tests found under dist/test/cli (did the build run?)");
    process.exit(1);
  }
  failed ||= runNodeTests(files, ["--test-concurrency=2"]) !== 0;
}
if (which === "all" || which === "e2e") {
  const files = testFiles("e2e");
  if (files.length === 0) {
    console.error("no end-to-end tests found under dist/test/e2e");
    process.exit(1);
  }
  // The control-plane binaries, helm (the chart's suites), promtool (the monitoring
  // overlay's rules and their unit tests: test/e2e/monitoring.test.ts) and the Prometheus
  // Operator's CRDs (the overlay's dry-run in test/e2e/manifests.test.ts) are built (or
  // found) once, before any suite starts. Never skipped: without Go a build fails with what
  // to install.
  const env = {
    ...buildBinaries(["test", "control-plane", "build-binaries.sh"], controlPlaneHint),
    ...buildHelm(),
    ...buildBinaries(
      ["test", "monitoring", "build-promtool.sh"],
      "could not build or find promtool (see above). Install Go >= 1.26 or set TEST_ASSET_PROMTOOL to a promtool binary.",
    ),
    ...buildBinaries(
      ["test", "monitoring", "build-prometheus-operator-crds.sh"],
      "could not generate or find the Prometheus Operator CRDs (see above). Install Go >= 1.26 or set TEST_ASSET_PROMETHEUS_OPERATOR_CRDS to a folder holding them.",
    ),
  };
  // One control plane per file; files run one after another to stay within 2 cores.
  failed ||= runNodeTests(files, ["--test-concurrency=1", "--test-timeout=600000"], env) !== 0;
}
if (which === "all" || which === "node") {
  // The real-node tier: one node for all its proofs (test/e2e-node). Never skipped: a
  // missing prerequisite (root, a Debian package, Go) fails it with a message naming it.
  const files = testFiles("e2e-node");
  if (files.length === 0) {
    console.error("no real-node tests found under dist/test/e2e-node");
    process.exit(1);
  }
  const env = {
    ...buildBinaries(["test", "control-plane", "build-binaries.sh"], controlPlaneHint),
    ...buildBinaries(
      ["test", "node", "build-node-binaries.sh"],
      "could not build or find the real-node binaries (see above). Install Go >= 1.26 or set TEST_ASSET_KUBELET, TEST_ASSET_KUBE_PROXY, TEST_ASSET_KUBE_SCHEDULER, TEST_ASSET_COREDNS.",
    ),
    // The chart's helm install, upgrade and uninstall on the node (the tier's last proof).
    ...buildHelm(),
  };
  // Bring-up, the image build and the proofs share one file's budget.
  failed ||= runNodeTests(files, ["--test-concurrency=1", "--test-timeout=1500000"], env) !== 0;
}
process.exit(failed ? 1 : 0);
