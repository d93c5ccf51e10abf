import assert from "node:assert/strict";
import { X509Certificate, createPrivateKey } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer, request, type Server } from "node:https";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import forge from "node-forge";
import { CLOCK_SKEW_ALLOWANCE_MS, issueCertificateAuthority, issueServingCertificate, serviceDNSNames, type PemKeyPair } from "../../../certs/authority.js";
import { runOpenssl } from "./openssl.js";

const DAY = 24 * 60 * 60 * 1000;
const HOUR = 60 * 60 * 1000;
// Milliseconds on purpose: X.509 times have whole seconds, so issuance must truncate.
const NOW = new Date("2026-03-01T12:00:00.789Z");
const NOW_S = Date.parse("2026-03-01T12:00:00Z");
const DNS_NAMES = serviceDNSNames("pod-dns-injector", "dns-system", "cluster.local");
const IPS = ["127.0.0.1", "fd00::10:0:1"];

// One CA and leaf shared by the read-only checks; key generation is the slow part.
const ca = issueCertificateAuthority({ now: NOW });
const leaf = issueServingCertificate({ ca, dnsNames: DNS_NAMES, ipAddresses: IPS, now: NOW });
const otherCA = issueCertificateAuthority({ now: NOW, commonName: "someone-else-ca" });

interface ForgeExtension {
  name: string;
  critical?: boolean;
  [key: string]: unknown;
}

function forgeCert(pem: string): forge.pki.Certificate {
  return forge.pki.certificateFromPem(pem);
}

function ext(cert: forge.pki.Certificate, name: string): ForgeExtension {
  const e = cert.getExtension(name) as ForgeExtension | undefined;
  assert.ok(e, `extension ${name} missing`);
  return e;
}

/** Hex of the [0] keyIdentifier in an AKI extension; forge does not parse AKI itself. */
function authorityKeyIdHex(cert: forge.pki.Certificate): string {
  const raw = ext(cert, "authorityKeyIdentifier").value as string;
  const seq = forge.asn1.fromDer(raw);
  const keyId = (seq.value as forge.asn1.Asn1[]).find((n) => n.tagClass === forge.asn1.Class.CONTEXT_SPECIFIC && (n.type as number) === 0);
  assert.ok(keyId, "AKI without keyIdentifier");
  return forge.util.bytesToHex(keyId.value as string);
}

