/**
 * The Helm chart's generated files, derived from the one description of the settings
 * (config/settings-schema.ts): values.schema.json, where every setting of the configuration
 * file is a top-level value with the same default, next to the chart's own values (image,
 * replicas, the overlays as switches) described here; and templates/_settings.tpl, which
 * writes exactly those settings into the ConfigMap. `npm run chart:generate` writes both; a
 * unit test fails when a committed file differs, and another checks values.yaml against them.
 *
 * Helm validates values with a JSON Schema validator that knows none of our formats, so
 * each one becomes the pattern (and length limit) it stands for: a bad DNS name or IP
 * address is refused by `helm install` itself, naming the value's path.
 */
import { SETTINGS_SCHEMA, type SchemaNode } from "../config/settings-schema.js";
import { PRODUCT } from "../config/names.js";
import { NAMESERVER_TOKENS } from "../config/nameserver-tokens.js";

/** The chart's folder, relative to the repository root. */
export const CHART_DIR = `charts/${PRODUCT}`;

// RE2 (Go's regexp, what Helm's validator uses) has no look-ahead: lengths go in maxLength.
const LABEL = "[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?";
const SUBDOMAIN = `${LABEL}(\\.${LABEL})*`;
const IPV4_OCTET = "(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])";
const IPV4 = `${IPV4_OCTET}(\\.${IPV4_OCTET}){3}`;
// The shape of an IPv6 address; the injector's own check (canonical form) is stricter.
const IPV6 = "[0-9a-fA-F]{0,4}(:[0-9a-fA-F]{0,4}){2,7}(:" + IPV4 + ")?";

type Format = NonNullable<SchemaNode["format"]>;
const FORMATS: Record<Format, { pattern: string; maxLength?: number; description: string }> = {
  "dns-subdomain": { pattern: `^${SUBDOMAIN}$`, maxLength: 253, description: "a lowercase DNS-1123 subdomain" },
  "dns-label": { pattern: `^${LABEL}$`, maxLength: 63, description: "a lowercase DNS-1123 label" },
  "namespace-name": { pattern: `^${LABEL}$`, maxLength: 63, description: "a namespace name (DNS-1123 label)" },
  "certificate-dns-name": { pattern: `^(\\*\\.)?${SUBDOMAIN}$`, maxLength: 255, description: "a lowercase DNS name, optionally *. wildcard" },
  "ip-address": { pattern: `^(${IPV4}|${IPV6})$`, description: "an IPv4 or IPv6 address" },
  "nameserver-entry": { pattern: `^(${IPV4}|${IPV6}|${NAMESERVER_TOKENS.join("|")})$`, description: `an IP address, ${NAMESERVER_TOKENS.join(" or ")}` },
  port: { pattern: "^[0-9]{1,5}$", description: "a port number" },
};

/** A settings node as plain JSON Schema: our formats become patterns, our `x-*` marks go. */
function portable(node: SchemaNode): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (const [key, value] of Object.entries(node)) {
    if (key.startsWith("x-") || key === "$schema") continue;
    if (key === "format") {
      const f = FORMATS[value as Format];
      out.pattern = f.pattern;
      if (f.maxLength !== undefined) out.maxLength = f.maxLength;
      out.description ??= f.description;
      continue;
    }
    if (key === "properties") out.properties = Object.fromEntries(Object.entries(value as Record<string, SchemaNode>).map(([k, v]) => [k, portable(v)]));
    else if (key === "anyOf") out.anyOf = (value as SchemaNode[]).map(portable);
    else if ((key === "items" || key === "propertyNames" || key === "additionalProperties") && typeof value === "object") out[key] = portable(value as SchemaNode);
    else out[key] = structuredClone(value);
  }
  return out;
}

const FAILURE_POLICIES = ["Ignore", "Fail"] as const;

/**
 * The chart's own values (not settings of the configuration file). Their defaults render
 * exactly the kustomize base (test/e2e/helm-chart.test.ts compares the two).
 */
