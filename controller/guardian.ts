/**
 * The DNS Service guardian: keeps one DNS Service on its fixed clusterIP (`serve` runs one per
 * Service of settings `dnsServices`, each on its own IP and last good copy). Every replica watches
 * (the webhook reads the nameserver from the same cache); only the Lease holder writes.
 * Deletion is repaired at once from the last good copy; drift is reported or repaired per
 * `guardian.repair`; a conflicting holder of the IP is reported by name and never touched;
 * a Service owned by kube-addon-manager is reported, not written.
 */
import { CoreV1Api, type KubeConfig, type V1Service } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { ADDON_MANAGER_LABEL, PRODUCT } from "../config/names.js";
import type { Settings } from "../config/settings.js";
import { apiFailure } from "../kube/api-errors.js";
import { ipFamily } from "../config/dns-limits.js";
import type { EventRecorder, EventTarget } from "../kube/events.js";
import { CoalescingRunner } from "../kube/coalescing-runner.js";
import type { ResilientInformer } from "../kube/informer.js";
import { findIPHolder, type IPHolder } from "./ip-holder.js";
import { createGuardianMetrics, type GuardianMetrics } from "./metrics.js";
import { reconcileDNSService, type ReconcileAction } from "./reconcile.js";
import type { SnapshotStore, StoredState } from "./snapshot-store.js";

export interface GuardianDeps {
  kubeConfig: KubeConfig;
  settings: () => Settings;
  log: Logger;
  registry: Registry;
  /** The Service this guardian keeps (fixed for its lifetime: which Services is restart-only). */
  service: { namespace: string; name: string };
  /** Its configured fixed IP, read per reconcile (null: learn it from the Service). */
  fixedIP: () => string | null;
  serviceInformer: ResilientInformer<V1Service>;
  store: SnapshotStore;
  events: EventRecorder;
  /** The one leader election of `serve` (kube/leader-election.ts): only its leader writes. */
  leader: { isLeader(): boolean };
}

/** Why a create failed, as the API server words it (pkg/registry/core/service/ipallocator). */
export function classifyCreateFailure(err: unknown): "already-allocated" | "out-of-range" | "exists" | "other" {
  const f = apiFailure(err);
  if (f.code === 409 && f.reason === "AlreadyExists") return "exists";
  if (/already allocated/i.test(f.message)) return "already-allocated";
  if (/not in the valid range|not in the range|outside.*range/i.test(f.message)) return "out-of-range";
  return "other";
}

/**
 * Leader-only: `serve` starts it once the Service informer has synced (an empty cache would
 * read as "deleted") and calls {@link startedLeading}/{@link stoppedLeading} from its leader
 * election.
 */
export class DNSServiceGuardian {
  private readonly core: CoreV1Api;
  private readonly metrics: GuardianMetrics;
  private readonly runner: CoalescingRunner;
  private state: StoredState = { snapshot: undefined, learnedIP: undefined };
  private stateLoaded = false;
  private resyncTimer: NodeJS.Timeout | undefined;
  private deletedAt: number | undefined;
  /** The fixed IP that the API server refused as out of range: don't retry until it changes. */
  private badIP: string | undefined;
  /** Last reported condition, so a 30 s resync does not repeat the same Event. */
  private lastReport = "";
  private stopped = true;

  constructor(private readonly d: GuardianDeps) {
    this.core = d.kubeConfig.makeApiClient(CoreV1Api);
    this.metrics = createGuardianMetrics(d.registry).forService(`${d.service.namespace}/${d.service.name}`);
    this.runner = new CoalescingRunner({
      // The reason that asked first names the round (the e2e tests count periodic resyncs).
      run: (reasons) => this.reconcile(reasons[0] ?? "trigger"),
      onError: (err) => this.d.log.error({ err }, "guardian reconcile failed; retrying on the next event or resync"),
      canRun: () => !this.stopped && this.d.leader.isLeader(),
    });
    d.serviceInformer.on("add", () => {
      // Back (whoever created it): the next deletion starts a new restore clock. Without
      // this, a follower that saw an earlier deletion would, once leader, measure from it.
      this.deletedAt = undefined;
      this.trigger("service added");
    });
    d.serviceInformer.on("update", () => this.trigger("service updated"));
    d.serviceInformer.on("delete", () => {
      this.deletedAt ??= Date.now();
      this.trigger("service deleted");
    });
  }

