import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decide } from "../../../webhook/decision.js";
import { isPodCreate, podCreateRequest } from "../../../webhook/pod-create.js";
import { inputs } from "../fixtures.js";

describe("isPodCreate", () => {
  const cases = [
    { what: "a Pod CREATE", r: podCreateRequest("team-a"), want: true },
    { what: "an UPDATE", r: { ...podCreateRequest("team-a"), operation: "UPDATE" }, want: false },
    { what: "a subresource", r: { ...podCreateRequest("team-a"), subResource: "binding" }, want: false },
    { what: "a Service", r: { ...podCreateRequest("team-a"), kind: { group: "", version: "v1", kind: "Service" } }, want: false },
    { what: "a Pod of another group", r: { ...podCreateRequest("team-a"), kind: { group: "example.com", version: "v1", kind: "Pod" } }, want: false },
  ];
  for (const c of cases) {
    it(`${c.what}: ${c.want}`, () => {
      assert.equal(isPodCreate(c.r), c.want);
      // Row 1 of the decision must agree with the predicate the HTTP side uses.
      assert.equal(decide(inputs({ request: c.r })).row !== 1, c.want);
    });
  }
});
