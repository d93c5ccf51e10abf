/**
 * Writes the audit's PolicyReports: creates or updates one per namespace (parts for large
 * namespaces), leaves unchanged ones alone (a periodic audit of a quiet cluster writes
 * nothing), and deletes ours that the run no longer produces (a namespace without pods, or
 * one that left the audit's scope). A missing CRD is an expected outcome, not an error:
 * `crd-missing`, for the CLI to explain and the server to log once.
 */
import { CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { apiFailure } from "../kube/api-errors.js";
import { forEachItem } from "./cluster-source.js";
import { MANAGED_BY_LABEL, PRODUCT, POLICY_REPORT_CRD, POLICY_REPORT_GROUP, POLICY_REPORT_KIND, POLICY_REPORT_PLURAL, POLICY_REPORT_VERSION } from "../config/names.js";
import {
  carryTimestamps,
  sameReportContent,
  type PolicyReport,
} from "./policy-report.js";

export type WriteOutcome =
  | { kind: "written"; created: string[]; updated: string[]; unchanged: string[]; deleted: string[] }
  | { kind: "crd-missing"; message: string };

/** Reports of ours outside the run's output are deleted only in the namespaces the run speaks for. */
export type ReportOwnership = { kind: "all" } | { kind: "namespaces"; names: readonly string[] };

export interface WriteOptions {
  kubeConfig: KubeConfig;
  reports: readonly PolicyReport[];
  owns: ReportOwnership;
  pageSize?: number;
  signal?: AbortSignal;
}

/** The sentence both the CLI and the server use when the CRD is not there. */
export const CRD_MISSING_MESSAGE =
  `the PolicyReport CRD (${POLICY_REPORT_CRD}, version ${POLICY_REPORT_VERSION}) is not installed in the cluster, so no PolicyReports were written; ` +
  `install it from https://github.com/kubernetes-sigs/wg-policy-prototypes/tree/master/policy-report/crd/v1alpha2 (Kyverno and Policy Reporter install it too)`;

interface StoredReport {
  metadata?: { name?: string; namespace?: string; resourceVersion?: string; labels?: Record<string, string>; annotations?: Record<string, string> };
  summary?: unknown;
  results?: unknown;
}

/** Writes `reports`; throws on API failures other than a missing CRD, naming the report. */
export async function writePolicyReports(options: WriteOptions): Promise<WriteOutcome> {
  const api = options.kubeConfig.makeApiClient(CustomObjectsApi);
  const gvp = { group: POLICY_REPORT_GROUP, version: POLICY_REPORT_VERSION, plural: POLICY_REPORT_PLURAL };
  const existing = new Map<string, StoredReport>();
  try {
    await forEachItem(
      options.kubeConfig,
      `${POLICY_REPORT_KIND}s labelled ${MANAGED_BY_LABEL}=${PRODUCT}`,
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
    // The resource path does not exist: no CRD (or one that does not serve v1alpha2).
    if (apiFailure(err).code === 404) return { kind: "crd-missing", message: CRD_MISSING_MESSAGE };
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
      await replaceReport(api, gvp, next, stored);
      outcome.updated.push(key);
      continue;
    }
    try {
      await api.createNamespacedCustomObject({ ...gvp, namespace, body: report });
      outcome.created.push(key);
    } catch (err) {
      const f = apiFailure(err);
      if (f.code === 404) return { kind: "crd-missing", message: CRD_MISSING_MESSAGE }; // CRD deleted meanwhile
      if (f.code !== 409) throw new Error(`create ${POLICY_REPORT_KIND} ${key}: ${f.message}`, { cause: err });
      // Someone created it meanwhile (another replica, or a report of that name without our label): take it over.
      const current = (await api.getNamespacedCustomObject({ ...gvp, namespace, name })) as StoredReport;
      await replaceReport(api, gvp, carryTimestamps(report, current), current);
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
      if (apiFailure(err).code !== 404) throw new Error(`delete ${POLICY_REPORT_KIND} ${key}: ${apiFailure(err).message}`, { cause: err });
    }
  }
  return outcome;
}

/** Replaces a stored report with `next`, re-reading once on a conflict (another writer got there first). */
async function replaceReport(api: CustomObjectsApi, gvp: { group: string; version: string; plural: string }, next: PolicyReport, stored: StoredReport): Promise<void> {
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
      throw new Error(`update ${POLICY_REPORT_KIND} ${namespace}/${name}: ${f.message}`, { cause: err });
    }
  }
}
