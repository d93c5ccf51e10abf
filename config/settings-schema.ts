/**
 * The one description of the configuration file: a JSON Schema (draft-07) with every
 * setting's type, limits, default, the error text a bad value gets, and whether a reload
 * applies it. config/settings.ts validates with it and derives the defaults from it; the
 * documented ConfigMap and the README are tested against it; a Helm chart can emit it as
 * values.schema.json (settingsJSONSchema). Pure: no fs, no env.
 */
import { isDeepStrictEqual } from "node:util";
import {
  ADMISSION_MODES,
  ALWAYS_EXCLUDED_NAMESPACES,
  AUDIT_REPORTS_CHOICES,
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
import { DEFAULT_CA_VALIDITY_DAYS, DEFAULT_RENEWAL_FRACTION, DEFAULT_SERVING_VALIDITY_DAYS } from "./certificate-defaults.js";
import type { Settings } from "./settings.js";
import { DEFAULT_NODE_LOCAL_DNS_ADDRESS, DNS_SERVICE_TOKEN, NODE_LOCAL_DNS_PROFILE, NODE_LOCAL_DNS_TOKEN } from "./nameserver-tokens.js";

type JSONType = "string" | "number" | "integer" | "boolean" | "array" | "object" | "null";

/** The part of JSON Schema draft-07 the settings use, plus two annotations of ours (`x-*`). */
export interface SchemaNode {
  readonly type?: JSONType | readonly JSONType[];
  readonly title?: string;
  readonly description?: string;
  readonly default?: unknown;
  readonly properties?: Readonly<Record<string, SchemaNode>>;
  readonly additionalProperties?: boolean | SchemaNode;
  readonly propertyNames?: SchemaNode;
  readonly items?: SchemaNode;
  readonly required?: readonly string[];
  readonly enum?: readonly string[];
  readonly anyOf?: readonly SchemaNode[];
  readonly const?: unknown;
  /** Our formats (DNS names, IPs, ports as text): config/settings.ts backs them with config/dns-limits.ts. */
  readonly format?: "dns-subdomain" | "dns-label" | "namespace-name" | "certificate-dns-name" | "ip-address" | "nameserver-entry" | "port";
  readonly minimum?: number;
  readonly maximum?: number;
  readonly exclusiveMinimum?: number;
  readonly exclusiveMaximum?: number;
  readonly minLength?: number;
  readonly maxItems?: number;
  /**
   * `restart`: `serve` reads it once when it starts (a listener, an informer, the Lease, the
   * certificate authority was built from it), so a reload that changes it only warns.
   * Inherited by everything below; unmarked settings are re-read on every reload.
   */
  readonly "x-reload"?: "restart" | "live";
  /**
   * The error text for a value that fails here, after `<path>: `; `{got}` becomes the value as
   * JSON. A record picks the text by the failing JSON Schema keyword (`default`: any other).
   */
  readonly "x-error"?: string | Readonly<Record<string, string>>;
}

const LOG_LEVELS = ["fatal", "error", "warn", "info", "debug", "trace"] as const;

const seconds = (value: number, description: string) =>
  ({ type: "number", exclusiveMinimum: 0, maximum: 86400, default: value, description, "x-error": "a number of seconds greater than 0 and at most 86400, got {got}" }) as const;
// Fractions of a day are allowed (tests use lifetimes of seconds); 100 years keeps dates sane.
const days = (value: number, description: string) =>
  ({ type: "number", exclusiveMinimum: 0, maximum: 36500, default: value, description, "x-error": "a number of days greater than 0 and at most 36500, got {got}" }) as const;
const boolean = (value: boolean, description: string) => ({ type: "boolean", default: value, description, "x-error": "must be true or false" }) as const;
const restart = <T extends SchemaNode>(node: T) => ({ ...node, "x-reload": "restart" }) as const;
// A port from a YAML file may be quoted ("9090"); the text must still be a port.
const port = (value: number, description: string) =>
  ({ type: ["integer", "string"], format: "port", minimum: 0, maximum: 65535, default: value, description, "x-error": "a port number from 0 to 65535, got {got}" }) as const;
const optionalText = (description: string) => ({ type: ["string", "null"], minLength: 1, default: null, description, "x-error": "must be a non-empty string" }) as const;
// "" and null both mean "none": a Helm value or an env-substituted file often cannot say null.
const noneOr = <T extends SchemaNode>(node: T) => [{ type: "null" }, { const: "" }, node] as const;
const secretName = (value: string, description: string) =>
  ({ type: "string", format: "dns-subdomain", default: value, description, "x-error": "not a valid Secret name (a lowercase DNS subdomain): {got}" }) as const;
const configurationName = (value: string, description: string) =>
  ({
    type: ["string", "null"],
    anyOf: noneOr({ type: "string", format: "dns-subdomain" }),
    default: value,
    description,
    "x-error": "a configuration name (lowercase DNS subdomain) or null, got {got}",
  }) as const;

const PROFILE_SCHEMA = {
  type: "object",
  description: "A DNS profile: what a namespace opts into with the annotation pod-dns-injector.io/profile.",
  additionalProperties: false,
  "x-error": "must be a mapping with nameservers, searches, options, ndots, maxSearchLineBytes",
  properties: {
    nameservers: {
      type: "array",
      description: `Nameservers in order, at most 3 (the resolver's limit): IP addresses and the tokens ${DNS_SERVICE_TOKEN} (the DNS Service's live clusterIP) and ${NODE_LOCAL_DNS_TOKEN} (nodeLocalDNS.address); empty: [${DNS_SERVICE_TOKEN}].`,
      maxItems: 3,
      items: { type: "string", format: "nameserver-entry", "x-error": `neither an IP address nor ${DNS_SERVICE_TOKEN} or ${NODE_LOCAL_DNS_TOKEN}: {got}` },
      default: [DNS_SERVICE_TOKEN],
      "x-error": { default: `must be a list of IP addresses, ${DNS_SERVICE_TOKEN} or ${NODE_LOCAL_DNS_TOKEN}`, maxItems: "at most 3 (the resolver's limit)" },
    },
    searches: {
      type: "array",
      description: "Search domains appended after <ns>.svc.<domain>, svc.<domain>, <domain>.",
      items: { type: "string", format: "dns-subdomain", "x-error": "not a lowercase DNS subdomain: {got}" },
      default: [],
      "x-error": "must be a list of DNS subdomains",
    },
    options: {
      type: "array",
      description: 'Resolver options, e.g. {name: ndots, value: "5"}; a pod\'s own options override them by name.',
      items: {
        type: "object",
        additionalProperties: false,
        required: ["name"],
        "x-error": "must be a mapping {name, value}",
        properties: {
          name: { type: "string", minLength: 1, "x-error": "required, a non-empty string" },
          value: { type: ["string", "number", "null"], "x-error": "must be a string" },
        },
      },
      default: [],
      "x-error": "must be a list of {name, value}",
    },
    ndots: {
      type: "integer",
      minimum: 0,
      maximum: 15,
      description: "Shorthand for the ndots option (it replaces one in options).",
      "x-error": "an integer from 0 to 15 (glibc caps ndots at 15)",
    },
    maxSearchLineBytes: {
      type: "integer",
      minimum: 16,
      maximum: 2055,
      description:
        "Cut the search list so that resolv.conf's line 'search a b c' has at most this many characters; 254 keeps it readable by musl (Alpine), which ignores a longer line. Unset: only the API server's 2048-character limit cuts, with a warning over 254.",
      "x-error": "an integer from 16 to 2055 (254: musl's limit)",
    },
  },
} as const satisfies SchemaNode;

/**
 * The configuration file's schema. Property order is the documented order (the ConfigMap's)
 * and the order "known:" lists in an unknown-setting error.
 */
export const SETTINGS_SCHEMA = {
  $schema: "http://json-schema.org/draft-07/schema#",
  title: "pod-dns-injector configuration",
  description:
    "The YAML file `pod-dns-injector serve --config` reads (the ConfigMap's config.yaml); environment variables and flags override it. Unknown keys are errors: a typo must not silently fall back to a default.",
  type: "object",
  additionalProperties: false,
  "x-error": "must be a mapping (YAML object)",
  properties: {
    clusterDomain: {
      type: "string",
      format: "dns-subdomain",
      default: DEFAULT_CLUSTER_DOMAIN,
      // The self-issued serving certificate's names use it too; those follow at the next restart.
      description: "Kubelet's --cluster-domain.",
      "x-error": "must be a lowercase DNS subdomain, got {got}",
    },
    dnsService: {
      type: "object",
      description: "The DNS Service and the fixed clusterIP kubelet's --cluster-dns points at.",
      additionalProperties: false,
      "x-error": "must be a mapping with namespace, name, clusterIP",
      properties: {
        // The informer watches this one Service from the start.
        namespace: restart({
          type: "string",
          format: "namespace-name",
          default: DEFAULT_DNS_SERVICE.namespace,
          description: "Namespace of the DNS Service.",
          "x-error": "not a valid namespace name: {got}",
        }),
        name: restart({
          type: "string",
          format: "dns-label",
          default: DEFAULT_DNS_SERVICE.name,
          description: "Name of the DNS Service (kubeadm: kube-dns, also for CoreDNS).",
          "x-error": "not a valid Service name: {got}",
        }),
        clusterIP: {
          type: ["string", "null"],
          anyOf: noneOr({ type: "string", format: "ip-address" }),
          default: DEFAULT_DNS_SERVICE_IP,
          description: "The fixed IP the DNS Service must keep (kubeadm: the 10th address of the service CIDR); null: learn it from the Service.",
          "x-error": "not an IP address: {got}",
        },
      },
    },
    dnsServices: restart({
      type: "array",
      description:
        "Several DNS Services in order, for a Service-CIDR migration: dnsService then stands for all their clusterIPs, the first Service's first (new first, old as fallback), and the guardian keeps each on its own fixed IP. Only the listed Services are watched and guarded (list dnsService's own to keep it; an entry naming it takes its clusterIP). Empty: dnsService alone.",
      // Resolvers take 3 nameservers; more Services could never all be injected.
      maxItems: 3,
      items: {
        type: "object",
        additionalProperties: false,
        required: ["namespace", "name"],
        "x-error": "must be a mapping with namespace, name and (optional) clusterIP",
        properties: {
          namespace: { type: "string", format: "namespace-name", "x-error": "not a valid namespace name: {got}" },
          name: { type: "string", format: "dns-label", "x-error": "not a valid Service name: {got}" },
          clusterIP: {
            type: ["string", "null"],
            anyOf: noneOr({ type: "string", format: "ip-address" }),
            "x-error": "not an IP address: {got}",
          },
        },
      },
      default: [],
      "x-error": { default: "must be a list of {namespace, name, clusterIP}", maxItems: "at most 3 (the resolver's limit of nameservers)" },
    }),
    nodeLocalDNS: {
      type: "object",
      description: "NodeLocal DNSCache, what the nameserver token nodeLocalDNS (and the built-in profile node-local-dns) stands for.",
      additionalProperties: false,
      "x-error": "must be a mapping with address",
      properties: {
        address: {
          type: "string",
          format: "ip-address",
          default: DEFAULT_NODE_LOCAL_DNS_ADDRESS,
          description: "The address node-local-dns listens on on every node (its -localip; the link-local 169.254.20.10 by default).",
          "x-error": "not an IP address: {got}",
        },
      },
    },
    defaultProfile: { type: "string", default: DEFAULT_PROFILE, description: "The profile of a namespace that names none (or an unknown one).", "x-error": "must be a string" },
    profiles: {
      type: "object",
      description: "DNS profiles by name; a profile given here replaces the built-in one of that name.",
      propertyNames: { format: "dns-label", "x-error": "profile names must be DNS labels (lowercase, digits, '-')" },
      additionalProperties: PROFILE_SCHEMA,
      default: {
        [DEFAULT_PROFILE]: { nameservers: [DNS_SERVICE_TOKEN], searches: [], options: [{ name: "ndots", value: "5" }] },
        // NodeLocal DNSCache first, the DNS Service as fallback. glibc asks nameservers in
        // order and waits 5 s for each by default: with a dead node cache every lookup would
        // wait 5 s before the fallback (kubernetes/dns#310, #732); timeout:1 makes it 1 s.
        [NODE_LOCAL_DNS_PROFILE]: {
          nameservers: [NODE_LOCAL_DNS_TOKEN, DNS_SERVICE_TOKEN],
          searches: [],
          options: [
            { name: "ndots", value: "5" },
            { name: "timeout", value: "1" },
            { name: "attempts", value: "2" },
          ],
        },
      },
      "x-error": "must be a mapping of profile name to profile",
    },
    excludedNamespaces: {
      type: "array",
      description:
        "Namespaces never mutated. kube-system, kube-public, kube-node-lease and the injector's own always are: mutating the control plane's pods risks the cluster's own DNS.",
      items: { type: "string", format: "namespace-name", "x-error": "not a valid namespace name: {got}" },
      default: [...ALWAYS_EXCLUDED_NAMESPACES],
      "x-error": "must be a list of namespace names",
    },
    injectorNamespace: restart({
      type: "string",
      format: "namespace-name",
      default: DEFAULT_INJECTOR_NAMESPACE,
      description: "The injector's own namespace (its Lease, Secrets, Events); POD_NAMESPACE (downward API) wins.",
      "x-error": "not a valid namespace name: {got}",
    }),
    webhook: restart({
      type: "object",
      description: "The HTTPS admission server.",
      additionalProperties: false,
      "x-error": "must be a mapping",
      properties: {
        host: optionalText("Listen address; null: 0.0.0.0 in cluster mode, 127.0.0.1 standalone."),
        port: port(WEBHOOK_PORT, "HTTPS port of /mutate and /validate."),
        tlsCertFile: optionalText("PEM certificate file (e.g. from cert-manager); set with tlsKeyFile, or neither for a self-managed certificate."),
        tlsKeyFile: optionalText("PEM key file for tlsCertFile."),
      },
    }),
    ops: restart({
      type: "object",
      description: "The plain-HTTP server of /healthz, /readyz and /metrics.",
      additionalProperties: false,
      "x-error": "must be a mapping",
      properties: {
        host: optionalText("Listen address; null: as webhook.host."),
        port: port(OPS_PORT, "HTTP port of the probes and metrics."),
      },
    }),
    windows: {
      type: "string",
      enum: ["inject", "skip"],
      default: "inject",
      description:
        "Windows pods (spec.os.name or nodeSelector kubernetes.io/os: windows): inject nameservers and searches without resolver options, which Windows ignores (with a warning), or skip them.",
      "x-error": "one of inject, skip",
    },
    logLevel: { type: "string", enum: LOG_LEVELS, default: "info", description: "pino log level.", "x-error": `one of ${LOG_LEVELS.join(", ")}` },
    guardian: {
      type: "object",
      description: "The DNS Service guardian (cluster mode, leader only).",
      additionalProperties: false,
      "x-error": "must be a mapping",
      properties: {
        enabled: restart(boolean(true, "Watch the DNS Service and repair it.")),
        repair: {
          type: "string",
          enum: ["report", "recreate"],
          default: "report",
          description: "When the Service exists with another clusterIP: report it, or recreate it on the fixed IP (delete + create).",
          "x-error": "one of report, recreate, got {got}",
        },
        resyncSeconds: seconds(30, "Periodic full re-check, in case any events were missed."),
        reservationGuard: boolean(false, "/validate denies other Services that request the reserved IP."),
        deletionGuard: boolean(true, '/validate refuses deleting or breaking the DNS Service unless it carries pod-dns-injector.io/allow-delete: "true".'),
        // Leader election on a coordination.k8s.io/v1 Lease, client-go's defaults (15/10/2).
        leaseDurationSeconds: restart(seconds(15, "How long a Lease holds without renewal.")),
        renewDeadlineSeconds: restart(seconds(10, "How long the leader keeps trying to renew before it gives up.")),
        retryPeriodSeconds: restart(seconds(2, "How often candidates try to acquire or renew.")),
      },
    },
    audit: {
      type: "object",
      description: "The background audit in serve (cluster mode, leader only): PolicyReports and/or OpenReports Reports (audit.reports) and non-conformance gauges.",
      additionalProperties: false,
      "x-error": "must be a mapping",
      properties: {
        enabled: restart(boolean(true, "Run the background audit.")),
        intervalSeconds: restart(seconds(300, "Schedule of the audit (it also runs when a namespace, the DNS Service IP or this file changes).")),
        // Live: every audit run reads it, so a reload switches the API at the next run.
        reports: {
          type: "string",
          enum: AUDIT_REPORTS_CHOICES,
          default: "wgpolicyk8s",
          description: "Which reports the audit writes: wgpolicyk8s (wgpolicyk8s.io/v1alpha2 PolicyReports), openreports (openreports.io/v1alpha1 Reports) or both.",
          "x-error": `one of ${AUDIT_REPORTS_CHOICES.join(", ")}`,
        },
      },
    },
    admission: {
      type: "object",
      description: "Who injects pods: the webhook, the in-tree MutatingAdmissionPolicy kept by the leader (Kubernetes >= 1.36), or both.",
      additionalProperties: false,
      "x-error": "must be a mapping",
      properties: {
        // Restart-only: which parts run (the policy keeper, the mode gauge) is wired at start.
        mode: restart({
          type: "string",
          enum: ADMISSION_MODES,
          default: "webhook",
          description: "webhook: the MutatingWebhookConfiguration calls /mutate; policy: the leader keeps the rendered policies applied; both.",
          "x-error": `one of ${ADMISSION_MODES.join(", ")}`,
        }),
        validation: {
          type: "string",
          enum: ["warn", "deny"],
          default: "warn",
          description: "What the ValidatingAdmissionPolicy does with a pod whose final DNS does not conform.",
          "x-error": "one of warn, deny",
        },
      },
    },
    certificates: restart({
      type: "object",
      description:
        "The injector's own certificate authority (cluster mode without webhook.tlsCertFile): a CA and serving certificate in Secrets in its namespace, caBundles kept right, renewed in place.",
      additionalProperties: false,
      "x-error": "must be a mapping",
      properties: {
        secretName: secretName(`${PRODUCT}-tls`, "kubernetes.io/tls Secret with tls.crt, tls.key and ca.crt (the trusted CAs)."),
        caSecretName: secretName(`${PRODUCT}-ca`, "Secret with the CA key (and, during a rollover, the next or previous CA)."),
        serviceName: {
          type: "string",
          format: "dns-label",
          default: WEBHOOK_SERVICE,
          description: "The webhook Service; its DNS names go into the serving certificate.",
          "x-error": "not a valid Service name (a DNS label): {got}",
        },
        extraDNSNames: {
          type: "array",
          description: "More DNS names for the serving certificate (e.g. localhost for a webhook registered by URL).",
          items: { type: "string", format: "certificate-dns-name", "x-error": "not a valid lowercase DNS name: {got}" },
          default: [],
          "x-error": "must be a list of lowercase DNS names",
        },
        extraIPs: {
          type: "array",
          description: "IP addresses for the serving certificate (e.g. 127.0.0.1).",
          items: { type: "string", format: "ip-address", "x-error": "not a valid IP address: {got}" },
          default: [],
          "x-error": "must be a list of IP addresses",
        },
        caValidityDays: days(DEFAULT_CA_VALIDITY_DAYS, "CA lifetime in days (fractions allowed)."),
        validityDays: days(DEFAULT_SERVING_VALIDITY_DAYS, "Serving-certificate lifetime in days (fractions allowed; clamped into the CA's)."),
        renewFraction: {
          type: "number",
          exclusiveMinimum: 0,
          exclusiveMaximum: 1,
          default: DEFAULT_RENEWAL_FRACTION,
          description: "Renew (and roll the CA over) once this fraction of the lifetime has passed.",
          "x-error": "a number strictly between 0 and 1 (e.g. 0.6667: renew with a third of the lifetime left), got {got}",
        },
        checkIntervalSeconds: seconds(60, "Periodic re-read of the Secrets and webhook configurations, in case any events were missed."),
        rolloverGraceSeconds: seconds(
          120,
          "How long each CA-rollover step waits for every replica and the API server to pick up the previous one; keep it above checkIntervalSeconds, so that a replica which missed a watch event has re-checked before the old CA is dropped.",
        ),
        mutatingWebhookConfiguration: configurationName(
          MUTATING_WEBHOOK_CONFIGURATION,
          "MutatingWebhookConfiguration whose caBundles are kept equal to the trusted CAs; null: none.",
        ),
        validatingWebhookConfiguration: configurationName(VALIDATING_WEBHOOK_CONFIGURATION, "As above, for the ValidatingWebhookConfiguration, when it exists; null: none."),
      },
    }),
  },
} as const satisfies SchemaNode & { $schema: string };

/**
 * The schema as plain JSON, for a Helm chart's values.schema.json or an editor. Our formats
 * are names only there: validators that do not know them accept any string.
 */
export function settingsJSONSchema(): Record<string, unknown> {
  return structuredClone(SETTINGS_SCHEMA);
}

/**
 * The defaults as a configuration document: each setting's `default`, nested as in the file.
 * This is what the documented ConfigMap must say, word for word.
 */
export function defaultsDocument(node: SchemaNode = SETTINGS_SCHEMA): unknown {
  if (!node.properties) return structuredClone(node.default);
  const doc: Record<string, unknown> = {};
  for (const [key, child] of Object.entries(node.properties)) {
    const value = defaultsDocument(child);
    if (value !== undefined) doc[key] = value;
  }
  return doc;
}

/**
 * Dotted paths of the settings marked `x-reload: restart` (inherited from their section), in
 * schema order, e.g. `webhook.port`. Profiles are never restart-only.
 */
export function restartOnlySettings(): string[] {
  const out: string[] = [];
  const walk = (node: SchemaNode, path: string, restartOnly: boolean) => {
    const here = node["x-reload"] ? node["x-reload"] === "restart" : restartOnly;
    if (!node.properties) {
      if (here) out.push(path);
      return;
    }
    for (const [key, child] of Object.entries(node.properties)) walk(child, path ? `${path}.${key}` : key, here);
  };
  walk(SETTINGS_SCHEMA, "", false);
  return out;
}

const valueAt = (settings: Settings, path: string): unknown => path.split(".").reduce<unknown>((v, key) => (v as Record<string, unknown>)[key], settings);

/**
 * The restart-only settings (restartOnlySettings) whose values differ between `before` and
 * `after`, as dotted paths: what a reload cannot apply to a running `serve`.
 */
export function restartOnlyChanges(before: Settings, after: Settings): string[] {
  return restartOnlySettings().filter((path) => !isDeepStrictEqual(valueAt(before, path), valueAt(after, path)));
}

/**
 * `reloaded`, with every restart-only setting kept at its value in `running`: a reload must
 * not half-apply one (the guardian looking for a renamed DNS Service that the informer,
 * started with the old name, never sees would read it as deleted).
 */
export function keepRestartOnly(running: Settings, reloaded: Settings): Settings {
  const out = structuredClone(reloaded);
  for (const path of restartOnlySettings()) {
    const keys = path.split(".");
    const last = keys.pop() as string;
    const parent = keys.reduce<Record<string, unknown>>((v, key) => v[key] as Record<string, unknown>, out as unknown as Record<string, unknown>);
    parent[last] = structuredClone(valueAt(running, path));
  }
  return out;
}
