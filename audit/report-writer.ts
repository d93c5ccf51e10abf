/**
 * Writes the audit's reports in one API (wgpolicyk8s PolicyReports or OpenReports Reports):
 * creates or updates one per namespace (parts for large namespaces), leaves unchanged ones
 * alone (a periodic audit of a quiet cluster writes nothing), and deletes ours that the run
 * no longer produces (a namespace without pods, or one that left the audit's scope). A
 * missing CRD is an expected outcome, not an error: `crd-missing`, for the CLI to explain and
 * the server to log once. {@link writeReports} does this for each configured API.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiFailure } from "../kube/api-errors.js";
import { forEachItem } from "./cluster-source.js";
import { MANAGED_BY_LABEL, PRODUCT, REPORT_API_NAMES, type ReportApi } from "../config/names.js";
import { buildPolicyReports, carryTimestamps, sameReportContent, type PolicyReport } from "./policy-report.js";
import type { AuditRun } from "./report.js";

export type WriteOutcome = { kind: "written"; created: string[]; updated: string[]; unchanged: string[]; deleted: string[] } | { kind: "crd-missing"; message: string };

/** Reports of ours outside the run's output are deleted only in the namespaces the run speaks for. */
export type ReportOwnership = { kind: "all" } | { kind: "namespaces"; names: readonly string[] };

export interface WriteOptions {
  kubeConfig: KubeConfig;
  /** The API of `reports`; default wgpolicyk8s. */
  api?: ReportApi;
  reports: readonly PolicyReport[];
  owns: ReportOwnership;
  pageSize?: number;
  signal?: AbortSignal;
}

/** Where each API's CRD comes from, besides manifests/optional/report-crds. */
const CRD_SOURCES: Readonly<Record<ReportApi, string>> = {
  // The Policy WG's v1alpha2 folder holds only the cluster-scoped CRD; Kyverno publishes both.
  wgpolicyk8s: "https://github.com/kyverno/kyverno/tree/main/config/crds/policyreport (Kyverno and Policy Reporter install it too)",
  openreports:
    "https://github.com/openreports/reports-api/tree/main/crd/openreports.io/v1alpha1 (Kyverno >= 1.15 with --openreportsEnabled and Policy Reporter >= 3.2 install it too)",
};

/** The sentence both the CLI and the server use when the API's CRD is not there. */
export function crdMissingMessage(api: ReportApi): string {
  const n = REPORT_API_NAMES[api];
  return (
    `the ${n.title} CRD (${n.crd}, version ${n.version}) is not installed in the cluster, so no ${n.titlePlural} were written; ` +
    `install it with kubectl apply -k manifests/optional/report-crds (in pod-dns-injector's sources) or from ${CRD_SOURCES[api]}`
  );
}

/** {@link crdMissingMessage} of the wgpolicyk8s API. */
export const CRD_MISSING_MESSAGE = crdMissingMessage("wgpolicyk8s");

/** One API's outcome of {@link writeReports}. */
export interface ApiWriteOutcome {
  api: ReportApi;
  outcome: WriteOutcome;
}

/**
 * Builds the run's reports in each of `apis` and writes them, one API after the other; a
 * missing CRD is that API's outcome and does not stop the others. Throws, naming the API's
 * reports, on any other API failure.
 */
export async function writeReports(options: Omit<WriteOptions, "reports" | "api"> & { run: AuditRun; apis: readonly ReportApi[] }): Promise<ApiWriteOutcome[]> {
  const { run, apis, ...rest } = options;
  const outcomes: ApiWriteOutcome[] = [];
  for (const api of apis) {
    try {
      outcomes.push({ api, outcome: await writePolicyReports({ ...rest, api, reports: buildPolicyReports(run, api) }) });
    } catch (err) {
      throw new Error(`write ${REPORT_API_NAMES[api].titlePlural}`, { cause: err });
    }
  }
  return outcomes;
}

interface StoredReport {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  source?: unknown;
  summary?: unknown;
  results?: unknown;
}

