// Writes a container image as one reproducible file: an OCI image layout
// (https://github.com/opencontainers/image-spec/blob/v1.1.0/image-layout.md) in a tar, with
// the Docker `manifest.json` beside it so `docker load` accepts the same file that
// `ctr images import` and `skopeo copy oci-archive:` read. No daemon, no registry.
//
// Reproducible by construction: entries sorted by path, parents added, one fixed mtime,
// owner 0:0 unless the spec says otherwise, no host user/group names, gzip header with
// mtime 0, JSON with a fixed key order. The same spec and the same file contents give the
// same digest. (The compressed bytes depend on the zlib that Node ships: the same Node
// gives the same digest; the uncompressed diff_ids never change.)
import { createHash, type Hash } from "node:crypto";
import { createReadStream, createWriteStream } from "node:fs";
import { lstat, mkdir, mkdtemp, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGzip } from "node:zlib";
import { tarEnd, tarHeader, tarPadding, type TarHeader } from "./tar-writer.js";

/** One entry in a layer. Paths are relative, without a leading slash ("usr/bin/x"). */
export type LayerEntry =
  | { type: "dir"; path: string; mode?: number /* default 0o755 */ }
  | {
      type: "file";
      path: string;
      /** Default 0o644; for a `source` file, 0o755 when the host file is executable. */
      mode?: number;
      content?: string | Buffer;
      /** Host file to copy (its content only: never its owner, times or mode bits beyond x). */
      source?: string;
    }
  | { type: "symlink"; path: string; target: string };

/** uid and gid of the entries under a path prefix. */
export interface Owner {
  uid: number;
  gid: number;
}

export interface ImageSpec {
  /** Full reference, e.g. "ghcr.io/pod-dns-injector/pod-dns-injector:0.1.0";
   *  written as io.containerd.image.name and org.opencontainers.image.ref.name. */
  name: string;
  /** Bottom layer first. Entries are sorted, mtime fixed (SOURCE_DATE_EPOCH or 0),
   *  uid/gid 0 unless `owner` says otherwise, so the same inputs give the same digest. */
  layers: LayerEntry[][];
  entrypoint?: string[];
  cmd?: string[];
  /** "65532:65532" */
  user?: string;
  /** ["PATH=/..."] */
  env?: string[];
  workingDir?: string;
  labels?: Record<string, string>;
  /** ["8443/tcp"] */
  exposedPorts?: string[];
  /** Owner per path prefix, e.g. { "tmp": {uid:0,gid:0} }; the longest matching prefix wins;
   *  default 0:0. */
  owner?: Record<string, Owner>;
  /** Seconds since the epoch for every mtime and the config's `created`; default
   *  SOURCE_DATE_EPOCH, else 0. */
  mtime?: number;
  /** Default "amd64". */
  architecture?: string;
  /** Default "linux". */
  os?: string;
  /** Annotations on the manifest (and its index entry), e.g. org.opencontainers.image.source. */
  annotations?: Record<string, string>;
  /** gzip level for the layers, default 6 (zlib's default; 9 gains ~1% for 3x the time). */
  compressionLevel?: number;
}

export interface ImageArchive {
  path: string;
  /** "sha256:..." of the image manifest: what `ctr images ls` and a registry show as the digest. */
  digest: string;
  /** Bytes of the archive file. */
  size: number;
  /** "sha256:..." of the config blob: Docker's image ID. */
  configDigest: string;
  /** Per layer, bottom first: the compressed blob digest and size and the uncompressed diff_id. */
  layers: { digest: string; size: number; diffId: string }[];
}

export const MEDIA_TYPES = {
  index: "application/vnd.oci.image.index.v1+json",
  manifest: "application/vnd.oci.image.manifest.v1+json",
  config: "application/vnd.oci.image.config.v1+json",
  layerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
} as const;

interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
}

/** A layer entry with everything decided: the form the tar writer consumes. */
interface ResolvedEntry {
  header: TarHeader;
  content?: Buffer;
  source?: string;
}

