/**
 * The parts `serve` runs in cluster mode only: the informers, and the leader-only work (the
 * DNS Service guardians, the background audit, the admission policy keeper) with the one
 * leader election over them. cli/serve.ts imports this module only when a cluster is
 * configured: it is what brings @kubernetes/client-node into the process.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { startBackgroundAudit, type BackgroundAudit } from "../audit/background.js";
import { GUARDIAN_LEASE } from "../config/names.js";
import { serviceRefText, type Settings } from "../config/settings.js";
import { uniqueIPs } from "../config/nameserver-tokens.js";
import { startAdmissionPolicyKeeper, type AdmissionPolicyKeeper } from "../controller/admission-policy-keeper.js";
import { DNSServiceGuardian } from "../controller/guardian.js";
import { SnapshotStore, snapshotConfigMapName } from "../controller/snapshot-store.js";
import { kubeEventRecorder } from "../kube/events.js";
import { LeaderElector } from "../kube/leader-election.js";
import type { Campaign, LeaderCallbacks, Runnable } from "../kube/runnable.js";
import { renderAdmissionPolicies } from "../policy/render.js";
import type { ClusterFacts } from "../webhook/cluster-facts.js";

export { clusterFacts } from "../webhook/cluster-facts.js";
export { defaultIdentity } from "../kube/leader-election.js";

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
        guardians = d.cluster.dnsServices.map((watch) => {
          const service = watch.ref;
          const g = new DNSServiceGuardian({
            kubeConfig: d.kubeConfig,
            settings: d.settings,
            log: d.log.child({ component: "guardian", service: serviceRefText(service) }),
            registry: d.registry,
            service,
            fixedIP: () => watch.fixedIP(),
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

/** The live IPs of the DNS Services after the first (a migration's old ones), for the policy keeper. */
function fallbackDNSServiceIPs(cluster: ClusterFacts): string[] | undefined {
  return cluster.dnsServices.length < 2 ? undefined : uniqueIPs(cluster.dnsServices.slice(1).map((w) => w.ips()));
}
