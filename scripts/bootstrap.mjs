#!/usr/bin/env node
// Makes `npm start` and `npm test` work on a bare machine: installs the npm dependencies
// (which include the `node` package, a supported Node.js runtime that npm puts first on
// PATH for every package script) and compiles the TypeScript when the output is stale.
//
// Written for whatever Node ran npm (possibly an end-of-life one), so: plain ESM, no
// dependencies, nothing newer than Node 18.
import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, readFileSync, readdirSync, statSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const forceBuild = process.argv.includes("--force-build");
// The folders tsc compiles, from tsconfig.json itself: a second list here went stale once.
const sourceDirs = JSON.parse(readFileSync(join(root, "tsconfig.json"), "utf8")).include;

function run(cmd, args, what) {
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: process.env });
  if (r.error) fail(`${what}: ${r.error.message}`);
  if (r.status !== 0) fail(`${what} exited with ${r.status ?? r.signal}`);
}

function fail(message) {
  console.error(`[bootstrap] ${message}`);
  process.exit(1);
}

function newestMtime(path) {
  if (!existsSync(path)) return 0;
  const st = statSync(path);
  if (!st.isDirectory()) return st.mtimeMs;
  let newest = st.mtimeMs;
  for (const entry of readdirSync(path)) newest = Math.max(newest, newestMtime(join(path, entry)));
  return newest;
}

// Reinstall only when what is installed would change: the dependency lists or the lockfile
// (not on every edit of package.json's scripts). The hash of both is kept in node_modules.
const lockfile = join(root, "package-lock.json");
const npm = process.platform === "win32" ? "npm.cmd" : "npm";
const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8"));
const installHash = createHash("sha256")
  .update(JSON.stringify([pkg.dependencies, pkg.devDependencies, pkg.allowScripts]))
  .update(existsSync(lockfile) ? readFileSync(lockfile) : "")
  .digest("hex");
const hashFile = join(root, "node_modules", ".pod-dns-injector-install");
const installed = existsSync(hashFile) ? readFileSync(hashFile, "utf8").trim() : "";
if (installed !== installHash) {
  console.error("[bootstrap] installing npm dependencies");
  run(npm, existsSync(lockfile) ? ["ci", "--no-audit", "--no-fund"] : ["install", "--no-audit", "--no-fund"], "npm install");
  writeFileSync(hashFile, `${installHash}\n`);
}

// The project's own runtime: node_modules/.bin/node from the `node` package.
const bundledNode = join(root, "node_modules", ".bin", "node");
if (!existsSync(bundledNode)) {
  fail("node_modules/.bin/node is missing: the `node` package did not install its runtime (check that the npm registry is reachable and rerun)");
}
const version = spawnSync(bundledNode, ["--version"], { encoding: "utf8" });
const major = Number(/^v(\d+)/.exec(version.stdout ?? "")?.[1] ?? 0);
if (major < 22) fail(`bundled Node.js is ${version.stdout?.trim() || "unusable"}; need >= 22`);

const buildInfo = join(root, "dist", ".tsbuildinfo");
const sourcesChanged = Math.max(...sourceDirs.map((d) => newestMtime(join(root, d))), newestMtime(join(root, "tsconfig.json"))) > newestMtime(buildInfo);
if (forceBuild || !existsSync(buildInfo) || sourcesChanged) {
  console.error("[bootstrap] compiling TypeScript");
  run(bundledNode, [join(root, "node_modules", "typescript", "bin", "tsc"), "-p", "tsconfig.json"], "tsc");
}
