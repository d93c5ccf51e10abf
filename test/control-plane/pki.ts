/**
 * The test control plane's PKI, generated in-process for every start: a CA, the
 * kube-apiserver serving certificate, an admin client certificate (group system:masters)
 * and the service-account token key pair.
 *
 * Keys come from node:crypto (native, a few milliseconds per RSA key); node-forge only
 * builds and signs the X.509 structures, because its pure-JS RSA key generation takes
 * seconds on a slow CI core.
 */
import { generateKeyPairSync, randomBytes } from "node:crypto";
import forge from "node-forge";

/** A PEM certificate with its PEM private key (PKCS#1, "RSA PRIVATE KEY"). */
export interface CertAndKey {
  certPem: string;
  keyPem: string;
}

/** Everything the control plane's processes and clients need, all PEM. */
export interface ControlPlanePki {
  ca: CertAndKey;
  /** kube-apiserver serving certificate, signed by `ca`. */
  apiServer: CertAndKey;
  /** Client certificate for CN=kubernetes-admin, O=system:masters, signed by `ca`. */
  admin: CertAndKey;
  /** Signs and verifies ServiceAccount tokens (apiserver and kube-controller-manager). */
  serviceAccount: { publicKeyPem: string; privateKeyPem: string };
}

/** Options for {@link generateControlPlanePki}. */
export interface PkiOptions {
  /** Extra DNS names for the apiserver serving certificate. */
  extraDnsNames?: string[];
  /** Extra IP addresses for the apiserver serving certificate. */
  extraIps?: string[];
  /** Certificate lifetime; the default outlives any test run. */
  validityDays?: number;
  /** Clock, for reproducible validity windows. */
  now?: Date;
}

/**
 * The names a client may use for the apiserver: loopback for the tests, plus the in-cluster
 * Service name and the first address of the service range (10.96.0.0/16), which is what
 * the `kubernetes` Service in `default` gets.
 */
export const API_SERVER_DNS_NAMES = ["localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"];
export const API_SERVER_IPS = ["127.0.0.1", "10.96.0.1"];

interface RsaKeyPair {
  publicKeyPem: string;
  privateKeyPem: string;
}

function generateRsaKeyPair(): RsaKeyPair {
  const { publicKey, privateKey } = generateKeyPairSync("rsa", {
    modulusLength: 2048,
    publicKeyEncoding: { type: "spki", format: "pem" },
    privateKeyEncoding: { type: "pkcs1", format: "pem" },
  });
  return { publicKeyPem: publicKey, privateKeyPem: privateKey };
}

/** 128 random bits as a positive DER INTEGER (RFC 5280 §4.1.2.2: at most 20 octets, positive). */
function randomSerial(): string {
  const bytes = randomBytes(16);
  bytes[0] = (bytes[0] ?? 0) & 0x7f;
  return bytes.toString("hex");
}

interface IssueRequest {
  subject: forge.pki.CertificateField[];
  publicKeyPem: string;
  extensions: object[];
  /** Absent for the self-signed CA. */
  issuer?: { cert: forge.pki.Certificate; privateKeyPem: string };
  /** Private key of the subject itself, used when self-signing. */
  selfPrivateKeyPem?: string;
  notBefore: Date;
  notAfter: Date;
}

function issue(req: IssueRequest): forge.pki.Certificate {
  const cert = forge.pki.createCertificate();
  cert.serialNumber = randomSerial();
  cert.publicKey = forge.pki.publicKeyFromPem(req.publicKeyPem);
  cert.validity.notBefore = req.notBefore;
  cert.validity.notAfter = req.notAfter;
  cert.setSubject(req.subject);
  cert.setIssuer(req.issuer ? req.issuer.cert.subject.attributes : req.subject);
  // Go's verifier chains by subject/issuer names, but an authority key identifier that
  // matches the CA's subject key identifier keeps other tools (openssl, curl) happy too.
  const authorityKeyId = req.issuer ? req.issuer.cert.generateSubjectKeyIdentifier().getBytes() : cert.generateSubjectKeyIdentifier().getBytes();
  cert.setExtensions([...req.extensions, { name: "subjectKeyIdentifier" }, { name: "authorityKeyIdentifier", keyIdentifier: authorityKeyId }]);
  const signingKeyPem = req.issuer ? req.issuer.privateKeyPem : req.selfPrivateKeyPem;
  if (signingKeyPem === undefined) throw new Error("issue: no signing key");
  cert.sign(forge.pki.privateKeyFromPem(signingKeyPem), forge.md.sha256.create());
  return cert;
}

/**
 * Generates a fresh PKI for one control plane. Nothing is shared between calls, so two
 * control planes never trust each other's clients.
 */
export function generateControlPlanePki(options: PkiOptions = {}): ControlPlanePki {
  const now = options.now ?? new Date();
  // Back-dated so a client whose clock is a little behind still accepts the certificates.
  const notBefore = new Date(now.getTime() - 60 * 60 * 1000);
  const notAfter = new Date(now.getTime() + (options.validityDays ?? 7) * 24 * 60 * 60 * 1000);

  const caKeys = generateRsaKeyPair();
  const caCert = issue({
    subject: [{ name: "commonName", value: "pod-dns-injector-test-ca" }],
    publicKeyPem: caKeys.publicKeyPem,
    selfPrivateKeyPem: caKeys.privateKeyPem,
    extensions: [
      { name: "basicConstraints", cA: true, critical: true },
      { name: "keyUsage", keyCertSign: true, cRLSign: true, digitalSignature: true, critical: true },
    ],
    notBefore,
    notAfter,
  });
  const issuer = { cert: caCert, privateKeyPem: caKeys.privateKeyPem };

  const dnsNames = [...API_SERVER_DNS_NAMES, ...(options.extraDnsNames ?? [])];
  const ips = [...API_SERVER_IPS, ...(options.extraIps ?? [])];
  const serverKeys = generateRsaKeyPair();
  const serverCert = issue({
    subject: [{ name: "commonName", value: "kube-apiserver" }],
    publicKeyPem: serverKeys.publicKeyPem,
    issuer,
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", serverAuth: true },
      {
        name: "subjectAltName",
        altNames: [...dnsNames.map((value) => ({ type: 2, value })), ...ips.map((ip) => ({ type: 7, ip }))],
      },
    ],
    notBefore,
    notAfter,
  });

  // The apiserver maps CN to the user name and each O to a group; system:masters is bound
  // to cluster-admin by the bootstrap RBAC policy.
  const adminKeys = generateRsaKeyPair();
  const adminCert = issue({
    subject: [
      { name: "organizationName", value: "system:masters" },
      { name: "commonName", value: "kubernetes-admin" },
    ],
    publicKeyPem: adminKeys.publicKeyPem,
    issuer,
    extensions: [
      { name: "basicConstraints", cA: false, critical: true },
      { name: "keyUsage", digitalSignature: true, keyEncipherment: true, critical: true },
      { name: "extKeyUsage", clientAuth: true },
    ],
    notBefore,
    notAfter,
  });

  return {
    ca: { certPem: forge.pki.certificateToPem(caCert), keyPem: caKeys.privateKeyPem },
    apiServer: { certPem: forge.pki.certificateToPem(serverCert), keyPem: serverKeys.privateKeyPem },
    admin: { certPem: forge.pki.certificateToPem(adminCert), keyPem: adminKeys.privateKeyPem },
    serviceAccount: generateRsaKeyPair(),
  };
}