/** The mtime when the spec gives none: SOURCE_DATE_EPOCH (reproducible-builds.org), else 0. */
export function sourceDateEpoch(): number {
  const fromEnv = process.env.SOURCE_DATE_EPOCH;
  if (fromEnv === undefined || fromEnv === "") return 0;
  const seconds = Number(fromEnv);
  if (!Number.isInteger(seconds) || seconds < 0) throw new Error(`SOURCE_DATE_EPOCH must be a non-negative integer, got ${JSON.stringify(fromEnv)}`);
  return seconds;
}

/** Rejects paths a runtime would mis-extract or that escape the root. */
function checkPath(path: string): void {
  const parts = path.split("/");
  if (path === "" || path.startsWith("/") || parts.some((p) => p === "" || p === "." || p === "..")) {
    throw new Error(`layer entry path must be relative, without "." or ".." or empty components: ${JSON.stringify(path)}`);
  }
}

function ownerOf(path: string, owners: Record<string, Owner>): Owner {
  let best: { prefix: string; owner: Owner } | undefined;
  for (const [prefix, owner] of Object.entries(owners)) {
    const bare = prefix.replace(/^\/+|\/+$/g, "");
    if ((path === bare || path.startsWith(`${bare}/`)) && (!best || bare.length > best.prefix.length)) best = { prefix: bare, owner };
  }
  return best?.owner ?? { uid: 0, gid: 0 };
}

async function resolveEntry(entry: LayerEntry, mtime: number, owners: Record<string, Owner>): Promise<ResolvedEntry> {
  const { uid, gid } = ownerOf(entry.path, owners);
  const base = { uid, gid, mtime };
  switch (entry.type) {
    case "dir":
      return { header: { ...base, name: `${entry.path}/`, type: "dir", mode: entry.mode ?? 0o755, size: 0 } };
    case "symlink":
      return { header: { ...base, name: entry.path, type: "symlink", mode: 0o777, size: 0, linkname: entry.target } };
    case "file": {
      if ((entry.content === undefined) === (entry.source === undefined)) {
        throw new Error(`layer file ${entry.path}: give exactly one of content or source`);
      }
      if (entry.source !== undefined) {
        const st = await stat(entry.source).catch((cause: unknown) => {
          throw new Error(`layer file ${entry.path}: cannot read source ${entry.source}`, { cause });
        });
        if (!st.isFile()) throw new Error(`layer file ${entry.path}: source ${entry.source} is not a regular file`);
        const mode = entry.mode ?? (st.mode & 0o111 ? 0o755 : 0o644);
        return { header: { ...base, name: entry.path, type: "file", mode, size: st.size }, source: entry.source };
      }
      const content = typeof entry.content === "string" ? Buffer.from(entry.content, "utf8") : entry.content!;
      return { header: { ...base, name: entry.path, type: "file", mode: entry.mode ?? 0o644, size: content.length }, content };
    }
  }
}

/**
 * Sorts a layer's entries by path (bytewise, so parents come first) and adds the parent
 * directories the layer does not list, so extraction never invents their mode or owner.
 */
async function resolveLayer(entries: LayerEntry[], mtime: number, owners: Record<string, Owner>): Promise<ResolvedEntry[]> {
  const byPath = new Map<string, LayerEntry>();
  for (const entry of entries) {
    checkPath(entry.path);
    if (byPath.has(entry.path)) throw new Error(`layer lists ${entry.path} twice`);
    byPath.set(entry.path, entry);
  }
  for (const path of [...byPath.keys()]) {
    const parts = path.split("/");
    for (let i = 1; i < parts.length; i++) {
      const parent = parts.slice(0, i).join("/");
      const existing = byPath.get(parent);
      if (existing === undefined) byPath.set(parent, { type: "dir", path: parent });
      else if (existing.type !== "dir") throw new Error(`layer entry ${path} is below ${parent}, which is a ${existing.type}`);
    }
  }
  const sorted = [...byPath.values()].sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return Promise.all(sorted.map((entry) => resolveEntry(entry, mtime, owners)));
}

