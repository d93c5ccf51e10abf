/**
 * The settings schema: every knob with its documented default, and a validator that turns
 * a parsed YAML/JSON document into Settings or a list of precise errors. Pure: no fs, no env.
 */
import {
  ALWAYS_EXCLUDED_NAMESPACES,
  DEFAULT_CLUSTER_DOMAIN,
  DEFAULT_DNS_SERVICE,
  DEFAULT_DNS_SERVICE_IP,
  DEFAULT_INJECTOR_NAMESPACE,
  DEFAULT_PROFILE,
  MUTATING_WEBHOOK_CONFIGURATION,
  OPS_PORT,
  PRODUCT,
  VALIDATING_WEBHOOK_CONFIGURATION,
  WEBHOOK_PORT,
  WEBHOOK_SERVICE,
} from "./names.js";
import { isObject } from "./json-shapes.js";
import { canonicalIP, isCertificateDNSName, isDNSLabel, isDNSSubdomain, isNamespaceName } from "./dns-limits.js";
import { DEFAULT_CA_VALIDITY_DAYS, DEFAULT_RENEWAL_FRACTION, DEFAULT_SERVING_VALIDITY_DAYS, isValidRenewalFraction } from "./certificate-defaults.js";

export interface DNSOption {
  name: string;
  value?: string;
}

/** A named DNS profile: what a namespace opts into with `pod-dns-injector.io/profile`. */
export interface Profile {
  /** Nameservers to use; empty means "the DNS Service's live clusterIP". */
  nameservers: string[];
  /** Search domains appended after the cluster's own three. */
  searches: string[];
  /** Resolver options; `ndots` here is shorthand for an `ndots` option. */
  options: DNSOption[];
}

export interface Settings {
  /** Kubelet's --cluster-domain. Default `cluster.local`. */
  clusterDomain: string;
  dnsService: {
    namespace: string;
    name: string;
    /** The fixed clusterIP the DNS Service must keep; null = learn it from the Service. */
    clusterIP: string | null;
  };
  /** Profile used when a namespace names none (or an unknown one). Default `default`. */
  defaultProfile: string;
  profiles: Record<string, Profile>;
  /** Namespaces never mutated; kube-system, kube-public, kube-node-lease and our own always are. */
  excludedNamespaces: string[];
  /** The injector's own namespace (POD_NAMESPACE, else this, else `pod-dns-injector`). */
  injectorNamespace: string;
  webhook: {
    /** null: 0.0.0.0 in cluster mode, 127.0.0.1 standalone (a standalone server is for local use). */
    host: string | null;
    port: number;
    /** PEM files; when unset the server issues itself an in-memory certificate. */
    tlsCertFile: string | null;
    tlsKeyFile: string | null;
  };
  /** host null: as webhook.host. */
  ops: { host: string | null; port: number };
  logLevel: "fatal" | "error" | "warn" | "info" | "debug" | "trace";
  /** The DNS Service guardian (cluster mode only). */
  guardian: GuardianSettings;
  /** The background audit in `serve` (cluster mode, leader only). */
  audit: { enabled: boolean; intervalSeconds: number };
  /** Who injects: the webhook, the in-tree MutatingAdmissionPolicy (kept by the leader), or both. */
  admission: AdmissionSettings;
  /** The self-managed webhook certificates (cluster mode without webhook.tlsCertFile). */
  certificates: CertificateSettings;
}

/**
 * The certificate authority the injector runs for itself in cluster mode: the CA and serving
 * certificate live in Secrets in the injector's namespace, the caBundles of the named webhook
 * configurations are kept equal to the trusted CAs, and everything is renewed in place.
 */
