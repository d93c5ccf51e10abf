/**
 * Where the webhook's serving certificate comes from. Standalone: a fresh in-memory CA and
 * serving certificate (only the CA certificate is written out, so a client or a caBundle can
 * trust it). Files: `webhook.tlsCertFile`/`tlsKeyFile` (e.g. mounted by cert-manager).
 * The running HTTPS server is attached so a new certificate reaches it without a restart.
 */
import { writeFile, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server as TLSServer } from "node:tls";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { issueCertificateAuthority, issueServingCertificate, serviceDNSNames } from "../certs/authority.js";
import { WEBHOOK_SERVICE } from "../config/names.js";
import type { Settings } from "../config/settings.js";
import { inputError } from "./errors.js";

export interface TLSSource {
  certPem: string;
  keyPem: string;
  /** Where the CA certificate was written (standalone), for clients and caBundles. */
  caFile: string | undefined;
  /** The running HTTPS server: later certificates are loaded into it with setSecureContext. */
  attach(server: TLSServer): void;
  /** null when a valid serving certificate is loaded, else why not (for /readyz). */
  readiness(): string | null;
  stop(): Promise<void>;
}

export interface TLSDeps {
  settings: Settings;
  caOut: string | undefined;
  log: Logger;
  /** Set in cluster mode. */
  kubeConfig: KubeConfig | undefined;
  /** For certificate metrics (not-after timestamps, rotations). */
  registry: Registry;
}

export async function startTLS(deps: TLSDeps): Promise<TLSSource> {
  const { settings, log } = deps;
  const { tlsCertFile, tlsKeyFile } = settings.webhook;
  if (tlsCertFile && tlsKeyFile) {
    const read = async (p: string) => {
      try {
        return await readFile(p, "utf8");
      } catch (err) {
        throw inputError(`cannot read TLS file ${p}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
      }
    };
    const [certPem, keyPem] = await Promise.all([read(tlsCertFile), read(tlsKeyFile)]);
    log.info({ tlsCertFile, tlsKeyFile }, "serving certificate loaded from files");
    return staticSource(certPem, keyPem, undefined);
  }
  const now = new Date();
  const ca = issueCertificateAuthority({ commonName: "pod-dns-injector standalone CA", now });
  const ns = settings.injectorNamespace;
  const serving = issueServingCertificate({
    ca,
    dnsNames: ["localhost", ...serviceDNSNames(WEBHOOK_SERVICE, ns, settings.clusterDomain)],
    ipAddresses: ["127.0.0.1", "::1"],
    commonName: `${WEBHOOK_SERVICE}.${ns}.svc`,
    now,
  });
  const caFile = deps.caOut ?? join(tmpdir(), `pod-dns-injector-ca-${process.pid}.crt`);
  await writeFile(caFile, ca.certPem, { mode: 0o644 });
  log.info({ caFile }, `generated an in-memory CA and serving certificate; CA certificate written to ${caFile}`);
  return staticSource(serving.certPem, serving.keyPem, caFile);
}

function staticSource(certPem: string, keyPem: string, caFile: string | undefined): TLSSource {
  return { certPem, keyPem, caFile, attach: () => undefined, readiness: () => null, stop: async () => undefined };
}
