/**
 * Proves the test control plane is a working cluster before any product test relies on it:
 * the API answers, a DNS Service keeps a requested fixed clusterIP, the controller manager
 * turns a Deployment into Pods (which stay Pending: there is no kubelet), kubectl works.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { setTimeout as delay } from "node:timers/promises";
import { AppsV1Api, CoreV1Api, Health, type V1Pod } from "@kubernetes/client-node";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";

const NAMESPACE = "control-plane-e2e";
const DNS_SERVICE_IP = "10.96.0.10";

describe("test control plane (etcd + kube-apiserver + kube-controller-manager)", () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let apps: AppsV1Api;

  /** Runs a test body and, if it fails, prints the process logs so CI shows why. */
  const withLogs = (fn: () => Promise<void>) => async () => {
    try {
      await fn();
    } catch (err) {
      console.error(`--- control-plane logs ---\n${cp.logTail(60)}`);
      throw err;
    }
  };

  before(async () => {
    cp = await startControlPlane({ controllerManager: true, name: "e2e-control-plane" });
    const kc = cp.kubeConfig();
    core = kc.makeApiClient(CoreV1Api);
    apps = kc.makeApiClient(AppsV1Api);
  });

  after(async () => {
    await cp?.stop();
  });

  it(
    "answers /readyz for the admin client",
    withLogs(async () => {
      assert.equal(await new Health(cp.kubeConfig()).readyz({}), true);
      assert.match(cp.server, /^https:\/\/127\.0\.0\.1:\d+$/);
    }),
  );

  it(
    "stores a Namespace and the kube-dns Service with its fixed clusterIP",
    withLogs(async () => {
      await core.createNamespace({ body: { metadata: { name: NAMESPACE } } });
      await core.createNamespacedService({
        namespace: "kube-system",
        body: {
          metadata: { name: "kube-dns", labels: { "k8s-app": "kube-dns" } },
          spec: {
            clusterIP: DNS_SERVICE_IP,
            selector: { "k8s-app": "kube-dns" },
            ports: [
              { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
              { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
            ],
          },
        },
      });
      const svc = await core.readNamespacedService({ name: "kube-dns", namespace: "kube-system" });
      assert.equal(svc.spec?.clusterIP, DNS_SERVICE_IP);
      assert.deepEqual(svc.spec?.clusterIPs, [DNS_SERVICE_IP]);
      const ns = await core.readNamespace({ name: NAMESPACE });
      assert.equal(ns.metadata?.labels?.["kubernetes.io/metadata.name"], NAMESPACE);
    }),
  );

  it(
    "creates a Deployment's Pod through the ReplicaSet controller",
    withLogs(async () => {
      await apps.createNamespacedDeployment({
        namespace: NAMESPACE,
        body: {
          metadata: { name: "web" },
          spec: {
            replicas: 1,
            selector: { matchLabels: { app: "web" } },
            template: {
              metadata: { labels: { app: "web" } },
              spec: { containers: [{ name: "pause", image: "registry.k8s.io/pause:3.10" }] },
            },
          },
        },
      });
      // Deployment → ReplicaSet → Pod takes two controller hops; the new namespace's
      // default ServiceAccount must exist too before the Pod is admitted.
      const deadline = Date.now() + 60_000;
      let pods: V1Pod[] = [];
      while (pods.length === 0) {
        pods = (await core.listNamespacedPod({ namespace: NAMESPACE, labelSelector: "app=web" })).items;
        if (pods.length > 0) break;
        assert.ok(Date.now() < deadline, "no Pod for Deployment web within 60s");
        await delay(250);
      }
      const pod = pods[0];
      assert.ok(pod);
      assert.match(pod.metadata?.generateName ?? "", /^web-[a-z0-9]+-$/);
      assert.ok(pod.metadata?.name?.startsWith(pod.metadata.generateName ?? "?"));
      assert.equal(pod.metadata?.ownerReferences?.[0]?.kind, "ReplicaSet");
      assert.equal(pod.spec?.serviceAccountName, "default");
      assert.equal(pod.status?.phase, "Pending");
    }),
  );

  it(
    "runs kubectl against the control plane",
    withLogs(async () => {
      const res = await cp.kubectl(["get", "ns", "-o", "name"]);
      assert.equal(res.code, 0, res.stderr);
      const names = res.stdout.trim().split("\n");
      for (const ns of ["default", "kube-system", NAMESPACE]) assert.ok(names.includes(`namespace/${ns}`), res.stdout);
      const applied = await cp.kubectl(["apply", "-f", "-"], {
        input: `apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: from-stdin\n  namespace: ${NAMESPACE}\ndata:\n  k: v\n`,
      });
      assert.equal(applied.code, 0, applied.stderr);
      assert.match(applied.stdout, /configmap\/from-stdin created/);
    }),
  );
});
