/**
 * The worker thread of review-parser.ts: parses one /mutate body at a time and answers with
 * decodeMutateReview's small result. A throw here is a bug; it is reported, not fatal.
 */
import { setPriority } from "node:os";
import { parentPort } from "node:worker_threads";
import { parseMutateBody } from "./review-parser.js";

const decoder = new TextDecoder();

// The bodies parsed here are the unusual ones (large or deep); the main thread answers the
// normal reviews. On Linux, setpriority for "pid 0" applies to the calling thread only, so
// this lowers this thread's priority, not the process's: when the two compete for a core
// the normal reviews win. Raising one's own nice value needs no privilege; where the
// platform refuses, the worker runs at normal priority.
try {
  setPriority(19);
} catch {
  // Not permitted or not supported here: same as before, just without the preference.
}

parentPort?.on("message", (message: { id: number; bytes: Uint8Array }) => {
  try {
    parentPort?.postMessage({ id: message.id, result: parseMutateBody(decoder.decode(message.bytes)) });
  } catch (err) {
    parentPort?.postMessage({ id: message.id, crash: err instanceof Error ? err.message : String(err) });
  }
});
