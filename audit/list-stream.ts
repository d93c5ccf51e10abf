/**
 * Streaming list pages: GET one page of a Kubernetes list and hand the caller each item as
 * soon as it is complete, with only the fields the caller selected. A page of 500 pods is
 * about 2 MB of JSON (managedFields and containers make up most of it); the audit reads six
 * fields per pod. client-node would buffer the page as text, parse all of it, then build a
 * typed copy; at 10,000 pods that garbage alone makes V8 grow its young generation by
 * 100 MB and more. Scanning the bytes and parsing only the selected fragments keeps the
 * audit's memory near what it retains. Authentication is client-node's (applyToHTTPSOptions).
 */
import http from "node:http";
import https from "node:https";
import type { KubeConfig } from "@kubernetes/client-node";

/** A failed request; `code` is the HTTP status (0: no answer), as apiFailure reads it. */
export class ListError extends Error {
  constructor(
    message: string,
    readonly code: number,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
  }
}

/** The fields to keep of each item: nested keys; `true` keeps the whole value. */
export type FieldSelection = { readonly [key: string]: FieldSelection | true };

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const COMMA = 0x2c;
const COLON = 0x3a;
const isSpace = (c: number) => c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;

interface Frame {
  array: boolean;
  /** What to keep below this frame; null: nothing (the frame is only walked through). */
  sel: FieldSelection | null;
  /** The object being built (selected object frames). */
  obj: Record<string, unknown> | null;
  /** The current key (object frames with a selection). */
  key: string | undefined;
  expectKey: boolean;
  /** The list's `items` array; its elements are the items. */
  items: boolean;
  /** An element of `items`: emitted when it closes. */
  item: boolean;
  /** The key this frame's object goes to in its parent. */
  parentKey: string | undefined;
}

/** The root: the list's metadata.continue, and its items. */
const ROOT: FieldSelection = { metadata: { continue: true } };

/**
 * A byte-level scanner over a list's JSON (`{"metadata":{..},"items":[{..},..]}`) that
 * builds, for each item, an object with only the selected fields (each selected value is
 * parsed with JSON.parse from its own bytes), and emits it when the item closes. Chunks may
 * split anywhere, even inside a multi-byte character: structure bytes are ASCII, and the
 * selected fragments are decoded only once complete.
 */
export class ListScanner {
  private readonly stack: Frame[] = [];
  private inString = false;
  private escaped = false;
  /** Bytes of the key or the value being captured, from earlier chunks. */
  private parts: Buffer[] = [];
  private partStart = -1;
  private capture: "none" | "key" | "string" | "literal" | "nested" = "none";
  private nest = 0;
  /** Nesting inside an unselected object or array: walked through without any allocation. */
  private skip = 0;
  private root: Record<string, unknown> | null = null;

  constructor(
    private readonly select: FieldSelection | true,
    private readonly onItem: (item: Record<string, unknown>) => void,
  ) {}

  /** The list's `metadata.continue` ("" when none), once the whole text was written. */
  continueToken(): string {
    const meta = this.root?.metadata as { continue?: unknown } | undefined;
    return typeof meta?.continue === "string" ? meta.continue : "";
  }

  write(chunk: Buffer): void {
    if (this.capture !== "none") this.partStart = 0;
    for (let i = 0; i < chunk.length; i++) {
      const c = chunk[i] as number;
      if (this.inString) this.stringByte(c, chunk, i);
      else if (this.capture === "nested" || this.skip > 0) this.nestedByte(c, chunk, i);
      else this.structureByte(c, chunk, i);
    }
    if (this.capture !== "none" && this.partStart >= 0) {
      // Copied: the rest of the chunk must not stay alive with the fragment.
      this.parts.push(Buffer.from(chunk.subarray(this.partStart)));
    }
  }

  /** Inside a string: only an unescaped quote ends it. */
  private stringByte(c: number, chunk: Buffer, i: number): void {
    if (this.escaped) this.escaped = false;
    else if (c === BACKSLASH) this.escaped = true;
    else if (c === QUOTE) {
      this.inString = false;
      if (this.capture === "key") this.endKey(chunk, i);
      else if (this.capture === "string") this.endValue(chunk, i + 1);
    }
  }

