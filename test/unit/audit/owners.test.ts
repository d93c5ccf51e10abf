import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { controllerOf, fixText, resolveWorkload, workloadRef, type OwnerObject, type OwnerReference, type Workload } from "../../../audit/owners.js";

const ctrl = (kind: string, name: string): OwnerReference[] => [{ apiVersion: "x/v1", kind, name, uid: `u-${name}`, controller: true }];
const tpl = (label: string) => ({ metadata: { labels: { app: label } }, spec: {} });

/** The namespace's controllers, as the cluster source lists them. */
const objects: OwnerObject[] = [
  { kind: "ReplicaSet", name: "web-5d8", ownerReferences: ctrl("Deployment", "web"), template: tpl("web-rs") },
  { kind: "ReplicaSet", name: "lonely-rs", template: tpl("lonely-rs") },
  { kind: "ReplicaSet", name: "rollout-rs", ownerReferences: ctrl("Rollout", "canary"), template: tpl("rollout-rs") },
  { kind: "StatefulSet", name: "db", template: tpl("db") },
  { kind: "DaemonSet", name: "agent", template: tpl("agent") },
  { kind: "Job", name: "nightly-29000", ownerReferences: ctrl("CronJob", "nightly"), template: tpl("nightly-job") },
  { kind: "Job", name: "migrate", template: tpl("migrate") },
  { kind: "ReplicaSet", name: "loop-a", ownerReferences: ctrl("ReplicaSet", "loop-b") },
  { kind: "ReplicaSet", name: "loop-b", ownerReferences: ctrl("ReplicaSet", "loop-a") },
];
const lookup = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.name === name);

describe("resolveWorkload: owner chains", () => {
  const cases: { name: string; owners: OwnerReference[] | undefined; kind: string; workload: string; chain: string[]; template?: string }[] = [
    { name: "a bare pod is its own workload", owners: undefined, kind: "Pod", workload: "pod/p", chain: [] },
    {
      name: "Pod → ReplicaSet → Deployment",
      owners: ctrl("ReplicaSet", "web-5d8"),
      kind: "Deployment",
      workload: "deployment/web",
      chain: ["ReplicaSet/web-5d8", "Deployment/web"],
      template: "web-rs",
    },
    {
      name: "a ReplicaSet without a Deployment",
      owners: ctrl("ReplicaSet", "lonely-rs"),
      kind: "ReplicaSet",
      workload: "replicaset/lonely-rs",
      chain: ["ReplicaSet/lonely-rs"],
      template: "lonely-rs",
    },
    {
      name: "a ReplicaSet of a custom controller (Argo Rollout)",
      owners: ctrl("ReplicaSet", "rollout-rs"),
      kind: "Rollout",
      workload: "rollout/canary",
      chain: ["ReplicaSet/rollout-rs", "Rollout/canary"],
      template: "rollout-rs",
    },
    { name: "Pod → StatefulSet", owners: ctrl("StatefulSet", "db"), kind: "StatefulSet", workload: "statefulset/db", chain: ["StatefulSet/db"], template: "db" },
    { name: "Pod → DaemonSet", owners: ctrl("DaemonSet", "agent"), kind: "DaemonSet", workload: "daemonset/agent", chain: ["DaemonSet/agent"], template: "agent" },
    {
      name: "Pod → Job → CronJob",
      owners: ctrl("Job", "nightly-29000"),
      kind: "CronJob",
      workload: "cronjob/nightly",
      chain: ["Job/nightly-29000", "CronJob/nightly"],
      template: "nightly-job",
    },
    { name: "a Job on its own", owners: ctrl("Job", "migrate"), kind: "Job", workload: "job/migrate", chain: ["Job/migrate"], template: "migrate" },
    {
      name: "a ReplicaSet that is gone (deleted, or not readable)",
      owners: ctrl("ReplicaSet", "gone"),
      kind: "ReplicaSet",
      workload: "replicaset/gone",
      chain: ["ReplicaSet/gone"],
    },
    { name: "an owner that is not the controller does not count", owners: [{ kind: "ReplicaSet", name: "web-5d8", controller: false }], kind: "Pod", workload: "pod/p", chain: [] },
    { name: "a cycle stops the walk", owners: ctrl("ReplicaSet", "loop-a"), kind: "ReplicaSet", workload: "replicaset/loop-b", chain: ["ReplicaSet/loop-a", "ReplicaSet/loop-b"] },
  ];
  for (const c of cases) {
    it(`${c.name} → ${c.workload}`, () => {
      const w = resolveWorkload({ name: "p", ownerReferences: c.owners }, "team-a", lookup);
      assert.equal(w.kind, c.kind);
      assert.equal(workloadRef(w), c.workload);
      assert.equal(w.namespace, "team-a");
      assert.deepEqual(
        w.chain.map((l) => `${l.kind}/${l.name}`),
        c.chain,
      );
      assert.equal(w.template?.metadata?.labels?.app, c.template, "the nearest controller's pod template");
    });
  }

  it("controllerOf ignores references without kind or name", () => {
    assert.equal(controllerOf([{ controller: true, name: "x" }]), undefined);
    assert.deepEqual(
      controllerOf([
        { kind: "A", name: "a" },
        { kind: "B", name: "b", controller: true },
      ]),
      { kind: "B", name: "b" },
    );
  });
});

