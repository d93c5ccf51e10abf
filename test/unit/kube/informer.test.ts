/**
 * ResilientInformer.waitForSync against a minimal watch endpoint (plain HTTP on loopback):
 * it resolves only once the first list has completed, stays resolved, and an abort
 * releases whoever waits. The guardian relies on it not to read an empty cache as "the DNS Service
 * is gone".
 */
import assert from "node:assert/strict";
import http from "node:http";
import type { AddressInfo } from "node:net";
import { after, before, describe, it } from "node:test";
import { KubeConfig, type KubernetesListObject, type V1Service } from "@kubernetes/client-node";
import { pino } from "pino";
import { ResilientInformer } from "../../../kube/informer.js";

describe("ResilientInformer.waitForSync", () => {
  // Watches stay open and say nothing: all the informer needs after its list.
  const server = http.createServer((req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write("");
    req.on("close", () => res.end());
  });
  const kubeConfig = new KubeConfig();
  before(async () => {
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
    const { port } = server.address() as AddressInfo;
    kubeConfig.loadFromOptions({
      clusters: [{ name: "c", server: `http://127.0.0.1:${port}`, skipTLSVerify: true }],
      users: [{ name: "u" }],
      contexts: [{ name: "x", cluster: "c", user: "u" }],
      currentContext: "x",
    });
  });
  after(() => {
    server.closeAllConnections();
    server.close();
  });

  const informer = (list: () => Promise<KubernetesListObject<V1Service>>) =>
    new ResilientInformer<V1Service>({ kubeConfig, path: "/api/v1/services", list, log: pino({ level: "silent" }), name: "services" });

  it("resolves once the first list is in, not before", async () => {
    let release!: () => void;
    const listed = new Promise<void>((r) => (release = r));
    const inf = informer(async () => {
      await listed;
      return { apiVersion: "v1", kind: "ServiceList", metadata: { resourceVersion: "1" }, items: [] };
    });
    const started = inf.start();
    let synced = false;
    const waiting = inf.waitForSync().then(() => (synced = true));
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(synced, false, "not before the list");
    assert.equal(inf.hasListedOnce(), false);
    release();
    await started;
    await waiting;
    assert.equal(inf.hasListedOnce(), true);
    await inf.waitForSync(); // resolved from now on
    await inf.stop();
  });

  it("an abort releases a waiter whose list never came, with the reason", async () => {
    const inf = informer(() => new Promise(() => {}));
    void inf.start();
    const abort = new AbortController();
    const waiting = inf.waitForSync(abort.signal);
    abort.abort(new Error("stopping"));
    await assert.rejects(waiting);
    await inf.stop();
    assert.equal(inf.hasListedOnce(), false);
  });
});
