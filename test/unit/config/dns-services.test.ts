/**
 * Several DNS Services in order (settings `dnsServices`, issue 14 item 4, a Service-CIDR
 * migration): parsing and its errors, what `dnsService` then stands for, and every reader
 * that follows the list (deletion and reservation guards, registration, in-tree policy,
 * audit).
 */
import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { auditPod } from "../../../audit/findings.js";
import { configuredDNSServiceIPs, dnsServiceRefs, parseSettings, policyDNSServicesProblem, type Settings } from "../../../config/settings.js";
import { renderAdmissionPolicies } from "../../../policy/render.js";
import type { AdmissionRequest } from "../../../webhook/admission-review.js";
import { decide } from "../../../webhook/decision.js";
import { decideDNSServiceGuard } from "../../../webhook/dns-service-guard.js";
import { buildDNSServiceGuardWebhook } from "../../../webhook/registration.js";
import { decideServiceReservation } from "../../../webhook/reservation-guard.js";
import { bare, injectedPod, NS, ns } from "../audit/fixtures.js";
import { inputs } from "../fixtures.js";

const NEW_IP = "10.100.0.10";
const OLD_IP = "10.96.0.10";
const migrating = {
  dnsServices: [
    { namespace: "kube-system", name: "kube-dns-next", clusterIP: NEW_IP },
    { namespace: "kube-system", name: "kube-dns" },
  ],
};

function settingsOf(doc: unknown): Settings {
  const r = parseSettings(doc);
  assert.ok(r.ok, r.ok ? "" : r.errors.join("\n"));
  return r.settings;
}

describe("settings dnsServices", () => {
  it("empty (the default) means dnsService alone", () => {
    const s = settingsOf({});
    assert.deepEqual(s.dnsServices, []);
    assert.deepEqual(dnsServiceRefs(s), [{ namespace: "kube-system", name: "kube-dns", clusterIP: OLD_IP }]);
    assert.deepEqual(configuredDNSServiceIPs(s), [OLD_IP]);
  });

  it("lists Services in order; the entry naming dnsService takes its clusterIP; IPs are canonical", () => {
    const s = settingsOf({
      dnsServices: [
        { namespace: "kube-system", name: "kube-dns-next", clusterIP: "fd00:0:0:0:0:0:0:a" },
        { namespace: "kube-system", name: "kube-dns" },
      ],
    });
    assert.deepEqual(dnsServiceRefs(s), [
      { namespace: "kube-system", name: "kube-dns-next", clusterIP: "fd00::a" },
      { namespace: "kube-system", name: "kube-dns", clusterIP: OLD_IP },
    ]);
    assert.deepEqual(configuredDNSServiceIPs(s), ["fd00::a", OLD_IP]);
  });

  it("refuses bad entries, naming them", () => {
    const errors = (doc: unknown) => {
      const r = parseSettings(doc);
      assert.equal(r.ok, false);
      return r.ok ? "" : r.errors.join("\n");
    };
    assert.match(errors({ dnsServices: [{ name: "kube-dns-next" }] }), /dnsServices\[0\]\.namespace: /);
    assert.match(errors({ dnsServices: [{ namespace: "kube-system", name: "Kube_DNS" }] }), /dnsServices\[0\]\.name: not a valid Service name: "Kube_DNS"/);
    assert.match(errors({ dnsServices: [{ namespace: "kube-system", name: "a", clusterIP: "10.0.0.300" }] }), /dnsServices\[0\]\.clusterIP: not an IP address/);
    assert.match(errors({ dnsServices: "kube-system/kube-dns" }), /dnsServices: must be a list of \{namespace, name, clusterIP\}/);
    const four = ["a", "b", "c", "d"].map((name) => ({ namespace: "kube-system", name }));
    assert.match(errors({ dnsServices: four }), /dnsServices: at most 3/);
    assert.match(
      errors({
        dnsServices: [
          { namespace: "kube-system", name: "a" },
          { namespace: "kube-system", name: "a" },
        ],
      }),
      /dnsServices\[1\]: kube-system\/a is listed twice/,
    );
    assert.match(
      errors({
        dnsServices: [
          { namespace: "kube-system", name: "a", clusterIP: OLD_IP },
          { namespace: "kube-system", name: "kube-dns" },
        ],
      }),
      /dnsServices\[1\]\.clusterIP: 10\.96\.0\.10 is also dnsServices\[0\]'s/,
    );
  });

  it("policy render needs every later Service's fixed IP (a binding reads one Service live)", () => {
    const learned = {
      dnsServices: [
        { namespace: "kube-system", name: "kube-dns-next", clusterIP: NEW_IP },
        { namespace: "kube-system", name: "old-dns" },
      ],
    };
    assert.match(policyDNSServicesProblem(settingsOf(learned)) ?? "", /dnsServices\[1\] \(kube-system\/old-dns\) needs a clusterIP/);
    assert.equal(policyDNSServicesProblem(settingsOf(migrating)), null);
  });
});