export interface CertificateSettings {
  /** `kubernetes.io/tls` Secret with `tls.crt`, `tls.key` and `ca.crt` (the trusted CAs). Default `pod-dns-injector-tls`. */
  secretName: string;
  /** Secret with the CA key (and, during a rollover, the next or previous CA). Default `pod-dns-injector-ca`. */
  caSecretName: string;
  /** The webhook Service; its DNS names go into the serving certificate. Default `pod-dns-injector`. */
  serviceName: string;
  /** More DNS names for the serving certificate (e.g. `localhost` for a webhook registered by URL). */
  extraDNSNames: string[];
  /** IP addresses for the serving certificate (e.g. `127.0.0.1`). */
  extraIPs: string[];
  /** CA lifetime in days (fractions allowed). Default 3650. */
  caValidityDays: number;
  /** Serving-certificate lifetime in days (fractions allowed; clamped into the CA's). Default 365. */
  validityDays: number;
  /** Renew (and roll the CA over) once this fraction of the lifetime has passed. Default 2/3. */
  renewFraction: number;
  /** Periodic re-read of the Secrets and webhook configurations, in case any events were missed. Default 60. */
  checkIntervalSeconds: number;
  /**
   * How long each CA-rollover step waits for every replica and the API server to pick up the
   * previous one (the new CA in every caBundle, the new serving certificate on every replica).
   * Keep it above checkIntervalSeconds, so that a replica which missed a watch event has
   * re-checked before the old CA is dropped. Default 120.
   */
  rolloverGraceSeconds: number;
  /** Configuration whose caBundles are kept equal to the trusted CAs; null: none. Default `pod-dns-injector`. */
  mutatingWebhookConfiguration: string | null;
  /** As above, when that configuration exists; null: none. Default `pod-dns-injector`. */
  validatingWebhookConfiguration: string | null;
}

export const ADMISSION_MODES = ["webhook", "policy", "both"] as const;
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

export interface GuardianSettings {
  /** Watch the DNS Service and repair it (leader only). Default true. */
  enabled: boolean;
  /** When the Service exists with another clusterIP: `report` (default) or `recreate` it on the fixed IP. */
  repair: "report" | "recreate";
  /** Periodic full re-check, in case any events were missed. Default 30. */
  resyncSeconds: number;
  /** /validate denies other Services that request the reserved IP. Default false. */
  reservationGuard: boolean;
  /**
   * /validate refuses DELETE of the DNS Service, and UPDATEs that break it (selector or
   * port 53 removed, clusterIP dropped), unless it carries `pod-dns-injector.io/allow-delete:
   * "true"`. Default true (it only acts where the ValidatingWebhookConfiguration is installed).
   */
  deletionGuard: boolean;
  /** Leader election on a coordination.k8s.io/v1 Lease (client-go's defaults: 15/10/2). */
  leaseDurationSeconds: number;
  renewDeadlineSeconds: number;
  retryPeriodSeconds: number;
}

export function defaultSettings(): Settings {
  return {
    clusterDomain: DEFAULT_CLUSTER_DOMAIN,
    dnsService: { ...DEFAULT_DNS_SERVICE, clusterIP: DEFAULT_DNS_SERVICE_IP },
    defaultProfile: DEFAULT_PROFILE,
    profiles: {
      [DEFAULT_PROFILE]: { nameservers: [], searches: [], options: [{ name: "ndots", value: "5" }] },
    },
    excludedNamespaces: [...ALWAYS_EXCLUDED_NAMESPACES],
    injectorNamespace: DEFAULT_INJECTOR_NAMESPACE,
    webhook: { host: null, port: WEBHOOK_PORT, tlsCertFile: null, tlsKeyFile: null },
    ops: { host: null, port: OPS_PORT },
    logLevel: "info",
    audit: { enabled: true, intervalSeconds: 300 },
    admission: { mode: "webhook", validation: "warn" },
    guardian: {
      enabled: true,
      repair: "report",
      resyncSeconds: 30,
      reservationGuard: false,
      deletionGuard: true,
      leaseDurationSeconds: 15,
      renewDeadlineSeconds: 10,
      retryPeriodSeconds: 2,
    },
    certificates: {
      secretName: `${PRODUCT}-tls`,
      caSecretName: `${PRODUCT}-ca`,
      serviceName: WEBHOOK_SERVICE,
      extraDNSNames: [],
      extraIPs: [],
      caValidityDays: DEFAULT_CA_VALIDITY_DAYS,
      validityDays: DEFAULT_SERVING_VALIDITY_DAYS,
      renewFraction: DEFAULT_RENEWAL_FRACTION,
      checkIntervalSeconds: 60,
      rolloverGraceSeconds: 120,
      mutatingWebhookConfiguration: MUTATING_WEBHOOK_CONFIGURATION,
      validatingWebhookConfiguration: VALIDATING_WEBHOOK_CONFIGURATION,
    },
  };
}

