/** `pod-dns-injector certs generate|inspect`: offline CA and serving certificates. */
import { readFile } from "node:fs/promises";
import { issueCertificateAuthority, issueServingCertificate, serviceDNSNames } from "../certs/authority.js";
import { CertificateFilesExistError, writeCertificateFiles } from "../certs/files.js";
import { describeCertificates, formatCertificateDescription } from "../certs/inspect.js";
import { DEFAULT_CLUSTER_DOMAIN } from "../config/names.js";
import { canonicalIP, isDNSLabel, isDNSSubdomain } from "../config/dns-limits.js";
import { inputError, usageError } from "./errors.js";
import type { CommandIO } from "./inject.js";
import { findCluster, loadKubeConfig } from "./kubeconfig.js";

export interface CertsGenerateFlags {
  out: string;
  service: string;
  namespace: string;
  clusterDomain?: string | undefined;
  ip?: string[] | undefined;
  caValidityDays?: number | undefined;
  validityDays?: number | undefined;
  force?: boolean | undefined;
}

export async function runCertsGenerate(flags: CertsGenerateFlags, io: CommandIO): Promise<number> {
  if (!isDNSLabel(flags.service)) throw usageError(`--service: not a valid Service name: ${JSON.stringify(flags.service)}`);
  if (!isDNSLabel(flags.namespace)) throw usageError(`--namespace: not a valid namespace name: ${JSON.stringify(flags.namespace)}`);
  const domain = flags.clusterDomain ?? DEFAULT_CLUSTER_DOMAIN;
  if (!isDNSSubdomain(domain)) throw usageError(`--cluster-domain: not a lowercase DNS subdomain: ${JSON.stringify(domain)}`);
  const ips = (flags.ip ?? []).map((ip) => {
    const c = canonicalIP(ip);
    if (!c) throw usageError(`--ip: not an IP address: ${JSON.stringify(ip)}`);
    return c;
  });
  const now = new Date();
  const ca = issueCertificateAuthority({ commonName: "pod-dns-injector CA", now, ...(flags.caValidityDays ? { validityDays: flags.caValidityDays } : {}) });
  const dnsNames = serviceDNSNames(flags.service, flags.namespace, domain);
  const serving = issueServingCertificate({ ca, dnsNames, ipAddresses: ips, commonName: dnsNames[2], now, ...(flags.validityDays ? { validityDays: flags.validityDays } : {}) });
  try {
    const written = await writeCertificateFiles(flags.out, ca, serving, { force: flags.force === true });
    for (const p of written) io.stdout(`wrote ${p}\n`);
  } catch (err) {
    if (err instanceof CertificateFilesExistError) throw inputError(`${err.message} (use --force to replace them)`);
    throw inputError(`cannot write certificates to ${flags.out}: ${(err as Error).message}`);
  }
  return 0;
}

export async function runCertsInspect(file: string | undefined, flags: { secret?: string | undefined; kubeconfig?: string | undefined }, io: CommandIO): Promise<number> {
  if ((file === undefined) === (flags.secret === undefined)) throw usageError("certs inspect: give a FILE or --secret NAMESPACE/NAME (one of them)");
  const sections: { label: string; pem: string }[] = [];
  if (file !== undefined) {
    let pem: string;
    try {
      pem = await readFile(file, "utf8");
    } catch (err) {
      throw inputError(`${file}: cannot read: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    sections.push({ label: file, pem });
  } else {
    const [namespace, name, extra] = (flags.secret as string).split("/");
    if (!namespace || !name || extra !== undefined) throw usageError(`--secret: expected NAMESPACE/NAME, got ${JSON.stringify(flags.secret)}`);
    const kc = await loadKubeConfig(findCluster(flags.kubeconfig, io.env, { homeFallback: true }), "read --secret from");
    const { CoreV1Api } = await import("@kubernetes/client-node");
    let data: Record<string, string>;
    try {
      data = (await kc.makeApiClient(CoreV1Api).readNamespacedSecret({ namespace, name })).data ?? {};
    } catch (err) {
      throw inputError(`get Secret ${namespace}/${name}: ${(err as Error).message}`);
    }
    for (const key of ["tls.crt", "ca.crt"]) {
      if (data[key]) sections.push({ label: `secret ${namespace}/${name} ${key}`, pem: Buffer.from(data[key], "base64").toString("utf8") });
    }
    if (sections.length === 0) throw inputError(`Secret ${namespace}/${name} has no tls.crt or ca.crt`);
  }
  for (const s of sections) {
    let descriptions;
    try {
      descriptions = describeCertificates(s.pem);
    } catch (err) {
      throw inputError(`${s.label}: ${(err as Error).message}`);
    }
    if (descriptions.length === 0) throw inputError(`${s.label}: no PEM certificate found`);
    descriptions.forEach((d, i) => io.stdout(`# ${s.label}${descriptions.length > 1 ? ` [${i + 1}/${descriptions.length}]` : ""}\n${formatCertificateDescription(d)}\n`));
  }
  return 0;
}
