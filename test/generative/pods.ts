/**
 * fast-check generators of structure-aware pods and AdmissionReview envelopes (issue 11),
 * shared by the unit properties (test/unit/webhook/properties.test.ts, the CLI's) and the
 * API-server judge in the e2e tier (test/e2e/hostile.test.ts).
 *
 * `typedPod` only produces what the API server itself can send (every field of its Go type;
 * content may be invalid: bad IPs, uppercase searches, 40 searches, annotations near the
 * 256 KiB limit); `hostilePod` adds the shapes it never sends (metadata a string, a numeric
 * annotation, options [null], a 5,000-deep value in a dnsConfig entry).
 *
 * Runs: POD_DNS_INJECTOR_PROPERTY_RUNS (default per test), seed POD_DNS_INJECTOR_PROPERTY_SEED
 * (default fixed, so `npm test` is reproducible; a failure prints the seed and path).
 */
import fc from "fast-check";
import { INJECTED_ANNOTATION, INJECT_LABEL, MIRROR_POD_ANNOTATION } from "../../config/names.js";

export const DNS_IP = "10.96.0.10";
export const CLUSTER_DOMAIN = "cluster.local";

/** fast-check parameters: a fixed seed unless overridden, `runs` unless the env var says more. */
export function propertyParams(runs: number): { seed: number; numRuns: number; endOnFailure: boolean } {
  const envRuns = Number(process.env.POD_DNS_INJECTOR_PROPERTY_RUNS ?? "");
  const envSeed = Number(process.env.POD_DNS_INJECTOR_PROPERTY_SEED ?? "");
  return {
    seed: Number.isInteger(envSeed) && process.env.POD_DNS_INJECTOR_PROPERTY_SEED ? envSeed : 20261203,
    numRuns: Number.isInteger(envRuns) && envRuns > 0 ? envRuns : runs,
    endOnFailure: true,
  };
}

const label = fc.stringMatching(/^[a-z0-9]([a-z0-9-]{0,10}[a-z0-9])?$/);

const nameserver = fc.oneof(
  { weight: 4, arbitrary: fc.ipV4() },
  { weight: 2, arbitrary: fc.ipV6() },
  { weight: 2, arbitrary: fc.constantFrom(DNS_IP, "1.1.1.1", "8.8.8.8", "2001:db8::1", "169.254.20.10") },
  { weight: 1, arbitrary: fc.constantFrom("not-an-ip", "010.0.0.1", "::ffff:1.2.3.4", "2001:DB8::1", "fe80::1%eth0", "", "1.2.3") },
);

const search = fc.oneof(
  { weight: 5, arbitrary: fc.tuple(label, label).map(([a, b]) => `${a}.${b}`) },
  { weight: 2, arbitrary: fc.constantFrom(`svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN, "example.com", "corp.example") },
  { weight: 1, arbitrary: label.map((l) => `${l.toUpperCase()}X.example`) },
  { weight: 1, arbitrary: label.map((l) => `${l}.example.`) },
  { weight: 1, arbitrary: fc.constant(`${"a".repeat(64)}.example`) },
  { weight: 1, arbitrary: fc.nat({ max: 9 }).map((i) => `${"x".repeat(60)}.${"y".repeat(60)}.${"z".repeat(60)}.l${i}.example`) },
  { weight: 1, arbitrary: fc.constantFrom("under_score.example", "-bad.example", "", "a..b") },
);

const option = fc.oneof(
  fc.record(
    { name: fc.constantFrom("ndots", "timeout", "attempts", "edns0", "rotate", "single-request"), value: fc.constantFrom("1", "2", "5", "15") },
    { requiredKeys: ["name"] },
  ),
  fc.constant({ name: "" }),
  fc.constant({}),
  fc.record({ name: fc.stringMatching(/^[a-z-]{1,12}$/) }),
);

/** The pod's own dnsConfig: 0-10 nameservers, 0-40 searches (some over 2048 characters together), options. */
const dnsConfig = fc.record(
  {
    nameservers: fc.array(nameserver, { maxLength: 10 }),
    searches: fc.array(search, { maxLength: 40 }),
    options: fc.array(option, { maxLength: 6 }),
  },
  { requiredKeys: [] },
);

/** The same with every entry valid and the lists mostly within the limits: pods the API server accepts more often. */
const validDNSConfig = fc.record(
  {
    nameservers: fc.uniqueArray(fc.oneof(fc.ipV4(), fc.constantFrom(DNS_IP, "1.1.1.1", "2001:db8::1")), { maxLength: 3 }),
    searches: fc.uniqueArray(
      fc.oneof(
        fc.tuple(label, label).map(([a, b]) => `${a}.${b}`),
        fc.constantFrom(`svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN, "corp.example."),
      ),
      { maxLength: 34 },
    ),
    options: fc.uniqueArray(
      fc.record({ name: fc.constantFrom("ndots", "timeout", "attempts", "edns0", "rotate"), value: fc.constantFrom("1", "2", "5") }, { requiredKeys: ["name"] }),
      { maxLength: 4, selector: (o) => o.name },
    ),
  },
  { requiredKeys: [] },
);

