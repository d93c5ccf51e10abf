import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { INJECTED_ANNOTATION } from "../../../config/names.js";
import { applyDecision, decide } from "../../../webhook/decision.js";
import { applyPatchCopy, createInjectionPatch, createPatch } from "../../../webhook/patch.js";
import { inputs, pod } from "../fixtures.js";

function patchFor(original: ReturnType<typeof pod>) {
  const decision = decide(inputs({ pod: original }));
  const mutated = applyDecision(original, decision);
  return { patch: createPatch(original, mutated), mutated };
}

describe("createPatch", () => {
  const shapes: [string, ReturnType<typeof pod>][] = [
    ["no annotations", pod()],
    ["empty annotations", pod({}, { annotations: {} })],
    ["other annotations", pod({}, { annotations: { "example.com/a": "1", "a~b/c": "2" } })],
    ["an existing dnsConfig", pod({ dnsConfig: { nameservers: ["1.1.1.1"], options: [{ name: "ndots", value: "1" }] } })],
    ["dnsPolicy set", pod({ dnsPolicy: "ClusterFirst" })],
    ["no metadata at all", { apiVersion: "v1", kind: "Pod", spec: { containers: [] } } as ReturnType<typeof pod>],
  ];
  for (const [name, original] of shapes) {
    it(`applies cleanly to a pod with ${name} and reproduces the mutated pod`, () => {
      const { patch, mutated } = patchFor(original);
      assert.ok(patch.length > 0);
      assert.deepEqual(applyPatchCopy(original, patch), mutated);
    });
  }

  for (const [name, original] of shapes) {
    it(`the injection patch reproduces the mutated pod with at most 3 operations, for a pod with ${name}`, () => {
      const mutated = applyDecision(original, decide(inputs({ pod: original })));
      const patch = createInjectionPatch(original, mutated);
      assert.ok(patch.length >= 1 && patch.length <= 3, JSON.stringify(patch));
      assert.deepEqual(applyPatchCopy(original, patch), mutated);
    });
  }

  it("replaces a huge dnsConfig list with one operation instead of removing entries one by one", () => {
    const original = pod({ dnsConfig: { searches: Array.from({ length: 100_000 }, (_, i) => `s${i}.example`) } });
    const mutated = applyDecision(original, decide(inputs({ pod: original })));
    const patch = createInjectionPatch(original, mutated);
    assert.deepEqual(
      patch.map((o) => `${o.op} ${o.path}`),
      ["add /metadata/annotations", "add /spec/dnsPolicy", "replace /spec/dnsConfig"],
    );
    assert.deepEqual(applyPatchCopy(original, patch), mutated);
    assert.ok(JSON.stringify(patch).length < 4096);
  });

  it("applyDecision never modifies its input and shares only what it does not change", () => {
    const original = pod({ dnsConfig: { nameservers: ["1.1.1.1"] } }, { annotations: { a: "1" } });
    const before = structuredClone(original);
    const mutated = applyDecision(original, decide(inputs({ pod: original })));
    assert.deepEqual(original, before);
    assert.notEqual(mutated.metadata, original.metadata);
    assert.notEqual(mutated.metadata?.annotations, original.metadata?.annotations);
    assert.notEqual(mutated.spec, original.spec);
    assert.equal((mutated.spec as { containers: unknown }).containers, (original.spec as { containers: unknown }).containers);
  });

  it("escapes the annotation key per RFC 6901 (/ → ~1)", () => {
    const { patch } = patchFor(pod({}, { annotations: { x: "y" } }));
    const op = patch.find((o) => o.path.startsWith("/metadata/annotations/"));
    assert.equal(op?.path, "/metadata/annotations/pod-dns-injector.io~1injected");
    assert.equal(op?.op, "add");
    assert.ok(INJECTED_ANNOTATION.includes("/"));
  });

  it("adds the whole annotations object when the pod has none (never under a missing parent)", () => {
    const { patch } = patchFor(pod());
    const op = patch.find((o) => o.path.startsWith("/metadata/annotations"));
    assert.equal(op?.path, "/metadata/annotations");
    assert.deepEqual((op as { value: unknown }).value, { [INJECTED_ANNOTATION]: decide(inputs()).injectedAnnotation });
  });

  it("is empty for an already injected pod", () => {
    const { mutated } = patchFor(pod());
    const again = applyDecision(mutated, decide(inputs({ pod: mutated })));
    assert.deepEqual(createPatch(mutated, again), []);
  });
});
