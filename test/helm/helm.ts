/**
 * The `helm` CLI for the chart's tests: found through POD_DNS_INJECTOR_TEST_HELM (set by
 * scripts/run-tests.mjs from test/helm/build-helm.sh) or by running that script, which
 * builds helm from its Go module once and caches it by version. Helm runs with its own
 * config, cache and data folders under a temp dir, never the user's.
 */
import { spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseAllDocuments } from "yaml";
import { assertExecutable, runBuildScript } from "../control-plane/binaries.js";
import { repoRoot } from "../unit/repo-root.js";
import { CHART_DIR } from "../../charts/values-schema.js";
import { SNAPSHOT_CONFIGMAP } from "../../config/names.js";
import { defaultSettings } from "../../config/settings.js";

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML, read field by field
export type Obj = Record<string, any>;

const INSTALL_HINT =
  "Install Go >= 1.26 (test/helm/build-helm.sh builds helm from helm.sh/helm/v4), or point TEST_ASSET_HELM (or POD_DNS_INJECTOR_TEST_HELM) at a helm v3/v4 binary.";

export const chartPath = (): string => join(repoRoot(), CHART_DIR);

/** The release name the tests install the chart as (the README's). */
export const RELEASE = "pod-dns-injector";

/**
 * What the running injector creates in its namespace and the chart does not own (certs/,
 * controller/snapshot-store.ts), as kubectl references: its CA and serving certificate
 * Secrets and the DNS Service's last good copy. `helm upgrade` and `helm uninstall` keep them.
 */
export const INJECTOR_RUNTIME_OBJECTS: readonly string[] = (() => {
  const certs = defaultSettings().certificates;
  return [`secret/${certs.secretName}`, `secret/${certs.caSecretName}`, `configmap/${SNAPSHOT_CONFIGMAP}`];
})();

let cached: string | undefined;

/**
 * The helm binary's path. Never skips: without Go (and without a pre-built helm) this throws
 * with what to install.
 */
export function resolveHelm(env: NodeJS.ProcessEnv = process.env): string {
  if (cached) return cached;
  const fromEnv = env.POD_DNS_INJECTOR_TEST_HELM;
  if (fromEnv) {
    assertExecutable(fromEnv, "POD_DNS_INJECTOR_TEST_HELM", INSTALL_HINT);
    return (cached = fromEnv);
  }
  const script = join(repoRoot(), "test", "helm", "build-helm.sh");
  const path = runBuildScript(script, INSTALL_HINT).get("HELM");
  if (!path) throw new Error(`${script} printed no HELM= line. ${INSTALL_HINT}`);
  assertExecutable(path, script, INSTALL_HINT);
  return (cached = path);
}

export interface HelmResult {
  code: number;
  stdout: string;
  stderr: string;
}

/** A helm with private state; `kubeconfig` is passed to every command when given. */
export class Helm {
  private readonly home = mkdtempSync(join(tmpdir(), "pdi-helm-"));
  constructor(
    private readonly binary = resolveHelm(),
    private readonly kubeconfig?: string,
  ) {}

  run(args: string[], opts: { timeoutMs?: number } = {}): Promise<HelmResult> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.binary, [...(this.kubeconfig ? [`--kubeconfig=${this.kubeconfig}`] : []), ...args], {
        stdio: ["ignore", "pipe", "pipe"],
        env: {
          PATH: process.env.PATH,
          HOME: this.home,
          HELM_CONFIG_HOME: join(this.home, "config"),
          HELM_CACHE_HOME: join(this.home, "cache"),
          HELM_DATA_HOME: join(this.home, "data"),
        },
        timeout: opts.timeoutMs ?? 120_000,
        killSignal: "SIGKILL",
      });
      let stdout = "";
      let stderr = "";
      child.stdout.setEncoding("utf8").on("data", (d: string) => (stdout += d));
      child.stderr.setEncoding("utf8").on("data", (d: string) => (stderr += d));
      child.on("error", (err) => reject(new Error(`helm ${args.join(" ")}`, { cause: err })));
      child.on("close", (code, signal) => resolve({ code: code ?? (signal ? 128 : -1), stdout, stderr }));
    });
  }

  /** `helm template` of the chart in `namespace` with `--set`-style values; throws on failure. */
  async template(namespace: string, set: readonly string[] = []): Promise<{ text: string; objects: Obj[] }> {
    const r = await this.run(["template", "pod-dns-injector", chartPath(), "--namespace", namespace, ...set.flatMap((s) => ["--set", s])]);
    if (r.code !== 0) throw new Error(`helm template ${set.join(" ")}: ${r.stderr}`);
    return { text: r.stdout, objects: parseYamlObjects(r.stdout) };
  }

  dispose(): void {
    rmSync(this.home, { recursive: true, force: true });
  }
}

/** The objects of a multi-document YAML stream (empty documents dropped). */
export function parseYamlObjects(text: string): Obj[] {
  return parseAllDocuments(text)
    .map((d) => d.toJS() as Obj | null)
    .filter((o): o is Obj => o !== null && typeof o === "object");
}

/** The labels Helm adds for itself; the kustomize base has none of them. */
export const HELM_LABELS = ["helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance", "app.kubernetes.io/version"];
/** Pod template annotations the chart adds: a changed configuration rolls the pods. */
export const HELM_POD_ANNOTATIONS = ["checksum/config"];

/** `Kind namespace/name`, the key two renderings are compared by. */
export const objectKey = (o: Obj): string => `${o.kind} ${o.metadata?.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata?.name}`;

/**
 * An object as the chart renders it, less what only Helm adds (its labels, the checksum
 * annotation); the ConfigMap's config.yaml is compared as data, not text (comments and key
 * order differ).
 */
export function withoutHelmBookkeeping(o: Obj): Obj {
  const out = structuredClone(o);
  const strip = (meta: Obj | undefined, keys: string[], field: "labels" | "annotations") => {
    if (!meta?.[field]) return;
    for (const k of keys) delete meta[field][k];
    if (Object.keys(meta[field]).length === 0) delete meta[field];
  };
  strip(out.metadata, HELM_LABELS, "labels");
  strip(out.spec?.template?.metadata, HELM_POD_ANNOTATIONS, "annotations");
  if (out.kind === "ConfigMap" && typeof out.data?.["config.yaml"] === "string") {
    out.data["config.yaml"] = parseYamlObjects(out.data["config.yaml"])[0] ?? null;
  }
  return out;
}