export type SettingsResult = { ok: true; settings: Settings } | { ok: false; errors: string[] };

const TOP_LEVEL_KEYS = [
  "clusterDomain",
  "dnsService",
  "defaultProfile",
  "profiles",
  "excludedNamespaces",
  "injectorNamespace",
  "webhook",
  "ops",
  "logLevel",
  "guardian",
  "certificates",
  "audit",
  "admission",
] as const;
const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

type Obj = Record<string, unknown>;

/**
 * Validates a parsed configuration document on top of `base` (defaults, usually). Unknown
 * keys are errors, not ignored: a typo in a ConfigMap must not silently fall back to a default.
 * Errors name the field by its path, e.g. `profiles.team-a.options[1].name`.
 */
export function parseSettings(doc: unknown, base: Settings = defaultSettings()): SettingsResult {
  const errors: string[] = [];
  if (doc === null || doc === undefined) return { ok: true, settings: base };
  if (!isObject(doc)) return { ok: false, errors: ["configuration: must be a mapping (YAML object)"] };
  const s: Settings = structuredClone(base);
  checkKeys(doc, [...TOP_LEVEL_KEYS], "", errors);
  for (const section of SECTIONS) section(doc, s, errors);
  if (!s.profiles[s.defaultProfile]) errors.push(`defaultProfile: no profile named ${JSON.stringify(s.defaultProfile)} (have: ${Object.keys(s.profiles).join(", ")})`);
  if ((s.webhook.tlsCertFile === null) !== (s.webhook.tlsKeyFile === null)) {
    errors.push("webhook.tlsCertFile and webhook.tlsKeyFile: set both or neither");
  }
  return errors.length ? { ok: false, errors } : { ok: true, settings: s };
}

type Section = (doc: Obj, s: Settings, errors: string[]) => void;

