/** Reads the configuration file (if any) and layers environment and flags over it. */
import { readFile } from "node:fs/promises";
import { loadSettings } from "../config/load.js";
import type { Settings } from "../config/settings.js";
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
): Promise<{ settings: Settings; configPath: string | undefined }> {
  const configPath = flags.config ?? env.POD_DNS_INJECTOR_CONFIG;
  const file = configPath ? { path: configPath, text: await readConfigFile(configPath) } : undefined;
  const doc: Record<string, unknown> = { ...flagDoc };
  if (flags.clusterDomain !== undefined) doc.clusterDomain = flags.clusterDomain;
  if (flags.nameserver !== undefined) doc.dnsService = { ...((doc.dnsService) ?? {}), clusterIP: flags.nameserver };
  const result = loadSettings({ file, env, flags: doc });
  if (!result.ok) {
    // Errors in flags are usage errors; errors in files and the environment are input errors.
    const onlyFlags = result.errors.every((e) => e.startsWith("flags:"));
    const message = result.errors.join("\n");
    throw onlyFlags ? usageError(message) : inputError(message);
  }
  return { settings: result.settings, configPath };
}
