/**
 * `pod-dns-injector serve`: wires the webhook's parts and runs them. Start order: settings →
 * TLS ready → ops port (probes answer, not ready) → HTTPS listening → informers synced →
 * ready. Stop in reverse: not ready → drain HTTPS → informers → ops port.
 */
import { unwatchFile, watchFile } from "node:fs";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Server as HttpsServer } from "node:https";
import type { Server as NetServer } from "node:net";
import { MUTATE_PATH } from "../config/names.js";
import { loadSettings } from "../config/load.js";
import type { Settings } from "../config/settings.js";
import { standaloneFacts, type AdmissionFacts } from "../webhook/admission-facts.js";
import { buildWebhookApp, startDraining, type WebhookApp } from "../webhook/app.js";
import { clusterFacts } from "../webhook/cluster-facts.js";
import { createWebhookMetrics } from "../webhook/metrics.js";
import { buildOpsApp, type ReadinessCheck } from "../webhook/ops-app.js";
import { findCluster, loadKubeConfig } from "./kubeconfig.js";
import { createLogger } from "./logger.js";
import { readConfigFile, resolveSettings, type SettingsFlags } from "./settings-source.js";
import { startTLS } from "./serve-tls.js";
import { kubeEventRecorder } from "../kube/events.js";
import { DNSServiceGuardian, GUARDIAN_LEASE } from "../controller/guardian.js";
import { LeaderElector, defaultIdentity } from "../kube/leader-election.js";
import { SnapshotStore } from "../controller/snapshot-store.js";
import { startBackgroundAudit, type BackgroundAudit } from "../audit/background.js";
import { inputError } from "./errors.js";
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
 * `serve`: TLS, the HTTPS webhook and the ops port, then (cluster mode) the informers, the
 * guardian and the background audit; config reloads; SIGTERM drains and stops in reverse.
 */
