/**
 * Settings: the validated, normalised form of a configuration document. The document's
 * shape, limits, defaults and error texts are described once, in config/settings-schema.ts;
 * this module validates with it (ajv), turns ajv's findings into errors that name the path,
 * and adds the checks a schema cannot say (DNS name rules, IP canonicalisation, cross-field
 * rules). Pure: no fs, no env.
 */
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import { ADMISSION_MODES, ALWAYS_EXCLUDED_NAMESPACES, type AuditReportsChoice } from "./names.js";
import { isObject } from "./json-shapes.js";
import { canonicalIP, isCertificateDNSName, isDNSLabel, isDNSSubdomain, isNamespaceName } from "./dns-limits.js";
import { SETTINGS_SCHEMA, defaultsDocument, type SchemaNode } from "./settings-schema.js";
import { isNameserverEntry, normaliseNameserverEntry, uniqueIPs } from "./nameserver-tokens.js";

// The types below mirror the schema (test/unit/config/settings-schema.test.ts checks at
// compile time that they agree); each field's meaning is its schema `description`.

export interface DNSOption {
  name: string;
  value?: string;
}

/** A named DNS profile: what a namespace opts into with `pod-dns-injector.io/profile`. */
export interface Profile {
  /** IPs and the tokens dnsService / nodeLocalDNS (config/nameserver-tokens.ts); empty means [dnsService]. */
  nameservers: string[];
  searches: string[];
  /** The document's `ndots` shorthand is folded in here. */
  options: DNSOption[];
  /** Cut searches so that resolv.conf's `search` line stays within this many characters (unset: no cut). */
  maxSearchLineBytes?: number;
}

export interface Settings {
  clusterDomain: string;
  dnsService: {
    namespace: string;
    name: string;
    /** null = learn it from the Service. */
    clusterIP: string | null;
  };
  /** Several DNS Services in order (a Service-CIDR migration); empty: dnsService alone. Read them through {@link dnsServiceRefs}. */
  dnsServices: DNSServiceRef[];
  /** NodeLocal DNSCache's listen address: what the nameserver token nodeLocalDNS stands for. */
  nodeLocalDNS: { address: string };
  defaultProfile: string;
  profiles: Record<string, Profile>;
  /** Always includes kube-system, kube-public and kube-node-lease. */
  excludedNamespaces: string[];
  injectorNamespace: string;
  webhook: { host: string | null; port: number; tlsCertFile: string | null; tlsKeyFile: string | null };
  ops: { host: string | null; port: number };
  /** Windows pods: injected without resolver options (Windows ignores them), or skipped. */
  windows: "inject" | "skip";
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  guardian: GuardianSettings;
  /** reports: which report API(s) the audit writes (config/names.ts REPORT_API_NAMES). */
  audit: { enabled: boolean; intervalSeconds: number; reports: AuditReportsChoice };
  /** Who injects: the webhook, the in-tree MutatingAdmissionPolicy (kept by the leader), or both. */
  admission: AdmissionSettings;
  certificates: CertificateSettings;
}

/** A DNS Service and its fixed clusterIP (null: learn it from the Service). */
export interface DNSServiceRef {
  namespace: string;
  name: string;
  clusterIP: string | null;
}

/** The certificate authority the injector runs for itself in cluster mode. */
export interface CertificateSettings {
  secretName: string;
  caSecretName: string;
  serviceName: string;
  extraDNSNames: string[];
  extraIPs: string[];
  caValidityDays: number;
  validityDays: number;
  renewFraction: number;
  checkIntervalSeconds: number;
  rolloverGraceSeconds: number;
  /** null: none. */
  mutatingWebhookConfiguration: string | null;
  /** null: none. */
  validatingWebhookConfiguration: string | null;
}

export type AdmissionMode = (typeof ADMISSION_MODES)[number];

export interface AdmissionSettings {
  /**
   * `webhook` (default): the MutatingWebhookConfiguration calls /mutate. `policy`: the leader
   * keeps the rendered MutatingAdmissionPolicy/ValidatingAdmissionPolicy applied (Kubernetes
   * >= 1.36) and no MutatingWebhookConfiguration is needed. `both`: the policy, then the
   * webhook over it (the policy is the fallback while every replica is down).
   */
  mode: AdmissionMode;
  /** What the ValidatingAdmissionPolicy does with a non-conforming pod: `warn` (default) or `deny`. */
  validation: "warn" | "deny";
}

