/**
 * Findings: does a stored pod's DNS conform to what the webhook would give it today? A pure
 * function of (pod, namespace facts, settings, live DNS Service IP, owning workload), built
 * on the webhook's own `decide`: the stored pod is fed back as a Pod CREATE with the
 * namespace's current facts and the live IP. An injected, up-to-date pod is row 8
 * (`already-injected`), a pass; everything else is a finding of one of five kinds.
 *
 * A stored pod's dnsConfig mixes what we injected with the pod's own entries, and kubelet's
 * merge lets the pod's own options win, so the stored pod alone cannot show that, say, the
 * namespace lowered ndots since. When the pod's controller template is known, the audit
 * also decides the template, which is exactly what a restart would produce, and compares.
 */
import { INJECTED_ANNOTATION, INJECT_LABEL, MIRROR_POD_ANNOTATION, NDOTS_ANNOTATION, POLICY_INJECTION_MARK, PROFILE_ANNOTATION, type NamespaceMode } from "../config/names.js";
import { configuredDNSServiceIPs, dnsServiceRefs, serviceRefText, type Profile, type Settings } from "../config/settings.js";
import { changesTo, decide, describeWouldInject, type Decision, type DecisionChange, type PodLike, type ReasonCode } from "../webhook/decision.js";
import { buildDNSConfig, describeDNSConfig, optionText, readPodDNSConfig, type PodDNSConfig } from "../webhook/dns-config.js";
import { canonicalIP } from "../config/dns-limits.js";
import { expandNameservers, hasProfileNameservers } from "../config/nameserver-tokens.js";
import { choosePodProfile, podProfile, resolveNamespacePolicy, type NamespaceFacts, type NamespacePolicy } from "../webhook/namespace-policy.js";
import { podCreateRequest } from "../webhook/pod-create.js";
import { fixNamesPods, fixText, type FixContext, type FixFor, type OwnerReference, type Workload } from "./owners.js";

/** The five kinds of finding, as issue 7 defines them. */
export const FINDING_KINDS = ["not-injected", "stale-nameserver", "drift", "would-inject", "foreign-dns"] as const;
export type FindingKind = (typeof FINDING_KINDS)[number];

/** PolicyReport result values we produce (the schema also has `error`, which we never need: a pod we cannot evaluate is skipped with a reason). */
export type AuditResult = "pass" | "fail" | "warn" | "skip";

/**
 * Severities of the PolicyReport schema. Only high/medium/low: the v1alpha2 CRD published by
 * wg-policy-prototypes (and installed by older Kyverno releases) rejects critical and info.
 */
export type Severity = "high" | "medium" | "low";

/** How a finding kind appears in reports: PolicyReport policy and rule, result, severity, category. */
export interface FindingRule {
  policy: string;
  rule: string;
  result: "fail" | "warn";
  severity: Severity;
  category: string;
  /** What the policy requires, one line, for humans. */
  requirement: string;
}

const CATEGORY = "Pod DNS";

/** `foreign-dns` is informational and `would-inject` reports an audit-mode namespace: both warn, neither fails a CI gate. */
export const FINDING_RULES: Readonly<Record<FindingKind, FindingRule>> = {
  "not-injected": {
    policy: "pod-dns-injected",
    rule: "not-injected",
    result: "fail",
    severity: "medium",
    category: CATEGORY,
    requirement: "pods in an enabled namespace carry the injected dnsConfig",
  },
  "would-inject": {
    policy: "pod-dns-injected",
    rule: "would-inject",
    result: "warn",
    severity: "low",
    category: CATEGORY,
    requirement: "pods in an audit-mode namespace are reported where injection would change them",
  },
  "stale-nameserver": {
    policy: "pod-dns-nameserver",
    rule: "stale-nameserver",
    result: "fail",
    severity: "high",
    category: CATEGORY,
    requirement: "injected pods use the DNS Service's current clusterIP (or the profile's nameservers)",
  },
  drift: {
    policy: "pod-dns-profile",
    rule: "drift",
    result: "fail",
    severity: "medium",
    category: CATEGORY,
    requirement: "injected pods have the search list and options of their current profile (the namespace's, or the pod's own pick)",
  },
  "foreign-dns": {
    policy: "pod-dns-own-config",
    rule: "foreign-dns",
    result: "warn",
    severity: "low",
    category: CATEGORY,
    requirement: "pods that manage their own DNS still reach a cluster DNS server",
  },
};

