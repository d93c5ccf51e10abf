/**
 * The parts `serve` runs, each a {@link Runnable} for kube/runnable.ts's manager: the TLS
 * source, the ops port, the informers, the HTTPS webhook, and the leader-only work (the DNS
 * Service guardian and the background audit) with the one leader election over both.
 *
 * The list order is the start order, and stop runs it in reverse after every part was told
 * to drain: the webhook retires its connections at once, the leader-only work stops and the
 * election releases the Lease, then the webhook closes within the drain deadline, and only
 * then the informers stop (in-flight reviews still read the namespace cache), then the ops
 * port and TLS.
 */
import type { Server as HttpsServer } from "node:https";
import type { Server as NetServer } from "node:net";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { startBackgroundAudit, type BackgroundAudit } from "../audit/background.js";
import { GUARDIAN_LEASE } from "../config/names.js";
import { dnsServiceRefs, serviceRefText, type Settings } from "../config/settings.js";
import { startAdmissionPolicyKeeper, type AdmissionPolicyKeeper } from "../controller/admission-policy-keeper.js";
import { DNSServiceGuardian } from "../controller/guardian.js";
import { renderAdmissionPolicies } from "../policy/render.js";
import { SnapshotStore, snapshotConfigMapName } from "../controller/snapshot-store.js";
import { kubeEventRecorder } from "../kube/events.js";
import { LeaderElector } from "../kube/leader-election.js";
import type { Campaign, LeaderCallbacks, Runnable } from "../kube/runnable.js";
import { startDraining, type WebhookApp } from "../webhook/app.js";
import type { ClusterFacts } from "../webhook/cluster-facts.js";
import type { OpsApp } from "../webhook/ops-app.js";
import { inputError } from "./errors.js";
import { startTLS, type TLSDeps, type TLSSource } from "./serve-tls.js";

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

/** The one deadline of a stop, from SIGTERM: the linger, then the time reviews get to finish. */
export const STOP_DEADLINE_MS = DRAIN_LINGER_MS + DRAIN_DEADLINE_MS;

/** The TLS source (certs/ through serve-tls.ts): the first part, since the webhook needs its certificate. */
export function tlsPart(deps: TLSDeps): Runnable & { readonly source: TLSSource } {
  let source: TLSSource | undefined;
  return {
    name: "tls",
    get source(): TLSSource {
      if (!source) throw new Error("serve: the TLS source is used before it started");
      return source;
    },
    start: async () => {
      source = await startTLS(deps);
    },
    ready: () => (source ? source.readiness() : "TLS not started"),
    stop: async () => source?.stop(),
  };
}

/** The plain-HTTP ops port (/healthz, /readyz, /metrics): probes answer before the webhook is ready. */
export function opsPart(app: OpsApp, host: string, port: number): Runnable & { readonly port: number } {
  return {
    name: "ops",
    get port() {
      return portOf(app);
    },
    start: () => listen(app, host, port, "--ops-port"),
    stop: () => app.close(),
  };
}

/**
 * The namespace and DNS Service informers. The webhook reads their cache, so they start
 * before it and stop after it; their start does not wait for the first list (the webhook
 * answers meanwhile: a cache miss reads the namespace live). Leader-only work waits for
 * `synced`, so the guardian never reads an empty cache as "deleted".
 */
export function informersPart(cluster: ClusterFacts, log: Logger): Runnable {
  let started: Promise<void> = Promise.resolve();
  return {
    name: "informers",
    start: async () => {
      started = cluster.start().then(
        () => log.info({ synced: cluster.readiness() === null }, "informers started"),
        (err: unknown) => log.error({ err }, "informers failed to start"),
      );
    },
    synced: async (signal) => {
      await Promise.all([cluster.namespaceInformer.waitForSync(signal), ...cluster.dnsServices.map((w) => w.informer.waitForSync(signal))]);
    },
    ready: () => cluster.readiness(),
    stop: async () => {
      await started;
      await cluster.stop();
    },
  };
}

export interface WebhookPartOptions {
  /** The TLS source, once started: its first certificate builds the app, later ones reach it. */
  tls: () => TLSSource;
  /** Builds the app from the first certificate. */
  build: (tls: TLSSource) => WebhookApp<HttpsServer>;
  host: string;
  port: number;
  path: string;
  log: Logger;
  /** For the "webhook listening" line. */
  opsPort: () => number;
}

/**
 * The HTTPS admission webhook. Draining makes every answer retire its connection; stopping
 * keeps listening until the API server has retired them (at most DRAIN_LINGER_MS), then
 * closes: in-flight reviews finish, and whatever is still open at the deadline is closed.
 */
