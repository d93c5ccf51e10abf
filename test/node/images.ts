/**
 * The node's own images (no registry is reachable from the test machine): the sandbox
 * ("pause") image, CoreDNS and the dnsprobe test client, each a single static binary in
 * one layer, written with the project's OCI archive writer and cached by content under
 * ~/.cache/pod-dns-injector/node/images.
 */
import { createHash } from "node:crypto";
import { existsSync, readFileSync } from "node:fs";
import { mkdir, rename } from "node:fs/promises";
import { homedir } from "node:os";
import { basename, dirname, join } from "node:path";
import { writeOciArchive, type ImageSpec } from "../../image/oci-archive.js";
import type { NodeBinaries } from "./binaries.js";

/** A test image: its reference (as pods name it) and the archive to import. */
export interface TestImage {
  ref: string;
  archive: string;
}

/** The three images every node run imports. */
export interface NodeImages {
  pause: TestImage;
  coredns: TestImage;
  dnsprobe: TestImage;
}

/** Registry part of the test images' names: a reserved TLD, so nothing could ever pull them. */
const TEST_REGISTRY = "pod-dns-injector.test";

function cacheDir(): string {
  const base = process.env.POD_DNS_INJECTOR_CACHE ?? join(process.env.XDG_CACHE_HOME ?? join(homedir(), ".cache"), "pod-dns-injector");
  return join(base, "node", "images");
}

/** The version key of a cached binary: its folder is `<name>-<version or source hash>`. */
function versionOf(binary: string): string {
  const folder = basename(dirname(binary));
  const dash = folder.indexOf("-");
  return dash > 0 ? folder.slice(dash + 1) : "local";
}

async function cachedArchive(spec: ImageSpec, file: string): Promise<TestImage> {
  const archive = join(cacheDir(), file);
  if (!existsSync(archive)) {
    await mkdir(cacheDir(), { recursive: true });
    const tmp = `${archive}.${process.pid}.tmp`;
    await writeOciArchive(spec, tmp);
    await rename(tmp, archive);
  }
  return { ref: spec.name, archive };
}

function staticBinaryImage(name: string, tag: string, binary: string, entrypoint: string[]): ImageSpec {
  return {
    name: `${TEST_REGISTRY}/${name}:${tag}`,
    layers: [[{ type: "file", path: name, source: binary, mode: 0o755 }]],
    entrypoint,
    labels: { "org.opencontainers.image.title": name },
  };
}

/** Builds (or finds) the three images for these binaries. */
export async function buildNodeImages(binaries: NodeBinaries): Promise<NodeImages> {
  const pauseTag = versionOf(binaries.pause);
  const corednsTag = versionOf(binaries.coredns);
  const probeTag = versionOf(binaries.dnsprobe);
  // A pre-built CoreDNS (TEST_ASSET_COREDNS) has no version folder: key it by its content,
  // so a different binary gets a new archive.
  const corednsKey = corednsTag === "local" ? createHash("sha256").update(readFileSync(binaries.coredns)).digest("hex").slice(0, 12) : corednsTag;
  const [pause, coredns, dnsprobe] = await Promise.all([
    cachedArchive(staticBinaryImage("pause", pauseTag, binaries.pause, ["/pause"]), `pause-${pauseTag}.tar`),
    cachedArchive(
      {
        ...staticBinaryImage("coredns", corednsKey, binaries.coredns, ["/coredns"]),
        cmd: ["-conf", "/etc/coredns/Corefile"],
        exposedPorts: ["53/udp", "53/tcp"],
      },
      `coredns-${corednsKey}.tar`,
    ),
    cachedArchive(staticBinaryImage("dnsprobe", probeTag, binaries.dnsprobe, ["/dnsprobe"]), `dnsprobe-${probeTag}.tar`),
  ]);
  return { pause, coredns, dnsprobe };
}
