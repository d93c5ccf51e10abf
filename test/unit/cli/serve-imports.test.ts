/**
 * Standalone `serve` (`npm start`, the benchmark's webhook) must not load the Kubernetes
 * client: without it an idle standalone webhook measured 96 MB of RSS instead of 157 MB. The
 * cluster parts come through dynamic imports (cli/serve-cluster-parts.ts, the certificate
 * manager); this walks the static imports from cli/serve.ts and fails on a value import of
 * @kubernetes/client-node among them (type-only imports are erased by the compiler).
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, it } from "node:test";
import { repoRoot } from "../repo-root.js";

const root = repoRoot();

/** The files reachable from `entry` by static relative imports and re-exports. */
function staticallyReachable(entry: string): Set<string> {
  const seen = new Set<string>();
  const queue = [entry];
  for (let file = queue.pop(); file !== undefined; file = queue.pop()) {
    if (seen.has(file)) continue;
    seen.add(file);
    const source = readFileSync(file, "utf8");
    for (const m of source.matchAll(/^(?:import|export)\s+(?!type\s)[^;]*?\bfrom\s+"(\.{1,2}\/[^"]+)"/gm)) {
      queue.push(resolve(dirname(file), m[1]!.replace(/\.js$/, ".ts")));
    }
  }
  return seen;
}

describe("standalone serve's imports", () => {
  it("load no value from @kubernetes/client-node", () => {
    const files = staticallyReachable(join(root, "cli", "serve.ts"));
    assert.ok(files.has(join(root, "cli", "serve-parts.ts")) && files.has(join(root, "webhook", "app.ts")), "the walk follows serve's parts");
    const loading = [...files].filter((f) => /^import\s+(?!type\s)[^;]*?\bfrom\s+"@kubernetes\/client-node"/m.test(readFileSync(f, "utf8")));
    assert.deepEqual(
      loading.map((f) => relative(root, f)),
      [],
      "these files load the Kubernetes client statically from cli/serve.ts; import them dynamically in cluster mode",
    );
    // The walk does see value imports: the cluster parts do load it.
    assert.ok(
      [...staticallyReachable(join(root, "cli", "serve-cluster-parts.ts"))].some((f) =>
        /^import\s+\{[^}]*\b(CoreV1Api|KubeConfig)\b[^}]*\}\s+from\s+"@kubernetes\/client-node"/m.test(readFileSync(f, "utf8")),
      ),
    );
  });
});