/** The DNS Service guardian and its leader election. */
export interface GuardianSettings {
  enabled: boolean;
  repair: "report" | "recreate";
  resyncSeconds: number;
  reservationGuard: boolean;
  deletionGuard: boolean;
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

/** Every setting at its documented default (the schema's `default`s, normalised). */
export function defaultSettings(): Settings {
  return merge(SETTINGS_SCHEMA, {}, defaultsDocument(), "", "", () => false) as Settings;
}

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; errors: string[] };

type Obj = Record<string, unknown>;

/**
 * Validates a parsed configuration document on top of `base` (defaults, usually): the
 * document's settings replace base's, a profile replaces the profile of that name whole.
 * Unknown keys are errors, not ignored: a typo in a ConfigMap must not silently fall back to
 * a default. Every error names the field by its path, says what was wrong and what is
 * allowed, e.g. `profiles.fast.nameservers[1]: not an IP address: "10.0.0.300"`.
 */
export function parseSettings(doc: unknown, base: Settings = defaultSettings()): SettingsResult {
  if (doc === null || doc === undefined) return { ok: true, settings: base };
  const errors = schemaErrors(doc);
  const bad = (path: string, under: boolean) => errors.some((e) => e.path === path || (under && (e.path.startsWith(`${path}.`) || e.path.startsWith(`${path}[`))));
  // Settings that passed are applied even when others failed, so that the cross-field checks
  // below still run and one parse reports everything that is wrong.
  const s = merge(SETTINGS_SCHEMA, structuredClone(base), doc, "", "", bad) as Settings;
  const all = [...errors.map((e) => e.text), ...crossFieldErrors(s)];
  return all.length ? { ok: false, errors: all } : { ok: true, settings: s };
}

/** The rules between settings, on the merged result (a layer may set just one side). */
function crossFieldErrors(s: Settings): string[] {
  const errors: string[] = [];
  if (!hasProfile(s, s.defaultProfile)) errors.push(`defaultProfile: no profile named ${JSON.stringify(s.defaultProfile)} (have: ${Object.keys(s.profiles).join(", ")})`);
  if ((s.webhook.tlsCertFile === null) !== (s.webhook.tlsKeyFile === null)) errors.push("webhook.tlsCertFile and webhook.tlsKeyFile: set both or neither");
  const { leaseDurationSeconds: lease, renewDeadlineSeconds: renew, retryPeriodSeconds: retry } = s.guardian;
  // client-go's rule: a leader must give up before others may take over, and retry within that.
  if (!(lease > renew && renew > retry)) errors.push(`guardian: need leaseDurationSeconds > renewDeadlineSeconds > retryPeriodSeconds (got ${lease} > ${renew} > ${retry})`);
  errors.push(...dnsServicesErrors(s));
  const cs = s.certificates;
  if (cs.secretName === cs.caSecretName)
    errors.push(`certificates.secretName and certificates.caSecretName: must differ (both ${JSON.stringify(cs.secretName)}): the CA key must not sit in the serving Secret`);
  return errors;
}

/** What the schema's value turns into in Settings, by path (`*`: any profile name). */
const NORMALISE: Record<string, (v: never) => unknown> = {
  "dnsService.clusterIP": (v: string | null) => (v === null || v === "" ? null : canonicalIP(v)),
  dnsServices: (v: { namespace: string; name: string; clusterIP?: string | null }[]) =>
    v.map(({ namespace, name, clusterIP }) => ({ namespace, name, clusterIP: clusterIP === undefined || clusterIP === null || clusterIP === "" ? null : canonicalIP(clusterIP) })),
  "profiles.*.nameservers": (v: string[]) => v.map(normaliseNameserverEntry),
  "nodeLocalDNS.address": canonicalIP,
  "profiles.*.options": (v: { name: string; value?: string | number | null }[]) =>
    v.map(({ name, value }) => (value === undefined || value === null ? { name } : { name, value: String(value) })),
  "profiles.*": ({ ndots, ...p }: Profile & { ndots?: number }): Profile =>
    ndots === undefined ? p : { ...p, options: [{ name: "ndots", value: String(ndots) }, ...p.options.filter((o) => o.name !== "ndots")] },
  // The built-in exclusions cannot be removed: mutating kube-system pods risks the cluster's
  // own DNS and control plane (see the "deadlock avoidance" docs).
  excludedNamespaces: (v: string[]) => [...new Set([...ALWAYS_EXCLUDED_NAMESPACES, ...v])],
  "webhook.port": Number,
  "ops.port": Number,
  "certificates.extraDNSNames": (v: string[]) => [...new Set(v)],
  "certificates.extraIPs": (v: string[]) => [...new Set(v.map(canonicalIP))],
  "certificates.mutatingWebhookConfiguration": (v: string | null) => (v === "" ? null : v),
  "certificates.validatingWebhookConfiguration": (v: string | null) => (v === "" ? null : v),
};

