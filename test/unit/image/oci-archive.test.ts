/**
 * image/oci-archive.ts writes a reproducible OCI image layout tar: same inputs, same
 * digest; sorted entries, one mtime, no host owners or names; index, manifest and config
 * as the OCI image-spec v1.1 describes them; Docker's manifest.json beside them.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { MEDIA_TYPES, writeOciArchive, type ImageSpec } from "../../../image/oci-archive.js";
import { readTar, readTarGz, type TarMember } from "./tar-reader.js";

const work = mkdtempSync(join(tmpdir(), "oci-archive-test-"));
after(() => rmSync(work, { recursive: true, force: true }));

const hostScript = join(work, "host-script.sh");
writeFileSync(hostScript, "#!/bin/sh\necho hi\n");
chmodSync(hostScript, 0o750);
const hostData = join(work, "host-data.txt");
writeFileSync(hostData, "data from the host\n");
chmodSync(hostData, 0o600);

// A path that fits neither ustar's 100-byte name nor a prefix split: needs a PAX header.
const longName = `opt/${"a".repeat(120)}/${"b".repeat(110)}.js`;
// Fits ustar only through the 155-byte prefix field.
const prefixedName = `opt/${"p".repeat(90)}/${"q".repeat(60)}.js`;

function smallSpec(overrides: Partial<ImageSpec> = {}): ImageSpec {
  return {
    name: "example.test/team/app:1.2.3",
    layers: [
      [
        { type: "file", path: "usr/lib/x86_64-linux-gnu/libfake.so.1", content: Buffer.from([0x7f, 0x45, 0x4c, 0x46]) },
        { type: "symlink", path: "lib64", target: "usr/lib64" },
        { type: "dir", path: "tmp", mode: 0o1777 },
        { type: "file", path: "etc/passwd", content: "nonroot:x:65532:65532::/home/nonroot:/sbin/nologin\n" },
      ],
      [
        { type: "file", path: "app/run.sh", source: hostScript },
        { type: "file", path: "app/data.txt", source: hostData },
        { type: "file", path: "app/forced.sh", source: hostData, mode: 0o755 },
        { type: "dir", path: "home/nonroot", mode: 0o700 },
        { type: "file", path: longName, content: "long" },
        { type: "file", path: prefixedName, content: "prefixed" },
        { type: "symlink", path: "app/long-link", target: `/${longName}` },
      ],
    ],
    entrypoint: ["/app/run.sh"],
    cmd: ["serve"],
    user: "65532:65532",
    env: ["PATH=/usr/bin", "NODE_ENV=production"],
    workingDir: "/app",
    labels: { "org.opencontainers.image.version": "1.2.3", "a.first": "x" },
    exposedPorts: ["8443/tcp", "8080/tcp"],
    owner: { "home/nonroot": { uid: 65532, gid: 65532 } },
    mtime: 0,
    ...overrides,
  };
}

let counter = 0;
async function build(spec: ImageSpec): Promise<{ digest: string; size: number; bytes: Buffer; members: Map<string, TarMember> }> {
  const out = join(work, `image-${counter++}.tar`);
  const archive = await writeOciArchive(spec, out);
  const bytes = readFileSync(out);
  assert.equal(archive.path, out);
  assert.equal(archive.size, bytes.length);
  return { digest: archive.digest, size: archive.size, bytes, members: new Map(readTar(bytes).map((m) => [m.name, m])) };
}

const sha256 = (b: Buffer): string => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const blob = (members: Map<string, TarMember>, digest: string): Buffer => {
  const m = members.get(`blobs/sha256/${digest.slice("sha256:".length)}`);
  assert.ok(m, `blob ${digest} is in the archive`);
  assert.equal(sha256(m.content), digest, "blob content matches its name");
  return m.content;
};
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- layout JSON is untyped, read field by field
const json = (b: Buffer): any => JSON.parse(b.toString("utf8"));

/* eslint-disable @typescript-eslint/no-explicit-any -- as above */
interface Layout {
  index: any;
  manifest: any;
  config: any;
  layers: TarMember[][];
  layerBlobs: Buffer[];
}
/* eslint-enable @typescript-eslint/no-explicit-any */
function readLayout(members: Map<string, TarMember>): Layout {
  const index = json(members.get("index.json")!.content);
  const manifest = json(blob(members, index.manifests[0].digest));
  const config = json(blob(members, manifest.config.digest));
  const layerBlobs = (manifest.layers as { digest: string }[]).map((l) => blob(members, l.digest));
  return { index, manifest, config, layerBlobs, layers: layerBlobs.map(readTarGz) };
}

