/**
 * Reading and writing manifests for the offline commands: multi-document YAML (or JSON) in,
 * the same shape out. Errors name the file, the document number and the line.
 */
import { readFile } from "node:fs/promises";
import { parseAllDocuments, stringify } from "yaml";
import type { ManifestObject } from "../webhook/workloads.js";
import { inputError } from "./errors.js";
import { isObject } from "../config/json-shapes.js";

export interface ManifestDocument {
  /** 1-based position in the stream, for messages. */
  index: number;
  /** null for an empty document (kept so the output has the same documents). */
  object: ManifestObject | null;
}

export async function readInput(file: string, stdin: NodeJS.ReadableStream): Promise<string> {
  if (file === "-") {
    const chunks: Buffer[] = [];
    for await (const chunk of stdin) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk));
    return Buffer.concat(chunks).toString("utf8");
  }
  try {
    return await readFile(file, "utf8");
  } catch (err) {
    throw inputError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
}

/**
 * Parses every document; a `kind: List` (as `kubectl get -o yaml` prints) is expanded into
 * its items. Throws an input error naming the file, document and line of the first problem.
 */
export function parseManifests(text: string, source: string): ManifestDocument[] {
  let docs: ReturnType<typeof parseAllDocuments>;
  try {
    docs = parseAllDocuments(text, { prettyErrors: true });
  } catch (err) {
    throw resourceError(err, source) ?? err;
  }
  const list = Array.isArray(docs) ? docs : [docs];
  const out: ManifestDocument[] = [];
  list.forEach((doc, i) => {
    const where = `${source}: document ${i + 1}`;
    if (doc.errors.length) {
      const e = doc.errors[0]!;
      const line = e.linePos?.[0]?.line;
      throw inputError(`${where}${line ? ` (line ${line})` : ""}: invalid YAML: ${e.message.split("\n")[0]}`);
    }
    let value: unknown;
    try {
      value = doc.toJS({ maxAliasCount: 100 }) as unknown;
    } catch (err) {
      throw resourceError(err, where) ?? err;
    }
    if (value === null || value === undefined) {
      out.push({ index: i + 1, object: null });
      return;
    }
    if (!isObject(value)) throw inputError(`${where}: expected a Kubernetes object (a mapping with apiVersion and kind), got ${Array.isArray(value) ? "a list" : typeof value}`);
    for (const field of ["apiVersion", "kind"] as const) {
      if (typeof value[field] !== "string" || value[field] === "") throw inputError(`${where}: ${field}: required, a non-empty string`);
    }
    if (value.metadata !== undefined && !isObject(value.metadata)) throw inputError(`${where}: metadata: expected a mapping`);
    if (value.kind === "List" || (typeof value.kind === "string" && value.kind.endsWith("List") && Array.isArray(value.items))) {
      if (!Array.isArray(value.items)) throw inputError(`${where}: items: a List needs an items array`);
      value.items.forEach((item, j) => {
        if (!isObject(item) || typeof item.kind !== "string" || typeof item.apiVersion !== "string") {
          throw inputError(`${where}: items[${j}]: expected a Kubernetes object with apiVersion and kind`);
        }
        out.push({ index: i + 1, object: item });
      });
      return;
    }
    out.push({ index: i + 1, object: value });
  });
  return out;
}

/**
 * The input errors a hostile document causes inside the YAML library: an alias bomb
 * (yaml's "Excessive alias count") and nesting deep enough to exhaust the stack. Anything
 * else is not the input's fault and is passed on as a bug.
 */
function resourceError(err: unknown, where: string): Error | undefined {
  if (err instanceof ReferenceError && /alias/i.test(err.message)) {
    return inputError(`${where}: too many YAML alias expansions (more than 100; an "alias bomb"): ${err.message}`);
  }
  if (err instanceof RangeError && /call stack/i.test(err.message)) return inputError(`${where}: nested too deeply to read`);
  return undefined;
}

export type OutputFormat = "yaml" | "json";

/** YAML: the documents separated by `---`. JSON: one object, or a `v1 List` as kubectl prints. */
export function formatManifests(objects: (ManifestObject | null)[], format: OutputFormat): string {
  const present = objects.filter((o): o is ManifestObject => o !== null);
  if (format === "json") {
    const value = present.length === 1 ? present[0] : { apiVersion: "v1", kind: "List", metadata: { resourceVersion: "" }, items: present };
    return `${JSON.stringify(value, null, 4)}\n`;
  }
  return present.map((o) => stringify(o, { lineWidth: 0 })).join("---\n");
}
