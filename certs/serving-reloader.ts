/**
 * The serving certificate of the running HTTPS server, swapped in place. Node's
 * `tls.Server.setSecureContext` replaces the credentials for new handshakes only: requests
 * on established connections finish with the old certificate, new connections get the new
 * one, so a rotation drops nothing (controller-runtime's certwatcher does the same with
 * `GetCertificate`). Server options set at creation that are not credentials, such as the
 * webhook's `minVersion`, are kept by Node across setSecureContext calls.
 */
import type { Server as TLSServer } from "node:tls";
import type { Logger } from "pino";
import type { CertificateMetrics } from "./metrics.js";
import type { ParsedKeyPair } from "./secret-layout.js";

/** Holds the current serving key pair and loads each new one into the attached HTTPS server. */
export class ServingReloader {
  private server: TLSServer | undefined;
  private loaded: ParsedKeyPair | undefined;
  private loadedFrom = "";

  constructor(private readonly deps: { log: Logger; metrics: CertificateMetrics; source: "secret" | "files" | "memory" }) {}

  /** The certificate being served (or to be served once attached). */
  get current(): ParsedKeyPair | undefined {
    return this.loaded;
  }

  /** Where the current certificate came from, for readiness messages. */
  get origin(): string {
    return this.loadedFrom;
  }

  /**
   * Serves `pair` from now on. Returns false (and does nothing) when it is the certificate
   * already served. The pair must have been checked (key matches certificate) by its reader.
   */
  load(pair: ParsedKeyPair, origin: string): boolean {
    const previous = this.loaded;
    if (previous?.fingerprint === pair.fingerprint && previous.keyPem === pair.keyPem) return false;
    this.loaded = pair;
    this.loadedFrom = origin;
    this.deps.metrics.notAfter.set({ cert: "serving" }, Math.floor(pair.notAfter.getTime() / 1000));
    const d = pair.description;
    const fields = {
      fingerprintSha256: pair.fingerprint,
      previousFingerprintSha256: previous?.fingerprint ?? null,
      subject: d.subject,
      issuer: d.issuer,
      serial: d.serialNumber,
      notBefore: d.notBefore.toISOString(),
      notAfter: d.notAfter.toISOString(),
      dnsNames: d.dnsNames,
      ipAddresses: d.ipAddresses,
      origin,
    };
    if (this.server) {
      this.server.setSecureContext({ cert: pair.pem, key: pair.keyPem });
      this.deps.metrics.reloads.inc({ source: this.deps.source });
    }
    if (previous === undefined) this.deps.log.info(fields, `serving certificate loaded from ${origin}: SHA-256 ${pair.fingerprint}`);
    else this.deps.log.info(fields, `serving certificate hot-reloaded from ${origin}: now SHA-256 ${pair.fingerprint} (was ${previous.fingerprint}), no restart`);
    return true;
  }

  /**
   * The running server. It was created with the certificate current at that time; if a newer
   * one arrived in between, it is loaded now.
   */
  attach(server: TLSServer, createdWith: { certPem: string }): void {
    this.server = server;
    const current = this.loaded;
    if (current && normalizePem(createdWith.certPem) !== normalizePem(current.pem)) {
      server.setSecureContext({ cert: current.pem, key: current.keyPem });
      this.deps.metrics.reloads.inc({ source: this.deps.source });
      this.deps.log.info({ fingerprintSha256: current.fingerprint }, "serving certificate changed while the server started; loaded");
    }
  }

  detach(): void {
    this.server = undefined;
  }
}

function normalizePem(pem: string): string {
  return pem.replace(/\s+/g, "");
}
