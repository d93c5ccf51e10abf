#!/usr/bin/env node
/**
 * Test-only executable: a commander program with just the `audit` command, wired the way
 * cli/program.ts wires every command (same output routing, exit override and error
 * handling as cli/main.ts), so the tests can spawn `audit` before it is registered in the
 * real program. Usage: node dist/test/unit/audit/audit-cli-entry.js audit [flags].
 */
import { Command, CommanderError } from "commander";
import { registerAuditCommand } from "../../../cli/audit.js";
import { CliError, EXIT_INPUT, EXIT_OK, EXIT_USAGE } from "../../../cli/errors.js";
import type { CommandIO } from "../../../cli/inject.js";
import { PRODUCT } from "../../../config/names.js";

const io: CommandIO = {
  stdin: process.stdin,
  stdout: (s) => process.stdout.write(s),
  stderr: (s) => process.stderr.write(s),
  env: process.env,
};

async function main(argv: string[]): Promise<number> {
  let code = EXIT_OK;
  const program = new Command(PRODUCT)
    .showHelpAfterError("(run with --help for usage)")
    .configureOutput({ writeOut: (s) => io.stdout(s), writeErr: (s) => io.stderr(s) })
    .exitOverride();
  registerAuditCommand(program, io, (c) => (code = c));
  try {
    await program.parseAsync(argv, { from: "user" });
    return code;
  } catch (err) {
    if (err instanceof CommanderError) {
      if (err.code === "commander.helpDisplayed" || err.code === "commander.version" || err.code === "commander.help") return EXIT_OK;
      return EXIT_USAGE;
    }
    if (err instanceof CliError) {
      io.stderr(`${PRODUCT}: ${err.message}\n`);
      return err.exitCode;
    }
    io.stderr(`${PRODUCT}: unexpected error: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    return EXIT_INPUT;
  }
}

const exitCode = await main(process.argv.slice(2));
process.stdout.write("", () => process.exit(exitCode));
