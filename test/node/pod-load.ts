/**
 * Continuous pod creation for the real-node proofs: workers create pods in a namespace
 * until stopped, and every outcome (created and injected or not, or the API server's
 * refusal) is kept. The pods ask for a node that does not exist, so they stay Pending:
 * the load is on admission (the webhook), not on the 2-core node starting containers.
 */
import { setTimeout as delay } from "node:timers/promises";
import type { CoreV1Api } from "@kubernetes/client-node";
import { INJECTED_ANNOTATION } from "../../config/names.js";
import { createPod, describeApiError, podManifest } from "../e2e/kube.js";

/** One pod creation attempt. */
export interface CreationOutcome {
  name: string;
  at: number;
  ms: number;
  injected: boolean;
  /** The API server's message when the creation failed. */
  error?: string;
}

/** A running load; {@link PodLoad.stop} ends it and returns every outcome. */
export interface PodLoad {
  readonly outcomes: CreationOutcome[];
  stop(): Promise<CreationOutcome[]>;
}

/** Options of {@link startPodLoad}. */
export interface PodLoadOptions {
  namespace: string;
  image: string;
  /** Parallel creators (default 2). */
  workers?: number;
  /** Pause between two creations of one worker (default 100 ms: ~20 pods/s with 2 workers). */
  pauseMs?: number;
  /** Hard bound on the pods created (default 2000). */
  maxPods?: number;
}

/** Starts creating pods; see the module comment. */
export function startPodLoad(core: CoreV1Api, options: PodLoadOptions): PodLoad {
  const outcomes: CreationOutcome[] = [];
  const maxPods = options.maxPods ?? 2_000;
  let stopped = false;
  let counter = 0;
  // Unique per load: two loads in one namespace must not collide on names (409s).
  const prefix = `load-${Date.now().toString(36)}`;
  const worker = async (w: number) => {
    while (!stopped && counter < maxPods) {
      const name = `${prefix}-${w}-${counter++}`;
      const at = Date.now();
      const pod = podManifest(name, {
        spec: {
          containers: [{ name: "probe", image: options.image, imagePullPolicy: "Never", args: ["sleep"] }],
          nodeSelector: { "pod-dns-injector.test/unschedulable": "true" },
        },
      });
      try {
        const created = await createPod(core, options.namespace, pod);
        const injected = created.pod.spec?.dnsPolicy === "None" && created.pod.metadata?.annotations?.[INJECTED_ANNOTATION] !== undefined;
        outcomes.push({ name, at, ms: Date.now() - at, injected });
      } catch (err) {
        outcomes.push({ name, at, ms: Date.now() - at, injected: false, error: describeApiError(err) });
      }
      await delay(options.pauseMs ?? 100);
    }
  };
  const running = Promise.all(Array.from({ length: options.workers ?? 2 }, (_, w) => worker(w)));
  return {
    outcomes,
    async stop() {
      stopped = true;
      await running;
      return outcomes;
    },
  };
}
