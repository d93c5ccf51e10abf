/**
 * Kubernetes Events about the certificates, on the Secret concerned, so that
 * `kubectl describe secret pod-dns-injector-tls` (and `kubectl get events`) tells when and
 * why a certificate changed. Best effort: an Event that cannot be written is logged, never
 * fails the rotation it reports.
 */
import { hostname } from "node:os";
import { CoreV1Api, type KubeConfig, type CoreV1Event } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { PRODUCT } from "../config/names.js";
import type { SecretRecord } from "./secret-layout.js";

export interface EventRecorder {
  record(secret: SecretRecord, event: { reason: string; message: string; type?: "Normal" | "Warning" }): Promise<void>;
}

/** The API server caps an Event message at 1 KiB; longer ones are refused, not truncated. */
const MAX_MESSAGE = 1024;

export class KubeEventRecorder implements EventRecorder {
  private readonly core: CoreV1Api;
  /** In a pod, the hostname is the pod name: which replica did it. */
  private readonly instance = hostname();

  constructor(
    kubeConfig: KubeConfig,
    private readonly log: Logger,
  ) {
    this.core = kubeConfig.makeApiClient(CoreV1Api);
  }

  async record(secret: SecretRecord, event: { reason: string; message: string; type?: "Normal" | "Warning" }): Promise<void> {
    const now = new Date();
    const body: CoreV1Event = {
      metadata: { generateName: `${secret.name}.`, namespace: secret.namespace },
      involvedObject: { apiVersion: "v1", kind: "Secret", name: secret.name, namespace: secret.namespace, uid: secret.uid, resourceVersion: secret.resourceVersion },
      reason: event.reason,
      message: event.message.length > MAX_MESSAGE ? `${event.message.slice(0, MAX_MESSAGE - 1)}…` : event.message,
      type: event.type ?? "Normal",
      source: { component: PRODUCT, host: this.instance },
      reportingComponent: PRODUCT,
      reportingInstance: this.instance,
      firstTimestamp: now,
      lastTimestamp: now,
      count: 1,
    };
    try {
      await this.core.createNamespacedEvent({ namespace: secret.namespace, body });
    } catch (err) {
      this.log.warn({ err, reason: event.reason, secret: `${secret.namespace}/${secret.name}` }, "cannot record a Kubernetes Event about the certificates");
    }
  }
}
