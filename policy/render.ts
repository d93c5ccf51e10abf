/**
 * In-tree admission: the decision table of PRODUCT.md as a MutatingAdmissionPolicy (CEL,
 * JSONPatch) plus a ValidatingAdmissionPolicy that checks the final state, each with its
 * binding. Rendered from the same Settings the webhook decides with, so both modes inject
 * from one description. Pure: settings in, four API objects out.
 *
 * The live DNS IP is not written into the policy: the bindings take the DNS Service itself
 * as their parameter (paramKind v1 Service, paramRef to it), so the API server reads the
 * Service's current clusterIP from its own cache on every admission. There is nothing to
 * keep in sync, and with no Service the binding's `parameterNotFoundAction: Allow` admits
 * pods unchanged, as the webhook does.
 *
 * What CEL cannot do, and what happens instead, is listed in POLICY_DIFFERENCES (README).
 */
import {
  ALLOWED_PROFILES_ANNOTATION,
  ALWAYS_EXCLUDED_NAMESPACES,
  APP_COMPONENT_LABEL,
  APP_NAME_LABEL,
  INJECTED_ANNOTATION,
  INJECT_LABEL,
  MIRROR_POD_ANNOTATION,
  NAMESPACE_NAME_LABEL,
  NDOTS_ANNOTATION,
  OS_NODE_LABEL,
  POD_OPT_OUT_VALUE,
  POLICY_INJECTION_MARK,
  PRODUCT,
  PROFILE_ANNOTATION,
  SEARCHES_ANNOTATION,
} from "../config/names.js";
import { MAX_ALLOWED_PROFILES, MAX_NAMESERVERS, MAX_OPTIONS, MAX_SEARCHES, MAX_SUBDOMAIN_LENGTH, READ_LIMITS, searchListLimit } from "../config/dns-limits.js";
import { dnsServiceRefs, type DNSOption, type Profile, type Settings } from "../config/settings.js";
import { DNS_SERVICE_TOKEN, NODE_LOCAL_DNS_TOKEN, effectiveNameservers, usesDNSService } from "../config/nameserver-tokens.js";

/** The names of the four objects; one set per cluster. */
export const POLICY_NAMES = {
  mutating: `${PRODUCT}.pods`,
  validating: `${PRODUCT}.pod-dns`,
} as const;

/** What the ValidatingAdmissionPolicy does with a non-conforming pod. */
export type ValidationMode = "warn" | "deny";

export interface PolicyRenderOptions {
  /** `warn` (default): a warning and an audit annotation; `deny`: the pod is refused. */
  validation?: ValidationMode | undefined;
  /** The mutating policy's failurePolicy; default Ignore (an evaluation error admits unchanged). */
  failurePolicy?: "Ignore" | "Fail" | undefined;
  /**
   * The IPs of the DNS Services after the first (settings `dnsServices`, a migration's old
   * ones), which a binding cannot read as parameters: serve's policy keeper passes their live
   * clusterIPs (and re-applies when they change); default their configured fixed IPs.
   */
  fallbackDNSServiceIPs?: readonly string[] | undefined;
}

type Json = Record<string, unknown>;

const ADMISSION_API = "admissionregistration.k8s.io/v1";

/** A CEL string literal: JSON's escapes are a subset of CEL's. */
const str = (s: string): string => JSON.stringify(s);
const strList = (l: readonly string[]): string => `[${l.map(str).join(", ")}]`;
/** `[0, 1, …, n-1]`: iterating a literal keeps CEL's estimated cost bounded by n, whatever the input's size. */
const indexes = (n: number): string => `[${Array.from({ length: n }, (_, i) => i).join(", ")}]`;
/** The first `n` elements of `list` (an expression), with a cost bounded by n. */
const firstN = (list: string, n: number): string => `${indexes(n)}.filter(i, i < size(${list})).map(i, ${list}[i])`;
/** `list` de-duplicated, first occurrence kept, order kept. */
const distinct = (list: string): string => `lists.range(size(${list})).filter(i, ${list}.indexOf(${list}[i]) == i).map(i, ${list}[i])`;

/** A lowercase DNS-1123 subdomain, one optional trailing dot, labels of at most 63 (isValidSearch). */
const SEARCH_RE = "^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*\\.?$";
const validSearch = (v: string): string =>
  `(${v}.matches(${str(SEARCH_RE)}) && size(${v}) <= (${v}.endsWith(".") ? ${MAX_SUBDOMAIN_LENGTH + 1} : ${MAX_SUBDOMAIN_LENGTH}) && ${v}.split(".").all(l, size(l) <= 63))`;

