/**
 * The self-managed certificate authority of cluster mode, run by every replica:
 *
 * - converges the CA and serving Secrets (certs/converge.ts, decisions in certs/rotation.ts);
 * - serves the Secret's certificate, hot-reloaded when it changes (certs/serving-reloader.ts);
 * - keeps the webhook configurations' caBundles equal to the trusted CAs (certs/ca-bundle-sync.ts);
 * - reports: a log line with fingerprints and a Kubernetes Event on the Secret for every
 *   change, metrics, and /readyz while no valid certificate is served.
 *
 * Triggers: watches on both Secrets (another replica's rotation reaches this one within
 * milliseconds) and on the webhook configurations, a timer at the next due time (renewal,
 * end of a rollover grace period), and a periodic re-check every `checkIntervalSeconds` in
 * case an event was missed. Reconciles never overlap; triggers during one coalesce into one
 * more round. No leader election: every write carries a resourceVersion precondition, so
 * replicas that decide the same thing at once converge on whichever write won.
 */
import { hostname } from "node:os";
import { CoreV1Api, type KubeConfig, type V1Secret } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { CertificateSettings } from "../config/settings.js";
import { CoalescingRunner } from "../kube/coalescing-runner.js";
import { ResilientInformer } from "../kube/informer.js";
import { serviceDNSNames } from "./authority.js";
import { CABundleSync, type BundleTarget } from "./ca-bundle-sync.js";
import { desiredBundle } from "./ca-bundle.js";
import { convergeCertificates, readSnapshot, trustTracker, type ConvergeOptions, type ConvergeResult, type PerformedStep } from "./converge.js";
import { kubeEventRecorder, type EventRecorder } from "../kube/events.js";
import type { CertificateMetrics } from "./metrics.js";
import type { RotationPlan } from "./rotation.js";
import { bundlePem, certificateLabel, type ParsedCertificate } from "./secret-layout.js";
import { KubeSecretStore, type SecretStore } from "./secret-store.js";
import type { ServingReloader } from "./serving-reloader.js";

export interface CertificateManagerOptions {
  kubeConfig: KubeConfig;
  /** Where the Secrets live: the injector's namespace. */
  namespace: string;
  settings: CertificateSettings;
  clusterDomain: string;
  log: Logger;
  metrics: CertificateMetrics;
  reloader: ServingReloader;
  /** Called with the trusted CA bundle (PEM) whenever it changes, before readiness reflects it. */
  onTrusted?: ((pem: string) => Promise<void>) | undefined;
  /** Injected in tests; default the API server. */
  store?: SecretStore | undefined;
  events?: EventRecorder | undefined;
  now?: (() => Date) | undefined;
}

/** Never reconcile again sooner than this after a due time passed (guards against a hot loop). */
const MIN_DELAY_MS = 50;
const FIRST_RETRY_MS = 1000;

/**
 * The cluster-mode certificate loop (see the module comment). `start` resolves after the first
 * convergence round, whether or not it produced a usable certificate (a missing namespace is
 * retried, and `readiness` says why meanwhile); `stop` ends the watches and timers and waits
 * for a round in progress. Writes go through the Secret store with preconditions only.
 */
export class CertificateManager {
  private readonly log: Logger;
  private readonly bundles: CABundleSync;
  private readonly secretInformers: ResilientInformer<V1Secret>[];
  private readonly store: SecretStore;
  private readonly events: EventRecorder;
  private readonly now: () => Date;
  private readonly converge: ConvergeOptions;
  private readonly runner: CoalescingRunner;
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  /** Why no valid certificate from the Secret is served, or the last error. */
  private problem: string | undefined = "certificates not reconciled yet";
  private servingFromSecret = false;
  private lastPlan: RotationPlan | undefined;
  private lastPlanMessage = "";
  private lastTrusted = "";
  private lastLiveCheck = 0;

