#!/usr/bin/env node
/** The `pod-dns-injector` executable: runs the CLI with the real process I/O and exits. */
import type { CommandIO } from "./inject.js";
import { main } from "./program.js";

const io: CommandIO = {
  stdin: process.stdin,
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
  stdoutIsTTY: process.stdout.isTTY === true,
};
const exitCode = await main(process.argv.slice(2), io);
// Let stdout drain before exiting (large inject outputs into a pipe).
process.stdout.write("", () => process.exit(exitCode));
