/**
 * `pod-dns-injector explain`: why a pod (or a workload's pod template) would or would not be
 * injected: the decision row, reason code, namespace mode, profile, resulting dnsConfig and
 * what it changes in the pod. Reads the same Decision the webhook acts on, so the explanation cannot drift.
 */
import { INJECTED_ANNOTATION, INJECT_LABEL, NAMESPACE_MODES, PROFILE_ANNOTATION } from "../config/names.js";
import type { Decision } from "../webhook/decision.js";
import { PROFILE_REASONS, type NamespaceFacts } from "../webhook/namespace-policy.js";
import { optionText } from "../webhook/dns-config.js";
import { injectManifest } from "../webhook/offline.js";
import { inputError, usageError } from "./errors.js";
import type { CommandIO } from "./inject.js";
import { parseManifests, readInput } from "./manifest-io.js";
import { resolveSettings, type SettingsFlags } from "./settings-source.js";

export interface ExplainFlags extends SettingsFlags {
  filename: string;
  namespace?: string | undefined;
  namespaceFile?: string | undefined;
  mode?: string | undefined;
  profile?: string | undefined;
  output: "text" | "json";
}

export async function runExplain(flags: ExplainFlags, io: CommandIO): Promise<number> {
  if (flags.mode !== undefined && !(NAMESPACE_MODES as readonly string[]).includes(flags.mode)) {
    throw usageError(`--mode: one of ${NAMESPACE_MODES.join(", ")}, got ${JSON.stringify(flags.mode)}`);
  }
  if (flags.mode !== undefined && flags.namespaceFile !== undefined) throw usageError("--mode and --namespace-file are exclusive: the file's label gives the mode");
  const { settings, nameservers } = await resolveSettings(flags, io.env);
  let nsFromFile: NamespaceFacts | undefined;
  if (flags.namespaceFile) {
    const docs = parseManifests(await readInput(flags.namespaceFile, io.stdin), flags.namespaceFile);
    const ns = docs.find((d) => d.object?.kind === "Namespace")?.object;
    if (!ns || typeof ns.metadata?.name !== "string") throw inputError(`${flags.namespaceFile}: no Namespace object with a metadata.name`);
    nsFromFile = {
      name: ns.metadata.name,
      labels: (ns.metadata.labels as Record<string, string> | undefined) ?? {},
      annotations: (ns.metadata.annotations as Record<string, string> | undefined) ?? {},
    };
  }
  const namespaceFacts = (name: string): NamespaceFacts => {
    if (nsFromFile) {
      if (nsFromFile.name !== name) throw inputError(`--namespace-file describes namespace ${nsFromFile.name}, but the pod is in ${name}`);
      return nsFromFile;
    }
    return { name, labels: { [INJECT_LABEL]: flags.mode ?? "enabled" }, annotations: flags.profile ? { [PROFILE_ANNOTATION]: flags.profile } : {} };
  };
  const source = flags.filename === "-" ? "<stdin>" : flags.filename;
  const docs = parseManifests(await readInput(flags.filename, io.stdin), source);
  const explanations: object[] = [];
  let text = "";
  for (const doc of docs) {
    if (doc.object === null) continue;
    const r = injectManifest(doc.object, { settings, namespace: flags.namespace ?? nsFromFile?.name, namespaceFacts, dnsServiceIPs: nameservers });
    if (r.kind === "invalid") throw inputError(`${source}: document ${doc.index} (${r.what}): ${r.error}`);
    if (r.kind === "passed-through") {
      explanations.push({ document: doc.index, object: r.what, decision: null, message: "not a Pod or workload: never mutated" });
      text += `${r.what} (document ${doc.index}): not a Pod or workload, never mutated\n\n`;
      continue;
    }
    const ns = namespaceFacts(r.namespace);
    const modeSource = nsFromFile
      ? `label ${INJECT_LABEL} in ${flags.namespaceFile}`
      : flags.mode
        ? "--mode"
        : "assumed: offline explain treats the namespace as enabled; use --mode or --namespace-file";
    explanations.push({
      document: doc.index,
      object: r.what,
      namespace: r.namespace,
      namespaceLabels: ns.labels,
      template: r.templatePath.join(".") || null,
      ...decisionJSON(r.decision),
    });
    text += formatExplanation(r.what, doc.index, r.namespace, r.templatePath, modeSource, r.decision);
  }
  io.stdout(flags.output === "json" ? `${JSON.stringify(explanations.length === 1 ? explanations[0] : explanations, null, 2)}\n` : text);
  return 0;
}

function decisionJSON(d: Decision): object {
  return {
    row: d.row,
    action: d.action,
    reason: d.reason,
    message: d.message,
    mode: d.mode ?? null,
    profile: d.profile ?? null,
    profileReason: d.profileReason ?? null,
    dnsConfig: d.dnsConfig ?? null,
    injectedAnnotation: d.injectedAnnotation ?? null,
    changes: d.changes ?? null,
    warnings: d.warnings,
  };
}

/** Why the profile, when the pod asked for one; the namespace's own profile needs no note. */
function profileWhy(d: Decision): string {
  return d.profileReason && d.profileReason !== "namespace-profile" ? ` (${d.profileReason}: ${PROFILE_REASONS[d.profileReason]})` : "";
}

function formatExplanation(what: string, index: number, namespace: string, path: string[], modeSource: string, d: Decision): string {
  const lines = [
    `${what} (document ${index}${path.length ? `, pod template at ${path.join(".")}` : ""})`,
    `  decision:   ${d.action} (row ${d.row}, reason ${d.reason})`,
    `  why:        ${d.message}`,
    d.row <= 2 ? `  namespace:  ${namespace} (mode not evaluated: row ${d.row} matched first)` : `  namespace:  ${namespace}, mode ${d.mode ?? "not opted in"} (${modeSource})`,
  ];
  if (d.profile) lines.push(`  profile:    ${d.profile}${profileWhy(d)}`);
  if (d.dnsConfig) {
    lines.push(`  ${d.action === "inject" ? "result" : d.action === "report" ? "would set" : "current"}:`);
    lines.push(`    dnsPolicy:   None`);
    lines.push(`    nameservers: ${d.dnsConfig.nameservers.join(", ")}`);
    lines.push(`    searches:    ${d.dnsConfig.searches.join(", ")}`);
    lines.push(`    options:     ${d.dnsConfig.options.map(optionText).join(", ") || "(none)"}`);
    lines.push(`    annotation:  ${INJECTED_ANNOTATION}=${d.injectedAnnotation}`);
  }
  // What the pod as given would change (Decision.changes); nothing to list for a no-op.
  if (d.changes?.length) {
    lines.push(`  ${d.action === "report" ? "would change" : "changes"}:`);
    for (const c of d.changes) lines.push(`    ${`${c.field}:`.padEnd(13)}${c.from} → ${c.to}`);
  }
  for (const w of d.warnings) lines.push(`  warning:    ${w}`);
  return `${lines.join("\n")}\n\n`;
}