  constructor(private readonly opts: CertificateManagerOptions) {
    const { settings, namespace, kubeConfig } = opts;
    this.log = opts.log.child({ component: "certificates" });
    this.now = opts.now ?? (() => new Date());
    this.runner = new CoalescingRunner({
      run: () => this.reconcile(),
      // A bug or an unexpected failure (e.g. writing --ca-out): report and retry, never crash the webhook.
      onError: (err) => {
        this.opts.metrics.errors.inc({ operation: "reconcile" });
        this.fail(`reconcile failed: ${messageOf(err)}`, err);
      },
      canRun: () => !this.stopped,
    });
    this.store = opts.store ?? new KubeSecretStore(kubeConfig, namespace);
    // In a pod the hostname is the pod name: which replica did it.
    this.events = opts.events ?? kubeEventRecorder(kubeConfig, this.log, hostname());
    const targets: BundleTarget[] = [];
    if (settings.mutatingWebhookConfiguration) targets.push({ kind: "MutatingWebhookConfiguration", name: settings.mutatingWebhookConfiguration });
    if (settings.validatingWebhookConfiguration) targets.push({ kind: "ValidatingWebhookConfiguration", name: settings.validatingWebhookConfiguration });
    this.bundles = new CABundleSync({
      kubeConfig,
      targets,
      log: this.log,
      metrics: opts.metrics,
      // Only a rollover waits on the caBundles; otherwise their events need no Secret reads.
      onObserved: () => {
        if (this.lastPlan?.phase === "introducing") this.requestReconcile();
      },
      refreshDesired: async () => {
        const snap = await readSnapshot(this.converge);
        if (snap.trusted.length > 0) this.bundles.setDesired(desiredBundle(snap.trusted));
      },
    });
    const core = kubeConfig.makeApiClient(CoreV1Api);
    this.secretInformers = [settings.secretName, settings.caSecretName].map((name) => {
      const fieldSelector = `metadata.name=${name}`;
      const informer = new ResilientInformer<V1Secret>({
        kubeConfig,
        path: `/api/v1/namespaces/${namespace}/secrets`,
        list: () => core.listNamespacedSecret({ namespace, fieldSelector }),
        fieldSelector,
        log: this.log,
        name: `secret ${namespace}/${name}`,
      });
      for (const event of ["add", "update", "delete"] as const) informer.on(event, () => this.requestReconcile());
      return informer;
    });
    const serviceNames = serviceDNSNames(settings.serviceName, namespace, opts.clusterDomain);
    const dnsNames = [...serviceNames, ...settings.extraDNSNames.filter((n) => !serviceNames.includes(n))];
    this.converge = {
      store: this.store,
      secretName: settings.secretName,
      caSecretName: settings.caSecretName,
      policy: { renewFraction: settings.renewFraction, rolloverGraceMs: settings.rolloverGraceSeconds * 1000, dnsNames, ipAddresses: settings.extraIPs },
      caValidityDays: settings.caValidityDays,
      validityDays: settings.validityDays,
      // <svc>.<ns>.svc is the name the API server dials.
      servingCommonName: dnsNames[2] ?? dnsNames[0] ?? settings.serviceName,
      now: this.now,
      webhookBundles: () => this.bundles.observed(),
      trustSince: trustTracker(),
    };
  }

  /**
   * Starts the watches and reconciles once. Resolves whether or not that produced a
   * certificate (a missing namespace or an unreachable API server is retried in the
   * background and reported by {@link readiness}); never rejects.
   */
  async start(): Promise<void> {
    this.stopped = false;
    await Promise.all([this.bundles.start(), ...this.secretInformers.map((i) => i.start())]);
    this.requestReconcile();
    await this.runner.idle();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.runner.idle();
    await Promise.all([this.bundles.stop(), ...this.secretInformers.map((i) => i.stop())]);
    this.opts.reloader.detach();
  }

  /** null when a valid certificate from the Secret is served; else why not. */
  readiness(): string | null {
    const current = this.opts.reloader.current;
    if (!this.servingFromSecret || !current) return `certificates: ${this.problem ?? "no serving certificate yet"}`;
    if (this.now().getTime() >= current.notAfter.getTime())
      return `certificates: the serving certificate expired at ${current.notAfter.toISOString()}${this.problem ? ` (${this.problem})` : ""}`;
    return null;
  }

  /** Reconciles soon; triggers during a reconcile coalesce into one more round. */
  requestReconcile(): void {
    this.runner.trigger("reconcile");
  }

  private async reconcile(): Promise<void> {
    const started = this.now().getTime();
    const checkMs = this.opts.settings.checkIntervalSeconds * 1000;
    let result: ConvergeResult;
    try {
      result = await convergeCertificates(this.converge);
    } catch (err) {
      this.opts.metrics.errors.inc({ operation: "secrets" });
      this.fail(`cannot read or write the certificate Secrets in namespace ${this.opts.namespace}: ${messageOf(err)}`, err);
      return;
    }
    for (const step of result.performed) await this.report(step);
    if (!result.ok) {
      this.opts.metrics.errors.inc({ operation: result.reason });
      const message =
        result.reason === "namespace-missing"
          ? `namespace ${JSON.stringify(this.opts.namespace)} not found (${result.message}): create it (the manifests do, or kubectl create namespace ${this.opts.namespace}); retrying`
          : result.message;
      if (result.snapshot) await this.apply(result.snapshot);
      this.fail(message, undefined);
      return;
    }
    if (this.failures > 0) this.log.info({ failures: this.failures }, "certificates: Secrets reachable again");
    this.failures = 0;
    await this.apply(result);
    // The periodic re-check, in case any events were missed: caBundles read live.
    if (started - this.lastLiveCheck >= checkMs) {
      this.lastLiveCheck = started;
      await this.bundles.resync();
    }
    const step = result.plan.step;
    const until = step.action === "wait" || step.action === "idle" ? step.until : undefined;
    this.schedule(until ? until.getTime() - this.now().getTime() : checkMs);
  }

