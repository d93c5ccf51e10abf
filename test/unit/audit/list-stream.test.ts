/**
 * The streaming list scanner: whatever the chunking (down to single bytes, splitting
 * multi-byte characters), formatting and escaping, it yields the items reduced to the
 * selected fields exactly as JSON.parse of the whole text and a manual selection would.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ListScanner, type FieldSelection } from "../../../audit/list-stream.js";

const items = [
  {
    metadata: {
      name: "web-1",
      uid: "u1",
      labels: { app: "web", "pod-dns-injector.io/inject": "false", 'esc"aped': 'q"uote\\back' },
      annotations: { note: "unicode: ünïcødé ✓ 𝄞", "pod-dns-injector.io/injected": "default@abc" },
      managedFields: [{ fieldsV1: { "f:metadata": { 'k:{"uid":"x"}': {} } }, time: "2026-01-01T00:00:00Z" }],
      ownerReferences: [{ kind: "ReplicaSet", name: "web-5d8", controller: true }],
      generation: 3,
    },
    spec: {
      containers: [{ name: "a", args: ["[", "{", "}", "]", ","] }],
      dnsPolicy: "None",
      hostNetwork: false,
      dnsConfig: { nameservers: ["10.96.0.10"], options: [{ name: "ndots", value: "5" }] },
      priority: 0,
    },
    status: { phase: "Running", conditions: [{ type: "Ready", status: "True" }] },
  },
  { metadata: { name: "bare", uid: "u2" }, spec: { hostNetwork: true, enableServiceLinks: null }, status: {} },
  { metadata: { name: "odd", labels: {} }, spec: { dnsConfig: null, dnsPolicy: "ClusterFirst" } },
];
const list = { kind: "PodList", apiVersion: "v1", metadata: { resourceVersion: "42", continue: 'tok"en/ü', remainingItemCount: 7 }, items };

const select: FieldSelection = {
  metadata: { name: true, uid: true, labels: { "pod-dns-injector.io/inject": true, 'esc"aped': true }, annotations: true, ownerReferences: true },
  spec: { dnsPolicy: true, hostNetwork: true, dnsConfig: true },
  status: { phase: true },
};

/** What the scanner must produce: the same selection applied to JSON.parse's result. */
function pick(value: unknown, sel: FieldSelection | true): unknown {
  if (sel === true) return value;
  if (typeof value !== "object" || value === null || Array.isArray(value)) return undefined;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(value)) {
    const s = sel[k];
    if (s === undefined) continue;
    const picked = s === true ? v : typeof v === "object" && v !== null && !Array.isArray(v) ? pick(v, s) : undefined;
    if (picked !== undefined) out[k] = picked;
  }
  return out;
}

function scan(text: string, chunkSize: number, sel: FieldSelection | true = select): { got: unknown[]; token: string } {
  const got: unknown[] = [];
  const scanner = new ListScanner(sel, (item) => got.push(item));
  const bytes = Buffer.from(text, "utf8");
  for (let i = 0; i < bytes.length; i += chunkSize) scanner.write(bytes.subarray(i, i + chunkSize));
  return { got, token: scanner.continueToken() };
}

describe("ListScanner", () => {
  const texts = { compact: JSON.stringify(list), pretty: JSON.stringify(list, null, 2), tabs: JSON.stringify(list, null, "\t").replaceAll("\n", "\r\n") };
  const expected = items.map((i) => pick(i, select));

  for (const [format, text] of Object.entries(texts)) {
    for (const size of [1, 2, 3, 7, 64, 1 << 16]) {
      it(`${format} JSON in chunks of ${size} bytes: selected fields and the continue token`, () => {
        const { got, token } = scan(text, size);
        assert.deepEqual(got, expected);
        assert.equal(token, 'tok"en/ü');
      });
    }
  }

  it("selection true keeps each whole item", () => {
    assert.deepEqual(scan(JSON.stringify(list), 5, true).got, items);
  });

  it("the last page has no continue token", () => {
    const { got, token } = scan(JSON.stringify({ kind: "PodList", metadata: { resourceVersion: "1" }, items: [] }), 3);
    assert.deepEqual(got, []);
    assert.equal(token, "");
  });

  it("a selected object that is null in the item is skipped, not an error", () => {
    const { got } = scan(JSON.stringify({ metadata: {}, items: [{ metadata: null, spec: { dnsPolicy: "Default" } }] }), 4);
    assert.deepEqual(got, [{ spec: { dnsPolicy: "Default" } }]);
  });
});
