/**
 * The product image, built the way users build it: `npm run image`, whose last line of
 * stdout is the archive's path. The real-node tier imports that very archive, so the image
 * that passes is the one `npm run image` builds.
 */
import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { repoRoot } from "../unit/repo-root.js";

/** The archive `npm run image` wrote, and its whole output (digest and size lines included). */
export interface ProductImage {
  archive: string;
  output: string;
  buildMs: number;
}

/**
 * Runs `npm run image` in the repository and returns the archive it printed last.
 *
 * @throws Error with the command's output when it fails or prints no existing file last.
 */
export async function buildProductImage(): Promise<ProductImage> {
  const started = Date.now();
  const { code, stdout, stderr } = await new Promise<{ code: number; stdout: string; stderr: string }>((resolve, reject) => {
    const child = spawn("npm", ["run", "--silent", "image"], { cwd: repoRoot(), stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    child.stdout.setEncoding("utf8").on("data", (d: string) => (out += d));
    child.stderr.setEncoding("utf8").on("data", (d: string) => (err += d));
    child.on("error", (e) => reject(new Error("npm run image", { cause: e })));
    child.on("close", (c, signal) => resolve({ code: c ?? (signal ? 128 : -1), stdout: out, stderr: err }));
  });
  const archive = stdout.trim().split("\n").at(-1)?.trim() ?? "";
  if (code !== 0 || archive === "" || !existsSync(archive)) {
    throw new Error(`npm run image exited with ${code} and printed ${JSON.stringify(archive)} last (not an archive):\n${stdout.slice(-2000)}\n${stderr.slice(-4000)}`);
  }
  return { archive, output: stdout, buildMs: Date.now() - started };
}
