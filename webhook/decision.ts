/**
 * The injection decision of PRODUCT.md, as data: (request, pod, namespace, settings) →
 * decision row, reason code, resulting dnsConfig. `explain`, logs, metrics, warnings and
 * audit annotations all read the same Decision, so they cannot disagree. Pure.
 */
import { createHash } from "node:crypto";
import {
  ALLOWED_PROFILES_ANNOTATION,
  INJECTED_ANNOTATION,
  INJECT_LABEL,
  MIRROR_POD_ANNOTATION,
  NDOTS_ANNOTATION,
  OS_NODE_LABEL,
  POD_OPT_OUT_VALUE,
  POLICY_INJECTION_MARK,
  PROFILE_ANNOTATION,
  SEARCHES_ANNOTATION,
  type NamespaceMode,
} from "../config/names.js";
import { dnsServiceRefs, excludedNamespaces, serviceRefText, type DNSOption, type Profile, type Settings } from "../config/settings.js";
import { buildDNSConfig, describeDNSConfig, optionText, readPodDNSConfig, type BuiltDNSConfig, type PodDNSConfig, type UnreadEntries } from "./dns-config.js";
import { MAX_ANNOTATIONS_BYTES, annotationBytes, dnsConfigProblem } from "../config/dns-limits.js";
import { choosePodProfile, podProfile, resolveNamespacePolicy, type NamespaceFacts, type NamespacePolicy, type ProfileReason } from "./namespace-policy.js";
import { isPodCreate } from "./pod-create.js";
import { isObject } from "../config/json-shapes.js";
import { DNS_SERVICE_TOKEN, effectiveNameservers, usesDNSService } from "../config/nameserver-tokens.js";

/** Reason codes, one per outcome; stable, kebab-case, used as metric label values. */
export const REASONS = {
  "not-a-pod": { row: 1, text: "the object is not a Pod" },
  "not-create": { row: 1, text: "only CREATE is mutated: pod DNS fields are immutable after creation" },
  subresource: { row: 1, text: "subresource requests are never mutated" },
  "namespace-excluded": { row: 2, text: "the namespace is excluded (system namespaces and the injector's own)" },
  "namespace-not-opted-in": { row: 3, text: "the namespace has no inject label, or it is not enabled/audit" },
  "namespace-disabled": { row: 3, text: "the namespace's inject label is 'disabled'" },
  "pod-opted-out": { row: 4, text: "the pod carries the opt-out label" },
  "mirror-pod": { row: 4, text: "mirror (static) pods are managed by kubelet" },
  "dns-policy-default": { row: 5, text: "dnsPolicy Default: the pod asked for the node's DNS" },
  "host-network-cluster-first": { row: 6, text: "hostNetwork with ClusterFirst: kubelet treats it as Default" },
  "pod-manages-own-dns": { row: 7, text: "dnsPolicy None set by the pod: it manages its own DNS" },
  "windows-skipped": { row: 7, text: "a Windows pod, and the setting windows is skip" },
  "already-injected": { row: 8, text: "already injected and up to date" },
  "dns-service-ip-unknown": { row: 9, text: "the DNS Service IP is unknown: admitted unchanged" },
  "cluster-first": { row: 9, text: "ClusterFirst pod: injected" },
  "cluster-first-with-host-net": { row: 9, text: "ClusterFirstWithHostNet pod: injected" },
  "windows-pod": { row: 9, text: "Windows pod: injected with nameservers and searches, without the profile's resolver options (Windows ignores them)" },
  "reinject-outdated": { row: 9, text: "injected before, but the dnsConfig is out of date: re-injected" },
  "would-inject": { row: 9, text: "audit mode: would be injected, left unchanged" },
  "annotations-full": { row: 9, text: "the injected annotation would take the pod's annotations over the API server's 256 KiB limit: admitted unchanged" },
  "result-invalid": { row: 9, text: "the injected dnsConfig would not pass the API server's validation: admitted unchanged" },
} as const;
export type ReasonCode = keyof typeof REASONS;
export type DecisionRow = (typeof REASONS)[ReasonCode]["row"];

/**
 * allow: not ours to look at; skip: ours, deliberately unchanged; noop: already right;
 * inject: patch it; report: audit mode, would patch.
 */
export type Action = "allow" | "skip" | "noop" | "inject" | "report";

export interface RequestFacts {
  kind: { group: string; version: string; kind: string };
  operation: string;
  subResource?: string | undefined;
  /** The request's namespace (request.namespace): pods from controllers may carry none. */
  namespace: string;
}