describe("writeOciArchive", () => {
  it("gives the same bytes and digest for the same inputs, and a different one when an input changes", async () => {
    const first = await build(smallSpec());
    const second = await build(smallSpec());
    assert.match(first.digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(second.digest, first.digest);
    assert.ok(first.bytes.equals(second.bytes), "archives are byte-identical");

    const otherTime = await build(smallSpec({ mtime: 1_700_000_000 }));
    assert.notEqual(otherTime.digest, first.digest);
    const otherCmd = await build(smallSpec({ cmd: ["audit"] }));
    assert.notEqual(otherCmd.digest, first.digest);
  });

  it("ignores the order in which a layer lists its entries", async () => {
    const spec = smallSpec();
    const reversed = smallSpec({ layers: spec.layers.map((l) => [...l].reverse()) });
    assert.equal((await build(reversed)).digest, (await build(spec)).digest);
  });

  it("takes the mtime from SOURCE_DATE_EPOCH when the spec has none", async () => {
    const saved = process.env.SOURCE_DATE_EPOCH;
    process.env.SOURCE_DATE_EPOCH = "1234567890";
    try {
      const { mtime: _mtime, ...spec } = smallSpec();
      const { members } = await build(spec);
      const { layers, config } = readLayout(members);
      for (const m of [...members.values(), ...layers.flat()]) assert.equal(m.mtime, 1234567890, m.name);
      assert.equal(config.created, "2009-02-13T23:31:30Z");
    } finally {
      if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
      else process.env.SOURCE_DATE_EPOCH = saved;
    }
  });

  it("writes sorted layer entries with their parents, one mtime, no host owners, names or devices", async () => {
    const { members } = await build(smallSpec());
    const { layers } = readLayout(members);
    for (const layer of layers) {
      const names = layer.map((m) => m.name);
      assert.deepEqual(
        names,
        [...names].sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b))),
        "entries sorted by name",
      );
      for (const m of layer) {
        assert.ok(m.checksumOk, `${m.name}: header checksum`);
        assert.equal(m.mtime, 0, `${m.name}: mtime`);
        assert.equal(m.uname, "", `${m.name}: no user name`);
        assert.equal(m.gname, "", `${m.name}: no group name`);
        assert.ok(/^0*$/.test(m.devmajor) && /^0*$/.test(m.devminor), `${m.name}: no device numbers`);
        const expectedOwner = m.name.startsWith("home/nonroot/") ? 65532 : 0;
        assert.equal(m.uid, expectedOwner, `${m.name}: uid`);
        assert.equal(m.gid, expectedOwner, `${m.name}: gid`);
      }
    }
    assert.deepEqual(
      layers[0]!.map((m) => m.name),
      ["etc/", "etc/passwd", "lib64", "tmp/", "usr/", "usr/lib/", "usr/lib/x86_64-linux-gnu/", "usr/lib/x86_64-linux-gnu/libfake.so.1"],
    );
    // The outer archive is sorted and fixed too.
    const outer = [...members.keys()];
    assert.deepEqual(outer, [...outer].sort());
    for (const m of members.values()) assert.deepEqual([m.uid, m.gid, m.mtime, m.uname, m.gname], [0, 0, 0, "", ""], m.name);
  });

  it("keeps modes, symlinks, long names and file contents", async () => {
    const { members } = await build(smallSpec());
    const byName = new Map(
      readLayout(members)
        .layers.flat()
        .map((m) => [m.name, m]),
    );
    const get = (name: string): TarMember => {
      const m = byName.get(name);
      assert.ok(m, `${name} is in a layer`);
      return m;
    };
    assert.deepEqual([get("tmp/").typeflag, get("tmp/").mode], ["5", 0o1777]);
    assert.deepEqual([get("usr/").typeflag, get("usr/").mode], ["5", 0o755], "implied parents are 0755 directories");
    assert.deepEqual([get("home/nonroot/").mode, get("home/nonroot/").uid], [0o700, 65532]);
    assert.deepEqual([get("etc/passwd").typeflag, get("etc/passwd").mode], ["0", 0o644]);
    assert.equal(get("app/run.sh").mode, 0o755, "an executable host file becomes 0755 (never its group/other bits as-is)");
    assert.equal(get("app/data.txt").mode, 0o644, "a plain host file becomes 0644");
    assert.equal(get("app/forced.sh").mode, 0o755, "an explicit mode wins");
    assert.equal(get("app/run.sh").content.toString(), "#!/bin/sh\necho hi\n");
    assert.deepEqual([get("lib64").typeflag, get("lib64").linkname, get("lib64").size], ["2", "usr/lib64", 0]);
    assert.equal(get(longName).content.toString(), "long");
    assert.equal(get(prefixedName).content.toString(), "prefixed");
    assert.equal(get("app/long-link").linkname, `/${longName}`);
  });

  it("writes an OCI layout: oci-layout, an index naming the image, a manifest, a config", async () => {
    const { members } = await build(smallSpec());
    assert.deepEqual(json(members.get("oci-layout")!.content), { imageLayoutVersion: "1.0.0" });
    const { index, manifest, config, layerBlobs } = readLayout(members);

    assert.equal(index.schemaVersion, 2);
    assert.equal(index.mediaType, MEDIA_TYPES.index);
    assert.equal(index.manifests.length, 1);
    const entry = index.manifests[0];
    assert.equal(entry.mediaType, MEDIA_TYPES.manifest);
    assert.equal(entry.size, blob(members, entry.digest).length);
    assert.deepEqual(entry.annotations, {
      "io.containerd.image.name": "example.test/team/app:1.2.3",
      "org.opencontainers.image.ref.name": "example.test/team/app:1.2.3",
    });
    assert.deepEqual(entry.platform, { architecture: "amd64", os: "linux" });

    assert.equal(manifest.schemaVersion, 2);
    assert.equal(manifest.mediaType, MEDIA_TYPES.manifest);
    assert.equal(manifest.config.mediaType, MEDIA_TYPES.config);
    assert.equal(manifest.config.size, blob(members, manifest.config.digest).length);
    assert.equal(manifest.layers.length, 2);
    for (const [i, layer] of (manifest.layers as { mediaType: string; size: number }[]).entries()) {
      assert.equal(layer.mediaType, MEDIA_TYPES.layerGzip);
      assert.equal(layer.size, layerBlobs[i]!.length);
      // gzip header: magic, deflate, no flags (no file name), mtime 0.
      assert.deepEqual([...layerBlobs[i]!.subarray(0, 8)], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0], `layer ${i} gzip header`);
    }

    assert.equal(config.architecture, "amd64");
    assert.equal(config.os, "linux");
    assert.equal(config.created, "1970-01-01T00:00:00Z");
    assert.deepEqual(config.config, {
      User: "65532:65532",
      ExposedPorts: { "8080/tcp": {}, "8443/tcp": {} },
      Env: ["PATH=/usr/bin", "NODE_ENV=production"],
      Entrypoint: ["/app/run.sh"],
      Cmd: ["serve"],
      WorkingDir: "/app",
      Labels: { "a.first": "x", "org.opencontainers.image.version": "1.2.3" },
    });
    assert.equal(config.rootfs.type, "layers");
    const { gunzipSync } = await import("node:zlib");
    assert.deepEqual(
      config.rootfs.diff_ids,
      layerBlobs.map((b) => sha256(gunzipSync(b))),
      "diff_ids are the uncompressed layer digests",
    );
    assert.equal(config.history.length, 2);
  });

  it("writes Docker's manifest.json pointing at the same config and layers", async () => {
    const { members } = await build(smallSpec());
    const { manifest } = readLayout(members);
    const docker = json(members.get("manifest.json")!.content);
    assert.deepEqual(docker, [
      {
        Config: `blobs/sha256/${manifest.config.digest.slice(7)}`,
        RepoTags: ["example.test/team/app:1.2.3"],
        Layers: manifest.layers.map((l: { digest: string }) => `blobs/sha256/${l.digest.slice(7)}`),
      },
    ]);
    const { Config, Layers } = json(members.get("manifest.json")!.content)[0];
    for (const path of [Config, ...Layers]) assert.ok(members.has(path), `${path} exists`);
  });

  it("is read by GNU tar the same way: names, link targets, numeric owners", async () => {
    const { members } = await build(smallSpec());
    const { manifest } = readLayout(members);
    const layerPath = join(work, "layer1.tar.gz");
    writeFileSync(layerPath, blob(members, manifest.layers[1].digest));
    const r = spawnSync("tar", ["--numeric-owner", "-tvzf", layerPath], { encoding: "utf8" });
    assert.equal(r.error, undefined, "GNU tar must be installed (apt-get install tar gzip)");
    assert.equal(r.status, 0, r.stderr);
    const lines = r.stdout.trim().split("\n");
    assert.ok(
      lines.some((l) => l.startsWith("-rwxr-xr-x 0/0 ") && l.endsWith(" app/run.sh")),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => l.startsWith("drwx------ 65532/65532 ") && l.endsWith(" home/nonroot/")),
      r.stdout,
    );
    assert.ok(
      lines.some((l) => l.endsWith(` ${longName}`)),
      "PAX long name understood",
    );
    assert.ok(
      lines.some((l) => l.endsWith(` app/long-link -> /${longName}`)),
      "PAX long link understood",
    );
    assert.ok(
      lines.every((l) => l.includes(" 1970-01-01 00:00 ")),
      "every mtime is the epoch",
    );
  });

  it("rejects paths that escape or repeat, and files with both or neither content and source", async () => {
    const out = join(work, "bad.tar");
    const spec = (layer: ImageSpec["layers"][number]): ImageSpec => ({ name: "x.test/a:1", layers: [layer], mtime: 0 });
    await assert.rejects(writeOciArchive(spec([{ type: "dir", path: "/abs" }]), out), /must be relative/);
    await assert.rejects(writeOciArchive(spec([{ type: "dir", path: "a/../b" }]), out), /must be relative/);
    await assert.rejects(
      writeOciArchive(
        spec([
          { type: "dir", path: "a" },
          { type: "dir", path: "a" },
        ]),
        out,
      ),
      /lists a twice/,
    );
    await assert.rejects(writeOciArchive(spec([{ type: "file", path: "f" }]), out), /exactly one of content or source/);
    await assert.rejects(writeOciArchive(spec([{ type: "file", path: "f", content: "x", source: hostData }]), out), /exactly one of content or source/);
    await assert.rejects(writeOciArchive(spec([{ type: "file", path: "f", source: join(work, "missing") }]), out), /cannot read source/);
    await assert.rejects(
      writeOciArchive(
        spec([
          { type: "file", path: "a", content: "x" },
          { type: "file", path: "a/b", content: "y" },
        ]),
        out,
      ),
      /below a, which is a file/,
    );
    await assert.rejects(writeOciArchive({ name: "x.test/a:1", layers: [] }, out), /at least one layer/);
  });
});