describe("fixText: what an operator runs", () => {
  const w = (kind: string, name: string, chain: Workload["chain"] = []): Workload => ({ kind, name, namespace: "team-a", chain });
  const cases: { workload: Workload; pods: string[]; why: Parameters<typeof fixText>[2]; fix: string | RegExp }[] = [
    { workload: w("Deployment", "web"), pods: ["web-5d8-x"], why: "recreate", fix: "kubectl rollout restart deployment/web -n team-a" },
    { workload: w("StatefulSet", "db"), pods: ["db-0"], why: "recreate", fix: "kubectl rollout restart statefulset/db -n team-a" },
    { workload: w("DaemonSet", "agent"), pods: ["agent-x"], why: "recreate", fix: "kubectl rollout restart daemonset/agent -n team-a" },
    {
      workload: w("ReplicaSet", "lonely-rs"),
      pods: ["lonely-rs-a", "lonely-rs-b"],
      why: "recreate",
      fix: "kubectl delete pod lonely-rs-a lonely-rs-b -n team-a (ReplicaSet lonely-rs recreates them)",
    },
    {
      workload: w("Job", "migrate"),
      pods: ["migrate-x"],
      why: "recreate",
      fix: "job/migrate keeps its pods until they finish; to apply now, delete it and create it again from its manifest (kubectl delete job migrate -n team-a; kubectl apply -f <manifest>)",
    },
    {
      workload: w("CronJob", "nightly", [
        { kind: "Job", name: "nightly-29000" },
        { kind: "CronJob", name: "nightly" },
      ]),
      pods: ["nightly-29000-x"],
      why: "recreate",
      fix: "the next run of cronjob/nightly gets the current DNS; to run it now: kubectl create job nightly-dns-rerun --from=cronjob/nightly -n team-a (the running job/nightly-29000 keeps its DNS until it finishes)",
    },
    {
      workload: w("Pod", "lonely"),
      pods: ["lonely"],
      why: "recreate",
      fix: "recreate the pod: kubectl delete pod lonely -n team-a, then create it again from its manifest (pod DNS is fixed at creation)",
    },
    { workload: w("Rollout", "canary"), pods: ["canary-x"], why: "recreate", fix: "kubectl delete pod canary-x -n team-a (its controller Rollout canary recreates them)" },
    {
      workload: w("Deployment", "web"),
      pods: ["web-x"],
      why: "would-inject",
      fix: "the namespace is in audit mode: to apply, kubectl label namespace team-a pod-dns-injector.io/inject=enabled --overwrite; then kubectl rollout restart deployment/web -n team-a",
    },
    { workload: w("Deployment", "web"), pods: ["web-x"], why: "foreign-dns", fix: /^informational: /u },
  ];
  for (const c of cases) {
    it(`${c.workload.kind} (${c.why})`, () => {
      const text = fixText(c.workload, c.pods, c.why);
      if (typeof c.fix === "string") assert.equal(text, c.fix);
      else assert.match(text, c.fix);
    });
  }

  it("offline manifests: regenerate from the un-injected source", () => {
    assert.equal(
      fixText(w("Deployment", "web"), [], "recreate", { source: "manifest", file: "deploy.yaml" }),
      "inject the original, un-injected manifests again and commit the output: pod-dns-injector inject -f <un-injected manifests> (source: deploy.yaml)",
    );
  });
});
