/**
 * External mode: the serving certificate comes from files someone else renews, typically a
 * cert-manager `Certificate` whose Secret is mounted into the pod. The injector never
 * writes a Secret in this mode; it reloads the files when they change.
 *
 * Change detection polls the content (about every second) instead of using fs.watch: the
 * kubelet updates a mounted Secret by swapping a `..data` symlink, which inotify watches on
 * the files themselves do not report. A half-updated pair (new key, old certificate) is
 * detected by checking that the key belongs to the certificate, and skipped until the next
 * poll sees a consistent pair.
 *
 * caBundle: cert-manager's CA injector fills the webhook configurations' caBundle
 * (annotation `cert-manager.io/inject-ca-from: <namespace>/<certificate>`); the injector
 * does not, since its view of the mounted files lags the Secret by up to the kubelet's sync
 * period and two writers would disagree meanwhile. A `ca.crt` beside the certificate file
 * (cert-manager writes one into the Secret) is handed to `onCA`, for --ca-out.
 */
import { readFile } from "node:fs/promises";
import type { Logger } from "pino";
import type { CertificateMetrics } from "./metrics.js";
import { parseBundle, parseKeyPair } from "./secret-layout.js";
import type { ServingReloader } from "./serving-reloader.js";

export interface ExternalFilesOptions {
  certFile: string;
  keyFile: string;
  /** A CA bundle to publish (e.g. `ca.crt` beside the certificate); absent files are fine. */
  caFile?: string | undefined;
  reloader: ServingReloader;
  log: Logger;
  metrics: CertificateMetrics;
  /** Called with the CA bundle's PEM when it appears or changes. */
  onCA?: ((pem: string) => Promise<void> | void) | undefined;
  pollMs?: number | undefined;
  now?: (() => Date) | undefined;
}

/** Outcome of one look at the files. */
export type FilesCheck = { changed: boolean; problem?: undefined } | { changed: false; problem: string };

/** Polls the external certificate files and hands each consistent new pair to the reloader (see the module comment). */
export class ExternalCertificateFiles {
  private timer: NodeJS.Timeout | undefined;
  private stopped = true;
  private lastPair = "";
  private lastCA = "";
  private lastProblem: string | undefined;
  private polling: Promise<unknown> | undefined;

  constructor(private readonly opts: ExternalFilesOptions) {}

  /** Reads the files once; the first successful read is what the server starts with. */
  async check(): Promise<FilesCheck> {
    const { certFile, keyFile } = this.opts;
    let certPem: string;
    let keyPem: string;
    try {
      [certPem, keyPem] = await Promise.all([readFile(certFile, "utf8"), readFile(keyFile, "utf8")]);
    } catch (err) {
      return this.problem(`cannot read ${(err as NodeJS.ErrnoException).path ?? `${certFile} or ${keyFile}`}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    await this.checkCA();
    if (certPem + keyPem === this.lastPair) return { changed: false };
    const pair = parseKeyPair(certPem, keyPem);
    if (!pair.ok) return this.problem(`${certFile} and ${keyFile}: ${pair.problem}`);
    this.lastPair = certPem + keyPem;
    if (this.lastProblem) this.opts.log.info({ certFile, keyFile }, "certificate files usable again");
    this.lastProblem = undefined;
    return { changed: this.opts.reloader.load(pair.value, `files ${certFile}, ${keyFile}`) };
  }

  /** Polls until {@link stop}. */
  start(): void {
    this.stopped = false;
    const tick = () => {
      this.timer = setTimeout(() => {
        this.polling = this.check().finally(() => {
          if (!this.stopped) tick();
        });
      }, this.opts.pollMs ?? 1000);
      this.timer.unref();
    };
    tick();
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    await this.polling;
    this.opts.reloader.detach();
  }

  /** null while the served certificate is valid; files that cannot be read keep the last good one. */
  readiness(): string | null {
    const current = this.opts.reloader.current;
    if (!current) return `certificates: ${this.lastProblem ?? "certificate files not loaded yet"}`;
    const now = (this.opts.now ?? (() => new Date()))();
    if (now.getTime() >= current.notAfter.getTime()) {
      return `certificates: the serving certificate from ${this.opts.certFile} expired at ${current.notAfter.toISOString()}${this.lastProblem ? ` (${this.lastProblem})` : ""}`;
    }
    return null;
  }

  private async checkCA(): Promise<void> {
    const { caFile, onCA } = this.opts;
    if (!caFile || !onCA) return;
    let pem: string;
    try {
      pem = await readFile(caFile, "utf8");
    } catch {
      return; // optional: no ca.crt beside the certificate
    }
    if (pem === this.lastCA) return;
    const bundle = parseBundle(pem);
    if (bundle.certs.length === 0 || bundle.problems.length > 0) {
      this.problem(`${caFile}: not a usable CA bundle (${bundle.problems.join("; ") || "no certificate"})`);
      return;
    }
    this.lastCA = pem;
    this.opts.log.info({ caFile, fingerprints: bundle.certs.map((c) => c.fingerprint) }, `CA bundle loaded from ${caFile}`);
    await onCA(pem);
  }

  private problem(problem: string): FilesCheck {
    if (problem !== this.lastProblem) {
      this.opts.metrics.errors.inc({ operation: "files" });
      this.opts.log.warn({ problem }, `certificate files: ${problem}; keeping the current certificate`);
    }
    this.lastProblem = problem;
    return { changed: false, problem };
  }
}
