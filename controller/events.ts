/** Kubernetes Events about the objects we act on (core/v1, what `kubectl describe` shows). */
import { randomBytes } from "node:crypto";
import { CoreV1Api, type KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { PRODUCT } from "../config/names.js";
import { apiFailure } from "./api-errors.js";
import { microTime } from "./leader-election.js";

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

export function kubeEventRecorder(kubeConfig: KubeConfig, log: Logger, identity: string): EventRecorder {
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
            metadata: { name: `${target.name}.${randomBytes(8).toString("hex")}`, namespace: target.namespace },
            involvedObject: { kind: target.kind, apiVersion: target.apiVersion, namespace: target.namespace, name: target.name, uid: target.uid },
            reason,
            message: message.slice(0, 1024),
            type,
            source: { component: PRODUCT },
            reportingComponent: PRODUCT,
            reportingInstance: identity.slice(0, 128),
            action: reason,
            firstTimestamp: now,
            lastTimestamp: now,
            eventTime: microTime(now),
            count: 1,
          },
        });
      } catch (err) {
        // Events are best effort: failing to record one must not stop a repair.
        log.warn({ reason, error: apiFailure(err).message }, "could not record an Event");
      }
    },
  };
}