/** Annotation keys with `/` and `~` (the latter invalid for the API server, valid JSON). */
const annotationKey = fc.oneof(
  fc.tuple(label, label).map(([a, b]) => `${a}.example/${b}`),
  label,
  fc.constantFrom("a~b/c", "example.com/x~1y", "team.example/owner"),
);

/** Annotations whose total is 0-20 bytes under (or over) the 256 KiB limit. */
const nearLimitAnnotations = fc.integer({ min: -40, max: 60 }).map((slack) => {
  const key = "example.com/blob";
  return { [key]: "v".repeat(256 * 1024 - key.length - slack) };
});

export interface GeneratedPod {
  apiVersion: string;
  kind: string;
  metadata?: Record<string, unknown>;
  spec?: Record<string, unknown>;
}

/** A pod the API server could send to a webhook. `withContainers` for pods it would store. */
export function typedPod(options: { withContainers?: boolean; nearLimit?: boolean; validContent?: boolean } = {}): fc.Arbitrary<GeneratedPod> {
  const metadata = fc.record(
    {
      name: label.map((l) => `p-${l}`),
      generateName: fc.constant("gen-"),
      labels: fc.oneof(fc.constant({}), fc.constant({ app: "web" }), fc.constant({ [INJECT_LABEL]: "false" }), fc.constant({ [INJECT_LABEL]: "true" })),
      annotations: fc.oneof(
        { weight: 6, arbitrary: fc.dictionary(annotationKey, fc.string({ maxLength: 20 }), { maxKeys: 4 }) },
        { weight: options.nearLimit === false ? 0 : 1, arbitrary: nearLimitAnnotations },
        { weight: 1, arbitrary: fc.constant({ [MIRROR_POD_ANNOTATION]: "abc" }) },
        { weight: 2, arbitrary: fc.constantFrom(`default@0123456789`, `default@${"f".repeat(10)}`, "other@x", "").map((v) => ({ [INJECTED_ANNOTATION]: v })) },
      ),
    },
    { requiredKeys: [] },
  );
  const spec = fc.record(
    {
      dnsPolicy: options.validContent
        ? fc.constantFrom("ClusterFirst", "ClusterFirstWithHostNet", "Default")
        : fc.constantFrom("ClusterFirst", "ClusterFirstWithHostNet", "Default", "None", "Bogus"),
      hostNetwork: fc.boolean(),
      dnsConfig: options.validContent ? validDNSConfig : dnsConfig,
    },
    { requiredKeys: [] },
  );
  return fc.record({ metadata: fc.option(metadata, { nil: undefined, freq: 8 }), spec: fc.option(spec, { nil: undefined, freq: 8 }) }).map(({ metadata: m, spec: s }) => {
    const pod: GeneratedPod = { apiVersion: "v1", kind: "Pod" };
    if (m !== undefined) pod.metadata = m;
    if (s !== undefined || options.withContainers) pod.spec = { ...(s ?? {}) };
    if (options.withContainers) {
      pod.metadata = { ...(pod.metadata ?? {}) };
      if (pod.metadata.name === undefined && pod.metadata.generateName === undefined) pod.metadata.generateName = "gen-";
      (pod.spec as Record<string, unknown>).containers = [{ name: "app", image: "registry.k8s.io/pause:3.10" }];
    }
    return pod;
  });
}

/** Where serializeReview puts a deeply nested list (JSON.stringify cannot write one). */
const DEEP_PLACEHOLDER = (levels: number) => `__pod-dns-injector-test-nested-${levels}__`;
/** Deeper than any review the API server sends (its JSON decoder stops at 10,000). */
export const DEEP_LEVELS = 100_000;
/** As deep as the API server's decoder allows, with room for the review around it. */
export const WITHIN_LIMIT_LEVELS = 9_900;
const deepJSON = (levels: number) => `${"[".repeat(levels)}"x"${"]".repeat(levels)}`;

/**
 * A value that serializeReview writes as a list nested `levels` deep (issue 11's stack
 * overflow), and fast-check prints as a short text.
 */
const deeplyNested = (levels: number): unknown => ({ [fc.toStringMethod]: () => `[[[...${levels} levels...]]]`, toJSON: () => DEEP_PLACEHOLDER(levels) });

/** JSON text of a generated review or manifest, with the deeply nested values written out. */
export function serializeReview(value: unknown): string {
  let text = JSON.stringify(value);
  for (const levels of [DEEP_LEVELS, WITHIN_LIMIT_LEVELS]) text = text.replaceAll(`"${DEEP_PLACEHOLDER(levels)}"`, deepJSON(levels));
  return text;
}

