/** Exit codes of every subcommand: 0 success, 1 a problem in the input (or a violation), 2 usage. */
export const EXIT_OK = 0;
export const EXIT_INPUT = 1;
export const EXIT_USAGE = 2;

/** A failure the user can fix; the message is printed as is, without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
  ) {
    super(message);
  }
}

export const usageError = (message: string) => new CliError(message, EXIT_USAGE);
export const inputError = (message: string) => new CliError(message, EXIT_INPUT);
