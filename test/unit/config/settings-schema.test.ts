/**
 * The settings schema is the one description: the Settings type agrees with it (checked at
 * compile time), the documented defaults (ConfigMap, README) are its defaults, the exported
 * JSON Schema works for a consumer that knows none of our formats, and the restart-only marks
 * drive restartOnlyChanges, the reload and the README's list.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { Ajv } from "ajv";
import { parse } from "yaml";
import { defaultSettings, parseSettings, type Settings } from "../../../config/settings.js";
import {
  SETTINGS_SCHEMA,
  defaultsDocument,
  keepRestartOnly,
  restartOnlyChanges,
  restartOnlySettings,
  settingsJSONSchema,
  type SchemaNode,
} from "../../../config/settings-schema.js";
import { repoRoot } from "../repo-root.js";

// --- Compile time: the Settings interface and the schema describe the same settings. ---

/** The TypeScript type of a document the schema accepts (the subset of JSON Schema it uses). */
type DocumentOf<S> = S extends { enum: readonly (infer E)[] } ? E : S extends { type: infer T } ? (T extends readonly (infer U)[] ? TypeOf<U, S> : TypeOf<T, S>) : unknown;
type TypeOf<T, S> = T extends "string"
  ? string
  : T extends "number" | "integer"
    ? number
    : T extends "boolean"
      ? boolean
      : T extends "null"
        ? null
        : T extends "array"
          ? S extends { items: infer I }
            ? DocumentOf<I>[]
            : unknown[]
          : T extends "object"
            ? S extends { properties: infer P }
              ? { [K in keyof P]?: DocumentOf<P[K]> }
              : S extends { additionalProperties: infer A }
                ? Record<string, DocumentOf<A>>
                : never
            : never;
type SettingsDocument = DocumentOf<typeof SETTINGS_SCHEMA>;
/** Dotted paths of the keys of A that B lacks, at any depth (`[]`: a list's items). */
type MissingIn<A, B, P extends string = ""> = A extends readonly (infer X)[]
  ? MissingIn<X, B extends readonly (infer Y)[] ? Y : never, `${P}[].`>
  : A extends object
    ? { [K in keyof A & string]-?: K extends keyof B ? MissingIn<NonNullable<A[K]>, NonNullable<B[K]>, `${P}${K}.`> : `${P}${K}` }[keyof A & string]
    : never;
type Is<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
// A compile error here means config/settings.ts and config/settings-schema.ts disagree.
const schemaAndTypeAgree: [
  // Every Settings value is a valid document (so a type's values pass the schema)...
  Settings extends SettingsDocument ? true : false,
  // ...every setting is in the schema...
  Is<MissingIn<Settings, SettingsDocument>, never>,
  // ...and every schema key is a setting, except the document-only ndots shorthand.
  Is<Exclude<MissingIn<SettingsDocument, Settings>, `profiles.${string}.ndots`>, never>,
] = [true, true, true];

const root = repoRoot();
const readme = readFileSync(join(root, "README.md"), "utf8");
const configuration = readme.slice(readme.indexOf("\n## Configuration\n"));

/** Every node of the schema with its dotted path (`[]` for items, `*` for a record's entries). */
function* nodes(node: SchemaNode, path = ""): Generator<[string, SchemaNode]> {
  yield [path, node];
  for (const [key, child] of Object.entries(node.properties ?? {})) yield* nodes(child, path ? `${path}.${key}` : key);
  if (node.items) yield* nodes(node.items, `${path}[]`);
  if (typeof node.additionalProperties === "object") yield* nodes(node.additionalProperties, `${path}.*`);
}

describe("settings schema", () => {
  it("the Settings type agrees with the schema (checked by tsc)", () => {
    assert.deepEqual(schemaAndTypeAgree, [true, true, true]);
  });

  it("its defaults are the defaults, and pass its own checks", () => {
    const r = parseSettings(defaultsDocument(), {} as Settings);
    assert.ok(r.ok, !r.ok ? r.errors.join("\n") : "");
    assert.deepEqual(r.settings, defaultSettings());
  });

  it("the ConfigMap in manifests/base documents exactly the schema's defaults", () => {
    const cm = parse(readFileSync(join(root, "manifests", "base", "configmap.yaml"), "utf8")) as { data: Record<string, string> };
    assert.deepEqual(parse(cm.data["config.yaml"]!), defaultsDocument());
  });

  it("the README's configuration block documents exactly the schema's defaults", () => {
    const block = /```yaml\n([\s\S]*?)```/.exec(configuration)?.[1];
    assert.ok(block, "no yaml block under ## Configuration");
    assert.deepEqual(parse(block), defaultsDocument());
  });

  it("every value the schema checks has an error text, every setting a description", () => {
    for (const [path, node] of nodes(SETTINGS_SCHEMA)) {
      if (node.type !== undefined) assert.ok(node["x-error"], `${path || "(root)"}: no x-error`);
    }
    for (const [path, node] of nodes(SETTINGS_SCHEMA)) {
      if (/^[\w.]+$/.test(path) && !node.properties) assert.ok(node.description, `${path}: no description`);
    }
  });

  it("exports plain JSON that a validator without our formats can use (Helm's values.schema.json)", () => {
    const schema = settingsJSONSchema();
    assert.deepEqual(JSON.parse(JSON.stringify(schema)), schema, "JSON round-trips");
    schema.title = "changed";
    assert.notEqual(SETTINGS_SCHEMA.title, "changed", "a copy");
    const plain = new Ajv({ strict: false, validateFormats: false });
    const validate = plain.compile(settingsJSONSchema());
    assert.ok(validate(defaultsDocument()), JSON.stringify(validate.errors));
    assert.ok(!validate({ webhook: { port: 70000 } }));
    assert.ok(!validate({ clusterDomian: "typo" }));
  });
});

