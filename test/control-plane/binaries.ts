/**
 * Finds the control-plane binaries for the integration tests. `scripts/run-tests.mjs` runs
 * `build-binaries.sh` once and passes the paths down as environment variables; when a test
 * file is run on its own, the script is run here instead (it only builds what its cache
 * lacks, so a warm run takes well under a second).
 */
import { spawnSync } from "node:child_process";
import { accessSync, constants } from "node:fs";
import { basename, dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

/** Absolute paths of the four executables the test control plane runs. */
export interface ControlPlaneBinaries {
  kubeApiServer: string;
  kubeControllerManager: string;
  kubectl: string;
  etcd: string;
}

/** Each binary: the key printed by build-binaries.sh and the env var run-tests.mjs sets. */
const BINARIES = [
  { field: "kubeApiServer", key: "KUBE_APISERVER" },
  { field: "kubeControllerManager", key: "KUBE_CONTROLLER_MANAGER" },
  { field: "kubectl", key: "KUBECTL" },
  { field: "etcd", key: "ETCD" },
] as const satisfies readonly { field: keyof ControlPlaneBinaries; key: string }[];

const ENV_PREFIX = "POD_DNS_INJECTOR_TEST_";

const INSTALL_HINT =
  "Install Go >= 1.26 (the script builds kube-apiserver, kube-controller-manager, kubectl and etcd " +
  "from their Go modules), or point at pre-built binaries with KUBEBUILDER_ASSETS (a folder holding " +
  "them, as envtest uses) or TEST_ASSET_KUBE_APISERVER, TEST_ASSET_KUBE_CONTROLLER_MANAGER, " +
  "TEST_ASSET_KUBECTL and TEST_ASSET_ETCD.";

/** dist/test/control-plane/binaries.js and test/control-plane/binaries.ts both sit 2 levels down. */
function repoRoot(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const up = join(here, "..", "..");
  return basename(up) === "dist" ? dirname(up) : up;
}

/** The build script, in the source tree (it is not compiled into dist/). */
export function buildScriptPath(): string {
  return join(repoRoot(), "test", "control-plane", "build-binaries.sh");
}

/** Throws, naming `origin` and `hint`, unless `path` is an executable file. */
export function assertExecutable(path: string, origin: string, hint = INSTALL_HINT): void {
  try {
    accessSync(path, constants.X_OK);
  } catch (cause) {
    throw new Error(`${origin}: ${path} is not an executable file. ${hint}`, { cause });
  }
}

function fromEnv(env: NodeJS.ProcessEnv): ControlPlaneBinaries | undefined {
  const found = BINARIES.map(({ key }) => env[ENV_PREFIX + key]);
  if (found.every((p) => p === undefined || p === "")) return undefined;
  const result: Partial<ControlPlaneBinaries> = {};
  for (const [i, { field, key }] of BINARIES.entries()) {
    const path = found[i];
    if (path === undefined || path === "") {
      throw new Error(`${ENV_PREFIX}${key} is not set, but other ${ENV_PREFIX}* binaries are: set all four or none`);
    }
    assertExecutable(path, `${ENV_PREFIX}${key}`);
    result[field] = path;
  }
  return result as ControlPlaneBinaries;
}

/** The `KEY=/path` lines a build script prints on stdout, as a map. */
export function parseKeyPathLines(stdout: string): Map<string, string> {
  const vars = new Map<string, string>();
  for (const line of stdout.split("\n")) {
    const m = /^([A-Z_]+)=(.+)$/.exec(line.trim());
    if (m?.[1] !== undefined && m[2] !== undefined) vars.set(m[1], m[2]);
  }
  return vars;
}

/** Parses the `KEY=/path` lines build-binaries.sh prints on stdout. */
export function parseBuildOutput(stdout: string): ControlPlaneBinaries {
  const vars = parseKeyPathLines(stdout);
  const result: Partial<ControlPlaneBinaries> = {};
  for (const { field, key } of BINARIES) {
    const path = vars.get(key);
    if (path === undefined) throw new Error(`build-binaries.sh printed no ${key}= line`);
    result[field] = path;
  }
  return result as ControlPlaneBinaries;
}

/**
 * Runs a build script (bash) that prints `KEY=/path` lines, with its progress (stderr)
 * shown, and returns those lines. `hint` says what to install when it fails.
 *
 * @throws Error naming the script, how it ended and `hint`.
 */
export function runBuildScript(script: string, hint: string): Map<string, string> {
  // stderr is inherited so a cold build shows its progress instead of looking hung.
  const run = spawnSync("bash", [script], {
    encoding: "utf8",
    stdio: ["ignore", "pipe", "inherit"],
    maxBuffer: 1024 * 1024,
  });
  if (run.error) {
    throw new Error(`could not run ${script}: ${run.error.message}. ${hint}`, { cause: run.error });
  }
  if (run.status !== 0) {
    throw new Error(`${script} exited with ${run.status ?? run.signal} (see its output above). ${hint}`);
  }
  return parseKeyPathLines(run.stdout);
}

function fromBuildScript(): ControlPlaneBinaries {
  const script = buildScriptPath();
  const vars = runBuildScript(script, INSTALL_HINT);
  const binaries = parseBuildOutput([...vars].map(([k, v]) => `${k}=${v}`).join("\n"));
  for (const { field } of BINARIES) assertExecutable(binaries[field], script);
  return binaries;
}

let cached: ControlPlaneBinaries | undefined;

/**
 * Returns the binary paths: from `POD_DNS_INJECTOR_TEST_{KUBE_APISERVER,
 * KUBE_CONTROLLER_MANAGER,KUBECTL,ETCD}` when set, else by running build-binaries.sh (which
 * may take many minutes on a cold cache). The result is cached for the process.
 *
 * @throws Error naming what to install when the binaries can be neither found nor built.
 */
export function resolveControlPlaneBinaries(env: NodeJS.ProcessEnv = process.env): ControlPlaneBinaries {
  cached ??= fromEnv(env) ?? fromBuildScript();
  return cached;
}
