import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { ALLOW_DELETE_ANNOTATION } from "../../../config/names.js";
import { defaultSettings, parseSettings, type Settings } from "../../../config/settings.js";
import type { AdmissionRequest } from "../../../webhook/admission-review.js";
import { decideDNSServiceGuard, dnsServiceGuardResponse, type DNSServiceGuardReason } from "../../../webhook/dns-service-guard.js";

type Svc = { metadata?: Record<string, unknown>; spec?: Record<string, unknown> };

const kubeDNS = (over: { annotations?: Record<string, string>; spec?: Record<string, unknown> } = {}): Svc => ({
  metadata: { name: "kube-dns", namespace: "kube-system", ...(over.annotations ? { annotations: over.annotations } : {}) },
  spec: {
    clusterIP: "10.96.0.10",
    selector: { "k8s-app": "kube-dns" },
    ports: [
      { name: "dns", port: 53, protocol: "UDP", targetPort: 53 },
      { name: "dns-tcp", port: 53, protocol: "TCP", targetPort: 53 },
      { name: "metrics", port: 9153, protocol: "TCP", targetPort: 9153 },
    ],
    ...over.spec,
  },
});

const request = (operation: string, oldObject: Svc | undefined, object?: Svc, extra: Partial<AdmissionRequest> = {}): AdmissionRequest => ({
  uid: "u-1",
  kind: { group: "", version: "v1", kind: "Service" },
  operation,
  namespace: "kube-system",
  name: "kube-dns",
  ...(oldObject ? { oldObject } : {}),
  ...(object ? { object } : {}),
  userInfo: { username: "kubernetes-admin" },
  ...extra,
});

const allowDelete = { [ALLOW_DELETE_ANNOTATION]: "true" };