/** Writes `reports`; throws on API failures other than a missing CRD, naming the report. */
export async function writePolicyReports(options: WriteOptions): Promise<WriteOutcome> {
  const api = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const names = REPORT_API_NAMES[options.api ?? "wgpolicyk8s"];
  const gvp = { group: names.group, version: names.version, plural: names.plural };
  const missing: WriteOutcome = { kind: "crd-missing", message: crdMissingMessage(options.api ?? "wgpolicyk8s") };
  const existing = new Map<string, StoredReport>();
  try {
    await forEachItem(
      options.kubeConfig,
      `${names.titlePlural} labelled ${MANAGED_BY_LABEL}=${PRODUCT}`,
      `/apis/${gvp.group}/${gvp.version}/${gvp.plural}`,
      { labelSelector: `${MANAGED_BY_LABEL}=${PRODUCT}` },
      true,
      options.pageSize ?? 500,
      (item) => {
        const r = item as StoredReport;
        existing.set(`${r.metadata?.namespace}/${r.metadata?.name}`, r);
      },
      options.signal,
    );
  } catch (err) {
    // The resource path does not exist: no CRD (or one that does not serve this version).
    if (apiFailure(err).code === 404) return missing;
    throw err;
  }

  const outcome = { kind: "written" as const, created: [] as string[], updated: [] as string[], unchanged: [] as string[], deleted: [] as string[] };
  for (const report of options.reports) {
    options.signal?.throwIfAborted();
    const { namespace, name } = report.metadata;
    const key = `${namespace}/${name}`;
    const stored = existing.get(key);
    existing.delete(key);
    if (stored) {
      const next = carryTimestamps(report, stored);
      if (sameReportContent(next, stored)) {
        outcome.unchanged.push(key);
        continue;
      }
      await replaceReport(api, gvp, names.kind, next, stored);
      outcome.updated.push(key);
      continue;
    }
    try {
      await api.createNamespacedCustomObject({ ...gvp, namespace, body: report });
      outcome.created.push(key);
    } catch (err) {
      const f = apiFailure(err);
      if (f.code === 404) return missing; // CRD deleted meanwhile
      if (f.code !== 409) throw new Error(`create ${names.kind} ${key}: ${f.message}`, { cause: err });
      // Someone created it meanwhile (another replica, or a report of that name without our label): take it over.
      const current = (await api.getNamespacedCustomObject({ ...gvp, namespace, name })) as StoredReport;
      await replaceReport(api, gvp, names.kind, carryTimestamps(report, current), current);
      outcome.updated.push(key);
    }
  }

  const owned = (ns: string) => options.owns.kind === "all" || options.owns.names.includes(ns);
  for (const [key, stored] of existing) {
    const namespace = stored.metadata?.namespace ?? "";
    const name = stored.metadata?.name ?? "";
    if (!owned(namespace)) continue;
    try {
      await api.deleteNamespacedCustomObject({ ...gvp, namespace, name });
      outcome.deleted.push(key);
    } catch (err) {
      if (apiFailure(err).code !== 404) throw new Error(`delete ${names.kind} ${key}: ${apiFailure(err).message}`, { cause: err });
    }
  }
  return outcome;
}

/** Replaces a stored report with `next`, re-reading once on a conflict (another writer got there first). */
async function replaceReport(
  api: CustomObjectsApi,
  gvp: { group: string; version: string; plural: string },
  kind: string,
  next: PolicyReport,
  stored: StoredReport,
): Promise<void> {
  const { namespace, name } = next.metadata;
  let resourceVersion = stored.metadata?.resourceVersion;
  for (let attempt = 1; ; attempt++) {
    const body = { ...next, metadata: { ...next.metadata, ...(resourceVersion ? { resourceVersion } : {}) } };
    try {
      await api.replaceNamespacedCustomObject({ ...gvp, namespace, name, body });
      return;
    } catch (err) {
      const f = apiFailure(err);
      if (f.code === 409 && attempt === 1) {
        const current = (await api.getNamespacedCustomObject({ ...gvp, namespace, name })) as StoredReport;
        resourceVersion = current.metadata?.resourceVersion;
        continue;
      }
      if (f.code === 404 && attempt === 1) {
        await api.createNamespacedCustomObject({ ...gvp, namespace, body: next });
        return;
      }
      throw new Error(`update ${kind} ${namespace}/${name}: ${f.message}`, { cause: err });
    }
  }
}
