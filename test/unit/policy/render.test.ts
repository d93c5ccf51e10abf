/**
 * policy/render.ts as data: the four objects, their names, selectors, parameter and actions,
 * the profiles as CEL; `policy render` through the CLI (in process); the README's table of
 * differences against policy/differences.ts. What the CEL does is proven on a real API
 * server (test/e2e/admission-policy.test.ts): CEL is the API server's to evaluate.
 */
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { main } from "../../../cli/program.js";
import { INJECT_LABEL, NAMESPACE_NAME_LABEL } from "../../../config/names.js";
import { defaultSettings } from "../../../config/settings.js";
import { MAX_ALLOWED_PROFILES } from "../../../config/dns-limits.js";
import { POLICY_DIFFERENCES } from "../../../policy/differences.js";
import { POLICY_NAMES, renderAdmissionPolicies } from "../../../policy/render.js";
import { repoRoot } from "../repo-root.js";

type Obj = {
  apiVersion: string;
  kind: string;
  metadata: { name: string };
  // eslint-disable-next-line @typescript-eslint/no-explicit-any -- assertions read nested API fields
  spec: Record<string, any>;
};
const render = (...args: Parameters<typeof renderAdmissionPolicies>) => renderAdmissionPolicies(...args) as Obj[];
const byKind = (objs: Obj[], kind: string) => {
  const o = objs.find((x) => x.kind === kind);
  assert.ok(o, `${kind} rendered`);
  return o;
};
const variable = (policy: Obj, name: string): string => {
  const v = (policy.spec.variables as { name: string; expression: string }[]).find((x) => x.name === name);
  assert.ok(v, `variable ${name}`);
  return v.expression;
};