/**
 * Lays the valid parts of `doc` over `base`, following the schema: a mapping with known keys
 * is merged key by key, a record (profiles) entry by entry, anything else is replaced whole.
 * `bad(path, under)` says whether the schema pass found an error at `path` (or under it).
 */
function merge(node: SchemaNode, base: unknown, doc: unknown, path: string, pattern: string, bad: (path: string, under: boolean) => boolean): unknown {
  const rule = NORMALISE[pattern] as ((v: unknown) => unknown) | undefined;
  const normalise = (v: unknown) => (rule ? rule(v) : v);
  if (node.properties || isObject(node.additionalProperties)) {
    if (bad(path, false) || !isObject(doc)) return base;
    const out: Obj = { ...(base as Obj) };
    for (const [key, value] of Object.entries(doc)) {
      const child = node.properties?.[key] ?? (node.additionalProperties as SchemaNode);
      if (value === undefined || !child || (child === node.additionalProperties && bad(join(path, key), true))) continue;
      // A record's entry starts from its own defaults, not from the entry it replaces.
      const from = node.properties ? out[key] : defaultsDocument(child);
      out[key] = merge(child, from, value, join(path, key), join(pattern, node.properties ? key : "*"), bad);
    }
    return normalise(out);
  }
  return bad(path, true) ? base : normalise(structuredClone(doc));
}

let validator: ValidateFunction | undefined;

/** The compiled schema (compiled on first use: nothing runs at import). */
function validate(doc: unknown): ErrorObject[] {
  validator ??= (() => {
    const ajv = new Ajv({ allErrors: true, allowUnionTypes: true });
    ajv.addKeyword("x-reload").addKeyword("x-error");
    // The DNS and IP rules stay in dns-limits.ts (the webhook applies them to pods too).
    ajv.addFormat("dns-subdomain", isDNSSubdomain);
    ajv.addFormat("dns-label", isDNSLabel);
    ajv.addFormat("namespace-name", isNamespaceName);
    ajv.addFormat("certificate-dns-name", isCertificateDNSName);
    ajv.addFormat("ip-address", (s) => canonicalIP(s) !== null);
    ajv.addFormat("nameserver-entry", isNameserverEntry);
    ajv.addFormat("port", (s) => /^\d+$/.test(s) && Number(s) <= 65535);
    return ajv.compile(SETTINGS_SCHEMA);
  })();
  return validator(doc) ? [] : (validator.errors ?? []);
}

/**
 * The schema pass: one error per field (ajv may report several keywords for one value), in
 * schema order, each as `<path>: <the schema's x-error for it>`.
 */
function schemaErrors(doc: unknown): { path: string; text: string }[] {
  const out = new Map<string, { path: string; text: string }>();
  for (const e of validate(doc)) {
    const at = locate(e.instancePath, doc);
    const params = e.params as { additionalProperty?: string; missingProperty?: string; propertyName?: string };
    const name = e.propertyName ?? params.propertyName;
    let found: { path: string; text: string };
    if (params.additionalProperty !== undefined) {
      found = { path: join(at.path, params.additionalProperty), text: `unknown setting (known: ${Object.keys(at.node.properties ?? {}).join(", ")})` };
    } else if (name !== undefined) {
      found = { path: join(at.path, name), text: message(at.node.propertyNames ?? {}, e.keyword, name) };
    } else if (params.missingProperty !== undefined) {
      found = { path: join(at.path, params.missingProperty), text: message(at.node.properties?.[params.missingProperty] ?? {}, e.keyword, undefined) };
    } else {
      found = { path: at.path, text: message(at.node, e.keyword, at.value) };
    }
    // A bad profile name and a bad profile share a path; keep both.
    const key = `${name !== undefined ? "name:" : ""}${found.path}`;
    if (!out.has(key)) out.set(key, { path: found.path, text: `${found.path || "configuration"}: ${found.text}` });
  }
  return [...out.values()];
}

const join = (path: string, key: string) => (path ? `${path}.${key}` : key);

