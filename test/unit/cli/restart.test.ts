/**
 * The restart command's pool (cli/restart.ts executeRestarts) against an in-memory
 * workload client: order, concurrency, waiting, and that nothing new starts after a
 * failure. Plus the flag parsers and the printed plan.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import type { RestartTarget, WorkloadObject } from "../../../audit/remediation.js";
import { executeRestarts, formatPlan, parseDuration, type WorkloadClient } from "../../../cli/restart.js";

const target = (name: string, kind: RestartTarget["kind"] = "Deployment"): RestartTarget => ({ kind, namespace: "shop", name, pods: [`${name}-1`] });

/** Deployments that roll out after `readsUntilDone` reads following their restart (Infinity: never). */
function fakeCluster(readsUntilDone: Record<string, number>, extra: Record<string, WorkloadObject> = {}) {
  const log: string[] = [];
  const reads = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const state = (name: string): WorkloadObject => {
    const n = reads.get(name) ?? -1;
    const done = n >= readsUntilDone[name]!;
    return { metadata: { generation: 2 }, spec: { replicas: 1 }, status: { observedGeneration: 2, replicas: 1, updatedReplicas: done ? 1 : 0, availableReplicas: done ? 1 : 0 } };
  };
  const client: WorkloadClient = {
    read: async (t) => {
      if (reads.has(t.name)) {
        reads.set(t.name, reads.get(t.name)! + 1);
        const s = state(t.name);
        if (s.status?.updatedReplicas === 1) {
          log.push(`done ${t.name}`);
          inFlight--;
        }
        return s;
      }
      return extra[t.name] ?? { spec: {} };
    },
    restart: async (t) => {
      log.push(`restart ${t.name}`);
      reads.set(t.name, 0);
      maxInFlight = Math.max(maxInFlight, ++inFlight);
      return state(t.name);
    },
  };
  return { client, log, maxInFlight: () => maxInFlight };
}

const fastClock = () => {
  let t = 0;
  return { now: () => new Date(t), sleep: async (ms: number) => void (t += ms) };
};

describe("executeRestarts", () => {
  it("one at a time by default: each rollout is waited for before the next restart", async () => {
    const c = fakeCluster({ a: 2, b: 1 });
    const outcomes = await executeRestarts([target("a"), target("b")], { client: c.client, maxConcurrent: 1, timeoutMs: 60_000, progress: () => {}, ...fastClock() });
    assert.deepEqual(c.log, ["restart a", "done a", "restart b", "done b"]);
    assert.deepEqual(
      outcomes.map((o) => o.result),
      ["rolled-out", "rolled-out"],
    );
  });

  it("--max-concurrent 2 keeps two rollouts in flight, never more", async () => {
    const c = fakeCluster({ a: 3, b: 3, c: 3 });
    const outcomes = await executeRestarts([target("a"), target("b"), target("c")], { client: c.client, maxConcurrent: 2, timeoutMs: 60_000, progress: () => {}, ...fastClock() });
    assert.equal(c.maxInFlight(), 2);
    assert.deepEqual(c.log.slice(0, 2), ["restart a", "restart b"]);
    assert.ok(outcomes.every((o) => o.result === "rolled-out"));
  });

  it("a rollout that times out stops the rest: they are reported as not started, never restarted", async () => {
    const c = fakeCluster({ stuck: Infinity, later: 1 });
    const progress: string[] = [];
    const outcomes = await executeRestarts([target("stuck"), target("later")], {
      client: c.client,
      maxConcurrent: 1,
      timeoutMs: 5_000,
      progress: (l) => progress.push(l),
      ...fastClock(),
    });
    assert.deepEqual(
      outcomes.map((o) => o.result),
      ["timed-out", "not-started"],
    );
    assert.ok(!c.log.includes("restart later"));
    assert.match((outcomes[0] as { detail: string }).detail, /not rolled out after 5 s: 0 of 1 replicas updated/);
    assert.deepEqual(
      progress,
      ["deployment/stuck -n shop: restarted", "deployment/stuck -n shop: 0 of 1 replicas updated"],
      "progress is printed when it changes, not on every poll",
    );
  });

  it("a paused Deployment is reported as blocked and not patched; the others go on", async () => {
    const c = fakeCluster({ ok: 1 }, { paused: { spec: { paused: true } } });
    const outcomes = await executeRestarts([target("paused"), target("ok")], { client: c.client, maxConcurrent: 1, timeoutMs: 60_000, progress: () => {}, ...fastClock() });
    assert.deepEqual(
      outcomes.map((o) => o.result),
      ["blocked", "rolled-out"],
    );
    assert.ok(!c.log.includes("restart paused"));
  });

  it("an API error fails that target with the server's message and stops the rest", async () => {
    const client: WorkloadClient = {
      read: async () => ({ spec: {} }),
      restart: async () => {
        throw new Error('deployments.apps "a" is forbidden: User "dev" cannot patch resource "deployments"');
      },
    };
    const outcomes = await executeRestarts([target("a"), target("b")], { client, maxConcurrent: 1, timeoutMs: 1_000, progress: () => {}, ...fastClock() });
    assert.deepEqual(
      outcomes.map((o) => o.result),
      ["failed", "not-started"],
    );
    assert.match((outcomes[0] as { detail: string }).detail, /cannot patch resource "deployments"/);
  });
});

describe("restart flags and output", () => {
  it("--timeout takes seconds or s/m/h and refuses anything else", () => {
    assert.equal(parseDuration("90"), 90);
    assert.equal(parseDuration("90s"), 90);
    assert.equal(parseDuration("5m"), 300);
    assert.equal(parseDuration("1h"), 3600);
    for (const bad of ["0", "-1", "5 m", "1d", "1.5m", ""]) assert.throws(() => parseDuration(bad), /a duration such as 90s/);
  });

  it("the plan names each workload, its pods, and what is left to do by hand", () => {
    const text = formatPlan({
      restarts: [{ kind: "Deployment", namespace: "shop", name: "web", pods: ["web-1", "web-2", "web-3", "web-4", "web-5", "web-6"] }],
      manual: [{ kind: "Pod", namespace: "shop", name: "debug", pods: ["debug"], fix: "recreate the pod: kubectl delete pod debug -n shop" }],
      excluded: [],
    });
    assert.equal(
      text,
      "Restart (1):\n  deployment/web -n shop: 6 pods (web-1, web-2, web-3, web-4, web-5, … 1 more)\nNot restarted, fix by hand (1):\n  pod/debug -n shop: 1 pod (debug)\n    recreate the pod: kubectl delete pod debug -n shop\n",
    );
    assert.match(formatPlan({ restarts: [], manual: [], excluded: [] }), /^Nothing to restart/);
  });
});
