/**
 * Reads a request body for the JSON content-type parser, with fastify's own limits and
 * errors, but without its copy. fastify's `parseAs: "buffer"` concatenates every body, even
 * one that arrived in a single chunk, into a fresh ArrayBuffer (6 KB for a typical review)
 * that the review parser then decodes to a string anyway; `parseAs: "string"` would decode the large bodies on the
 * main thread, which are bytes meant for the parse worker. A review nearly always arrives
 * as one chunk, so that chunk is decoded straight to a string; everything else stays bytes.
 * Measured beside the synchronous onRequest hook in a paired A/B: together about 7 % of the
 * webhook's CPU per review (BENCHMARKS.md, "The HTTP side of the hot path").
 */
import type { Readable } from "node:stream";
import { errorCodes } from "fastify";

/** The body: a string when it arrived in one chunk of at most `stringBytes`, else bytes. */
export type RequestBody = string | Buffer;

export interface BodyLimits {
  /** The largest body accepted (fastify's bodyLimit): more is a 413. */
  limit: number;
  /** A body of one chunk up to this size is handed over as a string. */
  stringBytes: number;
}

/**
 * Reads `payload` to its end and calls `done` once: with the body, with a 413 when it
 * exceeds the limit (told by Content-Length before a byte is read), with a 400 when it ends
 * short of or past its Content-Length or the stream fails. fastify answers those errors and
 * closes the connection, as for its own readers. `payload` is the request itself: the app
 * has no preParsing hook (no decompression), so the chunks are the bytes that were sent.
 */
export function readRequestBody(payload: Readable, contentLengthHeader: string | undefined, limits: BodyLimits, done: (err: Error | null, body?: RequestBody) => void): void {
  const contentLength = Number(contentLengthHeader);
  if (contentLength > limits.limit) {
    done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
    return;
  }
  const chunks: Buffer[] = [];
  let received = 0;
  const stop = () => {
    payload.removeListener("data", onData);
    payload.removeListener("end", onEnd);
    payload.removeListener("error", onEnd);
  };
  function onData(chunk: Buffer) {
    received += chunk.length;
    if (received > limits.limit) {
      stop();
      done(new errorCodes.FST_ERR_CTP_BODY_TOO_LARGE());
      return;
    }
    chunks.push(chunk);
  }
  function onEnd(err?: Error & { statusCode?: number }) {
    stop();
    if (err) {
      // A broken stream (the client went away mid-body) is the request's fault.
      if (!(typeof err.statusCode === "number" && err.statusCode >= 400)) err.statusCode = 400;
      done(err);
      return;
    }
    if (!Number.isNaN(contentLength) && received !== contentLength) {
      done(new errorCodes.FST_ERR_CTP_INVALID_CONTENT_LENGTH());
      return;
    }
    // Decoding copies, so a chunk that is a view over the socket's read buffer is not kept;
    // bytes are always copied into a buffer of their own, which the parse worker may take.
    if (chunks.length === 1 && received <= limits.stringBytes) done(null, chunks[0]!.toString("utf8"));
    else done(null, Buffer.concat(chunks, received));
  }
  payload.on("data", onData);
  payload.on("end", onEnd);
  payload.on("error", onEnd);
  payload.resume();
}