/** The PolicyReport policy/rule of a conforming pod; skipped pods use the same policy with the skip reason as the rule. */
export const PASS_RULE = { policy: "pod-dns-injected", rule: "up-to-date" } as const;

/** Skip reasons: the webhook's decision reasons, plus two the audit adds for pods that no longer matter. */
export type AuditReason = ReasonCode | "pod-completed" | "pod-terminating";

/** A pod as listed from the API server (or a pod template from a manifest): the fields the audit reads. */
export interface AuditedPod extends PodLike {
  metadata: {
    name: string;
    generateName?: string;
    uid?: string | undefined;
    labels?: Record<string, string>;
    annotations?: Record<string, string>;
    ownerReferences?: OwnerReference[];
    deletionTimestamp?: unknown;
  };
  spec?: { dnsPolicy?: string; hostNetwork?: boolean; dnsConfig?: unknown } | undefined;
  status?: { phase?: string } | undefined;
}

export interface Finding {
  kind: FindingKind;
  result: "fail" | "warn";
  severity: Severity;
  message: string;
  /** What the webhook would give the pod today (only the parts that differ, for drift). */
  expected: string;
  actual: string;
  /** What to run; see owners.ts. */
  fix: string;
}

/** The audit of one pod: `pass` or `skip` with a reason, or its findings. */
export interface PodAudit {
  namespace: string;
  name: string;
  uid?: string | undefined;
  workload: Workload;
  /** fail if any finding fails, else warn if any warns, else pass or skip. */
  result: AuditResult;
  reason: AuditReason;
  /** One line: why it passes or is skipped, or the first finding's message. */
  message: string;
  mode?: NamespaceMode | undefined;
  profile?: string | undefined;
  /** Shared between the pods of a workload when their findings are the same: read only. */
  findings: readonly Finding[];
}

/** What the audit of one namespace's pods shares: the namespace, its facts, the settings, the live IP. */
export interface NamespaceAuditInput {
  /** The pods' namespace (listed pods', or for manifests the resolved one). */
  namespace: string;
  /** The namespace's current labels and annotations; undefined when unknown. */
  namespaceFacts: NamespaceFacts | undefined;
  settings: Settings;
  /** What `dnsService` stands for: the DNS Service's live clusterIPs (or the override / configured IP); empty while unknown. */
  dnsServiceIPs: readonly string[];
  /** During a Service-CIDR migration: the first (new) DNS Service's IPs (see ExpectedDNS). */
  newDNSServiceIPs?: readonly string[] | undefined;
  context?: FixContext | undefined;
}

export interface PodAuditInput extends NamespaceAuditInput {
  pod: AuditedPod;
  workload: Workload;
}

/** Audits one pod of the auditor's namespace. */
export type PodAuditor = (pod: AuditedPod, workload: Workload) => PodAudit;

/** Audits one pod. Pure. */
export function auditPod(input: PodAuditInput): PodAudit {
  return createPodAuditor(input)(input.pod, input.workload);
}

/** A verdict without the pod's identity: the same for every pod with the same DNS fields and template. */
interface Verdict {
  result: AuditResult;
  reason: AuditReason;
  message: string;
  mode?: NamespaceMode | undefined;
  profile?: string | undefined;
  findings: Omit<Finding, "fix">[];
}

/**
 * An auditor for the pods of one namespace. Pure, and memoised: the pods of a workload
 * share their DNS fields and template, so the decisions and the verdict are computed once
 * per distinct (DNS fields, template) and only the pod's identity and fix differ. At 10,000
 * pods that is what keeps the audit's garbage, and so its memory, small.
 */