/** Hostile shapes nested deeper than the webhook parses: refused whatever the request. */
export const TOO_DEEP_SHAPES: ReadonlySet<string> = new Set(["a nameserver nested 100,000 levels"]);

/** Shapes the API server never sends; the webhook must answer them with a 400, never a throw. */
export const hostileShape = fc.constantFrom<[string, (pod: GeneratedPod) => GeneratedPod]>(
  ["metadata null", (p) => ({ ...p, metadata: null as never })],
  ["metadata a string", (p) => ({ ...p, metadata: "meta" as never })],
  ["metadata a number", (p) => ({ ...p, metadata: 7 as never })],
  ["metadata a list", (p) => ({ ...p, metadata: [] as never })],
  ["spec null", (p) => ({ ...p, spec: null as never })],
  ["spec a string", (p) => ({ ...p, spec: "spec" as never })],
  ["spec a list", (p) => ({ ...p, spec: [1] as never })],
  ["annotations a list", (p) => ({ ...p, metadata: { ...(p.metadata ?? {}), annotations: ["a"] } })],
  ["injected annotation a number", (p) => ({ ...p, metadata: { ...(p.metadata ?? {}), annotations: { [INJECTED_ANNOTATION]: 12345 } } })],
  ["label a boolean", (p) => ({ ...p, metadata: { ...(p.metadata ?? {}), labels: { [INJECT_LABEL]: false } } })],
  ["dnsPolicy a number", (p) => ({ ...p, spec: { ...(p.spec ?? {}), dnsPolicy: 1 } })],
  ["hostNetwork a string", (p) => ({ ...p, spec: { ...(p.spec ?? {}), hostNetwork: "true" } })],
  ["dnsConfig a string", (p) => ({ ...p, spec: { ...(p.spec ?? {}), dnsConfig: "none" } })],
  [
    "options [null] with our annotation",
    (p) => ({
      ...p,
      metadata: { ...(p.metadata ?? {}), annotations: { [INJECTED_ANNOTATION]: "default@0123456789" } },
      spec: { ...(p.spec ?? {}), dnsPolicy: "None", dnsConfig: { nameservers: [DNS_IP], options: [null] } },
    }),
  ],
  ["a search that is a number", (p) => ({ ...p, spec: { ...(p.spec ?? {}), dnsConfig: { searches: [7] } } })],
  ["a nameserver nested 100,000 levels", (p) => ({ ...p, spec: { ...(p.spec ?? {}), dnsConfig: { nameservers: [deeplyNested(DEEP_LEVELS)] } } })],
  ["an option value nested 9,900 levels", (p) => ({ ...p, spec: { ...(p.spec ?? {}), dnsConfig: { options: [{ name: "x", value: deeplyNested(WITHIN_LIMIT_LEVELS) }] } } })],
);

/** Either a typed pod (mostly) or a typed pod bent into a shape the API server never sends. */
export const anyPod: fc.Arbitrary<{ pod: GeneratedPod; hostile: string | undefined }> = fc.oneof(
  { weight: 4, arbitrary: typedPod().map((pod) => ({ pod, hostile: undefined })) },
  { weight: 1, arbitrary: fc.tuple(typedPod({ nearLimit: false }), hostileShape).map(([pod, [name, bend]]) => ({ pod: bend(pod), hostile: name })) },
);

/** The request envelope around a pod: mostly Pod CREATE, sometimes another kind, operation or subresource. */
export const envelope = fc.record({
  uid: fc.uuid(),
  namespace: fc.oneof({ weight: 8, arbitrary: label }, { weight: 1, arbitrary: fc.constantFrom(undefined, "") }),
  operation: fc.oneof({ weight: 6, arbitrary: fc.constant("CREATE") }, { weight: 1, arbitrary: fc.constantFrom("UPDATE", "DELETE", "CONNECT") }),
  kind: fc.oneof(
    { weight: 8, arbitrary: fc.constant({ group: "", version: "v1", kind: "Pod" }) },
    { weight: 1, arbitrary: fc.constantFrom({ group: "", version: "v1", kind: "Service" }, { group: "apps", version: "v1", kind: "Pod" }) },
  ),
  subResource: fc.oneof({ weight: 8, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.constantFrom("status", "binding", "ephemeralcontainers") }),
  dryRun: fc.boolean(),
});

export type Envelope = typeof envelope extends fc.Arbitrary<infer T> ? T : never;

/** An AdmissionReview as the API server sends it. */
export function admissionReview(env: Envelope, object: unknown): Record<string, unknown> {
  const request: Record<string, unknown> = {
    uid: env.uid,
    kind: env.kind,
    resource: { group: env.kind.group, version: "v1", resource: "pods" },
    operation: env.operation,
    userInfo: { username: "system:serviceaccount:kube-system:replicaset-controller" },
    object,
    dryRun: env.dryRun,
  };
  if (env.namespace !== undefined) request.namespace = env.namespace;
  if (env.subResource !== undefined) request.subResource = env.subResource;
  return { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request };
}