describe("DNS Service deletion guard (/validate)", () => {
  const settings = defaultSettings();
  const cases: Array<{ what: string; req: AdmissionRequest; settings?: Settings; allowed: boolean; reason: DNSServiceGuardReason }> = [
    { what: "a plain DELETE", req: request("DELETE", kubeDNS()), allowed: false, reason: "delete-refused" },
    { what: "a DELETE of the annotated Service", req: request("DELETE", kubeDNS({ annotations: allowDelete })), allowed: true, reason: "allow-delete-annotation" },
    { what: 'an annotation other than "true"', req: request("DELETE", kubeDNS({ annotations: { [ALLOW_DELETE_ANNOTATION]: "yes" } })), allowed: false, reason: "delete-refused" },
    {
      what: "a DELETE by the injector's ServiceAccount (the guardian's recreate)",
      req: request("DELETE", kubeDNS(), undefined, { userInfo: { username: "system:serviceaccount:pod-dns-injector:pod-dns-injector" } }),
      allowed: true,
      reason: "injector-itself",
    },
    {
      what: "a DELETE by another ServiceAccount named alike elsewhere",
      req: request("DELETE", kubeDNS(), undefined, { userInfo: { username: "system:serviceaccount:default:pod-dns-injector" } }),
      allowed: false,
      reason: "delete-refused",
    },
    {
      what: "a DELETE by the garbage collector",
      req: request("DELETE", kubeDNS(), undefined, { userInfo: { username: "system:serviceaccount:kube-system:generic-garbage-collector" } }),
      allowed: false,
      reason: "delete-refused",
    },
    { what: "a dry-run DELETE (refused like the real one)", req: request("DELETE", kubeDNS(), undefined, { dryRun: true }), allowed: false, reason: "delete-refused" },
    {
      what: "a DELETE with the guard off",
      req: request("DELETE", kubeDNS()),
      settings: { ...settings, guardian: { ...settings.guardian, deletionGuard: false } },
      allowed: true,
      reason: "guard-disabled",
    },
    {
      what: "a DeleteCollection item (empty request name, the object's own)",
      req: request("DELETE", kubeDNS(), undefined, { name: "" }),
      allowed: false,
      reason: "delete-refused",
    },
    {
      what: "a DeleteCollection item of another Service",
      req: request("DELETE", { metadata: { name: "web" } }, undefined, { name: "" }),
      allowed: true,
      reason: "not-dns-service",
    },
    { what: "a DELETE of another Service in kube-system", req: request("DELETE", kubeDNS(), undefined, { name: "metrics-server" }), allowed: true, reason: "not-dns-service" },
    { what: "a DELETE of a kube-dns in another namespace", req: request("DELETE", kubeDNS(), undefined, { namespace: "default" }), allowed: true, reason: "not-dns-service" },
    { what: "a CREATE (left to the reservation guard)", req: request("CREATE", undefined, kubeDNS()), allowed: true, reason: "not-dns-service" },
    {
      what: "a status subresource UPDATE",
      req: request("UPDATE", kubeDNS(), kubeDNS({ spec: { selector: {} } }), { subResource: "status" }),
      allowed: true,
      reason: "not-dns-service",
    },
    { what: "a label change", req: request("UPDATE", kubeDNS(), { ...kubeDNS(), metadata: { name: "kube-dns", labels: { a: "b" } } }), allowed: true, reason: "harmless-update" },
    { what: "another selector", req: request("UPDATE", kubeDNS(), kubeDNS({ spec: { selector: { app: "coredns" } } })), allowed: true, reason: "harmless-update" },
    {
      what: "an added port",
      req: request("UPDATE", kubeDNS(), kubeDNS({ spec: { ports: [...(kubeDNS().spec!.ports as unknown[]), { port: 8080, protocol: "TCP" }] } })),
      allowed: true,
      reason: "harmless-update",
    },
    {
      what: "removing the metrics port",
      req: request("UPDATE", kubeDNS(), kubeDNS({ spec: { ports: (kubeDNS().spec!.ports as unknown[]).slice(0, 2) } })),
      allowed: true,
      reason: "harmless-update",
    },
    { what: "removing the selector", req: request("UPDATE", kubeDNS(), kubeDNS({ spec: { selector: undefined } })), allowed: false, reason: "selector-removed" },
    { what: "emptying the selector", req: request("UPDATE", kubeDNS(), kubeDNS({ spec: { selector: {} } })), allowed: false, reason: "selector-removed" },
    {
      what: "removing port 53/UDP",
      req: request("UPDATE", kubeDNS(), kubeDNS({ spec: { ports: (kubeDNS().spec!.ports as unknown[]).slice(1) } })),
      allowed: false,
      reason: "dns-port-removed",
    },
    {
      what: "moving DNS to port 5353",
      req: request(
        "UPDATE",
        kubeDNS(),
        kubeDNS({
          spec: {
            ports: [
              { port: 5353, protocol: "UDP" },
              { port: 5353, protocol: "TCP" },
            ],
          },
        }),
      ),
      allowed: false,
      reason: "dns-port-removed",
    },
    {
      what: "type ExternalName",
      req: request("UPDATE", kubeDNS(), kubeDNS({ spec: { type: "ExternalName", externalName: "dns.example.com" } })),
      allowed: false,
      reason: "cluster-ip-dropped",
    },
    {
      what: "a breaking UPDATE that sets the override in the same request",
      req: request("UPDATE", kubeDNS(), kubeDNS({ annotations: allowDelete, spec: { selector: {} } })),
      allowed: true,
      reason: "allow-delete-annotation",
    },
    {
      what: "a breaking UPDATE of an annotated Service",
      req: request("UPDATE", kubeDNS({ annotations: allowDelete }), kubeDNS({ spec: { selector: {} } })),
      allowed: true,
      reason: "allow-delete-annotation",
    },
    {
      what: "an UPDATE with untrusted shapes",
      req: request("UPDATE", { metadata: { annotations: [] as unknown }, spec: { ports: "53" } }, { spec: null as unknown as Record<string, unknown> }),
      allowed: true,
      reason: "harmless-update",
    },
  ];
  for (const c of cases) {
    it(`${c.allowed ? "allows" : "refuses"} ${c.what} (${c.reason})`, () => {
      const d = decideDNSServiceGuard(c.req, c.settings ?? settings);
      assert.equal(d.reason, c.reason);
      assert.equal(d.allowed, c.allowed);
    });
  }

  it("the refusal says which Service, why, and how to proceed deliberately (403)", () => {
    const r = dnsServiceGuardResponse("u-1", decideDNSServiceGuard(request("DELETE", kubeDNS()), settings));
    assert.equal(r.uid, "u-1");
    assert.equal(r.allowed, false);
    assert.equal(r.status?.code, 403);
    const message = r.status?.message ?? "";
    assert.match(message, /DNS Service kube-system\/kube-dns/);
    assert.match(message, /fixed clusterIP 10\.96\.0\.10/);
    assert.match(message, /kubectl -n kube-system annotate service kube-dns pod-dns-injector\.io\/allow-delete=true/);
    assert.match(message, /guardian\.deletionGuard: false/);
  });

  it("a deliberate delete is allowed with a warning and the reason as an audit annotation", () => {
    const r = dnsServiceGuardResponse("u-2", decideDNSServiceGuard(request("DELETE", kubeDNS({ annotations: allowDelete })), settings));
    assert.equal(r.allowed, true);
    assert.equal(r.patch, undefined);
    assert.match(r.warnings?.[0] ?? "", /deleting the DNS Service kube-system\/kube-dns deliberately/);
    assert.deepEqual(r.auditAnnotations, { decision: "allow", reason: "allow-delete-annotation" });
  });

  it("guards the configured DNS Service, and the setting is validated", () => {
    const r = parseSettings({ dnsService: { namespace: "dns", name: "coredns" }, guardian: { deletionGuard: true } });
    assert.ok(r.ok);
    assert.equal(decideDNSServiceGuard(request("DELETE", kubeDNS(), undefined, { namespace: "dns", name: "coredns" }), r.settings).allowed, false);
    assert.equal(decideDNSServiceGuard(request("DELETE", kubeDNS()), r.settings).reason, "not-dns-service");
    const bad = parseSettings({ guardian: { deletionGuard: "yes" } });
    assert.ok(!bad.ok);
    assert.match(bad.errors.join("\n"), /guardian\.deletionGuard/);
  });
});