export function createPodAuditor(ns: NamespaceAuditInput): PodAuditor {
  const verdicts = new Map<string, Verdict>();
  const templateIds = new WeakMap<PodLike, number>();
  const templateDecisions = new WeakMap<PodLike, Decision>();
  const shared = new WeakMap<Verdict, WeakMap<Workload, Finding[]>>();
  // By the profile the pod gets: its own pick's name, or "" for the namespace's.
  const fresh = new Map<string, Fresh>();
  let policy: NamespacePolicy | undefined;
  let nextTemplateId = 1;
  const ctx: JudgeContext = {
    ns,
    fresh: (pod) => {
      policy ??= resolveNamespacePolicy(ns.namespaceFacts ?? { name: ns.namespace, labels: {}, annotations: {} }, ns.settings);
      const choice = choosePodProfile(policy, pod.metadata?.annotations ?? {}, ns.settings);
      const key = choice.profileReason === "pod-profile" ? choice.profileName : "";
      let f = fresh.get(key);
      if (!f) fresh.set(key, (f = freshDNSConfig(ns, podProfile(policy, choice, ns.settings))));
      return f;
    },
    decideTemplate: (t) => {
      let d = templateDecisions.get(t);
      if (!d) templateDecisions.set(t, (d = decideAsCreate(t, ns)));
      return d;
    },
  };
  return (pod, workload) => {
    const base = { namespace: ns.namespace, name: pod.metadata.name, ...(pod.metadata.uid ? { uid: pod.metadata.uid } : {}), workload };
    if (pod.metadata.deletionTimestamp) return { ...base, result: "skip", reason: "pod-terminating", message: "the pod is being deleted", findings: [] };
    const phase = pod.status?.phase;
    if (phase === "Succeeded" || phase === "Failed") {
      return {
        ...base,
        result: "skip",
        reason: "pod-completed",
        message: `the pod has ${phase === "Succeeded" ? "succeeded" : "failed"}: it resolves no more names`,
        findings: [],
      };
    }
    const template = workload.template;
    let key = podDNSKey(pod);
    if (template) {
      let id = templateIds.get(template);
      if (id === undefined) templateIds.set(template, (id = nextTemplateId++));
      key += `\u0000${id}`;
    }
    let verdict = verdicts.get(key);
    if (!verdict) verdicts.set(key, (verdict = judge(pod, template, ctx)));
    return {
      ...base,
      ...(verdict.mode ? { mode: verdict.mode } : {}),
      ...(verdict.profile ? { profile: verdict.profile } : {}),
      result: verdict.result,
      reason: verdict.reason,
      message: verdict.message,
      findings: withFixes(verdict, workload, pod.metadata.name),
    };
  };

  /** The verdict's findings with their fix; one shared array per workload unless the fix names the pod. */
  function withFixes(verdict: Verdict, workload: Workload, podName: string): readonly Finding[] {
    if (verdict.findings.length === 0) return [];
    const why = (f: Omit<Finding, "fix">): FixFor => (f.kind === "foreign-dns" || f.kind === "would-inject" ? f.kind : "recreate");
    const make = () => verdict.findings.map((f) => ({ ...f, fix: fixText(workload, [podName], why(f), ns.context) }));
    if (verdict.findings.some((f) => fixNamesPods(workload.kind, why(f), ns.context))) return make();
    let perWorkload = shared.get(verdict);
    if (!perWorkload) shared.set(verdict, (perWorkload = new WeakMap()));
    let findings = perWorkload.get(workload);
    if (!findings) perWorkload.set(workload, (findings = make()));
    return findings;
  }
}

/** Everything `decide` and the comparison read from a pod, as one string: pods with equal keys get equal verdicts. */
export function podDNSKey(pod: AuditedPod): string {
  const a = pod.metadata.annotations;
  return JSON.stringify([
    pod.metadata.labels?.[INJECT_LABEL] ?? null,
    a?.[MIRROR_POD_ANNOTATION] !== undefined,
    a?.[INJECTED_ANNOTATION] ?? null,
    a?.[PROFILE_ANNOTATION] ?? null,
    a?.[NDOTS_ANNOTATION] ?? null,
    pod.spec?.dnsPolicy ?? null,
    pod.spec?.hostNetwork ?? null,
    pod.spec?.dnsConfig ?? null,
  ]);
}

interface Fresh {
  nameservers: string[];
  searches: string[];
  fromProfile: boolean;
}

interface JudgeContext {
  ns: NamespaceAuditInput;
  /** A plain pod's injection under the profile `pod` gets (its own pick, or the namespace's). */
  fresh: (pod: PodLike) => Fresh;
  decideTemplate: (template: PodLike) => Decision;
}

