/**
 * Keeps `webhooks[*].clientConfig.caBundle` of the named Mutating/ValidatingWebhookConfiguration
 * equal to the trusted CA set. Each configuration is watched on its own (a field selector on
 * metadata.name, so no other configuration is ever listed, let alone touched): a
 * `kubectl apply` that resets caBundle arrives as a watch event and is repaired within
 * milliseconds. Writes are JSON Patches conditioned on the resourceVersion read
 * (certs/ca-bundle.ts); a conflict re-reads and re-decides. A configuration that does not
 * exist is not an error: it is logged once and filled in when it appears (watch event or the
 * periodic {@link CABundleSync.resync}).
 */
import { AdmissionregistrationV1Api, PatchStrategy, setHeaderOptions, type KubeConfig, type KubernetesObject } from "@kubernetes/client-node";
import type { Logger } from "pino";
import { isNotFound } from "../kube/api-errors.js";
import { ResilientInformer } from "../kube/informer.js";
import { observeBundles, planCABundlePatch, type DesiredBundle, type WebhookConfigurationKind, type WebhookConfigurationLike } from "./ca-bundle.js";
import type { CertificateMetrics } from "./metrics.js";
import type { ObservedBundle } from "./rotation.js";

export interface BundleTarget {
  kind: WebhookConfigurationKind;
  name: string;
}

type Configuration = KubernetesObject & WebhookConfigurationLike;

/** Bound on conflict retries of one configuration in one sync: each retry re-reads first. */
const MAX_ATTEMPTS = 4;
/** After an error other than a conflict, try again this much later. */
const RETRY_AFTER_ERROR_MS = 1000;

/** The caBundle writer for a set of webhook configurations (see the module comment). */
export class CABundleSync {
  private readonly api: AdmissionregistrationV1Api;
  private readonly informers: Map<string, ResilientInformer<Configuration>> = new Map();
  private desired: DesiredBundle | undefined;
  /** Sync rounds run one after another on this chain; syncOne never rejects. */
  private queue: Promise<void> = Promise.resolve();
  private pending = false;
  private pendingLive = false;
  private stopped = true;
  private retryTimer: NodeJS.Timeout | undefined;
  /** Targets whose absence was logged, so it is logged once, not on every sync. */
  private readonly reportedMissing = new Set<string>();

