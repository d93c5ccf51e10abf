/**
 * Finding and loading the cluster, for every command: `--kubeconfig`, else `$KUBECONFIG`
 * (the first file that exists), else the in-cluster service account, else (where allowed)
 * `~/.kube/config`, as kubectl does. client-node is loaded only here and only when a command
 * needs a cluster: it costs more start-up time and memory than the rest of the CLI together.
 */
import { existsSync } from "node:fs";
import { delimiter, join } from "node:path";
import type { KubeConfig } from "@kubernetes/client-node";
import { CliError, inputError, usageError } from "./errors.js";

const SERVICE_ACCOUNT_TOKEN = "/var/run/secrets/kubernetes.io/serviceaccount/token";

export type ClusterSource = { kind: "file"; path: string } | { kind: "in-cluster" };

/**
 * Where the cluster comes from, or undefined when none is configured. `homeFallback: false`
 * (serve) counts only an explicit configuration: a leftover ~/.kube/config must not turn a
 * standalone run into a cluster run.
 */
export function findCluster(flag: string | undefined, env: NodeJS.ProcessEnv, options: { homeFallback: boolean }): ClusterSource | undefined {
  const fromEnv = env.KUBECONFIG?.split(delimiter).filter((p) => p !== "");
  const file = flag ?? fromEnv?.find((p) => existsSync(p)) ?? fromEnv?.[0];
  if (file) return { kind: "file", path: file };
  if (env.KUBERNETES_SERVICE_HOST && existsSync(SERVICE_ACCOUNT_TOKEN)) return { kind: "in-cluster" };
  const home = env.HOME ? join(env.HOME, ".kube", "config") : undefined;
  if (options.homeFallback && home && existsSync(home)) return { kind: "file", path: home };
  return undefined;
}

/** Loads the cluster's KubeConfig; a missing or broken one is a clear usage or input error. */
export async function loadKubeConfig(source: ClusterSource | undefined, what: string, alternative = ""): Promise<KubeConfig> {
  if (!source) throw usageError(`no cluster to ${what}: pass --kubeconfig FILE or set KUBECONFIG${alternative}`);
  const { KubeConfig } = await import("@kubernetes/client-node");
  const kc = new KubeConfig();
  const label = source.kind === "file" ? source.path : "(in-cluster)";
  try {
    if (source.kind === "file") kc.loadFromFile(source.path);
    else kc.loadFromCluster();
  } catch (err) {
    if (err instanceof CliError) throw err;
    throw inputError(`cannot load kubeconfig ${label}: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!kc.getCurrentCluster()) throw inputError(`kubeconfig ${label}: no current context with a cluster`);
  return kc;
}
