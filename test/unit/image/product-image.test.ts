/**
 * The product image spec (image/product-image.ts): what goes in from the Debian packages
 * and node_modules, where it lands, the runtime settings; the Dockerfile is the one
 * rendered from the same module; the image name is the one the manifests deploy.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { manifestImageName } from "../../../image/build.js";
import { renderDockerfile } from "../../../image/dockerfile.js";
import type { LayerEntry } from "../../../image/oci-archive.js";
import {
  APP_DIR,
  APP_REPO_FILES,
  NODE_PATH,
  NODE_RUNTIME_FLAGS,
  PRODUCT_DIST_DIRS,
  RUNTIME,
  debianImagePath,
  keepDebianFile,
  keepDistFile,
  keepNodeModulesFile,
  productImageSpec,
} from "../../../image/product-image.js";
import { repoRoot } from "../repo-root.js";

const root = repoRoot();

describe("product image content", () => {
  it("keeps the shared libraries and copyright files of the Debian packages, nothing else", () => {
    const cases: [string, boolean][] = [
      ["lib/x86_64-linux-gnu/libc.so.6", true],
      ["lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", true],
      ["lib64/ld-linux-x86-64.so.2", true],
      ["usr/lib/x86_64-linux-gnu/libstdc++.so.6", true],
      ["usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30", true],
      ["lib/x86_64-linux-gnu/libgcc_s.so.1", true],
      ["usr/share/doc/libc6/copyright", true],
      ["usr/share/doc/libc6/changelog.Debian.gz", false],
      ["usr/lib/x86_64-linux-gnu/gconv/UTF-16.so", false],
      ["usr/lib/x86_64-linux-gnu/gconv/gconv-modules", false],
      ["lib/x86_64-linux-gnu/libmemusage.so", false],
      ["lib/x86_64-linux-gnu/libthread_db.so.1", false],
      ["etc/ld.so.conf.d/x86_64-linux-gnu.conf", false],
      ["usr/share/gdb/auto-load/usr/lib/x86_64-linux-gnu/libstdc++.so.6.0.30-gdb.py", false],
      ["usr/share/locale/de/LC_MESSAGES/libc.mo", false],
      ["sbin/ldconfig", false],
      ["usr/bin/ldd", false],
    ];
    for (const [path, kept] of cases) assert.equal(keepDebianFile(path), kept, path);
  });

  it("moves Debian's /lib and /lib64 under /usr (merged /usr), leaving /usr paths alone", () => {
    assert.equal(debianImagePath("lib/x86_64-linux-gnu/libc.so.6"), "usr/lib/x86_64-linux-gnu/libc.so.6");
    assert.equal(debianImagePath("lib64/ld-linux-x86-64.so.2"), "usr/lib64/ld-linux-x86-64.so.2");
    assert.equal(debianImagePath("usr/lib/x86_64-linux-gnu/libstdc++.so.6"), "usr/lib/x86_64-linux-gnu/libstdc++.so.6");
    assert.equal(debianImagePath("library/x"), "library/x");
  });

  it("leaves documentation, TypeScript, source maps and npm's bookkeeping out of node_modules, keeps code and licences", () => {
    const cases: [string, boolean][] = [
      ["fastify/fastify.js", true],
      ["fastify/package.json", true],
      ["fastify/LICENSE", true],
      ["yaml/dist/index.js", true],
      ["@kubernetes/client-node/dist/index.js", true],
      ["fastify/README.md", false],
      ["fastify/docs/Reference/Server.md", false],
      ["fastify/test/hooks.test.js", false],
      ["fastify/types/instance.d.ts", false],
      ["yaml/dist/index.js.map", false],
      ["some/LICENSE.md", true],
      ["pino/.github/workflows/ci.yml", false],
      ["pino/benchmarks/basic.bench.js", false],
      [".bin/pino", false],
      [".package-lock.json", false],
    ];
    for (const [path, kept] of cases) assert.equal(keepNodeModulesFile(path), kept, path);
    assert.equal(keepDistFile("cli/main.js"), true);
    assert.equal(keepDistFile("cli/main.js.map"), false);
  });

  it("builds four layers with the runtime settings, nonroot in /etc/passwd and a sticky /tmp", () => {
    const app: LayerEntry[] = [{ type: "file", path: "app/dist/cli/main.js", content: "" }];
    const spec = productImageSpec({
      name: "ghcr.io/pod-dns-injector/pod-dns-injector:9.9.9",
      version: "9.9.9",
      debianFiles: [{ type: "file", path: "usr/lib/x86_64-linux-gnu/libc.so.6", content: "" }],
      nodeBinary: "/x/node",
      nodeLicense: "/x/LICENSE",
      nodeVersion: "24.0.0",
      nodeModules: [{ type: "file", path: "app/node_modules/a/index.js", content: "" }],
      app,
      mtime: 0,
    });
    assert.equal(spec.layers.length, 4);
    assert.deepEqual(spec.entrypoint, ["/nodejs/bin/node", "--max-semi-space-size=4", "--no-maglev", "--heap-growing-percent=50", "/app/dist/cli/main.js"]);
    assert.deepEqual(spec.cmd, ["serve"]);
    assert.equal(spec.user, "65532:65532");
    assert.equal(spec.workingDir, "/app");
    assert.equal(spec.labels?.["org.opencontainers.image.version"], "9.9.9");
    const base = new Map(spec.layers[0]!.map((e) => [e.path, e]));
    const passwd = base.get("etc/passwd");
    assert.ok(passwd?.type === "file" && typeof passwd.content === "string");
    assert.match(passwd.content, /^nonroot:x:65532:65532:/m);
    const group = base.get("etc/group");
    assert.ok(group?.type === "file" && /^nonroot:x:65532:$/m.test(group.content as string));
    assert.deepEqual(base.get("tmp"), { type: "dir", path: "tmp", mode: 0o1777 });
    // The loader the Node binary names (/lib64/ld-linux-x86-64.so.2) resolves through these.
    assert.deepEqual(base.get("lib64"), { type: "symlink", path: "lib64", target: "usr/lib64" });
    assert.deepEqual(base.get("lib"), { type: "symlink", path: "lib", target: "usr/lib" });
    assert.deepEqual(
      spec.layers[1]!.map((e) => e.path),
      [NODE_PATH.slice(1), "nodejs/LICENSE"],
    );
    assert.equal(spec.layers[3], app);
    assert.deepEqual(spec.owner, { "home/nonroot": { uid: 65532, gid: 65532 } });
  });

  it("names the image as manifests/base/deployment.yaml deploys it, tagged with the package version", async () => {
    const version = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string }).version;
    assert.equal(await manifestImageName(root), `ghcr.io/pod-dns-injector/pod-dns-injector:${version}`);
  });

  it("npm start serves with the image's Node flags, so what runs locally is what the benchmarks measure", () => {
    const scripts = (JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { scripts: Record<string, string> }).scripts;
    assert.equal(scripts.start, `node ${NODE_RUNTIME_FLAGS.join(" ")} dist/cli/main.js serve`);
  });
});

describe("the image holds every module the program imports", () => {
  // A new top-level folder (policy/ once was) that the CLI imports but the image leaves
  // out fails only at container start with ERR_MODULE_NOT_FOUND; catch it here instead.
  it("every relative import reachable from cli/main.ts is inside PRODUCT_DIST_DIRS", () => {
    const seen = new Set<string>();
    const queue = [join(root, "cli", "main.ts")];
    for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
      if (seen.has(file)) continue;
      seen.add(file);
      const source = readFileSync(file, "utf8");
      for (const m of source.matchAll(/^\s*(?:import|export)\b[^"';]*?from\s+"(\.{1,2}\/[^"]+)"|import\(\s*"(\.{1,2}\/[^"]+)"\s*\)/gm)) {
        const spec = (m[1] ?? m[2])!;
        queue.push(resolve(dirname(file), spec.replace(/\.js$/, ".ts")));
      }
    }
    const topDirs = new Set([...seen].map((f) => relative(root, f).split("/")[0]!));
    assert.ok(topDirs.has("webhook") && topDirs.has("cli"), `the walk found the program's folders: ${[...topDirs].join(", ")}`);
    const missing = [...topDirs].filter((d) => !(PRODUCT_DIST_DIRS as readonly string[]).includes(d));
    assert.deepEqual(missing, [], `imported by the program but not copied into the image: ${missing.join(", ")}`);
  });
});

describe("the Dockerfile and npm run image do not drift", () => {
  const dockerfile = readFileSync(join(root, "Dockerfile"), "utf8");

  it("the committed Dockerfile is the one rendered from image/product-image.ts (npm run image -- --write-dockerfile)", () => {
    assert.equal(dockerfile, renderDockerfile());
  });

  it("its final stage states the same settings and copies the same paths as the image spec", () => {
    const finalStage = dockerfile.slice(dockerfile.lastIndexOf("\nFROM "));
    const instructions = finalStage.split("\n").filter((l) => /^[A-Z]+ /.test(l));
    const values = (keyword: string): string[] => instructions.filter((l) => l.startsWith(`${keyword} `)).map((l) => l.slice(keyword.length + 1));
    assert.deepEqual(values("FROM"), ["gcr.io/distroless/nodejs24-debian12:nonroot"], "distroless puts node at the same /nodejs/bin/node");
    assert.deepEqual(values("WORKDIR"), [RUNTIME.workingDir]);
    assert.deepEqual(values("ENV"), [...RUNTIME.env]);
    assert.deepEqual(values("USER"), [RUNTIME.user]);
    assert.deepEqual(
      values("ENTRYPOINT").map((v) => JSON.parse(v) as unknown),
      [RUNTIME.entrypoint],
    );
    assert.deepEqual(
      values("CMD").map((v) => JSON.parse(v) as unknown),
      [RUNTIME.cmd],
    );
    assert.deepEqual(
      values("EXPOSE")[0]!
        .split(" ")
        .map((p) => `${p}/tcp`),
      RUNTIME.exposedPorts,
    );
    const copies = values("COPY").map((c) => c.split(" "));
    const destinations = copies.flatMap((c) => {
      const dest = c[c.length - 1]!;
      const sources = c.slice(c[0]!.startsWith("--from=") ? 1 : 0, -1);
      return dest.endsWith("/") ? sources.map((s) => `${dest}${s}`) : [dest];
    });
    assert.deepEqual(
      destinations.sort(),
      [`${APP_DIR}/node_modules`, ...PRODUCT_DIST_DIRS.map((d) => `${APP_DIR}/dist/${d}`), ...APP_REPO_FILES.map((f) => `${APP_DIR}/${f}`)].sort(),
    );
  });
});