const SECTIONS: Section[] = [
  function clusterDomain(doc, s, errors) {
    const d = doc.clusterDomain;
    if (d === undefined) return;
    if (typeof d !== "string" || !isDNSSubdomain(d)) errors.push(`clusterDomain: must be a lowercase DNS subdomain, got ${JSON.stringify(d)}`);
    else s.clusterDomain = d;
  },
  function dnsService(doc, s, errors) {
    const ds = doc.dnsService;
    if (ds === undefined) return;
    if (!isObject(ds)) {
      errors.push("dnsService: must be a mapping with namespace, name, clusterIP");
      return;
    }
    checkKeys(ds, ["namespace", "name", "clusterIP"], "dnsService", errors);
    if (ds.namespace !== undefined) {
      if (typeof ds.namespace !== "string" || !isNamespaceName(ds.namespace)) errors.push(`dnsService.namespace: not a valid namespace name: ${JSON.stringify(ds.namespace)}`);
      else s.dnsService.namespace = ds.namespace;
    }
    if (ds.name !== undefined) {
      if (typeof ds.name !== "string" || !isDNSLabel(ds.name)) errors.push(`dnsService.name: not a valid Service name: ${JSON.stringify(ds.name)}`);
      else s.dnsService.name = ds.name;
    }
    if (ds.clusterIP === null || ds.clusterIP === "") s.dnsService.clusterIP = null;
    else if (ds.clusterIP !== undefined) {
      const ip = typeof ds.clusterIP === "string" ? canonicalIP(ds.clusterIP) : null;
      if (!ip) errors.push(`dnsService.clusterIP: not an IP address: ${JSON.stringify(ds.clusterIP)}`);
      else s.dnsService.clusterIP = ip;
    }
  },
  function profiles(doc, s, errors) {
    if (doc.profiles !== undefined) {
      if (!isObject(doc.profiles)) errors.push("profiles: must be a mapping of profile name to profile");
      else
        for (const [name, raw] of Object.entries(doc.profiles)) {
          if (!isDNSLabel(name)) errors.push(`profiles.${name}: profile names must be DNS labels (lowercase, digits, '-')`);
          const p = parseProfile(raw, `profiles.${name}`, errors);
          if (p) s.profiles[name] = p;
        }
    }
    if (doc.defaultProfile !== undefined) {
      if (typeof doc.defaultProfile !== "string") errors.push("defaultProfile: must be a string");
      else s.defaultProfile = doc.defaultProfile;
    }
  },
  function namespaces(doc, s, errors) {
    const ex = doc.excludedNamespaces;
    if (ex !== undefined) {
      if (!Array.isArray(ex) || ex.some((n) => typeof n !== "string" || !isNamespaceName(n))) errors.push("excludedNamespaces: must be a list of namespace names");
      // The built-in exclusions cannot be removed: mutating kube-system pods risks the
      // cluster's own DNS and control plane (see the "deadlock avoidance" docs).
      else s.excludedNamespaces = [...new Set([...ALWAYS_EXCLUDED_NAMESPACES, ...(ex as string[])])];
    }
    if (doc.injectorNamespace !== undefined) {
      if (typeof doc.injectorNamespace !== "string" || !isNamespaceName(doc.injectorNamespace)) errors.push(`injectorNamespace: not a valid namespace name: ${JSON.stringify(doc.injectorNamespace)}`);
      else s.injectorNamespace = doc.injectorNamespace;
    }
  },
  function webhook(doc, s, errors) {
    const w = doc.webhook;
    if (w === undefined) return;
    if (!isObject(w)) {
      errors.push("webhook: must be a mapping");
      return;
    }
    checkKeys(w, ["host", "port", "tlsCertFile", "tlsKeyFile"], "webhook", errors);
    if (w.host !== undefined) s.webhook.host = w.host === null ? null : (stringField(w.host, "webhook.host", errors) ?? s.webhook.host);
    if (w.port !== undefined) s.webhook.port = portField(w.port, "webhook.port", errors) ?? s.webhook.port;
    if (w.tlsCertFile !== undefined) s.webhook.tlsCertFile = w.tlsCertFile === null ? null : stringField(w.tlsCertFile, "webhook.tlsCertFile", errors);
    if (w.tlsKeyFile !== undefined) s.webhook.tlsKeyFile = w.tlsKeyFile === null ? null : stringField(w.tlsKeyFile, "webhook.tlsKeyFile", errors);
  },
  function ops(doc, s, errors) {
    const o = doc.ops;
    if (o === undefined) return;
    if (!isObject(o)) {
      errors.push("ops: must be a mapping");
      return;
    }
    checkKeys(o, ["host", "port"], "ops", errors);
    if (o.host !== undefined) s.ops.host = o.host === null ? null : (stringField(o.host, "ops.host", errors) ?? s.ops.host);
    if (o.port !== undefined) s.ops.port = portField(o.port, "ops.port", errors) ?? s.ops.port;
  },
  function guardian(doc, s, errors) {
    applyChecks(doc.guardian, "guardian", s.guardian as unknown as Obj, errors, {
      enabled: boolean,
      reservationGuard: boolean,
      deletionGuard: boolean,
      repair: oneOf("report", "recreate"),
      resyncSeconds: seconds,
      leaseDurationSeconds: seconds,
      renewDeadlineSeconds: seconds,
      retryPeriodSeconds: seconds,
    });
    const { leaseDurationSeconds: lease, renewDeadlineSeconds: renew, retryPeriodSeconds: retry } = s.guardian;
    // client-go's rule: a leader must give up before others may take over, and retry within that.
    if (!(lease > renew && renew > retry)) errors.push(`guardian: need leaseDurationSeconds > renewDeadlineSeconds > retryPeriodSeconds (got ${lease} > ${renew} > ${retry})`);
  },
  function certificates(doc, s, errors) {
    if (doc.certificates === undefined) return;
    const secretName: Check = (v) => (typeof v === "string" && isDNSSubdomain(v) ? { value: v } : { error: `not a valid Secret name (a lowercase DNS subdomain): ${JSON.stringify(v)}` });
    // Fractions of a day are allowed (tests use lifetimes of seconds); 100 years keeps dates sane.
    const days: Check = (v) => (typeof v === "number" && Number.isFinite(v) && v > 0 && v <= 36500 ? { value: v } : { error: `a number of days greater than 0 and at most 36500, got ${JSON.stringify(v)}` });
    const configuration: Check = (v) =>
      v === null || v === "" ? { value: null } : typeof v === "string" && isDNSSubdomain(v) ? { value: v } : { error: `a configuration name (lowercase DNS subdomain) or null, got ${JSON.stringify(v)}` };
    const list =
      (what: string, item: (x: unknown) => string | null): Check =>
      (v) => {
        if (!Array.isArray(v)) return { error: `must be a list of ${what}s` };
        const out: string[] = [];
        for (const [i, x] of v.entries()) {
          const ok = item(x);
          if (ok === null) return { at: `[${i}]`, error: `not a valid ${what}: ${JSON.stringify(x)}` };
          out.push(ok);
        }
        return { value: [...new Set(out)] };
      };
    const dnsName = (x: unknown) => (typeof x === "string" && isCertificateDNSName(x) ? x : null);
    const checks: Record<keyof CertificateSettings, Check> = {
      secretName,
      caSecretName: secretName,
      serviceName: (v) => (typeof v === "string" && isDNSLabel(v) ? { value: v } : { error: `not a valid Service name (a DNS label): ${JSON.stringify(v)}` }),
      extraDNSNames: list("lowercase DNS name", dnsName),
      extraIPs: list("IP address", (x) => (typeof x === "string" ? canonicalIP(x) : null)),
      caValidityDays: days,
      validityDays: days,
      renewFraction: (v) => (isValidRenewalFraction(v) ? { value: v } : { error: `a number strictly between 0 and 1 (e.g. 0.6667: renew with a third of the lifetime left), got ${JSON.stringify(v)}` }),
      checkIntervalSeconds: seconds,
      rolloverGraceSeconds: seconds,
      mutatingWebhookConfiguration: configuration,
      validatingWebhookConfiguration: configuration,
    };
    applyChecks(doc.certificates, "certificates", s.certificates as unknown as Obj, errors, checks);
    const cs = s.certificates;
    if (cs.secretName === cs.caSecretName) errors.push(`certificates.secretName and certificates.caSecretName: must differ (both ${JSON.stringify(cs.secretName)}): the CA key must not sit in the serving Secret`);
  },
  function audit(doc, s, errors) {
    applyChecks(doc.audit, "audit", s.audit, errors, { enabled: boolean, intervalSeconds: seconds });
  },
  function admission(doc, s, errors) {
    applyChecks(doc.admission, "admission", s.admission as unknown as Obj, errors, { mode: oneOf(...ADMISSION_MODES), validation: oneOf("warn", "deny") });
  },
  function logLevel(doc, s, errors) {
    if (doc.logLevel === undefined) return;
    if (typeof doc.logLevel !== "string" || !(LOG_LEVELS as readonly string[]).includes(doc.logLevel)) errors.push(`logLevel: one of ${LOG_LEVELS.join(", ")}`);
    else s.logLevel = doc.logLevel as Settings["logLevel"];
  },
];