export function webhookPart(o: WebhookPartOptions): Runnable & { readonly port: number } {
  let app: WebhookApp<HttpsServer> | undefined;
  return {
    name: "webhook",
    get port() {
      return app ? portOf(app) : 0;
    },
    start: async () => {
      const tls = o.tls();
      const built = o.build(tls);
      try {
        await listen(built, o.host, o.port, "--port");
      } catch (err) {
        await built.close(); // its parser worker, which nothing else would end
        throw err;
      }
      app = built;
      tls.attach(built.server);
      const webhookPort = portOf(built);
      o.log.info({ webhookPort, opsPort: o.opsPort(), path: o.path, caFile: tls.caFile ?? null }, `webhook listening on https://${o.host}:${webhookPort}${o.path}`);
    },
    ready: () => (app?.server.listening ? null : "HTTPS server not listening"),
    drain: () => {
      if (app) startDraining(app);
    },
    stop: async (deadline) => {
      if (!app) return;
      await retireConnections(app, Math.min(deadline, Date.now() + DRAIN_LINGER_MS));
      await closeBy(app, deadline, o.log);
    },
  };
}

export interface LeaderWorkDeps {
  kubeConfig: KubeConfig;
  cluster: ClusterFacts;
  settings: () => Settings;
  log: Logger;
  registry: Registry;
  /** This replica's name in the Lease and in Events. */
  identity: string;
}

export interface LeaderWork {
  /** The leader-only parts: the guardian and/or the background audit, as enabled. */
  runnables: Runnable[];
  /** The one election over both (the manager starts it once they run). */
  election: (leadership: LeaderCallbacks) => Campaign;
  /** Asks the background audit for a run (ignored when it is disabled or not running). */
  audit: { trigger(reason: string): void };
  /** Tells the admission policy keeper the settings changed (ignored in webhook mode). */
  policies: { settingsChanged(): void };
}

/**
 * The leader-only work, or undefined when neither the guardian nor the audit is enabled and
 * the admission mode is webhook.
 * One Lease decides for both: every replica campaigns, one leads. With the guardian
 * disabled the audit still takes the Lease, so only one replica audits.
 */
