/**
 * decide builds a namespace's policy and a plain pod's dnsConfig once per settings object,
 * namespace facts and DNS IP, and shares the result: these tests pin that sharing is
 * invisible (same answers as a fresh build), frozen, and never crosses a reload, a DNS IP
 * change or a namespace annotation change.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { defaultSettings } from "../../../config/settings.js";
import { decide } from "../../../webhook/decision.js";
import { INJECTED_ANNOTATION, NDOTS_ANNOTATION, PROFILE_ANNOTATION } from "../../../config/names.js";
import { MAX_ANNOTATIONS_BYTES } from "../../../config/dns-limits.js";
import { reviewResponse } from "../../../webhook/admission-review.js";
import { standaloneFacts } from "../../../webhook/admission-facts.js";
import { handleMutate, mutate } from "../../../webhook/mutate-handler.js";
import { decodeMutateReview } from "../../../webhook/mutate-review.js";
import { applyStrict, type PatchOp } from "../../generative/strict-patch.js";
import { inputs, namespace, pod, review } from "../fixtures.js";

describe("decide: what it shares between reviews", () => {
  it("a plain pod's dnsConfig is built once per namespace and shared, frozen", () => {
    const settings = defaultSettings();
    const first = decide(inputs({}, settings));
    const second = decide(inputs({ pod: pod({}, { name: "another" }) }, settings));
    assert.equal(first.action, "inject");
    assert.equal(second.dnsConfig, first.dnsConfig, "the same object: built once");
    assert.ok(Object.isFrozen(first.dnsConfig) && Object.isFrozen(first.dnsConfig?.searches));
    assert.throws(() => first.dnsConfig!.searches.push("x.example"), TypeError);
    // Equal to what a fresh settings object (no cache yet) builds.
    assert.deepEqual(decide(inputs({}, defaultSettings())), first);
  });

  it("a reload, another DNS IP or changed namespace annotations build anew", () => {
    const settings = defaultSettings();
    const base = decide(inputs({}, settings));
    const reloaded = { ...defaultSettings(), clusterDomain: "k8s.internal" };
    assert.deepEqual(decide(inputs({}, reloaded)).dnsConfig?.searches, ["team-a.svc.k8s.internal", "svc.k8s.internal", "k8s.internal"]);
    assert.deepEqual(decide(inputs({ dnsServiceIPs: ["10.96.0.99"] }, settings)).dnsConfig?.nameservers, ["10.96.0.99"]);
    const tuned = decide(inputs({ namespace: namespace("team-a", "enabled", { "pod-dns-injector.io/ndots": "2" }) }, settings));
    assert.deepEqual(tuned.dnsConfig?.options, [{ name: "ndots", value: "2" }]);
    assert.notEqual(tuned.injectedAnnotation, base.injectedAnnotation);
    const audit = decide(inputs({ namespace: namespace("team-a", "audit") }, settings));
    assert.equal(audit.action, "report");
    assert.equal(decide(inputs({}, settings)).dnsConfig, base.dnsConfig, "the first namespace's entry is still shared");
  });

  it("a pod with its own dnsConfig is never given the shared one", () => {
    const settings = defaultSettings();
    const plain = decide(inputs({}, settings));
    const own = decide(inputs({ pod: pod({ dnsConfig: { searches: ["corp.example"] } }) }, settings));
    assert.notEqual(own.dnsConfig, plain.dnsConfig);
    assert.deepEqual(own.dnsConfig?.searches, ["team-a.svc.cluster.local", "svc.cluster.local", "cluster.local", "corp.example"]);
  });
});

describe("mutate: the same answer now or later", () => {
  it("answers without a promise when the namespace is cached, and the same with a lookup", async () => {
    const settings = defaultSettings();
    const standalone = standaloneFacts(() => settings);
    const r = decodeMutateReview(review(pod()));
    assert.ok(r.ok);
    const now = mutate(r.value.review, { settings: () => settings, facts: standalone }, r.value.pod);
    assert.ok(!(now instanceof Promise), "standalone facts are always at hand");
    const lookedUp = { lookupNamespace: (n: string) => standalone.lookupNamespace(n), dnsServiceIPs: () => standalone.dnsServiceIPs() };
    const later = mutate(r.value.review, { settings: () => settings, facts: lookedUp }, r.value.pod);
    assert.ok(later instanceof Promise, "without cachedNamespace the namespace is looked up");
    const awaited = await later;
    assert.deepEqual(awaited.response, now.response);
    assert.equal(awaited.answer, now.answer);
    assert.equal(awaited.decision, now.decision);
  });
});

describe("handleMutate: the encoded patch of a plain pod, shared by pod shape", () => {
  const settings = defaultSettings();
  const deps = { settings: () => settings, facts: standaloneFacts(() => settings) };
  const patchOf = async (object: object) => {
    const r = decodeMutateReview(review(object));
    assert.ok(r.ok);
    const { response } = await handleMutate(r.value.review, deps, r.value.pod);
    return { encoded: response.patch, ops: JSON.parse(Buffer.from(String(response.patch), "base64").toString()) as PatchOp[] };
  };

  it("each shape gets its own patch, which applies strictly and carries nothing of another pod", async () => {
    const shapes = [
      pod(),
      pod({}, { annotations: { "team.example/owner": "a" } }),
      pod({}, { annotations: { "team.example/owner": "b", other: "x" } }),
      pod({ dnsPolicy: "ClusterFirst" }),
      pod({ dnsPolicy: "ClusterFirstWithHostNet", hostNetwork: true }, { annotations: {} }),
    ];
    const first = await Promise.all(shapes.map((p) => patchOf(p)));
    const again = await Promise.all(shapes.map((p) => patchOf(structuredClone(p))));
    assert.deepEqual(
      again.map((p) => p.encoded),
      first.map((p) => p.encoded),
      "the same pod shape gets the same patch",
    );
    for (const [i, p] of shapes.entries()) {
      const mutated = applyStrict(p, first[i]!.ops) as { metadata: { annotations: Record<string, string> }; spec: { dnsPolicy: string; dnsConfig: { nameservers: string[] } } };
      assert.equal(mutated.spec.dnsPolicy, "None");
      assert.deepEqual(mutated.spec.dnsConfig.nameservers, ["10.96.0.10"]);
      assert.deepEqual(Object.keys(mutated.metadata.annotations).sort(), [...Object.keys((p.metadata as { annotations?: object }).annotations ?? {}), INJECTED_ANNOTATION].sort());
    }
    // The two pods with other annotations share one patch: it adds only ours.
    assert.equal(first[1]!.encoded, first[2]!.encoded);
    assert.notEqual(first[0]!.encoded, first[1]!.encoded);
    assert.notEqual(first[0]!.encoded, first[3]!.encoded);
  });
});

describe("decide: the whole decision of a plain pod that picks nothing, shared", () => {
  const settings = defaultSettings();
  const ns = namespace("team-a", "enabled");
  const decideFor = (p: ReturnType<typeof pod>, extra: Partial<Parameters<typeof inputs>[0]> = {}) => decide(inputs({ pod: p, namespace: ns, ...extra }, settings));

  it("two plain pods of one namespace get one frozen decision, equal to a fresh one", () => {
    const first = decideFor(pod({}, { name: "a", labels: { app: "a" } }));
    const second = decideFor(pod({}, { name: "b", annotations: { "team.example/owner": "b" } }));
    assert.equal(first.action, "inject");
    assert.equal(second, first, "the same object");
    assert.ok(Object.isFrozen(first) && Object.isFrozen(first.warnings) && Object.isFrozen(first.changes));
    assert.deepEqual(decide(inputs({ namespace: namespace("team-a", "enabled") }, defaultSettings())), first);
  });

  it("what enters the decision still tells pods apart: dnsPolicy, a profile pick, full annotations, audit mode", () => {
    const plain = decideFor(pod());
    const hostNet = decideFor(pod({ dnsPolicy: "ClusterFirstWithHostNet", hostNetwork: true }));
    assert.equal(hostNet.reason, "cluster-first-with-host-net");
    assert.equal(decideFor(pod({ dnsPolicy: "ClusterFirstWithHostNet", hostNetwork: true })), hostNet);
    assert.equal(plain.reason, "cluster-first");
    const picked = decideFor(pod({}, { annotations: { [NDOTS_ANNOTATION]: "2" } }));
    assert.notEqual(picked, plain);
    assert.deepEqual(picked.dnsConfig?.options, [{ name: "ndots", value: "2" }]);
    // Annotations with no room left for ours: skipped, and the shared decision is untouched.
    const full = decideFor(pod(), { annotationBytes: MAX_ANNOTATIONS_BYTES - 10 });
    assert.equal(full.reason, "annotations-full");
    assert.equal(decideFor(pod()), plain);
    const auditNs = namespace("team-a", "audit");
    const report = decide(inputs({ namespace: auditNs }, settings));
    assert.equal(report.action, "report");
    assert.equal(decide(inputs({ namespace: auditNs, pod: pod({}, { name: "other" }) }, settings)), report);
  });

  it("standalone facts hand out one frozen object per namespace, so the namespace's entry is found by identity", async () => {
    const facts = standaloneFacts(() => settings);
    const a = await facts.lookupNamespace("team-a");
    assert.equal(await facts.lookupNamespace("team-a"), a);
    assert.notEqual(await facts.lookupNamespace("team-b"), a);
    assert.ok(Object.isFrozen(a) && Object.isFrozen(a?.labels));
  });
});

describe("handleMutate: the answer text of a plain pod, from a template", () => {
  const settings = defaultSettings();
  const deps = { settings: () => settings, facts: standaloneFacts(() => settings) };
  const outcomeOf = async (object: object, request: Record<string, unknown> = {}) => {
    const r = decodeMutateReview(review(object, request));
    assert.ok(r.ok, r.ok ? "" : r.error);
    return handleMutate(r.value.review, deps, r.value.pod);
  };

  it("is exactly what serializing the response gives, whatever the uid", async () => {
    const uids = ["7f0b2ad4-9a0e-4e4b-9f56-0a4c1b1c2d3e", 'a"quoted\\uid', "ünïcödé \u2028 line", "\u0000uid\u0000"];
    const pods = [pod(), pod({ dnsPolicy: "ClusterFirstWithHostNet", hostNetwork: true }), pod({}, { annotations: { [PROFILE_ANNOTATION]: "default" } })];
    for (const uid of uids) {
      for (const p of pods) {
        const { response, answer } = await outcomeOf(p, { uid });
        assert.equal(response.uid, uid);
        assert.equal(answer, JSON.stringify(reviewResponse(response)), `uid ${JSON.stringify(uid)}`);
      }
    }
  });

  it("is left to serializing the response for a pod that is not plain or gets warnings", async () => {
    const own = await outcomeOf(pod({ dnsConfig: { searches: ["corp.example"] } }));
    assert.equal(own.decision.action, "inject");
    assert.equal(own.answer, undefined);
    const warned = await outcomeOf(pod({}, { annotations: { [NDOTS_ANNOTATION]: "99" } }));
    assert.ok(warned.response.warnings?.length);
    assert.equal(warned.answer, undefined);
  });
});