  private waitingForFirstList = false;

  isLeader(): boolean {
    return this.d.leader.isLeader();
  }

  /** This replica now holds the Lease: read the stored state afresh and reconcile at once. */
  startedLeading(): void {
    this.metrics.leader.set(1);
    this.stateLoaded = false;
    this.lastReport = "";
    this.trigger("became leader");
  }

  stoppedLeading(): void {
    this.metrics.leader.set(0);
  }

  start(): void {
    this.stopped = false;
    this.metrics.leader.set(0);
    const resync = () => {
      this.resyncTimer = setTimeout(() => {
        this.trigger("periodic resync");
        resync();
      }, this.d.settings().guardian.resyncSeconds * 1000);
      this.resyncTimer.unref();
    };
    resync();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.resyncTimer) clearTimeout(this.resyncTimer);
    await this.runner.idle();
    this.metrics.leader.set(0);
  }

  /** Coalesces triggers: one reconcile at a time, and one more if anything came in meanwhile. */
  trigger(why: string): void {
    this.runner.trigger(why);
  }

  private get ref() {
    const { namespace, name } = this.d.service;
    return { namespace, name, text: `${namespace}/${name}` };
  }

  private async reconcile(why: string): Promise<void> {
    const informer = this.d.serviceInformer;
    if (!informer.hasListedOnce()) {
      // An empty cache before the first list reads as "the DNS Service is gone": acting on
      // it would recreate a Service that exists. Reconcile once the list is in.
      if (!this.waitingForFirstList) {
        this.waitingForFirstList = true;
        void informer.waitForSync().then(() => {
          this.waitingForFirstList = false;
          this.trigger("service cache synced");
        });
      }
      this.d.log.debug({ why }, "guardian: the Service cache has not listed yet; waiting");
      return;
    }
    const settings = this.d.settings();
    if (!this.stateLoaded) {
      this.state = await this.d.store.read();
      this.stateLoaded = true;
    }
    const { namespace, name } = this.ref;
    const service = this.d.serviceInformer.cache.get(name, namespace);
    const fixedIP = this.d.fixedIP() ?? this.state.learnedIP ?? null;
    if (this.badIP && this.badIP !== fixedIP) this.badIP = undefined;
    const actions = reconcileDNSService({ ref: { namespace, name }, service, fixedIP, snapshot: this.state.snapshot, repair: settings.guardian.repair });
    this.d.log.debug({ why, actions: actions.map((a) => a.kind) }, "guardian reconcile");
    // The gauges describe the Service, whoever owns it: pods are as broken when an
    // addon-managed kube-dns is on the wrong IP.
    if (service) {
      const observed = service.spec?.clusterIP ?? "";
      const drifted = fixedIP !== null && observed !== fixedIP;
      this.metrics.drift.set(drifted ? 1 : 0);
      if (!drifted) this.metrics.conflict.set(0);
    }
    for (const action of actions) await this.perform(action, service);
  }

  private async perform(action: ReconcileAction, service: V1Service | undefined): Promise<void> {
    const ref = this.ref;
    switch (action.kind) {
      case "in-sync":
        this.lastReport = "";
        return;
      case "learn-ip":
        this.d.log.info({ service: ref.text, clusterIP: action.ip }, "no fixed clusterIP configured: learned it from the DNS Service");
        this.state = { ...this.state, learnedIP: action.ip };
        await this.d.store.write(this.state);
        return;
      case "save-snapshot":
        this.state = { ...this.state, snapshot: action.snapshot };
        await this.d.store.write(this.state);
        this.d.log.info({ service: ref.text, clusterIP: action.snapshot.clusterIP, store: this.d.store.ref }, "saved the last good copy of the DNS Service");
        return;
      case "cannot-repair":
        await this.reportOnce(`cannot:${action.reason}`, this.target(undefined), "Warning", "DNSServiceNotRepairable", `${ref.text}: ${action.reason}`);
        return;
      case "addon-managed":
        await this.reportOnce(
          `addon:${action.observedIP}`,
          this.target(service),
          action.observedIP === action.fixedIP ? "Normal" : "Warning",
          "DNSServiceAddonManaged",
          `${ref.text} carries ${ADDON_MANAGER_LABEL}=Reconcile: kube-addon-manager owns it, ${PRODUCT} only reports (clusterIP ${action.observedIP ?? "none"}, fixed ${action.fixedIP ?? "unknown"})`,
        );
        return;
      case "drift":
        await this.onDrift(action, service);
        return;
      case "create":
        await this.recreate(action.service, "recreate");
        return;
    }
  }

  private async onDrift(action: Extract<ReconcileAction, { kind: "drift" }>, service: V1Service | undefined): Promise<void> {
    const ref = this.ref;
    this.metrics.drift.set(1);
    const key = `drift:${action.observedIP}:${action.action}`;
    if (this.lastReport !== key) this.metrics.driftDetected.inc();
    let holder: IPHolder | undefined;
    if (action.fixedIP !== "unknown") holder = await this.holderOf(action.fixedIP);
    const foreign = holder && !(holder.namespace === ref.namespace && holder.name === ref.name) ? holder : undefined;
    this.metrics.conflict.set(foreign ? 1 : 0);
    const holderText = foreign ? `; ${action.fixedIP} is held by Service ${foreign.namespace}/${foreign.name}` : "";
    if (action.action === "report" || !action.service || foreign) {
      await this.reportOnce(
        key + (foreign ? `:${foreign.namespace}/${foreign.name}` : ""),
        this.target(service),
        "Warning",
        "DNSServiceIPDrift",
        `${ref.text} has clusterIP ${action.observedIP}, expected ${action.fixedIP}${holderText}; pods injected earlier and kubelet's --cluster-dns point at ${action.fixedIP}. ${foreign ? "Not repaired: another Service holds the IP." : "Set guardian.repair: recreate to repair it automatically."}`,
      );
      this.d.log.warn({ service: ref.text, observedIP: action.observedIP, fixedIP: action.fixedIP, holder: foreign ?? null }, "DNS Service clusterIP drift");
      return;
    }
    // repair: recreate. clusterIP is immutable: delete (only this exact object) and create.
    const uid = service?.metadata?.uid;
    this.d.log.warn({ service: ref.text, observedIP: action.observedIP, fixedIP: action.fixedIP }, "DNS Service clusterIP drift: deleting it to recreate it on the fixed IP");
    try {
      await this.core.deleteNamespacedService({ namespace: ref.namespace, name: ref.name, body: uid ? { preconditions: { uid } } : {} });
    } catch (err) {
      const f = apiFailure(err);
      if (f.code !== 404 && f.code !== 409) throw new Error(`delete Service ${ref.text}: ${f.message}`, { cause: err });
    }
    this.deletedAt = Date.now();
    await this.recreate(action.service, "drift-recreate", action.observedIP);
  }

  /** Creates the Service on its fixed IP, retrying while the allocator releases the IP. */
  private async recreate(body: V1Service, kind: "recreate" | "drift-recreate", previousIP?: string): Promise<void> {
    const ref = this.ref;
    const ip = body.spec?.clusterIP ?? "";
    if (this.badIP === ip) return;
    const started = this.deletedAt ?? Date.now();
    body = await this.withoutTakenSecondary(body, ip);
    let delayMs = 10;
    const deadline = Date.now() + 30_000;
    for (let attempt = 1; ; attempt++) {
      if (this.stopped || !this.d.leader.isLeader()) return;
      try {
        const created = await this.core.createNamespacedService({ namespace: ref.namespace, body });
        const seconds = (Date.now() - started) / 1000;
        this.deletedAt = undefined;
        this.metrics.repairs.inc({ kind });
        this.metrics.restoreLatency.observe(seconds);
        this.metrics.conflict.set(0);
        this.metrics.drift.set(0);
        this.lastReport = "";
        this.d.log.info({ service: ref.text, clusterIP: ip, previousIP: previousIP ?? null, attempts: attempt, seconds }, "DNS Service recreated on its fixed clusterIP");
        await this.d.events.record(
          this.target(created),
          "Normal",
          "DNSServiceRestored",
          `${PRODUCT} recreated ${ref.text} on ${ip}${previousIP ? ` (it had ${previousIP})` : ""} after ${seconds.toFixed(3)} s`,
        );
        return;
      } catch (err) {
        const why = classifyCreateFailure(err);
        if (why === "exists") {
          this.deletedAt = undefined;
          return; // someone (or kube-addon-manager) put it back first; the next event reconciles it
        }
        if (why === "out-of-range") {
          this.badIP = ip;
          this.metrics.configError.set(1);
          const message = `cannot recreate ${ref.text} on ${ip}: ${apiFailure(err).message} (a configuration error: dnsService.clusterIP must be inside the API server's --service-cluster-ip-range)`;
          this.d.log.error({ service: ref.text, clusterIP: ip }, message);
          await this.d.events.record(this.target(undefined), "Warning", "DNSServiceIPOutOfRange", message);
          return;
        }
        if (why === "already-allocated") {
          // The allocator may lag behind the delete for a moment; after a few tries, look for
          // a real holder and report it by name instead of spinning.
          if (attempt === 5 || Date.now() > deadline) {
            const holder = await this.holderOf(ip);
            if (holder && !(holder.namespace === ref.namespace && holder.name === ref.name)) {
              this.metrics.conflict.set(1);
              const message = `cannot recreate ${ref.text} on ${ip}: the IP is held by Service ${holder.namespace}/${holder.name} (found via ${holder.via}); not touching it`;
              this.d.log.error({ service: ref.text, clusterIP: ip, holder }, message);
              await this.reportOnce(`conflict:${holder.namespace}/${holder.name}`, this.target(undefined), "Warning", "DNSServiceIPConflict", message);
              return;
            }
          }
          if (Date.now() > deadline) throw new Error(`create Service ${ref.text} on ${ip}: still allocated after 30 s`, { cause: err });
          await new Promise((r) => setTimeout(r, delayMs));
          delayMs = Math.min(delayMs * 2, 1000);
          continue;
        }
        throw new Error(`create Service ${ref.text}: ${apiFailure(err).message}`, { cause: err });
      }
    }
  }

  /**
   * A dual-stack copy whose second family's IP another Service took meanwhile must not keep
   * the DNS Service down: it is recreated on the fixed IP alone and the API server picks a
   * new second IP (pods injected with the old one lose only that fallback), with a Warning.
   * Checked before creating: a create naming a held IP fails, and on kube-apiserver 1.37 the
   * next create on the fixed IP alone then failed as "already allocated" too (still so after
   * the guardian's 20 s of retries in the e2e run that found it), so trying would cost it.
   */
  private async withoutTakenSecondary(body: V1Service, ip: string): Promise<V1Service> {
    const ref = this.ref;
    for (const other of (body.spec?.clusterIPs ?? []).slice(1)) {
      const holder = await this.holderOf(other);
      if (!holder || (holder.namespace === ref.namespace && holder.name === ref.name)) continue;
      this.metrics.conflict.set(1);
      const message = `recreating ${ref.text} on ${ip} with a new ${ipFamily(other)} address: its previous ${other} is held by Service ${holder.namespace}/${holder.name} (found via ${holder.via})`;
      this.d.log.warn({ service: ref.text, clusterIP: ip, secondary: other, holder }, message);
      await this.reportOnce(`conflict:${holder.namespace}/${holder.name}`, this.target(undefined), "Warning", "DNSServiceIPConflict", message);
      return { ...body, spec: { ...body.spec, clusterIPs: [ip] } };
    }
    return body;
  }

  /**
   * The Service holding `ip`, if another one does. A failed lookup (RBAC, the API server) only
   * costs the holder's name in a message, so the guardian goes on without it, but says so.
   */
  private async holderOf(ip: string): Promise<IPHolder | undefined> {
    try {
      return await findIPHolder(this.d.kubeConfig, ip);
    } catch (err) {
      this.d.log.warn({ service: this.ref.text, clusterIP: ip, error: apiFailure(err).message }, `could not look up which Service holds ${ip}; going on without its name`);
      return undefined;
    }
  }

  private target(service: V1Service | undefined): EventTarget {
    const { namespace, name } = this.ref;
    return { kind: "Service", apiVersion: "v1", namespace, name, uid: service?.metadata?.uid };
  }

  private async reportOnce(key: string, target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void> {
    if (this.lastReport === key) return;
    this.lastReport = key;
    this.d.log[type === "Warning" ? "warn" : "info"]({ reason, service: this.ref.text }, message);
    await this.d.events.record(target, type, reason, message);
  }
}
