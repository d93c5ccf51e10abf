/** `pod-dns-injector inject`: offline injection into Pods and workload pod templates. */
import { hasProfile } from "../config/settings.js";
import { injectManifest } from "../webhook/offline.js";
import { inputError } from "./errors.js";
import { formatManifests, parseManifests, readInput, type OutputFormat } from "./manifest-io.js";
import { resolveSettings, type SettingsFlags } from "./settings-source.js";

export interface InjectFlags extends SettingsFlags {
  filename: string;
  namespace?: string | undefined;
  profile?: string | undefined;
  output: OutputFormat;
}

export interface CommandIO {
  stdin: NodeJS.ReadableStream;
  stdout: (text: string) => void;
  stderr: (text: string) => void;
  env: NodeJS.ProcessEnv;
  /** Whether standard output is a terminal: `restart` acts without --yes only then. */
  stdoutIsTTY?: boolean | undefined;
}

export async function runInject(flags: InjectFlags, io: CommandIO): Promise<number> {
  const { settings, nameservers } = await resolveSettings(flags, io.env);
  if (flags.profile !== undefined && !hasProfile(settings, flags.profile)) {
    throw inputError(`--profile ${flags.profile}: no such profile (have: ${Object.keys(settings.profiles).join(", ")})`);
  }
  const source = flags.filename === "-" ? "<stdin>" : flags.filename;
  const docs = parseManifests(await readInput(flags.filename, io.stdin), source);
  const out = docs.map((doc) => {
    if (doc.object === null) return null;
    const r = injectManifest(doc.object, { settings, namespace: flags.namespace, profile: flags.profile, dnsServiceIPs: nameservers });
    if (r.kind === "invalid") throw inputError(`${source}: document ${doc.index} (${r.what}): ${r.error}`);
    if (r.kind === "decided") {
      for (const w of r.decision.warnings) io.stderr(`${source}: document ${doc.index} (${r.what}): warning: ${w}\n`);
      if (r.decision.action !== "inject" && r.decision.action !== "noop") {
        io.stderr(`${source}: document ${doc.index} (${r.what}): not injected: ${r.decision.message} [${r.decision.reason}]\n`);
      }
    }
    return r.object;
  });
  io.stdout(formatManifests(out, flags.output));
  return 0;
}
