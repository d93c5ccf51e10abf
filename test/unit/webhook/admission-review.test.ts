import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { MAX_WARNINGS, MAX_WARNING_LENGTH, allowedResponse, limitWarnings } from "../../../webhook/admission-review.js";

describe("admission responses", () => {
  it("allowedResponse without a patch has no patchType", () => {
    assert.deepEqual(allowedResponse("u1"), { uid: "u1", allowed: true });
    assert.deepEqual(allowedResponse("u1", { patch: [] }), { uid: "u1", allowed: true });
  });

  it("the patch is base64 JSON with patchType JSONPatch", () => {
    const r = allowedResponse("u1", { patch: [{ op: "add", path: "/spec/dnsPolicy", value: "None" }] });
    assert.equal(r.patchType, "JSONPatch");
    assert.deepEqual(JSON.parse(Buffer.from(r.patch ?? "", "base64").toString()), [{ op: "add", path: "/spec/dnsPolicy", value: "None" }]);
  });

  it("warnings are clipped to the API server's guidance and capped in number", () => {
    const long = "w".repeat(400);
    assert.equal(limitWarnings([long])[0]?.length, MAX_WARNING_LENGTH);
    const many = limitWarnings(Array.from({ length: 40 }, (_, i) => `w${i}`));
    assert.equal(many.length, MAX_WARNINGS);
    assert.equal(many.at(-1), `pod-dns-injector: and ${40 - MAX_WARNINGS + 1} more warnings`);
  });

  it("audit annotation keys are valid qualified-name parts (≤ 63, [A-Za-z0-9-_.])", () => {
    for (const key of ["decision", "reason", "profile", "would-inject"]) {
      assert.match(key, /^[A-Za-z0-9]([-A-Za-z0-9_.]{0,61}[A-Za-z0-9])?$/);
    }
  });
});