  /** Inside a captured or a skipped object or array: only strings and nesting matter. */
  private nestedByte(c: number, chunk: Buffer, i: number): void {
    if (c === QUOTE) this.inString = true;
    else if (c === LBRACE || c === LBRACKET) {
      if (this.skip > 0) this.skip++;
      else this.nest++;
    } else if (c === RBRACE || c === RBRACKET) {
      if (this.skip > 0) this.skip--;
      else if (--this.nest === 0) this.endValue(chunk, i + 1);
    }
  }

  /** Between values: keys, the start and end of values, separators. */
  private structureByte(c: number, chunk: Buffer, i: number): void {
    if (this.capture === "literal") {
      if (c !== COMMA && c !== RBRACE && c !== RBRACKET && !isSpace(c)) return;
      this.endValue(chunk, i); // and the delimiter is handled below
    }
    if (isSpace(c)) return;
    const top = this.stack.at(-1);
    switch (c) {
      case QUOTE:
        this.inString = true;
        if (top && !top.array && top.expectKey) {
          if (top.sel) this.startCapture("key", i + 1);
        } else this.startValue("string", i);
        return;
      case LBRACE:
      case LBRACKET:
        this.startValue(c === LBRACE ? "object" : "array", i);
        return;
      case RBRACE:
      case RBRACKET:
        this.closeFrame();
        return;
      case COLON:
        if (top) top.expectKey = false;
        return;
      case COMMA:
        if (top && !top.array) top.expectKey = true;
        return;
      default:
        this.startValue("literal", i);
    }
  }

  private push(frame: Partial<Frame> & Pick<Frame, "array" | "sel">): void {
    this.stack.push({ obj: null, key: undefined, expectKey: !frame.array, items: false, item: false, parentKey: undefined, ...frame });
  }

  /** A value begins: capture it, descend into it with a selection, or walk through it. */
  private startValue(type: "string" | "object" | "array" | "literal", at: number): void {
    const top = this.stack.at(-1);
    if (!top) {
      this.root = {};
      this.push({ array: type === "array", sel: ROOT, obj: this.root });
      return;
    }
    let sel: FieldSelection | true | undefined;
    if (top.array) sel = top.items ? this.select : undefined;
    else {
      if (top === this.stack[0] && top.key === "items" && type === "array") {
        this.push({ array: true, sel: null, items: true });
        return;
      }
      sel = top.sel && top.key !== undefined ? top.sel[top.key] : undefined;
    }
    const isItem = top.array && top.items;
    if (sel === true && !isItem) {
      this.startCapture(type === "object" || type === "array" ? "nested" : type === "string" ? "string" : "literal", at);
      if (this.capture === "nested") this.nest = 1;
      return;
    }
    if (type === "object" && sel !== undefined) {
      if (sel === true) {
        // A whole item: parsed in one piece.
        this.startCapture("nested", at);
        this.nest = 1;
        return;
      }
      this.push({ array: false, sel, obj: {}, item: isItem, parentKey: top.key });
      return;
    }
    if (type === "object" || type === "array") this.skip = 1;
    // Unselected scalars need no state: strings are tracked by inString, literals end at the next delimiter.
  }

  private closeFrame(): void {
    const frame = this.stack.pop();
    if (!frame) return;
    const parent = this.stack.at(-1);
    if (frame.item && frame.obj) this.onItem(frame.obj);
    else if (frame.obj && parent?.obj && frame.parentKey !== undefined) parent.obj[frame.parentKey] = frame.obj;
  }

  private startCapture(kind: "key" | "string" | "literal" | "nested", at: number): void {
    this.capture = kind;
    this.parts = [];
    this.partStart = at;
  }

  /** The captured text; decoded from the chunk directly when it did not span chunks (no Buffer copy). */
  private take(chunk: Buffer, end: number): string {
    const text = this.parts.length ? Buffer.concat([...this.parts, chunk.subarray(this.partStart, end)]).toString("utf8") : chunk.toString("utf8", this.partStart, end);
    this.parts = [];
    this.partStart = -1;
    this.capture = "none";
    return text;
  }

  private endKey(chunk: Buffer, end: number): void {
    const raw = this.take(chunk, end);
    const top = this.stack.at(-1) as Frame;
    top.key = raw.includes("\\") ? (JSON.parse(`"${raw}"`) as string) : raw;
  }