  constructor(
    private readonly deps: {
      kubeConfig: KubeConfig;
      targets: BundleTarget[];
      log: Logger;
      metrics: CertificateMetrics;
      /** Called whenever an observed caBundle may have changed (the rollover waits on them). */
      onObserved?: (() => void) | undefined;
      /**
       * Re-reads the trusted set from its source (calling {@link CABundleSync.setDesired})
       * before a write. Replicas learn of a new CA at slightly different moments: without this,
       * a replica that has not seen it yet would "repair" a caBundle another replica just
       * updated back to the old set, and the two would ping-pong until it caught up.
       */
      refreshDesired?: (() => Promise<void>) | undefined;
    },
  ) {
    this.api = deps.kubeConfig.makeApiClient(AdmissionregistrationV1Api);
    for (const target of deps.targets) {
      const fieldSelector = `metadata.name=${target.name}`;
      const mutating = target.kind === "MutatingWebhookConfiguration";
      const informer = new ResilientInformer<Configuration>({
        kubeConfig: deps.kubeConfig,
        path: `/apis/admissionregistration.k8s.io/v1/${mutating ? "mutatingwebhookconfigurations" : "validatingwebhookconfigurations"}`,
        list: () => (mutating ? this.api.listMutatingWebhookConfiguration({ fieldSelector }) : this.api.listValidatingWebhookConfiguration({ fieldSelector })),
        fieldSelector,
        log: deps.log,
        name: `${target.kind} ${target.name}`,
      });
      const changed = () => {
        this.requestSync();
        deps.onObserved?.();
      };
      informer.on("add", changed);
      informer.on("update", changed);
      informer.on("delete", () => deps.onObserved?.());
      this.informers.set(key(target), informer);
    }
  }

  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all([...this.informers.values()].map((i) => i.start()));
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    await Promise.all([...this.informers.values()].map((i) => i.stop()));
    await this.queue;
  }

  /** Sets the trusted CA set; a sync follows when it differs from the previous one. */
  setDesired(desired: DesiredBundle): void {
    if (this.desired?.caBundle === desired.caBundle) return;
    this.desired = desired;
    this.requestSync();
  }

  /**
   * Every managed webhook's caBundle as the watches last saw it; undefined until every watch
   * has listed once (a rollover must not proceed on a configuration it has not seen).
   */
  observed(): ObservedBundle[] | undefined {
    const out: ObservedBundle[] = [];
    for (const target of this.deps.targets) {
      const informer = this.informers.get(key(target))!;
      if (!informer.hasSynced()) return undefined;
      const config = informer.cache.get(target.name);
      if (config) out.push(...observeBundles(target.kind, config));
    }
    return out;
  }

  /**
   * Syncs soon, from the watch caches (`live`: from fresh reads). Requests made before the
   * queued round starts join it; one made during a round queues another.
   */
  requestSync(live = false): void {
    if (this.stopped || !this.desired) return;
    this.pendingLive ||= live;
    if (this.pending) return;
    this.pending = true;
    this.queue = this.queue.then(async () => {
      this.pending = false;
      const fresh = this.pendingLive;
      this.pendingLive = false;
      for (const target of this.deps.targets) {
        try {
          await this.syncOne(target, fresh);
        } catch (err) {
          this.failed(`${target.kind} ${target.name}`, "patch", err);
        }
      }
    });
  }

  /**
   * The periodic re-check, in case a watch event was missed: reads every configuration live
   * and repairs it. Resolves when done; never rejects (failures are logged and counted).
   */
  async resync(): Promise<void> {
    this.requestSync(true);
    await this.queue;
  }

  /** One configuration: read (cache, or live), decide, patch; re-read on conflict. */
  private async syncOne(target: BundleTarget, live: boolean): Promise<void> {
    const name = `${target.kind} ${target.name}`;
    let refreshed = false;
    for (let attempt = 1; attempt <= MAX_ATTEMPTS && !this.stopped; attempt++) {
      const desired = this.desired;
      if (!desired) return;
      let config: Configuration | undefined;
      try {
        config = live || attempt > 1 ? await this.read(target) : this.informers.get(key(target))!.cache.get(target.name);
      } catch (err) {
        this.failed(name, "read", err);
        return;
      }
      if (!config) {
        if (!this.reportedMissing.has(key(target))) {
          this.reportedMissing.add(key(target));
          this.deps.log.info({ configuration: name }, `${name} not found; its caBundle will be set when it is created`);
        }
        return;
      }
      this.reportedMissing.delete(key(target));
      const patch = planCABundlePatch(config, desired);
      if (!patch) return;
      if (!refreshed && this.deps.refreshDesired) {
        // About to write: make sure our trusted set is not older than another replica's.
        refreshed = true;
        try {
          await this.deps.refreshDesired();
        } catch (err) {
          this.deps.log.debug({ err }, "cannot re-read the trusted CAs before a caBundle write; using the last known set");
        }
        if (this.desired !== desired) continue;
      }
      try {
        await this.patch(target, patch.ops);
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        if (code === 409) continue; // changed since we read it: read again and decide again
        if (code === 404) continue; // deleted meanwhile: the re-read reports it missing
        this.failed(name, "patch", err);
        return;
      }
      this.deps.metrics.caBundleRepairs.inc({ kind: target.kind, name: target.name });
      this.deps.log.info(
        { configuration: name, webhooks: patch.webhooks, trustedFingerprints: desired.fingerprints, resourceVersion: config.metadata?.resourceVersion },
        `caBundle of ${name} set to the ${desired.fingerprints.length} trusted CA(s) (webhooks: ${patch.webhooks.join(", ")})`,
      );
      return;
    }
    if (!this.stopped) this.failed(name, "patch", new Error(`still conflicting after ${MAX_ATTEMPTS} attempts`));
  }

  private async read(target: BundleTarget): Promise<Configuration | undefined> {
    try {
      return target.kind === "MutatingWebhookConfiguration"
        ? await this.api.readMutatingWebhookConfiguration({ name: target.name })
        : await this.api.readValidatingWebhookConfiguration({ name: target.name });
    } catch (err) {
      if (isNotFound(err)) return undefined;
      throw new Error(`get ${target.kind} ${target.name}`, { cause: err });
    }
  }

  private async patch(target: BundleTarget, ops: object[]): Promise<void> {
    const options = setHeaderOptions("Content-Type", PatchStrategy.JsonPatch);
    if (target.kind === "MutatingWebhookConfiguration") await this.api.patchMutatingWebhookConfiguration({ name: target.name, body: ops }, options);
    else await this.api.patchValidatingWebhookConfiguration({ name: target.name, body: ops }, options);
  }

  private failed(name: string, operation: "read" | "patch", err: unknown): void {
    this.deps.metrics.errors.inc({ operation: `ca-bundle-${operation}` });
    this.deps.log.warn({ configuration: name, err }, `cannot ${operation} ${name} to sync its caBundle; retrying in ${RETRY_AFTER_ERROR_MS} ms`);
    if (this.stopped || this.retryTimer) return;
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      this.requestSync();
    }, RETRY_AFTER_ERROR_MS);
    this.retryTimer.unref();
  }
}

function key(target: BundleTarget): string {
  return `${target.kind}/${target.name}`;
}
