import assert from "node:assert/strict";
import { request as httpsRequest } from "node:https";
import { after, before, describe, it } from "node:test";
import { pino } from "pino";
import { issueCertificateAuthority, issueServingCertificate } from "../../../certs/authority.js";
import { INJECTED_ANNOTATION, INJECT_LABEL } from "../../../config/names.js";
import { defaultSettings } from "../../../config/settings.js";
import { standaloneFacts, type AdmissionFacts } from "../../../webhook/admission-facts.js";
import { ADMISSION_BODY_LIMIT, buildWebhookApp } from "../../../webhook/app.js";
import { hashDNSConfig } from "../../../webhook/decision.js";
import { createWebhookMetrics } from "../../../webhook/metrics.js";
import { applyPatchCopy, type Operation } from "../../../webhook/patch.js";
import { namespace, pod, review } from "../fixtures.js";

const silent = pino({ level: "silent" });
const settings = defaultSettings();

function app(facts: AdmissionFacts = standaloneFacts(() => settings)) {
  const metrics = createWebhookMetrics({ version: "test", collectProcessMetrics: false });
  return { app: buildWebhookApp({ settings: () => settings, facts, log: silent, metrics }), metrics };
}

async function post(body: unknown, facts?: AdmissionFacts, raw?: string) {
  const { app: a, metrics } = app(facts);
  const res = await a.inject({ method: "POST", url: "/mutate", headers: { "content-type": "application/json" }, payload: raw ?? JSON.stringify(body) });
  await a.close();
  return { res, json: res.json<{ response?: Record<string, unknown>; error?: string }>(), metrics };
}

const decodePatch = (p: unknown) => JSON.parse(Buffer.from(String(p), "base64").toString("utf8")) as Operation[];

