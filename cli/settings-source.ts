/** Reads the configuration file (if any) and layers environment and flags over it. */
import { readFile } from "node:fs/promises";
import { loadSettings } from "../config/load.js";
import type { Settings } from "../config/settings.js";
import { canonicalIP, ipFamily } from "../config/dns-limits.js";
import { inputError, usageError } from "./errors.js";

export interface SettingsFlags {
  config?: string | undefined;
  clusterDomain?: string | undefined;
  nameserver?: string | undefined;
}

export async function readConfigFile(path: string): Promise<string> {
  try {
    return await readFile(path, "utf8");
  } catch (err) {
    throw inputError(`cannot read config file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/** Settings from --config (or POD_DNS_INJECTOR_CONFIG), the environment and `flagDoc`. */
export async function resolveSettings(
  flags: SettingsFlags,
  env: NodeJS.ProcessEnv,
  flagDoc: Record<string, unknown> = {},
): Promise<{ settings: Settings; configPath: string | undefined; nameservers: string[] | undefined }> {
  const configPath = flags.config ?? env.POD_DNS_INJECTOR_CONFIG;
  const file = configPath ? { path: configPath, text: await readConfigFile(configPath) } : undefined;
  const doc: Record<string, unknown> = { ...flagDoc };
  if (flags.clusterDomain !== undefined) doc.clusterDomain = flags.clusterDomain;
  const nameservers = flags.nameserver === undefined ? undefined : parseNameserverFlag(flags.nameserver);
  // The first is the fixed IP; a dual-stack Service's second family only adds a nameserver.
  if (nameservers !== undefined) doc.dnsService = { ...(doc.dnsService ?? {}), clusterIP: nameservers[0] };
  const result = loadSettings({ file, env, flags: doc });
  if (!result.ok) {
    // Errors in flags are usage errors; errors in files and the environment are input errors.
    const onlyFlags = result.errors.every((e) => e.startsWith("flags:"));
    const message = result.errors.join("\n");
    throw onlyFlags ? usageError(message) : inputError(message);
  }
  return { settings: result.settings, configPath, nameservers };
}

/**
 * `--nameserver IP[,IP]`: the DNS Service's clusterIP, or a dual-stack Service's two (one
 * per family, primary first), canonical as the API server stores them.
 */
export function parseNameserverFlag(value: string): string[] {
  const entries = value.split(",").map((e) => e.trim());
  const ips = entries.map((e) => canonicalIP(e));
  const bad = entries.find((_, i) => ips[i] === null);
  if (bad !== undefined) throw usageError(`--nameserver: ${JSON.stringify(bad)} is not an IP address (expected IP, or IP,IP for a dual-stack DNS Service)`);
  const valid = ips as string[];
  if (valid.length > 2) throw usageError(`--nameserver: at most two IPs (one per IP family, as a dual-stack Service has), got ${valid.length}`);
  if (valid.length === 2 && ipFamily(valid[0]!) === ipFamily(valid[1]!)) {
    throw usageError(`--nameserver: ${value}: a dual-stack Service has one IP of each family (IPv4 and IPv6)`);
  }
  return valid;
}