const annotationsOf = (obj: string): string => `(has(${obj}.metadata.annotations) ? ${obj}.metadata.annotations : {})`;
const labelsOf = (obj: string): string => `(has(${obj}.metadata.labels) ? ${obj}.metadata.labels : {})`;

/**
 * Options are plain `{name, value?}` maps in variables (the typed Object.* constructors
 * exist only in mutation expressions) and become typed in the patch.
 */
const optionLiteral = (o: DNSOption): string => (o.value === undefined ? `{"name": ${str(o.name)}}` : `{"name": ${str(o.name)}, "value": ${str(o.value)}}`);

/** `variables.profileName == "a" ? A : variables.profileName == "b" ? B : DEFAULT`. */
function byProfile(settings: Settings, render: (p: Profile) => string): string {
  const names = Object.keys(settings.profiles)
    .filter((n) => n !== settings.defaultProfile)
    .sort();
  const fallback = settings.profiles[settings.defaultProfile];
  if (!fallback) throw new Error(`settings: default profile ${JSON.stringify(settings.defaultProfile)} is not defined`);
  const fallbackExpr = render(fallback);
  let expr = fallbackExpr;
  for (const name of names.reverse()) {
    const p = settings.profiles[name];
    // A profile that renders like the default needs no branch of its own (less CEL cost).
    const own = p ? render(p) : fallbackExpr;
    if (own !== fallbackExpr) expr = `variables.profileName == ${str(name)} ? ${own} : (${expr})`;
  }
  return expr;
}

/** isWindowsPod: `spec.os.name: windows`, or a nodeSelector on `kubernetes.io/os: windows`. */
const WINDOWS_POD =
  `(has(object.spec.os) && has(object.spec.os.name) && object.spec.os.name == "windows") || ` +
  `(has(object.spec.nodeSelector) && ${str(OS_NODE_LABEL)} in object.spec.nodeSelector && object.spec.nodeSelector[${str(OS_NODE_LABEL)}] == "windows")`;

/** The rows of the decision table the API server evaluates before the policy runs (rows 4-7). */
function podConditions(settings: Settings, finalState: boolean): Json[] {
  const conditions: Json[] = [
    { name: "not-opted-out", expression: `!(${str(INJECT_LABEL)} in ${labelsOf("object")}) || ${labelsOf("object")}[${str(INJECT_LABEL)}] != ${str(POD_OPT_OUT_VALUE)}` },
    { name: "not-a-mirror-pod", expression: `!(${str(MIRROR_POD_ANNOTATION)} in ${annotationsOf("object")})` },
    { name: "not-dns-policy-default", expression: `!has(object.spec.dnsPolicy) || object.spec.dnsPolicy != "Default"` },
    {
      name: "not-host-network-cluster-first",
      expression: `!has(object.spec.hostNetwork) || !object.spec.hostNetwork || (has(object.spec.dnsPolicy) && object.spec.dnsPolicy != "ClusterFirst")`,
    },
  ];
  // Row 7's `windows: skip`: Windows pods keep kubelet's DNS, and are not judged either.
  if (settings.windows === "skip") conditions.push({ name: "not-windows", expression: `!(${WINDOWS_POD})` });
  if (finalState) {
    // After admission: pods we injected carry dnsPolicy None and our annotation; a pod that
    // set dnsPolicy None itself manages its own DNS (row 7) and is not ours to judge.
    conditions.push({
      name: "injectable",
      expression: `!has(object.spec.dnsPolicy) || object.spec.dnsPolicy in ["ClusterFirst", "ClusterFirstWithHostNet"] || (object.spec.dnsPolicy == "None" && ${str(INJECTED_ANNOTATION)} in ${annotationsOf("object")})`,
    });
  } else {
    // Rows 7 and 8: dnsPolicy None is the pod's own DNS, or our earlier injection; neither is redone.
    conditions.push({ name: "cluster-first", expression: `!has(object.spec.dnsPolicy) || object.spec.dnsPolicy in ["ClusterFirst", "ClusterFirstWithHostNet"]` });
  }
  return conditions;
}

