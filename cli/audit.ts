/**
 * `pod-dns-injector audit`: which pods have wrong DNS, why, and what to restart. Against a
 * cluster (the opted-in namespaces, one namespace, or all) or offline on manifests (-f).
 * Output: a table grouped by workload (default), JSON, YAML, wgpolicyk8s PolicyReport or
 * OpenReports Report objects; --write-reports stores the reports in the cluster, in the API(s)
 * --reports (default: the setting audit.reports) names. Exit code 1 when any pod fails
 * (foreign-dns and would-inject only warn), for CI and cron use; 2 for usage errors.
 */
import type { KubeConfig } from "@kubernetes/client-node";
import { Option, type Command } from "commander";
import { stringify } from "yaml";
import { AUDIT_REPORTS_CHOICES, NAMESPACE_MODES, PRODUCT, REPORT_API_NAMES, reportApisOf, type AuditReportsChoice, type NamespaceMode } from "../config/names.js";
import type { AuditScope } from "../audit/cluster-source.js";
import { auditManifests } from "../audit/manifest-audit.js";
import { buildPolicyReports } from "../audit/policy-report.js";
import { formatJSON, formatTable, formatYAML, hasViolations, type AuditRun } from "../audit/report.js";
import type { ApiWriteOutcome } from "../audit/report-writer.js";
import { EXIT_INPUT, EXIT_OK, inputError, usageError } from "./errors.js";
import { findCluster, loadKubeConfig } from "./kubeconfig.js";
import type { CommandIO } from "./inject.js";
import { parseManifests, readInput } from "./manifest-io.js";
import { resolveSettings, type SettingsFlags } from "./settings-source.js";
import { hasProfile, type Settings } from "../config/settings.js";

/** policyreport: wgpolicyk8s.io/v1alpha2 PolicyReports; openreports: openreports.io/v1alpha1 Reports. */
export const AUDIT_OUTPUTS = ["table", "json", "yaml", "policyreport", "openreports"] as const;
export type AuditOutput = (typeof AUDIT_OUTPUTS)[number];

export interface AuditFlags extends SettingsFlags, ClusterAuditFlags {
  output: AuditOutput;
  writeReports?: boolean | undefined;
  /** With --write-reports: which report API(s); default the setting audit.reports. */
  reports?: AuditReportsChoice | undefined;
  filename?: string | undefined;
  mode?: string | undefined;
  profile?: string | undefined;
  nodes?: boolean | undefined;
}

/** Adds `audit` to the program; `setExit` receives the command's exit code. */
export function registerAuditCommand(program: Command, io: CommandIO, setExit: (code: number) => void): void {
  program
    .command("audit")
    .description(
      "report pods whose DNS does not conform (not injected, stale nameserver, drift, would-inject, foreign DNS), the workload that owns them and the fix; exit code 1 on violations",
    )
    .option("--kubeconfig <file>", "kubeconfig of the cluster (env KUBECONFIG, else ~/.kube/config; in a pod the in-cluster config)")
    .option("-n, --namespace <ns>", "audit this namespace only, whatever its label (with -f: the namespace of objects without one)")
    .option("-A, --all-namespaces", "audit every namespace, not only the opted-in ones (pods that are never injected count as skipped)")
    .addOption(new Option("-o, --output <format>", "output format").choices([...AUDIT_OUTPUTS]).default("table"))
    .option("--write-reports", "create or update one report per namespace (in the API(s) of --reports) and delete ours that are stale")
    .addOption(
      new Option(
        "--reports <api>",
        "with --write-reports: wgpolicyk8s (wgpolicyk8s.io/v1alpha2 PolicyReports), openreports (openreports.io/v1alpha1 Reports) or both (default: the setting audit.reports, wgpolicyk8s)",
      ).choices([...AUDIT_REPORTS_CHOICES]),
    )
    .option("-f, --filename <file>", "audit the pod templates of manifests offline instead of the cluster (a file, or - for standard input)")
    .addOption(new Option("--mode <mode>", "with -f: the namespaces' mode (default enabled)").choices([...NAMESPACE_MODES]))
    .option("--profile <name>", "with -f: the namespaces' DNS profile")
    .option(
      "--nodes",
      "instead of pods, check every node's kubelet clusterDNS and clusterDomain against the live DNS Service (reads /api/v1/nodes/NAME/proxy/configz: needs get on nodes/proxy, a powerful permission; your credentials only, never the injector's)",
    )
    .option("--config <file>", "YAML configuration file (env POD_DNS_INJECTOR_CONFIG)")
    .option("--cluster-domain <domain>", "cluster domain (default cluster.local)")
    .option(
      "--nameserver <ip[,ip]>",
      "the DNS Service IP(s) to expect, two for a dual-stack Service (default: the DNS Service's live clusterIPs, else the configured fixed IP; with -f the configured one, 10.96.0.10)",
    )
    .action(async (opts: AuditFlags) => setExit(await runAudit(opts, io)));
}

