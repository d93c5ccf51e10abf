/**
 * A strict RFC 6902 applier for the properties: every operation's parent must exist and be
 * an object or array (RFC 6902 4.1: "the target location MUST reference ... a member to add
 * to an existing object"), `replace`/`remove` targets must exist, pointers must be well
 * formed (RFC 6901). Throws on the first violation, naming the operation. Independent of
 * fast-json-patch, which the webhook uses.
 */
type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
export interface PatchOp {
  op: string;
  path: string;
  value?: unknown;
}

function tokens(pointer: string): string[] {
  if (pointer === "") return [];
  if (!pointer.startsWith("/")) throw new Error(`pointer ${JSON.stringify(pointer)} does not start with /`);
  return pointer
    .slice(1)
    .split("/")
    .map((t) => {
      if (/~[^01]|~$/.test(t)) throw new Error(`pointer ${JSON.stringify(pointer)}: bad escape`);
      return t.replaceAll("~1", "/").replaceAll("~0", "~");
    });
}

const isContainer = (v: unknown): v is Record<string, unknown> | unknown[] => typeof v === "object" && v !== null;

export function applyStrict<T>(document: T, patch: readonly PatchOp[]): T {
  const root = { doc: structuredClone(document) as unknown as Json };
  patch.forEach((op, i) => {
    const where = `operation ${i} (${op.op} ${op.path})`;
    const path = tokens(op.path);
    if (path.length === 0) throw new Error(`${where}: whole-document operations are not expected`);
    let parent: unknown = root.doc;
    for (const t of path.slice(0, -1)) {
      if (!isContainer(parent) || !Object.hasOwn(parent, t)) throw new Error(`${where}: parent ${t} does not exist`);
      parent = (parent as Record<string, unknown>)[t];
    }
    const last = path[path.length - 1] as string;
    if (!isContainer(parent)) throw new Error(`${where}: parent is ${parent === null ? "null" : typeof parent}, not an object`);
    if (Array.isArray(parent)) throw new Error(`${where}: array targets are not expected from the webhook`);
    const p = parent;
    switch (op.op) {
      case "add":
        if (!("value" in op)) throw new Error(`${where}: no value`);
        p[last] = structuredClone(op.value);
        break;
      case "replace":
        if (!Object.hasOwn(p, last)) throw new Error(`${where}: target does not exist`);
        p[last] = structuredClone(op.value);
        break;
      case "remove":
        if (!Object.hasOwn(p, last)) throw new Error(`${where}: target does not exist`);
        delete p[last];
        break;
      default:
        throw new Error(`${where}: unexpected op`);
    }
  });
  return root.doc as unknown as T;
}
