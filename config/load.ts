/**
 * Layered configuration: defaults < YAML file < environment < flags. Parsing is pure; the
 * caller reads the file. Every error names its source and field.
 */
import { parseDocument } from "yaml";
import { defaultSettings, parseSettings, type Settings, type SettingsResult } from "./settings.js";

/** Environment variables we read, and the setting each one sets. */
export const ENVIRONMENT_VARIABLES = {
  POD_NAMESPACE: "injectorNamespace (set by the downward API)",
  POD_DNS_INJECTOR_CONFIG: "path of the YAML configuration file",
  POD_DNS_INJECTOR_LOG_LEVEL: "logLevel",
  POD_DNS_INJECTOR_CLUSTER_DOMAIN: "clusterDomain",
  POD_DNS_INJECTOR_DNS_SERVICE_IP: "dnsService.clusterIP",
  POD_DNS_INJECTOR_RESERVATION_GUARD: "guardian.reservationGuard (true or false)",
  POD_DNS_INJECTOR_ADMISSION_MODE: "admission.mode (webhook, policy or both)",
  POD_DNS_INJECTOR_AUDIT_REPORTS: "audit.reports (wgpolicyk8s, openreports or both)",
} as const;

export interface SettingsSources {
  /** The configuration file's text and its path (for messages). */
  file?: { path: string; text: string } | undefined;
  env?: Record<string, string | undefined>;
  /** Flag overrides, in the settings document's shape. */
  flags?: Record<string, unknown>;
}

/**
 * Parses a configuration file's text (YAML, so JSON too). Duplicate keys are errors, not
 * last-wins; every error is prefixed with `path`.
 */
export function parseConfigText(path: string, text: string): { ok: true; doc: unknown } | { ok: false; errors: string[] } {
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) return { ok: false, errors: doc.errors.map((e) => `${path}: ${e.message.split("\n")[0]}`) };
  return { ok: true, doc: doc.toJS() as unknown };
}

/**
 * Settings from defaults < file < environment < flags, each layer validated by
 * parseSettings on top of the one before; an error names its source (`cfg.yaml:`,
 * `environment:`, `flags:`) and field.
 */
export function loadSettings(sources: SettingsSources): SettingsResult {
  let settings: Settings = defaultSettings();
  const layer = (label: string, doc: unknown): string[] | null => {
    const r = parseSettings(doc, settings);
    if (!r.ok) return r.errors.map((e) => `${label}: ${e}`);
    settings = r.settings;
    return null;
  };
  if (sources.file) {
    const parsed = parseConfigText(sources.file.path, sources.file.text);
    if (!parsed.ok) return { ok: false, errors: parsed.errors };
    const errs = layer(`config file ${sources.file.path}`, parsed.doc);
    if (errs) return { ok: false, errors: errs };
  }
  const env = sources.env ?? {};
  const envDoc: Record<string, unknown> = {};
  if (env.POD_NAMESPACE) envDoc.injectorNamespace = env.POD_NAMESPACE;
  if (env.POD_DNS_INJECTOR_LOG_LEVEL) envDoc.logLevel = env.POD_DNS_INJECTOR_LOG_LEVEL;
  if (env.POD_DNS_INJECTOR_CLUSTER_DOMAIN) envDoc.clusterDomain = env.POD_DNS_INJECTOR_CLUSTER_DOMAIN;
  if (env.POD_DNS_INJECTOR_DNS_SERVICE_IP) envDoc.dnsService = { clusterIP: env.POD_DNS_INJECTOR_DNS_SERVICE_IP };
  const guard = env.POD_DNS_INJECTOR_RESERVATION_GUARD;
  if (guard) envDoc.guardian = { reservationGuard: guard === "true" ? true : guard === "false" ? false : guard };
  if (env.POD_DNS_INJECTOR_ADMISSION_MODE) envDoc.admission = { mode: env.POD_DNS_INJECTOR_ADMISSION_MODE };
  if (env.POD_DNS_INJECTOR_AUDIT_REPORTS) envDoc.audit = { reports: env.POD_DNS_INJECTOR_AUDIT_REPORTS };
  const envErrs = layer("environment", envDoc);
  if (envErrs) return { ok: false, errors: envErrs };
  if (sources.flags) {
    const flagErrs = layer("flags", sources.flags);
    if (flagErrs) return { ok: false, errors: flagErrs };
  }
  return { ok: true, settings };
}
