import assert from "node:assert/strict";
import { mkdtemp, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import tls from "node:tls";
import pino from "pino";
import { Registry } from "prom-client";
import { issueCertificateAuthority, issueServingCertificate, type PemKeyPair } from "../../../certs/authority.js";
import { ExternalCertificateFiles } from "../../../certs/external-files.js";
import { createCertificateMetrics, type CertificateMetrics } from "../../../certs/metrics.js";
import { parseKeyPair, type ParsedKeyPair } from "../../../certs/secret-layout.js";
import { ServingReloader } from "../../../certs/serving-reloader.js";

const log = pino({ level: "silent" });
const now = new Date();

function issue(): { ca: PemKeyPair; serving: PemKeyPair; pair: ParsedKeyPair } {
  const ca = issueCertificateAuthority({ now, commonName: "hot-reload test CA" });
  const serving = issueServingCertificate({ ca, now, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"] });
  const pair = parseKeyPair(serving.certPem, serving.keyPem);
  assert.ok(pair.ok);
  return { ca, serving, pair: pair.value };
}

/** The fingerprint of the certificate a fresh TLS handshake with `port` gets, verified against `ca`. */
function servedFingerprint(port: number, ca: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tls.connect({ host: "127.0.0.1", port, ca, servername: "localhost" }, () => {
      const fp = socket.getPeerX509Certificate()?.fingerprint256 ?? "";
      socket.end();
      resolve(fp);
    });
    socket.on("error", reject);
  });
}

describe("hot reload of the serving certificate", () => {
  let server: tls.Server;
  let port: number;
  let metrics: CertificateMetrics;
  let registry: Registry;
  const first = issue();
  const second = issue();

  before(async () => {
    registry = new Registry();
    metrics = createCertificateMetrics(registry);
    server = tls.createServer({ cert: first.serving.certPem, key: first.serving.keyPem, minVersion: "TLSv1.2" }, () => undefined);
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    port = (server.address() as { port: number }).port;
  });
  after(() => new Promise<void>((resolve) => server.close(() => resolve())));

  it("ServingReloader swaps the certificate of a running server for new handshakes", async () => {
    const reloader = new ServingReloader({ log, metrics, source: "secret" });
    assert.equal(reloader.load(first.pair, "test"), true);
    reloader.attach(server, { certPem: first.serving.certPem });
    assert.equal(await servedFingerprint(port, first.ca.certPem), first.pair.fingerprint);
    // An established connection keeps working across the swap.
    const open = tls.connect({ host: "127.0.0.1", port, ca: first.ca.certPem, servername: "localhost" });
    await new Promise((resolve) => open.once("secureConnect", resolve));
    assert.equal(reloader.load(second.pair, "test"), true);
    assert.equal(reloader.load(second.pair, "test"), false, "loading the same certificate again is a no-op");
    assert.equal(await servedFingerprint(port, second.ca.certPem), second.pair.fingerprint);
    assert.equal(open.getPeerX509Certificate()?.fingerprint256, first.pair.fingerprint);
    open.destroy();
    const text = await registry.metrics();
    assert.match(text, /pod_dns_injector_certificate_reloads_total\{source="secret"\} 1/);
    assert.match(text, new RegExp(`pod_dns_injector_certificate_not_after_seconds\\{cert="serving"\\} ${Math.floor(second.pair.notAfter.getTime() / 1000)}`));
  });

  it("attach loads a certificate that arrived while the server was starting", async () => {
    const reloader = new ServingReloader({ log, metrics, source: "secret" });
    reloader.load(first.pair, "test");
    reloader.attach(server, { certPem: second.serving.certPem });
    assert.equal(await servedFingerprint(port, first.ca.certPem), first.pair.fingerprint);
  });

  describe("ExternalCertificateFiles", () => {
    let dir: string;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), "pod-dns-injector-files-"));
    });
    after(() => rm(dir, { recursive: true, force: true }));

    /** As the kubelet does: write elsewhere, then swap in with a rename. */
    async function replace(name: string, content: string): Promise<void> {
      await writeFile(join(dir, `.${name}.new`), content);
      await rename(join(dir, `.${name}.new`), join(dir, name));
    }

    it("reloads changed files, skips a half-updated pair, publishes ca.crt", async () => {
      await replace("tls.crt", first.serving.certPem);
      await replace("tls.key", first.serving.keyPem);
      await replace("ca.crt", first.ca.certPem);
      const reloader = new ServingReloader({ log, metrics, source: "files" });
      const cas: string[] = [];
      const files = new ExternalCertificateFiles({
        certFile: join(dir, "tls.crt"),
        keyFile: join(dir, "tls.key"),
        caFile: join(dir, "ca.crt"),
        reloader,
        log,
        metrics,
        onCA: (pem) => void cas.push(pem),
      });
      assert.deepEqual(await files.check(), { changed: true });
      reloader.attach(server, { certPem: first.serving.certPem });
      assert.equal(files.readiness(), null);
      assert.deepEqual(cas, [first.ca.certPem]);
      assert.deepEqual(await files.check(), { changed: false });

      // The new certificate lands before its key: not loaded, the old pair keeps serving.
      await replace("tls.crt", second.serving.certPem);
      const half = await files.check();
      assert.equal(half.changed, false);
      assert.match(half.problem ?? "", /private key does not belong to certificate/);
      assert.equal(await servedFingerprint(port, first.ca.certPem), first.pair.fingerprint);
      assert.equal(files.readiness(), null, "a good certificate is still served");

      await replace("tls.key", second.serving.keyPem);
      await replace("ca.crt", second.ca.certPem);
      assert.deepEqual(await files.check(), { changed: true });
      assert.equal(await servedFingerprint(port, second.ca.certPem), second.pair.fingerprint);
      assert.deepEqual(cas, [first.ca.certPem, second.ca.certPem]);
    });

    it("polls on its own until stopped", async () => {
      await replace("tls.crt", first.serving.certPem);
      await replace("tls.key", first.serving.keyPem);
      const reloader = new ServingReloader({ log, metrics, source: "files" });
      const files = new ExternalCertificateFiles({ certFile: join(dir, "tls.crt"), keyFile: join(dir, "tls.key"), reloader, log, metrics, pollMs: 20 });
      await files.check();
      files.start();
      await replace("tls.crt", second.serving.certPem);
      await replace("tls.key", second.serving.keyPem);
      for (let i = 0; i < 100 && reloader.current?.fingerprint !== second.pair.fingerprint; i++) await new Promise((r) => setTimeout(r, 20));
      assert.equal(reloader.current?.fingerprint, second.pair.fingerprint, "not reloaded within 2 s");
      await files.stop();
    });

    it("is not ready without readable files", async () => {
      const reloader = new ServingReloader({ log, metrics, source: "files" });
      const files = new ExternalCertificateFiles({ certFile: join(dir, "missing.crt"), keyFile: join(dir, "missing.key"), reloader, log, metrics });
      const r = await files.check();
      assert.match(r.problem ?? "", /cannot read .*missing\.(crt|key): ENOENT/);
      assert.match(files.readiness() ?? "", /^certificates: cannot read/);
    });
  });
});
