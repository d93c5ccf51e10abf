/**
 * An in-memory SecretStore with the API server's semantics that matter here: resourceVersion
 * preconditions (409 on a stale update, on a create of an existing Secret), a namespace that
 * may not exist, and a yield on every call so that concurrent "replicas" interleave.
 */
import { setImmediate as yieldTurn } from "node:timers/promises";
import type { SecretRecord } from "../../../certs/secret-layout.js";
import type { SecretContent, SecretStore, SecretType, WriteOutcome } from "../../../certs/secret-store.js";

export class FakeSecretStore implements SecretStore {
  readonly secrets = new Map<string, SecretRecord & { type: SecretType }>();
  /** Every successful write, in order: `create <name>` / `update <name>`. */
  readonly writes: string[] = [];
  conflicts = 0;
  namespaceExists = true;
  private version = 100;
  /** Called before each update is applied; may change the stored Secret to simulate a race. */
  beforeUpdate: ((name: string) => void) | undefined;

  constructor(readonly namespace = "pod-dns-injector") {}

  async get(name: string): Promise<SecretRecord | undefined> {
    await yieldTurn();
    const s = this.secrets.get(name);
    return s ? structuredClone(s) : undefined;
  }

  async create(name: string, type: SecretType, content: SecretContent): Promise<WriteOutcome> {
    await yieldTurn();
    if (!this.namespaceExists) return { outcome: "namespace-missing", message: `namespaces "${this.namespace}" not found` };
    if (this.secrets.has(name)) {
      this.conflicts++;
      return { outcome: "conflict", message: `secrets "${name}" already exists` };
    }
    const secret = {
      name,
      namespace: this.namespace,
      resourceVersion: String(++this.version),
      uid: `uid-${name}`,
      data: { ...content.data },
      annotations: { ...content.annotations },
      type,
    };
    this.secrets.set(name, secret);
    this.writes.push(`create ${name}`);
    return { outcome: "written", secret: structuredClone(secret) };
  }

  async update(current: SecretRecord, content: SecretContent): Promise<WriteOutcome> {
    await yieldTurn();
    this.beforeUpdate?.(current.name);
    const stored = this.secrets.get(current.name);
    if (!stored || stored.resourceVersion !== current.resourceVersion) {
      this.conflicts++;
      return { outcome: "conflict", message: `the object has been modified` };
    }
    const secret = { ...stored, resourceVersion: String(++this.version), data: { ...content.data }, annotations: { ...stored.annotations, ...content.annotations } };
    this.secrets.set(current.name, secret);
    this.writes.push(`update ${current.name}`);
    return { outcome: "written", secret: structuredClone(secret) };
  }

  /** A user's edit (e.g. `kubectl annotate`), bumping the resourceVersion. */
  edit(name: string, change: (s: SecretRecord) => void): void {
    const s = this.secrets.get(name);
    if (!s) throw new Error(`no Secret ${name}`);
    change(s);
    s.resourceVersion = String(++this.version);
  }
}
