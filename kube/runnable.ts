/**
 * The lifecycle of `serve`, as controller-runtime's manager runs it: each long-running part
 * is a {@link Runnable}; the {@link RunnableManager} starts them in the order given (serve:
 * TLS → ops port → informers → HTTPS listening), then, once every cache has synced, the leader-only
 * parts and the one leader election that tells them when they lead. It stops them in reverse
 * under one drain deadline: first it tells every part to start draining, then stops the
 * leader-only parts, then the election (which releases the Lease), then the rest. Leader-only
 * work never reads a cache that has not synced.
 *
 * Unlike controller-runtime, losing the Lease does not end the process: every replica serves
 * the webhook, so a leader-only part is told it stopped leading and waits for the next term.
 */
import type { Logger } from "pino";

/** A leader-only part's side of the Lease: called on every change of leadership. */
export interface LeaderCallbacks {
  startedLeading(): void;
  stoppedLeading(): void;
}

export interface Runnable {
  /** For logs and /readyz. */
  readonly name: string;
  /**
   * Resolves once the part is running (e.g. listening). `signal` aborts when the manager
   * stops before the start finished. A rejection stops every part started before it.
   */
  start(signal: AbortSignal): Promise<void>;
  /** Stops by `deadline` (epoch ms), the one drain deadline every part shares. */
  stop(deadline: number): Promise<void>;
  /**
   * Called on every started part the moment stop() begins, before any part stops: e.g. the
   * webhook starts retiring its kept-alive connections while leader-only work winds down.
   */
  readonly drain?: (() => void) | undefined;
  /**
   * Set for leader-only work: started after every other part's caches synced, and told
   * when this replica gains or loses the Lease.
   */
  readonly leaderOnly?: LeaderCallbacks | undefined;
  /** null when ready, else why not (for /readyz). */
  readonly ready?: (() => string | null) | undefined;
  /** Resolves once the part's caches have synced; rejects only when `signal` aborts. */
  readonly synced?: ((signal: AbortSignal) => Promise<void>) | undefined;
}

/** The leader election the manager starts after the leader-only parts and stops before them. */
export interface Campaign {
  start(): void;
  /** Stops campaigning; a leader tells its parts it stopped leading and releases the Lease. */
  stop(): Promise<void>;
}

export interface RunnableManagerOptions {
  runnables: Runnable[];
  log: Pick<Logger, "warn" | "error" | "debug">;
  /** The one drain deadline, from the start of stop(). */
  drainMs: number;
  /**
   * Builds the leader election, given the callbacks that fan out to the leader-only parts.
   * Without it (or without leader-only parts) this replica leads alone as soon as they start.
   */
  leaderElection?: ((leadership: LeaderCallbacks) => Campaign) | undefined;
  /** How long past the deadline a stop may take before the manager moves on. Default 1 s. */
  stopGraceMs?: number | undefined;
}

/** How long past the drain deadline a stop may take before the manager moves on without it. */
const DEFAULT_STOP_GRACE_MS = 1_000;

/** Runs a list of {@link Runnable}s: see the module comment for the order and the stop sequence. */
export class RunnableManager {
  private readonly abort = new AbortController();
  private readonly started: Runnable[] = [];
  private readonly leading = new Set<Runnable>();
  private isLeading = false;
  private campaign: Campaign | undefined;
  private leaderPhase: Promise<void> = Promise.resolve();
  private stopping: Promise<void> | undefined;

  constructor(private readonly o: RunnableManagerOptions) {}

  /** True from the moment stop() is called (for the "shutdown" readiness check). */
  get stopRequested(): boolean {
    return this.stopping !== undefined;
  }

  /**
   * Starts every part that is not leader-only, in order, and resolves when they run; then,
   * in the background, waits for their caches and starts the leader-only work
   * ({@link leaderWorkStarted}). A part that fails to start stops those started before it,
   * in reverse, and the error is thrown.
   */
  async start(): Promise<void> {
    const signal = this.abort.signal;
    for (const r of this.o.runnables.filter((r) => !r.leaderOnly)) {
      try {
        if (signal.aborted) throw new Error(`start ${r.name}: stopped while starting`);
        await r.start(signal);
      } catch (err) {
        await this.stop(`${r.name} failed to start`);
        throw err;
      }
      this.started.push(r);
    }
    this.leaderPhase = this.startLeaderWork(signal);
  }

