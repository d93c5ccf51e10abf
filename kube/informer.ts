/**
 * An informer that does not silently die. client-node's ListWatch stops for good on any
 * error other than 410 Gone (e.g. the API server restarting, a 500, a dropped connection
 * during list): this wrapper restarts it with capped exponential backoff and exposes
 * whether the cache has completed a list since the last (re)start, for /readyz.
 */
import { KubeConfig, ListWatch, Watch, type KubernetesListObject, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";

export interface ResilientInformerOptions<T extends KubernetesObject> {
  kubeConfig: KubeConfig;
  /** Watch path, e.g. /api/v1/namespaces. */
  path: string;
  list: () => Promise<KubernetesListObject<T>>;
  fieldSelector?: string;
  log: Logger;
  /** For logs and readiness messages. */
  name: string;
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  /** Server-side watch timeout (jittered up to 2x). Default 300. */
  watchTimeoutSeconds?: number;
}

/**
 * Watches that ask for bookmarks (so a quiet watch still advances its resourceVersion and
 * a restart does not need a relist) and a server-side timeout (the API server ends the
 * watch cleanly and ListWatch resumes from the last resourceVersion). client-node's Watch
 * also aborts a watch that has been silent for 30 s; ListWatch then resumes it at once.
 */
export class BookmarkWatch extends Watch {
  constructor(
    config: KubeConfig,
    private readonly timeoutSeconds: number,
  ) {
    super(config);
  }

  override watch(...args: Parameters<Watch["watch"]>): ReturnType<Watch["watch"]> {
    const [path, params, callback, done] = args;
    // Jitter spreads the reconnects of many replicas (client-go does the same).
    const timeout = Math.round(this.timeoutSeconds * (1 + Math.random()));
    return super.watch(path, { ...params, allowWatchBookmarks: true, timeoutSeconds: timeout }, callback, done);
  }
}

export class ResilientInformer<T extends KubernetesObject> {
  private readonly listWatch: ListWatch<T>;
  private synced = false;
  /** Until the first list completes the cache is empty, not "nothing exists". */
  private listedOnce = false;
  private stopped = true;
  private backoffMs: number;
  private restartTimer: NodeJS.Timeout | undefined;
  private lastError: string | undefined;
  private readonly syncWaiters = new Set<() => void>();

  constructor(private readonly options: ResilientInformerOptions<T>) {
    this.backoffMs = options.initialBackoffMs ?? 500;
    this.listWatch = new ListWatch<T>(
      options.path,
      new BookmarkWatch(options.kubeConfig, options.watchTimeoutSeconds ?? 300),
      options.list,
      false,
      undefined,
      options.fieldSelector,
    );
    this.listWatch.on("error", (err?: unknown) => this.onError(err));
  }

  /** The cache; valid (possibly stale) even while restarting. */
  get cache(): Pick<ListWatch<T>, "get" | "list"> {
    return this.listWatch;
  }

  on(event: "add" | "update" | "delete", cb: (obj: T) => void): void {
    this.listWatch.on(event, cb);
  }

  /**
   * Starts listing and watching; resolves after the first attempt, synced or not (the
   * webhook serves meanwhile). Whoever must not read an empty cache awaits
   * {@link waitForSync}.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await this.attempt();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    await this.listWatch.stop();
  }

  /**
   * Resolves once the cache has completed a list (at once if it ever has), however many
   * restarts that takes; rejects with the signal's reason when `signal` aborts first. Before
   * the first list the cache is empty whatever exists in the cluster, so code that acts on
   * an absent object (the guardian recreating the DNS Service) must wait for this; after it
   * the cache is valid, if possibly stale while a watch restarts.
   */
  waitForSync(signal?: AbortSignal): Promise<void> {
    if (this.listedOnce) return Promise.resolve();
    if (signal?.aborted) return Promise.reject(abortReason(signal, this.options.name));
    return new Promise<void>((resolve, reject) => {
      const waiter = () => {
        signal?.removeEventListener("abort", onAbort);
        resolve();
      };
      const onAbort = () => {
        this.syncWaiters.delete(waiter);
        reject(abortReason(signal!, this.options.name));
      };
      this.syncWaiters.add(waiter);
      signal?.addEventListener("abort", onAbort, { once: true });
    });
  }

  /** null when the initial list completed and no error is pending; else why not. */
  readiness(): string | null {
    if (this.synced) return null;
    return this.lastError ? `${this.options.name} informer not synced: ${this.lastError}` : `${this.options.name} informer not synced yet`;
  }

  hasSynced(): boolean {
    return this.synced;
  }

  /** True once the first list has completed: see waitForSync. */
  hasListedOnce(): boolean {
    return this.listedOnce;
  }

  private async attempt(): Promise<void> {
    const errorBefore = this.errorCount;
    await this.listWatch.start();
    // ListWatch.start resolves after the list and the watch request; an error in between has
    // already gone to onError.
    if (this.errorCount === errorBefore && !this.stopped) {
      this.synced = true;
      this.listedOnce = true;
      this.lastError = undefined;
      this.backoffMs = this.options.initialBackoffMs ?? 500;
      const waiters = [...this.syncWaiters];
      this.syncWaiters.clear();
      for (const w of waiters) w();
    }
  }

  private errorCount = 0;

  private onError(err: unknown): void {
    this.errorCount++;
    this.synced = false;
    this.lastError = describeError(err);
    if (this.stopped) return;
    const delay = this.backoffMs;
    this.backoffMs = Math.min(this.backoffMs * 2, this.options.maxBackoffMs ?? 30_000);
    this.options.log.warn({ informer: this.options.name, error: this.lastError, retryInMs: delay }, "informer failed; restarting");
    if (this.restartTimer) clearTimeout(this.restartTimer);
    this.restartTimer = setTimeout(() => {
      this.restartTimer = undefined;
      if (!this.stopped) void this.attempt();
    }, delay);
    this.restartTimer.unref();
  }
}

function abortReason(signal: AbortSignal, name: string): Error {
  return new Error(`stopped waiting for the ${name} informer to sync`, { cause: signal.reason });
}

function describeError(err: unknown): string {
  if (err instanceof Error) return err.message;
  if (err && typeof err === "object") {
    const e = err as { code?: unknown; message?: unknown; statusCode?: unknown };
    for (const v of [e.message, e.statusCode, e.code]) if (typeof v === "string" || typeof v === "number") return String(v);
    return JSON.stringify(err);
  }
  return String(err);
}
