/**
 * Draining before close, over real HTTPS with a keep-alive client (what the API server
 * keeps to every webhook replica): once draining, each answer retires its connection with
 * `Connection: close`, and under continuous load no review written to the app while it
 * drains and closes is lost or given a 503 (a failed call, which refuses the pod under
 * failurePolicy Fail: seen once in a rollout restart on a real node). Without draining,
 * the same load loses reviews to resets of kept-alive connections.
 */
import assert from "node:assert/strict";
import { Agent, request } from "node:https";
import { after, before, describe, it } from "node:test";
import { standaloneApp } from "./standalone-app.js";
import { issueCertificateAuthority, issueServingCertificate } from "../../../certs/authority.js";
import { defaultSettings } from "../../../config/settings.js";
import { startDraining } from "../../../webhook/app.js";
import { pod, review } from "../fixtures.js";

const now = new Date();
const ca = issueCertificateAuthority({ now });
const serving = issueServingCertificate({ ca, dnsNames: ["localhost"], ipAddresses: ["127.0.0.1"], now });
const settings = defaultSettings();

function post(port: number, agent: Agent, body: string): Promise<{ status: number; connection: string | undefined; uid: unknown; socket: unknown }> {
  return new Promise((resolve, reject) => {
    const req = request(
      { host: "127.0.0.1", port, path: "/mutate", method: "POST", ca: ca.certPem, servername: "localhost", agent, headers: { "content-type": "application/json" } },
      (res) => {
        let text = "";
        res.setEncoding("utf8").on("data", (d: string) => (text += d));
        res.on("end", () =>
          resolve({
            status: res.statusCode ?? 0,
            connection: res.headers.connection,
            uid: (JSON.parse(text) as { response?: { uid?: unknown } }).response?.uid,
            socket: req.socket,
          }),
        );
      },
    );
    req.on("error", reject);
    req.end(body);
  });
}

describe("draining the webhook before it closes (kept-alive connections)", () => {
  const app = standaloneApp(settings, { https: { key: serving.keyPem, cert: serving.certPem } });
  let port = 0;
  const body = JSON.stringify(review(pod()));
  before(async () => {
    await app.listen({ host: "127.0.0.1", port: 0 });
    port = (app.server.address() as { port: number }).port;
  });
  after(() => app.close());

  it("keeps connections alive until draining starts, then every answer retires its connection", async () => {
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const first = await post(port, agent, body);
    const second = await post(port, agent, body);
    assert.equal(first.status, 200);
    assert.equal(first.connection, "keep-alive");
    assert.equal(second.socket, first.socket, "the connection was reused, as the API server reuses it");

    startDraining(app);
    const drained = await post(port, agent, body);
    assert.equal(drained.status, 200, "answered normally while draining");
    assert.equal(drained.uid, JSON.parse(body).request.uid);
    assert.equal(drained.connection, "close", "the client is told to retire the connection");
    const next = await post(port, agent, body);
    assert.equal(next.status, 200);
    assert.notEqual(next.socket, first.socket, "the next review came on a new connection");
    agent.destroy();
  });

  it("under continuous load, drain then close: no review written to the app fails, none gets a 503", async () => {
    // What the API server does to a replica that is going away: reviews back to back over
    // kept-alive connections while serve drains (startDraining) and then closes.
    const victim = standaloneApp(settings, { https: { key: serving.keyPem, cert: serving.certPem } });
    await victim.listen({ host: "127.0.0.1", port: 0 });
    const victimPort = (victim.server.address() as { port: number }).port;
    const agent = new Agent({ keepAlive: true, maxSockets: 4 });
    const outcomes: string[] = [];
    let closed = false;
    const worker = async () => {
      while (!closed) {
        try {
          const r = await post(victimPort, agent, body);
          outcomes.push(`HTTP ${r.status}`);
        } catch (err) {
          // Refused or reset while connecting: the listener is closed (or closing with the
          // connection still in its backlog) and nothing was written; in a cluster the
          // Service has sent new connections elsewhere by then (the preStop delay). Any
          // other error lost a review that was sent.
          const e = err as NodeJS.ErrnoException;
          const notSent = e.code === "ECONNREFUSED" || e.syscall === "connect";
          outcomes.push(notSent ? "not sent" : `lost: ${e.message}`);
          if (notSent) return;
        }
      }
    };
    const workers = Array.from({ length: 4 }, () => worker());
    await new Promise((r) => setTimeout(r, 150));
    startDraining(victim);
    await new Promise((r) => setTimeout(r, 150));
    await victim.close();
    closed = true;
    await Promise.all(workers);
    agent.destroy();
    const counts = outcomes.reduce<Record<string, number>>((m, o) => ((m[o] = (m[o] ?? 0) + 1), m), {});
    assert.ok((counts["HTTP 200"] ?? 0) > 20, `reviews were answered during the test: ${JSON.stringify(counts)}`);
    assert.deepEqual(
      Object.keys(counts).filter((k) => k !== "HTTP 200" && k !== "not sent"),
      [],
      `every review sent was answered 200: ${JSON.stringify(counts)}`,
    );
  });
});