  /** Resolves when the leader-only parts and the election have started (or were abandoned). */
  leaderWorkStarted(): Promise<void> {
    return this.leaderPhase;
  }

  /** Stops everything started, in reverse, under one drain deadline. Idempotent. */
  stop(reason: string): Promise<void> {
    this.stopping ??= this.stopAll(reason);
    return this.stopping;
  }

  /** The readiness of the parts that report one, in start order. */
  readiness(): { name: string; check: () => string | null }[] {
    return this.o.runnables.flatMap((r) => (r.ready ? [{ name: r.name, check: r.ready }] : []));
  }

  private async startLeaderWork(signal: AbortSignal): Promise<void> {
    const parts = this.o.runnables.filter((r) => r.leaderOnly);
    if (parts.length === 0) return;
    try {
      await Promise.all(this.started.map((r) => r.synced?.(signal) ?? Promise.resolve()));
    } catch (err) {
      if (!signal.aborted) this.o.log.error({ err }, "waiting for the caches failed; leader-only work not started");
      return;
    }
    for (const r of parts) {
      if (signal.aborted) return;
      try {
        await r.start(signal);
        this.started.push(r);
      } catch (err) {
        this.o.log.error({ err, runnable: r.name }, `${r.name} failed to start; the webhook keeps serving without it`);
      }
    }
    if (signal.aborted) return;
    const leadership: LeaderCallbacks = {
      startedLeading: () => this.setLeading(true),
      stoppedLeading: () => this.setLeading(false),
    };
    if (this.o.leaderElection) {
      this.campaign = this.o.leaderElection(leadership);
      this.campaign.start();
    } else {
      leadership.startedLeading();
    }
  }

  private setLeading(leading: boolean): void {
    this.isLeading = leading;
    for (const r of this.started) {
      if (!r.leaderOnly) continue;
      if (leading && !this.leading.has(r)) {
        this.leading.add(r);
        r.leaderOnly.startedLeading();
      } else if (!leading && this.leading.delete(r)) {
        r.leaderOnly.stoppedLeading();
      }
    }
  }

  private async stopAll(reason: string): Promise<void> {
    const deadline = Date.now() + this.o.drainMs;
    for (const r of [...this.started].reverse()) r.drain?.();
    this.abort.abort(new Error(`stopping: ${reason}`));
    await this.leaderPhase;
    // Leader-only work first, so no write happens after the Lease is released; then the
    // election (which releases it); then the rest, in reverse start order.
    const leaders = this.started.filter((r) => r.leaderOnly).reverse();
    const others = this.started.filter((r) => !r.leaderOnly).reverse();
    for (const r of leaders) {
      await this.stopOne(r.name, () => r.stop(deadline), deadline);
      this.leading.delete(r);
      this.started.splice(this.started.indexOf(r), 1);
    }
    const campaign = this.campaign;
    if (campaign) await this.stopOne("leader election", () => campaign.stop(), deadline);
    else if (this.isLeading) this.setLeading(false);
    for (const r of others) await this.stopOne(r.name, () => r.stop(deadline), deadline);
    this.started.length = 0;
  }

  /** Waits for one stop until shortly past the deadline; a failure or overrun is logged, never thrown. */
  private async stopOne(name: string, stop: () => Promise<void>, deadline: number): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    const overrun = new Promise<"overrun">((resolve) => {
      timer = setTimeout(() => resolve("overrun"), Math.max(0, deadline - Date.now()) + (this.o.stopGraceMs ?? DEFAULT_STOP_GRACE_MS));
      timer.unref();
    });
    try {
      const outcome = await Promise.race([stop().then(() => "stopped" as const), overrun]);
      if (outcome === "overrun") this.o.log.warn({ runnable: name, deadline: new Date(deadline).toISOString() }, `${name} did not stop by the drain deadline; going on without it`);
    } catch (err) {
      this.o.log.error({ err, runnable: name }, `stopping ${name} failed`);
    } finally {
      clearTimeout(timer);
    }
  }
}