/** The verdict on a pod's DNS: the webhook's decision on it as a CREATE, then the comparison. */
function judge(pod: AuditedPod, template: PodLike | undefined, ctx: JudgeContext): Verdict {
  const decision = decideAsCreate(pod, ctx.ns);
  const labels = { mode: decision.mode, profile: decision.profile };
  const withFindings = (findings: Omit<Finding, "fix">[]): Verdict => ({
    ...labels,
    result: findings.some((f) => f.result === "fail") ? "fail" : "warn",
    reason: decision.reason,
    message: findings.map((f) => f.message).join("; "),
    findings,
  });
  const skip = (): Verdict => ({ ...labels, result: "skip", reason: decision.reason, message: decision.message, findings: [] });

  if (decision.action !== "noop" && decision.action !== "inject" && decision.action !== "report") {
    if (decision.reason === "pod-manages-own-dns") {
      const foreign = foreignDNS(pod, ctx.ns);
      if (foreign) return withFindings([foreign]);
    }
    return skip();
  }
  const desired = decision.dnsConfig;
  if (!desired) return skip(); // unreachable: decide sets it for these actions

  const injected = isInjected(pod);
  let problems = injected ? compareInjected(pod, desired, decision, template, ctx) : [notInjected(pod, desired, ctx.ns)];
  // The in-tree policy writes `<profile>@policy` (CEL has no hash): its pods are judged by
  // their fields alone, which compareInjected has just done.
  const byPolicy = pod.metadata.annotations?.[INJECTED_ANNOTATION] === `${decision.profile}@${POLICY_INJECTION_MARK}`;
  if (byPolicy && problems.length === 0)
    return { ...labels, result: "pass", reason: "already-injected", message: "injected by the in-tree MutatingAdmissionPolicy and up to date", findings: [] };
  if (problems.length === 0 && decision.action !== "noop") {
    // decide saw something stale that the field comparison did not name: the annotation itself.
    problems = [annotationDrift(pod, decision)];
  }
  if (problems.length === 0) return { ...labels, result: "pass", reason: decision.reason, message: decision.message, findings: [] };
  if (decision.mode === "audit") return withFindings([wouldInject(problems, injected, decision, pod)]);
  return withFindings(problems);
}

function decideAsCreate(pod: PodLike, ns: NamespaceAuditInput): Decision {
  return decide({
    request: podCreateRequest(ns.namespace),
    pod,
    namespace: ns.namespaceFacts,
    dnsServiceIPs: ns.dnsServiceIPs,
    settings: ns.settings,
  });
}

/** Ours: dnsPolicy None and our annotation (row 7 tells a pod's own dnsPolicy None apart the same way). */
function isInjected(pod: AuditedPod): boolean {
  return pod.spec?.dnsPolicy === "None" && pod.metadata.annotations?.[INJECTED_ANNOTATION] !== undefined;
}

type Problem = Omit<Finding, "fix">;

const finding = (kind: FindingKind, message: string, expected: string, actual: string): Problem => ({
  kind,
  result: FINDING_RULES[kind].result,
  severity: FINDING_RULES[kind].severity,
  message,
  expected,
  actual,
});

function notInjected(pod: AuditedPod, desired: Required<PodDNSConfig>, ns: NamespaceAuditInput): Problem {
  const policy = pod.spec?.dnsPolicy ?? "ClusterFirst";
  const why =
    ns.context?.source === "manifest"
      ? "the manifest was not injected offline; the webhook injects its pods at admission only while it is up"
      : "created before the namespace opted in, or while the webhook was unavailable";
  return finding(
    "not-injected",
    `not injected: dnsPolicy ${policy} and no ${INJECTED_ANNOTATION} annotation (${why})`,
    `dnsPolicy None; ${describeDNSConfig(desired)}`,
    describePodDNS(pod),
  );
}

/**
 * An injected pod against today's configuration: `stale-nameserver` when its nameservers
 * do not begin with today's (the DNS Service's clusterIP, or the profile's), `drift` for
 * the search list, options, other nameservers and the profile name.
 */
