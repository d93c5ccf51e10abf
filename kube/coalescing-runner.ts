/**
 * "Trigger → run → run once more if triggered meanwhile", the loop every reconciler here
 * needs (the guardian, the certificate manager, the background audit): runs never overlap,
 * any number of triggers during a run coalesce into exactly one more run, and the reasons
 * that came in are handed to that run. An optional debounce lets a burst of triggers (a
 * GitOps sync relabelling many namespaces) start one run instead of two. It lives in kube/,
 * the lowest layer the three share, although it is not Kubernetes-specific.
 */
import { realTimers, type Timers } from "./timers.js";

export interface CoalescingRunnerOptions {
  /** One run; `reasons` are the distinct triggers since the previous run, oldest first. */
  run: (reasons: string[]) => Promise<void>;
  /** What a run that throws does: log it. The loop carries on with any pending trigger. */
  onError: (err: unknown, reasons: string[]) => void;
  /**
   * Checked at each trigger and before each run; false drops the pending triggers (e.g. a
   * follower: whoever leads next starts from its own trigger). Default: always true.
   */
  canRun?: (() => boolean) | undefined;
  /** Wait this long after the first trigger of a burst before running. Default 0 (no timer). */
  debounceMs?: number | undefined;
  /** For the debounce; tests pass a manual clock. Default real (unref'd) timers. */
  timers?: Timers | undefined;
}

export class CoalescingRunner {
  private pending = new Set<string>();
  private running: Promise<void> | undefined;
  /** Cancels the pending debounce, while one is pending. */
  private debounce: (() => void) | undefined;
  private stopped = false;

  constructor(private readonly o: CoalescingRunnerOptions) {}

  /** Asks for a run; ignored after {@link stop} and while `canRun` says no. */
  trigger(reason: string): void {
    if (!this.allowed()) return;
    this.pending.add(reason);
    if (!this.o.debounceMs) return this.kick();
    if (this.debounce) return;
    this.debounce = (this.o.timers ?? realTimers).after(this.o.debounceMs, () => {
      this.debounce = undefined;
      this.kick();
    });
  }

  /** True while a run is in progress. */
  get busy(): boolean {
    return this.running !== undefined;
  }

  /** Resolves when no run is in progress (at once if none is). Never rejects. */
  async idle(): Promise<void> {
    await this.running;
  }

  /** Drops pending triggers, refuses new ones and waits for the run in progress. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.pending.clear();
    this.debounce?.();
    this.debounce = undefined;
    await this.running;
  }

  private allowed(): boolean {
    return !this.stopped && (this.o.canRun?.() ?? true);
  }

  private kick(): void {
    if (this.running) return; // the loop below picks the new reasons up
    this.running = this.loop().finally(() => (this.running = undefined));
  }

  private async loop(): Promise<void> {
    while (this.pending.size > 0) {
      if (!this.allowed()) {
        this.pending.clear();
        return;
      }
      const reasons = [...this.pending];
      this.pending = new Set();
      try {
        await this.o.run(reasons);
      } catch (err) {
        this.o.onError(err, reasons);
      }
    }
  }
}