/**
 * A profile's nameservers as CEL: literal IPs as list literals, `dnsService` as the
 * parameter's live clusterIPs, `nodeLocalDNS` as the configured address (known at render time).
 */
function nameserversExpression(profile: Profile, settings: Settings): string {
  const parts: string[] = [];
  let literals: string[] = [];
  const flush = () => {
    if (literals.length) parts.push(strList(literals));
    literals = [];
  };
  for (const entry of effectiveNameservers(profile.nameservers)) {
    if (entry === DNS_SERVICE_TOKEN) {
      flush();
      parts.push("variables.dnsServiceIPs");
    } else literals.push(entry === NODE_LOCAL_DNS_TOKEN ? settings.nodeLocalDNS.address : entry);
  }
  flush();
  return parts.join(" + ");
}

/**
 * Variables shared by both policies: the pod's profile (its own pick, or the namespace's, as
 * choosePodProfile decides) and the cluster part of the DNS config.
 */
function profileVariables(settings: Settings, options: PolicyRenderOptions): Json[] {
  const d = settings.clusterDomain;
  const fallbackIPs =
    options.fallbackDNSServiceIPs ??
    dnsServiceRefs(settings)
      .slice(1)
      .flatMap((r) => (r.clusterIP === null ? [] : [r.clusterIP]));
  const firstDNSServiceIPs =
    `params == null ? [] : has(params.spec.clusterIPs) && size(params.spec.clusterIPs) > 0 ? params.spec.clusterIPs.filter(s, isIP(s)) : ` +
    `has(params.spec.clusterIP) && isIP(params.spec.clusterIP) ? [params.spec.clusterIP] : []`;
  const names = Object.keys(settings.profiles).sort();
  const nsAllowed = `variables.nsAnnotations[${str(ALLOWED_PROFILES_ANNOTATION)}]`;
  return [
    { name: "nsAnnotations", expression: annotationsOf("namespaceObject") },
    { name: "podAnnotations", expression: annotationsOf("object") },
    {
      name: "nsProfileName",
      expression: `${str(PROFILE_ANNOTATION)} in variables.nsAnnotations && variables.nsAnnotations[${str(PROFILE_ANNOTATION)}] in ${strList(names)} ? variables.nsAnnotations[${str(PROFILE_ANNOTATION)}] : ${str(settings.defaultProfile)}`,
    },
    { name: "podProfile", expression: `${str(PROFILE_ANNOTATION)} in variables.podAnnotations ? variables.podAnnotations[${str(PROFILE_ANNOTATION)}] : ""` },
    // allowed-profiles: the first entries, trimmed, empty ones dropped; none means any.
    { name: "allowedList", expression: `${str(ALLOWED_PROFILES_ANNOTATION)} in variables.nsAnnotations ? ${nsAllowed}.split(",") : []` },
    { name: "allowedProfiles", expression: `size(variables.allowedList) == 0 ? [] : ${firstN("variables.allowedList", MAX_ALLOWED_PROFILES)}.map(s, s.trim()).filter(s, s != "")` },
    // A defined profile the namespace allows (its own always); anything else falls back.
    {
      name: "podPicked",
      expression: `variables.podProfile in ${strList(names)} && (variables.podProfile == variables.nsProfileName || size(variables.allowedProfiles) == 0 || variables.podProfile in variables.allowedProfiles)`,
    },
    { name: "profileName", expression: `variables.podPicked ? variables.podProfile : variables.nsProfileName` },
    // The DNS Service's live clusterIPs (the binding's parameter), canonical as the API server
    // stores them, in its ipFamilies order (a dual-stack Service has two; validation keeps
    // clusterIPs[i] in family ipFamilies[i]); clusterIP alone for an object without the list.
    // During a Service-CIDR migration (several dnsServices) the later, old Services follow by
    // their fixed IPs: a binding has one parameter (config/settings.ts policyDNSServicesProblem).
    ...(fallbackIPs.length
      ? [
          { name: "firstDNSServiceIPs", expression: firstDNSServiceIPs },
          { name: "dnsServiceIPs", expression: distinct(`(variables.firstDNSServiceIPs + ${strList(fallbackIPs)})`) },
        ]
      : [{ name: "dnsServiceIPs", expression: firstDNSServiceIPs }]),
    { name: "profileNameservers", expression: byProfile(settings, (p) => nameserversExpression(p, settings)) },
    // As the webhook: a profile that names the DNS Service is not injected without its IP.
    { name: "dnsServiceMissing", expression: byProfile(settings, (p) => (usesDNSService(p.nameservers) ? "size(variables.dnsServiceIPs) == 0" : "false")) },
    { name: "clusterSearches", expression: `[request.namespace + ${str(`.svc.${d}`)}, ${str(`svc.${d}`)}, ${str(d)}]` },
  ];
}