describe("policy render", () => {
  it("renders a MutatingAdmissionPolicy, a ValidatingAdmissionPolicy and a binding for each, in admissionregistration.k8s.io/v1", () => {
    const objs = render(defaultSettings());
    assert.deepEqual(
      objs.map((o) => `${o.apiVersion} ${o.kind} ${o.metadata.name}`),
      [
        `admissionregistration.k8s.io/v1 MutatingAdmissionPolicy ${POLICY_NAMES.mutating}`,
        `admissionregistration.k8s.io/v1 MutatingAdmissionPolicyBinding ${POLICY_NAMES.mutating}`,
        `admissionregistration.k8s.io/v1 ValidatingAdmissionPolicy ${POLICY_NAMES.validating}`,
        `admissionregistration.k8s.io/v1 ValidatingAdmissionPolicyBinding ${POLICY_NAMES.validating}`,
      ],
    );
  });

  it("takes the DNS Service itself as the parameter, and a missing one admits pods unchanged", () => {
    const s = defaultSettings();
    s.dnsService = { namespace: "dns", name: "coredns", clusterIP: null };
    const objs = render(s);
    for (const kind of ["MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"]) assert.deepEqual(byKind(objs, kind).spec.paramKind, { apiVersion: "v1", kind: "Service" });
    for (const kind of ["MutatingAdmissionPolicyBinding", "ValidatingAdmissionPolicyBinding"]) {
      assert.deepEqual(byKind(objs, kind).spec.paramRef, { name: "coredns", namespace: "dns", parameterNotFoundAction: "Allow" });
    }
    // No IP is written into the policy: it reads the parameter's clusterIP.
    assert.doesNotMatch(JSON.stringify(objs), /10\.96\.0\.10/);
  });

  it("matches Pod CREATE in enabled namespaces only, never the system ones, the injector's own or the configured exclusions", () => {
    const s = defaultSettings();
    s.injectorNamespace = "dns-injector";
    s.excludedNamespaces = [...s.excludedNamespaces, "legacy"];
    const objs = render(s);
    for (const kind of ["MutatingAdmissionPolicyBinding", "ValidatingAdmissionPolicyBinding"]) {
      assert.deepEqual(byKind(objs, kind).spec.matchResources.namespaceSelector.matchExpressions, [
        { key: INJECT_LABEL, operator: "In", values: ["enabled"] },
        { key: NAMESPACE_NAME_LABEL, operator: "NotIn", values: ["dns-injector", "kube-node-lease", "kube-public", "kube-system", "legacy"] },
      ]);
    }
    const map = byKind(objs, "MutatingAdmissionPolicy");
    assert.deepEqual(map.spec.matchConstraints.resourceRules, [{ apiGroups: [""], apiVersions: ["v1"], operations: ["CREATE"], resources: ["pods"] }]);
    assert.deepEqual(
      map.spec.matchConditions.map((c: { name: string }) => c.name),
      ["not-opted-out", "not-a-mirror-pod", "not-dns-policy-default", "not-host-network-cluster-first", "cluster-first"],
    );
    assert.equal(map.spec.reinvocationPolicy, "IfNeeded");
    assert.equal(map.spec.failurePolicy, "Ignore");
    assert.equal(map.spec.mutations[0].patchType, "JSONPatch");
  });

  it("validation warn (default) is Warn+Audit, deny is Deny", () => {
    assert.deepEqual(byKind(render(defaultSettings()), "ValidatingAdmissionPolicyBinding").spec.validationActions, ["Warn", "Audit"]);
    assert.deepEqual(byKind(render(defaultSettings(), { validation: "deny" }), "ValidatingAdmissionPolicyBinding").spec.validationActions, ["Deny"]);
  });

  it("carries every profile: names, literal nameservers, searches and options as CEL literals", () => {
    const s = defaultSettings();
    s.profiles.fast = { nameservers: [], searches: ["corp.example"], options: [{ name: "ndots", value: "2" }, { name: "edns0" }] };
    s.profiles.cache = { nameservers: ["169.254.20.10"], searches: [], options: [] };
    s.clusterDomain = "k8s.example";
    s.nodeLocalDNS.address = "169.254.25.10";
    const map = byKind(render(s), "MutatingAdmissionPolicy");
    assert.match(variable(map, "nsProfileName"), /in \["cache", "default", "fast", "node-local-dns"\] \?/);
    assert.equal(
      variable(map, "profileNameservers"),
      'variables.profileName == "cache" ? ["169.254.20.10"] : (variables.profileName == "node-local-dns" ? ["169.254.25.10"] + variables.dnsServiceIPs : (variables.dnsServiceIPs))',
    );
    assert.equal(variable(map, "dnsServiceMissing"), 'variables.profileName == "cache" ? false : (size(variables.dnsServiceIPs) == 0)');
    assert.match(variable(map, "profileSearches"), /variables\.profileName == "fast" \? \["corp\.example"\]/);
    assert.match(variable(map, "profileOptions"), /\{"name": "ndots", "value": "2"\}, \{"name": "edns0"\}/);
    assert.equal(variable(map, "clusterSearches"), '[request.namespace + ".svc.k8s.example", "svc.k8s.example", "k8s.example"]');
  });

  it("cuts the search list to each profile's maxSearchLineBytes, else to the API server's 2048 characters", () => {
    const s = defaultSettings();
    s.profiles.alpine = { nameservers: [], searches: [], options: [], maxSearchLineBytes: 254 };
    const map = byKind(render(s), "MutatingAdmissionPolicy");
    // 254 minus "search " (7): the longest searches joined with spaces that fit the line.
    assert.equal(variable(map, "searchLimit"), 'variables.profileName == "alpine" ? 247 : (2048)');
    assert.match(variable(map, "searches"), /join\(" "\)\.size\(\) <= variables\.searchLimit \?/);
    assert.equal(variable(byKind(render(defaultSettings()), "MutatingAdmissionPolicy"), "searchLimit"), "2048");
  });

  it("Windows pods: no profile options; with windows: skip a match condition leaves them out of both policies", () => {
    const inject = render(defaultSettings());
    assert.match(
      variable(byKind(inject, "MutatingAdmissionPolicy"), "windows"),
      /object\.spec\.os\.name == "windows"\) \|\| .*object\.spec\.nodeSelector\["kubernetes\.io\/os"\] == "windows"/,
    );
    assert.match(variable(byKind(inject, "MutatingAdmissionPolicy"), "profileOptions"), /^variables\.windows \? \[\] : /);
    const conditionNames = (objs: Obj[], kind: string) => (byKind(objs, kind).spec as { matchConditions: { name: string }[] }).matchConditions.map((c) => c.name);
    assert.ok(!conditionNames(inject, "MutatingAdmissionPolicy").includes("not-windows"));
    const s = defaultSettings();
    s.windows = "skip";
    const skip = render(s);
    for (const kind of ["MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"]) assert.ok(conditionNames(skip, kind).includes("not-windows"), kind);
  });

  it("per-workload profiles: both policies take the pod's allowed pick; the namespace's ndots and searches tune only its own profile", () => {
    const objs = render(defaultSettings());
    for (const kind of ["MutatingAdmissionPolicy", "ValidatingAdmissionPolicy"]) {
      const policy = byKind(objs, kind);
      assert.equal(variable(policy, "profileName"), "variables.podPicked ? variables.podProfile : variables.nsProfileName", kind);
      assert.match(variable(policy, "podPicked"), /^variables\.podProfile in \["default", "node-local-dns"\] && /, kind);
      // allowed-profiles is read through a fixed-size index list, as many entries as the webhook reads.
      assert.ok(variable(policy, "allowedProfiles").includes(`[${Array.from({ length: MAX_ALLOWED_PROFILES }, (_, i) => i).join(", ")}]`), kind);
    }
    const map = byKind(objs, "MutatingAdmissionPolicy");
    assert.match(variable(map, "profileSearches"), /^!variables\.podPicked && /);
    assert.match(variable(map, "ndotsOverride"), /^size\(variables\.podNdots\) > 0 \? variables\.podNdots : !variables\.podPicked && /);
  });

  it("quotes every configured string as a CEL string literal", () => {
    const s = defaultSettings();
    s.profiles.q = { nameservers: [], searches: [], options: [{ name: 'we"ird\\', value: "a\nb" }] };
    assert.match(variable(byKind(render(s), "MutatingAdmissionPolicy"), "profileOptions"), /\{"name": "we\\"ird\\\\", "value": "a\\nb"\}/);
  });

  it("`policy render` prints them as YAML (default) or a JSON List, and rejects a bad --validation", async () => {
    const run = async (argv: string[]) => {
      let stdout = "";
      let stderr = "";
      const code = await main(argv, { stdin: Readable.from([]), stdout: (x) => void (stdout += x), stderr: (x) => void (stderr += x), env: {} });
      return { code, stdout, stderr };
    };
    const yaml = await run(["policy", "render"]);
    assert.equal(yaml.code, 0, yaml.stderr);
    assert.deepEqual(
      parseAllDocuments(yaml.stdout).map((d) => (d.toJS() as Obj).kind),
      ["MutatingAdmissionPolicy", "MutatingAdmissionPolicyBinding", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding"],
    );
    const json = await run(["policy", "render", "-o", "json", "--validation", "deny"]);
    assert.equal(json.code, 0, json.stderr);
    const list = JSON.parse(json.stdout) as { kind: string; items: Obj[] };
    assert.equal(list.kind, "List");
    assert.deepEqual(byKind(list.items, "ValidatingAdmissionPolicyBinding").spec.validationActions, ["Deny"]);
    const bad = await run(["policy", "render", "--validation", "block"]);
    assert.equal(bad.code, 2);
    assert.match(bad.stderr, /--validation <action>' argument 'block' is invalid\. Allowed choices are warn, deny/);
  });

  it("the README's table of policy differences lists exactly policy/differences.ts", () => {
    const readme = readFileSync(join(repoRoot(), "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("<!-- policy-differences -->"), readme.indexOf("<!-- /policy-differences -->"));
    assert.ok(section.length > 0, "README has a <!-- policy-differences --> table");
    const rows = [...section.matchAll(/^\| `([^`]+)` \|/gm)].map((m) => m[1]);
    assert.deepEqual(rows.sort(), Object.keys(POLICY_DIFFERENCES).sort());
  });
});
