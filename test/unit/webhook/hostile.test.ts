/**
 * The defects of issue 11, one test each, over fastify inject (the same path as HTTPS):
 * untrusted shapes, a review with 1.3 million searches, 100,000-deep nesting, annotations
 * at the 256 KiB limit, namespaces that are not namespace names.
 */
import assert from "node:assert/strict";
import { connect as netConnect, type AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { standaloneApp } from "./standalone-app.js";
import { INJECTED_ANNOTATION } from "../../../config/names.js";
import { defaultSettings } from "../../../config/settings.js";
import { ADMISSION_BODY_LIMIT } from "../../../webhook/app.js";
import { LargeReviewBudget } from "../../../webhook/large-review-budget.js";
import { decide } from "../../../webhook/decision.js";
import { MAX_ANNOTATIONS_BYTES, dnsConfigProblem } from "../../../config/dns-limits.js";
import { MAX_REVIEW_DEPTH, TOO_DEEP_ERROR } from "../../../webhook/review-parser.js";
import { applyStrict, type PatchOp } from "../../generative/strict-patch.js";
import { inputs, pod, review } from "../fixtures.js";

const settings = defaultSettings();
const app = standaloneApp(settings);

async function post(payload: string) {
  const res = await app.inject({ method: "POST", url: "/mutate", headers: { "content-type": "application/json" }, payload });
  return { status: res.statusCode, body: res.json<{ response?: Record<string, unknown>; error?: string }>(), bytes: res.body.length };
}
const decodePatch = (p: unknown) => JSON.parse(Buffer.from(String(p), "base64").toString("utf8")) as PatchOp[];

describe("hostile and broken /mutate input (issue 11)", () => {
  before(() => app.ready());
  after(() => app.close());

  const shapes: [string, object, RegExp][] = [
    ["metadata null", { apiVersion: "v1", kind: "Pod", metadata: null, spec: {} }, /^request\.object\.metadata: expected an object, got null$/],
    ["metadata a string", { apiVersion: "v1", kind: "Pod", metadata: "x", spec: {} }, /^request\.object\.metadata: expected an object, got "x"$/],
    ["metadata a number", { apiVersion: "v1", kind: "Pod", metadata: 5 }, /^request\.object\.metadata: expected an object, got number 5$/],
    ["metadata a list", { apiVersion: "v1", kind: "Pod", metadata: [] }, /^request\.object\.metadata: expected an object, got a list$/],
    ["spec null", { apiVersion: "v1", kind: "Pod", metadata: {}, spec: null }, /^request\.object\.spec: expected an object, got null$/],
    ["spec a string", { apiVersion: "v1", kind: "Pod", spec: "x" }, /^request\.object\.spec: expected an object/],
    ["spec a list", { apiVersion: "v1", kind: "Pod", spec: [{}] }, /^request\.object\.spec: expected an object, got a list$/],
    [
      "a numeric injected annotation",
      pod({}, { annotations: { [INJECTED_ANNOTATION]: 12345 } }),
      /^request\.object\.metadata\.annotations\["pod-dns-injector\.io\/injected"\]: expected a string, got number 12345$/,
    ],
    [
      "options [null] with our annotation",
      pod({ dnsPolicy: "None", dnsConfig: { nameservers: ["10.96.0.10"], options: [null] } }, { annotations: { [INJECTED_ANNOTATION]: "default@0123456789" } }),
      /^request\.object\.spec\.dnsConfig\.options\[0\]: expected an object with name and value, got null$/,
    ],
  ];
  for (const [name, object, message] of shapes) {
    it(`${name}: HTTP 400 naming the field, never a throw or a patch that cannot apply`, async () => {
      const { status, body } = await post(JSON.stringify(review(object)));
      assert.equal(status, 400, JSON.stringify(body));
      assert.match(body.error ?? "", message);
    });
  }

  it("a value nested 10,000 levels inside a dnsConfig entry: HTTP 400 naming the entry (no stack overflow)", async () => {
    const deep = `${"[".repeat(MAX_REVIEW_DEPTH - 10)}"x"${"]".repeat(MAX_REVIEW_DEPTH - 10)}`;
    const text = JSON.stringify(review(pod({ dnsConfig: { searches: ["ok.example", "__deep__"] } }))).replace('"__deep__"', deep);
    const { status, body } = await post(text);
    assert.equal(status, 400, JSON.stringify(body));
    assert.equal(body.error, "request.object.spec.dnsConfig.searches[1]: expected a string, got a list");
  });

  for (const path of ["/mutate", "/validate"]) {
    it(`${path}: a body nested 3 million levels deep (the API server's JSON decoder stops at 10,000) is refused before it is parsed`, async () => {
      // 3.4 million levels in 7 MiB took ~0.9 s and ~400 MB to parse: an OOM kill at 256 MiB.
      const levels = 3_000_000;
      const text = JSON.stringify(review(pod())).replace('"metadata":', `"deep":${"[".repeat(levels)}1${"]".repeat(levels)},"metadata":`);
      const before = process.memoryUsage().rss;
      const res = await app.inject({ method: "POST", url: path, headers: { "content-type": "application/json" }, payload: text });
      assert.equal(res.statusCode, 400, res.body.slice(0, 300));
      assert.equal(res.json<{ error: string }>().error, TOO_DEEP_ERROR);
      assert.match(TOO_DEEP_ERROR, /nested deeper than 10000 levels/);
      assert.ok(process.memoryUsage().rss - before < 100 * 1024 * 1024, "the body was not parsed");
    });
  }

  it("1.3 million searches in a 6.5 MB review: a small patch replacing the list, and a normal review is not held up", async () => {
    const searches = Array.from({ length: 1_300_000 }, (_, i) => `A${i % 10}`);
    const object = pod({ dnsConfig: { searches } });
    const text = JSON.stringify(review(object));
    assert.ok(text.length > 6_000_000 && text.length < ADMISSION_BODY_LIMIT, `${text.length} bytes`);
    const order: string[] = [];
    const hostile = post(text).then((r) => (order.push("hostile"), r));
    const normal = post(JSON.stringify(review(pod()))).then((r) => (order.push("normal"), r));
    const [h, n] = await Promise.all([hostile, normal]);
    // The hostile body is parsed in a worker thread: the normal review, sent after it, is
    // answered first instead of waiting behind it.
    assert.deepEqual(order, ["normal", "hostile"]);
    assert.equal(n.status, 200);
    assert.equal(h.status, 200, JSON.stringify(h.body).slice(0, 500));
    const ops = decodePatch(h.body.response?.patch);
    assert.deepEqual(
      ops.map((o) => `${o.op} ${o.path}`),
      ["add /metadata/annotations", "add /spec/dnsPolicy", "replace /spec/dnsConfig"],
    );
    assert.ok(h.bytes < 16 * 1024, `answer of ${h.bytes} bytes`);
    const mutated = applyStrict(object, ops) as { spec: { dnsConfig: { nameservers: string[]; searches: string[]; options: { name: string }[] } } };
    assert.equal(dnsConfigProblem(mutated.spec.dnsConfig), null);
    const warnings = h.body.response?.warnings as string[];
    assert.ok(
      warnings.some((w) => w.includes(`ignored ${1_300_000 - 64} more searches after the first 64`)),
      JSON.stringify(warnings),
    );
  });

  it("annotations at the 256 KiB limit: injected while it fits, skipped with a reason and a warning once it would not", async () => {
    const key = "example.com/blob";
    const withTotal = (total: number) => pod({}, { annotations: { [key]: "v".repeat(total - key.length) } });
    const ours = INJECTED_ANNOTATION.length + `default@${"0".repeat(10)}`.length;
    // Exactly at the limit after our annotation: valid, injected.
    const fits = await post(JSON.stringify(review(withTotal(MAX_ANNOTATIONS_BYTES - ours))));
    assert.equal(fits.body.response?.patchType, "JSONPatch");
    // One byte more: the pod is valid as sent, and would not be with our annotation.
    const full = await post(JSON.stringify(review(withTotal(MAX_ANNOTATIONS_BYTES - ours + 1))));
    assert.equal(full.status, 200);
    assert.equal(full.body.response?.patch, undefined);
    assert.equal((full.body.response?.auditAnnotations as Record<string, string>).reason, "annotations-full");
    assert.match((full.body.response?.warnings as string[])[0] ?? "", /not injected: the pod's annotations would total 262145 bytes/);
  });

  it("annotation bytes are counted as the API server counts them: UTF-8 bytes, not characters", () => {
    const key = "example.com/blob";
    const ours = INJECTED_ANNOTATION.length + `default@${"0".repeat(10)}`.length;
    // "é" is 2 bytes: as characters this pod would fit.
    const chars = MAX_ANNOTATIONS_BYTES - ours - key.length;
    const d = decide(inputs({ pod: pod({}, { annotations: { [key]: `${"v".repeat(chars - 1)}é` } }) }));
    assert.equal(d.reason, "annotations-full");
  });

  for (const ns of ["UPPER", "-a", "a".repeat(64), "a.b", "with space"]) {
    it(`standalone: request.namespace ${JSON.stringify(ns.length > 20 ? `${ns.slice(0, 8)}...` : ns)} is not a namespace name: HTTP 400 naming the field`, async () => {
      const { status, body } = await post(JSON.stringify(review(pod(), { namespace: ns })));
      assert.equal(status, 400);
      assert.match(body.error ?? "", /^request\.namespace: ".*" is not a valid namespace name \(a lowercase DNS-1123 label of at most 63 characters\)$/);
    });
  }

  it("a cluster search over 253 characters (long namespace, long domain) is cut, and the pod stays valid", () => {
    const s = defaultSettings();
    s.clusterDomain = `${"d".repeat(60)}.${"e".repeat(60)}.${"f".repeat(60)}.example`;
    const ns = "n".repeat(63);
    const d = decide(
      inputs(
        {
          request: { kind: { group: "", version: "v1", kind: "Pod" }, operation: "CREATE", namespace: ns },
          namespace: { name: ns, labels: { "pod-dns-injector.io/inject": "enabled" }, annotations: {} },
        },
        s,
      ),
    );
    assert.equal(d.action, "inject");
    assert.ok(d.dnsConfig);
    assert.equal(dnsConfigProblem(d.dnsConfig), null);
    assert.ok(!d.dnsConfig.searches.includes(`${ns}.svc.${s.clusterDomain}`));
    assert.ok(
      d.warnings.some((w) => w.includes("not a lowercase DNS subdomain of at most 253 characters")),
      JSON.stringify(d.warnings),
    );
  });

  it("an option list longer than resolvers use is cut to 32, with the rest counted", () => {
    const options = Array.from({ length: 5000 }, (_, i) => ({ name: `o${i}` }));
    const d = decide(inputs({ pod: pod({ dnsConfig: { options } }) }));
    assert.equal(d.dnsConfig?.options.length, 32);
    assert.ok(
      d.warnings.some((w) => w.includes("ignored 4936 more options after the first 64")),
      JSON.stringify(d.warnings),
    );
  });
});

describe("large reviews share a byte budget; past it they wait unread, then get a 503", () => {
  const big = JSON.stringify(review(pod({}, { annotations: { "example.com/blob": "v".repeat(200_000) } })));
  const bytes = Buffer.byteLength(big);
  // Room for two such reviews; a third waits, a fourth gives up after 400 ms.
  const capped = standaloneApp(settings, { largeReviewBudget: new LargeReviewBudget(2 * bytes, 400) });
  before(() => capped.listen({ host: "127.0.0.1", port: 0 }));
  after(() => capped.close());

  /** Opens a connection and sends a large review's headers and half its body; the rest on demand. */
  async function startLarge(body: string) {
    const port = (capped.server.address() as AddressInfo).port;
    const socket = netConnect({ host: "127.0.0.1", port });
    await new Promise<void>((resolve, reject) => socket.once("connect", resolve).once("error", reject));
    let received = "";
    socket.setEncoding("utf8").on("data", (d: string) => (received += d));
    const closed = new Promise<void>((resolve) => socket.once("close", () => resolve()));
    const half = Math.floor(body.length / 2);
    socket.write(
      `POST /mutate HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body.slice(0, half)}`,
    );
    return {
      finish: () => socket.write(body.slice(half)),
      answered: async () => {
        await closed;
        return Number(/^HTTP\/1\.1 (\d{3})/.exec(received)?.[1] ?? 0);
      },
      received: () => received,
    };
  }
  const settle = () => new Promise((r) => setTimeout(r, 50));

  it("within the budget reviews proceed; past it one waits and is answered once room frees; one that waits too long gets a 503", async () => {
    const a = await startLarge(big);
    const b = await startLarge(big);
    await settle();
    const waiting = await startLarge(big);
    await settle();
    a.finish();
    assert.equal(await a.answered(), 200);
    // a's answer freed room: the waiting review is admitted, and answered once it is sent.
    waiting.finish();
    assert.equal(await waiting.answered(), 200, waiting.received().slice(0, 300));
    // b and waiting's room: b still holds half; a late one waits 400 ms, then gets a 503.
    const late = await startLarge(big);
    const c = await startLarge(big);
    assert.equal(await c.answered(), 503, c.received().slice(0, 300));
    assert.match(c.received(), /LARGE_REVIEWS_BUSY/);
    b.finish();
    late.finish();
    assert.equal(await b.answered(), 200);
    assert.equal(await late.answered(), 200);
  });
});

describe("LargeReviewBudget", () => {
  it("admits at once while it fits, then first come first served; one always proceeds", async () => {
    const budget = new LargeReviewBudget(100, 1_000);
    const r1 = await budget.acquire(60);
    const r2 = await budget.acquire(40);
    assert.ok(r1 && r2);
    const order: string[] = [];
    const p3 = budget.acquire(50).then((r) => (order.push("third"), r));
    const p4 = budget.acquire(10).then((r) => (order.push("fourth"), r)); // fits size-wise, but waits its turn
    assert.equal(budget.waiting, 2);
    r1();
    const r3 = await p3;
    const r4 = await p4;
    assert.deepEqual(order, ["third", "fourth"]);
    r1(); // a second release is a no-op
    assert.equal(budget.bytesInFlight, 40 + 50 + 10);
    for (const r of [r2, r3, r4]) r?.();
    assert.equal(budget.bytesInFlight, 0);
    const huge = await budget.acquire(1_000);
    assert.ok(huge, "a review larger than the budget proceeds alone");
    huge();
  });

  it("gives up after waitMs", async () => {
    const budget = new LargeReviewBudget(100, 50);
    const held = await budget.acquire(100);
    assert.equal(await budget.acquire(1), undefined);
    assert.equal(budget.waiting, 0);
    held?.();
  });
});
