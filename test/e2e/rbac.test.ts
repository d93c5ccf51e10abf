/**
 * Least privilege, proven on the real API server. The injector runs in cluster mode *as its
 * ServiceAccount* (a bound token, RBAC exactly as rendered from manifests/) through a full
 * scenario: start-up and certificates, caBundle injection, the webhook, a rotation, guardian
 * drift repair and restore, background audits writing, updating and deleting reports, and
 * the audit CLI. Twice: the base (PolicyReports) and manifests/overlays/openreports
 * (audit.reports openreports: openreports.io Reports, and no PolicyReport rule). It must
 * never be refused (no 403 in its log, in the CLI's output, or in the API server's audit log).
 *
 * Then every granted verb must have been used (the API server's audit log lists the
 * ServiceAccount's requests), and every rule is removed in turn from the live cluster: the
 * API server's own authorizer (SubjectAccessReview) must then deny at least one request the
 * injector made in the scenario — so no rule is unused. One removal is also replayed
 * end-to-end to show what a missing rule looks like to an operator (/readyz says why).
 */
import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { AdmissionregistrationV1Api, AppsV1Api, AuthorizationV1Api, CoreV1Api, CustomObjectsApi, type KubeConfig } from "@kubernetes/client-node";
import { parseAllDocuments, stringify } from "yaml";
import { ALLOW_DELETE_ANNOTATION, INJECTED_ANNOTATION, INJECT_LABEL, REPORT_API_NAMES, ROTATED_ANNOTATION, ROTATE_ANNOTATION, type ReportApi } from "../../config/names.js";
import { buildMutatingWebhookConfiguration, buildValidatingWebhookConfiguration } from "../../webhook/registration.js";
import { startControlPlane, type ControlPlane } from "../control-plane/harness.js";
import { repoRoot } from "../unit/repo-root.js";
import { createNamespace, describeApiError, kubeadmKubeDNS, podManifest, waitFor } from "./kube.js";
import { cliPath, startWebhookProcess, type WebhookProcess } from "./webhook-process.js";

const root = repoRoot();
const NS = "pod-dns-injector";
const SA_USER = `system:serviceaccount:${NS}:pod-dns-injector`;
const FIXED_IP = "10.96.0.10";
const DRIFT_IP = "10.96.0.53";
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- rendered manifests are untyped YAML, read field by field
type Obj = Record<string, any>;

interface AuditEvent {
  verb: string;
  user: { username: string };
  objectRef?: { resource?: string; subresource?: string; apiGroup?: string; apiVersion?: string; namespace?: string; name?: string };
  responseStatus?: { code?: number };
}

/** A rendering of the manifests, and the report API its audit.reports writes. */
interface Variant {
  name: string;
  dir: string;
  reports: ReportApi;
  crdFile: string;
  /** Whether to replay a missing rule end to end (once is enough: it shows the operator's view). */
  endToEnd: boolean;
}
const VARIANTS: readonly Variant[] = [
  { name: "base", dir: "manifests", reports: "wgpolicyk8s", crdFile: "wgpolicyk8s.io_policyreports.yaml", endToEnd: true },
  { name: "openreports", dir: "manifests/overlays/openreports", reports: "openreports", crdFile: "openreports.io_reports.yaml", endToEnd: false },
];

for (const variant of VARIANTS) describe(`RBAC of ${variant.dir}: least privilege, proven`, () => rbacSuite(variant));

