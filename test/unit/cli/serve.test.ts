/** `serve` standalone, in process: lifecycle, readiness, TLS, config reload and stop (SIGTERM: test/cli/serve-binary.test.ts). */
import assert from "node:assert/strict";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { tmpdir } from "node:os";
import { Writable } from "node:stream";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { runServe } from "../../../cli/serve.js";
import { pod, review } from "../fixtures.js";

const tmp = mkdtempSync(join(tmpdir(), "pdi-serve-"));
after(() => rmSync(tmp, { recursive: true, force: true }));

function mutate(port: number, ca: string, body: unknown): Promise<{ status: number; json: { response: { patch?: string; uid: string } } }> {
  return new Promise((resolve, reject) => {
    // agent: false: one connection per review, closed after it, so stop() has no kept-alive
    // connection to wait out (it lingers up to 2 s for the API server's to retire).
    const req = httpsRequest(
      { host: "127.0.0.1", port, servername: "localhost", ca, agent: false, path: "/mutate", method: "POST", headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.on("data", (c) => (text += c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) as { response: { patch?: string; uid: string } } }));
      },
    );
    req.on("error", reject);
    req.end(JSON.stringify(body));
  });
}

/** serve's log lines, as a stream to give it and a way to await the next line with a message. */
function logLines(): { stream: Writable; next(msg: string, timeoutMs?: number): Promise<Record<string, unknown>> } {
  const waiters: { msg: string; resolve: (line: Record<string, unknown>) => void }[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const text of chunk.toString().split("\n")) {
        if (!text) continue;
        const line = JSON.parse(text) as Record<string, unknown>;
        for (const w of waiters.filter((x) => x.msg === line.msg)) {
          waiters.splice(waiters.indexOf(w), 1);
          w.resolve(line);
        }
      }
      cb();
    },
  });
  const next = (msg: string, timeoutMs = 10_000) =>
    new Promise<Record<string, unknown>>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`no log line "${msg}" within ${timeoutMs} ms`)), timeoutMs);
      waiters.push({
        msg,
        resolve: (line) => {
          clearTimeout(timer);
          resolve(line);
        },
      });
    });
  return { stream, next };
}

const injectedNameserver = (patch: string | undefined) =>
  (JSON.parse(Buffer.from(patch ?? "", "base64").toString()) as { path: string; value: { nameservers: string[] } }[]).find((o) => o.path === "/spec/dnsConfig")?.value.nameservers;

describe("serve (standalone, in process)", () => {
  it("starts on loopback, is ready, injects with the configured IP, reloads its config, stops", async () => {
    const config = join(tmp, "config.yaml");
    writeFileSync(config, "dnsService: {clusterIP: 10.96.0.10}\nlogLevel: error\n");
    const caOut = join(tmp, "ca.crt");
    const log = logLines();
    const server = await runServe({ config, port: 0, opsPort: 0, caOut }, {}, { logDestination: log.stream, configPollMs: 50 });
    try {
      const ready = await fetch(`http://127.0.0.1:${server.opsPort}/readyz`);
      assert.equal(ready.status, 200);
      assert.match(await ready.text(), /\[\+\] tls ok\n\[\+\] webhook ok/);
      assert.equal((await fetch(`http://127.0.0.1:${server.opsPort}/healthz`)).status, 200);
      const ca = readFileSync(caOut, "utf8");
      const first = await mutate(server.webhookPort, ca, review(pod()));
      assert.equal(first.status, 200);
      assert.deepEqual(injectedNameserver(first.json.response.patch), ["10.96.0.10"]);

      // A new config file is picked up (polling, as ConfigMap symlink swaps need).
      writeFileSync(config, "dnsService: {clusterIP: 10.96.0.53}\nlogLevel: error\n");
      let nameservers: string[] | undefined;
      for (let i = 0; i < 200 && nameservers?.[0] !== "10.96.0.53"; i++) {
        await new Promise((r) => setTimeout(r, 50));
        nameservers = injectedNameserver((await mutate(server.webhookPort, ca, review(pod()))).json.response.patch);
      }
      assert.deepEqual(nameservers, ["10.96.0.53"], "the reloaded configuration is used within 10 s");

      // A broken file keeps the last good settings: once serve has read and rejected it,
      // the nameserver is still the last good one.
      const rejected = log.next("configuration reload rejected; keeping the previous settings");
      writeFileSync(config, "dnsService: {clusterIP: not-an-ip}\n");
      assert.match(JSON.stringify((await rejected).errors), /dnsService\.clusterIP/, "the rejection names the bad field");
      assert.deepEqual(injectedNameserver((await mutate(server.webhookPort, ca, review(pod()))).json.response.patch), ["10.96.0.53"]);
      const metrics = await (await fetch(`http://127.0.0.1:${server.opsPort}/metrics`)).text();
      const injected = /pod_dns_injector_admission_reviews_total\{action="inject",reason="cluster-first",mode="enabled"\} (\d+)/.exec(metrics);
      assert.ok(injected && Number(injected[1]) >= 3, "every review was counted");
    } finally {
      await server.stop("test");
    }
    await server.stopped;
    await assert.rejects(fetch(`http://127.0.0.1:${server.opsPort}/healthz`), "the ops port is closed after stop");
  });

  it("a missing TLS file is a clear input error", async () => {
    await assert.rejects(runServe({ tlsCertFile: join(tmp, "nope.crt"), tlsKeyFile: join(tmp, "nope.key"), port: 0, opsPort: 0 }, {}), /cannot read TLS file .*nope\.crt: ENOENT/);
  });

  it("a bad kubeconfig is a clear input error", async () => {
    const kc = join(tmp, "kubeconfig");
    writeFileSync(kc, "not: [a kubeconfig");
    await assert.rejects(runServe({ kubeconfig: kc, port: 0, opsPort: 0, caOut: join(tmp, "ca2.crt") }, {}), /cannot load kubeconfig/);
  });
});