function parseProfile(raw: unknown, path: string, errors: string[]): Profile | null {
  if (!isObject(raw)) {
    errors.push(`${path}: must be a mapping with nameservers, searches, options, ndots`);
    return null;
  }
  checkKeys(raw, ["nameservers", "searches", "options", "ndots"], path, errors);
  const before = errors.length;
  const profile: Profile = { nameservers: [], searches: [], options: [] };
  if (raw.nameservers !== undefined) {
    if (!Array.isArray(raw.nameservers)) errors.push(`${path}.nameservers: must be a list of IP addresses`);
    else
      raw.nameservers.forEach((ns, i) => {
        const ip = typeof ns === "string" ? canonicalIP(ns) : null;
        if (!ip) errors.push(`${path}.nameservers[${i}]: not an IP address: ${JSON.stringify(ns)}`);
        else profile.nameservers.push(ip);
      });
    if (profile.nameservers.length > 3) errors.push(`${path}.nameservers: at most 3 (the resolver's limit)`);
  }
  if (raw.searches !== undefined) {
    if (!Array.isArray(raw.searches)) errors.push(`${path}.searches: must be a list of DNS subdomains`);
    else
      raw.searches.forEach((d, i) => {
        if (typeof d !== "string" || !isDNSSubdomain(d)) errors.push(`${path}.searches[${i}]: not a lowercase DNS subdomain: ${JSON.stringify(d)}`);
        else profile.searches.push(d);
      });
  }
  if (raw.options !== undefined) {
    if (!Array.isArray(raw.options)) errors.push(`${path}.options: must be a list of {name, value}`);
    else
      raw.options.forEach((o, i) => {
        if (!isObject(o) || typeof o.name !== "string" || o.name === "") {
          errors.push(`${path}.options[${i}].name: required, a non-empty string`);
          return;
        }
        checkKeys(o, ["name", "value"], `${path}.options[${i}]`, errors);
        if (o.value !== undefined && o.value !== null && typeof o.value !== "string" && typeof o.value !== "number") {
          errors.push(`${path}.options[${i}].value: must be a string`);
          return;
        }
        profile.options.push(o.value === undefined || o.value === null ? { name: o.name } : { name: o.name, value: String(o.value) });
      });
  }
  if (raw.ndots !== undefined) {
    const n = raw.ndots;
    if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 15) errors.push(`${path}.ndots: an integer from 0 to 15 (glibc caps ndots at 15)`);
    else {
      profile.options = profile.options.filter((o) => o.name !== "ndots");
      profile.options.unshift({ name: "ndots", value: String(n) });
    }
  }
  return errors.length === before ? profile : null;
}