function rbacSuite(variant: Variant): void {
  const reportNames = REPORT_API_NAMES[variant.reports];
  let cp: ControlPlane;
  let work: string;
  let auditLog: string;
  let admin: KubeConfig;
  let core: CoreV1Api;
  let saKubeconfig: string;
  let rbacObjects: Obj[];
  const stops: (() => Promise<void>)[] = [];

  before(async () => {
    work = mkdtempSync(join(tmpdir(), "pdi-rbac-"));
    auditLog = join(work, "audit.log");
    const policy = join(work, "audit-policy.yaml");
    // Metadata for the injector's ServiceAccount only: which verb on which resource, and the answer.
    writeFileSync(
      policy,
      stringify({ apiVersion: "audit.k8s.io/v1", kind: "Policy", omitStages: ["RequestReceived"], rules: [{ level: "Metadata", users: [SA_USER] }, { level: "None" }] }),
    );
    cp = await startControlPlane({ controllerManager: true, name: `rbac-${variant.name}`, extraApiServerFlags: [`--audit-policy-file=${policy}`, `--audit-log-path=${auditLog}`] });
    admin = cp.kubeConfig();
    core = admin.makeApiClient(CoreV1Api);

    // The manifests' namespace, ServiceAccount and RBAC, exactly as rendered.
    const rendered = await cp.kubectl(["kustomize", join(root, variant.dir)]);
    assert.equal(rendered.code, 0, rendered.stderr);
    const objects = parseAllDocuments(rendered.stdout)
      .map((d) => d.toJS() as Obj)
      .filter(Boolean);
    rbacObjects = objects.filter((o) => ["Namespace", "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding"].includes(o.kind as string));
    await applyObjects(rbacObjects);
    const crd = await cp.kubectl(["apply", "-f", join(root, "manifests", "optional", "report-crds", variant.crdFile)]);
    assert.equal(crd.code, 0, crd.stderr);
    await waitFor(`${reportNames.title} CRD served`, async () =>
      (await cp.kubectl(["get", "--raw", `/apis/${reportNames.group}/${reportNames.version}`])).code === 0 ? { value: true } : {},
    );

    // A bound token for the ServiceAccount, in a kubeconfig of its own.
    const token = await cp.kubectl(["create", "token", "pod-dns-injector", "-n", NS, "--duration=2h"]);
    assert.equal(token.code, 0, token.stderr);
    const kc = parseAllDocuments(readFileSync(cp.kubeconfigPath, "utf8"))[0]!.toJS() as Obj;
    kc.users = [{ name: "pod-dns-injector", user: { token: token.stdout.trim() } }];
    kc.contexts = [{ name: "pod-dns-injector", context: { cluster: kc.clusters[0].name, user: "pod-dns-injector" } }];
    kc["current-context"] = "pod-dns-injector";
    saKubeconfig = join(work, "sa-kubeconfig");
    writeFileSync(saKubeconfig, stringify(kc), { mode: 0o600 });

    // Workloads whose pods the audit walks up to their owners (ReplicaSet, StatefulSet,
    // DaemonSet, Job, ReplicationController), created before the webhook exists.
    await createNamespace(core, "team", { labels: { [INJECT_LABEL]: "enabled" } });
    await createNamespace(core, "gone", { labels: { [INJECT_LABEL]: "enabled" } });
    const apps = admin.makeApiClient(AppsV1Api);
    const labels = (app: string) => ({ matchLabels: { app } });
    const template = (app: string) => ({ metadata: { labels: { app } }, spec: { containers: [{ name: "c", image: "registry.example/app:1" }] } });
    await apps.createNamespacedDeployment({ namespace: "team", body: { metadata: { name: "web" }, spec: { replicas: 1, selector: labels("web"), template: template("web") } } });
    await apps.createNamespacedStatefulSet({
      namespace: "team",
      body: { metadata: { name: "db" }, spec: { serviceName: "db", replicas: 1, selector: labels("db"), template: template("db") } },
    });
    const ds = await apps.createNamespacedDaemonSet({ namespace: "team", body: { metadata: { name: "agent" }, spec: { selector: labels("agent"), template: template("agent") } } });
    await core.createNamespacedReplicationController({
      namespace: "team",
      body: { metadata: { name: "legacy" }, spec: { replicas: 1, selector: { app: "legacy" }, template: template("legacy") } },
    });
    const batch = await import("@kubernetes/client-node").then((m) => admin.makeApiClient(m.BatchV1Api));
    await batch.createNamespacedJob({
      namespace: "team",
      body: { metadata: { name: "once" }, spec: { template: { ...template("once"), spec: { ...template("once").spec, restartPolicy: "Never" } } } },
    });
    // No nodes, so the DaemonSet controller makes no pods: a pod it "owns", as it would.
    await core.createNamespacedPod({
      namespace: "team",
      body: {
        ...podManifest("agent-x"),
        metadata: {
          name: "agent-x",
          labels: { app: "agent" },
          ownerReferences: [{ apiVersion: "apps/v1", kind: "DaemonSet", name: "agent", uid: ds.metadata!.uid!, controller: true }],
        },
      },
    });
    await waitFor(
      "pods of every workload",
      async () => {
        const pods = (await core.listNamespacedPod({ namespace: "team" })).items;
        const kinds = new Set(pods.map((p) => p.metadata?.ownerReferences?.[0]?.kind));
        return ["ReplicaSet", "StatefulSet", "DaemonSet", "ReplicationController", "Job"].every((k) => kinds.has(k)) ? { value: true } : { detail: [...kinds].join(",") };
      },
      { timeoutMs: 60_000, intervalMs: 500 },
    );
  });

  after(async () => {
    for (const s of stops.reverse()) await s().catch(() => undefined);
    await cp?.stop();
    if (work) rmSync(work, { recursive: true, force: true });
  });

  async function applyObjects(objs: Obj[]): Promise<void> {
    const r = await cp.kubectl(["apply", "--server-side", "--force-conflicts", "--field-manager=rbac-test", "-f", "-"], { input: objs.map((o) => stringify(o)).join("---\n") });
    assert.equal(r.code, 0, r.stderr);
  }

  /** Runs the whole scenario as the ServiceAccount; returns what went wrong (empty: all well). */
  async function scenario(log: (s: string) => void): Promise<{ problems: string[]; webhook: WebhookProcess | undefined }> {
    const problems: string[] = [];
    const fail = (what: string, err: unknown) => problems.push(`${what}: ${err instanceof Error ? err.message : String(err)}`);
    // Start from scratch so every create path runs: no Secrets, no last good copy, no Lease,
    // a drifted kube-dns, fresh webhook registrations with no caBundle.
    for (const name of ["pod-dns-injector-tls", "pod-dns-injector-ca"]) await core.deleteNamespacedSecret({ namespace: NS, name }).catch(() => undefined);
    await core.deleteNamespacedConfigMap({ namespace: NS, name: "pod-dns-injector-dns-service" }).catch(() => undefined);
    await cp.kubectl(["-n", NS, "delete", "lease", "pod-dns-injector-guardian", "--ignore-not-found"]);
    await core.deleteNamespacedService({ namespace: "kube-system", name: "kube-dns" }).catch(() => undefined);
    await waitFor("kube-dns gone", async () => ((await core.readNamespacedService({ namespace: "kube-system", name: "kube-dns" }).catch(() => undefined)) ? {} : { value: true }), {
      intervalMs: 20,
    });
    await core.createNamespacedService({ namespace: "kube-system", body: kubeadmKubeDNS(DRIFT_IP) });
    await core.deleteNamespacedPod({ namespace: "gone", name: "lonely" }).catch(() => undefined);
    await waitFor("no pod in gone", async () => ((await core.listNamespacedPod({ namespace: "gone" })).items.length === 0 ? { value: true } : {}));
    await core.createNamespacedPod({ namespace: "gone", body: podManifest("lonely") });
    const reg = admin.makeApiClient(AdmissionregistrationV1Api);
    await reg.deleteMutatingWebhookConfiguration({ name: "pod-dns-injector" }).catch(() => undefined);
    await reg.deleteValidatingWebhookConfiguration({ name: "pod-dns-injector" }).catch(() => undefined);

    let webhook: WebhookProcess | undefined;
    try {
      webhook = await startWebhookProcess({
        kubeconfigPath: saKubeconfig,
        dir: work,
        name: "injector-as-sa",
        ensureInjectorNamespace: false,
        readyTimeoutMs: 20_000,
        config: {
          guardian: { repair: "recreate", leaseDurationSeconds: 3, renewDeadlineSeconds: 2, retryPeriodSeconds: 0.5, resyncSeconds: 2 },
          // What the variant's Deployment sets (the overlay: POD_DNS_INJECTOR_AUDIT_REPORTS).
          audit: { intervalSeconds: 2, reports: variant.reports },
        },
      });
    } catch (err) {
      fail("the injector did not become ready", err);
      return { problems, webhook };
    }
    stops.push(() => webhook.stop());
    const step = async (what: string, fn: () => Promise<unknown>) => {
      if (problems.length) return;
      const t0 = Date.now();
      try {
        await fn();
        log(`${what}: ok (${Date.now() - t0} ms)`);
      } catch (err) {
        fail(what, err);
      }
    };

    await step("caBundle injected into both webhook configurations", async () => {
      await reg.createMutatingWebhookConfiguration({ body: buildMutatingWebhookConfiguration({ caBundlePem: "", url: webhook.mutateUrl }) });
      await reg.createValidatingWebhookConfiguration({ body: buildValidatingWebhookConfiguration({ caBundlePem: "", url: webhook.mutateUrl.replace(/\/mutate$/, "/validate") }) });
      await waitFor(
        "caBundles",
        async () => {
          const m = await reg.readMutatingWebhookConfiguration({ name: "pod-dns-injector" });
          const v = await reg.readValidatingWebhookConfiguration({ name: "pod-dns-injector" });
          return m.webhooks?.[0]?.clientConfig.caBundle && v.webhooks?.[0]?.clientConfig.caBundle ? { value: true } : {};
        },
        { timeoutMs: 15_000 },
      );
    });
    await step("drifted kube-dns repaired on the fixed IP (delete + create)", () =>
      waitFor(
        "kube-dns on the fixed IP",
        async () => {
          const svc = await core.readNamespacedService({ namespace: "kube-system", name: "kube-dns" });
          return svc.spec?.clusterIP === FIXED_IP ? { value: true } : { detail: svc.spec?.clusterIP };
        },
        { timeoutMs: 20_000, intervalMs: 50 },
      ),
    );
    await step("a pod is injected", () =>
      waitFor(
        "an injected pod",
        async () => {
          const p = await core.createNamespacedPod({ namespace: "team", body: podManifest(`p-${Date.now()}`) });
          return p.metadata?.annotations?.[INJECTED_ANNOTATION] ? { value: true } : { detail: "not injected" };
        },
        { timeoutMs: 15_000, intervalMs: 500 },
      ),
    );
    await step("a deliberately deleted kube-dns is restored", async () => {
      // The deletion guard refuses a plain delete; the override annotation lets this one through.
      await cp.kubectl(["-n", "kube-system", "annotate", "service", "kube-dns", `${ALLOW_DELETE_ANNOTATION}=true`, "--overwrite"]);
      await core.deleteNamespacedService({ namespace: "kube-system", name: "kube-dns" });
      await waitFor(
        "kube-dns back",
        async () => {
          const svc = await core.readNamespacedService({ namespace: "kube-system", name: "kube-dns" });
          return svc.spec?.clusterIP === FIXED_IP ? { value: true } : {};
        },
        { timeoutMs: 10_000, intervalMs: 20 },
      );
    });
    await step("a change to kube-dns updates its last good copy", async () => {
      await cp.kubectl(["-n", "kube-system", "label", "service", "kube-dns", "example.com/edited=yes", "--overwrite"]);
      await waitFor(
        "the copy updated",
        async () => {
          const cm = await core.readNamespacedConfigMap({ namespace: NS, name: "pod-dns-injector-dns-service" });
          return cm.data?.["service.json"]?.includes("example.com/edited") ? { value: true } : {};
        },
        { timeoutMs: 15_000 },
      );
    });
    await step("the serving certificate is rotated on request", async () => {
      const token = `t${Date.now()}`;
      await cp.kubectl(["-n", NS, "annotate", "secret", "pod-dns-injector-tls", `${ROTATE_ANNOTATION}=${token}`, "--overwrite"]);
      await waitFor(
        "rotation",
        async () => {
          const s = await core.readNamespacedSecret({ namespace: NS, name: "pod-dns-injector-tls" });
          return s.metadata?.annotations?.[ROTATED_ANNOTATION] === token ? { value: true } : {};
        },
        { timeoutMs: 20_000 },
      );
    });
    const reports = admin.makeApiClient(CustomObjectsApi);
    const readReport = (namespace: string) =>
      reports
        .getNamespacedCustomObject({ group: reportNames.group, version: reportNames.version, plural: reportNames.plural, namespace, name: "pod-dns-injector" })
        .catch(() => undefined) as Promise<Obj | undefined>;
    await step(`background audits create, update and delete ${reportNames.titlePlural}`, async () => {
      const first = await waitFor(
        "a report for team and gone",
        async () => {
          const t = await readReport("team");
          return t && (await readReport("gone")) ? { value: t } : {};
        },
        { timeoutMs: 20_000 },
      );
      await core.createNamespacedPod({ namespace: "team", body: podManifest(`late-${Date.now()}`) });
      await waitFor(
        "the team report updated",
        async () => {
          const t = await readReport("team");
          return t && t.metadata.resourceVersion !== first.metadata.resourceVersion ? { value: true } : {};
        },
        { timeoutMs: 20_000 },
      );
      await core.deleteNamespacedPod({ namespace: "gone", name: "lonely", body: { gracePeriodSeconds: 0 } });
      await waitFor("the gone report deleted", async () => ((await readReport("gone")) ? {} : { value: true }), { timeoutMs: 20_000 });
    });
    await step("the audit CLI runs as the ServiceAccount", async () => {
      const r = await runCli(["audit", "--kubeconfig", saKubeconfig, "-n", "team", "-o", "json"]);
      if (r.code !== 0 && r.code !== 1) throw new Error(`exit ${r.code}: ${r.stderr}`);
      if (/forbidden|\b403\b/i.test(r.stderr)) throw new Error(`refused: ${r.stderr}`);
    });
    await webhook.stop();
    const forbidden = readFileSync(webhook.logPath, "utf8")
      .split("\n")
      .filter((l) => /forbidden|\b403\b/i.test(l));
    if (forbidden.length) problems.push(`the injector was refused ${forbidden.length} time(s), e.g. ${forbidden[0]!.slice(0, 400)}`);
    return { problems, webhook };
  }

  function runCli(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
    return new Promise((resolve) => {
      const child = spawn(process.execPath, [cliPath(), ...args], { stdio: ["ignore", "pipe", "pipe"] });
      let stdout = "";
      let stderr = "";
      child.stdout.on("data", (c: Buffer) => (stdout += c.toString()));
      child.stderr.on("data", (c: Buffer) => (stderr += c.toString()));
      const timer = setTimeout(() => child.kill("SIGKILL"), 60_000);
      child.on("exit", (code) => {
        clearTimeout(timer);
        resolve({ code, stdout, stderr });
      });
    });
  }

  function readAuditEvents(): AuditEvent[] {
    return readFileSync(auditLog, "utf8")
      .split("\n")
      .filter(Boolean)
      .map((l) => JSON.parse(l) as AuditEvent)
      .filter((e) => e.user.username === SA_USER);
  }

  /** Every (group, resource, verb, namespace) each RBAC rule grants. */
  function grants(): { object: string; ruleIndex: number; group: string; resource: string; verb: string; namespace: string | undefined }[] {
    return rbacObjects
      .filter((o) => o.kind === "Role" || o.kind === "ClusterRole")
      .flatMap((o) =>
        (o.rules as Obj[]).flatMap((r, ruleIndex) =>
          (r.apiGroups as string[]).flatMap((group) =>
            (r.resources as string[]).flatMap((resource) =>
              (r.verbs as string[]).map((verb) => ({
                object: `${o.kind} ${o.metadata.namespace ? `${o.metadata.namespace}/` : ""}${o.metadata.name}`,
                ruleIndex,
                group,
                resource,
                verb,
                namespace: o.metadata.namespace as string | undefined,
              })),
            ),
          ),
        ),
      );
  }

  let events: AuditEvent[] = [];

  it("the full scenario runs as the ServiceAccount and is never refused", async (t) => {
    const started = Date.now();
    const { problems, webhook } = await scenario((s) => t.diagnostic(s));
    if (problems.length) console.error(`${webhook?.logTail(60) ?? ""}\n${cp.logTail()}`);
    assert.deepEqual(problems, []);
    t.diagnostic(`scenario took ${Date.now() - started} ms`);
    events = readAuditEvents();
    const refused = events.filter((e) => (e.responseStatus?.code ?? 0) === 403);
    assert.deepEqual(
      refused.map((e) => `${e.verb} ${e.objectRef?.apiGroup ?? ""}/${e.objectRef?.resource}`),
      [],
      "the API server refused none of the injector's requests",
    );
    assert.ok(events.length > 50, `the audit log recorded the injector's requests (${events.length})`);
  });

  it("every granted verb was used", () => {
    assert.ok(events.length > 0, "needs the scenario");
    // Used: the injector made that request and it was authorized (a 404 or 409 answer still
    // means the call was made and allowed).
    const used = (g: ReturnType<typeof grants>[number]) =>
      events.some(
        (e) =>
          e.verb === g.verb &&
          (e.objectRef?.apiGroup ?? "") === g.group &&
          e.objectRef?.resource === g.resource &&
          !e.objectRef?.subresource &&
          (g.namespace === undefined || e.objectRef?.namespace === g.namespace) &&
          e.responseStatus?.code !== 403,
      );
    const unused = grants()
      .filter((g) => !used(g))
      .map((g) => `${g.object}: ${g.verb} ${g.group || "core"}/${g.resource}`);
    assert.deepEqual(unused, [], "granted but never used");
  });

  it("removing any one rule denies a request the injector made", async (t) => {
    assert.ok(events.length > 0, "needs the scenario");
    const authz = admin.makeApiClient(AuthorizationV1Api);
    // The distinct requests the injector made (resource-level attributes, as RBAC sees them).
    const requests = new Map<string, { verb: string; group: string; resource: string; namespace?: string | undefined; name?: string | undefined }>();
    for (const e of events) {
      if (!e.objectRef?.resource || e.objectRef.subresource) continue;
      const r = { verb: e.verb, group: e.objectRef.apiGroup ?? "", resource: e.objectRef.resource, namespace: e.objectRef.namespace, name: e.objectRef.name };
      requests.set(JSON.stringify(r), r);
    }
    const allowed = async (r: { verb: string; group: string; resource: string; namespace?: string | undefined; name?: string | undefined }) =>
      (
        await authz.createSubjectAccessReview({
          body: {
            spec: {
              user: SA_USER,
              groups: ["system:serviceaccounts", `system:serviceaccounts:${NS}`, "system:authenticated"],
              resourceAttributes: { verb: r.verb, group: r.group, resource: r.resource, ...(r.namespace ? { namespace: r.namespace } : {}), ...(r.name ? { name: r.name } : {}) },
            },
          },
        })
      ).status?.allowed === true;
    const roles = rbacObjects.filter((o) => o.kind === "Role" || o.kind === "ClusterRole");
    for (const role of roles) {
      for (let i = 0; i < (role.rules as Obj[]).length; i++) {
        const rule = (role.rules as Obj[])[i]!;
        const reduced = { ...role, rules: (role.rules as Obj[]).filter((_, j) => j !== i) };
        await applyObjects([reduced]);
        const denied: string[] = [];
        // RBAC changes reach the authorizer through an informer: poll until a denial shows.
        await waitFor(
          `a denial without rule ${i} of ${role.kind} ${role.metadata.name}`,
          async () => {
            denied.length = 0;
            for (const r of requests.values()) if (!(await allowed(r))) denied.push(`${r.verb} ${r.group || "core"}/${r.resource}${r.namespace ? ` in ${r.namespace}` : ""}`);
            return denied.length ? { value: true } : { detail: "every request still allowed" };
          },
          { timeoutMs: 10_000, intervalMs: 250 },
        ).catch((err: unknown) => assert.fail(`${role.kind} ${role.metadata.name} rule ${JSON.stringify(rule)} is unused: ${describeApiError(err)}`));
        t.diagnostic(
          `without ${role.kind} ${role.metadata.name} rule ${i} (${(rule.verbs as string[]).join(",")} ${(rule.resources as string[]).join(",")}): denied ${[...new Set(denied)].slice(0, 3).join("; ")}`,
        );
        await applyObjects([role]);
      }
    }
    // Everything is allowed again with the full RBAC.
    await waitFor(
      "the full RBAC allows every request again",
      async () => {
        for (const r of requests.values()) if (!(await allowed(r))) return { detail: `${r.verb} ${r.resource} denied` };
        return { value: true };
      },
      { timeoutMs: 10_000, intervalMs: 250 },
    );
  });

  if (variant.endToEnd)
    it("end to end: without its Secrets rule the injector is not ready and says why", async () => {
      const role = rbacObjects.find((o) => o.kind === "Role" && o.metadata.name === "pod-dns-injector" && o.metadata.namespace === NS)!;
      const withoutSecrets = { ...role, rules: (role.rules as Obj[]).filter((r) => !(r.resources as string[]).includes("secrets")) };
      await applyObjects([withoutSecrets]);
      try {
        for (const name of ["pod-dns-injector-tls", "pod-dns-injector-ca"]) await core.deleteNamespacedSecret({ namespace: NS, name }).catch(() => undefined);
        await assert.rejects(
          startWebhookProcess({ kubeconfigPath: saKubeconfig, dir: work, name: "injector-without-secrets", ensureInjectorNamespace: false, readyTimeoutMs: 8_000 }),
          /not ready|readyz|certificates/i,
        );
      } finally {
        await applyObjects([role]);
      }
    });
}
