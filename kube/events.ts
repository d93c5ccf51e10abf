/**
 * Kubernetes Events about the objects we act on (core/v1, what `kubectl describe` shows):
 * the guardian's about the DNS Service, the certificate manager's about its Secrets. Best
 * effort: an Event that cannot be written is logged and never fails the action it reports.
 */
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { PRODUCT } from "../config/names.js";
import { apiFailure } from "./api-errors.js";
import { microTime } from "./micro-time.js";

export interface EventTarget {
  kind: string;
  apiVersion: string;
  namespace: string;
  name: string;
  uid?: string | undefined;
}

export interface EventRecorder {
  record(target: EventTarget, type: "Normal" | "Warning", reason: string, message: string): Promise<void>;
}

/** The API server refuses (does not truncate) an Event message over 1 KiB. */
const MAX_MESSAGE = 1024;

/** `instance` names the replica in `reportingInstance` (the guardian's Lease identity, or the pod name). */
export function kubeEventRecorder(kubeConfig: KubeConfig, log: Logger, instance: string): EventRecorder {
  const core = kubeConfig.makeApiClient(CoreV1Api);
  return {
    async record(target, type, reason, message) {
      const now = new Date();
      try {
        await core.createNamespacedEvent({
          namespace: target.namespace,
          body: {
            apiVersion: "v1",
            kind: "Event",
            metadata: { generateName: `${target.name}.`, namespace: target.namespace },
            involvedObject: { kind: target.kind, apiVersion: target.apiVersion, namespace: target.namespace, name: target.name, ...(target.uid ? { uid: target.uid } : {}) },
            reason,
            message: message.length > MAX_MESSAGE ? `${message.slice(0, MAX_MESSAGE - 1)}…` : message,
            type,
            source: { component: PRODUCT },
            reportingComponent: PRODUCT,
            reportingInstance: instance.slice(0, 128),
            action: reason,
            firstTimestamp: now,
            lastTimestamp: now,
            eventTime: microTime(now),
            count: 1,
          },
        });
      } catch (err) {
        log.warn({ reason, object: `${target.kind} ${target.namespace}/${target.name}`, error: apiFailure(err).message }, "could not record an Event");
      }
    },
  };
}