export async function runServe(flags: ServeFlags, env: NodeJS.ProcessEnv): Promise<RunningServer> {
  const flagDoc = flagDocument(flags);
  const { settings: initial, configPath } = await resolveSettings(flags, env, flagDoc);
  let settings: Settings = initial;
  const currentSettings = () => settings;
  const log = createLogger(settings.logLevel);

  // Cluster mode only when a cluster is explicitly configured: a flaky or missing API server
  // must never silently turn a deployed injector into "every namespace is enabled".
  const source = flags.standalone ? undefined : findCluster(flags.kubeconfig, env, { homeFallback: false });
  const clusterMode = source !== undefined;
  const kubeConfig: KubeConfig | undefined = source ? await loadKubeConfig(source, "serve") : undefined;
  const metrics = createWebhookMetrics({ version: VERSION });

  // 1. TLS.
  const tls = await startTLS({ settings, caOut: flags.caOut, log, kubeConfig, registry: metrics.registry });

  // 2. Facts.
  let facts: AdmissionFacts;
  let cluster: ReturnType<typeof clusterFacts> | undefined;
  if (kubeConfig) {
    cluster = clusterFacts(kubeConfig, currentSettings, log);
    facts = cluster;
    log.info({ server: kubeConfig.getCurrentCluster()?.server, dnsService: `${settings.dnsService.namespace}/${settings.dnsService.name}` }, "cluster mode: namespaces and the DNS Service IP come from the API server");
  } else {
    facts = standaloneFacts(currentSettings);
    log.info(
      { nameserver: settings.dnsService.clusterIP, clusterDomain: settings.clusterDomain },
      "standalone mode (no kubeconfig, not in a cluster): every calling namespace counts as enabled, the nameserver is the configured DNS Service IP",
    );
  }

  // 3. Servers.
  let shuttingDown = false;
  const readiness: ReadinessCheck[] = [
    { name: "tls", check: () => tls.readiness() },
    { name: "webhook", check: () => (webhookListening ? null : "HTTPS server not listening") },
    { name: "shutdown", check: () => (shuttingDown ? "shutting down" : null) },
  ];
  if (cluster) readiness.push({ name: "informers", check: () => cluster.readiness() });
  const defaultHost = clusterMode ? "0.0.0.0" : "127.0.0.1";
  const webhookHost = settings.webhook.host ?? defaultHost;
  const opsHost = settings.ops.host ?? webhookHost;
  const ops = buildOpsApp({ log, registry: metrics.registry, readiness, live: () => true });
  try {
    await listen(ops, opsHost, settings.ops.port, "--ops-port");
  } catch (err) {
    await tls.stop();
    throw err;
  }
  const opsPort = portOf(ops);

  const app = buildWebhookApp({ settings: currentSettings, facts, log, metrics, https: { key: tls.keyPem, cert: tls.certPem } });
  let webhookListening = false;
  try {
    await listen(app, webhookHost, settings.webhook.port, "--port");
  } catch (err) {
    await Promise.all([tls.stop(), ops.close()]);
    throw err;
  }
  webhookListening = true;
  tls.attach(app.server);
  const webhookPort = portOf(app);
  log.info({ webhookPort, opsPort, path: MUTATE_PATH, caFile: tls.caFile ?? null }, `webhook listening on https://${webhookHost}:${webhookPort}${MUTATE_PATH}`);

  // 4. Informers (the webhook answers meanwhile: a cache miss reads the namespace live).
  if (cluster) {
    await cluster.start();
    log.info({ synced: cluster.readiness() === null }, "informers started");
  }

  // 5. Leader-only work (the DNS Service guardian, the background audit): one Lease decides
  // for both (every replica campaigns; one leads), and it starts only once the informers have
  // synced, so the guardian never reads an empty cache as "deleted".
  const leaderAbort = new AbortController();
  let guardian: DNSServiceGuardian | undefined;
  let audit: BackgroundAudit | undefined;
  let elector: LeaderElector | undefined;
  const leaderWork = cluster && kubeConfig && (settings.guardian.enabled || settings.audit.enabled) ? startLeaderWork(cluster, kubeConfig) : Promise.resolve();
  async function startLeaderWork(facts: ReturnType<typeof clusterFacts>, kc: KubeConfig): Promise<void> {
    try {
      await Promise.all([facts.namespaceInformer.waitForSync(leaderAbort.signal), facts.serviceInformer.waitForSync(leaderAbort.signal)]);
    } catch {
      return; // stopped before the caches synced
    }
    const identity = defaultIdentity(env);
    const leader = { isLeader: () => elector?.isLeader() ?? false };
    if (settings.guardian.enabled) {
      guardian = new DNSServiceGuardian({
        kubeConfig: kc,
        settings: currentSettings,
        log: log.child({ component: "guardian" }),
        registry: metrics.registry,
        serviceInformer: facts.serviceInformer,
        store: new SnapshotStore(kc, settings.injectorNamespace),
        events: kubeEventRecorder(kc, log, identity),
        leader,
      });
      guardian.start();
    }
    if (settings.audit.enabled) {
      const a = startBackgroundAudit({
        kubeConfig: kc,
        settings: currentSettings,
        log: log.child({ component: "audit" }),
        registry: metrics.registry,
        isLeader: leader.isLeader,
        dnsServiceIP: () => facts.dnsServiceIP(),
        intervalSeconds: settings.audit.intervalSeconds,
      });
      audit = a;
      // What changes a pod's verdict: its namespace's labels or annotations, the DNS IP.
      facts.namespaceInformer.on("update", () => a.trigger("namespace changed"));
      facts.namespaceInformer.on("add", () => a.trigger("namespace added"));
      facts.onDNSServiceIPChange(() => a.trigger("DNS Service IP changed"));
    }
    const g = guardian;
    const g2 = audit;
    const lease = settings.guardian;
    elector = new LeaderElector({
      kubeConfig: kc,
      namespace: settings.injectorNamespace,
      name: GUARDIAN_LEASE,
      identity,
      leaseDurationSeconds: lease.leaseDurationSeconds,
      renewDeadlineSeconds: lease.renewDeadlineSeconds,
      retryPeriodSeconds: lease.retryPeriodSeconds,
      log: log.child({ component: "leader-election" }),
      onStartedLeading: () => {
        g?.startedLeading();
        g2?.startedLeading();
      },
      onStoppedLeading: () => {
        g?.stoppedLeading();
        g2?.stoppedLeading();
      },
    });
    elector.start();
    const what = guardian ? "DNS Service guardian" : "background audit";
    log.info({ identity, lease: `${settings.injectorNamespace}/${GUARDIAN_LEASE}` }, `${what} started; campaigning for the lease`);
  }

  // Configuration reloads: a ConfigMap update swaps a symlink, which fs.watch misses, so
  // poll. A bad new file keeps the last good settings.
  if (configPath) {
    watchFile(configPath, { interval: 2000, persistent: false }, () => {
      void readConfigFile(configPath)
        .then((text) => {
          const r = loadSettings({ file: { path: configPath, text }, env, flags: flagDoc });
          if (!r.ok) {
            log.error({ errors: r.errors }, "configuration reload rejected; keeping the previous settings");
            return;
          }
          settings = r.settings;
          log.level = settings.logLevel;
          log.info({ configPath }, "configuration reloaded");
          audit?.trigger("configuration reloaded");
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
      shuttingDown = true;
      if (configPath) unwatchFile(configPath);
      // Retire the API server's kept-alive connections first (every answer now closes its
      // connection), still listening; stop leader-only work, then the election releases the
      // Lease (no write after it); then close: fastify.close waits for in-flight reviews.
      startDraining(app);
      leaderAbort.abort(new Error(`stopping: ${reason}`));
      await leaderWork;
      if (audit) await audit.stop();
      if (guardian) await guardian.stop();
      if (elector) await elector.stop();
      await retireConnections(app, DRAIN_LINGER_MS);
      await closeWithin(app, DRAIN_DEADLINE_MS, log);
      if (cluster) await cluster.stop();
      await tls.stop();
      await ops.close();
      log.info("stopped");
      resolveStopped();
    })();
    return stopping;
  };
  return { webhookPort, opsPort, caFile: tls.caFile, stopped, stop };
}

/**
 * How long in-flight reviews get to finish on shutdown. The API server waits at most a
 * webhook's timeoutSeconds (default 10 s) for an answer; some of its keep-alive connections
 * were seen to stay open (not idle, no request) until our 75 s keep-alive timeout, which
 * kept the process past kubelet's grace period.
 */
const DRAIN_DEADLINE_MS = 5_000;

/**
 * How long, at most, the webhook keeps listening after SIGTERM while the API server retires
 * its connections (each one after its next review). Without a preStop delay, kube-proxy
 * may still send new connections here for about its sync period (1 s), so they are
 * accepted and answered too. Ends early once no connection is open.
 */
const DRAIN_LINGER_MS = 2_000;

async function retireConnections(app: WebhookApp<HttpsServer>, lingerMs: number): Promise<void> {
  const deadline = Date.now() + lingerMs;
  while (Date.now() < deadline) {
    const open = await new Promise<number>((resolve) => app.server.getConnections((err, n) => resolve(err ? 0 : n)));
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** fastify's close (in-flight reviews finish, idle connections close), then closes what is left. */
async function closeWithin(app: WebhookApp<HttpsServer>, deadlineMs: number, log: { warn: (o: object, m: string) => void }): Promise<void> {
  const timer = setTimeout(() => {
    log.warn({ deadlineMs }, "connections still open after the drain deadline; closing them");
    app.server.closeAllConnections();
  }, deadlineMs);
  timer.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Listens, turning the errors a user can fix (the port is taken, or privileged) into input
 * errors that name the address and the flag, instead of a stack trace.
 */
/** What listen and portOf need of a fastify app: both the webhook's and the ops app. */
interface Listener {
  listen(options: { host: string; port: number }): Promise<string>;
  readonly server: NetServer;
}

async function listen(app: Listener, host: string, port: number, flag: string): Promise<void> {
  try {
    await app.listen({ host, port });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") throw inputError(`port ${port} on ${host} is already in use (${flag})`);
    if (code === "EACCES") throw inputError(`port ${port} on ${host}: permission denied (${flag}; ports below 1024 need privileges)`);
    if (code === "EADDRNOTAVAIL") throw inputError(`cannot listen on ${host}:${port}: no such local address (${flag === "--port" ? "--host" : "ops.host"})`);
    throw err;
  }
}

function portOf(app: Listener): number {
  const address = app.server.address();
  return typeof address === "object" && address ? address.port : 0;
}