function compareInjected(pod: AuditedPod, desired: Required<PodDNSConfig>, decision: Decision, template: PodLike | undefined, ctx: JudgeContext): Problem[] {
  const actual = readDNSConfig(pod.spec?.dnsConfig);
  const fresh = ctx.fresh(pod);
  const { settings } = ctx.ns;
  // The template is what a restart produces; without one, the stored pod re-decided. What
  // would change is that decision's own list (Decision.changes), not a comparison made here.
  const fromTemplate = template ? ctx.decideTemplate(template) : undefined;
  const reference = fromTemplate?.dnsConfig ? fromTemplate : decision;
  const expected = reference.dnsConfig ?? desired;
  const changes = reference === decision ? (decision.changes ?? []) : changesTo(pod, reference);
  const change = (field: DecisionChange["field"]) => changes.find((c) => c.field === field);
  const findings: Problem[] = [];

  const leading = fresh.nameservers;
  const stale = !startsWith(actual.nameservers.map(canonical), leading.map(canonical));
  if (stale) {
    const who = fresh.fromProfile ? `profile "${decision.profile}" uses` : dnsServicesAre(settings);
    const injectedWith = actual.nameservers.slice(0, Math.max(1, leading.length));
    const onlyOld = pointsOnlyAtOldServices(actual.nameservers, ctx.ns);
    // Without a template, the pod's own servers are whatever follows the injected ones.
    const expectedServers = template ? expected.nameservers : dedupe([...leading, ...actual.nameservers.slice(leading.length)]).slice(0, 3);
    findings.push(
      finding(
        "stale-nameserver",
        `injected with nameserver ${injectedWith.join(", ") || "(none)"}, but the ${who} ${leading.join(", ")}${onlyOld}`,
        `nameservers ${expectedServers.join(" ")}`,
        `nameservers ${actual.nameservers.join(" ") || "(none)"}`,
      ),
    );
  }

  const parts: { what: string; expected: string; actual: string }[] = [];
  const nameservers = change("nameservers");
  if (!stale && nameservers) parts.push({ what: "nameservers", expected: nameservers.to, actual: nameservers.from });
  const searches = change("searches");
  // Without a template the pod's own searches cannot be told apart: say what must come first.
  if (searches) parts.push({ what: "searches", expected: template ? searches.to : `${fresh.searches.join(" ")} first`, actual: searches.from });
  const options = change("options");
  if (options) parts.push({ what: "options", expected: options.to, actual: options.from });
  const injectedProfile = pod.metadata.annotations?.[INJECTED_ANNOTATION]?.split("@")[0];
  if (decision.profile !== undefined && injectedProfile !== decision.profile) parts.push({ what: "profile", expected: decision.profile, actual: injectedProfile ?? "(none)" });
  if (parts.length) {
    findings.push(
      finding(
        "drift",
        `dnsConfig differs from ${decision.profileReason === "pod-profile" ? "the pod's" : "the namespace's"} profile "${decision.profile}": ${parts.map((p) => `${p.what} ${p.actual} (expected ${p.expected})`).join("; ")}`,
        parts.map((p) => `${p.what} ${p.expected}`).join("; "),
        parts.map((p) => `${p.what} ${p.actual}`).join("; "),
      ),
    );
  }
  return findings;
}

/** "DNS Service kube-system/kube-dns is at", or all of them during a migration. */
function dnsServicesAre(settings: Settings): string {
  const refs = dnsServiceRefs(settings);
  return refs.length > 1 ? `DNS Services ${refs.map(serviceRefText).join(", ")} are at` : `DNS Service ${serviceRefText(refs[0]!)} is at`;
}

/**
 * A Service-CIDR migration's question: which pods would lose DNS with the old Service. The
 * text added to a stale-nameserver finding for a pod on none of the new Service's IPs.
 */
function pointsOnlyAtOldServices(nameservers: readonly string[], ns: NamespaceAuditInput): string {
  const newIPs = (ns.newDNSServiceIPs ?? []).map(canonical);
  if (newIPs.length === 0 || nameservers.some((ip) => newIPs.includes(canonical(ip)))) return "";
  const first = dnsServiceRefs(ns.settings)[0];
  return `; it points only at the old DNS Service IPs, not at the new ${first ? serviceRefText(first) : "Service"} (${newIPs.join(", ")}): restart it before the old Service is removed`;
}

function annotationDrift(pod: AuditedPod, decision: Decision): Problem {
  const actual = pod.metadata.annotations?.[INJECTED_ANNOTATION] ?? "(none)";
  return finding(
    "drift",
    `the ${INJECTED_ANNOTATION} annotation ${actual} does not name today's dnsConfig (expected ${decision.injectedAnnotation})`,
    `${INJECTED_ANNOTATION}=${decision.injectedAnnotation}`,
    `${INJECTED_ANNOTATION}=${actual}`,
  );
}