describe("during the overlap", () => {
  const s = settingsOf(migrating);

  it("dnsService stands for the new IP first, the old one as fallback", () => {
    const d = decide(inputs({ dnsServiceIPs: configuredDNSServiceIPs(s) }, s));
    assert.equal(d.action, "inject");
    assert.deepEqual(d.dnsConfig?.nameservers, [NEW_IP, OLD_IP]);
  });

  it("the deletion guard protects both Services; one taken out of the list is not guarded", () => {
    const del = (name: string): AdmissionRequest => ({
      uid: "u",
      kind: { group: "", version: "v1", kind: "Service" },
      operation: "DELETE",
      namespace: "kube-system",
      name,
      oldObject: { metadata: { name, namespace: "kube-system" }, spec: { clusterIP: name === "kube-dns" ? OLD_IP : NEW_IP } },
      userInfo: { username: "kubernetes-admin" },
    });
    const next = decideDNSServiceGuard(del("kube-dns-next"), s);
    assert.equal(next.allowed, false);
    assert.match(next.message ?? "", /refusing to delete the DNS Service kube-system\/kube-dns-next: every pod's resolver points at its fixed clusterIP 10\.100\.0\.10/);
    assert.equal(decideDNSServiceGuard(del("kube-dns"), s).allowed, false);
    // The migration's last step: kube-dns is no longer listed, so deleting it is not refused.
    const after = settingsOf({ dnsServices: [migrating.dnsServices[0]] });
    assert.deepEqual(decideDNSServiceGuard(del("kube-dns"), after), { allowed: true, reason: "not-dns-service" });
  });

  it("the reservation guard keeps each fixed IP for its own Service", () => {
    const guarded = settingsOf({ ...migrating, guardian: { reservationGuard: true } });
    const create = (name: string, clusterIP: string): AdmissionRequest => ({
      uid: "u",
      kind: { group: "", version: "v1", kind: "Service" },
      operation: "CREATE",
      namespace: "default",
      name,
      object: { metadata: { name, namespace: "default" }, spec: { clusterIP } },
    });
    const squat = decideServiceReservation(create("squatter", NEW_IP), guarded);
    assert.equal(squat.allowed, false);
    assert.match(squat.status?.message ?? "", /10\.100\.0\.10 is reserved for the DNS Service kube-system\/kube-dns-next/);
    assert.match(decideServiceReservation(create("squatter", OLD_IP), guarded).status?.message ?? "", /reserved for the DNS Service kube-system\/kube-dns\b/);
    assert.equal(decideServiceReservation({ ...create("kube-dns-next", NEW_IP), namespace: "kube-system" }, guarded).allowed, true);
  });

  it("the deletion guard's registration matches every listed Service", () => {
    const one = buildDNSServiceGuardWebhook({ caBundlePem: "" }) as { namespaceSelector: unknown; matchConditions: { expression: string }[] };
    assert.deepEqual(one.namespaceSelector, { matchLabels: { "kubernetes.io/metadata.name": "kube-system" } });
    const both = buildDNSServiceGuardWebhook({
      caBundlePem: "",
      dnsServices: [
        { namespace: "dns", name: "coredns" },
        { namespace: "kube-system", name: "kube-dns" },
      ],
    }) as typeof one;
    assert.deepEqual(both.namespaceSelector, { matchExpressions: [{ key: "kubernetes.io/metadata.name", operator: "In", values: ["dns", "kube-system"] }] });
    assert.equal(
      both.matchConditions[0]!.expression,
      "(request.namespace == 'dns' && oldObject != null && oldObject.metadata.name == 'coredns') || (request.namespace == 'kube-system' && oldObject != null && oldObject.metadata.name == 'kube-dns')",
    );
  });

  it("the in-tree policy reads the first Service live and follows the old one by its fixed IP", () => {
    const objects = renderAdmissionPolicies(s) as { kind: string; spec: { paramRef?: { name: string }; variables?: { name: string; expression: string }[] } }[];
    const binding = objects.find((o) => o.kind === "MutatingAdmissionPolicyBinding")!;
    assert.equal(binding.spec.paramRef?.name, "kube-dns-next");
    const vars = objects.find((o) => o.kind === "MutatingAdmissionPolicy")!.spec.variables!;
    assert.match(vars.find((v) => v.name === "dnsServiceIPs")!.expression, /variables\.firstDNSServiceIPs \+ \["10\.96\.0\.10"\]/);
    // serve's keeper passes the old Services' live IPs (a dual-stack one's two).
    const live = (renderAdmissionPolicies(s, { fallbackDNSServiceIPs: [OLD_IP, "fd00::a"] }) as typeof objects).find((o) => o.kind === "MutatingAdmissionPolicy")!.spec.variables!;
    assert.match(live.find((v) => v.name === "dnsServiceIPs")!.expression, /variables\.firstDNSServiceIPs \+ \["10\.96\.0\.10", "fd00::a"\]/);
    // One Service: the variable as before, no fallback list.
    const plain = (renderAdmissionPolicies(settingsOf({})) as typeof objects).find((o) => o.kind === "MutatingAdmissionPolicy")!.spec.variables!;
    assert.equal(
      plain.some((v) => v.name === "firstDNSServiceIPs"),
      false,
    );
  });

  it("the audit names a pod that points only at the old IP; one injected with both passes", () => {
    const old = injectedPod("web-old", { ip: OLD_IP });
    const judged = auditPod({
      pod: old,
      namespace: NS,
      namespaceFacts: ns("enabled"),
      settings: s,
      dnsServiceIPs: [NEW_IP, OLD_IP],
      newDNSServiceIPs: [NEW_IP],
      workload: bare("web-old"),
    });
    assert.equal(judged.result, "fail");
    const stale = judged.findings.find((f) => f.kind === "stale-nameserver");
    assert.ok(stale, JSON.stringify(judged.findings));
    assert.match(stale.message, /but the DNS Services kube-system\/kube-dns-next, kube-system\/kube-dns are at 10\.100\.0\.10, 10\.96\.0\.10/);
    assert.match(
      stale.message,
      /points only at the old DNS Service IPs, not at the new kube-system\/kube-dns-next \(10\.100\.0\.10\): restart it before the old Service is removed/,
    );

    // Injected during the overlap: [new, old], as the webhook stores it.
    const fresh = decide(inputs({ dnsServiceIPs: [NEW_IP, OLD_IP] }, s));
    assert.ok(fresh.dnsConfig && fresh.injectedAnnotation);
    const both = {
      metadata: { name: "web-new", uid: "uid-web-new", annotations: { "pod-dns-injector.io/injected": fresh.injectedAnnotation } },
      spec: { dnsPolicy: "None", dnsConfig: fresh.dnsConfig },
    };
    const passed = auditPod({
      pod: both,
      namespace: NS,
      namespaceFacts: ns("enabled"),
      settings: s,
      dnsServiceIPs: [NEW_IP, OLD_IP],
      newDNSServiceIPs: [NEW_IP],
      workload: bare("web-new"),
    });
    assert.equal(passed.result, "pass", JSON.stringify(passed.findings));
  });
});
