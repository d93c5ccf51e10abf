import assert from "node:assert/strict";
import { chmodSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, it } from "node:test";
import type { PemKeyPair } from "../../../certs/authority.js";
import { CertificateFilesExistError, writeCertificateFiles } from "../../../certs/files.js";

// The writer does not look inside the PEM, so stand-ins keep this test free of key generation.
const CA: PemKeyPair = { certPem: "CA CERT\n", keyPem: "CA KEY\n" };
const SERVING: PemKeyPair = { certPem: "TLS CERT\n", keyPem: "TLS KEY\n" };
const NAMES = ["ca.crt", "ca.key", "tls.crt", "tls.key"];

const mode = (path: string): number => statSync(path).mode & 0o777;

describe("writeCertificateFiles", () => {
  let root: string;
  beforeEach(() => {
    root = mkdtempSync(join(tmpdir(), "pdi-files-"));
  });
  afterEach(() => rmSync(root, { recursive: true, force: true }));

  it("creates the directory and writes the four files, returning their paths", async () => {
    const dir = join(root, "nested", "out");
    const written = await writeCertificateFiles(dir, CA, SERVING);
    assert.deepEqual(
      written,
      NAMES.map((n) => join(dir, n)),
    );
    const want: Record<string, string> = { "ca.crt": "CA CERT\n", "ca.key": "CA KEY\n", "tls.crt": "TLS CERT\n", "tls.key": "TLS KEY\n" };
    for (const [name, content] of Object.entries(want)) assert.equal(readFileSync(join(dir, name), "utf8"), content, name);
    assert.deepEqual(readdirSync(dir).sort(), NAMES);
  });

  it("makes keys 0600 and certificates at most 0644", async () => {
    await writeCertificateFiles(root, CA, SERVING);
    for (const key of ["ca.key", "tls.key"]) assert.equal(mode(join(root, key)), 0o600, key);
    for (const cert of ["ca.crt", "tls.crt"]) {
      const m = mode(join(root, cert));
      assert.equal(m & ~0o644, 0, `${cert} mode ${m.toString(8)}`);
      assert.ok(m & 0o400, `${cert} is owner-readable`);
    }
  });

  const existingCases: { name: string; present: string[] }[] = [
    { name: "all four exist", present: NAMES },
    { name: "only tls.key exists", present: ["tls.key"] },
    { name: "ca.crt and ca.key exist", present: ["ca.crt", "ca.key"] },
  ];
  for (const c of existingCases) {
    it(`refuses without force when ${c.name}, writing nothing`, async () => {
      for (const name of c.present) writeFileSync(join(root, name), "OLD\n");
      await assert.rejects(writeCertificateFiles(root, CA, SERVING), (err: unknown) => {
        assert.ok(err instanceof CertificateFilesExistError);
        assert.equal(err.code, "EEXIST");
        assert.deepEqual(
          err.existing,
          c.present.map((n) => join(root, n)),
        );
        assert.match(err.message, /refusing to overwrite existing certificate files/);
        return true;
      });
      assert.deepEqual(readdirSync(root).sort(), [...c.present].sort(), "no other file was created");
      for (const name of c.present) assert.equal(readFileSync(join(root, name), "utf8"), "OLD\n");
    });
  }

  it("replaces existing files with force, restoring key modes and leaving no temp files", async () => {
    for (const name of NAMES) writeFileSync(join(root, name), "OLD\n", { mode: 0o644 });
    chmodSync(join(root, "tls.key"), 0o644);
    const written = await writeCertificateFiles(root, CA, SERVING, { force: true });
    assert.deepEqual(
      written,
      NAMES.map((n) => join(root, n)),
    );
    assert.equal(readFileSync(join(root, "tls.key"), "utf8"), "TLS KEY\n");
    assert.equal(readFileSync(join(root, "ca.crt"), "utf8"), "CA CERT\n");
    assert.equal(mode(join(root, "tls.key")), 0o600);
    assert.equal(mode(join(root, "ca.key")), 0o600);
    assert.deepEqual(readdirSync(root).sort(), NAMES);
  });

  it("writes with force into an empty directory too", async () => {
    await writeCertificateFiles(root, CA, SERVING, { force: true });
    assert.deepEqual(readdirSync(root).sort(), NAMES);
  });

  it("reports an fs failure with the path", async () => {
    const fileAsDir = join(root, "not-a-dir");
    writeFileSync(fileAsDir, "");
    await assert.rejects(writeCertificateFiles(join(fileAsDir, "out"), CA, SERVING), { code: "ENOTDIR" });
  });
});
