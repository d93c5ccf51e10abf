/** image/inputs.ts: the file-tree walk that turns unpacked packages into layer entries. */
import assert from "node:assert/strict";
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { treeToLayer, walkTree } from "../../../image/inputs.js";

const dir = mkdtempSync(join(tmpdir(), "image-inputs-test-"));
after(() => rmSync(dir, { recursive: true, force: true }));

describe("walkTree and treeToLayer", () => {
  it("lists files and symlinks below a root, sorted, relative, keeping link targets as written", async () => {
    mkdirSync(join(dir, "lib", "x86_64-linux-gnu"), { recursive: true });
    mkdirSync(join(dir, "lib64"));
    mkdirSync(join(dir, "empty"));
    writeFileSync(join(dir, "lib", "x86_64-linux-gnu", "libc.so.6"), "elf");
    symlinkSync("/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2", join(dir, "lib64", "ld-linux-x86-64.so.2"));
    writeFileSync(join(dir, "README"), "docs");
    const tree = await walkTree(dir);
    assert.deepEqual(tree, [
      { path: "README", type: "file", source: join(dir, "README") },
      { path: "lib/x86_64-linux-gnu/libc.so.6", type: "file", source: join(dir, "lib", "x86_64-linux-gnu", "libc.so.6") },
      { path: "lib64/ld-linux-x86-64.so.2", type: "symlink", source: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
    ]);
    assert.deepEqual(
      treeToLayer(
        tree,
        (p) => p !== "README",
        (p) => `usr/${p}`,
      ),
      [
        { type: "file", path: "usr/lib/x86_64-linux-gnu/libc.so.6", source: join(dir, "lib", "x86_64-linux-gnu", "libc.so.6") },
        { type: "symlink", path: "usr/lib64/ld-linux-x86-64.so.2", target: "/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" },
      ],
    );
  });
});
