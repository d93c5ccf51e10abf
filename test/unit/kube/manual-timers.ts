/**
 * Timers on a manual clock for the parts that take a kube/timers.ts `Timers`: nothing runs
 * until the test advances the clock, so a test of "nothing happens for 2 s" or "a retry after
 * 30 s" takes no wall-clock time and can assert what is still scheduled.
 */
import type { Timers } from "../../../kube/timers.js";

interface Entry {
  at: number;
  every: number | undefined;
  fn: () => void;
  seq: number;
}

export class ManualTimers implements Timers {
  /** Milliseconds since the timers were created. */
  now = 0;
  private readonly entries = new Set<Entry>();
  private seq = 0;

  after(ms: number, fn: () => void): () => void {
    return this.add(ms, undefined, fn);
  }

  every(ms: number, fn: () => void): () => void {
    return this.add(ms, ms, fn);
  }

  /** How many timers are scheduled (intervals included). */
  get pending(): number {
    return this.entries.size;
  }

  /**
   * Moves the clock `ms` forward, running every timer that falls due on the way in order of
   * its due time, and letting the promises each one starts settle before the next runs.
   */
  async advance(ms: number): Promise<void> {
    const end = this.now + ms;
    for (;;) {
      const next = [...this.entries].filter((e) => e.at <= end).sort((a, b) => a.at - b.at || a.seq - b.seq)[0];
      if (!next) break;
      this.now = next.at;
      if (next.every !== undefined) next.at += next.every;
      else this.entries.delete(next);
      next.fn();
      await settle();
    }
    this.now = end;
    await settle();
  }

  private add(ms: number, every: number | undefined, fn: () => void): () => void {
    const entry: Entry = { at: this.now + Math.max(0, ms), every, fn, seq: this.seq++ };
    this.entries.add(entry);
    return () => void this.entries.delete(entry);
  }
}

/** Lets the microtasks and I/O callbacks queued so far run (one turn of the event loop). */
function settle(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}
