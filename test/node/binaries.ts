/**
 * Finds the real-node binaries: `scripts/run-tests.mjs` runs build-node-binaries.sh once and
 * passes the paths down as POD_DNS_INJECTOR_TEST_<KEY> variables; a test file run on its own
 * runs the script here (a warm run only hashes two source files).
 */
import { join } from "node:path";
import { assertExecutable, runBuildScript } from "../control-plane/binaries.js";
import { repoRoot } from "../unit/repo-root.js";

/** Absolute paths of the node components and of our own two static programs. */
export interface NodeBinaries {
  kubelet: string;
  kubeProxy: string;
  kubeScheduler: string;
  coredns: string;
  /** The sandbox image's only program. */
  pause: string;
  /** The pods' test client (test/node/dnsprobe). */
  dnsprobe: string;
}

const KEYS = {
  kubelet: "KUBELET",
  kubeProxy: "KUBE_PROXY",
  kubeScheduler: "KUBE_SCHEDULER",
  coredns: "COREDNS",
  pause: "PAUSE",
  dnsprobe: "DNSPROBE",
} as const satisfies Record<keyof NodeBinaries, string>;

const ENV_PREFIX = "POD_DNS_INJECTOR_TEST_";

const INSTALL_HINT =
  "Install Go >= 1.26 (the script builds kubelet, kube-proxy, kube-scheduler, CoreDNS and two small test programs " +
  "from their Go modules), or point at pre-built binaries with TEST_ASSET_KUBELET, TEST_ASSET_KUBE_PROXY, " +
  "TEST_ASSET_KUBE_SCHEDULER and TEST_ASSET_COREDNS.";

/** The build script, in the source tree (it is not compiled into dist/). */
export function nodeBuildScriptPath(): string {
  return join(repoRoot(), "test", "node", "build-node-binaries.sh");
}

let cached: NodeBinaries | undefined;

/**
 * The node binaries, from the environment when run-tests.mjs set all of them, else from
 * build-node-binaries.sh (a cold build takes many minutes). Cached for the process.
 *
 * @throws Error naming what to install when they can be neither found nor built.
 */
export function resolveNodeBinaries(env: NodeJS.ProcessEnv = process.env): NodeBinaries {
  if (cached) return cached;
  const fields = Object.keys(KEYS) as (keyof NodeBinaries)[];
  const fromEnv = fields.every((f) => env[ENV_PREFIX + KEYS[f]]);
  const vars = fromEnv ? new Map(fields.map((f) => [KEYS[f], env[ENV_PREFIX + KEYS[f]] as string])) : runBuildScript(nodeBuildScriptPath(), INSTALL_HINT);
  const result: Partial<NodeBinaries> = {};
  for (const f of fields) {
    const path = vars.get(KEYS[f]);
    if (path === undefined) throw new Error(`build-node-binaries.sh printed no ${KEYS[f]}= line`);
    assertExecutable(path, fromEnv ? ENV_PREFIX + KEYS[f] : nodeBuildScriptPath(), INSTALL_HINT);
    result[f] = path;
  }
  cached = result as NodeBinaries;
  return cached;
}