/** A Pod, or a pod template: just the fields the decision reads. Untrusted shape. */
export interface PodLike {
  metadata?: { name?: string; generateName?: string; labels?: Record<string, string>; annotations?: Record<string, string> } | undefined;
  spec?: { dnsPolicy?: string; hostNetwork?: boolean; dnsConfig?: unknown; os?: { name?: string }; nodeSelector?: Record<string, string> } | undefined;
}

/** A Windows pod: `spec.os.name: windows`, or a nodeSelector on `kubernetes.io/os: windows`. */
export function isWindowsPod(pod: PodLike): boolean {
  const spec = pod.spec;
  return spec?.os?.name === "windows" || spec?.nodeSelector?.[OS_NODE_LABEL] === "windows";
}

export interface DecisionInputs {
  request: RequestFacts;
  pod: PodLike;
  /** undefined: the namespace is unknown (not in the cache and not readable). */
  namespace: NamespaceFacts | undefined;
  /**
   * What the token `dnsService` stands for: the DNS Service's live clusterIPs (a dual-stack
   * Service's two, primary first), else the configured fixed IP; empty while unknown.
   */
  dnsServiceIPs: readonly string[];
  settings: Settings;
  /**
   * Bytes of all the pod's annotations (keys + values), when `pod` is a view that does not
   * carry them all (pod-view.ts); default: measured on `pod`.
   */
  annotationBytes?: number | undefined;
  /** Entries of the pod's own dnsConfig lists that the view did not read. */
  unread?: UnreadEntries | undefined;
}

/**
 * One pod field that applying a decision sets, before and after, as the messages print it:
 * lists joined with spaces, options as resolv.conf writes them, "(none)" for nothing.
 */
export interface DecisionChange {
  field: "dnsPolicy" | "nameservers" | "searches" | "options" | "annotation";
  from: string;
  to: string;
}

export interface Decision {
  row: DecisionRow;
  action: Action;
  reason: ReasonCode;
  /** One line for humans: the reason's text plus specifics. */
  message: string;
  mode?: NamespaceMode | undefined;
  profile?: string | undefined;
  /**
   * Why `profile` (set with it): the namespace's, the pod's own pick, or a fallback from a
   * pick that is unknown or not allowed. A second code beside `reason`, since any row can
   * come with any of them (PROFILE_REASONS in namespace-policy.ts).
   */
  profileReason?: ProfileReason | undefined;
  /** For inject, report and noop: the dnsConfig the pod gets (or would get). */
  dnsConfig?: Required<PodDNSConfig> | undefined;
  /** For inject, report and noop: the value of the injected annotation. */
  injectedAnnotation?: string | undefined;
  /**
   * For inject, report and noop: what applying it changes in the pod as sent (its
   * dnsPolicy, its spec.dnsConfig as readPodDNSConfig reads it, the injected annotation),
   * only the fields that differ, in that order; empty for noop. Read only (often shared).
   */
  changes?: readonly DecisionChange[] | undefined;
  /** Admission warnings: ignored namespace annotations, cut entries, unknown DNS IP. */
  warnings: string[];
}

/**
 * The decision table of README "How it decides", first matching row wins. Pure: the same
 * inputs give the same decision (the webhook, `inject`, `explain` and the audits all call
 * it). The rows are {@link ROWS}, in table order; {@link injectionRows} comes last and
 * builds the dnsConfig.
 */
export function decide(inputs: DecisionInputs): Decision {
  const ctx = new RowContext(inputs);
  for (const row of ROWS) {
    const decision = row(ctx);
    if (decision) return decision;
  }
  return injectionRows(ctx);
}

/**
 * What a row reads: the inputs, and what is derived from them, each computed on first use
 * (rows 1-2 need neither the namespace's policy nor the pod's facts).
 */