  /** Serves what the Secrets hold and publishes the trusted set. */
  private async apply(snap: Pick<ConvergeResult & { ok: true }, "ca" | "serving" | "trusted" | "plan" | "servingSecret">): Promise<void> {
    this.lastPlan = snap.plan;
    const trusted = snap.trusted;
    if (trusted.length > 0) {
      this.bundles.setDesired(desiredBundle(trusted));
      const pem = bundlePem(trusted);
      if (pem !== this.lastTrusted) {
        this.lastTrusted = pem;
        this.log.info({ trusted: trusted.map(describeCA) }, `trusted CAs: ${trusted.map(certificateLabel).join(", ")}`);
        await this.opts.onTrusted?.(pem);
      }
    }
    const signing = snap.ca?.active;
    if (signing) this.opts.metrics.notAfter.set({ cert: "ca" }, Math.floor(signing.notAfter.getTime() / 1000));
    const cert = snap.serving?.cert;
    if (cert && this.now().getTime() < cert.notAfter.getTime()) {
      this.opts.reloader.load(cert, `Secret ${this.opts.namespace}/${this.opts.settings.secretName}`);
      this.servingFromSecret = true;
      this.problem = undefined;
    } else {
      this.problem = snap.serving
        ? `Secret ${this.opts.namespace}/${this.opts.settings.secretName} holds no valid certificate (${snap.serving.problems.join("; ") || "expired"})`
        : `Secret ${this.opts.namespace}/${this.opts.settings.secretName} not created yet`;
    }
    for (const p of [...(snap.ca?.problems ?? []), ...(snap.serving?.problems ?? [])]) this.log.debug({ problem: p }, "unusable certificate data in a Secret");
    const step = snap.plan.step;
    const message = `${snap.plan.phase}: ${step.action} (${step.reason}) ${step.detail}`;
    if (message !== this.lastPlanMessage) {
      this.lastPlanMessage = message;
      if (step.action === "wait") this.log.info({ phase: snap.plan.phase, reason: step.reason, until: step.until?.toISOString() ?? null }, `certificate rollover: ${step.detail}`);
      else this.log.debug({ phase: snap.plan.phase, reason: step.reason }, `certificates ${step.action}: ${step.detail}`);
    }
  }

  /** Logs, counts and records an Event for a write this replica made. */
  private async report(p: PerformedStep): Promise<void> {
    const { step } = p;
    const fields = {
      action: step.action,
      reason: step.reason,
      secret: `${p.secret.namespace}/${p.secret.name}`,
      fingerprintSha256: p.after ?? null,
      previousFingerprintSha256: p.before ?? null,
    };
    const was = p.before && p.before !== p.after ? ` (was SHA-256 ${p.before})` : "";
    let event: { reason: string; message: string };
    switch (step.action) {
      case "create-ca":
        if (p.before) this.opts.metrics.rotations.inc({ cert: "ca" });
        event = { reason: "CACreated", message: `Created CA SHA-256 ${p.after}${was}: ${step.detail}` };
        break;
      case "introduce-ca":
        this.opts.metrics.rotations.inc({ cert: "ca" });
        event = {
          reason: "CARolloverStarted",
          message: `CA rollover started (${step.reason}): new CA SHA-256 ${p.after} is trusted next to the current one and will sign once every caBundle trusts it`,
        };
        break;
      case "promote-ca":
        event = {
          reason: "CAPromoted",
          message: `New CA SHA-256 ${p.after} now signs${was}; the previous CA stays trusted until every replica serves a certificate of the new one`,
        };
        break;
      case "retire-ca":
        event = { reason: "CARetired", message: `Previous CA(s) no longer trusted: ${step.detail}; CA SHA-256 ${p.after} only` };
        break;
      case "issue-serving":
        if (p.before) this.opts.metrics.rotations.inc({ cert: "serving" });
        event = {
          reason: p.before ? "ServingCertificateRotated" : "ServingCertificateIssued",
          message: `Serving certificate SHA-256 ${p.after} issued (${step.reason}: ${step.detail})${was}`,
        };
        break;
      case "sync-serving-ca":
        event = { reason: "TrustedCAsUpdated", message: `ca.crt updated: ${step.detail}` };
        break;
    }
    this.log.info(fields, event.message);
    const { namespace, name, uid } = p.secret;
    await this.events.record({ kind: "Secret", apiVersion: "v1", namespace, name, uid }, "Normal", event.reason, event.message);
  }

  private fail(message: string, err: unknown): void {
    this.failures++;
    if (message !== this.problem || this.failures === 1) this.log.warn(err ? { err } : {}, `certificates: ${message}`);
    this.problem = message;
    const checkMs = this.opts.settings.checkIntervalSeconds * 1000;
    this.schedule(Math.min(FIRST_RETRY_MS * 2 ** Math.min(this.failures - 1, 10), checkMs));
  }

  private schedule(delayMs: number): void {
    if (this.stopped) return;
    if (this.timer) clearTimeout(this.timer);
    const checkMs = this.opts.settings.checkIntervalSeconds * 1000;
    this.timer = setTimeout(
      () => {
        this.timer = undefined;
        this.requestReconcile();
      },
      Math.max(MIN_DELAY_MS, Math.min(delayMs, checkMs)),
    );
    this.timer.unref();
  }
}

function describeCA(c: ParsedCertificate): { subject: string; fingerprintSha256: string; notAfter: string } {
  return { subject: c.description.subject, fingerprintSha256: c.fingerprint, notAfter: c.notAfter.toISOString() };
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}
