/** What the benchmarks' command lines share: usage errors and a bounded, reported main. */

/** A bad command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

/** `raw` as a positive finite number, or a UsageError naming the option. */
export function positiveOption(name: string, raw: string): number {
  const n = Number(raw);
  if (!Number.isFinite(n) || n <= 0) throw new UsageError(`--${name}: expected a positive number, got ${JSON.stringify(raw)}`);
  return n;
}

/**
 * Runs a benchmark's main: its result is the exit code, a throw is reported as a failure
 * (exit 1), and whatever happens the process ends after `watchdogMs`.
 */
export function runBenchmark(main: () => Promise<number>, watchdogMs: number): void {
  const watchdog = setTimeout(() => {
    console.error(`[bench] still running after ${watchdogMs / 60000} minutes: giving up`);
    process.exit(1);
  }, watchdogMs);
  watchdog.unref();
  main().then(
    (code) => {
      process.exitCode = code;
    },
    (err: unknown) => {
      console.error(`[bench] failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}`);
      process.exitCode = 1;
    },
  );
}