class RowContext {
  #derived: NamespaceDerived | undefined;
  #pod: PodFacts | undefined;
  #policy: Policy | undefined;
  constructor(readonly inputs: DecisionInputs) {}
  /** The namespace's policy and cached injections (an unknown namespace counts as unlabelled). */
  get derived(): NamespaceDerived {
    const { namespace, request, dnsServiceIPs, settings } = this.inputs;
    return (this.#derived ??= namespaceDerived(namespace ?? { name: request.namespace, labels: {}, annotations: {} }, dnsServiceIPs, settings));
  }
  get pod(): PodFacts {
    return (this.#pod ??= podFacts(this.inputs.pod));
  }
  /** The namespace's policy with the pod's profile choice applied. */
  get policy(): Policy {
    return (this.#policy ??= podPolicy(this.derived, this.pod, this.inputs.settings));
  }
}

/** One row of the table: its decision, or undefined to fall through to the next. */
type RowCheck = (ctx: RowContext) => Decision | undefined;

/** Rows 1-7 and the DNS Service check, in table order; rows 8-9 (injectionRows) follow. */
const ROWS: readonly RowCheck[] = [requestRow, excludedNamespaceRow, namespaceRow, podRow, windowsRow, dnsServiceRow];

/** A decision of row `reason`, with its message (and a detail in parentheses). */
function decided(reason: ReasonCode, action: Action, extra: Partial<Decision> = {}, detail = ""): Decision {
  return { row: REASONS[reason].row, action, reason, message: REASONS[reason].text + (detail ? ` (${detail})` : ""), warnings: [], ...extra };
}

/** Row 1: only Pod CREATE, never a subresource. */
function requestRow({ inputs: { request } }: RowContext): Decision | undefined {
  if (isPodCreate(request)) return undefined;
  if (request.kind.group !== "" || request.kind.kind !== "Pod") return decided("not-a-pod", "allow", {}, `${request.kind.kind || "unknown kind"}`);
  if (request.subResource) return decided("subresource", "allow", {}, request.subResource);
  return decided("not-create", "allow", {}, request.operation);
}

/** Row 2. */
function excludedNamespaceRow({ inputs: { request, settings } }: RowContext): Decision | undefined {
  return excludedNamespaces(settings).has(request.namespace) ? decided("namespace-excluded", "skip", {}, request.namespace) : undefined;
}

/**
 * The policy a pod's rows 4-9 read: the namespace's, with the pod's profile choice applied
 * (README "Per-pod profiles"), and where the plain injections of that profile are cached.
 */
interface Policy extends NamespacePolicy {
  profileReason: ProfileReason;
  slots: InjectionSlots;
  /** A Windows pod's: the profile's options it does not get (Windows ignores them), for the warning. */
  droppedOptions?: readonly DNSOption[];
}

/** Row 3. */
function namespaceRow(ctx: RowContext): Decision | undefined {
  const { policy } = ctx.derived;
  const namespaceFound = ctx.inputs.namespace !== undefined;
  if (policy.mode === null) {
    return decided(
      "namespace-not-opted-in",
      "skip",
      {},
      policy.invalidMode !== undefined ? `unknown mode ${JSON.stringify(policy.invalidMode)}` : namespaceFound ? "" : "namespace not found",
    );
  }
  if (policy.mode === "disabled") return decided("namespace-disabled", "skip", { mode: policy.mode });
  return undefined;
}

/** What rows 4-9 read of the pod. */
interface PodFacts {
  labels: Record<string, unknown>;
  annotations: Record<string, unknown>;
  spec: NonNullable<PodLike["spec"]>;
  /** Unset means ClusterFirst. */
  dnsPolicy: string;
  previousAnnotation: unknown;
  windows: boolean;
}

function podFacts(pod: PodLike): PodFacts {
  const annotations = pod.metadata?.annotations ?? {};
  const spec = pod.spec ?? {};
  return {
    labels: pod.metadata?.labels ?? {},
    annotations,
    spec,
    dnsPolicy: spec.dnsPolicy ?? "ClusterFirst",
    previousAnnotation: annotations[INJECTED_ANNOTATION],
    windows: isWindowsPod(pod),
  };
}

const base = (policy: Policy) => ({ mode: policy.mode ?? undefined, profile: policy.profileName, profileReason: policy.profileReason });

/** Row 4 (opt-out, mirror pods) and rows 5-7: respect what the pod asked for. */
function podRow({ pod, policy }: RowContext): Decision | undefined {
  const b = base(policy);
  if (pod.labels[INJECT_LABEL] === POD_OPT_OUT_VALUE) return decided("pod-opted-out", "skip", b);
  if (pod.annotations[MIRROR_POD_ANNOTATION] !== undefined) return decided("mirror-pod", "skip", b);
  const { dnsPolicy } = pod;
  if (dnsPolicy === "Default") return decided("dns-policy-default", "skip", b);
  if (pod.spec.hostNetwork === true && dnsPolicy === "ClusterFirst") return decided("host-network-cluster-first", "skip", b);
  if (dnsPolicy === "None" && pod.previousAnnotation === undefined) return decided("pod-manages-own-dns", "skip", b);
  if (dnsPolicy !== "None" && dnsPolicy !== "ClusterFirst" && dnsPolicy !== "ClusterFirstWithHostNet") {
    // An unknown policy is the API server's to reject, not ours to rewrite.
    return decided("pod-manages-own-dns", "skip", b, `unknown dnsPolicy ${JSON.stringify(dnsPolicy)}`);
  }
  return undefined;
}

/** Row 7 too: with `windows: skip`, Windows pods keep kubelet's DNS. */
function windowsRow(ctx: RowContext): Decision | undefined {
  const { pod } = ctx;
  return pod.windows && ctx.inputs.settings.windows === "skip" ? decided("windows-skipped", "skip", base(ctx.policy)) : undefined;
}

/** No nameserver to inject: admitted unchanged with a warning, never rejected. */
function dnsServiceRow({ inputs: { dnsServiceIPs, settings }, policy }: RowContext): Decision | undefined {
  if (dnsServiceIPs.length > 0 || !usesDNSService(policy.profile.nameservers)) return undefined;
  const refs = dnsServiceRefs(settings).map(serviceRefText);
  const which = refs.length === 1 ? `DNS Service ${refs[0]} IP unknown` : `DNS Services ${refs.join(", ")}: no IP known`;
  return decided("dns-service-ip-unknown", "skip", {
    ...base(policy),
    warnings: [...policy.warnings, `pod-dns-injector: ${which}; pod admitted without DNS injection`],
  });
}

/**
 * Rows 8 and 9: the dnsConfig is built; already there, audited, or injected if it fits.
 *
 * A plain pod (no dnsConfig or injected annotation of its own) that picks nothing gets its
 * namespace's shared injection, and then its decision depends only on that injection, its
 * dnsPolicy and whether it runs Windows, once its annotations are known to have room: that
 * decision is kept in the injection's slots and shared (frozen), so such a review builds no
 * Decision, warnings or message of its own.
 */
function injectionRows(ctx: RowContext): Decision {
  const { inputs, policy, pod } = ctx;
  const built = injectionFor(inputs, policy, pod);
  const { slots } = policy;
  if (policy !== ctx.derived.own || built !== slots.plain || !annotationsFit(inputs, pod, built)) return decideInjection(inputs, policy, pod, built);
  const key = `${pod.dnsPolicy}\0${pod.windows ? 1 : 0}`;
  slots.decisions ??= new Map();
  let shared = slots.decisions.get(key);
  if (!shared) slots.decisions.set(key, (shared = freezeDeep(decideInjection(inputs, policy, pod, built))));
  return shared;
}

/** Whether the pod's annotations stay within the API server's limit with the injected one. */
function annotationsFit(inputs: DecisionInputs, pod: PodFacts, built: BuiltInjection): boolean {
  return annotationsAfter(inputs, pod, built) <= MAX_ANNOTATIONS_BYTES;
}

function annotationsAfter(inputs: DecisionInputs, pod: PodFacts, built: BuiltInjection): number {
  const { previousAnnotation } = pod;
  const before = inputs.annotationBytes ?? measureAnnotations(pod.annotations);
  return before - (typeof previousAnnotation === "string" ? annotationBytes(INJECTED_ANNOTATION, previousAnnotation) : 0) + annotationBytes(INJECTED_ANNOTATION, built.annotation);
}

function decideInjection(inputs: DecisionInputs, policy: Policy, pod: PodFacts, built: BuiltInjection): Decision {
  const b = base(policy);
  const annotation = built.annotation;
  const warnings = [...policy.warnings, ...[...built.cuts, ...built.resolverWarnings].map((c) => `pod-dns-injector: ${c}`)];
  const result = { ...b, dnsConfig: built.dnsConfig, injectedAnnotation: annotation, warnings, changes: NO_CHANGES };

  // Row 8: re-invocation (reinvocationPolicy: IfNeeded) or a pod that was injected offline.
  if (pod.dnsPolicy === "None" && pod.previousAnnotation === annotation && unreadCount(inputs) === 0 && sameDNSConfig(pod.spec.dnsConfig, built.dnsConfig)) {
    return decided("already-injected", "noop", { ...result, warnings: policy.warnings });
  }
  // Row 9.
  result.changes = podChanges(inputs, pod, built);
  if (policy.mode === "audit") return decided("would-inject", "report", result);
  // What we write must pass the API server's validation of the whole pod, not only of our
  // fields: a valid pod must never become an invalid one.
  if (built.problem) return decided("result-invalid", "skip", { ...b, warnings: [...warnings, `pod-dns-injector: not injected: ${built.problem}`] }, built.problem);
  const after = annotationsAfter(inputs, pod, built);
  if (after > MAX_ANNOTATIONS_BYTES) {
    const detail = `${after} bytes with ${INJECTED_ANNOTATION}, the limit is ${MAX_ANNOTATIONS_BYTES}`;
    return decided("annotations-full", "skip", { ...b, warnings: [...policy.warnings, `pod-dns-injector: not injected: the pod's annotations would total ${detail}`] }, detail);
  }
  const reason: ReasonCode =
    pod.dnsPolicy === "None" ? "reinject-outdated" : pod.windows ? "windows-pod" : pod.dnsPolicy === "ClusterFirstWithHostNet" ? "cluster-first-with-host-net" : "cluster-first";
  return decided(reason, "inject", result);
}

const unreadCount = ({ unread }: DecisionInputs) => (unread ? unread.nameservers + unread.searches + unread.options : 0);

/** A pod without a dnsConfig or injected annotation of its own: it gets its profile's shared injection. */
const isPlain = (inputs: DecisionInputs, pod: PodFacts) => pod.spec.dnsConfig === undefined && pod.previousAnnotation === undefined && unreadCount(inputs) === 0;

const NO_CHANGES: readonly DecisionChange[] = Object.freeze([]);

/**
 * The changes of a plain pod, by its shared injection and its dnsPolicy (ClusterFirst or
 * ClusterFirstWithHostNet): nothing else of the pod enters them, so a plain review
 * allocates none.
 */
const plainChanges = new WeakMap<BuiltInjection, Map<string, readonly DecisionChange[]>>();

/** What injecting `built` changes in the pod: Decision.changes. */
function podChanges(inputs: DecisionInputs, pod: PodFacts, built: BuiltInjection): readonly DecisionChange[] {
  if (!isPlain(inputs, pod)) {
    // Not injected before: the builder already read the pod's own dnsConfig. Injected before,
    // it read only the pod's part of it; the change is against the whole stored one.
    const stored = pod.previousAnnotation === undefined ? built.own : readPodDNSConfig(pod.spec.dnsConfig).config;
    return changesFrom(pod, stored, built);
  }
  let byPolicy = plainChanges.get(built);
  if (!byPolicy) plainChanges.set(built, (byPolicy = new Map<string, readonly DecisionChange[]>()));
  let changes = byPolicy.get(pod.dnsPolicy);
  if (!changes) byPolicy.set(pod.dnsPolicy, (changes = Object.freeze(changesFrom(pod, { nameservers: [], searches: [], options: [] }, built))));
  return changes;
}

/**
 * Decision.changes as one line, as the audit-mode warning and the audit's would-inject finding
 * say it: "dnsPolicy ClusterFirst → None; nameservers (none) → 10.96.0.10; ...". The injected
 * annotation (under its key) only when no DNS field changes: the API server clips a warning
 * at 256 characters, and the DNS fields are what a reader needs. "" for no change.
 */
export function describeChanges(changes: readonly DecisionChange[]): string {
  const dns = changes.filter((c) => c.field !== "annotation");
  return (dns.length > 0 ? dns : changes).map((c) => `${c.field === "annotation" ? INJECTED_ANNOTATION : c.field} ${c.from} → ${c.to}`).join("; ");
}

/**
 * What an audit-mode decision would do to the pod, in the words of its admission warning and
 * of the audit's would-inject finding: "would change …" from Decision.changes, or, for a pod
 * whose only difference lies past the read limits (so no change is listed), the whole result.
 */
export function describeWouldInject(changes: readonly DecisionChange[] | undefined, dnsConfig: Required<PodDNSConfig>): string {
  const listed = describeChanges(changes ?? []);
  return listed ? `would change ${listed}` : `would set dnsPolicy None; ${describeDNSConfig(dnsConfig)}`;
}

function changesFrom(pod: PodFacts, own: Required<PodDNSConfig>, result: { dnsConfig: Required<PodDNSConfig>; annotation: string }): DecisionChange[] {
  const list = (xs: readonly string[]) => xs.join(" ") || "(none)";
  const previous = pod.previousAnnotation;
  const { dnsConfig } = result;
  const pairs: [DecisionChange["field"], string, string][] = [
    ["dnsPolicy", pod.dnsPolicy, "None"],
    ["nameservers", list(own.nameservers), list(dnsConfig.nameservers)],
    ["searches", list(own.searches), list(dnsConfig.searches)],
    ["options", list(own.options.map(optionText)), list(dnsConfig.options.map(optionText))],
    ["annotation", typeof previous === "string" ? previous : "(none)", result.annotation],
  ];
  return pairs.filter(([, from, to]) => from !== to).map(([field, from, to]) => ({ field, from, to }));
}

/**
 * What storing `decision`'s result would change in `pod`, another pod than the one decided:
 * Decision.changes by the same rule. The audit compares a stored pod with its template's
 * decision (what a restart produces) this way. Empty when the decision sets nothing.
 */
export function changesTo(pod: PodLike, decision: Decision): readonly DecisionChange[] {
  if (!decision.dnsConfig || decision.injectedAnnotation === undefined) return NO_CHANGES;
  const facts = podFacts(pod);
  return changesFrom(facts, readPodDNSConfig(facts.spec.dnsConfig).config, { dnsConfig: decision.dnsConfig, annotation: decision.injectedAnnotation });
}

/** The injection for this pod: its profile's shared one for a pod without a dnsConfig of its own. */
function injectionFor(inputs: DecisionInputs, policy: Policy, pod: PodFacts): BuiltInjection {
  const { request, settings } = inputs;
  const injectedBefore = pod.previousAnnotation !== undefined;
  const plain = isPlain(inputs, pod);
  const { slots, profileName, profile } = policy;
  if (plain && slots.plain) return slots.plain;
  const built = buildInjection(
    buildDNSConfig({
      namespace: request.namespace,
      clusterDomain: settings.clusterDomain,
      dnsServiceIPs: inputs.dnsServiceIPs,
      nodeLocalDNS: settings.nodeLocalDNS.address,
      profile,
      podDNSConfig: injectedBefore
        ? ownPartOfInjected(pod.spec.dnsConfig, String(pod.previousAnnotation), {
            namespace: request.namespace,
            domain: settings.clusterDomain,
            profile,
            dnsServiceIPs: inputs.dnsServiceIPs,
          })
        : pod.spec.dnsConfig,
      unread: inputs.unread,
    }),
    profileName,
  );
  if (policy.droppedOptions) built.resolverWarnings.push(`Windows ignores resolver options: the profile's ${policy.droppedOptions.map(optionText).join(", ")} not injected`);
  if (plain) slots.plain = freezeDeep(built);
  return built;
}

/** A built dnsConfig with what follows from it alone: its annotation and its validity. */
interface BuiltInjection {
  dnsConfig: Required<PodDNSConfig>;
  own: Required<PodDNSConfig>;
  cuts: string[];
  resolverWarnings: string[];
  annotation: string;
  /** Why the API server would reject it, or null. */
  problem: string | null;
}

function buildInjection(built: BuiltDNSConfig, profileName: string): BuiltInjection {
  return { ...built, annotation: `${profileName}@${hashDNSConfig(built.dnsConfig)}`, problem: dnsConfigProblem(built.dnsConfig) };
}

/** The injections of a profile's plain pods: shared by every review that gets that profile. */
interface InjectionSlots {
  /** The injection of a pod without a dnsConfig of its own, once one was built. */
  plain?: BuiltInjection;
  /** The decisions of such pods (see injectionRows), by dnsPolicy and Windows or not. */
  decisions?: Map<string, Decision>;
}

/** What depends only on the namespace's facts, the DNS IP and the settings. */
interface NamespaceDerived {
  policy: NamespacePolicy;
  /** The policy of a pod that picks nothing: the namespace's profile and its slots. */
  own: Policy;
  /**
   * Pods that pick a profile or ndots, and Windows pods: the profile they get and its slots,
   * by choice (the picked profile's name, or "" for the namespace's, and the ndots value; for
   * Windows "\u0001windows" and the base profile's name, ndots being dropped with the other
   * options). Keys come from resolved values only, never from raw annotations, so there are
   * at most (profiles + 1) × 18 per namespace entry.
   */
  chosen: Map<string, { profile: Profile; slots: InjectionSlots }>;
}

/**
 * The pod's Policy. A pod without profile or ndots annotations gets the namespace's shared
 * one; a fallback without ndots shares the namespace's injections too (the same dnsConfig
 * and annotation), with its own warnings and reason.
 */
function podPolicy(derived: NamespaceDerived, pod: PodFacts, settings: Settings): Policy {
  const policy = pickedPolicy(derived, pod, settings);
  return pod.windows ? windowsPolicy(derived, policy) : policy;
}

/**
 * A Windows pod's Policy: Windows honours nameservers and searches but not resolver options,
 * so its profile is the chosen one without them, with injections of its own.
 */
function windowsPolicy(derived: NamespaceDerived, policy: Policy): Policy {
  if (policy.profile.options.length === 0) return policy;
  const key = `\u0001windows\0${policy.profileReason === "pod-profile" ? policy.profileName : ""}`;
  let entry = derived.chosen.get(key);
  if (!entry) derived.chosen.set(key, (entry = { profile: freezeDeep({ ...policy.profile, options: [] }), slots: {} }));
  return { ...policy, profile: entry.profile, slots: entry.slots, droppedOptions: policy.profile.options };
}

/** The Policy of the pod's own picks (profile, ndots), or the namespace's shared one. */
function pickedPolicy(derived: NamespaceDerived, pod: PodFacts, settings: Settings): Policy {
  const { own } = derived;
  if (pod.annotations[PROFILE_ANNOTATION] === undefined && pod.annotations[NDOTS_ANNOTATION] === undefined) return own;
  const choice = choosePodProfile(derived.policy, pod.annotations, settings);
  const picked = choice.profileReason === "pod-profile";
  const warnings = choice.warnings.length ? [...own.warnings, ...choice.warnings] : own.warnings;
  if (!picked && choice.ndots === undefined) return { ...own, profileReason: choice.profileReason, warnings };
  const key = `${picked ? choice.profileName : ""}\0${choice.ndots ?? ""}`;
  let entry = derived.chosen.get(key);
  if (!entry) derived.chosen.set(key, (entry = { profile: freezeDeep(podProfile(derived.policy, choice, settings)), slots: {} }));
  return { ...own, profileName: choice.profileName, profile: entry.profile, profileReason: choice.profileReason, warnings, slots: entry.slots };
}

/**
 * Per settings object (a reload makes a new one, so nothing here outlives the settings it
 * came from): the namespace policy and the plain pod's injection, by everything they depend
 * on. Building, hashing and validating the dnsConfig was a tenth of the webhook's CPU per
 * review; with this it is once per namespace and DNS IP. Bounded: cleared when full.
 */
const derivedCache = new WeakMap<Settings, Map<string, NamespaceDerived>>();
const MAX_DERIVED_ENTRIES = 4096;

/**
 * The last entry found for a namespace's facts object, with the settings and IP list it was
 * found for: the admission facts hand out the same object while a namespace is unchanged
 * (and the same IP list while the DNS Service's IPs are), so most reviews skip building the
 * key below, which showed in the webhook's profile.
 */
const lastDerived = new WeakMap<NamespaceFacts, { settings: Settings; dnsServiceIPs: readonly string[]; derived: NamespaceDerived }>();

function namespaceDerived(ns: NamespaceFacts, dnsServiceIPs: readonly string[], settings: Settings): NamespaceDerived {
  const last = lastDerived.get(ns);
  if (last && last.settings === settings && last.dnsServiceIPs === dnsServiceIPs) return last.derived;
  const derived = derivedByKey(ns, dnsServiceIPs, settings);
  lastDerived.set(ns, { settings, dnsServiceIPs, derived });
  return derived;
}

function derivedByKey(ns: NamespaceFacts, dnsServiceIPs: readonly string[], settings: Settings): NamespaceDerived {
  let cache = derivedCache.get(settings);
  if (!cache) derivedCache.set(settings, (cache = new Map<string, NamespaceDerived>()));
  const a = ns.annotations;
  // \0 cannot occur in names, labels or annotation values the API server accepts.
  const key = `${ns.name}\0${ns.labels[INJECT_LABEL] ?? "\u0001"}\0${a[PROFILE_ANNOTATION] ?? "\u0001"}\0${a[NDOTS_ANNOTATION] ?? "\u0001"}\0${a[SEARCHES_ANNOTATION] ?? "\u0001"}\0${a[ALLOWED_PROFILES_ANNOTATION] ?? "\u0001"}\0${dnsServiceIPs.join(",")}`;
  let hit = cache.get(key);
  if (!hit) {
    if (cache.size >= MAX_DERIVED_ENTRIES) cache.clear();
    const policy = freezeDeep(resolveNamespacePolicy(ns, settings));
    hit = { policy, own: { ...policy, profileReason: "namespace-profile", slots: {} }, chosen: new Map() };
    cache.set(key, hit);
  }
  return hit;
}

/** Cached values are shared by every review: frozen, so a caller that changed one would throw. */
function freezeDeep<T>(value: T): T {
  if (typeof value === "object" && value !== null && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) freezeDeep(v);
  }
  return value;
}

/**
 * Short, stable hash of a dnsConfig: the injected annotation records which configuration
 * was applied, so audits can tell a stale pod from a current one without re-deriving it.
 */
export function hashDNSConfig(cfg: Required<PodDNSConfig>): string {
  const canonical = JSON.stringify([cfg.nameservers, cfg.searches, cfg.options.map((o) => [o.name, o.value ?? null])]);
  return createHash("sha256").update(canonical).digest("hex").slice(0, 10);
}

function measureAnnotations(annotations: Record<string, unknown>): number {
  let bytes = 0;
  for (const key in annotations) {
    const v = annotations[key];
    bytes += annotationBytes(key, typeof v === "string" ? v : String(v));
  }
  return bytes;
}

const isOption = (o: unknown): o is { name: string; value?: string } => isObject(o) && typeof o.name === "string" && ["undefined", "string"].includes(typeof o.value);

function copyDNSConfig(cfg: Required<PodDNSConfig>): Required<PodDNSConfig> {
  return { nameservers: [...cfg.nameservers], searches: [...cfg.searches], options: cfg.options.map((o) => ({ ...o })) };
}

/**
 * The pod's own part of a dnsConfig we injected earlier. When the dnsConfig is still exactly
 * what we applied (its hash matches the annotation), our earlier additions are taken out so
 * that re-injecting a stale pod or manifest does not keep the old DNS IP as a second
 * nameserver or old cluster searches: the leading nameserver(s) we put first, the cluster's
 * searches and the profile's extras. Options stay: an applied option cannot be told apart
 * from the pod's own override of the profile, and dropping it would break idempotency.
 * A dnsConfig changed since (e.g. by another webhook) is kept whole as the pod's own. A
 * dnsConfig the in-tree policy injected (`both` mode: it runs before webhooks, possibly
 * with an older DNS IP in its param) is ours by its mark, whatever its hash.
 */
function ownPartOfInjected(raw: unknown, annotation: string, ctx: { namespace: string; domain: string; profile: Profile; dnsServiceIPs: readonly string[] }): unknown {
  const { namespace, domain, profile } = ctx;
  if (typeof raw !== "object" || raw === null) return raw;
  const cfg = raw as PodDNSConfig;
  const applied = { nameservers: cfg.nameservers ?? [], searches: cfg.searches ?? [], options: cfg.options ?? [] };
  const hash = annotation.slice(annotation.lastIndexOf("@") + 1);
  if (!Array.isArray(applied.nameservers) || !Array.isArray(applied.searches) || !Array.isArray(applied.options)) return raw;
  const strings = (v: unknown[]) => v.every((x) => typeof x === "string");
  if (!applied.options.every(isOption) || !strings(applied.nameservers) || !strings(applied.searches)) return raw;
  // The in-tree policy (admission.mode both) marks its injection `<profile>@policy`: it
  // builds the dnsConfig the same way (policy/render.ts), so the same parts are ours.
  if (hash !== POLICY_INJECTION_MARK && hashDNSConfig(applied) !== hash) return raw;
  const ours = new Set([`${namespace}.svc.${domain}`, `svc.${domain}`, domain, ...profile.searches]);
  // The profile's entries came first, `dnsService` as many as it stands for now (a Service
  // that became dual-stack since would take one of the pod's own: rare, and never a loss of
  // the cluster's DNS).
  const leading = effectiveNameservers(profile.nameservers).reduce((n, e) => n + (e === DNS_SERVICE_TOKEN ? Math.max(1, ctx.dnsServiceIPs.length) : 1), 0);
  return {
    nameservers: applied.nameservers.slice(leading),
    searches: applied.searches.filter((s) => !ours.has(s)),
    options: applied.options,
  };
}

function sameDNSConfig(actual: unknown, desired: Required<PodDNSConfig>): boolean {
  if (typeof actual !== "object" || actual === null) return false;
  const a = actual as PodDNSConfig;
  if (a.options !== undefined && (!Array.isArray(a.options) || !a.options.every(isOption))) return false;
  const list = (v: unknown) => (Array.isArray(v) && v.every((x) => typeof x === "string") ? JSON.stringify(v) : undefined);
  const opts = (o: PodDNSConfig["options"]) => JSON.stringify((o ?? []).map((x) => [x.name, x.value ?? null]));
  if (list(a.nameservers ?? []) === undefined || list(a.searches ?? []) === undefined) return false;
  return (
    JSON.stringify(a.nameservers ?? []) === JSON.stringify(desired.nameservers) &&
    JSON.stringify(a.searches ?? []) === JSON.stringify(desired.searches) &&
    opts(a.options) === opts(desired.options)
  );
}

/**
 * The pod as it should be stored: dnsPolicy None, the dnsConfig and the injected annotation.
 * Returns a new object; the parts it changes (metadata, annotations, spec) are copied, the
 * rest (containers, volumes, ...) is shared with the input, which is never modified. A deep
 * copy of a whole pod per review cost more than everything else the webhook does.
 * Used by the webhook (diffed into a JSON Patch) and by offline inject.
 */
export function applyDecision<T extends PodLike>(pod: T, decision: Decision): T {
  if (decision.action !== "inject" || !decision.dnsConfig || !decision.injectedAnnotation) return pod;
  const metadata = pod.metadata ?? {};
  return {
    ...pod,
    metadata: { ...metadata, annotations: { ...(metadata.annotations ?? {}), [INJECTED_ANNOTATION]: decision.injectedAnnotation } },
    // A plain copy: structuredClone's fixed cost showed up in the admission profile.
    spec: { ...(pod.spec ?? {}), dnsPolicy: "None", dnsConfig: copyDNSConfig(decision.dnsConfig) },
  };
}