  private endValue(chunk: Buffer, end: number): void {
    const value: unknown = JSON.parse(this.take(chunk, end));
    const top = this.stack.at(-1) as Frame;
    if (top.array && top.items) this.onItem(value as Record<string, unknown>);
    else if (top.obj && top.key !== undefined) top.obj[top.key] = value;
  }
}

/** A keep-alive agent per KubeConfig: one TLS handshake for all the pages of an audit. */
const agents = new WeakMap<KubeConfig, { http: http.Agent; https: https.Agent }>();

/** Bounds one page request: a list of 500 pods takes well under a second on a healthy API server. */
const REQUEST_TIMEOUT_MS = 60_000;

/**
 * GETs one page of a list (`path` with `query`) and calls `onItem` with each item, reduced
 * to `select`. Resolves to the `continue` token of the next page ("" after the last).
 *
 * @throws ListError with the HTTP status and the API server's message.
 */
export async function streamListPage(
  kubeConfig: KubeConfig,
  path: string,
  query: Record<string, string | number | undefined>,
  select: FieldSelection | true,
  onItem: (item: Record<string, unknown>) => void,
  signal?: AbortSignal,
): Promise<string> {
  const cluster = kubeConfig.getCurrentCluster();
  if (!cluster) throw new ListError("kubeconfig: no current cluster", 0);
  const server = new URL(cluster.server);
  const options: https.RequestOptions = {};
  await kubeConfig.applyToHTTPSOptions(options); // per request: exec and token-file credentials refresh
  let pool = agents.get(kubeConfig);
  if (!pool) agents.set(kubeConfig, (pool = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) }));
  const secure = server.protocol === "https:";
  const search = new URLSearchParams();
  for (const [k, v] of Object.entries(query)) if (v !== undefined && v !== "") search.set(k, String(v));
  const requestOptions: https.RequestOptions = {
    ...options,
    agent: secure ? pool.https : pool.http,
    protocol: server.protocol,
    hostname: server.hostname.replace(/^\[|\]$/g, ""),
    port: server.port || (secure ? 443 : 80),
    method: "GET",
    path: `${server.pathname.replace(/\/$/, "")}${path}${search.size ? `?${search.toString()}` : ""}`,
    headers: { ...options.headers, accept: "application/json" },
    timeout: REQUEST_TIMEOUT_MS,
    ...(signal ? { signal } : {}),
  };
  return new Promise<string>((resolve, reject) => {
    const req = (secure ? https : http).request(requestOptions, (res) => {
      const status = res.statusCode ?? 0;
      if (status < 200 || status >= 300) {
        const chunks: Buffer[] = [];
        let size = 0;
        res.on("data", (d: Buffer) => {
          if (size < 64 * 1024) chunks.push(d); // a Status is small; never buffer a huge error page
          size += d.length;
        });
        res.on("end", () => reject(new ListError(statusMessage(status, Buffer.concat(chunks).toString("utf8")), status)));
        return;
      }
      let failed: Error | undefined;
      const scanner = new ListScanner(select, (item) => {
        if (failed === undefined) {
          try {
            onItem(item);
          } catch (err) {
            failed = err instanceof Error ? err : new Error("the item handler threw", { cause: err });
          }
        }
      });
      res.on("data", (d: Buffer) => {
        if (failed !== undefined) return;
        try {
          scanner.write(d);
        } catch (err) {
          failed = new ListError(`malformed list JSON from ${path}: ${(err as Error).message}`, status, err);
        }
      });
      res.on("end", () => (failed !== undefined ? reject(failed) : resolve(scanner.continueToken())));
      res.on("error", (err) => reject(new ListError(err.message, 0, err)));
    });
    req.on("timeout", () => req.destroy(new ListError(`no answer in ${REQUEST_TIMEOUT_MS / 1000} s`, 0)));
    req.on("error", (err) => reject(err instanceof ListError ? err : signal?.aborted ? (signal.reason as Error) : new ListError(err.message, 0, err)));
    req.end();
  });
}

/** The API server's Status message, else the body's start. */
function statusMessage(code: number, body: string): string {
  try {
    const status = JSON.parse(body) as { message?: unknown };
    if (typeof status.message === "string") return status.message;
  } catch {
    // not JSON
  }
  return body.slice(0, 300) || `HTTP ${code}`;
}