describe("/validate routes DNS Service reviews to the deletion guard", () => {
  it("refuses a DELETE of kube-dns with 403, counts it, and still runs the reservation guard for other Services", async () => {
    const { pino } = await import("pino");
    const { buildWebhookApp } = await import("../../../webhook/app.js");
    const { createWebhookMetrics } = await import("../../../webhook/metrics.js");
    const { standaloneFacts } = await import("../../../webhook/admission-facts.js");
    const r = parseSettings({ guardian: { reservationGuard: true } });
    assert.ok(r.ok);
    const settings = r.settings;
    const metrics = createWebhookMetrics({ version: "test", collectProcessMetrics: false });
    const app = buildWebhookApp({ settings: () => settings, facts: standaloneFacts(() => settings), log: pino({ level: "silent" }), metrics });
    const post = async (req: AdmissionRequest) => {
      const res = await app.inject({
        method: "POST",
        url: "/validate",
        headers: { "content-type": "application/json" },
        payload: { apiVersion: "admission.k8s.io/v1", kind: "AdmissionReview", request: req },
      });
      assert.equal(res.statusCode, 200);
      return res.json<{ response: { uid: string; allowed: boolean; status?: { code: number; message: string } } }>().response;
    };
    try {
      const refused = await post(request("DELETE", kubeDNS()));
      assert.deepEqual([refused.uid, refused.allowed, refused.status?.code], ["u-1", false, 403]);
      const squatter = await post({ ...request("CREATE", undefined, { metadata: { name: "squat" }, spec: { clusterIP: "10.96.0.10" } }), namespace: "default", name: "squat" });
      assert.equal(squatter.allowed, false);
      assert.match(squatter.status?.message ?? "", /reserved for the DNS Service/);
      const values = (await metrics.dnsServiceGuard.get()).values;
      assert.deepEqual(
        values.map((v) => [v.labels, v.value]),
        [[{ operation: "DELETE", decision: "deny", reason: "delete-refused" }, 1]],
      );
    } finally {
      await app.close();
    }
  });
});
