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
 * `parse(argv)`, or undefined after printing the usage error and `usage` (the caller exits
 * with 2). A TypeError is what node:util parseArgs throws for an unknown or bad option.
 */
export function optionsOrUsage<O>(parse: (argv: string[]) => O, usage: string, argv = process.argv.slice(2)): O | undefined {
  try {
    return parse(argv);
  } catch (err) {
    if (!(err instanceof UsageError) && !(err instanceof TypeError)) throw err;
    console.error(`${err.message}\n${usage}`);
    return undefined;
  }
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
