/**
 * `pod-dns-injector serve`: wires the webhook's parts and runs them as runnables
 * (kube/runnable.ts, the parts in serve-parts.ts). Start order: settings → TLS ready → ops
 * port (probes answer, not ready) → informers started → HTTPS listening → ready; once the
 * informers have synced, the leader-only work and its election. Stop, under one deadline:
 * not ready and draining → leader-only work → the Lease released → HTTPS closed → informers
 * → ops port → TLS.
 */
import { unwatchFile, watchFile } from "node:fs";
import type { KubeConfig } from "@kubernetes/client-node";
import type { DestinationStream, Logger } from "pino";
import { Gauge } from "prom-client";
import { MUTATE_PATH } from "../config/names.js";
import { loadSettings } from "../config/load.js";
import type { Settings } from "../config/settings.js";
import { RunnableManager } from "../kube/runnable.js";
import { standaloneFacts } from "../webhook/admission-facts.js";
import { buildWebhookApp } from "../webhook/app.js";
import { createWebhookMetrics } from "../webhook/metrics.js";
import { buildOpsApp, type ReadinessCheck } from "../webhook/ops-app.js";
import { findCluster, loadKubeConfig } from "./kubeconfig.js";
import { createLogger } from "./logger.js";
import { STOP_DEADLINE_MS, opsPart, tlsPart, webhookPart } from "./serve-parts.js";
import { restartOnlyReload } from "./config-reload.js";
import { readConfigFile, resolveSettings, type SettingsFlags } from "./settings-source.js";
import { VERSION } from "./version.js";

export interface ServeFlags extends SettingsFlags {
  kubeconfig?: string | undefined;
  standalone?: boolean | undefined;
  port?: number | undefined;
  host?: string | undefined;
  opsPort?: number | undefined;
  tlsCertFile?: string | undefined;
  tlsKeyFile?: string | undefined;
  caOut?: string | undefined;
  logLevel?: string | undefined;
}

/** What a test may change about `serve`; the CLI passes none of it. */
export interface ServeHooks {
  /** Where the JSON log lines go. Default stdout. */
  logDestination?: DestinationStream | undefined;
  /** How often the config file is polled for changes. Default 2000 ms. */
  configPollMs?: number | undefined;
}

export interface RunningServer {
  webhookPort: number;
  opsPort: number;
  caFile: string | undefined;
  /** Resolves when the server has stopped (after `stop()` or a signal). */
  stopped: Promise<void>;
  stop(reason: string): Promise<void>;
}

/** The flags that override settings, as a settings document (the highest layer). */
function flagDocument(flags: ServeFlags): Record<string, unknown> {
  const flagDoc: Record<string, unknown> = {};
  const webhook: Record<string, unknown> = {};
  if (flags.port !== undefined) webhook.port = flags.port;
  if (flags.host !== undefined) webhook.host = flags.host;
  if (flags.tlsCertFile !== undefined) webhook.tlsCertFile = flags.tlsCertFile;
  if (flags.tlsKeyFile !== undefined) webhook.tlsKeyFile = flags.tlsKeyFile;
  if (Object.keys(webhook).length) flagDoc.webhook = webhook;
  if (flags.opsPort !== undefined) flagDoc.ops = { port: flags.opsPort };
  if (flags.logLevel !== undefined) flagDoc.logLevel = flags.logLevel;
  return flagDoc;
}

/**
 * `serve`: TLS, the ops port and the HTTPS webhook, then (cluster mode) the informers, and
 * once they have synced the guardian, the background audit and (admission.mode policy or
 * both) the admission policy keeper under one Lease; config
 * reloads; `stop` (SIGTERM) drains and stops in reverse under one deadline.
 *
 * @throws CliError (input or usage) for what the user can fix: a bad kubeconfig or config
 *   file, unusable TLS files, a port in use; whatever started is stopped first.
 */