/**
 * The MutatingAdmissionPolicy's own variables: the namespace overrides (of the namespace's
 * profile only), the pod's ndots and the pod's own dnsConfig, merged.
 */
function mutationVariables(settings: Settings): Json[] {
  const own = (field: string) => `(has(object.spec.dnsConfig) && has(object.spec.dnsConfig.${field}) ? object.spec.dnsConfig.${field} : [])`;
  const nsSearches = `variables.nsAnnotations[${str(SEARCHES_ANNOTATION)}]`;
  const nsNdots = `variables.nsAnnotations[${str(NDOTS_ANNOTATION)}]`;
  const podNdots = `variables.podAnnotations[${str(NDOTS_ANNOTATION)}]`;
  const ndotsRE = str("^([0-9]|1[0-5])$");
  return [
    // pod-dns-injector.io/searches: replaces the profile's extras when every entry is valid.
    { name: "nsSearchList", expression: `${str(SEARCHES_ANNOTATION)} in variables.nsAnnotations ? ${nsSearches}.split(",") : []` },
    { name: "nsSearches", expression: `size(variables.nsSearchList) == 0 ? [] : ${firstN("variables.nsSearchList", MAX_SEARCHES)}.map(s, s.trim()).filter(s, s != "")` },
    {
      name: "profileSearches",
      expression: `!variables.podPicked && ${str(SEARCHES_ANNOTATION)} in variables.nsAnnotations && variables.nsSearches.all(s, ${validSearch("s")}) ? variables.nsSearches : ${byProfile(settings, (p) => strList(p.searches))}`,
    },
    // pod-dns-injector.io/ndots: an integer 0-15 goes first, replacing the profile's ndots;
    // the pod's own wins, the namespace's tunes only the namespace's profile.
    { name: "podNdots", expression: `${str(NDOTS_ANNOTATION)} in variables.podAnnotations && ${podNdots}.trim().matches(${ndotsRE}) ? [${podNdots}.trim()] : []` },
    {
      name: "ndotsOverride",
      expression: `size(variables.podNdots) > 0 ? variables.podNdots : !variables.podPicked && ${str(NDOTS_ANNOTATION)} in variables.nsAnnotations && ${nsNdots}.trim().matches(${ndotsRE}) ? [${nsNdots}.trim()] : []`,
    },
    // Windows ignores resolver options: its pods get none of the profile's (the webhook warns).
    { name: "windows", expression: WINDOWS_POD },
    {
      name: "profileOptions",
      expression: `variables.windows ? [] : variables.ndotsOverride.map(n, {"name": "ndots", "value": n}) + (${byProfile(settings, (p) => `[${p.options.map(optionLiteral).join(", ")}]`)}).filter(o, size(variables.ndotsOverride) == 0 || o.name != "ndots")`,
    },
    // The pod's own entries, the first READ_LIMITS of each list as the webhook reads them,
    // those the API server would refuse dropped. Most pods have no dnsConfig: variables are
    // evaluated lazily, so for them the bounded walks below never run (they were four
    // fifths of the policy's CPU in the API server, bench/admission-e2e-bench.ts).
    { name: "plain", expression: `!has(object.spec.dnsConfig)` },
    { name: "ownNameservers", expression: `variables.plain ? [] : ${firstN(own("nameservers"), READ_LIMITS.nameservers)}.filter(s, isIP(s)).map(s, string(ip(s)))` },
    { name: "ownSearches", expression: `variables.plain ? [] : ${firstN(own("searches"), READ_LIMITS.searches)}.filter(s, ${validSearch("s")})` },
    {
      name: "ownOptions",
      expression: `variables.plain ? [] : ${firstN(own("options"), READ_LIMITS.options)}.filter(o, has(o.name) && o.name != "").map(o, has(o.value) ? {"name": o.name, "value": o.value} : {"name": o.name})`,
    },
    { name: "allNameservers", expression: `variables.profileNameservers + variables.ownNameservers` },
    { name: "uniqueNameservers", expression: distinct("variables.allNameservers") },
    {
      name: "nameservers",
      expression: `size(variables.uniqueNameservers) <= ${MAX_NAMESERVERS} ? variables.uniqueNameservers : ${firstN("variables.uniqueNameservers", MAX_NAMESERVERS)}`,
    },
    { name: "allSearches", expression: `(variables.clusterSearches + variables.profileSearches).filter(s, ${validSearch("s")}) + variables.ownSearches` },
    { name: "uniqueSearches", expression: distinct("variables.allSearches") },
    // The common case (short lists) skips the bounded walks and the prefix fold.
    { name: "distinctSearches", expression: `size(variables.uniqueSearches) <= ${MAX_SEARCHES} ? variables.uniqueSearches : ${firstN("variables.uniqueSearches", MAX_SEARCHES)}` },
    // The longest prefix within the API server's 2048 characters, or the profile's
    // maxSearchLineBytes (the webhook's cut, and kubelet's).
    { name: "searchLimit", expression: byProfile(settings, (p) => String(searchListLimit(p.maxSearchLineBytes))) },
    {
      name: "searches",
      expression: `variables.distinctSearches.join(" ").size() <= variables.searchLimit ? variables.distinctSearches : lists.range(size(variables.distinctSearches)).filter(i, variables.distinctSearches.slice(0, i + 1).join(" ").size() <= variables.searchLimit).map(i, variables.distinctSearches[i])`,
    },
    // kubelet's merge: the pod's own option overrides the profile's of the same name (the
    // last one wins, in the profile's place); new names follow in order of first appearance.
    { name: "ownOptionNames", expression: `variables.ownOptions.map(o, o.name)` },
    {
      name: "mergedOptions",
      expression:
        `variables.profileOptions.map(o, o.name in variables.ownOptionNames ? variables.ownOptions[variables.ownOptionNames.lastIndexOf(o.name)] : o) + ` +
        `lists.range(size(variables.ownOptions)).filter(i, !variables.profileOptions.exists(p, p.name == variables.ownOptionNames[i]) && variables.ownOptionNames.indexOf(variables.ownOptionNames[i]) == i)` +
        `.map(i, variables.ownOptions[variables.ownOptionNames.lastIndexOf(variables.ownOptionNames[i])])`,
    },
    { name: "options", expression: `size(variables.mergedOptions) <= ${MAX_OPTIONS} ? variables.mergedOptions : ${firstN("variables.mergedOptions", MAX_OPTIONS)}` },
  ];
}

