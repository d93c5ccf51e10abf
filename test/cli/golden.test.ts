/**
 * Golden files: test/golden/inject/NAME.yaml is the input; NAME.yaml.injected is what
 * `pod-dns-injector inject` prints and NAME.yaml.explain what `explain` prints. Every input
 * also runs through the HTTP path (/mutate via fastify inject): the pod (template) the API
 * server would store after applying our patch must equal the one in the .injected file.
 * Refresh with UPDATE_GOLDEN=1 npm run test:cli; outputs without an input fail as stale.
 */
import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync, readdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { parseAllDocuments } from "yaml";
import { pino } from "pino";
import { defaultSettings } from "../../config/settings.js";
import { standaloneFacts } from "../../webhook/admission-facts.js";
import { buildWebhookApp } from "../../webhook/app.js";
import { createWebhookMetrics } from "../../webhook/metrics.js";
import { applyPatchCopy, type Operation } from "../../webhook/patch.js";
import { findPodTemplate, type ManifestObject } from "../../webhook/workloads.js";
import { repoRoot } from "../unit/repo-root.js";

const root = repoRoot();
const dir = join(root, "test", "golden", "inject");
const cli = join(root, "dist", "cli", "main.js");
const update = process.env.UPDATE_GOLDEN === "1";
const inputs = readdirSync(dir)
  .filter((f) => f.endsWith(".yaml"))
  .sort();

function runCli(args: string[]): { stdout: string; stderr: string; status: number | null } {
  const r = spawnSync(process.execPath, [cli, ...args], { encoding: "utf8", env: { ...process.env, POD_DNS_INJECTOR_CONFIG: "" } });
  return { stdout: r.stdout, stderr: r.stderr, status: r.status };
}

function golden(file: string, actual: string): void {
  const path = join(dir, file);
  if (update) writeFileSync(path, actual);
  assert.ok(existsSync(path), `${file} is missing; run UPDATE_GOLDEN=1 npm run test:cli`);
  assert.equal(actual, readFileSync(path, "utf8"), `${file} differs; if the change is intended, run UPDATE_GOLDEN=1 npm run test:cli and review the diff`);
}

/** A Pod and a pod template differ only by apiVersion/kind. */
const withoutTypeMeta = (o: object) => Object.fromEntries(Object.entries(o).filter(([k]) => k !== "apiVersion" && k !== "kind"));

const documents = (text: string) =>
  parseAllDocuments(text)
    .map((d) => d.toJS() as ManifestObject | null)
    .filter((o): o is ManifestObject => o !== null);

describe("golden files", () => {
  it("has no stale outputs", () => {
    for (const f of readdirSync(dir)) {
      if (f.endsWith(".yaml")) continue;
      const input = f.replace(/\.(injected|explain)$/, "");
      assert.ok(inputs.includes(input), `${f} has no input ${input}: delete it`);
    }
  });

  for (const input of inputs) {
    describe(input, () => {
      const inputPath = join(dir, input);
      it("inject (CLI) matches .injected; stderr carries the warnings", () => {
        const r = runCli(["inject", "-f", inputPath, "--namespace", "team-a"]);
        assert.equal(r.status, 0, r.stderr);
        golden(`${input}.injected`, r.stdout + (r.stderr ? `# stderr:\n${r.stderr.replaceAll(root, "<repo>").replace(/^/gm, "# ")}` : ""));
      });

      it("explain (CLI) matches .explain", () => {
        const r = runCli(["explain", "-f", inputPath, "--namespace", "team-a"]);
        assert.equal(r.status, 0, r.stderr);
        golden(`${input}.explain`, r.stdout);
      });

      it("/mutate (HTTP) stores the same pods as the CLI", async () => {
        const settings = defaultSettings();
        const app = buildWebhookApp({
          settings: () => settings,
          facts: standaloneFacts(() => settings),
          log: pino({ level: "silent" }),
          metrics: createWebhookMetrics({ version: "golden", collectProcessMetrics: false }),
        });
        const expected = documents(readFileSync(join(dir, `${input}.injected`), "utf8"));
        const originals = documents(readFileSync(inputPath, "utf8"));
        assert.equal(expected.length, originals.length);
        let checked = 0;
        for (const [i, original] of originals.entries()) {
          const found = findPodTemplate(original);
          if (found.kind !== "pod-template") continue;
          const ns = typeof original.metadata?.namespace === "string" ? original.metadata.namespace : "team-a";
          // Excluded namespaces never reach the webhook in a cluster; the CLI explains them.
          if (ns === "kube-system") continue;
          const pod = { apiVersion: "v1", kind: "Pod", ...structuredClone(found.template) };
          const res = await app.inject({
            method: "POST",
            url: "/mutate",
            payload: {
              apiVersion: "admission.k8s.io/v1",
              kind: "AdmissionReview",
              request: { uid: `golden-${i}`, kind: { group: "", version: "v1", kind: "Pod" }, namespace: ns, operation: "CREATE", object: pod },
            },
          });
          assert.equal(res.statusCode, 200);
          const response = res.json<{ response: { patch?: string } }>().response;
          const stored = response.patch ? applyPatchCopy(pod, JSON.parse(Buffer.from(response.patch, "base64").toString()) as Operation[]) : pod;
          const want = findPodTemplate(expected[i]!);
          assert.equal(want.kind, "pod-template");
          assert.deepEqual(withoutTypeMeta(stored), withoutTypeMeta(want.kind === "pod-template" ? want.template : {}), `document ${i + 1} (${String(original.kind)})`);
          checked++;
        }
        assert.ok(checked > 0, "at least one pod went through the HTTP path");
        await app.close();
      });
    });
  }
});