export async function runServe(flags: ServeFlags, env: NodeJS.ProcessEnv, hooks: ServeHooks = {}): Promise<RunningServer> {
  const flagDoc = flagDocument(flags);
  const { settings: initial, configPath } = await resolveSettings(flags, env, flagDoc);
  let settings: Settings = initial;
  const currentSettings = () => settings;
  const log = createLogger(settings.logLevel, hooks.logDestination);
  const configPollMs = hooks.configPollMs ?? 2000;

  // Cluster mode only when a cluster is explicitly configured: a flaky or missing API server
  // must never silently turn a deployed injector into "every namespace is enabled".
  const source = flags.standalone ? undefined : findCluster(flags.kubeconfig, env, { homeFallback: false });
  const kubeConfig: KubeConfig | undefined = source ? await loadKubeConfig(source, "serve") : undefined;
  // Cluster mode, one value for all of it: the Kubernetes client and everything built on it
  // load only then.
  const cluster = kubeConfig ? await clusterMode(kubeConfig, currentSettings, log) : undefined;
  logMode(log, settings, kubeConfig);
  const metrics = createWebhookMetrics({ version: VERSION });

  const webhookHost = settings.webhook.host ?? (kubeConfig ? "0.0.0.0" : "127.0.0.1");
  const readiness: ReadinessCheck[] = [];
  const tls = tlsPart({ settings, caOut: flags.caOut, log, kubeConfig, registry: metrics.registry });
  const ops = opsPart(buildOpsApp({ log, registry: metrics.registry, readiness, live: () => true }), settings.ops.host ?? webhookHost, settings.ops.port);
  const webhook = webhookPart({
    tls: () => tls.source,
    build: (t) =>
      buildWebhookApp({ settings: currentSettings, facts: cluster?.facts ?? standaloneFacts(currentSettings), log, metrics, https: { key: t.keyPem, cert: t.certPem } }),
    host: webhookHost,
    port: settings.webhook.port,
    path: MUTATE_PATH,
    log,
    opsPort: () => ops.port,
  });
  const leader = cluster?.parts.leaderWork({
    kubeConfig: cluster.kubeConfig,
    cluster: cluster.facts,
    settings: currentSettings,
    log,
    registry: metrics.registry,
    identity: cluster.parts.defaultIdentity(env),
  });
  const audit = leader?.audit;
  // Which admission is active, on /readyz and as a gauge (admission.mode is restart-only).
  const admissionMode = kubeConfig ? settings.admission.mode : "webhook";
  new Gauge({
    name: "pod_dns_injector_admission_mode",
    help: "1 for the admission mode this replica runs: webhook, policy or both.",
    labelNames: ["mode"] as const,
    registers: [metrics.registry],
  }).set({ mode: admissionMode }, 1);
  const manager = new RunnableManager({
    runnables: [tls, ops, ...(cluster ? [cluster.parts.informersPart(cluster.facts, log)] : []), webhook, ...(leader?.runnables ?? [])],
    log,
    drainMs: STOP_DEADLINE_MS,
    leaderElection: leader?.election,
  });
  readiness.push(
    ...manager.readiness(),
    { name: `admission (${admissionMode} mode)`, check: () => null },
    { name: "shutdown", check: () => (manager.stopRequested ? "shutting down" : null) },
  );
  await manager.start();

  // Configuration reloads: a ConfigMap update swaps a symlink, which fs.watch misses, so
  // poll. A bad new file keeps the last good settings.
  const applyReload = restartOnlyReload({ log, registry: metrics.registry });
  if (configPath) {
    watchFile(configPath, { interval: configPollMs, persistent: false }, () => {
      void readConfigFile(configPath)
        .then((text) => {
          const r = loadSettings({ file: { path: configPath, text }, env, flags: flagDoc });
          if (!r.ok) {
            log.error({ errors: r.errors }, "configuration reload rejected; keeping the previous settings");
            return;
          }
          settings = applyReload(settings, r.settings);
          log.level = settings.logLevel;
          log.info({ configPath }, "configuration reloaded");
          audit?.trigger("configuration reloaded");
          leader?.policies.settingsChanged();
        })
        .catch((err: unknown) => log.error({ err }, "configuration reload failed"));
    });
  }

  let resolveStopped!: () => void;
  const stopped = new Promise<void>((r) => (resolveStopped = r));
  let stopping: Promise<void> | undefined;
  const stop = (reason: string): Promise<void> => {
    stopping ??= (async () => {
      log.info({ reason }, "shutting down: draining in-flight admission requests");
      if (configPath) unwatchFile(configPath);
      await manager.stop(reason);
      log.info("stopped");
      resolveStopped();
    })();
    return stopping;
  };
  return { webhookPort: webhook.port, opsPort: ops.port, caFile: tls.source.caFile, stopped, stop };
}

/** serve-cluster-parts.ts, loaded, with the cluster's facts (informer caches) made from it. */
async function clusterMode(kubeConfig: KubeConfig, settings: () => Settings, log: Logger) {
  const parts = await import("./serve-cluster-parts.js");
  return { kubeConfig, parts, facts: parts.clusterFacts(kubeConfig, settings, log) };
}

function logMode(log: Logger, settings: Settings, kubeConfig: KubeConfig | undefined): void {
  if (kubeConfig) {
    log.info(
      { server: kubeConfig.getCurrentCluster()?.server, dnsService: `${settings.dnsService.namespace}/${settings.dnsService.name}` },
      "cluster mode: namespaces and the DNS Service IP come from the API server",
    );
  } else {
    log.info(
      { nameserver: settings.dnsService.clusterIP, clusterDomain: settings.clusterDomain },
      "standalone mode (no kubeconfig, not in a cluster): every calling namespace counts as enabled, the nameserver is the configured DNS Service IP",
    );
  }
}