/** Runs the audit; resolves to the exit code. Throws CliError for usage and input errors. */
export async function runAudit(flags: AuditFlags, io: CommandIO): Promise<number> {
  checkFlags(flags);
  const { settings, nameservers } = await resolveSettings(flags, io.env);
  if (flags.nodes) return runNodeAudit(flags, io, settings, nameservers);
  if (flags.profile !== undefined && !hasProfile(settings, flags.profile)) {
    throw inputError(`--profile ${flags.profile}: no such profile (have: ${Object.keys(settings.profiles).join(", ")})`);
  }
  const flagIPs = nameservers !== undefined ? { ips: nameservers, source: "flag" as const } : undefined;

  let run: AuditRun;
  let outcomes: ApiWriteOutcome[] = [];
  if (flags.filename !== undefined) {
    const source = flags.filename === "-" ? "<stdin>" : flags.filename;
    const docs = parseManifests(await readInput(flags.filename, io.stdin), source);
    const audit = auditManifests(docs, {
      settings,
      source,
      namespace: flags.namespace,
      mode: flags.mode as NamespaceMode | undefined,
      profile: flags.profile,
      dnsServiceIPs: flagIPs,
    });
    const bad = audit.invalid[0];
    if (bad) throw inputError(`${source}: document ${bad.index} (${bad.what}): ${bad.error}`);
    run = audit.run;
  } else {
    const cluster = await auditClusterForCommand(flags, io, settings, flagIPs, { command: "audit", alternative: " (or audit manifests offline with -f FILE)" });
    run = cluster.run;
    if (flags.writeReports) {
      const { writeReports } = await import("../audit/report-writer.js");
      const { scope, kubeConfig } = cluster;
      try {
        outcomes = await writeReports({
          kubeConfig,
          run,
          apis: reportApisOf(flags.reports ?? settings.audit.reports),
          owns: scope.kind === "namespace" ? { kind: "namespaces", names: [scope.name] } : { kind: "all" },
        });
      } catch (err) {
        // writeReports names the API ("write PolicyReports") and keeps the API failure as the cause.
        const what = err instanceof Error && err.cause !== undefined ? { action: err.message, cause: err.cause } : { action: "write reports", cause: err };
        throw inputError(`cannot ${what.action} to ${cluster.server}: ${errorText(what.cause)}`);
      }
    }
  }
  if (run.dnsService.ips.length === 0) {
    io.stderr(
      `${PRODUCT}: warning: the DNS Service ${run.dnsService.namespace}/${run.dnsService.name} has no clusterIP and none is configured: pods are skipped (pass --nameserver IP)\n`,
    );
  }

  io.stdout(render(run, flags.output));
  for (const { api, outcome } of outcomes) {
    if (outcome.kind === "crd-missing") io.stderr(`${PRODUCT}: ${outcome.message}\n`);
    else
      io.stderr(
        `${PRODUCT}: ${REPORT_API_NAMES[api].titlePlural}: ${outcome.created.length} created, ${outcome.updated.length} updated, ${outcome.unchanged.length} unchanged, ${outcome.deleted.length} deleted\n`,
      );
  }
  if (outcomes.some((o) => o.outcome.kind === "crd-missing")) return EXIT_INPUT;
  return hasViolations(run) ? EXIT_INPUT : EXIT_OK;
}

/** The cluster flags `audit` and `restart` share: which cluster, which namespaces, which DNS IP to expect. */
export interface ClusterAuditFlags {
  kubeconfig?: string | undefined;
  namespace?: string | undefined;
  allNamespaces?: boolean | undefined;
  nameserver?: string | undefined;
}

/** Nameservers from `--nameserver IP[,IP]`, which the audit expects instead of the live Service's. */
export type FlagNameservers = { ips: readonly string[]; source: "flag" } | undefined;

/**
 * Audits the cluster the flags name, printing the audit's warnings: the cluster half of
 * `audit`, also the first step of `restart`. Errors become CliErrors naming the server.
 */
