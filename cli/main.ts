#!/usr/bin/env node
/**
 * The `pod-dns-injector` executable, also installed as `kubectl-pod_dns_injector` (kubectl's
 * plugin name): runs the CLI with the real process I/O and exits.
 */
import type { CommandIO } from "./inject.js";
import { main, programName } from "./program.js";

const io: CommandIO = {
  stdin: process.stdin,
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  stdoutIsTTY: process.stdout.isTTY === true,
};
// process.argv[1] keeps the name the executable was run by (npm's bin link, not its target).
const exitCode = await main(process.argv.slice(2), io, programName(process.argv[1]));
// Let stdout drain before exiting (large inject outputs into a pipe).
process.stdout.write("", () => process.exit(exitCode));