async function* layerTar(entries: ResolvedEntry[]): AsyncGenerator<Buffer> {
  for (const entry of entries) {
    yield tarHeader(entry.header);
    if (entry.content) {
      yield entry.content;
    } else if (entry.source !== undefined) {
      let copied = 0;
      for await (const chunk of createReadStream(entry.source)) {
        copied += (chunk as Buffer).length;
        yield chunk as Buffer;
      }
      // The header already promised a size: a file that changed under us would corrupt the tar.
      if (copied !== entry.header.size) throw new Error(`layer file ${entry.header.name}: ${entry.source} changed while copying (${copied} of ${entry.header.size} bytes)`);
    }
    yield tarPadding(entry.header.size);
  }
  yield tarEnd();
}

/** A pass-through stream that hashes and counts what flows through it. */
class Digester extends Transform {
  readonly hash: Hash = createHash("sha256");
  size = 0;
  override _transform(chunk: Buffer, _encoding: BufferEncoding, done: TransformCallback): void {
    this.hash.update(chunk);
    this.size += chunk.length;
    done(null, chunk);
  }
  digest(): string {
    return `sha256:${this.hash.digest("hex")}`;
  }
}

/** Writes one layer as a gzip blob into `blobDir`; returns its descriptor and diff_id. */
async function writeLayerBlob(entries: ResolvedEntry[], blobDir: string, index: number, level: number): Promise<Descriptor & { diffId: string }> {
  const tmp = join(blobDir, `layer-${index}.tmp`);
  const uncompressed = new Digester();
  const compressed = new Digester();
  // createGzip writes a header with mtime 0 and no file name: nothing from the host.
  await pipeline(Readable.from(layerTar(entries)), uncompressed, createGzip({ level }), compressed, createWriteStream(tmp));
  const digest = compressed.digest();
  await rename(tmp, join(blobDir, digest.slice("sha256:".length)));
  return { mediaType: MEDIA_TYPES.layerGzip, digest, size: compressed.size, diffId: uncompressed.digest() };
}

function sha256(data: Buffer): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** JSON blobs are written once, compactly: their bytes are what the digests name. */
function jsonBlob(value: unknown): Buffer {
  return Buffer.from(JSON.stringify(value), "utf8");
}

