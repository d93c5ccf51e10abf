/**
 * The worker thread of review-parser.ts: parses one /mutate body at a time and answers with
 * decodeMutateReview's small result. A throw here is a bug; it is reported, not fatal.
 */
import { parentPort } from "node:worker_threads";
import { parseMutateBody } from "./review-parser.js";

const decoder = new TextDecoder();

parentPort?.on("message", (message: { id: number; bytes: Uint8Array }) => {
  try {
    parentPort?.postMessage({ id: message.id, result: parseMutateBody(decoder.decode(message.bytes)) });
  } catch (err) {
    parentPort?.postMessage({ id: message.id, crash: err instanceof Error ? err.message : String(err) });
  }
});