describe("issueCertificateAuthority", () => {
  const cert = forgeCert(ca.certPem);
  const x509 = new X509Certificate(ca.certPem);

  it("sets basicConstraints CA:TRUE, pathLen 0, critical", () => {
    const bc = ext(cert, "basicConstraints");
    assert.equal(bc.cA, true);
    assert.equal(bc.pathLenConstraint, 0);
    assert.equal(bc.critical, true);
    assert.equal(x509.ca, true);
  });

  it("sets keyUsage keyCertSign + cRLSign only, critical", () => {
    const ku = ext(cert, "keyUsage");
    assert.equal(ku.critical, true);
    assert.equal(ku.keyCertSign, true);
    assert.equal(ku.cRLSign, true);
    for (const other of ["digitalSignature", "keyEncipherment", "dataEncipherment", "keyAgreement", "nonRepudiation"]) {
      assert.equal(ku[other], false, other);
    }
  });

  it("has a subject key identifier derived from its key", () => {
    const ski = ext(cert, "subjectKeyIdentifier");
    assert.equal(ski.subjectKeyIdentifier, cert.generateSubjectKeyIdentifier().toHex());
  });

  it("is a self-signed RSA-2048 / SHA-256 certificate", () => {
    assert.equal(cert.signatureOid, forge.pki.oids["sha256WithRSAEncryption"]);
    assert.equal(x509.publicKey.asymmetricKeyType, "rsa");
    assert.equal(x509.publicKey.asymmetricKeyDetails?.modulusLength, 2048);
    assert.ok(cert.verify(cert), "forge: self-signature");
    assert.ok(x509.checkIssued(x509), "node: issued by itself");
    assert.ok(x509.verify(x509.publicKey), "node: self-signature");
  });

  it("returns a PKCS#8 key that matches the certificate", () => {
    assert.match(ca.keyPem, /^-----BEGIN PRIVATE KEY-----\n/);
    assert.ok(x509.checkPrivateKey(createPrivateKey(ca.keyPem)));
  });

  it("defaults the common name to pod-dns-injector-ca-<unix seconds>, encoded as UTF8String", () => {
    assert.equal(x509.subject, `CN=pod-dns-injector-ca-${NOW_S / 1000}`);
    // PrintableString (forge's default) cannot hold e.g. "@"; Go's x509 parser, which reads
    // caBundle in the API server, then rejects the certificate. Check the ASN.1 tag (12).
    const withAt = issueCertificateAuthority({ now: NOW, commonName: "ca@example_1" });
    const asn1 = forge.asn1.fromDer(forge.pem.decode(withAt.certPem)[0]!.body);
    const tbs = (asn1.value as forge.asn1.Asn1[])[0]!;
    const subject = (tbs.value as forge.asn1.Asn1[])[5]!;
    const cn = (((subject.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[])[0]!.value as forge.asn1.Asn1[])[1]!;
    assert.equal(cn.type, forge.asn1.Type.UTF8);
    assert.equal(cn.value, "ca@example_1");
    assert.equal(x509.issuer, x509.subject);
    assert.equal(new X509Certificate(otherCA.certPem).subject, "CN=someone-else-ca");
  });

  it("defaults validity to now − 1h .. now + 3650 days, in whole seconds", () => {
    assert.equal(cert.validity.notBefore.getTime(), NOW_S - CLOCK_SKEW_ALLOWANCE_MS);
    assert.equal(CLOCK_SKEW_ALLOWANCE_MS, HOUR);
    assert.equal(cert.validity.notAfter.getTime(), NOW_S + 3650 * DAY);
    assert.equal(x509.validToDate.getTime(), NOW_S + 3650 * DAY);
  });

  it("honours validityDays and keyBits", () => {
    const custom = issueCertificateAuthority({ now: NOW, validityDays: 30, keyBits: 3072 });
    const x = new X509Certificate(custom.certPem);
    assert.equal(x.validToDate.getTime(), NOW_S + 30 * DAY);
    assert.equal(x.publicKey.asymmetricKeyDetails?.modulusLength, 3072);
  });

  it("never takes forge's pure-JavaScript key generation path", (t) => {
    // forge's JS prime search takes seconds for 2048 bits; keys must come from node:crypto.
    // Checked structurally (the JS generator is never called), not with a timing threshold.
    const jsKeygen = t.mock.method(forge.pki.rsa, "generateKeyPair");
    const ca = issueCertificateAuthority({ now: NOW });
    issueServingCertificate({ ca, dnsNames: ["svc"], now: NOW });
    assert.equal(jsKeygen.mock.callCount(), 0);
  });

  const invalid: { name: string; opts: Parameters<typeof issueCertificateAuthority>[0]; message: RegExp }[] = [
    { name: "keyBits below 2048", opts: { now: NOW, keyBits: 1024 }, message: /keyBits must be an integer of at least 2048, got 1024/ },
    { name: "fractional keyBits", opts: { now: NOW, keyBits: 2048.5 }, message: /keyBits/ },
    { name: "zero validity", opts: { now: NOW, validityDays: 0 }, message: /validityDays must be a positive number/ },
    { name: "negative validity", opts: { now: NOW, validityDays: -1 }, message: /validityDays/ },
    { name: "NaN validity", opts: { now: NOW, validityDays: Number.NaN }, message: /validityDays/ },
    { name: "invalid now", opts: { now: new Date(Number.NaN) }, message: /now must be a valid Date/ },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name} with a RangeError`, () => {
      assert.throws(
        () => issueCertificateAuthority(c.opts),
        (err: unknown) => {
          assert.ok(err instanceof RangeError);
          assert.match(err.message, c.message);
          return true;
        },
      );
    });
  }
});

describe("issueServingCertificate", () => {
  const cert = forgeCert(leaf.certPem);
  const caCert = forgeCert(ca.certPem);
  const x509 = new X509Certificate(leaf.certPem);
  const caX509 = new X509Certificate(ca.certPem);

  it("sets basicConstraints CA:FALSE", () => {
    assert.equal(ext(cert, "basicConstraints").cA, false);
    assert.equal(x509.ca, false);
  });

  it("sets keyUsage digitalSignature + keyEncipherment only, critical", () => {
    const ku = ext(cert, "keyUsage");
    assert.equal(ku.critical, true);
    assert.equal(ku.digitalSignature, true);
    assert.equal(ku.keyEncipherment, true);
    assert.equal(ku.keyCertSign, false);
    assert.equal(ku.cRLSign, false);
  });

  it("sets extKeyUsage serverAuth only", () => {
    const eku = ext(cert, "extKeyUsage");
    assert.equal(eku.serverAuth, true);
    assert.equal(eku.clientAuth, undefined);
    assert.deepEqual(x509.keyUsage, ["1.3.6.1.5.5.7.3.1"]);
  });

  it("carries exactly the requested SANs, DNS in order then IPs", () => {
    const san = ext(cert, "subjectAltName").altNames as { type: number; value: string; ip?: string }[];
    assert.deepEqual(
      san.map((n) => (n.type === 7 ? `IP:${n.ip}` : `DNS:${n.value}`)),
      [
        "DNS:pod-dns-injector",
        "DNS:pod-dns-injector.dns-system",
        "DNS:pod-dns-injector.dns-system.svc",
        "DNS:pod-dns-injector.dns-system.svc.cluster.local",
        "IP:127.0.0.1",
        "IP:fd00::10:0:1",
      ],
    );
    for (const name of DNS_NAMES) assert.equal(x509.checkHost(name, { wildcards: false }), name);
    assert.equal(x509.checkHost("pod-dns-injector.other-ns.svc"), undefined);
    assert.equal(x509.checkIP("127.0.0.1"), "127.0.0.1");
    assert.equal(x509.checkIP("fd00::10:0:1"), "fd00::10:0:1");
  });

  it("uses the first DNS name as common name by default, and the given one otherwise", () => {
    assert.equal(x509.subject, "CN=pod-dns-injector");
    const named = issueServingCertificate({ ca, dnsNames: ["a.b"], commonName: "custom", now: NOW });
    assert.equal(new X509Certificate(named.certPem).subject, "CN=custom");
    const ipOnly = issueServingCertificate({ ca, dnsNames: [], ipAddresses: ["10.0.0.1"], now: NOW });
    assert.equal(new X509Certificate(ipOnly.certPem).subject, "CN=10.0.0.1");
  });

  it("has AKI equal to the CA's SKI, and its own distinct SKI", () => {
    const caSki = ext(caCert, "subjectKeyIdentifier").subjectKeyIdentifier as string;
    assert.equal(authorityKeyIdHex(cert), caSki);
    const ski = ext(cert, "subjectKeyIdentifier").subjectKeyIdentifier as string;
    assert.equal(ski, cert.generateSubjectKeyIdentifier().toHex());
    assert.notEqual(ski, caSki);
  });

  it("is issued and signed by the CA and by no other (forge and node:crypto)", () => {
    assert.ok(caCert.verify(cert), "forge: CA verifies leaf");
    assert.equal(x509.issuer, caX509.subject);
    assert.ok(x509.checkIssued(caX509), "node: checkIssued");
    assert.ok(x509.verify(caX509.publicKey), "node: verify with CA key");
    const otherX509 = new X509Certificate(otherCA.certPem);
    assert.equal(x509.verify(otherX509.publicKey), false);
    assert.equal(x509.checkIssued(otherX509), false);
    assert.equal(cert.signatureOid, forge.pki.oids["sha256WithRSAEncryption"]);
    assert.ok(x509.checkPrivateKey(createPrivateKey(leaf.keyPem)));
  });

  it("defaults validity to now − 1h .. now + 365 days", () => {
    // The CA was issued at the same instant, so the backdated start is not clamped.
    assert.equal(x509.validFromDate.getTime(), NOW_S - HOUR);
    assert.equal(x509.validToDate.getTime(), NOW_S + 365 * DAY);
  });

  it("clamps notAfter to the CA's notAfter", () => {
    const shortCA = issueCertificateAuthority({ now: NOW, validityDays: 30 });
    const clamped = new X509Certificate(issueServingCertificate({ ca: shortCA, dnsNames: ["x"], now: NOW }).certPem);
    assert.equal(clamped.validToDate.getTime(), new X509Certificate(shortCA.certPem).validToDate.getTime());
    assert.equal(clamped.validToDate.getTime(), NOW_S + 30 * DAY);
  });

  it("clamps notBefore to the CA's notBefore", () => {
    // A replica whose clock runs 10 minutes behind the one that issued the CA.
    const tenMinutesEarlier = new Date(NOW.getTime() - 10 * 60 * 1000);
    const x = new X509Certificate(issueServingCertificate({ ca, dnsNames: ["x"], now: tenMinutesEarlier }).certPem);
    assert.equal(x.validFromDate.getTime(), caX509.validFromDate.getTime());
    const dayLater = new Date(NOW.getTime() + DAY);
    const y = new X509Certificate(issueServingCertificate({ ca, dnsNames: ["x"], now: dayLater }).certPem);
    assert.equal(y.validFromDate.getTime(), NOW_S + DAY - HOUR);
  });

  it("honours validityDays (fractional days allowed)", () => {
    const x = new X509Certificate(issueServingCertificate({ ca, dnsNames: ["x"], now: NOW, validityDays: 0.5 }).certPem);
    assert.equal(x.validToDate.getTime(), NOW_S + 12 * HOUR);
  });

  it("accepts a PKCS#1 CA key", () => {
    const pkcs1 = createPrivateKey(ca.keyPem).export({ type: "pkcs1", format: "pem" }).toString();
    const x = new X509Certificate(issueServingCertificate({ ca: { ...ca, keyPem: pkcs1 }, dnsNames: ["x"], now: NOW }).certPem);
    assert.ok(x.verify(caX509.publicKey));
  });

  const expiredAt = new Date(NOW_S + 3650 * DAY);
  const invalid: { name: string; opts: Parameters<typeof issueServingCertificate>[0]; error: typeof Error; message: RegExp }[] = [
    { name: "no names", opts: { ca, dnsNames: [], now: NOW }, error: RangeError, message: /at least one DNS name or IP address/ },
    { name: "uppercase DNS name", opts: { ca, dnsNames: ["Foo.svc"], now: NOW }, error: RangeError, message: /invalid DNS name.*"Foo.svc"/ },
    { name: "underscore DNS name", opts: { ca, dnsNames: ["a_b"], now: NOW }, error: RangeError, message: /invalid DNS name/ },
    { name: "label over 63", opts: { ca, dnsNames: ["a".repeat(64)], now: NOW }, error: RangeError, message: /invalid DNS name/ },
    { name: "invalid IP", opts: { ca, dnsNames: ["x"], ipAddresses: ["300.1.1.1"], now: NOW }, error: RangeError, message: /invalid IP address.*"300.1.1.1"/ },
    { name: "small key", opts: { ca, dnsNames: ["x"], now: NOW, keyBits: 1024 }, error: RangeError, message: /keyBits/ },
    { name: "zero validity", opts: { ca, dnsNames: ["x"], now: NOW, validityDays: 0 }, error: RangeError, message: /validityDays/ },
    { name: "mismatched CA key", opts: { ca: { certPem: ca.certPem, keyPem: otherCA.keyPem }, dnsNames: ["x"], now: NOW }, error: Error, message: /CA key does not belong to CA/ },
    { name: "a leaf as CA", opts: { ca: leaf, dnsNames: ["x"], now: NOW }, error: Error, message: /is not a CA certificate/ },
    { name: "garbage CA", opts: { ca: { certPem: "nope", keyPem: "nope" }, dnsNames: ["x"], now: NOW }, error: Error, message: /cannot parse the CA/ },
    { name: "an expired CA", opts: { ca, dnsNames: ["x"], now: expiredAt }, error: Error, message: /expired at .*roll the CA over first/ },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, () => {
      assert.throws(
        () => issueServingCertificate(c.opts),
        (err: unknown) => {
          assert.ok(err instanceof c.error, `expected ${c.error.name}, got ${String(err)}`);
          assert.match(err.message, c.message);
          return true;
        },
      );
    });
  }
});

describe("serial numbers", () => {
  const cases: { name: string; pem: string }[] = [
    { name: "CA", pem: ca.certPem },
    { name: "serving", pem: leaf.certPem },
    { name: "other CA", pem: otherCA.certPem },
  ];
  for (const c of cases) {
    it(`${c.name}: 16 bytes, positive, minimally encoded`, () => {
      const hex = forgeCert(c.pem).serialNumber; // forge returns the DER INTEGER content bytes
      assert.equal(hex.length, 32, hex);
      const first = parseInt(hex.slice(0, 2), 16);
      assert.ok(first > 0 && first < 0x80, `first byte ${first.toString(16)}`);
      assert.equal(new X509Certificate(c.pem).serialNumber.toLowerCase(), hex);
    });
  }

  it("differ between certificates", () => {
    const serials = new Set(cases.map((c) => forgeCert(c.pem).serialNumber));
    assert.equal(serials.size, cases.length);
  });
});

describe("serviceDNSNames", () => {
  const cases: { args: [string, string, string]; want: string[] }[] = [
    {
      args: ["pdi", "ns", "cluster.local"],
      want: ["pdi", "pdi.ns", "pdi.ns.svc", "pdi.ns.svc.cluster.local"],
    },
    { args: ["webhook", "kube-system", "corp.example."], want: ["webhook", "webhook.kube-system", "webhook.kube-system.svc", "webhook.kube-system.svc.corp.example"] },
  ];
  for (const c of cases) {
    it(`${c.args.join(", ")}`, () => assert.deepEqual(serviceDNSNames(...c.args), c.want));
  }
});

describe("openssl verify", () => {
  let dir: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), "pdi-certs-"));
    writeFileSync(join(dir, "ca.crt"), ca.certPem);
    writeFileSync(join(dir, "other-ca.crt"), otherCA.certPem);
    writeFileSync(join(dir, "tls.crt"), leaf.certPem);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  it("accepts the serving certificate for sslserver against its CA (x509_strict)", () => {
    const r = runOpenssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", join(dir, "ca.crt"), join(dir, "tls.crt")]);
    assert.equal(r.status, 0, r.stdout + r.stderr);
    assert.match(r.stdout, /tls\.crt: OK/);
  });

  it("rejects it against another CA", () => {
    const r = runOpenssl(["verify", "-purpose", "sslserver", "-CAfile", join(dir, "other-ca.crt"), join(dir, "tls.crt")]);
    assert.notEqual(r.status, 0, r.stdout);
  });

  it("reads the CA's basicConstraints and keyUsage as critical", () => {
    const r = runOpenssl(["x509", "-noout", "-ext", "keyUsage,basicConstraints", "-in", join(dir, "ca.crt")]);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /Basic Constraints: critical\s+CA:TRUE, pathlen:0/);
    assert.match(r.stdout, /Key Usage: critical\s+Certificate Sign, CRL Sign/);
  });
});

describe("TLS handshake", () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer({ cert: leaf.certPem, key: leaf.keyPem }, (_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  function get(opts: { ca: string | string[]; servername?: string }): Promise<string> {
    return new Promise((resolve, reject) => {
      const req = request({ host: "127.0.0.1", port, path: "/", ca: opts.ca, servername: opts.servername, agent: false }, (res) => {
        let body = "";
        res.on("data", (chunk: Buffer) => (body += chunk.toString()));
        res.on("end", () => resolve(body));
      });
      req.on("error", reject);
      req.end();
    });
  }

  it("succeeds with the CA and a DNS SAN as server name", async () => {
    assert.equal(await get({ ca: ca.certPem, servername: "pod-dns-injector.dns-system.svc" }), "ok");
  });

  it("succeeds by IP SAN when no server name is sent", async () => {
    assert.equal(await get({ ca: ca.certPem }), "ok");
  });

  it("fails with a different CA", async () => {
    await assert.rejects(get({ ca: otherCA.certPem, servername: "pod-dns-injector.dns-system.svc" }), {
      code: "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
    });
  });

  it("fails for a name outside the SANs", async () => {
    await assert.rejects(get({ ca: ca.certPem, servername: "pod-dns-injector.elsewhere.svc" }), {
      code: "ERR_TLS_CERT_ALTNAME_INVALID",
    });
  });
});

describe("CA rollover with identical subjects", () => {
  // During a rollover both CAs sit in caBundle; if they share a subject, chain building must
  // pick the right one by AKI/SKI. Pin the names equal to prove it does.
  const oldCA = issueCertificateAuthority({ now: NOW, commonName: "pod-dns-injector-ca" });
  const newCA = issueCertificateAuthority({ now: NOW, commonName: "pod-dns-injector-ca" });
  const served: PemKeyPair = issueServingCertificate({ ca: newCA, dnsNames: ["pdi.ns.svc"], now: NOW });
  const bundle = oldCA.certPem + newCA.certPem;

  it("openssl verifies the new leaf against the two-CA bundle", () => {
    const dir = mkdtempSync(join(tmpdir(), "pdi-rollover-"));
    try {
      writeFileSync(join(dir, "bundle.crt"), bundle);
      writeFileSync(join(dir, "tls.crt"), served.certPem);
      const r = runOpenssl(["verify", "-x509_strict", "-purpose", "sslserver", "-CAfile", join(dir, "bundle.crt"), join(dir, "tls.crt")]);
      assert.equal(r.status, 0, r.stdout + r.stderr);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("a TLS client trusting both CAs completes the handshake", async () => {
    const server = createServer({ cert: served.certPem, key: served.keyPem }, (_req, res) => res.end("ok"));
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    try {
      const port = (server.address() as AddressInfo).port;
      const body = await new Promise<string>((resolve, reject) => {
        const req = request({ host: "127.0.0.1", port, ca: [oldCA.certPem, newCA.certPem], servername: "pdi.ns.svc", agent: false }, (res) => {
          res.resume();
          res.on("end", () => resolve(String(res.statusCode)));
        });
        req.on("error", reject);
        req.end();
      });
      assert.equal(body, "200");
    } finally {
      await new Promise<void>((resolve) => server.close(() => resolve()));
    }
  });
});