function sortedObject<T>(record: Record<string, T> | undefined): Record<string, T> | undefined {
  if (!record || Object.keys(record).length === 0) return undefined;
  return Object.fromEntries(Object.entries(record).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** The image config (https://github.com/opencontainers/image-spec/blob/v1.1.0/config.md). */
export function imageConfig(spec: ImageSpec, diffIds: string[], mtime: number): Record<string, unknown> {
  const config: Record<string, unknown> = {};
  if (spec.user !== undefined) config.User = spec.user;
  if (spec.exposedPorts?.length) config.ExposedPorts = Object.fromEntries([...spec.exposedPorts].sort().map((p) => [p, {}]));
  if (spec.env?.length) config.Env = spec.env;
  if (spec.entrypoint) config.Entrypoint = spec.entrypoint;
  if (spec.cmd) config.Cmd = spec.cmd;
  if (spec.workingDir !== undefined) config.WorkingDir = spec.workingDir;
  const labels = sortedObject(spec.labels);
  if (labels) config.Labels = labels;
  const created = new Date(mtime * 1000).toISOString().replace(/\.000Z$/, "Z");
  return {
    created,
    architecture: spec.architecture ?? "amd64",
    os: spec.os ?? "linux",
    config,
    rootfs: { type: "layers", diff_ids: diffIds },
    history: diffIds.map((_, i) => ({ created, created_by: `pod-dns-injector image/oci-archive.ts layer ${i}` })),
  };
}

async function* outerTar(files: { name: string; content?: Buffer; source?: string; size: number }[], mtime: number): AsyncGenerator<Buffer> {
  const common = { uid: 0, gid: 0, mtime };
  yield tarHeader({ ...common, name: "blobs/", type: "dir", mode: 0o755, size: 0 });
  yield tarHeader({ ...common, name: "blobs/sha256/", type: "dir", mode: 0o755, size: 0 });
  for (const file of files) {
    yield tarHeader({ ...common, name: file.name, type: "file", mode: 0o644, size: file.size });
    if (file.content) yield file.content;
    else if (file.source !== undefined) for await (const chunk of createReadStream(file.source)) yield chunk as Buffer;
    yield tarPadding(file.size);
  }
  yield tarEnd();
}

/** Writes an OCI image layout as one tar (oci-layout, index.json, blobs/sha256/*), plus the
 *  Docker `manifest.json` so `docker load` and `ctr images import` both accept it.
 *  The file appears at `outFile` only when complete (written beside it, then renamed). */
export async function writeOciArchive(spec: ImageSpec, outFile: string): Promise<ImageArchive> {
  if (spec.layers.length === 0) throw new Error(`image ${spec.name}: at least one layer is needed`);
  const mtime = spec.mtime ?? sourceDateEpoch();
  const owners = spec.owner ?? {};
  await mkdir(dirname(outFile), { recursive: true });
  const work = await mkdtemp(join(dirname(outFile), `.${basename(outFile)}.`));
  try {
    const layers: (Descriptor & { diffId: string })[] = [];
    for (const [i, entries] of spec.layers.entries()) {
      layers.push(await writeLayerBlob(await resolveLayer(entries, mtime, owners), work, i, spec.compressionLevel ?? 6));
    }
    const config = jsonBlob(
      imageConfig(
        spec,
        layers.map((l) => l.diffId),
        mtime,
      ),
    );
    const configDesc: Descriptor = { mediaType: MEDIA_TYPES.config, digest: sha256(config), size: config.length };
    const annotations = sortedObject(spec.annotations);
    const manifest = jsonBlob({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.manifest,
      config: configDesc,
      layers: layers.map(({ mediaType, digest, size }) => ({ mediaType, digest, size })),
      ...(annotations ? { annotations } : {}),
    });
    const manifestDesc: Descriptor = { mediaType: MEDIA_TYPES.manifest, digest: sha256(manifest), size: manifest.length };
    const index = jsonBlob({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.index,
      manifests: [
        {
          ...manifestDesc,
          annotations: { ...annotations, "io.containerd.image.name": spec.name, "org.opencontainers.image.ref.name": spec.name },
          platform: { architecture: spec.architecture ?? "amd64", os: spec.os ?? "linux" },
        },
      ],
    });
    const blobPath = (digest: string): string => `blobs/sha256/${digest.slice("sha256:".length)}`;
    // Docker's `docker save` format: config and layers by path; docker load gunzips layers itself.
    const dockerManifest = jsonBlob([{ Config: blobPath(configDesc.digest), RepoTags: [spec.name], Layers: layers.map((l) => blobPath(l.digest)) }]);

    const blobs = new Map<string, { content?: Buffer; source?: string; size: number }>();
    for (const l of layers) blobs.set(blobPath(l.digest), { source: join(work, l.digest.slice("sha256:".length)), size: l.size });
    blobs.set(blobPath(configDesc.digest), { content: config, size: config.length });
    blobs.set(blobPath(manifestDesc.digest), { content: manifest, size: manifest.length });
    const layout = jsonBlob({ imageLayoutVersion: "1.0.0" });
    // Every member in byte order of its name: blobs/ (and its two directories) first.
    const files = [
      ...[...blobs.entries()].map(([name, blob]) => ({ name, ...blob })),
      { name: "index.json", content: index, size: index.length },
      { name: "manifest.json", content: dockerManifest, size: dockerManifest.length },
      { name: "oci-layout", content: layout, size: layout.length },
    ].sort((a, b) => Buffer.compare(Buffer.from(a.name), Buffer.from(b.name)));
    const tmpArchive = join(work, "archive.tar");
    await pipeline(Readable.from(outerTar(files, mtime)), createWriteStream(tmpArchive));
    await rename(tmpArchive, outFile);
    const { size } = await lstat(outFile);
    return {
      path: outFile,
      digest: manifestDesc.digest,
      size,
      configDigest: configDesc.digest,
      layers: layers.map(({ digest, size: s, diffId }) => ({ digest, size: s, diffId })),
    };
  } finally {
    await rm(work, { recursive: true, force: true });
  }
}
