/**
 * The DNS Service deletion guard on the real API server: the injector runs as `serve` with
 * its guardian, and /validate is registered through the generated
 * ValidatingWebhookConfiguration (caBundle filled in by the injector itself). A plain delete
 * and breaking updates of kube-system/kube-dns are refused with a message that says how to
 * proceed; a deliberate delete (the override annotation) goes through and the guardian
 * restores the Service, guarded again; the garbage collector cannot collect it; no other
 * Service is sent to the webhook (the API server's own metrics say so); and with the
 * injector down, failurePolicy Ignore lets the delete through.
 */
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, CoreV1Api, type V1Service } from "@kubernetes/client-node";
import { ALLOW_DELETE_ANNOTATION, DNS_SERVICE_GUARD_WEBHOOK_NAME, VALIDATE_PATH } from "../../config/names.js";
import { buildValidatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import {
  DNS_NAME,
  DNS_NAMESPACE,
  FIXED_IP,
  logRecords,
  readService,
  setUpGuardianCluster,
  startGuardian,
  waitForKubeDNS,
  waitForLeader,
  type GuardianProcess,
} from "./guardian-helpers.js";
import { apiErrorCode, describeApiError, printingOnFailure, waitFor } from "./kube.js";
import { startWebhookProcess } from "./webhook-process.js";

const GUARD_WEBHOOK_METRIC = "apiserver_admission_webhook_request_total";

describe("DNS Service deletion guard on a real kube-apiserver", { timeout: 240_000 }, () => {
  let cp: ControlPlane;
  let core: CoreV1Api;
  let g: GuardianProcess | undefined;
  const withLogs = printingOnFailure(() => {
    if (g) console.error(`--- injector log ---\n${g.process.logTail(60)}`);
    if (cp) console.error(cp.logTail(40));
  });

  /** Calls to our guard webhook as the API server counts them (all operations, all codes). */
  async function guardWebhookCalls(): Promise<number> {
    const r = await cp.kubectl(["get", "--raw", "/metrics"]);
    assert.equal(r.code, 0, r.stderr);
    let total = 0;
    for (const line of r.stdout.split("\n")) {
      if (line.startsWith(`${GUARD_WEBHOOK_METRIC}{`) && line.includes(`name="${DNS_SERVICE_GUARD_WEBHOOK_NAME}"`)) total += Number(line.slice(line.lastIndexOf(" ") + 1));
    }
    return total;
  }

  const refusedDelete = async (): Promise<string> => {
    try {
      await core.deleteNamespacedService({ namespace: DNS_NAMESPACE, name: DNS_NAME });
    } catch (err) {
      assert.equal(apiErrorCode(err), 403, describeApiError(err));
      return describeApiError(err);
    }
    assert.fail("the delete of kube-dns was not refused");
  };

  before(async () => {
    cp = await startControlPlane({ name: "dns-guard", controllerManager: true });
    core = cp.kubeConfig().makeApiClient(CoreV1Api);
    await setUpGuardianCluster(core);
    g = await startGuardian({ kubeconfigPath: cp.kubeconfigPath, dir: cp.dir, name: "guard", guardian: { repair: "recreate" } });
    await waitForLeader(g);
    const admission = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
    await admission.createValidatingWebhookConfiguration({
      body: buildValidatingWebhookConfiguration({ caBundlePem: "", url: `https://127.0.0.1:${g.process.port}${VALIDATE_PATH}` }),
    });
    // The injector fills in caBundle; then the API server picks the configuration up
    // asynchronously: dry-run deletes until one is refused.
    await waitFor(
      "the deletion guard to take effect",
      async () => {
        try {
          await core.deleteNamespacedService({ namespace: DNS_NAMESPACE, name: DNS_NAME, dryRun: "All" });
          return { detail: "dry-run delete still admitted" };
        } catch (err) {
          if (apiErrorCode(err) === 403) return { value: true };
          throw err;
        }
      },
      { timeoutMs: 30_000, intervalMs: 200 },
    );
  });

  after(async () => {
    await g?.process.stop().catch(() => undefined);
    await cp?.stop();
  });

  it(
    "refuses a plain delete, naming the Service, why, and the way to do it deliberately",
    withLogs(async () => {
      const before = await readService(core, DNS_NAMESPACE, DNS_NAME);
      const message = await refusedDelete();
      assert.match(message, /denied the request/);
      assert.match(message, /refusing to delete the DNS Service kube-system\/kube-dns/);
      assert.match(message, /fixed clusterIP 10\.96\.0\.10/);
      assert.match(message, new RegExp(`annotate service kube-dns ${ALLOW_DELETE_ANNOTATION.replace(".", "\\.")}=true`));
      const kubectl = await cp.kubectl(["-n", DNS_NAMESPACE, "delete", "service", DNS_NAME, "--wait=false"]);
      assert.notEqual(kubectl.code, 0, "kubectl delete succeeded");
      assert.match(kubectl.stderr, /deletion guard/);
      // A DeleteCollection validates each item with an empty request name: still refused.
      await assert.rejects(core.deleteCollectionNamespacedService({ namespace: DNS_NAMESPACE, labelSelector: "k8s-app=kube-dns" }), (err: unknown) => {
        assert.match(describeApiError(err), /refusing to delete the DNS Service kube-system\/kube-dns/);
        return true;
      });
      const afterRefusal = await readService(core, DNS_NAMESPACE, DNS_NAME);
      assert.equal(afterRefusal?.metadata?.uid, before?.metadata?.uid, "kube-dns was replaced");
      assert.equal(afterRefusal?.metadata?.deletionTimestamp, undefined);
    }),
  );

  it(
    "refuses updates that break DNS without deleting it, allows harmless ones",
    withLogs(async () => {
      const refused = async (what: string, patch: unknown, reason: RegExp) => {
        const r = await cp.kubectl(["-n", DNS_NAMESPACE, "patch", "service", DNS_NAME, "--type=json", "-p", JSON.stringify(patch)]);
        assert.notEqual(r.code, 0, `${what} was admitted`);
        assert.match(r.stderr, reason, what);
      };
      await refused("removing the selector", [{ op: "remove", path: "/spec/selector" }], /removing its selector/);
      await refused("removing port 53/UDP", [{ op: "remove", path: "/spec/ports/0" }], /port UDP\/53/);
      await refused(
        "type ExternalName",
        [
          { op: "replace", path: "/spec/type", value: "ExternalName" },
          { op: "add", path: "/spec/externalName", value: "dns.example.com" },
          { op: "remove", path: "/spec/clusterIP" },
          { op: "remove", path: "/spec/clusterIPs" },
        ],
        /drops its clusterIP/,
      );
      const svc = (await readService(core, DNS_NAMESPACE, DNS_NAME))!;
      assert.deepEqual(svc.spec?.selector, { "k8s-app": "kube-dns" });
      assert.equal(svc.spec?.ports?.length, 3);
      const label = await cp.kubectl(["-n", DNS_NAMESPACE, "label", "service", DNS_NAME, "example.com/team=dns", "--overwrite"]);
      assert.equal(label.code, 0, label.stderr);
    }),
  );

  it(
    "sends no other Service to the webhook (matchConditions), only the DNS Service",
    withLogs(async () => {
      const before = await guardWebhookCalls();
      const other = (namespace: string, name: string): V1Service => ({ metadata: { name, namespace }, spec: { ports: [{ port: 80 }] } });
      for (const ns of [DNS_NAMESPACE, "default"]) {
        await core.createNamespacedService({ namespace: ns, body: other(ns, "neighbor") });
        await core.patchNamespacedService({ namespace: ns, name: "neighbor", body: [{ op: "add", path: "/metadata/labels", value: { a: "b" } }] });
        await core.deleteNamespacedService({ namespace: ns, name: "neighbor" });
      }
      assert.equal(await guardWebhookCalls(), before, "another Service's UPDATE or DELETE was sent to the deletion guard");
      await refusedDelete();
      assert.equal(await guardWebhookCalls(), before + 1, "the DNS Service's DELETE was not counted by the API server");
    }),
  );

  it(
    "lets a deliberate delete through; the guardian restores kube-dns on its IP, guarded again",
    withLogs(async () => {
      const old = (await readService(core, DNS_NAMESPACE, DNS_NAME))!;
      const annotate = await cp.kubectl(["-n", DNS_NAMESPACE, "annotate", "service", DNS_NAME, `${ALLOW_DELETE_ANNOTATION}=true`]);
      assert.equal(annotate.code, 0, annotate.stderr);
      const del = await cp.kubectl(["-n", DNS_NAMESPACE, "delete", "service", DNS_NAME]);
      assert.equal(del.code, 0, del.stderr);
      assert.match(del.stderr, /Warning: pod-dns-injector: deleting the DNS Service kube-system\/kube-dns deliberately/);
      const restored = await waitForKubeDNS(core, FIXED_IP, { notUid: old.metadata?.uid, timeoutMs: 15_000 });
      assert.equal(restored.spec?.clusterIP, FIXED_IP);
      assert.equal(restored.metadata?.annotations?.[ALLOW_DELETE_ANNOTATION], undefined, "the restored Service kept the override");
      await refusedDelete();
    }),
  );

  it(
    "stops the garbage collector from collecting kube-dns through an ownerReference",
    withLogs(async () => {
      const owner = await core.createNamespacedConfigMap({ namespace: DNS_NAMESPACE, body: { metadata: { name: "dns-owner" } } });
      const svc = (await readService(core, DNS_NAMESPACE, DNS_NAME))!;
      await core.patchNamespacedService({
        namespace: DNS_NAMESPACE,
        name: DNS_NAME,
        body: [{ op: "add", path: "/metadata/ownerReferences", value: [{ apiVersion: "v1", kind: "ConfigMap", name: "dns-owner", uid: owner.metadata!.uid! }] }],
      });
      // kube-controller-manager runs with the admin credentials here, so the collector's
      // DELETE is told apart by time: this test sends none of its own from now on.
      const refusals = () => logRecords(g!.process).filter((l) => l.reason === "delete-refused" && l.operation === "DELETE");
      const before = refusals().length;
      await core.deleteNamespacedConfigMap({ namespace: DNS_NAMESPACE, name: "dns-owner" });
      await waitFor(
        "the garbage collector's DELETE of kube-dns, refused",
        async () => (refusals().length > before ? { value: true } : { detail: "no refused DELETE from the collector yet" }),
        { timeoutMs: 60_000, intervalMs: 200 },
      );
      const still = await readService(core, DNS_NAMESPACE, DNS_NAME);
      assert.equal(still?.metadata?.uid, svc.metadata?.uid, "kube-dns was collected");
      await core.patchNamespacedService({ namespace: DNS_NAMESPACE, name: DNS_NAME, body: [{ op: "remove", path: "/metadata/ownerReferences" }] });
    }),
  );

  it(
    "kube-system itself cannot be deleted (the API server refuses, before any webhook)",
    withLogs(async () => {
      const r = await cp.kubectl(["delete", "namespace", DNS_NAMESPACE, "--wait=false"]);
      assert.notEqual(r.code, 0);
      assert.match(r.stderr, /may not be deleted/);
    }),
  );

  it(
    "a DNS Service in another namespace holds that namespace's deletion until it is annotated",
    withLogs(async () => {
      // A second injector (guardian off) that guards elsewhere/dns, registered by its own configuration.
      const elsewhere = { namespace: "dns-elsewhere", name: "dns" };
      const other = await startWebhookProcess({
        kubeconfigPath: cp.kubeconfigPath,
        dir: cp.dir,
        name: "guard-elsewhere",
        config: {
          dnsService: { ...elsewhere, clusterIP: null },
          guardian: { enabled: false },
          certificates: { validatingWebhookConfiguration: "pod-dns-injector-elsewhere", mutatingWebhookConfiguration: null },
        },
      });
      try {
        await core.createNamespace({ body: { metadata: { name: elsewhere.namespace } } });
        await core.createNamespacedService({
          namespace: elsewhere.namespace,
          body: { metadata: { name: elsewhere.name }, spec: { selector: { app: "dns" }, ports: [{ name: "dns", port: 53, protocol: "UDP" }] } },
        });
        const admission = cp.kubeConfig().makeApiClient(AdmissionregistrationV1Api);
        await admission.createValidatingWebhookConfiguration({
          body: buildValidatingWebhookConfiguration({
            caBundlePem: "",
            name: "pod-dns-injector-elsewhere",
            dnsService: elsewhere,
            url: `https://127.0.0.1:${other.port}${VALIDATE_PATH}`,
          }),
        });
        await waitFor(
          "the second guard to take effect",
          async () => {
            try {
              await core.deleteNamespacedService({ namespace: elsewhere.namespace, name: elsewhere.name, dryRun: "All" });
              return { detail: "dry-run delete still admitted" };
            } catch (err) {
              if (apiErrorCode(err) === 403) return { value: true };
              throw err;
            }
          },
          { timeoutMs: 30_000, intervalMs: 200 },
        );
        await core.deleteNamespace({ name: elsewhere.namespace });
        const condition = await waitFor(
          "the namespace controller to report the refused delete",
          async () => {
            const ns = await core.readNamespace({ name: elsewhere.namespace });
            const c = ns.status?.conditions?.find((x) => x.type === "NamespaceDeletionContentFailure" && x.status === "True");
            return c ? { value: c } : { detail: `phase ${ns.status?.phase}` };
          },
          { timeoutMs: 60_000, intervalMs: 250 },
        );
        assert.match(condition.message ?? "", /deletion guard/);
        assert.equal((await core.readNamespace({ name: elsewhere.namespace })).status?.phase, "Terminating");
        assert.ok(await readService(core, elsewhere.namespace, elsewhere.name), "the guarded Service was deleted");
        const annotate = await cp.kubectl(["-n", elsewhere.namespace, "annotate", "service", elsewhere.name, `${ALLOW_DELETE_ANNOTATION}=true`]);
        assert.equal(annotate.code, 0, annotate.stderr);
        await waitFor(
          "the namespace to be gone",
          async () => {
            try {
              await core.readNamespace({ name: elsewhere.namespace });
              return { detail: "still there" };
            } catch (err) {
              if (apiErrorCode(err) === 404) return { value: true };
              throw err;
            }
          },
          { timeoutMs: 90_000, intervalMs: 250 },
        );
      } finally {
        await other.stop().catch(() => undefined);
      }
    }),
  );

  it(
    "never blocks when the injector is down: failurePolicy Ignore lets the delete through",
    withLogs(async () => {
      await g!.process.stop();
      g = undefined;
      await core.deleteNamespacedService({ namespace: DNS_NAMESPACE, name: DNS_NAME });
      assert.equal(await readService(core, DNS_NAMESPACE, DNS_NAME), undefined);
    }),
  );
});
