/**
 * Where the webhook's serving certificate comes from, in order of precedence:
 *
 * - External files (`webhook.tlsCertFile`/`tlsKeyFile`, e.g. mounted from a cert-manager
 *   Secret): loaded, and reloaded when they change on disk. No Secret is written and no
 *   caBundle touched: cert-manager's CA injector (`cert-manager.io/inject-ca-from`) keeps the
 *   caBundle. A `ca.crt` beside the certificate, when present, is written to --ca-out.
 * - Cluster mode (a kubeconfig or in-cluster): the self-managed authority (certs/manager.ts):
 *   CA and serving certificate in Secrets in the injector's namespace, caBundles kept in
 *   sync, rotation and CA rollover without a restart. --ca-out receives the trusted CAs.
 *   Until the Secret can be used (e.g. the namespace does not exist yet) the server answers
 *   with a throwaway self-signed certificate and /readyz says why it is not ready.
 * - Standalone: a fresh in-memory CA and serving certificate; only the CA certificate is
 *   written out (--ca-out, else a temp file), so a client or a caBundle can trust it.
 *
 * The running HTTPS server is attached so a new certificate reaches it without a restart.
 */
import { randomBytes } from "node:crypto";
import { readFile, rename, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { Server as TLSServer } from "node:tls";
import type { KubeConfig } from "@kubernetes/client-node";
import type { Logger } from "pino";
import type { Registry } from "prom-client";
import { issueCertificateAuthority, issueServingCertificate, serviceDNSNames, type PemKeyPair } from "../certs/authority.js";
import { ExternalCertificateFiles } from "../certs/external-files.js";
import { createCertificateMetrics, type CertificateMetrics } from "../certs/metrics.js";
import { parseBundle, parseKeyPair } from "../certs/secret-layout.js";
import { ServingReloader } from "../certs/serving-reloader.js";
import type { Settings } from "../config/settings.js";
import { inputError } from "./errors.js";

export interface TLSSource {
  certPem: string;
  keyPem: string;
  /** Where the trusted CA certificate(s) were written (--ca-out; standalone: a temp file by default). */
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

/**
 * Starts the serving certificate's source, by the precedence in the module comment: external
 * files, else the cluster's Secrets, else an in-memory CA. Resolves with a first certificate
 * to listen with (in cluster mode possibly a throwaway one, with `readiness` saying why).
 *
 * @throws CliError (input) for unusable external files; I/O errors of writing --ca-out.
 */
export async function startTLS(deps: TLSDeps): Promise<TLSSource> {
  const metrics = createCertificateMetrics(deps.registry);
  const { tlsCertFile, tlsKeyFile } = deps.settings.webhook;
  if (tlsCertFile && tlsKeyFile) return startExternal(deps, metrics, tlsCertFile, tlsKeyFile);
  if (deps.kubeConfig) return startCluster(deps, metrics, deps.kubeConfig);
  return startStandalone(deps, metrics);
}

async function startExternal(deps: TLSDeps, metrics: CertificateMetrics, certFile: string, keyFile: string): Promise<TLSSource> {
  const { log, caOut } = deps;
  const reloader = new ServingReloader({ log, metrics, source: "files" });
  let caFile: string | undefined;
  const files = new ExternalCertificateFiles({
    certFile,
    keyFile,
    caFile: join(dirname(certFile), "ca.crt"),
    reloader,
    log,
    metrics,
    // Only --ca-out: the caBundle is cert-manager's CA injector's job in this mode. Both
    // writing it would disagree for as long as the kubelet takes to update the mounted
    // Secret (a minute or more) after cert-manager renews the CA.
    onCA: caOut
      ? async (pem) => {
          await writeAtomically(caOut, pem);
          caFile = caOut;
        }
      : undefined,
  });
  // Unusable files at start-up are an input error (exit 1, naming the path), not a
  // condition to wait out: the pod restarts and the next try may find them mounted.
  const read = async (path: string) => {
    try {
      return await readFile(path, "utf8");
    } catch (err) {
      throw inputError(`cannot read TLS file ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
  };
  // One after the other, so that with both missing the error names the certificate every
  // time (Promise.all would name whichever read failed first).
  const certPem = await read(certFile);
  const pair = parseKeyPair(certPem, await read(keyFile));
  if (!pair.ok) throw inputError(`TLS files ${certFile} and ${keyFile}: ${pair.problem}`);
  const first = await files.check();
  const current = reloader.current;
  if (!current) throw inputError(`cannot use the TLS files: ${first.problem ?? "no certificate loaded"}`);
  files.start();
  log.info({ tlsCertFile: certFile, tlsKeyFile: keyFile }, "serving certificate from files, reloaded when they change; no Secret or caBundle is written");
  return {
    certPem: current.pem,
    keyPem: current.keyPem,
    get caFile() {
      return caFile;
    },
    attach: (server) => reloader.attach(server, { certPem: current.pem }),
    readiness: () => files.readiness(),
    stop: () => files.stop(),
  };
}

async function startCluster(deps: TLSDeps, metrics: CertificateMetrics, kubeConfig: KubeConfig): Promise<TLSSource> {
  const { settings, log, caOut } = deps;
  const reloader = new ServingReloader({ log, metrics, source: "secret" });
  // Loaded here: the manager brings the Kubernetes client, which standalone mode never needs.
  const { CertificateManager } = await import("../certs/manager.js");
  const manager = new CertificateManager({
    kubeConfig,
    namespace: settings.injectorNamespace,
    settings: settings.certificates,
    clusterDomain: settings.clusterDomain,
    log,
    metrics,
    reloader,
    onTrusted: caOut ? (pem) => writeAtomically(caOut, pem) : undefined,
  });
  await manager.start();
  let initial: PemKeyPair;
  const loaded = reloader.current;
  if (loaded) initial = { certPem: loaded.pem, keyPem: loaded.keyPem };
  else {
    // The HTTPS server needs some certificate to start; no client trusts this one, and
    // /readyz stays not-ready until the Secret's certificate replaces it.
    initial = selfSigned(settings, "pod-dns-injector placeholder CA (not trusted)").serving;
    log.warn({ reason: manager.readiness() }, "no certificate from the Secret yet: serving a throwaway self-signed certificate until it is available (not ready meanwhile)");
  }
  return {
    certPem: initial.certPem,
    keyPem: initial.keyPem,
    caFile: caOut,
    attach: (server) => reloader.attach(server, { certPem: initial.certPem }),
    readiness: () => manager.readiness(),
    stop: () => manager.stop(),
  };
}

async function startStandalone(deps: TLSDeps, metrics: CertificateMetrics): Promise<TLSSource> {
  const { settings, log } = deps;
  const { ca, serving } = selfSigned(settings, "pod-dns-injector standalone CA");
  const caFile = deps.caOut ?? join(tmpdir(), `pod-dns-injector-ca-${process.pid}.crt`);
  await writeFile(caFile, ca.certPem, { mode: 0o644 });
  log.info({ caFile }, `generated an in-memory CA and serving certificate; CA certificate written to ${caFile}`);
  const reloader = new ServingReloader({ log, metrics, source: "memory" });
  const pair = parseKeyPair(serving.certPem, serving.keyPem);
  if (pair.ok) reloader.load(pair.value, "memory (standalone)");
  const caPair = parseBundle(ca.certPem).certs[0];
  if (caPair) metrics.notAfter.set({ cert: "ca" }, Math.floor(caPair.notAfter.getTime() / 1000));
  return { certPem: serving.certPem, keyPem: serving.keyPem, caFile, attach: () => undefined, readiness: () => null, stop: async () => undefined };
}

function selfSigned(settings: Settings, caName: string): { ca: PemKeyPair; serving: PemKeyPair } {
  const now = new Date();
  const ca = issueCertificateAuthority({ commonName: caName, now });
  const ns = settings.injectorNamespace;
  const service = settings.certificates.serviceName;
  const serving = issueServingCertificate({
    ca,
    dnsNames: [...new Set(["localhost", ...serviceDNSNames(service, ns, settings.clusterDomain), ...settings.certificates.extraDNSNames])],
    ipAddresses: [...new Set(["127.0.0.1", "::1", ...settings.certificates.extraIPs])],
    commonName: `${service}.${ns}.svc`,
    now,
  });
  return { ca, serving };
}

/** Replaces `path` in one rename, so a reader (a test, a sidecar) never sees half a bundle. */
async function writeAtomically(path: string, content: string): Promise<void> {
  const tmp = `${path}.${randomBytes(6).toString("hex")}.tmp`;
  try {
    await writeFile(tmp, content, { mode: 0o644 });
    await rename(tmp, path);
  } catch (cause) {
    await unlink(tmp).catch(() => undefined);
    throw new Error(`write ${path}`, { cause });
  }
}