const INJECTED_PATH = `"/metadata/annotations/" + jsonpatch.escapeKey(${str(INJECTED_ANNOTATION)})`;

/** Row 9 as a JSON Patch; no nameserver (no DNS Service) is "admitted unchanged". */
const MUTATION_EXPRESSION = [
  "size(variables.nameservers) == 0 || variables.dnsServiceMissing ? [] : [",
  `  JSONPatch{op: "add", path: "/spec/dnsPolicy", value: "None"},`,
  `  JSONPatch{op: "add", path: "/spec/dnsConfig", value: Object.spec.dnsConfig{nameservers: variables.nameservers, searches: variables.searches, options: variables.options.map(o, "value" in o ? Object.spec.dnsConfig.options{name: o.name, value: o["value"]} : Object.spec.dnsConfig.options{name: o.name})}}`,
  `] + (has(object.metadata.annotations) ? [] : [JSONPatch{op: "add", path: "/metadata/annotations", value: {}}])`,
  `  + [JSONPatch{op: "add", path: ${INJECTED_PATH}, value: variables.profileName + ${str(`@${POLICY_INJECTION_MARK}`)}}]`,
].join("\n");

/** Where a policy applies: opted-in namespaces, never the system ones or the injector's own. */
function namespaceSelector(settings: Settings, modes: readonly string[]): Json {
  const excluded = [...new Set([...ALWAYS_EXCLUDED_NAMESPACES, ...settings.excludedNamespaces, settings.injectorNamespace])].sort();
  return {
    matchExpressions: [
      { key: INJECT_LABEL, operator: "In", values: [...modes] },
      { key: NAMESPACE_NAME_LABEL, operator: "NotIn", values: excluded },
    ],
  };
}

const labels = { [APP_NAME_LABEL]: PRODUCT, [APP_COMPONENT_LABEL]: "admission-policy" };