export function leaderWork(d: LeaderWorkDeps): LeaderWork | undefined {
  const { guardian: guardianSettings, audit: auditSettings, injectorNamespace, admission } = d.settings();
  const policyMode = admission.mode !== "webhook";
  if (!guardianSettings.enabled && !auditSettings.enabled && !policyMode) return undefined;
  let elector: LeaderElector | undefined;
  const leader = { isLeader: () => elector?.isLeader() ?? false };
  let audit: BackgroundAudit | undefined;
  const runnables: Runnable[] = [];

  if (guardianSettings.enabled) {
    // One guardian per DNS Service (several during a Service-CIDR migration), each on its
    // own fixed IP and last good copy, all under the one Lease.
    let guardians: DNSServiceGuardian[] = [];
    runnables.push({
      name: "guardian",
      start: async () => {
        const events = kubeEventRecorder(d.kubeConfig, d.log, d.identity);
        guardians = d.cluster.dnsServices.map((watch, index) => {
          const service = watch.ref;
          const g = new DNSServiceGuardian({
            kubeConfig: d.kubeConfig,
            settings: d.settings,
            log: d.log.child({ component: "guardian", service: serviceRefText(service) }),
            registry: d.registry,
            service,
            fixedIP: () => dnsServiceRefs(d.settings())[index]?.clusterIP ?? null,
            serviceInformer: watch.informer,
            store: new SnapshotStore(d.kubeConfig, injectorNamespace, snapshotConfigMapName(service, d.settings().dnsService)),
            events,
            leader,
          });
          g.start();
          return g;
        });
      },
      leaderOnly: { startedLeading: () => guardians.forEach((g) => g.startedLeading()), stoppedLeading: () => guardians.forEach((g) => g.stoppedLeading()) },
      stop: async () => {
        await Promise.all(guardians.map((g) => g.stop()));
      },
    });
  }
  if (auditSettings.enabled) {
    runnables.push({
      name: "audit",
      start: async () => {
        const a = startBackgroundAudit({
          kubeConfig: d.kubeConfig,
          settings: d.settings,
          log: d.log.child({ component: "audit" }),
          registry: d.registry,
          isLeader: leader.isLeader,
          dnsServiceIPs: () => ({ ips: d.cluster.dnsServiceIPs(), newIPs: d.cluster.dnsServices.length > 1 ? d.cluster.dnsServices[0]!.ips() : undefined }),
          intervalSeconds: auditSettings.intervalSeconds,
        });
        audit = a;
        // What changes a pod's verdict: its namespace's labels or annotations, the DNS IP.
        d.cluster.namespaceInformer.on("update", () => a.trigger("namespace changed"));
        d.cluster.namespaceInformer.on("add", () => a.trigger("namespace added"));
        d.cluster.onDNSServiceIPChange(() => a.trigger("DNS Service IP changed"));
      },
      leaderOnly: { startedLeading: () => audit?.startedLeading(), stoppedLeading: () => audit?.stoppedLeading() },
      stop: async () => audit?.stop(),
    });
  }

  let keeper: AdmissionPolicyKeeper | undefined;
  if (policyMode) {
    // admission.mode policy|both: the leader keeps the rendered in-tree admission objects applied.
    runnables.push({
      name: "admission-policies",
      start: async () => {
        keeper = startAdmissionPolicyKeeper({
          kubeConfig: d.kubeConfig,
          render: () => renderAdmissionPolicies(d.settings(), { validation: d.settings().admission.validation, fallbackDNSServiceIPs: fallbackDNSServiceIPs(d.cluster) }),
          log: d.log.child({ component: "admission-policy" }),
          registry: d.registry,
          resyncSeconds: guardianSettings.resyncSeconds,
        });
        // The old Services' IPs are rendered in: a change is a new policy to apply.
        if (d.cluster.dnsServices.length > 1) d.cluster.onDNSServiceIPChange(() => keeper?.settingsChanged());
      },
      leaderOnly: { startedLeading: () => keeper?.startedLeading(), stoppedLeading: () => keeper?.stoppedLeading() },
      stop: async () => keeper?.stop(),
    });
  }

  const election = (leadership: LeaderCallbacks): Campaign => {
    const lease = guardianSettings;
    const e = new LeaderElector({
      kubeConfig: d.kubeConfig,
      namespace: injectorNamespace,
      name: GUARDIAN_LEASE,
      identity: d.identity,
      leaseDurationSeconds: lease.leaseDurationSeconds,
      renewDeadlineSeconds: lease.renewDeadlineSeconds,
      retryPeriodSeconds: lease.retryPeriodSeconds,
      log: d.log.child({ component: "leader-election" }),
      onStartedLeading: () => leadership.startedLeading(),
      onStoppedLeading: () => leadership.stoppedLeading(),
    });
    elector = e;
    return {
      start: () => {
        e.start();
        // One stable message (tests and log queries match it); the leader-only parts are a field.
        const leaderWork = runnables.map((r) => r.name);
        d.log.info({ identity: d.identity, lease: `${injectorNamespace}/${GUARDIAN_LEASE}`, leaderWork }, "leader election started; campaigning for the lease");
      },
      stop: () => e.stop(),
    };
  };
  return { runnables, election, audit: { trigger: (reason) => audit?.trigger(reason) }, policies: { settingsChanged: () => keeper?.settingsChanged() } };
}

async function retireConnections(app: WebhookApp<HttpsServer>, until: number): Promise<void> {
  while (Date.now() < until) {
    const open = await new Promise<number>((resolve) => app.server.getConnections((err, n) => resolve(err ? 0 : n)));
    if (open === 0) return;
    await new Promise((r) => setTimeout(r, 100));
  }
}

/** fastify's close (in-flight reviews finish, idle connections close), then, at `deadline`, closes what is left. */
async function closeBy(app: WebhookApp<HttpsServer>, deadline: number, log: Logger): Promise<void> {
  const timer = setTimeout(
    () => {
      log.warn({ deadline: new Date(deadline).toISOString() }, "connections still open after the drain deadline; closing them");
      app.server.closeAllConnections();
    },
    Math.max(0, deadline - Date.now()),
  );
  timer.unref();
  try {
    await app.close();
  } finally {
    clearTimeout(timer);
  }
}

/** What listen and portOf need of a fastify app: both the webhook's and the ops app. */
interface Listener {
  listen(options: { host: string; port: number }): Promise<string>;
  readonly server: NetServer;
}

/**
 * Listens, turning the errors a user can fix (the port is taken, or privileged) into input
 * errors that name the address and the flag, instead of a stack trace.
 */
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

/** The live IPs of the DNS Services after the first (a migration's old ones), for the policy keeper. */
function fallbackDNSServiceIPs(cluster: ClusterFacts): string[] | undefined {
  if (cluster.dnsServices.length < 2) return undefined;
  const ips: string[] = [];
  for (const w of cluster.dnsServices.slice(1)) for (const ip of w.ips()) if (!ips.includes(ip)) ips.push(ip);
  return ips;
}
