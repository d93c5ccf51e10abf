/** The runnable manager: start order, reverse stop, one deadline, a failing start. */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { RunnableManager, type LeaderCallbacks, type Runnable } from "../../../kube/runnable.js";

const quiet = { warn: () => undefined, error: () => undefined, debug: () => undefined };

function part(name: string, events: string[], extra: Partial<Runnable> = {}): Runnable {
  return {
    name,
    start: async () => void events.push(`start ${name}`),
    stop: async () => void events.push(`stop ${name}`),
    ...extra,
  };
}

function leader(name: string, events: string[]): Runnable {
  const leaderOnly: LeaderCallbacks = { startedLeading: () => void events.push(`lead ${name}`), stoppedLeading: () => void events.push(`follow ${name}`) };
  return part(name, events, { leaderOnly });
}

describe("RunnableManager", () => {
  it("starts in order, leader-only work after the caches synced and then the election; stops in reverse", async () => {
    const events: string[] = [];
    let synced!: () => void;
    const cache = part("caches", events, { synced: () => new Promise<void>((r) => (synced = r)) });
    let leadership: LeaderCallbacks | undefined;
    const manager = new RunnableManager({
      runnables: [part("tls", events), leader("guardian", events), part("https", events), cache, leader("audit", events)],
      log: quiet,
      drainMs: 1000,
      leaderElection: (l) => {
        leadership = l;
        return { start: () => void events.push("campaign"), stop: async () => (events.push("release"), l.stoppedLeading()) };
      },
    });
    await manager.start();
    assert.deepEqual(events, ["start tls", "start https", "start caches"], "leader-only work waits for the sync");
    synced();
    await manager.leaderWorkStarted();
    assert.deepEqual(events.slice(3), ["start guardian", "start audit", "campaign"]);
    leadership!.startedLeading();
    assert.deepEqual(events.slice(6), ["lead guardian", "lead audit"]);
    events.length = 0;
    await manager.stop("test");
    assert.deepEqual(events, ["stop audit", "stop guardian", "release", "stop caches", "stop https", "stop tls"]);
    assert.equal(manager.stopRequested, true);
  });

  it("stop tells every started part to drain before anything stops, leader-only work included", async () => {
    const events: string[] = [];
    const draining = (name: string, extra: Partial<Runnable> = {}) => part(name, events, { drain: () => void events.push(`drain ${name}`), ...extra });
    const audit = draining("audit", { leaderOnly: { startedLeading: () => undefined, stoppedLeading: () => undefined } });
    const manager = new RunnableManager({ runnables: [draining("ops"), draining("https"), audit], log: quiet, drainMs: 1000 });
    await manager.start();
    await manager.leaderWorkStarted();
    events.length = 0;
    await manager.stop("test");
    assert.deepEqual(events, ["drain audit", "drain https", "drain ops", "stop audit", "stop https", "stop ops"]);
  });

  it("a failing start stops what started, in reverse, and throws", async () => {
    const events: string[] = [];
    const manager = new RunnableManager({
      runnables: [part("tls", events), part("ops", events), part("https", events, { start: async () => Promise.reject(new Error("port in use")) }), part("caches", events)],
      log: quiet,
      drainMs: 1000,
    });
    await assert.rejects(manager.start(), /port in use/);
    assert.deepEqual(events, ["start tls", "start ops", "stop ops", "stop tls"]);
  });

  it("every stop gets the same deadline; one that overruns it is logged and the rest still stop", async () => {
    const events: string[] = [];
    const deadlines: number[] = [];
    const warnings: string[] = [];
    const hung = part("hung", events, { stop: async (d) => (deadlines.push(d), new Promise<void>(() => undefined)) });
    const manager = new RunnableManager({
      runnables: [part("first", events, { stop: async (d) => void (deadlines.push(d), events.push("stop first")) }), hung],
      log: { ...quiet, warn: ((_o: object, m: string) => void warnings.push(m)) as never },
      drainMs: 10,
      stopGraceMs: 10,
    });
    await manager.start();
    await manager.stop("test");
    assert.equal(deadlines.length, 2);
    assert.equal(deadlines[0], deadlines[1], "one drain deadline for all");
    assert.deepEqual(events, ["start first", "start hung", "stop first"]);
    assert.deepEqual(warnings, ["hung did not stop by the drain deadline; going on without it"]);
  });

  it("without an election, leader-only parts lead as soon as they start; readiness lists the parts that report one", async () => {
    const events: string[] = [];
    const manager = new RunnableManager({ runnables: [part("tls", events, { ready: () => null }), leader("audit", events)], log: quiet, drainMs: 1000 });
    await manager.start();
    await manager.leaderWorkStarted();
    assert.deepEqual(events, ["start tls", "start audit", "lead audit"]);
    assert.deepEqual(
      manager.readiness().map((c) => [c.name, c.check()]),
      [["tls", null]],
    );
    await manager.stop("test");
    assert.deepEqual(events.slice(3), ["stop audit", "stop tls"]);
  });
});
