/**
 * Parses /mutate bodies without stalling the event loop. JSON.parse of a 6.5 MB body takes
 * ~150 ms on one core, and of a small body nested 100,000 levels deep ~30 ms: done on the
 * main thread, every other review would wait that long. Small, shallow bodies (every
 * normal pod) are parsed inline; the others go to a worker thread, which parses them and
 * sends back only the small, bounded result of decodeMutateReview, so the main thread's
 * work per review is the same whatever the body.
 */
import { Worker } from "node:worker_threads";
import { decodeMutateReview, type MutateDecodeResult } from "./mutate-review.js";

/** Bodies up to this size, if not nested deeper than MAX_INLINE_DEPTH, are parsed inline. */
export const MAX_INLINE_BYTES = 64 * 1024;
/** Real pods nest about 12 levels (affinity terms); anything deeper goes to the worker. */
export const MAX_INLINE_DEPTH = 64;

/** A failure of the parser itself (the worker died), not of the body. */
export class ReviewParserError extends Error {}

type Pending = { resolve: (r: MutateDecodeResult) => void; reject: (e: Error) => void };
type WorkerReply = { id: number; result?: MutateDecodeResult; crash?: string };

/** Parses a JSON body; a syntax error is a decode failure that names the position. */
export function parseMutateBody(text: string): MutateDecodeResult {
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch (err) {
    return { ok: false, error: `body: invalid JSON: ${(err as Error).message}` };
  }
  return decodeMutateReview(body);
}

/**
 * True when the JSON text nests arrays or objects deeper than `limit`; brackets inside
 * strings do not count. One pass over the characters, no allocation.
 */
export function nestsDeeperThan(text: string, limit: number): boolean {
  let depth = 0;
  let inString = false;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (inString) {
      if (c === 92) i++; // backslash: skip the escaped character
      else if (c === 34) inString = false;
    } else if (c === 34) inString = true;
    else if (c === 123 || c === 91) {
      if (++depth > limit) return true;
    } else if (c === 125 || c === 93) depth--;
  }
  return false;
}

export class ReviewParser {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 0;
  private closed = false;

  /** How many bodies went to the worker (for tests and the benchmark). */
  offloaded = 0;

  async parse(body: Buffer): Promise<MutateDecodeResult> {
    if (body.length <= MAX_INLINE_BYTES) {
      const text = body.toString("utf8");
      if (!nestsDeeperThan(text, MAX_INLINE_DEPTH)) return parseMutateBody(text);
    }
    return this.offload(body);
  }

  private offload(body: Buffer): Promise<MutateDecodeResult> {
    if (this.closed) return Promise.reject(new ReviewParserError("review parser closed"));
    const worker = this.ensureWorker();
    const id = this.nextId++;
    this.offloaded++;
    // Transfer the bytes instead of copying them when the Buffer owns its whole ArrayBuffer.
    const whole = body.byteOffset === 0 && body.byteLength === body.buffer.byteLength && body.buffer instanceof ArrayBuffer;
    const bytes = whole ? new Uint8Array(body.buffer) : new Uint8Array(body);
    return new Promise((resolve, reject) => {
      this.pending.set(id, { resolve, reject });
      worker.postMessage({ id, bytes }, [bytes.buffer]);
    });
  }

  private ensureWorker(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(new URL("./review-parser-worker.js", import.meta.url));
    worker.unref();
    worker.on("message", (reply: WorkerReply) => {
      const p = this.pending.get(reply.id);
      if (!p) return;
      this.pending.delete(reply.id);
      if (reply.result) p.resolve(reply.result);
      else p.reject(new ReviewParserError(`review parser worker: ${reply.crash ?? "no result"}`));
    });
    const fail = (why: string) => {
      if (this.worker === worker) this.worker = undefined;
      for (const [id, p] of this.pending) {
        this.pending.delete(id);
        p.reject(new ReviewParserError(`review parser worker ${why}`));
      }
    };
    worker.on("error", (err: Error) => fail(`failed: ${err.message}`));
    worker.on("exit", (code) => fail(`exited with code ${code}`));
    this.worker = worker;
    return worker;
  }

  async close(): Promise<void> {
    this.closed = true;
    const w = this.worker;
    this.worker = undefined;
    if (w) await w.terminate();
  }
}
