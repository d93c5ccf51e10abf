/**
 * Where the certificate Secrets live: a small interface (read, create-if-absent, update with
 * a resourceVersion precondition) and its Kubernetes implementation. The convergence logic
 * (certs/converge.ts) only sees the interface, so tests drive it with a plain in-memory fake.
 *
 * Conflicts are outcomes, not errors: several replicas write the same Secrets, and losing a
 * race (409 on create or update, 404 on an update of a Secret deleted meanwhile) just means
 * "read again and decide again". A missing namespace is an outcome too (the manifests create
 * it; until then the injector reports it on /readyz and retries). Anything else throws, with
 * the Secret named.
 */
import { apiFailure } from "../kube/api-errors.js";
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import { SECRET_LABELS, type SecretRecord } from "./secret-layout.js";

/** What to write: the complete data, and annotations to set (others are kept). */
export interface SecretContent {
  /** Text values (PEM). On update, keys absent here are removed. */
  data: Record<string, string>;
  annotations?: Record<string, string> | undefined;
}

export type WriteOutcome =
  | { outcome: "written"; secret: SecretRecord }
  /** Someone else wrote first (or deleted it): read again. */
  | { outcome: "conflict"; message: string }
  | { outcome: "namespace-missing"; message: string };

export interface SecretStore {
  /** Undefined when the Secret does not exist. */
  get(name: string): Promise<SecretRecord | undefined>;
  /** Creates the Secret only if absent: an existing one is a conflict, never overwritten. */
  create(name: string, type: SecretType, content: SecretContent): Promise<WriteOutcome>;
  /** Updates `current` only if it is still at `current.resourceVersion`. */
  update(current: SecretRecord, content: SecretContent): Promise<WriteOutcome>;
}

export type SecretType = "kubernetes.io/tls" | "Opaque";

/** Secrets in one namespace through the API server. */
export class KubeSecretStore implements SecretStore {
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    readonly namespace: string,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async get(name: string): Promise<SecretRecord | undefined> {
    try {
      return toRecord(await this.core.readNamespacedSecret({ name, namespace: this.namespace }));
    } catch (err) {
      if (apiFailure(err).code === 404) return undefined;
      throw new Error(`get Secret ${this.namespace}/${name}: ${apiFailure(err).message}`, { cause: err });
    }
  }

  async create(name: string, type: SecretType, content: SecretContent): Promise<WriteOutcome> {
    const body: V1Secret = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name, namespace: this.namespace, labels: { ...SECRET_LABELS }, annotations: { ...content.annotations } },
      type,
      data: encode(content.data),
    };
    try {
      return { outcome: "written", secret: toRecord(await this.core.createNamespacedSecret({ namespace: this.namespace, body })) };
    } catch (err) {
      const s = apiFailure(err);
      if (s.code === 409) return { outcome: "conflict", message: s.message };
      if (s.code === 404 && s.kind === "namespaces") return { outcome: "namespace-missing", message: s.message };
      throw new Error(`create Secret ${this.namespace}/${name}: ${s.message}`, { cause: err });
    }
  }

  async update(current: SecretRecord, content: SecretContent): Promise<WriteOutcome> {
    // A replace (PUT, the RBAC verb `update`) of the object as stored, carrying the
    // resourceVersion we decided on: the API server refuses it with 409 if the Secret changed
    // since. Starting from a fresh read keeps every field we do not manage (labels, owner
    // references, other annotations) as it is.
    let stored: V1Secret;
    try {
      stored = await this.core.readNamespacedSecret({ name: current.name, namespace: this.namespace });
    } catch (err) {
      const s = apiFailure(err);
      if (s.code === 404) return { outcome: "conflict", message: s.message };
      throw new Error(`get Secret ${this.namespace}/${current.name}: ${s.message}`, { cause: err });
    }
    if (stored.metadata?.resourceVersion !== current.resourceVersion) {
      return { outcome: "conflict", message: `Secret ${this.namespace}/${current.name} changed since it was read` };
    }
    const body: V1Secret = {
      ...stored,
      metadata: { ...stored.metadata, annotations: { ...stored.metadata?.annotations, ...content.annotations } },
      data: encode(content.data),
    };
    try {
      const replaced = await this.core.replaceNamespacedSecret({ name: current.name, namespace: this.namespace, body });
      return { outcome: "written", secret: toRecord(replaced) };
    } catch (err) {
      const s = apiFailure(err);
      if (s.code === 409 || s.code === 404) return { outcome: "conflict", message: s.message };
      throw new Error(`update Secret ${this.namespace}/${current.name}: ${s.message}`, { cause: err });
    }
  }
}

/** A Secret from the API as a record (data decoded from base64 to text). */
export function toRecord(secret: V1Secret): SecretRecord {
  const data: Record<string, string> = {};
  for (const [k, v] of Object.entries(secret.data ?? {})) data[k] = Buffer.from(v, "base64").toString("utf8");
  return {
    name: secret.metadata?.name ?? "",
    namespace: secret.metadata?.namespace ?? "",
    resourceVersion: secret.metadata?.resourceVersion ?? "",
    uid: secret.metadata?.uid,
    data,
    annotations: { ...secret.metadata?.annotations },
  };
}

function encode(data: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(data)) out[k] = Buffer.from(v, "utf8").toString("base64");
  return out;
}