export const CHART_VALUES_SCHEMA = {
  image: {
    type: "object",
    description: "The injector's container image.",
    additionalProperties: false,
    properties: {
      repository: { type: "string", minLength: 1, default: `ghcr.io/${PRODUCT}/${PRODUCT}`, description: "Image name without the tag." },
      tag: { type: "string", default: "", description: "Image tag; empty: the chart's appVersion." },
      pullPolicy: { type: "string", enum: ["Always", "IfNotPresent", "Never"], default: "IfNotPresent", description: "imagePullPolicy of the container." },
    },
  },
  imagePullSecrets: {
    type: "array",
    description: "Secrets for pulling the image from a private registry, as [{name: regcred}].",
    items: { type: "object", required: ["name"], properties: { name: { type: "string", minLength: 1 } } },
    default: [],
  },
  replicaCount: {
    type: "integer",
    minimum: 1,
    default: 2,
    description: "Replicas of the Deployment; the PodDisruptionBudget keeps one available, so 1 blocks node drains.",
  },
  resources: {
    type: "object",
    description: "The container's resources (see manifests/base/deployment.yaml for why these numbers).",
    default: { requests: { cpu: "50m", memory: "96Mi" }, limits: { memory: "384Mi" } },
  },
  nodeSelector: { type: "object", additionalProperties: { type: "string" }, default: {}, description: "The pods' nodeSelector." },
  tolerations: { type: "array", items: { type: "object" }, default: [], description: "The pods' tolerations." },
  priorityClassName: { type: "string", default: "", description: "The pods' priorityClassName (e.g. system-cluster-critical with failurePolicy Fail); empty: none." },
  failurePolicy: {
    type: "string",
    enum: FAILURE_POLICIES,
    default: "Ignore",
    description: "The pod webhook's failurePolicy (the fail-closed overlay): Ignore admits pods uninjected while no replica answers, Fail refuses them.",
  },
  certManager: {
    type: "object",
    description: "Certificates from cert-manager (the cert-manager overlay) instead of the injector's own authority.",
    additionalProperties: false,
    properties: {
      enabled: { type: "boolean", default: false, description: "A self-signed CA Issuer and a serving Certificate; cainjector keeps caBundle right; needs cert-manager installed." },
    },
  },
  reservationGuard: {
    type: "object",
    description: "The DNS Service reservation guard (the reservation-guard overlay), the same switch as the setting guardian.reservationGuard.",
    additionalProperties: false,
    properties: {
      enabled: {
        type: "boolean",
        default: false,
        description: "true: guardian.reservationGuard is true in config.yaml and the chart registers its webhook; either spelling true turns it on (they OR), so false here never turns the setting off.",
      },
    },
  },
} as const satisfies Record<string, SchemaNode | Record<string, unknown>>;

/**
 * Chart-only switches for a boolean setting, by the setting's dotted path: the chart writes
 * the setting true into config.yaml when the switch is true, whatever the setting's own value
 * (the two OR; neither can turn off what the other turns on). The overlay values of issue 15
 * are spelled `<overlay>.enabled`; the setting keeps its own name so both spellings work.
 */
export const SETTING_SWITCHES = {
  "guardian.reservationGuard": "reservationGuard.enabled",
} as const satisfies Record<string, string>;

/** The setting keys of the configuration file, in documented order (the ConfigMap renders these). */
export function settingKeys(): string[] {
  return Object.keys(SETTINGS_SCHEMA.properties);
}

/**
 * Chart values whose absence the templates render as "none", so that `--set X=null` (which
 * makes Helm delete X) is a way to remove them, as in most charts.
 */
const REMOVABLE_VALUES: readonly string[] = ["resources", "nodeSelector", "tolerations", "imagePullSecrets", "priorityClassName"];

/** values.schema.json as an object: the settings (portable) and the chart's own values. */
export function chartValuesSchema(): Record<string, unknown> {
  const settings = portable(SETTINGS_SCHEMA) as { properties: Record<string, unknown> };
  const schema = {
    $schema: SETTINGS_SCHEMA.$schema,
    title: `${PRODUCT} Helm chart values`,
    description:
      "Generated from config/settings-schema.ts and charts/values-schema.ts by `npm run chart:generate`; do not edit. Every setting of the configuration file is a value of the same name and default; the rest are the chart's own. Unknown keys are errors.",
    type: "object",
    additionalProperties: false,
    properties: { ...settings.properties, ...structuredClone(CHART_VALUES_SCHEMA) },
  };
  requireNonNullValues(schema, "");
  return schema;
}

/**
 * Makes every value that cannot be null required in its section (values.yaml gives each a
 * default). Helm deletes a value set to null (`--set certManager=null`), and without this the
 * templates then failed with "nil pointer evaluating interface {}.enabled", rendered
 * `image: ":0.1.0"`, or dropped `failurePolicy` (which the API server defaults to Fail);
 * now `helm install` refuses it, naming the value: "missing property 'certManager'".
 * Nullable settings stay optional: the chart writes a deleted one as null.
 */