function checkKeys(o: Obj, known: string[], path: string, errors: string[]): void {
  for (const k of Object.keys(o)) if (!known.includes(k)) errors.push(`${path ? `${path}.` : ""}${k}: unknown setting (known: ${known.join(", ")})`);
}

/** One setting's check: its parsed value, or why not (`at` narrows the path, e.g. `[2]`). */
type Check = (v: unknown) => { value: unknown } | { error: string; at?: string };

const boolean: Check = (v) => (typeof v === "boolean" ? { value: v } : { error: "must be true or false" });
const seconds: Check = (v) => (typeof v === "number" && Number.isFinite(v) && v > 0 && v <= 86400 ? { value: v } : { error: `a number of seconds greater than 0 and at most 86400, got ${JSON.stringify(v)}` });
const oneOf =
  (...values: string[]): Check =>
  (v) => (typeof v === "string" && values.includes(v) ? { value: v } : { error: `one of ${values.join(", ")}, got ${JSON.stringify(v)}` });

/**
 * Validates the mapping `raw` of section `path` key by key with `checks` (unknown keys are
 * errors) and writes each valid value into `target`.
 */
function applyChecks(raw: unknown, path: string, target: Obj, errors: string[], checks: Record<string, Check>): void {
  if (raw === undefined) return;
  if (!isObject(raw)) {
    errors.push(`${path}: must be a mapping`);
    return;
  }
  checkKeys(raw, Object.keys(checks), path, errors);
  for (const [k, check] of Object.entries(checks)) {
    if (raw[k] === undefined) continue;
    const r = check(raw[k]);
    if ("error" in r) errors.push(`${path}.${k}${r.at ?? ""}: ${r.error}`);
    else target[k] = r.value;
  }
}

function stringField(v: unknown, path: string, errors: string[]): string | null {
  if (typeof v !== "string" || v === "") {
    errors.push(`${path}: must be a non-empty string`);
    return null;
  }
  return v;
}

function portField(v: unknown, path: string, errors: string[]): number | null {
  const n = typeof v === "string" && /^\d+$/.test(v) ? Number(v) : v;
  if (typeof n !== "number" || !Number.isInteger(n) || n < 0 || n > 65535) {
    errors.push(`${path}: a port number from 0 to 65535, got ${JSON.stringify(v)}`);
    return null;
  }
  return n;
}

/** All namespaces the webhook must never mutate, including the injector's own. */
export function excludedNamespaces(settings: Settings): ReadonlySet<string> {
  // Asked on every admission review: built once per Settings object (settings are never
  // changed in place; a reload makes a new one).
  let set = excludedCache.get(settings);
  if (!set) excludedCache.set(settings, (set = new Set([...settings.excludedNamespaces, settings.injectorNamespace])));
  return set;
}

const excludedCache = new WeakMap<Settings, ReadonlySet<string>>();
