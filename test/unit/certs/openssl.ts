/**
 * The openssl CLI for tests that check our certificates with an independent implementation.
 * Missing openssl is a broken test environment, not a reason to skip: the check it performs
 * (`openssl verify -purpose sslserver`) is one of issue 4's acceptance criteria.
 */
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

export const OPENSSL = "/usr/bin/openssl";

export interface OpensslResult {
  status: number | null;
  stdout: string;
  stderr: string;
}

/** Runs `openssl ...args`; fails the calling test with install instructions if openssl is absent. */
export function runOpenssl(args: string[], input?: string): OpensslResult {
  if (!existsSync(OPENSSL)) {
    throw new Error(`${OPENSSL} not found: these tests verify certificates with the openssl CLI; ` + "install openssl (e.g. `apt-get install openssl`) and run them again");
  }
  const r = spawnSync(OPENSSL, args, { encoding: "utf8", input, timeout: 30_000 });
  if (r.error) throw new Error(`spawn ${OPENSSL} ${args.join(" ")}`, { cause: r.error });
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}
