import { describe, it } from "node:test";
import assert from "node:assert/strict";
import { PassThrough } from "node:stream";
import { readRequestBody, type RequestBody } from "../../../webhook/request-body.js";

const limits = { limit: 64, stringBytes: 16 };

/** Feeds `chunks` (then end, or an error) to readRequestBody and returns what done got. */
function read(
  chunks: string[],
  contentLength: string | undefined,
  opts: { fail?: Error } = {},
): Promise<{ err: (Error & { statusCode?: number; code?: string }) | null; body?: RequestBody }> {
  return new Promise((resolve) => {
    const payload = new PassThrough();
    let calls = 0;
    readRequestBody(payload, contentLength, limits, (err, body) => {
      calls++;
      assert.equal(calls, 1, "done is called once");
      resolve({ err, ...(body === undefined ? {} : { body }) });
    });
    for (const c of chunks) payload.write(Buffer.from(c));
    if (opts.fail) payload.destroy(opts.fail);
    else payload.end();
  });
}

describe("readRequestBody", () => {
  it("a body of one small chunk is handed over as a string", async () => {
    const { err, body } = await read(['{"a":1}'], "7");
    assert.equal(err, null);
    assert.equal(body, '{"a":1}');
  });

  it("a body of several chunks, or one past stringBytes, stays bytes of its own", async () => {
    const split = await read(['{"a":', "1}"], "7");
    assert.ok(Buffer.isBuffer(split.body));
    assert.equal(split.body.toString(), '{"a":1}');
    const long = `"${"x".repeat(30)}"`;
    const one = await read([long], String(long.length));
    assert.ok(Buffer.isBuffer(one.body));
    assert.equal(one.body.toString(), long);
  });

  it("multi-byte characters split across chunks decode intact", async () => {
    const text = '"ä"';
    const bytes = Buffer.from(text);
    const payload = new PassThrough();
    const got = new Promise<RequestBody | undefined>((resolve) => readRequestBody(payload, String(bytes.length), limits, (_e, b) => resolve(b)));
    payload.write(bytes.subarray(0, 2));
    payload.end(bytes.subarray(2));
    assert.equal(String(await got), text);
  });

  it("a Content-Length over the limit is a 413 before a byte is read", async () => {
    const { err } = await read([], "65");
    assert.equal(err?.statusCode, 413);
    assert.equal(err?.code, "FST_ERR_CTP_BODY_TOO_LARGE");
  });

  it("a body that grows past the limit without saying so is a 413", async () => {
    const { err } = await read(["x".repeat(40), "x".repeat(40)], undefined);
    assert.equal(err?.statusCode, 413);
  });

  it("a body shorter or longer than its Content-Length is a 400", async () => {
    for (const length of ["10", "3"]) {
      const { err } = await read(['{"a":1}'], length);
      assert.equal(err?.statusCode, 400);
      assert.equal(err?.code, "FST_ERR_CTP_INVALID_CONTENT_LENGTH");
    }
  });

  it("a stream that fails mid-body is a 400 carrying its error", async () => {
    const { err } = await read(['{"a":'], "7", { fail: new Error("aborted") });
    assert.equal(err?.message, "aborted");
    assert.equal(err?.statusCode, 400);
  });

  it("no Content-Length: the body is whatever arrived", async () => {
    const { err, body } = await read(["[]"], undefined);
    assert.equal(err, null);
    assert.equal(body, "[]");
  });
});