const podCreateOnly = {
  // "pods" alone never matches a subresource (pods/status, pods/ephemeralcontainers): row 1.
  resourceRules: [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }],
};

function binding(kind: string, policyName: string, settings: Settings, extra: Json): Json {
  const firstRef = dnsServiceRefs(settings)[0] ?? settings.dnsService;
  return {
    apiVersion: ADMISSION_API,
    kind,
    metadata: { name: policyName, labels },
    spec: {
      policyName,
      // The DNS Service itself is the parameter: its live clusterIP, no copy to keep current.
      // Missing: the policy does not apply, so pods are admitted unchanged (never rejected).
      paramRef: { name: firstRef.name, namespace: firstRef.namespace, parameterNotFoundAction: "Allow" },
      matchResources: { namespaceSelector: namespaceSelector(settings, ["enabled"]), objectSelector: {} },
      ...extra,
    },
  };
}

/**
 * The MutatingAdmissionPolicy + binding that inject like the webhook (rows 1-9 of the
 * decision table as far as CEL can express them) and the ValidatingAdmissionPolicy +
 * binding that check the final DNS state of pods in `enabled` namespaces: the nameserver
 * first, then the cluster's search list first ("mutate, then validate the final state").
 */
export function renderAdmissionPolicies(settings: Settings, options: PolicyRenderOptions = {}): Json[] {
  const mutating: Json = {
    apiVersion: ADMISSION_API,
    kind: "MutatingAdmissionPolicy",
    metadata: { name: POLICY_NAMES.mutating, labels },
    spec: {
      paramKind: { apiVersion: "v1", kind: "Service" },
      matchConstraints: podCreateOnly,
      matchConditions: podConditions(settings, false),
      variables: [...profileVariables(settings, options), ...mutationVariables(settings)],
      mutations: [{ patchType: "JSONPatch", jsonPatch: { expression: MUTATION_EXPRESSION } }],
      failurePolicy: options.failurePolicy ?? "Ignore",
      // As the webhook's: a later mutation that resets dnsPolicy gets our answer again.
      reinvocationPolicy: "IfNeeded",
    },
  };
  const expectedFirst = "variables.profileNameservers";
  const validating: Json = {
    apiVersion: ADMISSION_API,
    kind: "ValidatingAdmissionPolicy",
    metadata: { name: POLICY_NAMES.validating, labels },
    spec: {
      paramKind: { apiVersion: "v1", kind: "Service" },
      matchConstraints: podCreateOnly,
      matchConditions: podConditions(settings, true),
      variables: [
        ...profileVariables(settings, options),
        { name: "injected", expression: `has(object.spec.dnsPolicy) && object.spec.dnsPolicy == "None" && has(object.spec.dnsConfig)` },
        { name: "nameservers", expression: `variables.injected && has(object.spec.dnsConfig.nameservers) ? object.spec.dnsConfig.nameservers : []` },
        { name: "searches", expression: `variables.injected && has(object.spec.dnsConfig.searches) ? object.spec.dnsConfig.searches : []` },
      ],
      validations: [
        {
          // Profiles with literal nameservers are checked against the profile, others against the live IP.
          expression: `size(${expectedFirst}) == 0 || (size(variables.nameservers) > 0 && variables.nameservers[0] == ${expectedFirst}[0])`,
          messageExpression: `"pod-dns-injector: the pod's first nameserver is " + (size(variables.nameservers) > 0 ? variables.nameservers[0] : "(none: dnsPolicy " + (has(object.spec.dnsPolicy) ? object.spec.dnsPolicy : "ClusterFirst") + ")") + ", expected " + ${expectedFirst}[0]`,
          reason: "Invalid",
        },
        {
          expression: `size(variables.searches) >= 3 && variables.searches.slice(0, 3) == variables.clusterSearches`,
          messageExpression: `"pod-dns-injector: the pod's search list does not start with " + variables.clusterSearches.join(" ")`,
          reason: "Invalid",
        },
      ],
      failurePolicy: "Ignore",
    },
  };
  const validationActions = options.validation === "deny" ? ["Deny"] : ["Warn", "Audit"];
  return [
    mutating,
    binding("MutatingAdmissionPolicyBinding", POLICY_NAMES.mutating, settings, {}),
    validating,
    binding("ValidatingAdmissionPolicyBinding", POLICY_NAMES.validating, settings, { validationActions }),
  ];
}