describe("restart-only settings", () => {
  it("are the ones serve captures at start", () => {
    // cli/serve.ts and cli/serve-tls.ts read these once: listeners, the DNS Service informer,
    // the Lease and leader-only work (with the admission mode), the certificate authority. The rest is read per use.
    assert.deepEqual(restartOnlySettings(), [
      "dnsService.namespace",
      "dnsService.name",
      "dnsServices",
      "injectorNamespace",
      "webhook.host",
      "webhook.port",
      "webhook.tlsCertFile",
      "webhook.tlsKeyFile",
      "ops.host",
      "ops.port",
      "guardian.enabled",
      "guardian.leaseDurationSeconds",
      "guardian.renewDeadlineSeconds",
      "guardian.retryPeriodSeconds",
      "audit.enabled",
      "audit.intervalSeconds",
      "admission.mode",
      ...Object.keys(SETTINGS_SCHEMA.properties.certificates.properties).map((k) => `certificates.${k}`),
    ]);
  });

  const reload = (doc: unknown, base = defaultSettings()): Settings => {
    const r = parseSettings(doc, base);
    assert.ok(r.ok, !r.ok ? r.errors.join("\n") : "");
    return r.settings;
  };

  it("restartOnlyChanges names the restart-only settings that differ, and only those", () => {
    const before = defaultSettings();
    assert.deepEqual(restartOnlyChanges(before, defaultSettings()), []);
    const live = reload({ logLevel: "debug", clusterDomain: "k8s.internal", profiles: { fast: { ndots: 1 } }, guardian: { repair: "recreate" }, dnsService: { clusterIP: null } });
    assert.deepEqual(restartOnlyChanges(before, live), [], "reloadable settings are not reported");
    const after = reload({
      webhook: { port: 9443 },
      dnsService: { name: "coredns" },
      certificates: { extraIPs: ["127.0.0.1"] },
      guardian: { leaseDurationSeconds: 20 },
      logLevel: "warn",
    });
    assert.deepEqual(restartOnlyChanges(before, after), ["dnsService.name", "webhook.port", "guardian.leaseDurationSeconds", "certificates.extraIPs"]);
    assert.deepEqual(restartOnlyChanges(after, before), ["dnsService.name", "webhook.port", "guardian.leaseDurationSeconds", "certificates.extraIPs"]);
    assert.deepEqual(restartOnlyChanges(reload({ webhook: { port: "8443" } }), before), [], "values are compared after normalisation");
  });

  it("keepRestartOnly applies the reloadable part of a reload and keeps the running rest", () => {
    const running = reload({ webhook: { port: 9443 } });
    const reloaded = reload({ webhook: { port: 10443, host: "127.0.0.1" }, certificates: { extraIPs: ["10.0.0.1"] }, logLevel: "debug", profiles: { fast: { ndots: 1 } } });
    const kept = keepRestartOnly(running, reloaded);
    assert.deepEqual(kept.webhook, running.webhook);
    assert.deepEqual(kept.certificates, running.certificates);
    assert.equal(kept.logLevel, "debug");
    assert.deepEqual(kept.profiles.fast, { nameservers: ["dnsService"], searches: [], options: [{ name: "ndots", value: "1" }] });
    assert.deepEqual(restartOnlyChanges(running, kept), []);
    assert.ok(parseSettings({}, kept).ok, "the result is valid settings");
    kept.certificates.extraIPs.push("10.9.9.9");
    assert.deepEqual(running.certificates.extraIPs, [], "no list is shared with the running settings");
  });

  it("the README lists them, as generated from the schema", () => {
    const begin = "<!-- restart-only settings: generated from the schema's x-reload marks; a unit test checks this list -->\n";
    const end = "\n<!-- end of restart-only settings -->";
    const from = configuration.indexOf(begin);
    assert.ok(from >= 0 && configuration.includes(end), "markers missing in README ## Configuration");
    const listed = configuration.slice(from + begin.length, configuration.indexOf(end));
    assert.equal(listed, renderRestartOnly(), `README.md: replace the list between the markers with:\n${renderRestartOnly()}`);
  });
});

/** The README's list: one line per section, `section.*` when the whole section is restart-only. */
function renderRestartOnly(): string {
  const restart = new Set(restartOnlySettings());
  const lines: string[] = [];
  for (const [key, node] of Object.entries(SETTINGS_SCHEMA.properties) as [string, SchemaNode][]) {
    const paths = node.properties ? Object.keys(node.properties).map((k) => `${key}.${k}`) : [key];
    const marked = paths.filter((p) => restart.has(p));
    if (marked.length === 0) continue;
    const what = node.properties && marked.length === paths.length ? `\`${key}.*\` (all)` : marked.map((p) => `\`${p}\``).join(", ");
    lines.push(`- ${what}`);
  }
  return lines.join("\n");
}
