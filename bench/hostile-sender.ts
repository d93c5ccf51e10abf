/**
 * The hostile stream's sender, a worker thread of hostile-bench.ts: building a 7 MiB body
 * and encrypting it takes milliseconds of CPU, which on the load generator's own thread
 * would delay the paced normal reviews and show up as webhook latency. Here it costs the
 * pacer nothing. Sends one hostile review every `intervalMs` (the kinds in turn) until
 * `durationMs` is over, over one keep-alive connection, and posts every answer back.
 */
import { Agent, request } from "node:https";
import { setPriority } from "node:os";
import { parentPort, workerData } from "node:worker_threads";
import { hostileReviews } from "./hostile-reviews.js";

export interface SenderInput {
  url: string;
  ca: string;
  intervalMs: number;
  durationMs: number;
  /** Only these kinds (default: all). */
  kinds?: string[];
  /** The target is the bench's sink, which answers every body with a 400. */
  sink?: boolean;
}

export interface HostileAnswer {
  kind: string;
  status: number;
  ms: number;
  bodyBytes: number;
  /** What is wrong with the answer; undefined when it is what a correct webhook answers. */
  problem?: string;
}

const ANSWER_TIMEOUT_MS = 15_000;

function send(url: URL, ca: string, agent: Agent, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname,
        port: url.port,
        path: url.pathname,
        method: "POST",
        ca,
        servername: "localhost",
        agent,
        headers: { "content-type": "application/json" },
        timeout: ANSWER_TIMEOUT_MS,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString("utf8") }));
        res.on("error", reject);
      },
    );
    req.on("timeout", () => req.destroy(new Error(`no answer within ${ANSWER_TIMEOUT_MS / 1000} s`)));
    req.on("error", reject);
    req.end(body);
  });
}

/** Checks one answer against what the kind expects; returns the problem, if any. */
function problemOf(expectStatus: number, uid: string, status: number, text: string): string | undefined {
  if (status !== expectStatus) return `HTTP ${status} (expected ${expectStatus}): ${text.slice(0, 200)}`;
  let json: { response?: { uid?: unknown; allowed?: unknown }; error?: unknown };
  try {
    json = JSON.parse(text) as typeof json;
  } catch {
    return `answer is not JSON: ${text.slice(0, 200)}`;
  }
  if (status === 400) return typeof json.error === "string" && json.error.length > 0 ? undefined : `a 400 without an error message: ${text.slice(0, 200)}`;
  if (json.response?.uid !== uid) return `answer's uid ${JSON.stringify(json.response?.uid)} is not ${uid}`;
  if (json.response.allowed !== true) return `the pod was refused: ${text.slice(0, 200)}`;
  return undefined;
}

async function run(input: SenderInput): Promise<HostileAnswer[]> {
  const reviews = hostileReviews()
    .filter((r) => !input.kinds?.length || input.kinds.includes(r.kind))
    .map((r) => ({ ...r, uid: (JSON.parse(r.body) as { request: { uid: string } }).request.uid }));
  if (reviews.length === 0) throw new Error(`no hostile review of kind ${input.kinds?.join(", ")}`);
  const url = new URL(input.url);
  const agent = new Agent({ keepAlive: true, maxSockets: 1 });
  const answers: HostileAnswer[] = [];
  const t0 = Date.now();
  for (let i = 0; Date.now() - t0 < input.durationMs; i++) {
    const due = t0 + i * input.intervalMs;
    if (due > Date.now()) await new Promise((r) => setTimeout(r, due - Date.now()));
    const review = reviews[i % reviews.length]!;
    const started = performance.now();
    try {
      const { status, text } = await send(url, input.ca, agent, review.body);
      const problem = input.sink ? (status === 400 ? undefined : `sink answered HTTP ${status}`) : problemOf(review.expectStatus, review.uid, status, text);
      answers.push({ kind: review.kind, status, ms: performance.now() - started, bodyBytes: review.body.length, ...(problem ? { problem } : {}) });
    } catch (err) {
      answers.push({ kind: review.kind, status: 0, ms: performance.now() - started, bodyBytes: review.body.length, problem: `request failed: ${(err as Error).message}` });
    }
  }
  agent.destroy();
  return answers;
}

if (parentPort) {
  // A real hostile client runs on another machine: here it shares the generator's 2 cores,
  // so it yields to the pacer (on Linux this sets this thread's priority only).
  try {
    setPriority(19);
  } catch {
    // Runs at normal priority where that is not allowed.
  }
  const port = parentPort;
  run(workerData as SenderInput).then(
    (answers) => port.postMessage({ answers }),
    (err: unknown) => port.postMessage({ error: err instanceof Error ? (err.stack ?? err.message) : String(err) }),
  );
}
