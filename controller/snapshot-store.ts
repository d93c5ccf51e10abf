/**
 * Keeps the last good copy of the DNS Service (and a learned fixed IP) in a ConfigMap in the
 * injector's namespace, so a controller that restarts can still repair a Service that was
 * deleted while it was down.
 */
import { CoreV1Api, type KubeConfig, type V1ConfigMap } from "@kubernetes/client-node";
import { APP_COMPONENT_LABEL, APP_NAME_LABEL, PRODUCT, SNAPSHOT_CONFIGMAP } from "../config/names.js";
import { apiFailure, isConflict, isNotFound } from "../kube/api-errors.js";
import type { ServiceSnapshot } from "./service-snapshot.js";

export interface StoredState {
  snapshot: ServiceSnapshot | undefined;
  learnedIP: string | undefined;
}

/**
 * The last-good-copy ConfigMap of a DNS Service: `pod-dns-injector-dns-service` for the one
 * `dnsService` names (as before several were possible, so an upgrade keeps it), and
 * `pod-dns-injector-dns-service.<namespace>.<name>` for the other ones of `dnsServices`.
 */
export function snapshotConfigMapName(service: { namespace: string; name: string }, primary: { namespace: string; name: string }): string {
  return service.namespace === primary.namespace && service.name === primary.name ? SNAPSHOT_CONFIGMAP : `${SNAPSHOT_CONFIGMAP}.${service.namespace}.${service.name}`;
}

export class SnapshotStore {
  private readonly core: CoreV1Api;

  constructor(
    kubeConfig: KubeConfig,
    private readonly namespace: string,
    private readonly name = SNAPSHOT_CONFIGMAP,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  get ref(): string {
    return `${this.namespace}/${this.name}`;
  }

  async read(): Promise<StoredState> {
    let cm: V1ConfigMap;
    try {
      cm = await this.core.readNamespacedConfigMap({ namespace: this.namespace, name: this.name });
    } catch (err) {
      if (isNotFound(err)) return { snapshot: undefined, learnedIP: undefined };
      throw new Error(`get ConfigMap ${this.ref}: ${apiFailure(err).message}`, { cause: err });
    }
    return parseStored(cm);
  }

  /** Create or replace (with the read resourceVersion, so concurrent writers cannot clobber). */
  async write(state: StoredState): Promise<void> {
    const data: Record<string, string> = {};
    if (state.snapshot) data["service.json"] = `${JSON.stringify(state.snapshot, null, 2)}\n`;
    if (state.learnedIP) data.clusterIP = state.learnedIP;
    for (let attempt = 0; attempt < 3; attempt++) {
      let current: V1ConfigMap | undefined;
      try {
        current = await this.core.readNamespacedConfigMap({ namespace: this.namespace, name: this.name });
      } catch (err) {
        if (!isNotFound(err)) throw new Error(`get ConfigMap ${this.ref}: ${apiFailure(err).message}`, { cause: err });
      }
      const body: V1ConfigMap = {
        apiVersion: "v1",
        kind: "ConfigMap",
        metadata: {
          name: this.name,
          namespace: this.namespace,
          labels: { [APP_NAME_LABEL]: PRODUCT, [APP_COMPONENT_LABEL]: "guardian" },
          ...(current?.metadata?.resourceVersion ? { resourceVersion: current.metadata.resourceVersion } : {}),
        },
        data,
      };
      try {
        if (current) await this.core.replaceNamespacedConfigMap({ namespace: this.namespace, name: this.name, body });
        else await this.core.createNamespacedConfigMap({ namespace: this.namespace, body });
        return;
      } catch (err) {
        if (isConflict(err)) continue;
        throw new Error(`write ConfigMap ${this.ref}: ${apiFailure(err).message}`, { cause: err });
      }
    }
    throw new Error(`write ConfigMap ${this.ref}: still conflicting after 3 attempts`);
  }
}

/** Reads the last-good-copy ConfigMap; a missing or hand-broken copy reads as no snapshot. */
export function parseStored(cm: V1ConfigMap): StoredState {
  let snapshot: ServiceSnapshot | undefined;
  const text = cm.data?.["service.json"];
  if (text) {
    try {
      const parsed = JSON.parse(text) as ServiceSnapshot;
      if (parsed && typeof parsed.name === "string" && Array.isArray(parsed.ports)) snapshot = parsed;
    } catch {
      snapshot = undefined; // a hand-edited, broken copy is as good as none
    }
  }
  return { snapshot, learnedIP: cm.data?.clusterIP || undefined };
}
