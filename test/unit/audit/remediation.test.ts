/**
 * The restart plan and rollout rules (audit/remediation.ts) on real audits of plain pods:
 * which workloads a restart fixes, which are only listed, when a rollout has finished.
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { excludedNamespaces, defaultSettings } from "../../../config/settings.js";
import { planRestarts, restartBlocker, restartPatch, rolloutState, RESTARTED_AT_ANNOTATION, type RestartTarget } from "../../../audit/remediation.js";
import type { Workload } from "../../../audit/owners.js";
import { NS, audit, bare, defaultDNS, injectedPod, ns, plainPod, podWithDNS } from "./fixtures.js";

const workload = (kind: string, name: string, namespace = NS): Workload => ({ kind, name, namespace, chain: [{ kind, name }] });
const excluded = excludedNamespaces(defaultSettings());

describe("planRestarts", () => {
  it("restarts the Deployment, StatefulSet and DaemonSet that own failing pods, once each, sorted", () => {
    const plan = planRestarts(
      [
        audit(plainPod("web-2"), { workload: workload("Deployment", "web") }),
        audit(plainPod("web-1"), { workload: workload("Deployment", "web") }),
        audit(plainPod("db-0"), { workload: workload("StatefulSet", "db") }),
        audit(plainPod("agent-x"), { workload: workload("DaemonSet", "agent") }),
      ],
      excluded,
    );
    assert.deepEqual(
      plan.restarts.map((t) => [t.kind, t.name, t.pods]),
      [
        ["DaemonSet", "agent", ["agent-x"]],
        ["Deployment", "web", ["web-1", "web-2"]],
        ["StatefulSet", "db", ["db-0"]],
      ],
    );
    assert.deepEqual(plan.manual, []);
  });

  it("lists bare pods, Jobs and CronJobs with the audit's fix, never as restarts", () => {
    const plan = planRestarts(
      [
        audit(plainPod("debug"), { workload: bare("debug") }),
        audit(plainPod("batch-abc"), { workload: workload("Job", "batch") }),
        audit(plainPod("nightly-1-x"), {
          workload: {
            kind: "CronJob",
            name: "nightly",
            namespace: NS,
            chain: [
              { kind: "Job", name: "nightly-1" },
              { kind: "CronJob", name: "nightly" },
            ],
          },
        }),
      ],
      excluded,
    );
    assert.deepEqual(plan.restarts, []);
    assert.deepEqual(
      plan.manual.map((m) => [m.kind, m.name, m.pods]),
      [
        ["CronJob", "nightly", ["nightly-1-x"]],
        ["Job", "batch", ["batch-abc"]],
        ["Pod", "debug", ["debug"]],
      ],
    );
    const pod = plan.manual.find((m) => m.kind === "Pod")!;
    assert.match(pod.fix, /kubectl delete pod debug -n team-a/);
    assert.match(plan.manual.find((m) => m.kind === "Job")!.fix, /delete it and create it again/);
  });

  it("leaves conforming pods, audit-mode and foreign-DNS pods alone (a restart would change nothing)", () => {
    const foreign = plainPod("own", { spec: { dnsPolicy: "None", dnsConfig: { nameservers: ["8.8.8.8"] } } });
    const pods = [
      audit(injectedPod("ok-1"), { workload: workload("Deployment", "ok") }),
      audit(plainPod("look-1"), { workload: workload("Deployment", "look"), facts: ns("audit") }),
      audit(foreign, { workload: workload("Deployment", "own") }),
    ];
    assert.deepEqual(
      pods.map((p) => p.result),
      ["pass", "warn", "warn"],
      "the fixtures are what the test means",
    );
    assert.deepEqual(planRestarts(pods, excluded), { restarts: [], manual: [], excluded: [] });
  });

  it("restarts a workload whose pods point at a stale IP", () => {
    const stale = audit(podWithDNS("web-1", defaultDNS("10.96.0.99")), { workload: workload("Deployment", "web") });
    assert.equal(stale.result, "fail");
    assert.deepEqual(
      planRestarts([stale], excluded).restarts.map((t) => t.name),
      ["web"],
    );
  });

  it("never plans anything in an excluded namespace, even if an audit reported a failure there", () => {
    const failing = audit(plainPod("coredns-1"), { workload: workload("Deployment", "coredns", "kube-system") });
    const inKubeSystem = { ...failing, namespace: "kube-system", result: "fail" as const };
    const plan = planRestarts([inKubeSystem], excluded);
    assert.deepEqual(plan.restarts, []);
    assert.deepEqual(plan.excluded, [{ namespace: "kube-system", pod: "coredns-1" }]);
  });
});

describe("restartBlocker", () => {
  const t = (kind: RestartTarget["kind"]): RestartTarget => ({ kind, namespace: NS, name: "w", pods: ["w-1", "w-2"] });
  it("a paused Deployment and the OnDelete strategy roll nothing: say what to do instead", () => {
    assert.match(restartBlocker(t("Deployment"), { spec: { paused: true } })!, /rollout resume deployment\/w -n team-a/);
    assert.match(restartBlocker(t("StatefulSet"), { spec: { updateStrategy: { type: "OnDelete" } } })!, /kubectl delete pod w-1 w-2 -n team-a/);
    assert.match(restartBlocker(t("DaemonSet"), { spec: { updateStrategy: { type: "OnDelete" } } })!, /OnDelete/);
  });
  it("RollingUpdate workloads and running Deployments are not blocked", () => {
    assert.equal(restartBlocker(t("Deployment"), { spec: { paused: false } }), undefined);
    assert.equal(restartBlocker(t("StatefulSet"), { spec: { updateStrategy: { type: "RollingUpdate" } } }), undefined);
    assert.equal(restartBlocker(t("DaemonSet"), {}), undefined);
  });
});

describe("rolloutState (kubectl rollout status rules)", () => {
  it("Deployment: observed generation, updated, old replicas gone, available; a passed progress deadline fails", () => {
    const d = (status: object, replicas = 2) => rolloutState("Deployment", { metadata: { generation: 3 }, spec: { replicas }, status });
    assert.equal(d({ observedGeneration: 2, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }).state, "progressing");
    assert.deepEqual(d({ observedGeneration: 3, updatedReplicas: 1, replicas: 3, availableReplicas: 2 }), { state: "progressing", detail: "1 of 2 replicas updated" });
    assert.deepEqual(d({ observedGeneration: 3, updatedReplicas: 2, replicas: 3, availableReplicas: 2 }), { state: "progressing", detail: "1 old replicas pending termination" });
    assert.deepEqual(d({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, availableReplicas: 1 }), { state: "progressing", detail: "1 of 2 updated replicas available" });
    assert.deepEqual(d({ observedGeneration: 3, updatedReplicas: 2, replicas: 2, availableReplicas: 2 }), { state: "done" });
    const stuck = d({
      observedGeneration: 3,
      updatedReplicas: 1,
      conditions: [{ type: "Progressing", reason: "ProgressDeadlineExceeded", message: 'ReplicaSet "web-5d" has timed out progressing.' }],
    });
    assert.equal(stuck.state, "failed");
    assert.match((stuck as { detail: string }).detail, /progress deadline: ReplicaSet "web-5d" has timed out/);
  });
  it("StatefulSet: ready, then the update revision is current; a partition ends the rollout early", () => {
    const s = (status: object, spec: object = { replicas: 2 }) => rolloutState("StatefulSet", { metadata: { generation: 1 }, spec, status: { observedGeneration: 1, ...status } });
    assert.equal(s({ readyReplicas: 1, currentRevision: "a", updateRevision: "b" }).state, "progressing");
    assert.equal(s({ readyReplicas: 2, updatedReplicas: 1, currentRevision: "a", updateRevision: "b" }).state, "progressing");
    assert.equal(s({ readyReplicas: 2, updatedReplicas: 2, currentRevision: "b", updateRevision: "b" }).state, "done");
    const partitioned = { replicas: 3, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: 2 } } };
    assert.equal(s({ readyReplicas: 3, updatedReplicas: 0, currentRevision: "a", updateRevision: "b" }, partitioned).state, "progressing");
    assert.equal(s({ readyReplicas: 3, updatedReplicas: 1, currentRevision: "a", updateRevision: "b" }, partitioned).state, "done");
  });
  it("DaemonSet: every scheduled pod updated and available", () => {
    const ds = (status: object) => rolloutState("DaemonSet", { metadata: { generation: 1 }, status: { observedGeneration: 1, desiredNumberScheduled: 3, ...status } });
    assert.equal(ds({ updatedNumberScheduled: 2, numberAvailable: 3 }).state, "progressing");
    assert.equal(ds({ updatedNumberScheduled: 3, numberAvailable: 2 }).state, "progressing");
    assert.equal(ds({ updatedNumberScheduled: 3, numberAvailable: 3 }).state, "done");
  });
});

describe("restartPatch", () => {
  it("sets kubectl's restartedAt template annotation in RFC 3339 seconds, nothing else", () => {
    assert.deepEqual(restartPatch(new Date("2026-12-04T07:01:02.345Z")), {
      spec: { template: { metadata: { annotations: { [RESTARTED_AT_ANNOTATION]: "2026-12-04T07:01:02Z" } } } },
    });
  });
});
