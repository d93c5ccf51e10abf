/**
 * Parses /mutate bodies without stalling the event loop. JSON.parse of a 6.5 MB body takes
 * ~150 ms on one core, and of 64 KiB nested 32,000 levels deep ~4 ms: done on the main
 * thread, every other review would wait that long. Small bodies (every normal pod) are
 * parsed inline; the others go to a worker thread, which parses them and sends back only
 * the small, bounded result of decodeMutateReview, so the main thread's work per review is
 * about the same whatever the body.
 */
import { Worker } from "node:worker_threads";
import { decodeMutateReview, type MutateDecodeResult } from "./mutate-review.js";
import type { RequestBody } from "./request-body.js";

/**
 * Bodies up to this size are parsed inline, without scanning their depth first: a normal
 * pod's review is 3–10 KB, and the deepest 16 KiB body (8,000 levels) parses in ~1 ms.
 * Scanning every body's depth instead cost about half as much as parsing it (measured with
 * npm run bench: 5 % of the webhook's CPU).
 */
export const MAX_INLINE_BYTES = 16 * 1024;

/**
 * No AdmissionReview the API server sends nests deeper: its JSON decoder (Go's
 * encoding/json, as forked by sigs.k8s.io/json) refuses anything past 10,000 levels, and
 * pods are re-encoded from Go types a few dozen levels deep. Deeper bodies come from
 * something else and are refused before JSON.parse, whose cost grows with depth far more
 * than with size: 7 MiB nested 3.4 million levels deep takes ~0.9 s and ~400 MB to parse,
 * past the Deployment's 384 MiB memory limit.
 */
export const MAX_REVIEW_DEPTH = 10_000;

/** The 400 for a body nested deeper than MAX_REVIEW_DEPTH. */
export const TOO_DEEP_ERROR = `body: nested deeper than ${MAX_REVIEW_DEPTH} levels, which no AdmissionReview from the API server is (its JSON decoder stops at ${MAX_REVIEW_DEPTH})`;

/**
 * The worker's own heap: parsing a 7 MiB body of 1.2 million short strings needs ~40 MB
 * live, but without a limit V8 lets a worker's heap grow to the machine's default before
 * collecting, and the process (384 MiB limit in the Deployment) pays for both heaps. A
 * body whose parse needed more than this would end the worker: that review fails
 * (HTTP 500, the failurePolicy decides) and the next one starts a new worker.
 */
const WORKER_HEAP_LIMITS = { maxOldGenerationSizeMb: 64, maxYoungGenerationSizeMb: 4 };

/** A failure of the parser itself (the worker died), not of the body. */
export class ReviewParserError extends Error {}

type Pending = { resolve: (r: MutateDecodeResult) => void; reject: (e: Error) => void };
type WorkerReply = { id: number; result?: MutateDecodeResult; crash?: string };

/**
 * Parses a JSON body; a syntax error is a decode failure that names the position, and a
 * body nested deeper than MAX_REVIEW_DEPTH is refused unparsed.
 */
export function parseMutateBody(text: string): MutateDecodeResult {
  if (nestsDeeperThan(text, MAX_REVIEW_DEPTH)) return { ok: false, error: TOO_DEEP_ERROR };
  return parseShallowMutateBody(text);
}

/** parseMutateBody for a text that cannot nest past MAX_REVIEW_DEPTH. */
function parseShallowMutateBody(text: string): MutateDecodeResult {
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
      if (c === 92)
        i++; // backslash: skip the escaped character
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

  async parse(body: RequestBody): Promise<MutateDecodeResult> {
    return this.parseInline(body) ?? this.offload(typeof body === "string" ? Buffer.from(body) : body);
  }

  /**
   * A small body's result, decoded here and now; undefined for a body that parse() would
   * send to the worker. Lets the HTTP layer skip a promise for every normal review.
   */
  parseInline(body: RequestBody): MutateDecodeResult | undefined {
    // At most MAX_INLINE_BYTES (or characters: each is at least a byte) cannot nest past
    // MAX_REVIEW_DEPTH: no depth check needed.
    if (body.length > MAX_INLINE_BYTES) return undefined;
    return parseShallowMutateBody(typeof body === "string" ? body : body.toString("utf8"));
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
    const worker = new Worker(new URL("./review-parser-worker.js", import.meta.url), { resourceLimits: WORKER_HEAP_LIMITS });
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
