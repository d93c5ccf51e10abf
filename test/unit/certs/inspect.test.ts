import assert from "node:assert/strict";
import { X509Certificate } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { issueCertificateAuthority, issueServingCertificate } from "../../../certs/authority.js";
import { describeCertificate, describeCertificates, formatCertificateDescription, splitCertificateBundle } from "../../../certs/inspect.js";
import { runOpenssl } from "./openssl.js";

const NOW = new Date("2026-03-01T12:00:00Z");
const DAY = 24 * 60 * 60 * 1000;
const ca = issueCertificateAuthority({ now: NOW, commonName: "test-ca" });
const leaf = issueServingCertificate({
  ca,
  dnsNames: ["pdi", "pdi.ns", "pdi.ns.svc", "pdi.ns.svc.cluster.local"],
  ipAddresses: ["10.96.0.20", "fd00:0:0:0:0:10:0:1", "::1"],
  now: NOW,
});

function opensslField(pem: string, flag: string): string {
  const r = runOpenssl(["x509", "-noout", flag, "-sha256"], pem);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

describe("describeCertificate", () => {
  const caD = describeCertificate(ca.certPem);
  const leafD = describeCertificate(leaf.certPem);

  it("describes the CA", () => {
    assert.equal(caD.subject, "CN=test-ca");
    assert.equal(caD.issuer, "CN=test-ca");
    assert.equal(caD.selfIssued, true);
    assert.equal(caD.isCA, true);
    assert.equal(caD.pathLength, 0);
    assert.deepEqual(caD.keyUsage, ["keyCertSign", "cRLSign"]);
    assert.deepEqual(caD.extendedKeyUsage, []);
    assert.deepEqual(caD.dnsNames, []);
    assert.deepEqual(caD.ipAddresses, []);
    assert.equal(caD.publicKey, "rsa 2048");
    assert.equal(caD.notBefore.toISOString(), "2026-03-01T11:00:00.000Z");
    assert.equal(caD.notAfter.getTime(), NOW.getTime() + 3650 * DAY);
    assert.equal(caD.authorityKeyIdentifier, undefined);
  });

  it("describes the serving certificate", () => {
    assert.equal(leafD.subject, "CN=pdi");
    assert.equal(leafD.issuer, "CN=test-ca");
    assert.equal(leafD.selfIssued, false);
    assert.equal(leafD.isCA, false);
    assert.equal(leafD.pathLength, undefined);
    assert.deepEqual(leafD.dnsNames, ["pdi", "pdi.ns", "pdi.ns.svc", "pdi.ns.svc.cluster.local"]);
    assert.deepEqual(leafD.ipAddresses, ["10.96.0.20", "fd00::10:0:1", "::1"]);
    assert.deepEqual(leafD.keyUsage, ["digitalSignature", "keyEncipherment"]);
    assert.deepEqual(leafD.extendedKeyUsage, ["serverAuth"]);
    assert.equal(leafD.notBefore.toISOString(), "2026-03-01T11:00:00.000Z");
    assert.equal(leafD.notAfter.toISOString(), "2027-03-01T12:00:00.000Z");
  });

  it("links the leaf's AKI to the CA's SKI, as colon hex", () => {
    assert.match(caD.subjectKeyIdentifier ?? "", /^([0-9A-F]{2}:){19}[0-9A-F]{2}$/);
    assert.equal(leafD.authorityKeyIdentifier, caD.subjectKeyIdentifier);
    assert.notEqual(leafD.subjectKeyIdentifier, caD.subjectKeyIdentifier);
  });

  it("prints serial and fingerprint as openssl does", () => {
    for (const [pem, d] of [
      [ca.certPem, caD],
      [leaf.certPem, leafD],
    ] as const) {
      assert.equal(`serial=${d.serialNumber}`, opensslField(pem, "-serial"));
      assert.equal(`sha256 Fingerprint=${d.fingerprintSha256}`, opensslField(pem, "-fingerprint"));
      assert.equal(d.fingerprintSha256, new X509Certificate(pem).fingerprint256);
      assert.equal(d.serialNumber.length, 32);
    }
  });

  it("describes a certificate with an EC key (e.g. from cert-manager)", () => {
    const dir = mkdtempSync(join(tmpdir(), "pdi-ec-"));
    try {
      const certPath = join(dir, "ec.crt");
      const r = runOpenssl([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:prime256v1",
        "-nodes",
        "-keyout",
        join(dir, "ec.key"),
        "-out",
        certPath,
        "-days",
        "2",
        "-subj",
        "/O=example/CN=ec.example",
        "-addext",
        "subjectAltName=DNS:ec.example,IP:192.0.2.1",
        "-addext",
        "extendedKeyUsage=serverAuth,clientAuth,1.2.3.4",
      ]);
      assert.equal(r.status, 0, r.stderr);
      const d = describeCertificate(readFileSync(certPath, "utf8"));
      assert.equal(d.publicKey, "ec prime256v1");
      assert.equal(d.subject, "O=example, CN=ec.example");
      assert.deepEqual(d.dnsNames, ["ec.example"]);
      assert.deepEqual(d.ipAddresses, ["192.0.2.1"]);
      assert.deepEqual(d.extendedKeyUsage, ["serverAuth", "clientAuth", "1.2.3.4"]);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  const invalid: { name: string; pem: string; message: RegExp }[] = [
    { name: "no certificate", pem: ca.keyPem, message: /expected exactly one PEM certificate, found 0$/ },
    { name: "a bundle", pem: ca.certPem + leaf.certPem, message: /found 2 \(use describeCertificates/ },
    { name: "a corrupt block", pem: "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n", message: /certificate 1 of 1 cannot be parsed/ },
  ];
  for (const c of invalid) {
    it(`rejects ${c.name}`, () => assert.throws(() => describeCertificate(c.pem), { message: c.message }));
  }
});

describe("describeCertificates", () => {
  it("describes every certificate of a bundle in order, ignoring keys and text", () => {
    const bundle = `# trusted CAs\n${ca.certPem}${leaf.keyPem}\n${leaf.certPem}`;
    assert.equal(splitCertificateBundle(bundle).length, 2);
    assert.deepEqual(
      describeCertificates(bundle).map((d) => d.subject),
      ["CN=test-ca", "CN=pdi"],
    );
  });

  it("returns [] when there is no certificate", () => {
    assert.deepEqual(describeCertificates(""), []);
    assert.deepEqual(describeCertificates(ca.keyPem), []);
  });

  it("names the position of a corrupt block", () => {
    const bad = "-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n";
    assert.throws(() => describeCertificates(ca.certPem + bad), { message: "certificate 2 of 2 cannot be parsed" });
  });
});

describe("formatCertificateDescription", () => {
  const leafD = describeCertificate(leaf.certPem);
  const caD = describeCertificate(ca.certPem);

  it("prints one labelled line per field, aligned", () => {
    const text = formatCertificateDescription(leafD);
    const lines = text.split("\n");
    assert.deepEqual(
      lines.map((l) => l.slice(0, l.indexOf(":"))),
      [
        "Subject",
        "Issuer",
        "Serial",
        "Not before",
        "Not after",
        "CA",
        "DNS names",
        "IP addresses",
        "Key usage",
        "Ext key usage",
        "Public key",
        "Subject key ID",
        "Authority key ID",
        "SHA-256",
      ],
    );
    const valueColumn = lines[0]!.indexOf("CN=pdi");
    assert.ok(lines.every((l) => l.length > valueColumn && l[valueColumn - 1] === " " && l[valueColumn] !== " "));
    assert.ok(text.includes("DNS names:        pdi, pdi.ns, pdi.ns.svc, pdi.ns.svc.cluster.local"), text);
    assert.ok(text.includes("IP addresses:     10.96.0.20, fd00::10:0:1, ::1"), text);
    assert.ok(text.includes("Ext key usage:    serverAuth"), text);
    assert.ok(text.includes(`SHA-256:          ${leafD.fingerprintSha256}`), text);
    assert.ok(text.includes("Not after:        2027-03-01T12:00:00.000Z\n"), "no remaining time without now");
  });

  it("marks a CA and a self-issued issuer", () => {
    const text = formatCertificateDescription(caD);
    assert.match(text, /^Issuer: +CN=test-ca \(self-issued\)$/m);
    assert.match(text, /^CA: +yes, path length 0$/m);
    assert.match(text, /^Ext key usage: +\(none\)$/m);
    assert.doesNotMatch(text, /DNS names/);
  });

  const remaining: { now: string; want: RegExp }[] = [
    { now: "2026-03-01T12:00:00Z", want: /\(expires in 365 days\)$/m },
    { now: "2027-02-28T12:00:00Z", want: /\(expires in 24h00m\)$/m },
    { now: "2027-03-01T11:59:00Z", want: /\(expires in 1m\)$/m },
    { now: "2027-03-11T12:00:00Z", want: /\(EXPIRED 10 days ago\)$/m },
    { now: "2026-03-01T09:30:00Z", want: /\(not yet valid, starts in 1h30m\)$/m },
  ];
  for (const c of remaining) {
    it(`at ${c.now} says ${c.want.source}`, () => {
      assert.match(formatCertificateDescription(leafD, { now: new Date(c.now) }), c.want);
    });
  }
});
