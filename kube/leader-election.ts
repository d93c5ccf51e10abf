/**
 * Leader election on a coordination.k8s.io/v1 Lease, as client-go's leaderelection does:
 * every replica serves the webhook, only the holder of the Lease repairs. Expiry is judged
 * by the follower's own clock from when it last saw the record change, never by comparing
 * clocks across machines. The decision is pure; `LeaderElector` runs it.
 */
import { randomBytes } from "node:crypto";
import { hostname } from "node:os";
import { CoordinationV1Api, type KubeConfig, type V1Lease } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { apiFailure, isConflict, isNotFound } from "./api-errors.js";
import { microTime } from "./micro-time.js";

export interface LeaseRecord {
  holder: string;
  durationSeconds: number;
  /** Changes on every renewal; a follower restarts its expiry clock when it changes. */
  renewTime: string;
  transitions: number;
}

export interface Observation {
  record: LeaseRecord | undefined;
  /** Local monotonic-ish time (ms) when `record` was first seen in this form. */
  observedAt: number;
}

export type LeaseStep = { kind: "create" } | { kind: "renew" } | { kind: "acquire" } | { kind: "follow"; holder: string; expiresInMs: number };

/** What this candidate should do with the Lease it just read. */
export function decideLeaseStep(me: string, seen: Observation, nowMs: number): LeaseStep {
  const r = seen.record;
  if (!r) return { kind: "create" };
  if (r.holder === me) return { kind: "renew" };
  if (r.holder === "") return { kind: "acquire" };
  const expiresInMs = seen.observedAt + r.durationSeconds * 1000 - nowMs;
  return expiresInMs <= 0 ? { kind: "acquire" } : { kind: "follow", holder: r.holder, expiresInMs };
}

export function leaseRecord(lease: V1Lease | undefined): LeaseRecord | undefined {
  if (!lease?.spec) return undefined;
  const renew = lease.spec.renewTime as unknown;
  return {
    holder: lease.spec.holderIdentity ?? "",
    durationSeconds: lease.spec.leaseDurationSeconds ?? 15,
    renewTime: renew instanceof Date ? renew.toISOString() : typeof renew === "string" ? renew : "",
    transitions: lease.spec.leaseTransitions ?? 0,
  };
}

export function defaultIdentity(env: NodeJS.ProcessEnv): string {
  return `${env.POD_NAME || hostname()}_${randomBytes(4).toString("hex")}`;
}

export interface LeaderElectorOptions {
  kubeConfig: KubeConfig;
  namespace: string;
  name: string;
  identity: string;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
  log: Logger;
  onStartedLeading: () => void;
  onStoppedLeading: () => void;
}

export class LeaderElector {
  private readonly api: CoordinationV1Api;
  private observation: Observation = { record: undefined, observedAt: 0 };
  private leading = false;
  private lastRenewOk = 0;
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private running: Promise<void> | undefined;

  constructor(private readonly o: LeaderElectorOptions) {
    this.api = o.kubeConfig.makeApiClient(CoordinationV1Api);
  }

  isLeader(): boolean {
    return this.leading;
  }

  start(): void {
    this.stopped = false;
    this.schedule(0);
  }

  /** Stops campaigning; a leader releases the Lease so a follower takes over at once. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.running;
    if (this.leading) {
      this.setLeading(false);
      await this.release();
    }
  }

  private schedule(ms: number): void {
    if (this.stopped) return;
    this.timer = setTimeout(() => {
      this.running = this.tick().finally(() => this.schedule(this.o.retryPeriodSeconds * 1000));
    }, ms);
    this.timer.unref();
  }

  private async tick(): Promise<void> {
    const { namespace, name, identity } = this.o;
    try {
      let lease: V1Lease | undefined;
      try {
        lease = await this.api.readNamespacedLease({ namespace, name });
      } catch (err) {
        if (!isNotFound(err)) throw err;
      }
      const record = leaseRecord(lease);
      const now = Date.now();
      if (JSON.stringify(record) !== JSON.stringify(this.observation.record)) this.observation = { record, observedAt: now };
      const step = decideLeaseStep(identity, this.observation, now);
      if (step.kind === "follow") {
        if (this.leading) this.setLeading(false);
        return;
      }
      const spec = {
        holderIdentity: identity,
        leaseDurationSeconds: this.o.leaseDurationSeconds,
        renewTime: microTime(new Date()),
        acquireTime: step.kind === "renew" ? (lease?.spec?.acquireTime ?? microTime(new Date())) : microTime(new Date()),
        leaseTransitions: (record?.transitions ?? 0) + (step.kind === "acquire" ? 1 : 0),
      };
      if (step.kind === "create") {
        await this.api.createNamespacedLease({ namespace, body: { apiVersion: "coordination.k8s.io/v1", kind: "Lease", metadata: { name, namespace }, spec } });
      } else {
        // resourceVersion makes this a compare-and-swap: two candidates cannot both win.
        await this.api.replaceNamespacedLease({ namespace, name, body: { ...lease, spec } });
      }
      this.lastRenewOk = Date.now();
      if (!this.leading) this.setLeading(true);
    } catch (err) {
      const f = apiFailure(err);
      if (isConflict(err) || f.code === 409) {
        this.o.log.debug({ lease: `${namespace}/${name}` }, "lost the race for the lease");
      } else {
        this.o.log.warn({ lease: `${namespace}/${name}`, code: f.code, error: f.message }, "leader election: lease update failed");
      }
      // A leader that cannot renew within renewDeadline must stop acting before another
      // replica may take over (leaseDuration > renewDeadline), so two never write at once.
      if (this.leading && Date.now() - this.lastRenewOk > this.o.renewDeadlineSeconds * 1000) this.setLeading(false);
    }
  }

  private setLeading(leading: boolean): void {
    this.leading = leading;
    this.o.log.info({ lease: `${this.o.namespace}/${this.o.name}`, identity: this.o.identity }, leading ? "became the leader" : "stopped leading");
    if (leading) this.o.onStartedLeading();
    else this.o.onStoppedLeading();
  }

  private async release(): Promise<void> {
    const { namespace, name } = this.o;
    try {
      const lease = await this.api.readNamespacedLease({ namespace, name });
      if (lease.spec?.holderIdentity !== this.o.identity) return;
      await this.api.replaceNamespacedLease({ namespace, name, body: { ...lease, spec: { ...lease.spec, holderIdentity: "", leaseDurationSeconds: 1 } } });
      this.o.log.info({ lease: `${namespace}/${name}` }, "released the lease");
    } catch (err) {
      this.o.log.warn({ error: apiFailure(err).message }, "could not release the lease; a follower takes over when it expires");
    }
  }
}
