/**
 * The timers a long-running part schedules with, injectable so that tests advance a manual
 * clock instead of sleeping (test/unit/kube/manual-timers.ts). Real timers are unref'd: a
 * schedule never keeps the process alive on its own.
 */

export interface Timers {
  /** Runs `fn` once, `ms` from now; returns what cancels it (a no-op once it ran). */
  after(ms: number, fn: () => void): () => void;
  /** Runs `fn` every `ms`; returns what cancels it. */
  every(ms: number, fn: () => void): () => void;
}

export const realTimers: Timers = {
  after(ms, fn) {
    const t = setTimeout(fn, ms);
    t.unref();
    return () => clearTimeout(t);
  },
  every(ms, fn) {
    const t = setInterval(fn, ms);
    t.unref();
    return () => clearInterval(t);
  },
};