function requireNonNullValues(node: { properties?: Record<string, unknown>; required?: string[] }, path: string): void {
  if (!node.properties) return;
  const required = new Set(node.required ?? []);
  for (const [key, child] of Object.entries(node.properties)) {
    const childPath = path ? `${path}.${key}` : key;
    if (REMOVABLE_VALUES.includes(childPath)) continue;
    if (!acceptsNull(child as SchemaLike)) required.add(key);
    requireNonNullValues(child as { properties?: Record<string, unknown> }, childPath);
  }
  if (required.size > 0) node.required = [...required];
}

interface SchemaLike {
  type?: string | string[];
  anyOf?: SchemaLike[];
}

function acceptsNull(node: SchemaLike): boolean {
  const types = Array.isArray(node.type) ? node.type : [node.type];
  return types.includes("null") || (node.anyOf ?? []).some(acceptsNull);
}

/** The file's text: two-space JSON and a final newline, as committed. */
export function chartValuesSchemaText(): string {
  return `${JSON.stringify(chartValuesSchema(), null, 2)}\n`;
}

/** Dotted paths of the settings that may be null, e.g. `webhook.host` (sections never are). */
export function nullableSettings(node: SchemaNode = SETTINGS_SCHEMA, path = ""): string[] {
  if (node.properties) return Object.entries(node.properties).flatMap(([key, child]) => nullableSettings(child, path ? `${path}.${key}` : key));
  const types = typeof node.type === "string" ? [node.type] : (node.type ?? []);
  return types.includes("null") ? [path] : [];
}

/**
 * templates/_settings.tpl: the `pod-dns-injector.settings` template, the configuration file
 * from the values, with each SETTING_SWITCHES switch folded into its setting. Helm deletes a value that is null (a default of null, or `--set x=null`)
 * instead of keeping it, so each nullable setting that is missing is written back as null:
 * the file then spells out every setting, and `--set dnsService.clusterIP=null` means
 * "learn it", not "the default".
 */
export function settingsTemplateText(): string {
  const keys = settingKeys().map((k) => JSON.stringify(k)).join(" ");
  const lines = [
    "{{/* Generated from config/settings-schema.ts by `npm run chart:generate` (charts/values-schema.ts); do not edit. */}}",
    "{{/* The configuration file: every setting of the settings schema, from the values of the same names. */}}",
    '{{- define "pod-dns-injector.settings" -}}',
    `{{- $s := deepCopy (pick .Values ${keys}) }}`,
  ];
  const sections = new Set<string>();
  /** The template expression of a setting's section, creating the sections it needs first. */
  const section = (keysOf: string[]) => {
    let parent = "$s";
    for (const key of keysOf) {
      if (!sections.has(`${parent}.${key}`)) {
        lines.push(`{{- if not (hasKey ${parent} ${JSON.stringify(key)}) }}{{ $_ := set ${parent} ${JSON.stringify(key)} dict }}{{ end }}`);
        sections.add(`${parent}.${key}`);
      }
      parent = `${parent}.${key}`;
    }
    return parent;
  };
  for (const path of nullableSettings()) {
    const keysOf = path.split(".");
    const leaf = keysOf.pop()!;
    const parent = section(keysOf);
    lines.push(`{{- if not (hasKey ${parent} ${JSON.stringify(leaf)}) }}{{ $_ := set ${parent} ${JSON.stringify(leaf)} nil }}{{ end }}`);
  }
  for (const [path, value] of Object.entries(SETTING_SWITCHES)) {
    const keysOf = path.split(".");
    const leaf = keysOf.pop()!;
    lines.push(`{{- /* ${value}: the chart's switch for ${path} (either true turns it on). */}}`);
    const parent = section(keysOf);
    lines.push(`{{- if .Values.${value} }}{{ $_ := set ${parent} ${JSON.stringify(leaf)} true }}{{ end }}`);
  }
  lines.push("{{- toYaml $s }}", "{{- end }}");
  return `${lines.join("\n")}\n`;
}

/** Each generated file of the chart, relative to CHART_DIR, with its text. */
export function generatedChartFiles(): Record<string, string> {
  return { "values.schema.json": chartValuesSchemaText(), "templates/_settings.tpl": settingsTemplateText() };
}