export async function auditClusterForCommand(
  flags: ClusterAuditFlags,
  io: CommandIO,
  settings: Settings,
  flagIPs: FlagNameservers,
  what: { command: string; alternative?: string },
): Promise<{ run: AuditRun; scope: AuditScope; kubeConfig: KubeConfig; server: string }> {
  if (flags.namespace !== undefined && flags.allNamespaces) throw usageError("-n/--namespace and -A/--all-namespaces are exclusive");
  const kubeConfig = await loadKubeConfig(findCluster(flags.kubeconfig, io.env, { homeFallback: true }), what.command, what.alternative);
  // The cluster path (client-node and the list readers) is loaded only when it is taken.
  const { auditCluster, NamespaceNotFoundError } = await import("../audit/cluster-source.js");
  const scope: AuditScope = flags.namespace !== undefined ? { kind: "namespace", name: flags.namespace } : flags.allNamespaces ? { kind: "all" } : { kind: "opted-in" };
  const server = kubeConfig.getCurrentCluster()?.server ?? "(unknown server)";
  let run: AuditRun;
  try {
    const result = await auditCluster({ kubeConfig, settings, scope, dnsServiceIPs: flagIPs });
    for (const w of result.warnings) io.stderr(`${PRODUCT}: warning: ${w}\n`);
    run = result;
  } catch (err) {
    if (err instanceof NamespaceNotFoundError) throw inputError(`${err.message} (in ${server})`);
    throw inputError(`cannot audit the cluster at ${server}: ${errorText(err)}`);
  }
  if (scope.kind === "opted-in" && run.namespaces.length === 0) {
    io.stderr(`${PRODUCT}: no namespace is opted in (label pod-dns-injector.io/inject=enabled or audit); use -n NS or -A to audit others\n`);
  }
  return { run, scope, kubeConfig, server };
}

/** `audit --nodes`: one row per node; exit 1 when a node disagrees or cannot be read. */
async function runNodeAudit(flags: AuditFlags, io: CommandIO, settings: Settings, nameservers: readonly string[] | undefined): Promise<number> {
  const kubeConfig = await loadKubeConfig(findCluster(flags.kubeconfig, io.env, { homeFallback: true }), "audit");
  const server = kubeConfig.getCurrentCluster()?.server ?? "(unknown server)";
  const [{ auditNodes }, { formatNodeTable }] = await Promise.all([import("../audit/node-source.js"), import("../audit/node-dns.js")]);
  let result: Awaited<ReturnType<typeof auditNodes>>;
  try {
    result = await auditNodes({ kubeConfig, settings, nameservers });
  } catch (err) {
    throw inputError(`cannot audit the nodes of ${server}: ${errorText(err)}`);
  }
  const { rows, expected } = result;
  if (rows.length === 0) io.stderr(`${PRODUCT}: the cluster at ${server} has no nodes\n`);
  const doc = { dnsService: { service: expected.service, ips: expected.ips, clusterDomain: expected.clusterDomain }, nodes: rows };
  io.stdout(flags.output === "json" ? `${JSON.stringify(doc, null, 2)}\n` : flags.output === "yaml" ? stringify(doc, { lineWidth: 0 }) : formatNodeTable(rows, expected));
  return rows.some((r) => r.result !== "pass") ? EXIT_INPUT : EXIT_OK;
}

function checkFlags(flags: AuditFlags): void {
  if (flags.nodes) {
    const others = [
      [flags.filename !== undefined, "-f"],
      [flags.namespace !== undefined, "-n/--namespace"],
      [flags.allNamespaces, "-A/--all-namespaces"],
      [flags.writeReports, "--write-reports"],
      [flags.mode !== undefined, "--mode"],
      [flags.profile !== undefined, "--profile"],
      [flags.output === "policyreport", "-o policyreport"],
      [flags.output === "openreports", "-o openreports"],
      [flags.reports !== undefined, "--reports"],
    ] as const;
    for (const [set, name] of others) if (set) throw usageError(`--nodes checks the kubelets of the cluster's nodes; it cannot be combined with ${name}`);
  }
  if (flags.reports !== undefined && !flags.writeReports && !flags.nodes && flags.filename === undefined) {
    throw usageError("--reports picks the API --write-reports writes; add --write-reports (-o policyreport or -o openreports prints either without writing)");
  }
  if (flags.filename !== undefined) {
    for (const [set, name] of [
      [flags.allNamespaces, "-A/--all-namespaces"],
      [flags.writeReports, "--write-reports"],
      [flags.reports !== undefined, "--reports"],
      [flags.kubeconfig !== undefined, "--kubeconfig"],
    ] as const) {
      if (set) throw usageError(`${name} audits a cluster; it cannot be combined with -f (an offline audit of manifests)`);
    }
  } else {
    if (flags.mode !== undefined) throw usageError("--mode applies to -f (offline) audits; a cluster's namespaces carry their mode in their label");
    if (flags.profile !== undefined) throw usageError("--profile applies to -f (offline) audits; a cluster's namespaces name their profile in an annotation");
  }
}

function render(run: AuditRun, output: AuditOutput): string {
  switch (output) {
    case "json":
      return formatJSON(run);
    case "yaml":
      return formatYAML(run);
    case "policyreport":
    case "openreports":
      return buildPolicyReports(run, output === "policyreport" ? "wgpolicyk8s" : "openreports")
        .map((r) => stringify(r, { lineWidth: 0 }))
        .join("---\n");
    case "table":
      return formatTable(run);
  }
}

export function errorText(err: unknown): string {
  if (!(err instanceof Error)) return String(err);
  const cause = err.cause instanceof Error && !err.message.includes(err.cause.message) ? `: ${err.cause.message}` : "";
  return `${err.message}${cause}`;
}
