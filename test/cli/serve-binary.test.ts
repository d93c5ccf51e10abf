/** `serve` as the built binary runs it: SIGTERM drains and exits 0. */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { pod, review } from "../unit/fixtures.js";
import { repoRoot } from "../unit/repo-root.js";

const tmp = mkdtempSync(join(tmpdir(), "pdi-serve-bin-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function mutate(port: number, ca: string, body: unknown): Promise<{ status: number; json: { response: { patch?: string; uid: string } } }> {
  return new Promise((resolve, reject) => {
    // The default agent keeps the connection alive, as the API server does: SIGTERM then
    // drains with a kept-alive connection open.
    const req = httpsRequest({ host: "127.0.0.1", port, servername: "localhost", ca, path: "/mutate", method: "POST", headers: { "content-type": "application/json" } }, (res) => {
      let text = "";
      res.on("data", (c) => (text += c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { response: { patch?: string; uid: string } } }));
    });
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

describe("serve (the built binary)", () => {
  it("SIGTERM drains and exits 0", async () => {
    const caOut = join(tmp, "ca-bin.crt");
    const child = spawn(process.execPath, [join(repoRoot(), "dist", "cli", "main.js"), "serve", "--port", "0", "--ops-port", "0", "--ca-out", caOut], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout.on("data", (c: Buffer) => (out += c.toString()));
    child.stderr.on("data", (c: Buffer) => (out += c.toString()));
    const exited = new Promise<number | null>((r) => child.on("exit", (code) => r(code)));
    try {
      let port = 0;
      for (let i = 0; i < 100 && !port; i++) {
        await new Promise((r) => setTimeout(r, 100));
        const m = /"webhookPort":(\d+)/.exec(out);
        if (m) port = Number(m[1]);
      }
      assert.ok(port > 0, `the server logged its port:\n${out}`);
      assert.match(out, /standalone mode/, "the log says standalone in one line");
      const r = await mutate(port, readFileSync(caOut, "utf8"), review(pod()));
      assert.equal(r.status, 200);
      child.kill("SIGTERM");
      assert.equal(await exited, 0);
      assert.match(out, /shutting down: draining in-flight admission requests/);
      assert.match(out, /"msg":"stopped"/);
    } finally {
      child.kill("SIGKILL");
    }
  });
});