/**
 * An audit-mode namespace's finding. A pod never injected is told what the webhook's own
 * decision on it would change (Decision.changes, the same words as its audit-mode warning);
 * an injected one what a restart would fix, by the findings an enabled namespace would get.
 */
function wouldInject(problems: Problem[], injected: boolean, decision: Decision, pod: AuditedPod): Problem {
  const desired = decision.dnsConfig!;
  const what = injected
    ? `would re-inject (${problems.map((p) => p.kind).join(", ")}): ${problems.map((p) => p.message).join("; ")}`
    : describeWouldInject(decision.changes, desired);
  return finding(
    "would-inject",
    `audit mode: ${what}`,
    injected ? problems.map((p) => p.expected).join("; ") : `dnsPolicy None; ${describeDNSConfig(desired)}`,
    injected ? problems.map((p) => p.actual).join("; ") : describePodDNS(pod),
  );
}

/**
 * A pod with its own dnsPolicy None whose nameservers include none of the cluster's DNS
 * IPs (the DNS Service's live and fixed IPs, every profile's nameservers): it cannot
 * resolve Service names. Informational: the pod asked for it.
 */
function foreignDNS(pod: AuditedPod, input: NamespaceAuditInput): Problem | undefined {
  if (pod.spec?.dnsPolicy !== "None") return undefined;
  const own = readDNSConfig(pod.spec.dnsConfig).nameservers;
  const cluster = new Set<string>();
  for (const ip of [...input.dnsServiceIPs, ...configuredDNSServiceIPs(input.settings)]) cluster.add(canonical(ip));
  const live = { dnsService: [...cluster], nodeLocalDNS: input.settings.nodeLocalDNS.address };
  for (const profile of Object.values(input.settings.profiles)) for (const ip of expandNameservers(profile.nameservers, live)) cluster.add(canonical(ip));
  if (own.some((ip) => cluster.has(canonical(ip)))) return undefined;
  const clusterList = [...cluster];
  return finding(
    "foreign-dns",
    `manages its own DNS (dnsPolicy None) with nameservers ${own.join(", ") || "(none)"}, none of them a cluster DNS server (${clusterList.join(", ") || "unknown"}): Service names do not resolve`,
    `a nameserver among ${clusterList.join(" ") || "(unknown)"}`,
    `nameservers ${own.join(" ") || "(none)"}`,
  );
}

/**
 * The dnsConfig of a pod with no dnsConfig of its own under `profile`: which nameservers come
 * first today (the profile's, else the DNS Service IP). The webhook's builder, not a re-derivation.
 */
function freshDNSConfig(input: NamespaceAuditInput, profile: Profile): Fresh {
  const built = buildDNSConfig({
    namespace: input.namespace,
    clusterDomain: input.settings.clusterDomain,
    dnsServiceIPs: input.dnsServiceIPs,
    nodeLocalDNS: input.settings.nodeLocalDNS.address,
    profile,
    podDNSConfig: undefined,
  });
  return { nameservers: built.dnsConfig.nameservers, searches: built.dnsConfig.searches, fromProfile: hasProfileNameservers(profile.nameservers) };
}

/** A stored dnsConfig through the webhook's own reader (manifests are untrusted). */
const readDNSConfig = (raw: unknown): Required<PodDNSConfig> => readPodDNSConfig(raw).config;

/** "dnsPolicy ClusterFirst" plus the pod's own dnsConfig, if any. */
function describePodDNS(pod: AuditedPod): string {
  const policy = `dnsPolicy ${pod.spec?.dnsPolicy ?? "ClusterFirst"}`;
  const own = readDNSConfig(pod.spec?.dnsConfig);
  const parts = [policy];
  if (own.nameservers.length) parts.push(`nameservers ${own.nameservers.join(" ")}`);
  if (own.searches.length) parts.push(`searches ${own.searches.join(" ")}`);
  if (own.options.length) parts.push(`options ${own.options.map(optionText).join(" ")}`);
  return parts.join("; ");
}

const canonical = (ip: string) => canonicalIP(ip) ?? ip;
const startsWith = (a: readonly string[], prefix: readonly string[]) => prefix.every((x, i) => a[i] === x);
const dedupe = (xs: readonly string[]) => [...new Set(xs)];