/** The schema node, value and dotted path (`a.b[2].c`) at an ajv instancePath (a JSON Pointer). */
function locate(pointer: string, doc: unknown): { node: SchemaNode; value: unknown; path: string } {
  let node: SchemaNode = SETTINGS_SCHEMA;
  let value = doc;
  let path = "";
  for (const raw of pointer.split("/").slice(1)) {
    const key = raw.replaceAll("~1", "/").replaceAll("~0", "~");
    path = node.items ? `${path}[${key}]` : join(path, key);
    node = node.items ?? node.properties?.[key] ?? (isObject(node.additionalProperties) ? node.additionalProperties : {});
    value = (value as Obj)[key];
  }
  return { node, value, path };
}

function message(node: SchemaNode, keyword: string, value: unknown): string {
  const m = node["x-error"];
  const text = typeof m === "string" ? m : (m?.[keyword] ?? m?.default ?? `invalid (${keyword})`);
  return text.replaceAll("{got}", JSON.stringify(value));
}

function dnsServicesErrors(s: Settings): string[] {
  const errors: string[] = [];
  const seen = new Map<string, number>();
  const ips = new Map<string, number>();
  dnsServiceRefs(s).forEach((ref, i) => {
    const key = `${ref.namespace}/${ref.name}`;
    const where = `dnsServices[${i}]`;
    if (seen.has(key)) errors.push(`${where}: ${key} is listed twice (also dnsServices[${seen.get(key)}])`);
    seen.set(key, i);
    if (ref.clusterIP !== null) {
      if (ips.has(ref.clusterIP)) errors.push(`${where}.clusterIP: ${ref.clusterIP} is also dnsServices[${ips.get(ref.clusterIP)}]'s: two Services cannot hold one IP`);
      ips.set(ref.clusterIP, i);
    }
  });
  return errors;
}

/**
 * Why `policy render` cannot follow `dnsServices`, or null. A binding's one parameter is the
 * first Service (read live); offline, the later ones (a migration's old Services) can only be
 * named by their fixed IPs, so each needs one. (serve's policy keeper renders their live IPs.)
 */
export function policyDNSServicesProblem(settings: Settings): string | null {
  const missing = dnsServiceRefs(settings)
    .slice(1)
    .findIndex((r) => r.clusterIP === null);
  if (missing < 0) return null;
  return `dnsServices[${missing + 1}] (${serviceRefText(dnsServiceRefs(settings)[missing + 1]!)}) needs a clusterIP: the in-tree policy reads only the first DNS Service live and names the others by their fixed IPs`;
}

/**
 * The DNS Services `dnsService` stands for, in order: `dnsServices` when set (an entry that
 * names the `dnsService` Service without a clusterIP takes dnsService.clusterIP), else
 * `dnsService` alone. Every reader of "which DNS Service" goes through this.
 */
export function dnsServiceRefs(settings: Settings): DNSServiceRef[] {
  const { dnsService, dnsServices } = settings;
  if (dnsServices.length === 0) return [dnsService];
  return dnsServices.map((r) => (r.clusterIP === null && r.namespace === dnsService.namespace && r.name === dnsService.name ? { ...r, clusterIP: dnsService.clusterIP } : r));
}

/** `namespace/name`, as messages and logs name a Service. */
export const serviceRefText = (ref: { namespace: string; name: string }) => `${ref.namespace}/${ref.name}`;

/**
 * The configured fixed IPs as a nameserver list, in the Services' order: what `dnsService`
 * stands for while no live clusterIP is known (standalone, offline, a Service not observed yet).
 */
export function configuredDNSServiceIPs(settings: Settings): string[] {
  return uniqueIPs([dnsServiceRefs(settings).flatMap((r) => (r.clusterIP === null ? [] : [r.clusterIP]))]);
}

/** A profile defined in the settings: own keys only, so `constructor` names no profile. */
export const hasProfile = (settings: Settings, name: string): boolean => Object.hasOwn(settings.profiles, name);

/** All namespaces the webhook must never mutate, including the injector's own. */
export function excludedNamespaces(settings: Settings): ReadonlySet<string> {
  // Asked on every admission review: built once per Settings object (settings are never
  // changed in place; a reload makes a new one).
  let set = excludedCache.get(settings);
  if (!set) excludedCache.set(settings, (set = new Set([...settings.excludedNamespaces, settings.injectorNamespace])));
  return set;
}

const excludedCache = new WeakMap<Settings, ReadonlySet<string>>();