describe("/mutate over fastify inject", () => {
  it("injects a pod and echoes the uid; the patch applies to the object sent", async () => {
    const object = pod({}, { annotations: { "example.com/x": "1" } });
    const { res, json } = await post(review(object));
    assert.equal(res.statusCode, 200);
    // A plain pod's answer is sent pre-serialized (mutate-handler.ts): the same type as fastify's.
    assert.equal(res.headers["content-type"], "application/json; charset=utf-8");
    assert.equal((json as { apiVersion: string }).apiVersion, "admission.k8s.io/v1");
    assert.equal((json as { kind: string }).kind, "AdmissionReview");
    const r = json.response!;
    assert.equal(r.uid, "7f0b2ad4-9a0e-4e4b-9f56-0a4c1b1c2d3e");
    assert.equal(r.allowed, true);
    assert.equal(r.patchType, "JSONPatch");
    const patched = applyPatchCopy(object, decodePatch(r.patch));
    assert.equal(patched.spec?.dnsPolicy, "None");
    assert.deepEqual((patched.spec?.dnsConfig as { nameservers: string[] }).nameservers, ["10.96.0.10"]);
    assert.match(patched.metadata?.annotations?.[INJECTED_ANNOTATION] ?? "", /^default@/);
    assert.deepEqual(r.auditAnnotations, { decision: "inject", reason: "cluster-first", profile: "default" });
  });

  it("takes the namespace from request.namespace (the pod from a controller has none)", async () => {
    const { json } = await post(review(pod(), { namespace: "shop" }));
    const ops = decodePatch(json.response!.patch);
    const cfg = ops.find((o) => o.path === "/spec/dnsConfig") as { value: { searches: string[] } };
    assert.equal(cfg.value.searches[0], "shop.svc.cluster.local");
  });

  it("answers a non-Pod, a non-CREATE and a subresource with allowed and no patch", async () => {
    const variants = [
      review({ apiVersion: "v1", kind: "Service", metadata: { name: "x" } }, { kind: { group: "", version: "v1", kind: "Service" } }),
      review(pod(), { operation: "UPDATE", oldObject: pod() }),
      review(pod(), { operation: "DELETE", object: null }),
      review({ apiVersion: "v1", kind: "Binding" }, { subResource: "binding" }),
    ];
    for (const v of variants) {
      const { res, json } = await post(v);
      assert.equal(res.statusCode, 200);
      assert.equal(json.response!.allowed, true);
      assert.equal(json.response!.patch, undefined);
      assert.equal(json.response!.patchType, undefined);
    }
  });

  it("audit mode: no patch, a warning and audit annotations describing the change", async () => {
    const facts: AdmissionFacts = { lookupNamespace: async (n) => namespace(n, "audit"), dnsServiceIPs: () => ["10.96.0.10"] };
    const { json } = await post(review(pod()), facts);
    const r = json.response!;
    assert.equal(r.patch, undefined);
    assert.match(
      (r.warnings as string[])[0] ?? "",
      /^pod-dns-injector \(audit mode\): would change dnsPolicy ClusterFirst → None; nameservers \(none\) → 10\.96\.0\.10; searches \(none\) → team-a\.svc\.cluster\.local svc\.cluster\.local cluster\.local; options \(none\) → ndots:5$/,
    );
    const ann = r.auditAnnotations as Record<string, string>;
    assert.equal(ann.decision, "report");
    assert.equal(ann.reason, "would-inject");
    assert.deepEqual(JSON.parse(ann["would-inject"] ?? "null").nameservers, ["10.96.0.10"]);
  });

  it("audit mode, an injected pod: the warning names only what would change, the annotation when nothing else", async () => {
    const current = { nameservers: ["10.96.0.10"], searches: ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local"], options: [{ name: "ndots", value: "5" }] };
    const facts: AdmissionFacts = { lookupNamespace: async (n) => namespace(n, "audit"), dnsServiceIPs: () => ["10.96.0.10"] };
    const stale = { ...current, nameservers: ["10.96.0.99"] };
    const cases = [
      // Injected with the old IP (its annotation names that dnsConfig): the IP is replaced.
      { dnsConfig: stale, annotation: `default@${hashDNSConfig(stale)}`, warning: /^pod-dns-injector \(audit mode\): would change nameservers 10\.96\.0\.99 → 10\.96\.0\.10$/ },
      // Today's dnsConfig under an annotation naming another one: only the annotation.
      {
        dnsConfig: current,
        annotation: "default@0123456789",
        warning: /^pod-dns-injector \(audit mode\): would change pod-dns-injector\.io\/injected default@0123456789 → default@[0-9a-f]{10}$/,
      },
    ];
    for (const c of cases) {
      const injected = pod({ dnsPolicy: "None", dnsConfig: c.dnsConfig }, { annotations: { [INJECTED_ANNOTATION]: c.annotation } });
      const r = (await post(review(injected), facts)).json.response!;
      assert.equal(r.patch, undefined);
      assert.equal((r.auditAnnotations as Record<string, string>).reason, "would-inject");
      assert.match((r.warnings as string[])[0] ?? "", c.warning);
    }
  });

  it("opt-out pods are allowed unchanged with the reason in the audit annotations", async () => {
    const { json } = await post(review(pod({}, { labels: { [INJECT_LABEL]: "false" } })));
    assert.equal(json.response!.patch, undefined);
    assert.equal((json.response!.auditAnnotations as Record<string, string>).reason, "pod-opted-out");
  });

  it("honours dryRun: the same answer, nothing else happens", async () => {
    const { json } = await post(review(pod(), { dryRun: true }));
    assert.equal(json.response!.patchType, "JSONPatch");
  });

  it("a failing namespace lookup is HTTP 500, so the API server applies failurePolicy instead of rejecting the pod", async () => {
    const facts: AdmissionFacts = {
      lookupNamespace: async () => {
        throw new Error("get Namespace team-a: connection refused");
      },
      dnsServiceIPs: () => ["10.96.0.10"],
    };
    const { res, json, metrics } = await post(review(pod()), facts);
    // allowed:false in a 200 would be a rejection, which the API server never subjects to
    // failurePolicy: an Ignore webhook would block pod creation on our own failure.
    assert.equal(res.statusCode, 500);
    assert.equal(json.response, undefined, "no AdmissionReview: the call failed");
    assert.doesNotMatch(res.body, /connection refused/, "internal details are not sent to the API server");
    assert.equal((await metrics.handlerErrors.get()).values[0]?.value, 1);
    const internal = (await metrics.internalErrors.get()).values;
    assert.deepEqual(
      internal.map((v) => [v.labels.reason, v.value]),
      [["namespace-lookup-failed", 1]],
    );
  });

  it("a namespace in the cache is answered from it; one missing from the cache is looked up", async () => {
    let lookups = 0;
    const facts: AdmissionFacts = {
      cachedNamespace: (n) => (n === "team-a" ? namespace(n, "enabled") : undefined),
      lookupNamespace: async (n) => {
        lookups++;
        return namespace(n, "audit");
      },
      dnsServiceIPs: () => ["10.96.0.10"],
    };
    const cached = await post(review(pod()), facts);
    assert.equal(cached.res.statusCode, 200);
    assert.equal(cached.json.response!.patchType, "JSONPatch", "team-a is enabled in the cache");
    assert.equal(lookups, 0, "no lookup for a cached namespace");
    const missed = await post(review(pod(), { namespace: "team-b" }), facts);
    assert.equal(missed.res.statusCode, 200);
    assert.equal((missed.json.response!.auditAnnotations as Record<string, string>).decision, "report", "team-b's facts came from the lookup");
    assert.equal(lookups, 1);
  });

  it("a failure while answering from the cache is HTTP 500 too", async () => {
    const facts: AdmissionFacts = {
      cachedNamespace: () => {
        throw new Error("cache corrupted");
      },
      lookupNamespace: async (n) => namespace(n, "enabled"),
      dnsServiceIPs: () => ["10.96.0.10"],
    };
    const { res, metrics } = await post(review(pod()), facts);
    assert.equal(res.statusCode, 500);
    assert.deepEqual(
      (await metrics.internalErrors.get()).values.map((v) => [v.labels.reason, v.value]),
      [["handler-bug", 1]],
    );
  });

  const malformed: [string, unknown, RegExp][] = [
    ["not an object", [1, 2], /body: expected a JSON object/],
    ["wrong kind", { kind: "Pod", apiVersion: "v1" }, /kind: expected "AdmissionReview"/],
    ["v1beta1", { kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1beta1", request: {} }, /apiVersion: expected "admission.k8s.io\/v1".*admissionReviewVersions/],
    ["no request", { kind: "AdmissionReview", apiVersion: "admission.k8s.io/v1" }, /request: expected an object/],
    ["no uid", review(pod(), { uid: "" }), /request\.uid/],
    ["bad kind", review(pod(), { kind: "Pod" }), /request\.kind/],
    ["bad operation", review(pod(), { operation: "PATCH" }), /request\.operation: expected one of CREATE, UPDATE, DELETE, CONNECT/],
    ["namespace not a string", review(pod(), { namespace: 5 }), /request\.namespace: expected a string/],
    ["dryRun not a boolean", review(pod(), { dryRun: "yes" }), /request\.dryRun/],
    ["Pod CREATE without object", review(undefined), /request\.object: a Pod CREATE review must carry the pod/],
    ["object not an object", review("pod"), /request\.object: expected an object/],
  ];
  for (const [name, body, message] of malformed) {
    it(`HTTP 400 with a precise message: ${name}`, async () => {
      const { res, json, metrics } = await post(body);
      assert.equal(res.statusCode, 400);
      assert.match(json.error ?? "", message);
      assert.equal((await metrics.malformedReviews.get()).values[0]?.value, 1);
    });
  }

  it("HTTP 400 for a body that is not JSON, naming the position", async () => {
    const { res, json } = await post(undefined, undefined, '{"kind": "AdmissionReview",');
    assert.equal(res.statusCode, 400);
    assert.match(json.error ?? "", /^body: invalid JSON: .*position/);
  });

  it("HTTP 415 for another content type, 404 for another path", async () => {
    const { app: a } = app();
    const r1 = await a.inject({ method: "POST", url: "/mutate", headers: { "content-type": "text/plain" }, payload: "x" });
    assert.equal(r1.statusCode, 415);
    const r2 = await a.inject({ method: "POST", url: "/other", payload: {} });
    assert.equal(r2.statusCode, 404);
    await a.close();
  });

  it("accepts a review near the API server's 3 MiB object limit", async () => {
    const big = pod({ containers: [{ name: "app", image: "x", env: [{ name: "BLOB", value: "x".repeat(3 * 1024 * 1024 - 4096) }] }] });
    const { res, json } = await post(review(big));
    assert.equal(res.statusCode, 200);
    assert.equal(json.response!.patchType, "JSONPatch");
    assert.ok(ADMISSION_BODY_LIMIT >= 2 * 3 * 1024 * 1024, "object and oldObject both fit");
  });

  it("rejects a body over the limit with 413", async () => {
    const { app: a } = app();
    const res = await a.inject({ method: "POST", url: "/mutate", headers: { "content-type": "application/json" }, payload: `{"x":"${"y".repeat(ADMISSION_BODY_LIMIT)}"}` });
    assert.equal(res.statusCode, 413);
    await a.close();
  });

  it("counts reviews by action, reason and mode", async () => {
    const { app: a, metrics } = app();
    await a.inject({ method: "POST", url: "/mutate", payload: review(pod()) as object });
    await a.inject({ method: "POST", url: "/mutate", payload: review(pod({ dnsPolicy: "Default" })) as object });
    const text = await metrics.registry.metrics();
    assert.match(text, /pod_dns_injector_admission_reviews_total\{action="inject",reason="cluster-first",mode="enabled"\} 1/);
    assert.match(text, /pod_dns_injector_admission_reviews_total\{action="skip",reason="dns-policy-default",mode="enabled"\} 1/);
    assert.match(text, /pod_dns_injector_build_info\{version="test"/);
    await a.close();
  });

  it("a pod's profile pick: the profile-reason audit annotation, the warning, and the pod-profiles counter by reason", async () => {
    const { app: a, metrics } = app();
    const send = async (annotations: Record<string, string>) => {
      const res = await a.inject({ method: "POST", url: "/mutate", payload: review(pod({}, { annotations })) as object });
      return res.json<{ response: { auditAnnotations: Record<string, string>; warnings?: string[]; patch?: string } }>().response;
    };
    const picked = await send({ "pod-dns-injector.io/profile": "node-local-dns" });
    assert.deepEqual(picked.auditAnnotations, { decision: "inject", reason: "cluster-first", profile: "node-local-dns", "profile-reason": "pod-profile" });
    const stored = applyPatchCopy(pod({}, { annotations: { "pod-dns-injector.io/profile": "node-local-dns" } }), decodePatch(picked.patch));
    assert.deepEqual((stored.spec?.dnsConfig as { nameservers: string[] }).nameservers, ["169.254.20.10", "10.96.0.10"]);
    const unknown = await send({ "pod-dns-injector.io/profile": "fast" });
    assert.deepEqual(unknown.auditAnnotations, { decision: "inject", reason: "cluster-first", profile: "default", "profile-reason": "pod-profile-unknown" });
    assert.match(unknown.warnings?.join("\n") ?? "", /pod-dns-injector\.io\/profile="fast" names no profile/);
    await send({ "pod-dns-injector.io/profile": "unknown-too" });
    const ndotsOnly = await send({ "pod-dns-injector.io/ndots": "2" });
    assert.equal(ndotsOnly.auditAnnotations["profile-reason"], undefined, "a pod that picks only ndots keeps the namespace's profile");
    const text = await metrics.registry.metrics();
    assert.match(text, /pod_dns_injector_admission_pod_profiles_total\{reason="pod-profile"\} 1/);
    assert.match(text, /pod_dns_injector_admission_pod_profiles_total\{reason="pod-profile-unknown"\} 2/);
    assert.doesNotMatch(text, /pod_profiles_total\{reason="namespace-profile"/, "pods that pick no profile are not counted");
    await a.close();
  });

  it("counts reviews answered with warnings, by action and reason", async () => {
    const facts: AdmissionFacts = { lookupNamespace: async (n) => namespace(n, "audit"), dnsServiceIPs: () => ["10.96.0.10"] };
    const { app: a, metrics } = app(facts);
    await a.inject({ method: "POST", url: "/mutate", payload: review(pod()) as object });
    await a.inject({ method: "POST", url: "/mutate", payload: review(pod({ dnsPolicy: "Default" })) as object });
    const text = await metrics.registry.metrics();
    assert.match(text, /pod_dns_injector_admission_reviews_warned_total\{action="report",reason="would-inject"\} 1/);
    assert.doesNotMatch(text, /reviews_warned_total\{[^}]*reason="dns-policy-default"/, "a review without warnings is not counted");
    await a.close();
  });
});

describe("/mutate over real HTTPS", () => {
  const now = new Date();
  const ca = issueCertificateAuthority({ now });
  const other = issueCertificateAuthority({ now, commonName: "someone else" });
  const serving = issueServingCertificate({ ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], now });
  const metrics = createWebhookMetrics({ version: "test", collectProcessMetrics: false });
  const server = buildWebhookApp({ settings: () => settings, facts: standaloneFacts(() => settings), log: silent, metrics, https: { key: serving.keyPem, cert: serving.certPem } });
  let port = 0;
  before(async () => {
    await server.listen({ host: "127.0.0.1", port: 0 });
    port = (server.server.address() as { port: number }).port;
  });
  after(() => server.close());

  const call = (options: { ca: string; maxVersion?: "TLSv1.1" | "TLSv1.2" | "TLSv1.3"; minVersion?: "TLSv1" | "TLSv1.1" }) =>
    new Promise<{ status: number; body: string }>((resolve, reject) => {
      const req = httpsRequest(
        { host: "127.0.0.1", port, servername: "localhost", path: "/mutate", method: "POST", headers: { "content-type": "application/json" }, ...options },
        (res) => {
          let body = "";
          res.on("data", (c) => (body += c));
          res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
        },
      );
      req.on("error", reject);
      req.end(JSON.stringify(review(pod())));
    });

  it("serves the review to a client that trusts the generated CA", async () => {
    const r = await call({ ca: ca.certPem });
    assert.equal(r.status, 200);
    assert.equal((JSON.parse(r.body) as { response: { patchType: string } }).response.patchType, "JSONPatch");
  });

  it("is refused by a client that trusts another CA", async () => {
    await assert.rejects(call({ ca: other.certPem }), /self.signed|unable to (verify|get)|certificate/i);
  });

  it("refuses TLS 1.1 (TLS 1.2 is the minimum)", async () => {
    await assert.rejects(call({ ca: ca.certPem, maxVersion: "TLSv1.1", minVersion: "TLSv1" }), /protocol|version|alert|ssl|EPROTO/i);
  });
});
